//! The [`Checker`]: collects every problem (and warning) while the raw file
//! is turned into a [`Config`](super::Config), with the generic steps each
//! area's check uses: a value checked at its position, a setting the
//! environment overrides, a secret.

use secrecy::SecretString;
use toml::Spanned;

use super::env::{self, Env};
use super::{hint, Problem};

/// Collects problems while turning the raw file into a `Config`.
pub(super) struct Checker<'a> {
    pub(super) file: &'a str,
    pub(super) text: &'a str,
    pub(super) env: &'a Env,
    pub(super) problems: Vec<Problem>,
    pub(super) warnings: Vec<Problem>,
    pub(super) secrets: Secrets,
}

/// Whether a secret whose `${VAR}` is not set stops the config from loading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Secrets {
    /// The daemon: it cannot authenticate without them.
    Required,
    /// A command that only reads: a warning, and no secret.
    Optional,
}

impl<'a> Checker<'a> {
    /// A checker of `text`, read from `file`, that has found nothing yet.
    pub(super) fn new(file: &'a str, text: &'a str, env: &'a Env, secrets: Secrets) -> Self {
        Checker {
            file,
            text,
            env,
            problems: Vec::new(),
            warnings: Vec::new(),
            secrets,
        }
    }

    pub(super) fn problem<T>(&mut self, at: &Spanned<T>, reason: String) {
        self.problems.push(Problem::at_span(
            self.file,
            self.text,
            Some(at.span()),
            reason,
        ));
    }

    /// Expands `${VAR}` in a file value and validates it, recording a problem at its position.
    pub(super) fn check<T>(
        &mut self,
        value: &Spanned<String>,
        validate: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let expanded = env::expand(value.get_ref(), self.env).map_err(|e| e.to_string());
        match expanded.and_then(|s| validate(&s)) {
            Ok(v) => Some(v),
            Err(reason) => {
                self.problem(value, reason);
                None
            }
        }
    }

    /// A setting the `var` environment variable overrides, else the file's value, else `default`.
    pub(super) fn setting<T>(
        &mut self,
        var: &str,
        value: Option<&Spanned<String>>,
        default: &str,
        validate: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        if let Some(from_env) = self.env.get(var) {
            return validate(from_env)
                .map_err(|reason| self.problems.push(Problem::in_env(var, reason)))
                .ok();
        }
        match value {
            Some(value) => self.check(value, validate),
            None => match validate(default) {
                Ok(v) => Some(v),
                Err(reason) => {
                    let problem = Problem::at_span(
                        self.file,
                        self.text,
                        None,
                        format!("default {default:?}: {reason}"),
                    );
                    self.problems.push(problem);
                    None
                }
            },
        }
    }

    /// A secret: the override variable, else the file's value, else none. Set but
    /// empty (`""`, or a `${VAR}` that expands to nothing) is a problem, never
    /// "none": an unset variable in a compose file or a blank secrets-manager entry
    /// yields `""`, and reading that as "no secret" would switch authentication off
    /// without a word. Leaving the key out is how to say "none".
    pub(super) fn secret(
        &mut self,
        var: &str,
        value: Option<&Spanned<String>>,
        why_not_empty: &str,
    ) -> Option<Option<SecretString>> {
        if let Some(from_env) = self.env.get(var) {
            return non_empty(from_env, why_not_empty)
                .map_err(|reason| self.problems.push(Problem::in_env(var, reason)))
                .ok()
                .map(Some);
        }
        match value {
            Some(value) => self.secret_in_file(value, why_not_empty),
            None => Some(None),
        }
    }

    /// A secret written in the file (often as `${VAR}`).
    pub(super) fn secret_in_file(
        &mut self,
        value: &Spanned<String>,
        why_not_empty: &str,
    ) -> Option<Option<SecretString>> {
        if self.secrets == Secrets::Optional {
            if let Err(env::ExpandError::Unset(name)) = env::expand(value.get_ref(), self.env) {
                self.warnings.push(Problem::at_span(
                    self.file,
                    self.text,
                    Some(value.span()),
                    format!(
                        "warning: environment variable {name} is not set; this command reads \
                         without it, but `qunbot run` needs it。{}",
                        hint::unset_variable(&name)
                    ),
                ));
                return Some(None);
            }
        }
        self.check(value, |s| non_empty(s, why_not_empty)).map(Some)
    }
}

fn non_empty(value: &str, why: &str) -> Result<SecretString, String> {
    if value.is_empty() {
        Err(why.to_string())
    } else {
        Ok(SecretString::from(value))
    }
}
