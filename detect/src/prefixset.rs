//! A set of IPv4 and IPv6 prefixes with longest-prefix match, each prefix carrying a value.
//!
//! Used for the protected networks (value: the network's index) and for threat
//! intelligence lists (value: which list). Per address family it keeps one hash map per
//! prefix length present, and looks an address up from the longest length down: at most
//! 33 (IPv4) or 129 (IPv6) probes, in practice the handful of lengths a list uses. A
//! million entries cost about 10 bytes each. Maps use std's randomly keyed SipHash:
//! threat lists and traffic are attacker-influenced.

use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;

/// Prefixes of one family, by length, longest first.
#[derive(Debug, Clone)]
struct ByLength<K, V> {
    tables: Vec<(u8, HashMap<K, V>)>,
}

impl<K, V> Default for ByLength<K, V> {
    fn default() -> Self {
        ByLength { tables: Vec::new() }
    }
}

impl<K: std::hash::Hash + Eq + Copy, V> ByLength<K, V> {
    fn table(&mut self, len: u8) -> &mut HashMap<K, V> {
        let i = match self.tables.iter().position(|(l, _)| *l <= len) {
            Some(i) if self.tables[i].0 == len => i,
            Some(i) => {
                self.tables.insert(i, (len, HashMap::new()));
                i
            }
            None => {
                self.tables.push((len, HashMap::new()));
                self.tables.len() - 1
            }
        };
        &mut self.tables[i].1
    }

    fn longest(&self, addr: K, mask: impl Fn(K, u8) -> K) -> Option<(u8, &V)> {
        self.tables
            .iter()
            .find_map(|(len, t)| t.get(&mask(addr, *len)).map(|v| (*len, v)))
    }

    fn len(&self) -> usize {
        self.tables.iter().map(|(_, t)| t.len()).sum()
    }
}

fn mask4(a: u32, len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        a & (u32::MAX << (32 - u32::from(len)))
    }
}

fn mask6(a: u128, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        a & (u128::MAX << (128 - u32::from(len)))
    }
}

/// Prefixes with values, longest-prefix match.
#[derive(Debug, Clone)]
pub struct PrefixSet<V> {
    v4: ByLength<u32, V>,
    v6: ByLength<u128, V>,
}

impl<V> Default for PrefixSet<V> {
    fn default() -> Self {
        PrefixSet {
            v4: ByLength::default(),
            v6: ByLength::default(),
        }
    }
}

impl<V> PrefixSet<V> {
    /// Adds a prefix (host bits are ignored); a prefix already present gets the new value.
    pub fn insert(&mut self, net: IpNet, v: V) {
        match net.trunc() {
            IpNet::V4(n) => {
                self.v4
                    .table(n.prefix_len())
                    .insert(u32::from(n.network()), v);
            }
            IpNet::V6(n) => {
                self.v6
                    .table(n.prefix_len())
                    .insert(u128::from(n.network()), v);
            }
        }
    }

    /// The longest prefix containing `addr`, and its value. IPv4-mapped IPv6 addresses
    /// are looked up as IPv4.
    pub fn longest_match(&self, addr: IpAddr) -> Option<(IpNet, &V)> {
        match addr {
            IpAddr::V4(a) => self.lookup4(u32::from(a)),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(a4) => self.lookup4(u32::from(a4)),
                None => {
                    let (len, v) = self.v6.longest(u128::from(a), mask6)?;
                    let net = ipnet::Ipv6Net::new(a, len).ok()?.trunc();
                    Some((IpNet::V6(net), v))
                }
            },
        }
    }

    fn lookup4(&self, a: u32) -> Option<(IpNet, &V)> {
        let (len, v) = self.v4.longest(a, mask4)?;
        let net = ipnet::Ipv4Net::new(a.into(), len).ok()?.trunc();
        Some((IpNet::V4(net), v))
    }

    /// Whether any prefix contains `addr`.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.longest_match(addr).is_some()
    }

    /// Prefixes held.
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_wins_and_families_are_separate() {
        let mut s = PrefixSet::default();
        s.insert("192.0.2.0/24".parse().unwrap(), 1);
        s.insert("192.0.2.128/25".parse().unwrap(), 2);
        s.insert("192.0.2.7/32".parse().unwrap(), 3);
        s.insert("2001:db8::/32".parse().unwrap(), 4);
        s.insert("0.0.0.0/0".parse().unwrap(), 0);
        let m = |a: &str| {
            s.longest_match(a.parse().unwrap())
                .map(|(n, v)| (n.to_string(), *v))
        };
        assert_eq!(m("192.0.2.7"), Some(("192.0.2.7/32".into(), 3)));
        assert_eq!(m("192.0.2.200"), Some(("192.0.2.128/25".into(), 2)));
        assert_eq!(m("192.0.2.8"), Some(("192.0.2.0/24".into(), 1)));
        assert_eq!(m("203.0.113.1"), Some(("0.0.0.0/0".into(), 0)));
        assert_eq!(m("2001:db8:1::1"), Some(("2001:db8::/32".into(), 4)));
        assert_eq!(m("::ffff:192.0.2.7"), Some(("192.0.2.7/32".into(), 3)));
        assert_eq!(m("2001:db9::1"), None);
        assert_eq!(s.len(), 5);
    }

    /// Oracle: a linear scan over random prefixes picks the same longest match.
    #[test]
    fn matches_linear_scan_on_random_prefixes() {
        let mut rnd = levee_testkit::Rng::new(0xdead_beef_cafe_f00d);
        let mut s = PrefixSet::default();
        let mut all: Vec<(IpNet, usize)> = Vec::new();
        for i in 0..2_000 {
            // Concentrate in 192.0.0.0/8 and 2001:db8::/32 so prefixes nest often.
            let net: IpNet = if i % 2 == 0 {
                let a = 0xc000_0000 | (rnd.next_u64() as u32 & 0x00ff_ffff);
                ipnet::Ipv4Net::new(a.into(), 8 + (rnd.next_u64() % 25) as u8)
                    .unwrap()
                    .trunc()
                    .into()
            } else {
                let a = (0x2001_0db8u128 << 96) | (u128::from(rnd.next_u64()) << 32);
                ipnet::Ipv6Net::new(a.into(), 32 + (rnd.next_u64() % 97) as u8)
                    .unwrap()
                    .trunc()
                    .into()
            };
            s.insert(net, i);
            all.retain(|(n, _)| *n != net);
            all.push((net, i));
        }
        for _ in 0..20_000 {
            let addr: IpAddr = if rnd.next_u64().is_multiple_of(2) {
                IpAddr::V4((0xc000_0000 | (rnd.next_u64() as u32 & 0x00ff_ffff)).into())
            } else {
                IpAddr::V6(
                    ((0x2001_0db8u128 << 96)
                        | (u128::from(rnd.next_u64()) << 32)
                        | u128::from(rnd.next_u64() as u32))
                    .into(),
                )
            };
            let naive = all
                .iter()
                .filter(|(n, _)| n.contains(&addr))
                .max_by_key(|(n, _)| n.prefix_len());
            assert_eq!(
                s.longest_match(addr).map(|(n, v)| (n, *v)),
                naive.map(|(n, v)| (*n, *v)),
                "{addr}"
            );
        }
    }
}
