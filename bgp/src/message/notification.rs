//! NOTIFICATION (RFC 4271 §4.5), with the shutdown communication of RFC 9003 for
//! Cease / Administrative Shutdown and Administrative Reset.
//!
//! ```text
//! +---------------+---------------+-------------------------------+
//! | Error code    | Error subcode |   Data (variable)             |
//! +---------------+---------------+-------------------------------+
//! ```

use std::fmt;

/// A NOTIFICATION.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Error code.
    pub code: u8,
    /// Error subcode.
    pub subcode: u8,
    /// Data.
    pub data: Vec<u8>,
}

/// Cease (RFC 4486).
pub const CEASE: u8 = 6;
/// Cease subcode: administrative shutdown.
pub const ADMIN_SHUTDOWN: u8 = 2;
/// Cease subcode: administrative reset.
pub const ADMIN_RESET: u8 = 4;

impl Notification {
    /// Cease / Administrative Shutdown with a shutdown communication (RFC 9003: one
    /// length octet, then at most 255 octets of UTF-8, cut at a character boundary).
    pub fn shutdown(message: &str) -> Self {
        let mut end = message.len().min(255);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let mut data = vec![end as u8];
        data.extend_from_slice(&message.as_bytes()[..end]);
        Notification {
            code: CEASE,
            subcode: ADMIN_SHUTDOWN,
            data,
        }
    }

    /// The shutdown communication, if this carries a well-formed one.
    pub fn shutdown_message(&self) -> Option<String> {
        if self.code != CEASE || !matches!(self.subcode, ADMIN_SHUTDOWN | ADMIN_RESET) {
            return None;
        }
        let (&len, rest) = self.data.split_first()?;
        let text = rest.get(..usize::from(len))?;
        std::str::from_utf8(text).ok().map(str::to_string)
    }

    pub(super) fn decode(body: &[u8]) -> Self {
        Notification {
            code: body[0],
            subcode: body[1],
            data: body[2..].to_vec(),
        }
    }

    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.code);
        out.push(self.subcode);
        out.extend_from_slice(&self.data);
    }
}

impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = match self.code {
            1 => "message header error",
            2 => "OPEN message error",
            3 => "UPDATE message error",
            4 => "hold timer expired",
            5 => "finite state machine error",
            6 => "cease",
            7 => "ROUTE-REFRESH message error",
            _ => "unknown error",
        };
        let sub = match (self.code, self.subcode) {
            (1, 1) => "connection not synchronized",
            (1, 2) => "bad message length",
            (1, 3) => "bad message type",
            (2, 1) => "unsupported version number",
            (2, 2) => "bad peer AS",
            (2, 3) => "bad BGP identifier",
            (2, 4) => "unsupported optional parameter",
            (2, 6) => "unacceptable hold time",
            (2, 7) => "unsupported capability",
            (3, 1) => "malformed attribute list",
            (3, 3) => "missing well-known attribute",
            (3, 5) => "attribute length error",
            (3, 10) => "invalid network field",
            (3, 11) => "malformed AS_PATH",
            (6, 1) => "maximum number of prefixes reached",
            (6, 2) => "administrative shutdown",
            (6, 3) => "peer de-configured",
            (6, 4) => "administrative reset",
            (6, 5) => "connection rejected",
            (6, 6) => "other configuration change",
            (6, 7) => "connection collision resolution",
            (6, 8) => "out of resources",
            (6, 9) => "hard reset",
            _ => "",
        };
        write!(f, "{code} ({}/{})", self.code, self.subcode)?;
        if !sub.is_empty() {
            write!(f, ": {sub}")?;
        }
        if let Some(m) = self.shutdown_message() {
            write!(f, ": {m:?}")?;
        }
        Ok(())
    }
}
