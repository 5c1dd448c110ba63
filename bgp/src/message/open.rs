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
use std::net::Ipv4Addr;

/// AS_TRANS (RFC 6793).
pub const AS_TRANS: u16 = 23456;
const OPEN_ERROR: u8 = 2;

/// An OPEN message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// The AS in the two-octet field (AS_TRANS for four-octet ASes).
    pub my_as: u16,
    /// Proposed hold time, seconds (0, or 3 and more).
    pub hold_time: u16,
    /// BGP identifier.
    pub router_id: Ipv4Addr,
    /// Capabilities, in order.
    pub capabilities: Vec<Capability>,
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
        out.push(4);
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
                out.push(2);
                out.push(caps.len() as u8);
                out.extend_from_slice(&caps);
            }
        } else {
            // RFC 9072: 255, then type 255 and a two-octet length; parameters with
            // two-octet lengths.
            out.extend_from_slice(&[255, 255]);
            out.extend_from_slice(&((caps.len() + 3) as u16).to_be_bytes());
            out.push(2);
            out.extend_from_slice(&(caps.len() as u16).to_be_bytes());
            out.extend_from_slice(&caps);
        }
    }

    pub(super) fn decode(body: &[u8]) -> Result<Open, MessageError> {
        if body[0] != 4 {
            return Err(MessageError::new(
                OPEN_ERROR,
                1,
                &[0, 4],
                "unsupported BGP version (only 4)",
            ));
        }
        let my_as = u16::from_be_bytes([body[1], body[2]]);
        let hold_time = u16::from_be_bytes([body[3], body[4]]);
        if hold_time == 1 || hold_time == 2 {
            return Err(MessageError::new(
                OPEN_ERROR,
                6,
                &[],
                "hold time of 1 or 2 seconds",
            ));
        }
        let router_id = Ipv4Addr::new(body[5], body[6], body[7], body[8]);
        if router_id.is_unspecified() {
            return Err(MessageError::new(
                OPEN_ERROR,
                3,
                &[],
                "BGP identifier 0.0.0.0",
            ));
        }
        let bad_len =
            || MessageError::new(1, 2, &[], "OPEN optional parameters overrun the message");
        let plen = usize::from(body[9]);
        let rest = &body[10..];
        // RFC 9072 extended form: length 255 and the first parameter type 255.
        let (params, extended) = if plen == 255 && rest.first() == Some(&255) {
            let n = usize::from(u16::from_be_bytes([
                *rest.get(1).ok_or_else(bad_len)?,
                *rest.get(2).ok_or_else(bad_len)?,
            ]));
            (rest.get(3..3 + n).ok_or_else(bad_len)?, true)
        } else {
            (rest.get(..plen).ok_or_else(bad_len)?, false)
        };
        if (if extended { 3 } else { 0 }) + params.len() + 10 != body.len() {
            return Err(bad_len());
        }
        let mut capabilities = Vec::new();
        let mut p = params;
        while !p.is_empty() {
            let t = p[0];
            let (len, head) = if extended {
                (
                    usize::from(u16::from_be_bytes([
                        *p.get(1).ok_or_else(bad_len)?,
                        *p.get(2).ok_or_else(bad_len)?,
                    ])),
                    3,
                )
            } else {
                (usize::from(*p.get(1).ok_or_else(bad_len)?), 2)
            };
            let v = p.get(head..head + len).ok_or_else(bad_len)?;
            p = &p[head + len..];
            if t != 2 {
                return Err(MessageError::new(
                    OPEN_ERROR,
                    4,
                    &[t],
                    "unsupported optional parameter",
                ));
            }
            let caps = Capability::decode_all(v)
                .ok_or_else(|| MessageError::new(OPEN_ERROR, 0, &[], "malformed capability"))?;
            capabilities.extend(caps);
        }
        Ok(Open {
            my_as,
            hold_time,
            router_id,
            capabilities,
        })
    }
}
