//! OPEN (RFC 4271 §4.2), with optional parameters of type 2 (capabilities, RFC 5492)
//! and the extended optional-parameters length of RFC 9072.
//!
//! ```text
//! +-+-+-+-+-+-+-+-+
//! |    Version    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     My Autonomous System      |   AS_TRANS (23456) when the AS needs 4 octets
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Hold Time           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         BGP Identifier                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Opt Parm Len  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |             Optional Parameters (variable)                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::{Capability, MessageError};
use crate::codes::error::{self, header, open};
use crate::codes::{AS_TRANS, BGP_VERSION, param};
use std::net::Ipv4Addr;

/// An OPEN message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// The AS in the two-octet field ([`AS_TRANS`] for four-octet ASes).
    pub my_as: u16,
    /// Proposed hold time, seconds (0, or 3 and more).
    pub hold_time: u16,
    /// BGP identifier.
    pub router_id: Ipv4Addr,
    /// Capabilities, in order.
    pub capabilities: Vec<Capability>,
}

fn open_error(subcode: u8, data: &[u8], what: &'static str) -> MessageError {
    MessageError::new(error::OPEN_MESSAGE, subcode, data, what)
}

fn overrun() -> MessageError {
    MessageError::new(
        error::MESSAGE_HEADER,
        header::BAD_MESSAGE_LENGTH,
        &[],
        "OPEN optional parameters overrun the message",
    )
}

impl Open {
    /// An OPEN for `asn` (four-octet capability always included).
    pub fn new(
        asn: u32,
        hold_time: u16,
        router_id: Ipv4Addr,
        mut capabilities: Vec<Capability>,
    ) -> Self {
        if !capabilities
            .iter()
            .any(|c| matches!(c, Capability::FourOctetAs(_)))
        {
            capabilities.push(Capability::FourOctetAs(asn));
        }
        Open {
            my_as: u16::try_from(asn).unwrap_or(AS_TRANS),
            hold_time,
            router_id,
            capabilities,
        }
    }

    /// The peer's AS: the four-octet capability's if present, else the two-octet field.
    pub fn asn(&self) -> u32 {
        self.capabilities
            .iter()
            .find_map(|c| match c {
                Capability::FourOctetAs(a) => Some(*a),
                _ => None,
            })
            .unwrap_or(u32::from(self.my_as))
    }

    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        out.push(BGP_VERSION);
        out.extend_from_slice(&self.my_as.to_be_bytes());
        out.extend_from_slice(&self.hold_time.to_be_bytes());
        out.extend_from_slice(&self.router_id.octets());
        let mut caps = Vec::new();
        for c in &self.capabilities {
            c.encode(&mut caps);
        }
        if caps.len() + 2 <= 255 {
            if caps.is_empty() {
                out.push(0);
            } else {
                out.push((caps.len() + 2) as u8);
                out.push(param::CAPABILITIES);
                out.push(caps.len() as u8);
                out.extend_from_slice(&caps);
            }
        } else {
            // RFC 9072: 255, then type 255 and a two-octet length; parameters with
            // two-octet lengths.
            out.extend_from_slice(&[255, param::EXTENDED_LENGTH]);
            out.extend_from_slice(&((caps.len() + 3) as u16).to_be_bytes());
            out.push(param::CAPABILITIES);
            out.extend_from_slice(&(caps.len() as u16).to_be_bytes());
            out.extend_from_slice(&caps);
        }
    }

    pub(super) fn decode(body: &[u8]) -> Result<Open, MessageError> {
        if body[0] != BGP_VERSION {
            return Err(open_error(
                open::UNSUPPORTED_VERSION_NUMBER,
                &[0, BGP_VERSION],
                "unsupported BGP version (only 4)",
            ));
        }
        let my_as = u16::from_be_bytes([body[1], body[2]]);
        let hold_time = u16::from_be_bytes([body[3], body[4]]);
        if hold_time == 1 || hold_time == 2 {
            return Err(open_error(
                open::UNACCEPTABLE_HOLD_TIME,
                &[],
                "hold time of 1 or 2 seconds",
            ));
        }
        let router_id = Ipv4Addr::new(body[5], body[6], body[7], body[8]);
        if router_id.is_unspecified() {
            return Err(open_error(
                open::BAD_BGP_IDENTIFIER,
                &[],
                "BGP identifier 0.0.0.0",
            ));
        }
        Ok(Open {
            my_as,
            hold_time,
            router_id,
            capabilities: capabilities(body)?,
        })
    }
}

/// The optional parameters of an OPEN body (from its Opt Parm Len octet on): their
/// capabilities, in order. Only capabilities are supported (RFC 5492 §4).
fn capabilities(body: &[u8]) -> Result<Vec<Capability>, MessageError> {
    let plen = usize::from(body[9]);
    let rest = &body[10..];
    // RFC 9072 extended form: length 255 and the first parameter type 255.
    let (params, extended) = if plen == 255 && rest.first() == Some(&param::EXTENDED_LENGTH) {
        let n = usize::from(u16::from_be_bytes([
            *rest.get(1).ok_or_else(overrun)?,
            *rest.get(2).ok_or_else(overrun)?,
        ]));
        (rest.get(3..3 + n).ok_or_else(overrun)?, true)
    } else {
        (rest.get(..plen).ok_or_else(overrun)?, false)
    };
    if (if extended { 3 } else { 0 }) + params.len() + 10 != body.len() {
        return Err(overrun());
    }
    let mut capabilities = Vec::new();
    let mut p = params;
    while !p.is_empty() {
        let t = p[0];
        let (len, head) = if extended {
            (
                usize::from(u16::from_be_bytes([
                    *p.get(1).ok_or_else(overrun)?,
                    *p.get(2).ok_or_else(overrun)?,
                ])),
                3,
            )
        } else {
            (usize::from(*p.get(1).ok_or_else(overrun)?), 2)
        };
        let v = p.get(head..head + len).ok_or_else(overrun)?;
        p = &p[head + len..];
        if t != param::CAPABILITIES {
            return Err(open_error(
                open::UNSUPPORTED_OPTIONAL_PARAMETER,
                &[t],
                "unsupported optional parameter",
            ));
        }
        let caps = Capability::decode_all(v)
            .ok_or_else(|| open_error(error::UNSPECIFIC, &[], "malformed capability"))?;
        capabilities.extend(caps);
    }
    Ok(capabilities)
}
