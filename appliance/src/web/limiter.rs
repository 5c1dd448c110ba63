//! Login attempts per source, sans-IO (time comes in as an argument): a token bucket
//! per source address (IPv6 by its /64, since one host holds a whole /64), of
//! [`BURST`] attempts refilled one every [`REFILL_US`].
//!
//! The table is bounded ([`MAX_SOURCES`]). When it is full, a source whose bucket has
//! refilled completely is forgotten first (it is as if it had never tried); if none
//! has, the newcomer shares one overflow bucket with every other newcomer. So a
//! stranger spraying from many addresses cannot push a throttled source out of the
//! table to reset its limit, and cannot earn more attempts than the table plus the
//! overflow bucket allow; sources already known keep their own buckets.

use std::collections::HashMap;
use std::net::IpAddr;

/// Attempts a source may make at once.
pub const BURST: u32 = 5;
/// One more attempt per this long (µs): 5 a minute, sustained.
pub const REFILL_US: u64 = 12_000_000;
/// Sources tracked.
pub const MAX_SOURCES: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: u32,
    /// When the bucket was last refilled (µs).
    at_us: u64,
}

impl Bucket {
    fn full(now: u64) -> Bucket {
        Bucket {
            tokens: BURST,
            at_us: now,
        }
    }

    fn refill(&mut self, now: u64) {
        let earned = now.saturating_sub(self.at_us) / REFILL_US;
        if earned > 0 {
            self.tokens = (u64::from(self.tokens) + earned).min(u64::from(BURST)) as u32;
            self.at_us += earned * REFILL_US;
        }
        if self.tokens == BURST {
            self.at_us = now;
        }
    }

    fn take(&mut self, now: u64) -> bool {
        self.refill(now);
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

/// The per-source login limiter.
#[derive(Debug)]
pub struct Limiter {
    buckets: HashMap<IpAddr, Bucket>,
    overflow: Bucket,
    max: usize,
}

/// The key of a source: an IPv4 address, or an IPv6 address's /64.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

impl Limiter {
    /// An empty limiter.
    pub fn new() -> Limiter {
        Limiter::with_capacity(MAX_SOURCES)
    }

    /// An empty limiter tracking at most `max` sources.
    pub fn with_capacity(max: usize) -> Limiter {
        Limiter {
            buckets: HashMap::new(),
            overflow: Bucket::full(0),
            max,
        }
    }

    /// Sources tracked now.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Whether `ip` may try a login at `now` (µs); the attempt is counted if so.
    pub fn allow(&mut self, now: u64, ip: IpAddr) -> bool {
        let k = key(ip);
        if let Some(b) = self.buckets.get_mut(&k) {
            return b.take(now);
        }
        if self.buckets.len() >= self.max {
            self.buckets.retain(|_, b| {
                b.refill(now);
                b.tokens < BURST
            });
        }
        if self.buckets.len() >= self.max {
            return self.overflow.take(now);
        }
        let mut b = Bucket::full(now);
        let ok = b.take(now);
        self.buckets.insert(k, b);
        ok
    }
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_source_gets_its_burst_then_one_per_refill() {
        let mut l = Limiter::new();
        let a = ip("192.0.2.1");
        for _ in 0..BURST {
            assert!(l.allow(0, a));
        }
        assert!(!l.allow(0, a));
        assert!(!l.allow(REFILL_US - 1, a));
        assert!(l.allow(REFILL_US, a));
        assert!(!l.allow(REFILL_US, a));
        // Another source is not affected.
        assert!(l.allow(REFILL_US, ip("192.0.2.2")));
    }

    #[test]
    fn an_ipv6_slash_64_is_one_source() {
        let mut l = Limiter::new();
        for i in 0..BURST {
            assert!(l.allow(0, ip(&format!("2001:db8::{:x}", i + 1))));
        }
        assert!(!l.allow(0, ip("2001:db8::ffff")));
        assert!(l.allow(0, ip("2001:db8:0:1::1")));
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn a_spray_of_sources_cannot_evict_a_throttled_one() {
        let mut l = Limiter::with_capacity(8);
        let victim = ip("198.51.100.1");
        for _ in 0..BURST {
            assert!(l.allow(0, victim));
        }
        assert!(!l.allow(0, victim));
        // 10,000 new sources, each trying once: the table stays bounded, the overflow
        // bucket admits only its burst.
        let mut admitted = 0;
        for i in 0..10_000u32 {
            let src = IpAddr::from(std::net::Ipv4Addr::from(0xcb00_7100 + i));
            admitted += u32::from(l.allow(1, src));
        }
        assert_eq!(l.len(), 8);
        assert_eq!(admitted, 7 + BURST);
        assert!(!l.allow(1, victim), "still throttled");
        // Sources whose buckets refilled are forgotten first.
        let later = 1 + BURST as u64 * REFILL_US;
        assert!(l.allow(later, ip("192.0.2.99")));
        assert!(l.len() <= 8);
    }
}
