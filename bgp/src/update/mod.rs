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

use crate::codes::attr_type as code;
use crate::codes::error::UPDATE_MESSAGE;
use crate::codes::error::update::{
    ATTRIBUTE_LENGTH_ERROR, INVALID_NETWORK_FIELD, MALFORMED_ATTRIBUTE_LIST,
};
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
    /// Type codes of attributes discarded ([`crate::codes::attr_type`]).
    pub discarded: Vec<u8>,
    /// Type codes of attributes whose Optional/Transitive flags conflicted with their
    /// type, or that claimed to be well-known without being recognised (RFC 7606 §3 c);
    /// each made the UPDATE treat-as-withdraw (or was discarded, for AS4_PATH and
    /// AS4_AGGREGATOR, then also listed in `discarded`).
    pub flag_errors: Vec<u8>,
}

/// An UPDATE Message Error, Malformed Attribute List (RFC 4271 §6.3).
fn malformed_list(what: &'static str) -> MessageError {
    MessageError::new(UPDATE_MESSAGE, MALFORMED_ATTRIBUTE_LIST, &[], what)
}

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
        let (withdrawn, rest) = withdrawn_routes(body)?;
        let (abytes, nlri_bytes) = attributes_and_nlri(rest)?;
        let scan = Scan::run(abytes, four_octet)?;
        // NLRI field parse errors: the routes cannot be found (§5.3): reset.
        let nlri = prefixes(nlri_bytes).ok_or(MessageError::new(
            UPDATE_MESSAGE,
            INVALID_NETWORK_FIELD,
            &[],
            "invalid NLRI field",
        ))?;
        // §3 d: routes without the mandatory attributes are treated as withdrawn.
        let reach = !nlri.is_empty() || scan.seen(code::MP_REACH_NLRI);
        let mandatory = scan.seen(code::ORIGIN)
            && scan.seen(code::AS_PATH)
            && (scan.seen(code::NEXT_HOP) || nlri.is_empty());
        Ok(Decoded {
            update: Update {
                withdrawn,
                attributes: scan.attributes,
                nlri,
            },
            treat_as_withdraw: scan.treat_as_withdraw || (reach && !mandatory),
            discarded: scan.discarded,
            flag_errors: scan.flag_errors,
        })
    }
}

/// A two-octet length at `at`.
fn length_at(body: &[u8], at: usize) -> Result<usize, MessageError> {
    let truncated = || malformed_list("UPDATE truncated");
    let hi = *body.get(at).ok_or_else(truncated)?;
    let lo = *body.get(at + 1).ok_or_else(truncated)?;
    Ok(usize::from(u16::from_be_bytes([hi, lo])))
}

/// The Withdrawn Routes field, and what follows it.
fn withdrawn_routes(body: &[u8]) -> Result<(Vec<Prefix4>, &[u8]), MessageError> {
    let wlen = length_at(body, 0)?;
    let wbytes = body
        .get(2..2 + wlen)
        .ok_or(malformed_list("withdrawn routes overrun the UPDATE"))?;
    let withdrawn = prefixes(wbytes).ok_or(malformed_list("malformed withdrawn routes"))?;
    Ok((withdrawn, &body[2 + wlen..]))
}

/// The Path Attributes and NLRI fields of what follows the withdrawn routes.
fn attributes_and_nlri(rest: &[u8]) -> Result<(&[u8], &[u8]), MessageError> {
    let tlen = length_at(rest, 0)?;
    let abytes = rest
        .get(2..2 + tlen)
        .ok_or(malformed_list("path attributes overrun the UPDATE"))?;
    Ok((abytes, &rest[2 + tlen..]))
}

/// One attribute: flags, type code, value, and the attributes after it.
type RawAttribute<'a> = (u8, u8, &'a [u8], &'a [u8]);

