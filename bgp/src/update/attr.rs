//! Path attributes (RFC 4271 §4.3, §5) and the ones FlowSpec and RTBH need.
//!
//! ```text
//! +---------------+---------------+----------------------------+
//! | Attr. Flags   |Attr. Type Code| Length (1, or 2 with       |
//! | O T P E . . . |               | Extended Length) | Value   |
//! +---------------+---------------+----------------------------+
//! ```
//! O optional, T transitive, P partial, E extended length.

use crate::codes::attr_type as code;
use crate::codes::error::update::OPTIONAL_ATTRIBUTE_ERROR;
use crate::codes::{Afi, Safi, origin, segment};
use crate::message::Family;
use std::net::Ipv4Addr;

/// Flags.
pub const OPTIONAL: u8 = 0x80;
/// Transitive.
pub const TRANSITIVE: u8 = 0x40;
/// Partial.
pub const PARTIAL: u8 = 0x20;
/// Extended length.
pub const EXTENDED: u8 = 0x10;

/// Well-known communities (RFC 1997, RFC 7999).
pub mod community {
    /// BLACKHOLE (RFC 7999).
    pub const BLACKHOLE: u32 = 0xffff_029a;
    /// NO_EXPORT.
    pub const NO_EXPORT: u32 = 0xffff_ff01;
    /// NO_ADVERTISE.
    pub const NO_ADVERTISE: u32 = 0xffff_ff02;
}

/// An AS_PATH segment (four-octet ASes; RFC 6793).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// AS_SET ([`segment::AS_SET`]).
    Set(Vec<u32>),
    /// AS_SEQUENCE ([`segment::AS_SEQUENCE`]).
    Sequence(Vec<u32>),
}

/// A path attribute (type codes in [`crate::codes::attr_type`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribute {
    /// ORIGIN: [`origin::IGP`], [`origin::EGP`] or [`origin::INCOMPLETE`].
    Origin(u8),
    /// AS_PATH, with four-octet ASes.
    AsPath(Vec<Segment>),
    /// NEXT_HOP.
    NextHop(Ipv4Addr),
    /// MULTI_EXIT_DISC.
    Med(u32),
    /// LOCAL_PREF.
    LocalPref(u32),
    /// COMMUNITIES (RFC 1997).
    Communities(Vec<u32>),
    /// MP_REACH_NLRI (RFC 4760): family, next hop, NLRI (encoded).
    MpReach {
        /// AFI/SAFI.
        family: Family,
        /// Next hop octets (empty for FlowSpec, RFC 8955 §5).
        next_hop: Vec<u8>,
        /// NLRI octets.
        nlri: Vec<u8>,
    },
    /// MP_UNREACH_NLRI (RFC 4760).
    MpUnreach {
        /// AFI/SAFI.
        family: Family,
        /// Withdrawn NLRI octets.
        withdrawn: Vec<u8>,
    },
    /// EXTENDED_COMMUNITIES (RFC 4360).
    ExtCommunities(Vec<[u8; 8]>),
    /// AS4_PATH (RFC 6793) from a two-octet speaker.
    As4Path(Vec<Segment>),
    /// LARGE_COMMUNITY (RFC 8092): global administrator, two local parts.
    LargeCommunities(Vec<[u32; 3]>),
    /// Anything else: flags, type, value (passed on or ignored).
    Unknown(u8, u8, Vec<u8>),
}

impl Attribute {
    /// Type code ([`crate::codes::attr_type`]).
    pub fn code(&self) -> u8 {
        match self {
            Attribute::Origin(_) => code::ORIGIN,
            Attribute::AsPath(_) => code::AS_PATH,
            Attribute::NextHop(_) => code::NEXT_HOP,
            Attribute::Med(_) => code::MULTI_EXIT_DISC,
            Attribute::LocalPref(_) => code::LOCAL_PREF,
            Attribute::Communities(_) => code::COMMUNITIES,
            Attribute::MpReach { .. } => code::MP_REACH_NLRI,
            Attribute::MpUnreach { .. } => code::MP_UNREACH_NLRI,
            Attribute::ExtCommunities(_) => code::EXTENDED_COMMUNITIES,
            Attribute::As4Path(_) => code::AS4_PATH,
            Attribute::LargeCommunities(_) => code::LARGE_COMMUNITY,
            Attribute::Unknown(_, c, _) => *c,
        }
    }

    fn flags(&self) -> u8 {
        match self {
            Attribute::Origin(_)
            | Attribute::AsPath(_)
            | Attribute::NextHop(_)
            | Attribute::LocalPref(_) => TRANSITIVE,
            Attribute::Med(_) | Attribute::MpReach { .. } | Attribute::MpUnreach { .. } => OPTIONAL,
            Attribute::Communities(_)
            | Attribute::ExtCommunities(_)
            | Attribute::As4Path(_)
            | Attribute::LargeCommunities(_) => OPTIONAL | TRANSITIVE,
            Attribute::Unknown(f, _, _) => *f & !EXTENDED,
        }
    }

