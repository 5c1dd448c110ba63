//! Who may send flows: the `exporters:` allowlist, matched on each datagram's UDP source
//! address (never on the agent address a payload claims), and the bounded count of the
//! strangers it turns away.
//!
//! - With the section, a datagram from a source no entry covers is dropped before it is
//!   decoded (no template or stream state is created for it) and counted: in total, and
//!   per source in a [`Strangers`] top-N, whose memory does not grow however many
//!   addresses a sprayer forges.
//! - Without it, every source is accepted under the global sanity bounds, and levee
//!   warns once at start that anyone who can reach the flow ports can forge traffic.
//!
//! Overlapping prefixes are allowed; the most specific wins (a /32 inside a /24 can carry
//! its own sampling override). Identical prefixes are refused by the config.

use super::settings::{Exporter, IngestBounds};
use ipnet::IpNet;
use levee_flow::SourcePolicy;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// What the allowlist says about one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission<'a> {
    /// Decode it under this policy.
    Accept(&'a SourcePolicy),
    /// Not an allowed exporter: drop it, count it.
    Foreign,
}

/// The allowlist the listeners read, replaceable while they run (by a reload): each
/// listener thread holds its own `Arc` and looks at the generation once per batch of
/// datagrams, so the hot path takes no lock.
#[derive(Debug)]
pub struct LiveAllowlist {
    generation: AtomicU64,
    current: Mutex<Arc<Allowlist>>,
}

impl LiveAllowlist {
    /// Starts with `a`.
    pub fn new(a: Allowlist) -> LiveAllowlist {
        LiveAllowlist {
            generation: AtomicU64::new(0),
            current: Mutex::new(Arc::new(a)),
        }
    }

    /// Replaces the allowlist; listeners pick it up at their next batch.
    pub fn replace(&self, a: Allowlist) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(a);
        self.generation.fetch_add(1, Relaxed);
    }

    /// Bumped by every [`LiveAllowlist::replace`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    /// The allowlist now.
    pub fn current(&self) -> Arc<Allowlist> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The allowed exporters and the policy each is decoded under.
#[derive(Debug, Clone)]
pub struct Allowlist {
    /// Configured entries, most specific prefix first; `None` accepts anyone.
    entries: Option<Vec<(IpNet, SourcePolicy)>>,
    /// Host entries (/32, /128) by address, indexes into `entries`: one lookup per
    /// datagram however many routers are listed, and a host is the most specific match.
    hosts: HashMap<IpAddr, usize>,
    /// Where the prefix entries (shorter than a host) start in `entries`.
    prefixes_from: usize,
    /// The policy of anyone when no section exists.
    open: SourcePolicy,
}

impl Allowlist {
    /// From the `exporters:` entries (`None`: no section) and the global bounds.
    pub fn new(exporters: Option<&[Exporter]>, bounds: &IngestBounds) -> Allowlist {
        let open = SourcePolicy {
            name: None,
            sampling: None,
            interfaces: None,
            max_sampling_rate: bounds.max_sampling_rate,
            max_bps: bounds.max_exporter_bps,
        };
        let entries = exporters.map(|list| {
            let mut v: Vec<(IpNet, SourcePolicy)> = list
                .iter()
                .map(|e| {
                    let policy = SourcePolicy {
                        name: Some(Arc::from(e.name.as_str())),
                        sampling: e.sampling,
                        interfaces: e.interfaces.as_deref().map(Arc::from),
                        max_bps: e.max_bps.unwrap_or(bounds.max_exporter_bps),
                        ..open.clone()
                    };
                    (e.prefix, policy)
                })
                .collect();
            v.sort_by_key(|(p, _)| std::cmp::Reverse(p.prefix_len()));
            v
        });
        let list = entries.as_deref().unwrap_or_default();
        let prefixes_from = list
            .iter()
            .position(|(p, _)| p.prefix_len() < p.max_prefix_len())
            .unwrap_or(list.len());
        let hosts = list[..prefixes_from]
            .iter()
            .enumerate()
            .map(|(i, (p, _))| (p.addr(), i))
            .collect();
        Allowlist {
            entries,
            hosts,
            prefixes_from,
            open,
        }
    }

    /// Whether a section restricts the sources.
    pub fn restricted(&self) -> bool {
        self.entries.is_some()
    }

