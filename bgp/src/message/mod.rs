//! BGP messages (RFC 4271 §4): the common header, OPEN with capabilities, NOTIFICATION,
//! KEEPALIVE and ROUTE-REFRESH. (UPDATE comes with the path attributes.)
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           Marker (16 octets of 0xff)          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Length               |      Type     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! Decoding errors carry the NOTIFICATION (code, subcode, data) the RFC prescribes, so
//! the session can answer a malformed message with exactly that.

mod capability;
mod notification;
mod open;
#[cfg(test)]
mod tests;

pub use capability::{Capability, GracefulRestart};
pub use notification::Notification;
pub use open::Open;

use crate::codes::error::{self, header};
use crate::codes::{Afi, MessageType, Safi};

/// Header length.
pub const HEADER_LEN: usize = 19;
/// Largest message (RFC 4271 §4.1; levee does not negotiate RFC 8654 extended
/// messages).
pub const MAX_LEN: usize = 4096;

/// An AFI/SAFI pair (RFC 4760): the constants are the ones levee speaks; any other
/// pair a peer names is carried as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Family {
    /// Address family identifier.
    pub afi: Afi,
    /// Subsequent address family identifier.
    pub safi: Safi,
}

impl Family {
    /// The pair `afi`/`safi`.
    pub const fn new(afi: Afi, safi: Safi) -> Family {
        Family { afi, safi }
    }

    /// IPv4 unicast (RFC 4760).
    pub const IPV4_UNICAST: Family = Family::new(Afi::IPV4, Safi::UNICAST);
    /// IPv6 unicast (RFC 4760).
    pub const IPV6_UNICAST: Family = Family::new(Afi::IPV6, Safi::UNICAST);
    /// IPv4 FlowSpec (RFC 8955).
    pub const IPV4_FLOWSPEC: Family = Family::new(Afi::IPV4, Safi::FLOWSPEC);
    /// IPv6 FlowSpec (RFC 8956).
    pub const IPV6_FLOWSPEC: Family = Family::new(Afi::IPV6, Safi::FLOWSPEC);

    /// The pairs levee speaks, with their names as GoBGP and levee's config write them.
    const NAMED: [(Family, &'static str); 4] = [
        (Family::IPV4_UNICAST, "ipv4-unicast"),
        (Family::IPV6_UNICAST, "ipv6-unicast"),
        (Family::IPV4_FLOWSPEC, "ipv4-flowspec"),
        (Family::IPV6_FLOWSPEC, "ipv6-flowspec"),
    ];

    /// The family's name (`ipv4-unicast`, `ipv6-flowspec`), or `None` for a pair levee
    /// does not speak.
    pub fn name(self) -> Option<&'static str> {
        Family::NAMED
            .iter()
            .find(|(f, _)| *f == self)
            .map(|(_, n)| *n)
    }

    /// The family a [`Family::name`] stands for.
    pub fn from_name(name: &str) -> Option<Family> {
        Family::NAMED
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(f, _)| *f)
    }
}

/// The [`Family::name`], or `afi{AFI}-safi{SAFI}` for a pair without one
/// (`afi25-safi65`).
impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "afi{}-safi{}", self.afi, self.safi),
        }
    }
}

/// ROUTE-REFRESH (RFC 2918; subtypes RFC 7313).
///
/// ```text
/// +--------+--------+--------+--------+
/// |      AFI        |subtype |  SAFI  |
/// +--------+--------+--------+--------+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRefresh {
    /// The family to resend.
    pub family: Family,
    /// [`crate::codes::route_refresh`]: request, beginning or end of route refresh.
    pub subtype: u8,
}

/// A message other than UPDATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// OPEN ([`MessageType::Open`]).
    Open(Open),
    /// UPDATE ([`MessageType::Update`]), body kept as bytes until the attribute codec
    /// takes it.
    Update(Vec<u8>),
    /// NOTIFICATION ([`MessageType::Notification`]).
    Notification(Notification),
    /// KEEPALIVE ([`MessageType::Keepalive`]).
    Keepalive,
    /// ROUTE-REFRESH ([`MessageType::RouteRefresh`]).
    RouteRefresh(RouteRefresh),
}

/// A malformed message, with the NOTIFICATION to answer it with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} (NOTIFICATION {code}/{subcode})")]
pub struct MessageError {
    /// Error code ([`crate::codes::error`]).
    pub code: u8,
    /// Error subcode (in the code's module of [`crate::codes::error`]).
    pub subcode: u8,
    /// Data for the NOTIFICATION.
    pub data: Vec<u8>,
    /// What was wrong.
    pub what: &'static str,
}