    /// Appends flags, type, length and value.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut v = Vec::new();
        match self {
            Attribute::Origin(o) => v.push(*o),
            Attribute::AsPath(segs) | Attribute::As4Path(segs) => {
                for s in segs {
                    let (t, list) = match s {
                        Segment::Set(l) => (segment::AS_SET, l),
                        Segment::Sequence(l) => (segment::AS_SEQUENCE, l),
                    };
                    // A segment holds at most 255 ASes; longer lists split.
                    for chunk in list.chunks(255) {
                        v.push(t);
                        v.push(chunk.len() as u8);
                        for a in chunk {
                            v.extend_from_slice(&a.to_be_bytes());
                        }
                    }
                }
            }
            Attribute::NextHop(a) => v.extend_from_slice(&a.octets()),
            Attribute::Med(x) | Attribute::LocalPref(x) => v.extend_from_slice(&x.to_be_bytes()),
            Attribute::Communities(cs) => cs
                .iter()
                .for_each(|c| v.extend_from_slice(&c.to_be_bytes())),
            Attribute::MpReach {
                family,
                next_hop,
                nlri,
            } => {
                v.extend_from_slice(&family.afi.to_be_bytes());
                v.push(family.safi.0);
                v.push(next_hop.len() as u8);
                v.extend_from_slice(next_hop);
                v.push(0); // reserved
                v.extend_from_slice(nlri);
            }
            Attribute::MpUnreach { family, withdrawn } => {
                v.extend_from_slice(&family.afi.to_be_bytes());
                v.push(family.safi.0);
                v.extend_from_slice(withdrawn);
            }
            Attribute::ExtCommunities(cs) => cs.iter().for_each(|c| v.extend_from_slice(c)),
            Attribute::LargeCommunities(cs) => {
                for c in cs {
                    c.iter().for_each(|x| v.extend_from_slice(&x.to_be_bytes()));
                }
            }
            Attribute::Unknown(_, _, value) => v.extend_from_slice(value),
        }
        let mut flags = self.flags();
        if v.len() > 255 {
            flags |= EXTENDED;
        }
        out.push(flags);
        out.push(self.code());
        if flags & EXTENDED != 0 {
            out.extend_from_slice(&(v.len() as u16).to_be_bytes());
        } else {
            out.push(v.len() as u8);
        }
        out.extend_from_slice(&v);
    }
}

/// How RFC 7606 says to handle a malformed attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    /// Drop the attribute, keep the route (§2, "attribute discard").
    Discard,
    /// Treat every route of the UPDATE as withdrawn (§2, "treat-as-withdraw").
    TreatAsWithdraw,
    /// Reset the session with an UPDATE Message Error NOTIFICATION with this subcode
    /// ([`crate::codes::error::update`]).
    SessionReset(u8),
}

/// A malformed attribute: which, and what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttrError {
    /// Attribute type code.
    pub code: u8,
    /// Handling.
    pub handling: Handling,
}

/// The Optional and Transitive bits a recognised attribute must carry (RFC 4271 §5 for
/// the well-known and §5.1.4/§5.1.7 for MED and AGGREGATOR, RFC 1997, RFC 4456 §8,
/// RFC 4760 §3–4, RFC 4360 §2, RFC 6793 §3, RFC 8092 §3), or `None` for a type code
/// levee does not recognise.
pub fn expected_flags(type_code: u8) -> Option<u8> {
    Some(match type_code {
        code::ORIGIN
        | code::AS_PATH
        | code::NEXT_HOP
        | code::LOCAL_PREF
        | code::ATOMIC_AGGREGATE => TRANSITIVE,
        code::MULTI_EXIT_DISC
        | code::ORIGINATOR_ID
        | code::CLUSTER_LIST
        | code::MP_REACH_NLRI
        | code::MP_UNREACH_NLRI => OPTIONAL,
        code::AGGREGATOR
        | code::COMMUNITIES
        | code::EXTENDED_COMMUNITIES
        | code::AS4_PATH
        | code::AS4_AGGREGATOR
        | code::LARGE_COMMUNITY => OPTIONAL | TRANSITIVE,
        _ => return None,
    })
}

/// What is wrong with an attribute's flags, before its value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagError {
    /// A recognised attribute whose Optional or Transitive bit conflicts with its type
    /// (RFC 7606 §3 c).
    Conflict,
    /// The Optional bit is clear, so the attribute claims to be well-known, but levee does
    /// not recognise its type code (RFC 4271 §6.3 "Unrecognized Well-known Attribute";
    /// under RFC 7606 §2 a malformed UPDATE is treated-as-withdraw, not a reset).
    UnrecognisedWellKnown,
}

/// Checks an attribute's flags against its type code.
pub fn check_flags(flags: u8, type_code: u8) -> Result<(), FlagError> {
    match expected_flags(type_code) {
        Some(want) if flags & (OPTIONAL | TRANSITIVE) != want => Err(FlagError::Conflict),
        Some(_) => Ok(()),
        None if flags & OPTIONAL == 0 => Err(FlagError::UnrecognisedWellKnown),
        None => Ok(()),
    }
}

