//! The safelist on every automatic path: a route whose destination covers a
//! safelisted address is narrowed where FlowSpec can express it (the destination split
//! into the prefixes around the safelisted ones), and refused where it cannot (a
//! unicast route: RTBH or a scrubbing diversion more specific than planned would be
//! filtered upstream or blackhole the wrong thing).

use ipnet::IpNet;
use levee_bgp::flowspec::{Component, Prefix};
use levee_bgp::rib::{Nlri, RouteText};

/// The most rules one narrowed rule may become (a /24 around one /32 needs 8).
pub const MAX_PIECES: usize = 32;

/// `net` without the `holes`: the fewest prefixes that cover the rest, or `None` when
/// that takes more than [`MAX_PIECES`].
pub fn subtract(net: IpNet, holes: &[IpNet]) -> Option<Vec<IpNet>> {
    let mut out = Vec::new();
    let mut todo = vec![net];
    while let Some(n) = todo.pop() {
        if holes.iter().any(|h| h.contains(&n)) {
            continue;
        }
        if !holes.iter().any(|h| n.contains(h)) {
            out.push(n);
        } else {
            // A hole lies strictly inside: split in halves (a hole inside means n is
            // not a host route, so the halves exist).
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
/// safelisted; FlowSpec rules split around what they would cover; `Err` with the
/// safelisted prefix when that cannot be done.
pub fn narrow(route: RouteText, safelist: &[IpNet]) -> Result<Vec<RouteText>, IpNet> {
    let Some(dst) = super::engine::destination(&route.nlri) else {
        // A rule without a destination matches every address.
        return match safelist.first() {
            Some(s) => Err(*s),
            None => Ok(vec![route]),
        };
    };
    let holes: Vec<IpNet> = safelist
        .iter()
        .filter(|s| s.contains(&dst) || dst.contains(*s))
        .copied()
        .collect();
    let Some(&first) = holes.first() else {
        return Ok(vec![route]);
    };
    let Nlri::Flow(rule) = &route.nlri else {
        return Err(first);
    };
    let pieces = subtract(dst, &holes).ok_or(first)?;
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
        let safelist = nets(&["192.0.2.53/32"]);
        let rule: RouteText = "flow destination 192.0.2.0/24 protocol udp then discard"
            .parse()
            .unwrap();
        let narrowed = narrow(rule, &safelist).unwrap();
        assert_eq!(narrowed.len(), 8);
        for r in &narrowed {
            let d = super::super::engine::destination(&r.nlri).unwrap();
            assert!(
                !d.contains(&safelist[0]) && !safelist[0].contains(&d),
                "{r}"
            );
            assert!(r.to_string().contains("protocol"), "{r}");
        }
        let rtbh: RouteText = "route 192.0.2.0/24 community 65535:666".parse().unwrap();
        assert_eq!(narrow(rtbh, &safelist), Err(safelist[0]));
        let elsewhere: RouteText = "route 198.51.100.0/24".parse().unwrap();
        assert_eq!(narrow(elsewhere.clone(), &safelist), Ok(vec![elsewhere]));
    }
}
