//! Packing routes into UPDATE messages of at most 4096 octets (RFC 4271 §4.1).
//!
//! Routes that share their attributes travel together. For every family but IPv4
//! unicast the NLRI go in MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760), encoded as the
//! first path attribute (RFC 7606 §5.1); the other attributes follow in type order.
//!
//! ```text
//! body: | withdrawn len (2) | withdrawn | attr len (2) | MP_REACH | ORIGIN | AS_PATH |
//!       | NEXT_HOP | MED | LOCAL_PREF | COMMUNITIES | EXT_COMMUNITIES | LARGE | NLRI |
//! ```

use super::{Attrs, Nlri};
use crate::codes::attr_type::{AS_PATH, MP_REACH_NLRI, MP_UNREACH_NLRI};
use crate::codes::{AS_TRANS, Safi, origin, segment};
use crate::message::{Family, HEADER_LEN, MAX_LEN, Message};
use crate::update::Update;
use crate::update::attr::{Attribute, EXTENDED, OPTIONAL, Segment, TRANSITIVE};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Room for an UPDATE body.
const MAX_BODY: usize = MAX_LEN - HEADER_LEN;

/// How routes are encoded for one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoder {
    /// Our AS.
    pub local_as: u32,
    /// The peer is in another AS: prepend ours to AS_PATH, send no LOCAL_PREF.
    pub ebgp: bool,
    /// The session negotiated four-octet AS numbers (RFC 6793).
    pub four_octet: bool,
    /// Next hop for IPv4 unicast routes that name none (our address on the session).
    pub next_hop_v4: Ipv4Addr,
    /// Next hop for IPv6 unicast routes that name none.
    pub next_hop_v6: Ipv6Addr,
}

fn frame(body: Vec<u8>) -> Vec<u8> {
    Message::Update(body).to_bytes()
}

/// Body of an UPDATE: withdrawn routes, path attributes (already encoded), NLRI.
fn body(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(4 + withdrawn.len() + attrs.len() + nlri.len());
    b.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
    b.extend_from_slice(withdrawn);
    b.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    b.extend_from_slice(attrs);
    b.extend_from_slice(nlri);
    b
}