/// How RFC 7606 handles a flag error: treat-as-withdraw (§3 c), except where the
/// attribute's own specification says otherwise: a malformed AS4_PATH or AS4_AGGREGATOR
/// is discarded (RFC 6793 §6, which RFC 7606 §3 c defers to).
pub fn flag_error_handling(type_code: u8) -> Handling {
    match type_code {
        code::AS4_PATH | code::AS4_AGGREGATOR => Handling::Discard,
        _ => Handling::TreatAsWithdraw,
    }
}

fn segments(v: &[u8], width: usize) -> Option<Vec<Segment>> {
    let mut out = Vec::new();
    let mut p = v;
    while !p.is_empty() {
        let (&t, rest) = p.split_first()?;
        let (&n, rest) = rest.split_first()?;
        if n == 0 {
            return None;
        }
        let bytes = rest.get(..usize::from(n) * width)?;
        let list = bytes
            .chunks(width)
            .map(|c| c.iter().fold(0u32, |a, &b| a << 8 | u32::from(b)))
            .collect();
        out.push(match t {
            segment::AS_SET => Segment::Set(list),
            segment::AS_SEQUENCE => Segment::Sequence(list),
            _ => return None,
        });
        p = &rest[usize::from(n) * width..];
    }
    Some(out)
}

fn u32_of(v: &[u8]) -> u32 {
    u32::from_be_bytes([v[0], v[1], v[2], v[3]])
}

/// Decodes one attribute's value. `four_octet`: the session negotiated four-octet ASes.
pub(super) fn decode(
    flags: u8,
    type_code: u8,
    v: &[u8],
    four_octet: bool,
) -> Result<Attribute, AttrError> {
    use Handling::*;
    let err = |handling| AttrError {
        code: type_code,
        handling,
    };
    Ok(match type_code {
        code::ORIGIN => match v {
            [o] if *o <= origin::INCOMPLETE => Attribute::Origin(*o),
            _ => return Err(err(TreatAsWithdraw)),
        },
        code::AS_PATH => Attribute::AsPath(
            segments(v, if four_octet { 4 } else { 2 }).ok_or(err(TreatAsWithdraw))?,
        ),
        code::NEXT_HOP => match v {
            [a, b, c, d] => Attribute::NextHop(Ipv4Addr::new(*a, *b, *c, *d)),
            _ => return Err(err(TreatAsWithdraw)),
        },
        code::MULTI_EXIT_DISC if v.len() == 4 => Attribute::Med(u32_of(v)),
        code::MULTI_EXIT_DISC => return Err(err(TreatAsWithdraw)),
        code::LOCAL_PREF if v.len() == 4 => Attribute::LocalPref(u32_of(v)),
        // LOCAL_PREF from an eBGP peer is ignored anyway: discarding is safe.
        code::LOCAL_PREF => return Err(err(Discard)),
        code::COMMUNITIES if !v.is_empty() && v.len().is_multiple_of(4) => {
            Attribute::Communities(v.chunks(4).map(u32_of).collect())
        }
        code::COMMUNITIES => return Err(err(TreatAsWithdraw)),
        code::MP_REACH_NLRI | code::MP_UNREACH_NLRI => {
            mp(type_code, v).ok_or(err(SessionReset(OPTIONAL_ATTRIBUTE_ERROR)))?
        }
        code::EXTENDED_COMMUNITIES if !v.is_empty() && v.len().is_multiple_of(8) => {
            Attribute::ExtCommunities(
                v.chunks(8)
                    .map(|c| c.try_into().expect("8 octets"))
                    .collect(),
            )
        }
        code::EXTENDED_COMMUNITIES => return Err(err(TreatAsWithdraw)),
        code::AS4_PATH => Attribute::As4Path(segments(v, 4).ok_or(err(Discard))?),
        code::LARGE_COMMUNITY if !v.is_empty() && v.len().is_multiple_of(12) => {
            Attribute::LargeCommunities(
                v.chunks(12)
                    .map(|c| [u32_of(&c[..4]), u32_of(&c[4..8]), u32_of(&c[8..])])
                    .collect(),
            )
        }
        code::LARGE_COMMUNITY => return Err(err(TreatAsWithdraw)),
        _ => Attribute::Unknown(flags, type_code, v.to_vec()),
    })
}

/// MP_REACH_NLRI or MP_UNREACH_NLRI (`type_code`), or `None` if it cannot be parsed:
/// then the NLRI cannot be found, so the session is reset (RFC 7606 §7.11 allows
/// AFI/SAFI disable; we reset).
fn mp(type_code: u8, v: &[u8]) -> Option<Attribute> {
    let family = |h: &[u8]| Family::new(Afi::from_be_bytes([h[0], h[1]]), Safi(h[2]));
    if type_code == code::MP_UNREACH_NLRI {
        let (h, rest) = v.split_at_checked(3)?;
        return Some(Attribute::MpUnreach {
            family: family(h),
            withdrawn: rest.to_vec(),
        });
    }
    let (h, rest) = v.split_at_checked(4)?;
    let nh_len = usize::from(h[3]);
    Some(Attribute::MpReach {
        family: family(h),
        next_hop: rest.get(..nh_len)?.to_vec(),
        nlri: rest.get(nh_len + 1..)?.to_vec(),
    })
}
