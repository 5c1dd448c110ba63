//! Config errors that say where (file:line:column and key path) and what was expected.

use super::keypath::key_path;
use serde_saphyr::Location;
use std::fmt;

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// File path or origin name.
    pub file: String,
    /// 1-based line, 0 when not applicable (I/O errors).
    pub line: u64,
    /// 1-based column.
    pub column: u64,
    /// Dotted key path, e.g. `listeners.sflow.bind`.
    pub path: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl ConfigError {
    /// An error about the value at `loc` in `src`.
    pub(crate) fn at(file: &str, loc: &Location, src: &str, message: &str) -> Self {
        let (line, column) = (loc.line(), loc.column());
        ConfigError {
            file: file.to_string(),
            line,
            column,
            path: key_path(src, line as usize, column as usize),
            message: message.to_string(),
        }
    }

    /// An error about a key whose position is found by searching for its path.
    pub(crate) fn at_path(file: &str, src: &str, path: &str, message: &str) -> Self {
        let (line, column) = find_path(src, path).unwrap_or((0, 0));
        ConfigError {
            file: file.to_string(),
            line,
            column,
            path: path.to_string(),
            message: message.to_string(),
        }
    }
}

/// The line and column of the key whose path is `path`, by scanning the source.
fn find_path(src: &str, path: &str) -> Option<(u64, u64)> {
    src.lines().enumerate().find_map(|(i, l)| {
        let col = l.len() - l.trim_start().trim_start_matches("- ").len() + 1;
        (key_path(src, i + 1, col) == path).then_some((i as u64 + 1, col as u64))
    })
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// All problems found in a config (at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub(crate) fn single(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
