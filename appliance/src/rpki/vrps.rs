//! The VRP set and route origin validation (RFC 6811 §2): a route is *valid* when a
//! VRP covers its prefix with its origin AS and a maxLength at least its length,
//! *invalid* when VRPs cover it but none matches, and *not found* when none covers it.
//!
//! VRPs are kept per family in one map per prefix length, so the covering VRPs of a
//! prefix are found with one lookup per shorter length (at most 33 or 129): the
//! same walk a binary trie does, without its pointers.

use std::collections::HashMap;
use std::net::IpAddr;

/// One Validated ROA Payload: prefix, maxLength, origin AS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Vrp {
    /// The prefix's address (host bits clear).
    pub addr: IpAddr,
    /// The prefix length.
    pub len: u8,
    /// The longest announcement the ROA authorises.
    pub max_len: u8,
    /// The origin AS.
    pub asn: u32,
}

/// RFC 6811 validation state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// A VRP matches.
    Valid,
    /// Covered, but no VRP matches the origin and length.
    Invalid,
    /// No VRP covers the prefix.
    NotFound,
}

impl std::fmt::Display for Validity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Validity::Valid => "valid",
            Validity::Invalid => "invalid",
            Validity::NotFound => "not-found",
        })
    }
}

/// The bits of `addr` as an integer, left-aligned in 128 bits, and the family width.
fn bits(addr: IpAddr) -> (u128, u8) {
    match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)) << 96, 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    }
}

fn mask(b: u128, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        b & (u128::MAX << (128 - u32::from(len)))
    }
}

/// The (maxLength, AS) entries of one prefix.
type Entries = Vec<(u8, u32)>;

/// A set of VRPs.
#[derive(Debug, Clone, Default)]
pub struct Vrps {
    /// (is IPv6, length) → masked bits → entries.
    by_len: HashMap<(bool, u8), HashMap<u128, Entries>>,
    count: usize,
}

impl Vrps {
    /// An empty set.
    pub fn new() -> Vrps {
        Vrps::default()
    }

    /// The number of VRPs.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds a VRP (a duplicate is ignored).
    pub fn insert(&mut self, v: Vrp) {
        let (b, _) = bits(v.addr);
        let e = self
            .by_len
            .entry((v.addr.is_ipv6(), v.len))
            .or_default()
            .entry(mask(b, v.len))
            .or_default();
        if !e.contains(&(v.max_len, v.asn)) {
            e.push((v.max_len, v.asn));
            self.count += 1;
        }
    }

    /// Removes a VRP; whether it was there.
    pub fn remove(&mut self, v: &Vrp) -> bool {
        let (b, _) = bits(v.addr);
        let Some(m) = self.by_len.get_mut(&(v.addr.is_ipv6(), v.len)) else {
            return false;
        };
        let Some(e) = m.get_mut(&mask(b, v.len)) else {
            return false;
        };
        let before = e.len();
        e.retain(|x| *x != (v.max_len, v.asn));
        let gone = e.len() < before;
        if e.is_empty() {
            m.remove(&mask(b, v.len));
        }
        self.count -= usize::from(gone);
        gone
    }

    /// The validity of an announcement of `addr/len` originated by `asn`.
    pub fn validate(&self, addr: IpAddr, len: u8, asn: u32) -> Validity {
        let (b, width) = bits(addr);
        let mut covered = false;
        for l in 0..=len.min(width) {
            let Some(entries) = self
                .by_len
                .get(&(addr.is_ipv6(), l))
                .and_then(|m| m.get(&mask(b, l)))
            else {
                continue;
            };
            covered = true;
            // AS0 (RFC 6483 §4) never matches.
            if entries
                .iter()
                .any(|&(max, a)| a == asn && a != 0 && len <= max)
            {
                return Validity::Valid;
            }
        }
        if covered {
            Validity::Invalid
        } else {
            Validity::NotFound
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vrp(p: &str, max_len: u8, asn: u32) -> Vrp {
        let (a, l) = p.split_once('/').unwrap();
        Vrp {
            addr: a.parse().unwrap(),
            len: l.parse().unwrap(),
            max_len,
            asn,
        }
    }

    #[test]
    fn rfc6811_states() {
        let mut v = Vrps::new();
        v.insert(vrp("192.0.2.0/24", 24, 64500));
        v.insert(vrp("198.51.100.0/22", 24, 64501));
        v.insert(vrp("2001:db8::/32", 48, 64500));
        v.insert(vrp("203.0.113.0/24", 24, 0));
        v.insert(vrp("192.0.2.0/24", 24, 64500));
        assert_eq!(v.len(), 4, "a duplicate is one VRP");
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(v.validate(ip("192.0.2.0"), 24, 64500), Validity::Valid);
        assert_eq!(v.validate(ip("192.0.2.0"), 24, 64999), Validity::Invalid);
        // Longer than maxLength: invalid (this is why mitigation more-specifics are
        // checked through their covering prefix, RFC 9319).
        assert_eq!(v.validate(ip("192.0.2.7"), 32, 64500), Validity::Invalid);
        assert_eq!(v.validate(ip("198.51.101.0"), 24, 64501), Validity::Valid);
        assert_eq!(
            v.validate(ip("198.51.100.0"), 21, 64501),
            Validity::NotFound
        );
        assert_eq!(v.validate(ip("2001:db8:1::"), 48, 64500), Validity::Valid);
        assert_eq!(v.validate(ip("2001:db9::"), 32, 64500), Validity::NotFound);
        assert_eq!(
            v.validate(ip("203.0.113.0"), 24, 0),
            Validity::Invalid,
            "AS0"
        );
        assert!(v.remove(&vrp("192.0.2.0/24", 24, 64500)));
        assert!(!v.remove(&vrp("192.0.2.0/24", 24, 64500)));
        assert_eq!(v.validate(ip("192.0.2.0"), 24, 64500), Validity::NotFound);
        assert_eq!(v.len(), 3);
    }
}