/// The attribute at the start of `p`, or `None` when its header or value is cut off and
/// the rest cannot be parsed (RFC 7606 §4: treat-as-withdraw). An MP_REACH_NLRI or
/// MP_UNREACH_NLRI cut off resets the session (§5.3: its NLRI cannot be found).
fn next_attribute(p: &[u8]) -> Result<Option<RawAttribute<'_>>, MessageError> {
    let (Some(&flags), Some(&type_code)) = (p.first(), p.get(1)) else {
        return Ok(None);
    };
    let ext = flags & attr::EXTENDED != 0;
    let head = if ext { 4 } else { 3 };
    let len = match (ext, p.get(2), p.get(3)) {
        (false, Some(&l), _) => usize::from(l),
        (true, Some(&h), Some(&l)) => usize::from(u16::from_be_bytes([h, l])),
        _ => return Ok(None),
    };
    match p.get(head..head + len) {
        Some(v) => Ok(Some((flags, type_code, v, &p[head + len..]))),
        None if is_mp(type_code) => Err(MessageError::new(
            UPDATE_MESSAGE,
            ATTRIBUTE_LENGTH_ERROR,
            &[],
            "MP attribute overruns the attributes",
        )),
        None => Ok(None),
    }
}

fn is_mp(type_code: u8) -> bool {
    type_code == code::MP_REACH_NLRI || type_code == code::MP_UNREACH_NLRI
}

/// The path attributes decoded so far, with the RFC 7606 handling they needed.
struct Scan {
    attributes: Vec<Attribute>,
    discarded: Vec<u8>,
    treat_as_withdraw: bool,
    /// Type codes of attributes whose flags were wrong (RFC 7606 §3 c) or that claimed to
    /// be well-known without being recognised.
    flag_errors: Vec<u8>,
    /// Type codes met.
    seen: [bool; 256],
}

impl Scan {
    /// Decodes the Path Attributes field.
    fn run(mut p: &[u8], four_octet: bool) -> Result<Scan, MessageError> {
        let mut scan = Scan {
            attributes: Vec::new(),
            discarded: Vec::new(),
            treat_as_withdraw: false,
            flag_errors: Vec::new(),
            seen: [false; 256],
        };
        while !p.is_empty() {
            let Some((flags, type_code, v, rest)) = next_attribute(p)? else {
                scan.treat_as_withdraw = true;
                break;
            };
            p = rest;
            scan.attribute(flags, type_code, v, four_octet)?;
        }
        Ok(scan)
    }

    fn seen(&self, type_code: u8) -> bool {
        self.seen[usize::from(type_code)]
    }

    /// Takes one attribute.
    fn attribute(
        &mut self,
        flags: u8,
        type_code: u8,
        v: &[u8],
        four_octet: bool,
    ) -> Result<(), MessageError> {
        if self.seen(type_code) {
            // §3 g: repeated MP_(UN)REACH resets the session, others are dropped.
            if is_mp(type_code) {
                return Err(malformed_list("MP_REACH_NLRI or MP_UNREACH_NLRI repeated"));
            }
            self.discarded.push(type_code);
            return Ok(());
        }
        self.seen[usize::from(type_code)] = true;
        if attr::check_flags(flags, type_code).is_err() {
            self.flag_errors.push(type_code);
            if attr::flag_error_handling(type_code) == Handling::Discard {
                self.discarded.push(type_code);
                return Ok(());
            }
            self.treat_as_withdraw = true;
            // An MP attribute is still read, so that the routes it carries can be
            // withdrawn (§5.3: if they cannot be found, the session is reset below).
            if !is_mp(type_code) {
                return Ok(());
            }
        }
        match attr::decode(flags, type_code, v, four_octet) {
            Ok(a) => self.attributes.push(a),
            Err(AttrError {
                handling: Handling::Discard,
                code,
            }) => self.discarded.push(code),
            Err(AttrError {
                handling: Handling::TreatAsWithdraw,
                ..
            }) => self.treat_as_withdraw = true,
            Err(AttrError {
                handling: Handling::SessionReset(sub),
                ..
            }) => {
                return Err(MessageError::new(
                    UPDATE_MESSAGE,
                    sub,
                    &[],
                    "malformed MP_REACH_NLRI or MP_UNREACH_NLRI",
                ));
            }
        }
        Ok(())
    }
}
