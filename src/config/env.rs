use std::collections::HashMap;

/// The environment a configuration is read in. Kept apart from the process
/// environment so that tests and the demo can supply their own without touching
/// global state.
#[derive(Clone, Debug, Default)]
pub struct Env(HashMap<String, String>);

impl Env {
    pub fn from_process() -> Self {
        Env(std::env::vars().collect())
    }

    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.0.insert(name.to_string(), value.into());
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// Why a `${VAR}` reference could not be expanded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error("unclosed `${{` in value")]
    Unclosed,
    #[error("`${{{0}}}` is not a valid environment variable reference")]
    Invalid(String),
    /// Says how to set it, in Chinese, after the reason.
    #[error("environment variable {0} is not set。{hint}", hint = super::hint::unset_variable(.0))]
    Unset(String),
}

/// Expands `${NAME}` and `${NAME:-default}` in a value. A bare `$` is kept as is,
/// so secrets that contain `$` need no escaping.
pub fn expand(value: &str, env: &Env) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or(ExpandError::Unclosed)?;
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ExpandError::Invalid(inner.to_string()));
        }
        match (env.get(name), default) {
            (Some(v), _) if !v.is_empty() => out.push_str(v),
            (_, Some(default)) => out.push_str(default),
            (Some(v), None) => out.push_str(v),
            (None, None) => return Err(ExpandError::Unset(name.to_string())),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_expand_and_defaults_fill_in_for_unset_variables() {
        let env = Env::default().with("TOKEN", "abc");
        assert_eq!(expand("Bearer ${TOKEN}!", &env).unwrap(), "Bearer abc!");
        assert_eq!(expand("${NOPE:-x}", &env).unwrap(), "x");
        assert_eq!(expand("p$ss", &env).unwrap(), "p$ss");
    }

    #[test]
    fn an_unset_variable_without_default_is_an_error_naming_it() {
        let err = expand("${MISSING}", &Env::default()).unwrap_err();
        assert_eq!(err, ExpandError::Unset("MISSING".into()));
        assert!(expand("${oops", &Env::default()).is_err());
        assert!(expand("${a b}", &Env::default()).is_err());
    }
}
