//! The safelist on every automatic path: a route whose destination covers a
//! safelisted address is narrowed where FlowSpec can express it (the destination split
//! into the prefixes around the safelisted ones), and refused where it cannot (a
//! unicast route: RTBH or a scrubbing diversion more specific than planned would be
//! filtered upstream or blackhole the wrong thing).

//!
//! [`Safelist`] indexes the configured prefixes as merged, sorted address ranges per
//! family: whether a destination overlaps the safelist, and which safelisted ranges a
//! rule must be narrowed around, are binary searches, so a safelist of hundreds of
//! thousands of entries costs microseconds per check, not a scan.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use levee_bgp::flowspec::{Component, Prefix};
use levee_bgp::rib::{Nlri, RouteText};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The most rules one narrowed rule may become (a /24 around one /32 needs 8).
pub const MAX_PIECES: usize = 32;

/// An inclusive address range of one family (IPv4 addresses widened to `u128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Range {
    start: u128,
    end: u128,
}

fn range(n: &IpNet) -> Range {
    match n {
        IpNet::V4(n) => Range {
            start: u32::from(n.network()).into(),
            end: u32::from(n.broadcast()).into(),
        },
        IpNet::V6(n) => Range {
            start: u128::from(n.network()),
            end: u128::from(n.broadcast()),
        },
    }
}

/// The largest prefix of the family (`v6`) that starts at `r.start` and fits in `r`.
fn first_prefix(r: Range, v6: bool) -> IpNet {
    let bits: u32 = if v6 { 128 } else { 32 };
    let mut len = bits - r.start.trailing_zeros().min(bits);
    loop {
        let size_minus_one = if bits - len >= 128 {
            u128::MAX
        } else {
            (1u128 << (bits - len)) - 1
        };
        if r.start
            .checked_add(size_minus_one)
            .is_some_and(|e| e <= r.end)
        {
            break;
        }
        len += 1;
    }
    let len = len as u8;
    if v6 {
        IpNet::V6(Ipv6Net::new(Ipv6Addr::from(r.start), len).expect("length within 128"))
    } else {
        let a = Ipv4Addr::from(r.start as u32);
        IpNet::V4(Ipv4Net::new(a, len).expect("length within 32"))
    }
}

/// The safelist as merged, sorted ranges per family, for logarithmic lookups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Safelist {
    v4: Vec<Range>,
    v6: Vec<Range>,
}

impl Safelist {
    /// The index of `nets` (overlapping and adjacent prefixes merge).
    pub fn new(nets: &[IpNet]) -> Safelist {
        let merged = |v6: bool| {
            let mut rs: Vec<Range> = nets
                .iter()
                .filter(|n| matches!(n, IpNet::V6(_)) == v6)
                .map(range)
                .collect();
            rs.sort_unstable();
            let mut out: Vec<Range> = Vec::with_capacity(rs.len());
            for r in rs {
                match out.last_mut() {
                    Some(last) if r.start <= last.end.saturating_add(1) => {
                        last.end = last.end.max(r.end);
                    }
                    _ => out.push(r),
                }
            }
            out
        };
        Safelist {
            v4: merged(false),
            v6: merged(true),
        }
    }

    /// Whether nothing is safelisted.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// The first safelisted prefix (what a rule without a destination is refused for).
    pub fn first(&self) -> Option<IpNet> {
        match (self.v4.first(), self.v6.first()) {
            (Some(r), _) => Some(first_prefix(*r, false)),
            (None, Some(r)) => Some(first_prefix(*r, true)),
            (None, None) => None,
        }
    }

    fn family(&self, p: &IpNet) -> (&[Range], bool) {
        match p {
            IpNet::V4(_) => (&self.v4, false),
            IpNet::V6(_) => (&self.v6, true),
        }
    }

    /// Whether every address of `p` is safelisted.
    pub fn covers(&self, p: &IpNet) -> bool {
        let (rs, _) = self.family(p);
        let want = range(p);
        let i = rs.partition_point(|r| r.start <= want.start);
        i > 0 && rs[i - 1].end >= want.end
    }

    /// Whether any address of `p` is safelisted.
    pub fn overlaps(&self, p: &IpNet) -> bool {
        !self.overlapping(p, 1).is_empty()
    }

    /// Up to `limit` of the safelisted ranges that overlap `p`, in address order.
    fn overlapping(&self, p: &IpNet, limit: usize) -> Vec<Range> {
        let (rs, _) = self.family(p);
        let want = range(p);
        let i = rs.partition_point(|r| r.end < want.start);
        rs[i..]
            .iter()
            .take_while(|r| r.start <= want.end)
            .take(limit)
            .copied()
            .collect()
    }

