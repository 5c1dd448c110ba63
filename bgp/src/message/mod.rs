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
pub use notification::{ADMIN_RESET, ADMIN_SHUTDOWN, CEASE, Notification};
pub use open::{AS_TRANS, Open};

/// Header length.
pub const HEADER_LEN: usize = 19;
/// Largest message without RFC 8654 extended messages.
pub const MAX_LEN: usize = 4096;

/// AFI/SAFI pairs levee speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Family {
    /// Address family identifier (1 IPv4, 2 IPv6).
    pub afi: u16,
    /// Subsequent AFI (1 unicast, 133 FlowSpec).
    pub safi: u8,
}

impl Family {
    /// IPv4 unicast.
    pub const IPV4_UNICAST: Family = Family { afi: 1, safi: 1 };
    /// IPv6 unicast.
    pub const IPV6_UNICAST: Family = Family { afi: 2, safi: 1 };
    /// IPv4 FlowSpec.
    pub const IPV4_FLOWSPEC: Family = Family { afi: 1, safi: 133 };
    /// IPv6 FlowSpec.
    pub const IPV6_FLOWSPEC: Family = Family { afi: 2, safi: 133 };
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
    /// 0 request, 1 beginning of route refresh, 2 end of route refresh.
    pub subtype: u8,
}

/// A message other than UPDATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// OPEN (type 1).
    Open(Open),
    /// UPDATE (type 2), body kept as bytes until the attribute codec takes it.
    Update(Vec<u8>),
    /// NOTIFICATION (type 3).
    Notification(Notification),
    /// KEEPALIVE (type 4).
    Keepalive,
    /// ROUTE-REFRESH (type 5).
    RouteRefresh(RouteRefresh),
}

/// A malformed message, with the NOTIFICATION to answer it with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} (NOTIFICATION {code}/{subcode})")]
pub struct MessageError {
    /// Error code (RFC 4271 §4.5).
    pub code: u8,
    /// Error subcode.
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

/// Message header errors (code 1).
const HEADER_ERROR: u8 = 1;

/// Whether `buf` starts with a whole message: its length, or `None` if more bytes are
/// needed. A bad marker or length is an error (the stream cannot be resynchronised).
pub fn frame(buf: &[u8]) -> Result<Option<usize>, MessageError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    if buf[..16].iter().any(|&b| b != 0xff) {
        return Err(MessageError::new(
            HEADER_ERROR,
            1,
            &[],
            "bad marker: connection not synchronized",
        ));
    }
    let len = usize::from(u16::from_be_bytes([buf[16], buf[17]]));
    if !(HEADER_LEN..=MAX_LEN).contains(&len) {
        return Err(MessageError::new(
            HEADER_ERROR,
            2,
            &buf[16..18],
            "bad message length",
        ));
    }
    Ok((buf.len() >= len).then_some(len))
}

impl Message {
    /// Decodes one framed message (`buf` is exactly the message, as [`frame`] found it).
    pub fn decode(buf: &[u8]) -> Result<Message, MessageError> {
        let len =
            frame(buf)?.ok_or(MessageError::new(HEADER_ERROR, 2, &[], "message truncated"))?;
        let (kind, body) = (buf[18], &buf[HEADER_LEN..len]);
        let min = match kind {
            1 => 29,
            2 => 23,
            3 => 21,
            4 => 19,
            5 => 23,
            _ => {
                return Err(MessageError::new(
                    HEADER_ERROR,
                    3,
                    &[kind],
                    "bad message type",
                ));
            }
        };
        if len < min || (kind == 4 && len != 19) || (kind == 5 && len != 23) {
            return Err(MessageError::new(
                HEADER_ERROR,
                2,
                &buf[16..18],
                "bad message length for its type",
            ));
        }
        Ok(match kind {
            1 => Message::Open(Open::decode(body)?),
            2 => Message::Update(body.to_vec()),
            3 => Message::Notification(Notification::decode(body)),
            4 => Message::Keepalive,
            _ => Message::RouteRefresh(RouteRefresh {
                family: Family {
                    afi: u16::from_be_bytes([body[0], body[1]]),
                    safi: body[3],
                },
                subtype: body[2],
            }),
        })
    }

    /// Appends the encoded message to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0xff; 16]);
        out.extend_from_slice(&[0, 0]);
        match self {
            Message::Open(o) => {
                out.push(1);
                o.encode(out);
            }
            Message::Update(body) => {
                out.push(2);
                out.extend_from_slice(body);
            }
            Message::Notification(n) => {
                out.push(3);
                n.encode(out);
            }
            Message::Keepalive => out.push(4),
            Message::RouteRefresh(r) => {
                out.push(5);
                out.extend_from_slice(&r.family.afi.to_be_bytes());
                out.push(r.subtype);
                out.push(r.family.safi);
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
