//! UPDATE (RFC 4271 §4.3) with RFC 7606 error handling.
//!
//! ```text
//! +-----------------------------------------------------+
//! |   Withdrawn Routes Length (2 octets)                |
//! +-----------------------------------------------------+
//! |   Withdrawn Routes (variable)                       |
//! +-----------------------------------------------------+
//! |   Total Path Attribute Length (2 octets)            |
//! +-----------------------------------------------------+
//! |   Path Attributes (variable)                        |
//! +-----------------------------------------------------+
//! |   Network Layer Reachability Information (variable) |
//! +-----------------------------------------------------+
//! ```

pub mod attr;
#[cfg(test)]
mod tests;

use crate::message::{Family, MessageError};
use attr::{AttrError, Attribute, Handling};
use std::net::Ipv4Addr;

/// An IPv4 prefix in the UPDATE's own fields.
pub type Prefix4 = (Ipv4Addr, u8);

/// An UPDATE.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Update {
    /// Withdrawn IPv4 unicast routes.
    pub withdrawn: Vec<Prefix4>,
    /// Path attributes.
    pub attributes: Vec<Attribute>,
    /// IPv4 unicast NLRI.
    pub nlri: Vec<Prefix4>,
}

/// A decoded UPDATE and what RFC 7606 handling it needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The UPDATE (discarded attributes removed).
    pub update: Update,
    /// Every route it carries is to be treated as withdrawn.
    pub treat_as_withdraw: bool,
    /// Type codes of attributes discarded.
    pub discarded: Vec<u8>,
}

const UPDATE_ERROR: u8 = 3;

fn put_prefix(out: &mut Vec<u8>, (a, len): Prefix4) {
    out.push(len);
    out.extend_from_slice(&a.octets()[..usize::from(len).div_ceil(8)]);
}

fn prefixes(mut v: &[u8]) -> Option<Vec<Prefix4>> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = v.split_first() {
        if len > 32 {
            return None;
        }
        let n = usize::from(len).div_ceil(8);
        let mut o = [0u8; 4];
        o[..n].copy_from_slice(rest.get(..n)?);
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        out.push((Ipv4Addr::from(u32::from_be_bytes(o) & mask), len));
        v = &rest[n..];
    }
    Some(out)
}

impl Update {
    /// End-of-RIB for a family (RFC 4724 §2): an empty UPDATE for IPv4 unicast, an empty
    /// MP_UNREACH_NLRI for the others.
    pub fn end_of_rib(family: Family) -> Update {
        if family == Family::IPV4_UNICAST {
            Update::default()
        } else {
            Update {
                attributes: vec![Attribute::MpUnreach {
                    family,
                    withdrawn: Vec::new(),
                }],
                ..Update::default()
            }
        }
    }

    /// The UPDATE's body (without the message header).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0, 0];
        for p in &self.withdrawn {
            put_prefix(&mut out, *p);
        }
        let w = (out.len() - 2) as u16;
        out[..2].copy_from_slice(&w.to_be_bytes());
        let at = out.len();
        out.extend_from_slice(&[0, 0]);
        for a in &self.attributes {
            a.encode(&mut out);
        }
        let t = (out.len() - at - 2) as u16;
        out[at..at + 2].copy_from_slice(&t.to_be_bytes());
        for p in &self.nlri {
            put_prefix(&mut out, *p);
        }
        out
    }

    /// Decodes a body. `four_octet`: the session negotiated four-octet AS numbers.
    /// Errors that RFC 7606 resolves by resetting the session come back as the
    /// NOTIFICATION to send.
    pub fn decode(body: &[u8], four_octet: bool) -> Result<Decoded, MessageError> {
        let list = |what| MessageError::new(UPDATE_ERROR, 1, &[], what);
        let wlen = usize::from(u16::from_be_bytes([
            *body.first().ok_or(list("UPDATE truncated"))?,
            *body.get(1).ok_or(list("UPDATE truncated"))?,
        ]));
        let wbytes = body
            .get(2..2 + wlen)
            .ok_or(list("withdrawn routes overrun the UPDATE"))?;
        let withdrawn = prefixes(wbytes).ok_or(list("malformed withdrawn routes"))?;
        let at = 2 + wlen;
        let tlen = usize::from(u16::from_be_bytes([
            *body.get(at).ok_or(list("UPDATE truncated"))?,
            *body.get(at + 1).ok_or(list("UPDATE truncated"))?,
        ]));
        let abytes = body
            .get(at + 2..at + 2 + tlen)
            .ok_or(list("path attributes overrun the UPDATE"))?;
        let nlri_bytes = &body[at + 2 + tlen..];
        let mut treat_as_withdraw = false;
        let mut discarded = Vec::new();
        let mut attributes: Vec<Attribute> = Vec::new();
        let mut seen = [false; 256];
        let mut p = abytes;
        while !p.is_empty() {
            let (Some(&flags), Some(&code)) = (p.first(), p.get(1)) else {
                treat_as_withdraw = true;
                break;
            };
            let ext = flags & attr::EXTENDED != 0;
            let head = if ext { 4 } else { 3 };
            let len = match (ext, p.get(2), p.get(3)) {
                (false, Some(&l), _) => usize::from(l),
                (true, Some(&h), Some(&l)) => usize::from(u16::from_be_bytes([h, l])),
                _ => {
                    // An attribute header cut off: the rest cannot be parsed (§4).
                    treat_as_withdraw = true;
                    break;
                }
            };
            let Some(v) = p.get(head..head + len) else {
                if code == 14 || code == 15 {
                    return Err(MessageError::new(
                        UPDATE_ERROR,
                        5,
                        &[],
                        "MP attribute overruns the attributes",
                    ));
                }
                treat_as_withdraw = true;
                break;
            };
            p = &p[head + len..];
            if seen[usize::from(code)] {
                // §3 g: repeated MP_(UN)REACH resets the session, others are dropped.
                if code == 14 || code == 15 {
                    return Err(list("MP_REACH_NLRI or MP_UNREACH_NLRI repeated"));
                }
                discarded.push(code);
                continue;
            }
            seen[usize::from(code)] = true;
            match attr::decode(flags, code, v, four_octet) {
                Ok(a) => attributes.push(a),
                Err(AttrError {
                    handling: Handling::Discard,
                    code,
                }) => discarded.push(code),
                Err(AttrError {
                    handling: Handling::TreatAsWithdraw,
                    ..
                }) => treat_as_withdraw = true,
                Err(AttrError {
                    handling: Handling::SessionReset(sub),
                    ..
                }) => {
                    return Err(MessageError::new(
                        UPDATE_ERROR,
                        sub,
                        &[],
                        "malformed MP_REACH_NLRI or MP_UNREACH_NLRI",
                    ));
                }
            }
        }
        // NLRI field parse errors: the routes cannot be found (§5.3): reset.
        let nlri = prefixes(nlri_bytes).ok_or(MessageError::new(
            UPDATE_ERROR,
            10,
            &[],
            "invalid NLRI field",
        ))?;
        // §3 d: routes without the mandatory attributes are treated as withdrawn.
        let reach = !nlri.is_empty() || seen[14];
        if reach && !(seen[1] && seen[2] && (seen[3] || nlri.is_empty())) {
            treat_as_withdraw = true;
        }
        Ok(Decoded {
            update: Update {
                withdrawn,
                attributes,
                nlri,
            },
            treat_as_withdraw,
            discarded,
        })
    }
}