    /// A safelisted prefix inside or around `p` (for messages), if any.
    pub fn overlap_example(&self, p: &IpNet) -> Option<IpNet> {
        let (_, v6) = self.family(p);
        let r = *self.overlapping(p, 1).first()?;
        let want = range(p);
        // The part of the range that lies in `p`.
        let clipped = Range {
            start: r.start.max(want.start),
            end: r.end.min(want.end),
        };
        Some(first_prefix(clipped, v6))
    }
}

/// `net` without the `holes`: the fewest prefixes that cover the rest, or `None` when
/// that takes more than [`MAX_PIECES`].
pub fn subtract(net: IpNet, holes: &[IpNet]) -> Option<Vec<IpNet>> {
    let ranges: Vec<Range> = holes.iter().map(range).collect();
    subtract_ranges(net, &ranges)
}

fn subtract_ranges(net: IpNet, holes: &[Range]) -> Option<Vec<IpNet>> {
    let mut out = Vec::new();
    let mut todo = vec![net];
    while let Some(n) = todo.pop() {
        let r = range(&n);
        if holes.iter().any(|h| h.start <= r.start && r.end <= h.end) {
            continue;
        }
        if !holes.iter().any(|h| h.start <= r.end && r.start <= h.end) {
            out.push(n);
        } else {
            // A hole lies partly inside: split in halves (a hole partly inside means n
            // is not a host route, so the halves exist).
            todo.extend(n.subnets(n.prefix_len() + 1).ok()?);
        }
        if out.len() + todo.len() > MAX_PIECES {
            return None;
        }
    }
    out.sort();
    Some(out)
}