impl MessageError {
    pub(crate) fn new(code: u8, subcode: u8, data: &[u8], what: &'static str) -> Self {
        MessageError {
            code,
            subcode,
            data: data.to_vec(),
            what,
        }
    }

    /// The NOTIFICATION to send.
    pub fn notification(&self) -> Notification {
        Notification {
            code: self.code,
            subcode: self.subcode,
            data: self.data.clone(),
        }
    }
}

/// Whether `buf` starts with a whole message: its length, or `None` if more bytes are
/// needed. A bad marker or length is an error (the stream cannot be resynchronised).
pub fn frame(buf: &[u8]) -> Result<Option<usize>, MessageError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    if buf[..16].iter().any(|&b| b != 0xff) {
        return Err(MessageError::new(
            error::MESSAGE_HEADER,
            header::CONNECTION_NOT_SYNCHRONIZED,
            &[],
            "bad marker: connection not synchronized",
        ));
    }
    let len = usize::from(u16::from_be_bytes([buf[16], buf[17]]));
    if !(HEADER_LEN..=MAX_LEN).contains(&len) {
        return Err(MessageError::new(
            error::MESSAGE_HEADER,
            header::BAD_MESSAGE_LENGTH,
            &buf[16..18],
            "bad message length",
        ));
    }
    Ok((buf.len() >= len).then_some(len))
}

/// Whether `len` is a valid length for a message of type `kind` (RFC 4271 §4.2–4.4,
/// §6.1; RFC 2918 §3): OPEN at least 29 octets, UPDATE 23, NOTIFICATION 21, KEEPALIVE
/// exactly 19, ROUTE-REFRESH exactly 23.
fn length_ok(kind: MessageType, len: usize) -> bool {
    match kind {
        MessageType::Open => len >= 29,
        MessageType::Update => len >= 23,
        MessageType::Notification => len >= 21,
        MessageType::Keepalive => len == HEADER_LEN,
        MessageType::RouteRefresh => len == 23,
    }
}

impl Message {
    /// Decodes one framed message (`buf` is exactly the message, as [`frame`] found it).
    pub fn decode(buf: &[u8]) -> Result<Message, MessageError> {
        let len = frame(buf)?.ok_or(MessageError::new(
            error::MESSAGE_HEADER,
            header::BAD_MESSAGE_LENGTH,
            &[],
            "message truncated",
        ))?;
        let (code, body) = (buf[18], &buf[HEADER_LEN..len]);
        let Some(kind) = MessageType::from_code(code) else {
            return Err(MessageError::new(
                error::MESSAGE_HEADER,
                header::BAD_MESSAGE_TYPE,
                &[code],
                "bad message type",
            ));
        };
        if !length_ok(kind, len) {
            return Err(MessageError::new(
                error::MESSAGE_HEADER,
                header::BAD_MESSAGE_LENGTH,
                &buf[16..18],
                "bad message length for its type",
            ));
        }
        Ok(match kind {
            MessageType::Open => Message::Open(Open::decode(body)?),
            MessageType::Update => Message::Update(body.to_vec()),
            MessageType::Notification => Message::Notification(Notification::decode(body)),
            MessageType::Keepalive => Message::Keepalive,
            MessageType::RouteRefresh => Message::RouteRefresh(RouteRefresh {
                family: Family::new(Afi::from_be_bytes([body[0], body[1]]), Safi(body[3])),
                subtype: body[2],
            }),
        })
    }

    /// The message's type.
    pub fn kind(&self) -> MessageType {
        match self {
            Message::Open(_) => MessageType::Open,
            Message::Update(_) => MessageType::Update,
            Message::Notification(_) => MessageType::Notification,
            Message::Keepalive => MessageType::Keepalive,
            Message::RouteRefresh(_) => MessageType::RouteRefresh,
        }
    }

    /// Appends the encoded message to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0xff; 16]);
        out.extend_from_slice(&[0, 0]);
        out.push(self.kind().code());
        match self {
            Message::Open(o) => o.encode(out),
            Message::Update(body) => out.extend_from_slice(body),
            Message::Notification(n) => n.encode(out),
            Message::Keepalive => {}
            Message::RouteRefresh(r) => {
                out.extend_from_slice(&r.family.afi.to_be_bytes());
                out.push(r.subtype);
                out.push(r.family.safi.0);
            }
        }
        let len = (out.len() - start) as u16;
        out[start + 16..start + 18].copy_from_slice(&len.to_be_bytes());
    }

    /// The encoded message.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }
}
