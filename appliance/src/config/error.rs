//! Errors of the config document as a whole: a file that cannot be read, and YAML that
//! does not parse into the raw structs (with a hint of what the key takes). The error
//! types and the located errors of the conversions are [`crate::yaml`]'s.

use crate::yaml::keypath::key_path;
pub use crate::yaml::{ConfigError, ConfigErrors};
use std::path::Path;

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
        | "max_templates_total"
        | "max_streams_per_source"
        | "max_templates_per_source"
        | "max_streams_per_listed_exporter"
        | "max_templates_per_listed_exporter" => "a positive integer",
        _ => return None,
    })
}