/// `route` made to avoid `safelist`: itself when its destination overlaps nothing
/// safelisted; FlowSpec rules split around what they would cover; `Err` with a
/// safelisted prefix it covers when that cannot be done.
pub fn narrow(route: RouteText, safelist: &Safelist) -> Result<Vec<RouteText>, IpNet> {
    let Some(dst) = super::engine::destination(&route.nlri) else {
        // A rule without a destination matches every address.
        return match safelist.first() {
            Some(s) => Err(s),
            None => Ok(vec![route]),
        };
    };
    let Some(first) = safelist.overlap_example(&dst) else {
        return Ok(vec![route]);
    };
    let Nlri::Flow(rule) = &route.nlri else {
        return Err(first);
    };
    // k disjoint, non-adjacent ranges leave at least k - 1 gaps inside `dst`, each
    // needing a piece of its own: more than MAX_PIECES + 1 cannot be expressed.
    let holes = safelist.overlapping(&dst, MAX_PIECES + 2);
    if holes.len() > MAX_PIECES + 1 {
        return Err(first);
    }
    let pieces = subtract_ranges(dst, &holes).ok_or(first)?;
    if pieces.is_empty() {
        return Err(first);
    }
    Ok(pieces
        .into_iter()
        .map(|p| {
            let mut r = rule.clone();
            for c in &mut r.components {
                if let Component::DestinationPrefix(d) = c {
                    *d = Prefix {
                        addr: p.network(),
                        len: p.prefix_len(),
                        offset: 0,
                    };
                }
            }
            RouteText {
                nlri: Nlri::Flow(r),
                attrs: route.attrs.clone(),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn subtraction_leaves_the_fewest_prefixes_around_the_holes() {
        let got = subtract("192.0.2.0/24".parse().unwrap(), &nets(&["192.0.2.53/32"])).unwrap();
        assert_eq!(got.len(), 8);
        assert!(
            got.iter()
                .all(|p| !p.contains(&"192.0.2.53".parse::<std::net::IpAddr>().unwrap()))
        );
        let covered: u32 = got.iter().map(|p| 1u32 << (32 - p.prefix_len())).sum();
        assert_eq!(covered, 255);
        assert_eq!(
            subtract("192.0.2.0/24".parse().unwrap(), &nets(&["192.0.2.0/23"])).unwrap(),
            Vec::<IpNet>::new()
        );
        assert_eq!(
            subtract("192.0.2.0/24".parse().unwrap(), &nets(&["198.51.100.0/24"])).unwrap(),
            nets(&["192.0.2.0/24"])
        );
        // Too many holes to express: refused.
        let many: Vec<String> = (0..40).map(|i| format!("192.0.2.{}/32", i * 6)).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(
            subtract("192.0.2.0/24".parse().unwrap(), &nets(&many)),
            None
        );
    }

    #[test]
    fn flowspec_is_narrowed_and_unicast_refused() {
        let list = nets(&["192.0.2.53/32"]);
        let safelist = Safelist::new(&list);
        let rule: RouteText = "flow destination 192.0.2.0/24 protocol udp then discard"
            .parse()
            .unwrap();
        let narrowed = narrow(rule, &safelist).unwrap();
        assert_eq!(narrowed.len(), 8);
        for r in &narrowed {
            let d = super::super::engine::destination(&r.nlri).unwrap();
            assert!(!d.contains(&list[0]) && !list[0].contains(&d), "{r}");
            assert!(r.to_string().contains("protocol"), "{r}");
        }
        let rtbh: RouteText = "route 192.0.2.0/24 community 65535:666".parse().unwrap();
        assert_eq!(narrow(rtbh, &safelist), Err(list[0]));
        let elsewhere: RouteText = "route 198.51.100.0/24".parse().unwrap();
        assert_eq!(narrow(elsewhere.clone(), &safelist), Ok(vec![elsewhere]));
    }

    /// 250,000 entries (every other /32 of 198.18.0.0/15, all-disjoint, the worst case
    /// for merging) load, answer lookups by binary search, and narrowing still stays
    /// within MAX_PIECES or is refused.
    #[test]
    fn a_250k_entry_safelist_loads_and_narrows() {
        let base = u32::from(Ipv4Addr::new(198, 18, 0, 0));
        let list: Vec<IpNet> = (0..250_000u32)
            .map(|i| IpNet::from(std::net::IpAddr::V4(Ipv4Addr::from(base + 2 * i))))
            .collect();
        let s = Safelist::new(&list);
        assert_eq!(s.v4.len(), 250_000);
        let net = |t: &str| t.parse::<IpNet>().unwrap();
        assert!(s.covers(&net("198.18.0.0/32")));
        assert!(!s.covers(&net("198.18.0.1/32")));
        assert!(s.overlaps(&net("198.19.0.0/24")));
        assert!(!s.overlaps(&net("198.19.255.255/32")));
        assert!(!s.overlaps(&net("192.0.2.0/24")));
        assert!(s.covers(&net("198.18.255.254/32")));
        // A /24 with 128 holes cannot be expressed in 32 pieces: refused, naming one.
        let rule: RouteText = "flow destination 198.18.1.0/24 protocol udp then discard"
            .parse()
            .unwrap();
        assert_eq!(narrow(rule, &s), Err(net("198.18.1.0/32")));
        // A /29 with 4 holes becomes 4 host rules.
        let rule: RouteText = "flow destination 198.18.1.0/29 protocol udp then discard"
            .parse()
            .unwrap();
        let pieces = narrow(rule, &s).unwrap();
        assert_eq!(pieces.len(), 4);
        assert!(pieces.len() <= MAX_PIECES);
        // Outside the safelist the route passes untouched.
        let rule: RouteText = "flow destination 192.0.2.0/24 then discard"
            .parse()
            .unwrap();
        assert_eq!(narrow(rule.clone(), &s), Ok(vec![rule]));
    }

    /// Adjacent and nested entries merge: a /24 given as its 256 hosts is one range,
    /// and a rule for a /23 around it is narrowed to the other /24.
    #[test]
    fn adjacent_entries_merge() {
        let list: Vec<IpNet> = (0..=255u8)
            .map(|i| format!("192.0.2.{i}/32").parse().unwrap())
            .chain(nets(&["192.0.2.64/26"]))
            .collect();
        let s = Safelist::new(&list);
        assert_eq!(s.v4.len(), 1);
        assert!(s.covers(&"192.0.2.0/24".parse().unwrap()));
        assert_eq!(s.first(), Some("192.0.2.0/24".parse().unwrap()));
        let rule: RouteText = "flow destination 192.0.2.0/23 then discard"
            .parse()
            .unwrap();
        let got: Vec<String> = narrow(rule, &s)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(got, ["flow destination 192.0.3.0/24 then discard"]);
        let v6 = Safelist::new(&nets(&["2001:db8::/127", "2001:db8::2/127"]));
        assert_eq!(v6.first(), Some("2001:db8::/126".parse().unwrap()));
        assert!(!v6.overlaps(&"192.0.2.0/24".parse().unwrap()));
    }
}