/// Splits encoded NLRI into runs that fit `room` octets each. Returns the runs and the
/// routes that could not be encoded at all.
fn runs(list: &[Nlri], room: usize) -> (Vec<Vec<u8>>, Vec<Nlri>) {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let mut cur = Vec::with_capacity(room);
    let mut one = Vec::with_capacity(64);
    for n in list {
        one.clear();
        if n.encode(&mut one).is_err() || one.len() > room {
            bad.push(n.clone());
            continue;
        }
        if cur.len() + one.len() > room {
            out.push(std::mem::replace(&mut cur, Vec::with_capacity(room)));
        }
        cur.extend_from_slice(&one);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    (out, bad)
}

/// MP_REACH/MP_UNREACH header with the extended length, which we always use so the
/// room left for NLRI is known before packing.
fn mp_attr(type_code: u8, len: usize, out: &mut Vec<u8>) {
    out.push(OPTIONAL | EXTENDED);
    out.push(type_code);
    out.extend_from_slice(&(len as u16).to_be_bytes());
}

/// Withdrawals of `list` (all of `family`), packed. Returns the messages and how many
/// routes could not be encoded.
pub fn withdraw(family: Family, list: &[Nlri]) -> (Vec<Vec<u8>>, usize) {
    if family == Family::IPV4_UNICAST {
        let (runs, bad) = runs(list, MAX_BODY - 4);
        let msgs = runs.iter().map(|r| frame(body(r, &[], &[]))).collect();
        return (msgs, bad.len());
    }
    // attr len (2) + withdrawn len (2) + MP header (4) + AFI/SAFI (3).
    let (runs, bad) = runs(list, MAX_BODY - 4 - 4 - 3);
    let msgs = runs
        .iter()
        .map(|r| {
            let mut a = Vec::with_capacity(7 + r.len());
            mp_attr(MP_UNREACH_NLRI, 3 + r.len(), &mut a);
            a.extend_from_slice(&family.afi.to_be_bytes());
            a.push(family.safi.0);
            a.extend_from_slice(r);
            frame(body(&[], &a, &[]))
        })
        .collect();
    (msgs, bad.len())
}

/// End-of-RIB for a family (RFC 4724 §2), framed.
pub fn end_of_rib(family: Family) -> Vec<u8> {
    frame(Update::end_of_rib(family).encode())
}

impl Encoder {
    /// AS_PATH for this session: empty for iBGP, our AS for eBGP. Without four-octet AS
    /// numbers the path is two-octet, with AS_TRANS and an AS4_PATH for a large AS.
    fn as_path(&self, out: &mut Vec<u8>) {
        let path = if self.ebgp {
            vec![Segment::Sequence(vec![self.local_as])]
        } else {
            Vec::new()
        };
        if self.four_octet {
            Attribute::AsPath(path).encode(out);
            return;
        }
        let mut v = Vec::new();
        if self.ebgp {
            let two = u16::try_from(self.local_as).unwrap_or(AS_TRANS);
            v.extend_from_slice(&[segment::AS_SEQUENCE, 1]);
            v.extend_from_slice(&two.to_be_bytes());
        }
        Attribute::Unknown(TRANSITIVE, AS_PATH, v).encode(out);
        if self.ebgp && self.local_as > u32::from(u16::MAX) {
            Attribute::As4Path(path).encode(out);
        }
    }

    /// The attributes other than MP_REACH, in type order.
    fn attributes(&self, family: Family, a: &Attrs) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        Attribute::Origin(origin::IGP).encode(&mut out);
        self.as_path(&mut out);
        if family == Family::IPV4_UNICAST {
            let nh = match a.next_hop {
                Some(IpAddr::V4(v4)) => v4,
                _ => self.next_hop_v4,
            };
            Attribute::NextHop(nh).encode(&mut out);
        }
        if let Some(m) = a.med {
            Attribute::Med(m).encode(&mut out);
        }
        if !self.ebgp {
            Attribute::LocalPref(a.local_pref.unwrap_or(100)).encode(&mut out);
        }
        if !a.communities.is_empty() {
            Attribute::Communities(a.communities.clone()).encode(&mut out);
        }
        if !a.extended_communities.is_empty() {
            Attribute::ExtCommunities(a.extended_communities.clone()).encode(&mut out);
        }
        if !a.large_communities.is_empty() {
            Attribute::LargeCommunities(a.large_communities.clone()).encode(&mut out);
        }
        out
    }

    /// The MP_REACH next hop for a family: none for FlowSpec (RFC 8955 §5), 16 octets for
    /// IPv6 unicast (an IPv4 next hop is written IPv4-mapped).
    fn mp_next_hop(&self, family: Family, a: &Attrs) -> Vec<u8> {
        if family.safi != Safi::UNICAST {
            return Vec::new();
        }
        match a.next_hop {
            Some(IpAddr::V6(v6)) => v6.octets().to_vec(),
            Some(IpAddr::V4(v4)) => v4.to_ipv6_mapped().octets().to_vec(),
            None => self.next_hop_v6.octets().to_vec(),
        }
    }

    /// Announcements of `list` (all of `family`) with attributes `a`, packed. Returns the
    /// messages and the routes that could not be encoded.
    pub fn announce(&self, family: Family, a: &Attrs, list: &[Nlri]) -> (Vec<Vec<u8>>, Vec<Nlri>) {
        let attrs = self.attributes(family, a);
        if family == Family::IPV4_UNICAST {
            let Some(room) = MAX_BODY.checked_sub(4 + attrs.len()) else {
                return (Vec::new(), list.to_vec());
            };
            let (runs, bad) = runs(list, room);
            let msgs = runs.iter().map(|r| frame(body(&[], &attrs, r))).collect();
            return (msgs, bad);
        }
        let nh = self.mp_next_hop(family, a);
        // MP header (4) + AFI/SAFI (3) + next-hop length (1) + next hop + reserved (1).
        let mp_fixed = 4 + 3 + 1 + nh.len() + 1;
        let Some(room) = MAX_BODY.checked_sub(4 + mp_fixed + attrs.len()) else {
            return (Vec::new(), list.to_vec());
        };
        let (runs, bad) = runs(list, room);
        let msgs = runs
            .iter()
            .map(|r| {
                let mut all = Vec::with_capacity(mp_fixed + r.len() + attrs.len());
                mp_attr(MP_REACH_NLRI, mp_fixed - 4 + r.len(), &mut all);
                all.extend_from_slice(&family.afi.to_be_bytes());
                all.push(family.safi.0);
                all.push(nh.len() as u8);
                all.extend_from_slice(&nh);
                all.push(0);
                all.extend_from_slice(r);
                all.extend_from_slice(&attrs);
                frame(body(&[], &all, &[]))
            })
            .collect();
        (msgs, bad)
    }
}
