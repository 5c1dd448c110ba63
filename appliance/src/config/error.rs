//! Config errors that say where (file:line:column and key path) and what was expected.

use super::keypath::key_path;
use serde_saphyr::Location;
use std::fmt;
use std::path::Path;

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
    pub(super) fn io(path: &Path, e: &std::io::Error) -> Self {
        ConfigError {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            path: String::new(),
            message: format!("cannot read: {e}"),
        }
    }

    pub(super) fn from_yaml(file: &str, src: &str, e: &serde_saphyr::Error) -> Self {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        let path = key_path(src, line as usize, column as usize);
        let mut message = first_line(&e.to_string());
        if let Some(hint) = hint(&path)
            && !message.contains("expected")
        {
            message = format!("{message}: expected {hint}");
        }
        ConfigError {
            file: file.to_string(),
            line,
            column,
            path,
            message,
        }
    }

    pub(super) fn at(file: &str, loc: &Location, src: &str, message: &str) -> Self {
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
    pub(super) fn at_path(file: &str, src: &str, path: &str, message: &str) -> Self {
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

/// serde-saphyr appends a source excerpt after the first line; we print one line.
fn first_line(s: &str) -> String {
    let l = s.lines().next().unwrap_or("");
    // Drop its own "error: line N column M: " prefix: we print the location ourselves.
    let l = l.strip_prefix("error: ").unwrap_or(l);
    match l.split_once(": ") {
        Some((pre, rest)) if pre.starts_with("line ") => rest.to_string(),
        _ => l.to_string(),
    }
}

/// What a value at this key should look like.
fn hint(path: &str) -> Option<&'static str> {
    let last = path.rsplit('.').next().unwrap_or(path);
    let last = last.split('[').next().unwrap_or(last);
    Some(match last {
        "bind" => "an address and port such as 0.0.0.0:6343 or [::]:6343",
        "prefixes" => "an IPv4 or IPv6 prefix such as 192.0.2.0/24 or 2001:db8::/32",
        "receive_buffer" => "a byte size such as 33554432 or \"32 MiB\"",
        "sampling" => "a positive integer N, meaning 1 packet in N",
        "enabled" => "true or false",
        "interface" | "name" | "bpf" => "a string",
        "channel_batches"
        | "max_exporter_streams"
        | "max_templates_per_exporter"
        | "max_templates_total" => "a positive integer",
        _ => return None,
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
    pub(super) fn single(e: ConfigError) -> Self {
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
