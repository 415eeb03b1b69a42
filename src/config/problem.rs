use std::fmt;
use std::ops::Range;

/// Where a configuration problem is: a position in a file, or an environment variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    File {
        file: String,
        line: usize,
        col: usize,
    },
    Env(String),
}

/// One thing wrong with a configuration, printed as `FILE:LINE:COL: reason` so
/// editors and terminals can jump to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub location: Location,
    pub reason: String,
}

impl Problem {
    /// A problem at a byte span of `text`, the contents of `file`.
    pub fn at_span(
        file: &str,
        text: &str,
        span: Option<Range<usize>>,
        reason: impl Into<String>,
    ) -> Self {
        let (line, col) = span.map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        Problem {
            location: Location::File {
                file: file.to_string(),
                line,
                col,
            },
            reason: reason.into(),
        }
    }

    pub fn in_env(var: &str, reason: impl Into<String>) -> Self {
        Problem {
            location: Location::Env(var.to_string()),
            reason: reason.into(),
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Location::File { file, line, col } => write!(f, "{file}:{line}:{col}: {}", self.reason),
            Location::Env(var) => write!(f, "environment variable {var}: {}", self.reason),
        }
    }
}

/// Why a configuration could not be loaded: every problem found, in file order.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

impl ConfigError {
    pub fn problems(&self) -> Vec<String> {
        match self {
            ConfigError::Invalid(problems) => problems.iter().map(ToString::to_string).collect(),
            other => vec![other.to_string()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let text = "a = 1\n名字 = x\n";
        assert_eq!(line_col(text, 0), (1, 1));
        let x = text.find('x').unwrap();
        assert_eq!(line_col(text, x), (2, 6));
    }
}
