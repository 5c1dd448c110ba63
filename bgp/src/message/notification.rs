//! NOTIFICATION (RFC 4271 §4.5), with the shutdown communication of RFC 9003 for
//! Cease / Administrative Shutdown and Administrative Reset.
//!
//! ```text
//! +---------------+---------------+-------------------------------+
//! | Error code    | Error subcode |   Data (variable)             |
//! +---------------+---------------+-------------------------------+
//! ```

use super::Family;
use crate::codes::error::{self, cease, header, open, update};
use std::fmt;

/// A NOTIFICATION.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Error code ([`crate::codes::error`]; any value a peer sends is kept).
    pub code: u8,
    /// Error subcode (in the code's module of [`crate::codes::error`]).
    pub subcode: u8,
    /// Data.
    pub data: Vec<u8>,
}

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
            code: error::CEASE,
            subcode: cease::ADMIN_SHUTDOWN,
            data,
        }
    }

    /// Cease / Maximum Number of Prefixes Reached (RFC 4486 §4): the data is the AFI
    /// (2 octets), the SAFI (1) and the prefix upper bound (4). A bound above `u32::MAX`
    /// is sent as `u32::MAX`.
    ///
    /// ```text
    /// +-------------------------------+---------------+
    /// | AFI (2)                       | SAFI (1)      |
    /// +-------------------------------+---------------+
    /// | Prefix upper bound (4)                        |
    /// +-----------------------------------------------+
    /// ```
    pub fn max_prefixes(family: Family, limit: usize) -> Self {
        let mut data = Vec::with_capacity(7);
        data.extend_from_slice(&family.afi.to_be_bytes());
        data.push(family.safi.0);
        data.extend_from_slice(&u32::try_from(limit).unwrap_or(u32::MAX).to_be_bytes());
        Notification {
            code: error::CEASE,
            subcode: cease::MAX_PREFIXES,
            data,
        }
    }

    /// The AFI/SAFI and prefix upper bound of a Maximum Number of Prefixes Reached Cease
    /// (RFC 4486 §4), if this is one with its seven octets of data.
    pub fn max_prefixes_data(&self) -> Option<(Family, u32)> {
        if (self.code, self.subcode) != (error::CEASE, cease::MAX_PREFIXES) {
            return None;
        }
        let d: &[u8; 7] = self.data.as_slice().try_into().ok()?;
        let family = Family::new(
            crate::codes::Afi::from_be_bytes([d[0], d[1]]),
            crate::codes::Safi(d[2]),
        );
        Some((family, u32::from_be_bytes([d[3], d[4], d[5], d[6]])))
    }

    /// The shutdown communication, if this carries a well-formed one.
    pub fn shutdown_message(&self) -> Option<String> {
        if self.code != error::CEASE
            || !matches!(self.subcode, cease::ADMIN_SHUTDOWN | cease::ADMIN_RESET)
        {
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

/// The error code's name (RFC 4271 §4.5, RFC 7313 §5).
fn code_name(code: u8) -> &'static str {
    match code {
        error::MESSAGE_HEADER => "message header error",
        error::OPEN_MESSAGE => "OPEN message error",
        error::UPDATE_MESSAGE => "UPDATE message error",
        error::HOLD_TIMER_EXPIRED => "hold timer expired",
        error::FSM => "finite state machine error",
        error::CEASE => "cease",
        error::ROUTE_REFRESH_MESSAGE => "ROUTE-REFRESH message error",
        _ => "unknown error",
    }
}

/// The subcode's name, or "" for one without a name here.
fn subcode_name(code: u8, subcode: u8) -> &'static str {
    match (code, subcode) {
        (error::MESSAGE_HEADER, header::CONNECTION_NOT_SYNCHRONIZED) => {
            "connection not synchronized"
        }
        (error::MESSAGE_HEADER, header::BAD_MESSAGE_LENGTH) => "bad message length",
        (error::MESSAGE_HEADER, header::BAD_MESSAGE_TYPE) => "bad message type",
        (error::OPEN_MESSAGE, open::UNSUPPORTED_VERSION_NUMBER) => "unsupported version number",
        (error::OPEN_MESSAGE, open::BAD_PEER_AS) => "bad peer AS",
        (error::OPEN_MESSAGE, open::BAD_BGP_IDENTIFIER) => "bad BGP identifier",
        (error::OPEN_MESSAGE, open::UNSUPPORTED_OPTIONAL_PARAMETER) => {
            "unsupported optional parameter"
        }
        (error::OPEN_MESSAGE, open::UNACCEPTABLE_HOLD_TIME) => "unacceptable hold time",
        (error::OPEN_MESSAGE, open::UNSUPPORTED_CAPABILITY) => "unsupported capability",
        (error::UPDATE_MESSAGE, update::MALFORMED_ATTRIBUTE_LIST) => "malformed attribute list",
        (error::UPDATE_MESSAGE, update::MISSING_WELL_KNOWN_ATTRIBUTE) => {
            "missing well-known attribute"
        }
        (error::UPDATE_MESSAGE, update::ATTRIBUTE_LENGTH_ERROR) => "attribute length error",
        (error::UPDATE_MESSAGE, update::INVALID_NETWORK_FIELD) => "invalid network field",
        (error::UPDATE_MESSAGE, update::MALFORMED_AS_PATH) => "malformed AS_PATH",
        (error::CEASE, cease::MAX_PREFIXES) => "maximum number of prefixes reached",
        (error::CEASE, cease::ADMIN_SHUTDOWN) => "administrative shutdown",
        (error::CEASE, cease::PEER_DECONFIGURED) => "peer de-configured",
        (error::CEASE, cease::ADMIN_RESET) => "administrative reset",
        (error::CEASE, cease::CONNECTION_REJECTED) => "connection rejected",
        (error::CEASE, cease::OTHER_CONFIG_CHANGE) => "other configuration change",
        (error::CEASE, cease::CONNECTION_COLLISION_RESOLUTION) => "connection collision resolution",
        (error::CEASE, cease::OUT_OF_RESOURCES) => "out of resources",
        (error::CEASE, cease::HARD_RESET) => "hard reset",
        _ => "",
    }
}

impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sub = subcode_name(self.code, self.subcode);
        write!(
            f,
            "{} ({}/{})",
            code_name(self.code),
            self.code,
            self.subcode
        )?;
        if !sub.is_empty() {
            write!(f, ": {sub}")?;
        }
        if let Some(m) = self.shutdown_message() {
            write!(f, ": {m:?}")?;
        }
        Ok(())
    }
}