    /// The admission of a datagram from `source` (IPv4-mapped IPv6 read as IPv4).
    pub fn admit(&self, source: IpAddr) -> Admission<'_> {
        let source = source.to_canonical();
        let Some(list) = &self.entries else {
            return Admission::Accept(&self.open);
        };
        let found = match self.hosts.get(&source) {
            Some(&i) => list.get(i),
            None => list[self.prefixes_from..]
                .iter()
                .find(|(p, _)| p.contains(&source)),
        };
        found.map_or(Admission::Foreign, |(_, policy)| Admission::Accept(policy))
    }
}

/// The sources sending the most foreign datagrams, counted with the space-saving
/// algorithm (Metwally et al., 2005): at most `capacity` sources are held; a newcomer
/// replaces the one with the lowest count and inherits that count plus one, so a heavy
/// sender is never pushed out by a spray of one-datagram forgeries, and every count is
/// an upper bound over-estimated by at most the count it inherited.
#[derive(Debug, Clone, Default)]
pub struct Strangers {
    capacity: usize,
    counts: HashMap<IpAddr, u64>,
    /// Foreign datagrams in all.
    pub total: u64,
}

impl Strangers {
    /// Holds at most `capacity` sources.
    pub fn new(capacity: usize) -> Strangers {
        Strangers {
            capacity,
            counts: HashMap::with_capacity(capacity + 1),
            total: 0,
        }
    }

    /// Counts one datagram from `source`.
    pub fn count(&mut self, source: IpAddr) {
        self.total += 1;
        if let Some(n) = self.counts.get_mut(&source) {
            *n += 1;
            return;
        }
        if self.counts.len() < self.capacity {
            self.counts.insert(source, 1);
            return;
        }
        let Some((&low, &n)) = self.counts.iter().min_by_key(|(_, n)| **n) else {
            return;
        };
        self.counts.remove(&low);
        self.counts.insert(source, n + 1);
    }

    /// The sources held, most datagrams first.
    pub fn top(&self) -> Vec<(IpAddr, u64)> {
        let mut v: Vec<(IpAddr, u64)> = self.counts.iter().map(|(a, n)| (*a, *n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exporter(name: &str, prefix: &str, sampling: Option<u32>) -> Exporter {
        Exporter {
            name: name.into(),
            prefix: prefix.parse().unwrap(),
            sampling: sampling.and_then(std::num::NonZeroU32::new),
            interfaces: None,
            max_bps: None,
        }
    }

    fn name(a: Admission<'_>) -> Option<&str> {
        match a {
            Admission::Accept(p) => p.name.as_deref(),
            Admission::Foreign => Some("foreign"),
        }
    }

    #[test]
    fn the_most_specific_prefix_wins_and_strangers_are_foreign() {
        let list = [
            exporter("pop", "192.0.2.0/24", None),
            exporter("edge1", "192.0.2.1/32", Some(1000)),
        ];
        let a = Allowlist::new(Some(&list), &IngestBounds::default());
        assert_eq!(name(a.admit("192.0.2.1".parse().unwrap())), Some("edge1"));
        let v6 = [exporter("v6", "2001:db8::1/128", None)];
        let b = Allowlist::new(Some(&v6), &IngestBounds::default());
        assert_eq!(name(b.admit("2001:db8::1".parse().unwrap())), Some("v6"));
        assert_eq!(
            name(b.admit("2001:db8::2".parse().unwrap())),
            Some("foreign")
        );
        assert_eq!(name(a.admit("192.0.2.2".parse().unwrap())), Some("pop"));
        // A dual-stack socket reports IPv4 sources mapped into IPv6.
        assert_eq!(
            name(a.admit("::ffff:192.0.2.1".parse().unwrap())),
            Some("edge1")
        );
        assert_eq!(
            name(a.admit("203.0.113.9".parse().unwrap())),
            Some("foreign")
        );
        let open = Allowlist::new(None, &IngestBounds::default());
        assert_eq!(name(open.admit("203.0.113.9".parse().unwrap())), None);
        assert!(!open.restricted());
    }

    #[test]
    fn a_spray_of_strangers_does_not_push_out_the_heavy_one() {
        // Space-saving keeps any source above total / capacity: 1,000 > 11,000 / 16.
        let mut s = Strangers::new(16);
        let heavy: IpAddr = "203.0.113.1".parse().unwrap();
        for _ in 0..1_000 {
            s.count(heavy);
        }
        for i in 0..10_000u32 {
            s.count(IpAddr::V4(std::net::Ipv4Addr::from(0xc612_0000 + i)));
        }
        let top = s.top();
        assert_eq!(top.len(), 16, "bounded");
        assert_eq!(top[0], (heavy, 1_000));
        assert_eq!(s.total, 11_000);
    }
}
