//! Which protected network an address belongs to: longest-prefix match over the
//! configured prefixes, flattened at build time into sorted, disjoint address ranges, so
//! a lookup is one binary search (the per-record hot path) instead of a probe per prefix
//! length.

use ipnet::IpNet;
use std::net::IpAddr;

/// (first, last, value) ranges per family, sorted and disjoint.
#[derive(Debug, Clone, Default)]
pub struct NetMatcher {
    v4: Vec<(u128, u128, u16)>,
    v6: Vec<(u128, u128, u16)>,
}

impl NetMatcher {
    /// Builds the matcher. Where prefixes nest, the longer one wins for the addresses it
    /// covers; where the same prefix is given twice, the first value wins.
    pub fn new(prefixes: &[(IpNet, u16)]) -> Self {
        let range = |n: &IpNet| -> (u128, u128) {
            match n.trunc() {
                IpNet::V4(n) => (
                    u128::from(u32::from(n.network())),
                    u128::from(u32::from(n.broadcast())),
                ),
                IpNet::V6(n) => (
                    u128::from(n.network()),
                    u128::from(n.network())
                        | u128::MAX
                            .checked_shr(u32::from(n.prefix_len()))
                            .unwrap_or(0),
                ),
            }
        };
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for (n, v) in prefixes {
            let (a, b) = range(n);
            match n {
                IpNet::V4(_) => v4.push((a, b, *v)),
                IpNet::V6(_) => v6.push((a, b, *v)),
            }
        }
        NetMatcher {
            v4: flatten(v4),
            v6: flatten(v6),
        }
    }

    /// The value of the longest prefix holding `addr`.
    pub fn get(&self, addr: IpAddr) -> Option<u16> {
        let (table, key) = match addr {
            IpAddr::V4(a) => (&self.v4, u128::from(u32::from(a))),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(a) => (&self.v4, u128::from(u32::from(a))),
                None => (&self.v6, u128::from(a)),
            },
        };
        let i = table.partition_point(|r| r.0 <= key);
        let r = table.get(i.checked_sub(1)?)?;
        (key <= r.1).then_some(r.2)
    }
}

/// Turns nested or disjoint ranges (prefixes never overlap partially) into disjoint
/// ranges labelled with the innermost value.
fn flatten(mut ranges: Vec<(u128, u128, u16)>) -> Vec<(u128, u128, u16)> {
    // Outer ranges first at equal starts; equal ranges keep their given order.
    ranges.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    ranges.dedup_by(|b, a| a.0 == b.0 && a.1 == b.1);
    let mut out: Vec<(u128, u128, u16)> = Vec::new();
    let mut stack: Vec<(u128, u16)> = Vec::new();
    // Next address not yet emitted (None once u128::MAX has been emitted).
    let mut cursor: Option<u128> = Some(0);
    let emit = |out: &mut Vec<_>, cursor: &mut Option<u128>, last: u128, v: u16| {
        if let Some(c) = *cursor
            && c <= last
        {
            out.push((c, last, v));
            *cursor = last.checked_add(1);
        }
    };
    for (start, end, v) in ranges {
        while let Some(&(top_end, top_v)) = stack.last() {
            if top_end >= start {
                break;
            }
            emit(&mut out, &mut cursor, top_end, top_v);
            stack.pop();
        }
        if let Some(&(_, top_v)) = stack.last()
            && start > 0
        {
            emit(&mut out, &mut cursor, start - 1, top_v);
        }
        cursor = Some(start);
        stack.push((end, v));
    }
    while let Some((end, v)) = stack.pop() {
        emit(&mut out, &mut cursor, end, v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Oracle: a naive longest-prefix match over random nested prefixes.
    #[test]
    fn matches_naive_longest_prefix() {
        let mut rnd = levee_testkit::Rng::new(11);
        for _ in 0..50 {
            let mut prefixes: Vec<(IpNet, u16)> = Vec::new();
            for i in 0..(1 + rnd.next_u64() % 12) {
                // Addresses in a small space so prefixes nest often.
                let a = std::net::Ipv4Addr::from(0xc000_0200u32 | (rnd.next_u64() as u32 & 0xff));
                let len = 24 + (rnd.next_u64() % 9) as u8;
                prefixes.push((IpNet::new(a.into(), len).unwrap().trunc(), i as u16));
                let b = format!("2001:db8::{:x}", rnd.next_u64() & 0xff)
                    .parse()
                    .unwrap();
                let len6 = 120 + (rnd.next_u64() % 9) as u8;
                prefixes.push((IpNet::new(b, len6).unwrap().trunc(), 100 + i as u16));
            }
            let m = NetMatcher::new(&prefixes);
            for x in 0..=0x1ffu32 {
                for addr in [
                    IpAddr::from(std::net::Ipv4Addr::from(0xc000_0200u32 - 0x100 + x)),
                    format!("2001:db8::{x:x}").parse().unwrap(),
                ] {
                    let naive = prefixes
                        .iter()
                        .filter(|(n, _)| n.contains(&addr))
                        .max_by(|a, b| a.0.prefix_len().cmp(&b.0.prefix_len()).then(b.1.cmp(&a.1)))
                        .map(|p| p.1);
                    assert_eq!(m.get(addr), naive, "{addr} in {prefixes:?}");
                }
            }
        }
    }

    #[test]
    fn whole_spaces_and_mapped_addresses() {
        let m = NetMatcher::new(&[
            ("0.0.0.0/0".parse().unwrap(), 1),
            ("::/0".parse().unwrap(), 2),
            ("198.51.100.0/24".parse().unwrap(), 3),
            (
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120"
                    .parse()
                    .unwrap(),
                4,
            ),
        ]);
        assert_eq!(m.get("255.255.255.255".parse().unwrap()), Some(1));
        assert_eq!(m.get("198.51.100.7".parse().unwrap()), Some(3));
        assert_eq!(m.get("::ffff:198.51.100.7".parse().unwrap()), Some(3));
        assert_eq!(m.get("2001:db8::1".parse().unwrap()), Some(2));
        assert_eq!(
            m.get("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap()),
            Some(4)
        );
        assert_eq!(NetMatcher::new(&[]).get("192.0.2.1".parse().unwrap()), None);
    }
}
