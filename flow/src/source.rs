//! What a datagram's UDP source is trusted with: the per-exporter checks applied to the
//! records it yields, before anyone counts them.
//!
//! A flow record's counters are the exporter's word. A forged datagram claiming a
//! sampling rate of 1,000,000 turns 100 kbit/s of samples into "100 Gbit/s"; one forged
//! NetFlow v5 record can claim any byte count. [`SourcePolicy`] is what the operator
//! believes about one source (or, by default, about anyone):
//! - `sampling`: a rate that replaces whatever the datagram says (exporters that lie
//!   about it or omit it);
//! - `interfaces`: the input ifIndexes whose records count (traffic seen by two routers
//!   is counted once); others are discarded;
//! - `max_sampling_rate`: a record claiming a sparser sampling is discarded (unless
//!   `sampling` overrides it);
//! - `max_bps`: a per-second budget of scaled bits (and `max_bps / 512` packets, the rate
//!   of minimum-size frames); records beyond it in the current second are discarded.
//!
//! Every discard is counted per exporter by reason ([`Discards`]). The budget is spent
//! first come, first served: without authentication, a forger of a listed source's
//! address can spend it before the real exporter; the `rate` count (and the listener's
//! warning) is how that shows.

use crate::record::FlowRecord;
use std::num::NonZeroU32;
use std::sync::Arc;

/// Bits of the smallest frame: a budget of `b` bit/s allows `b / 512` packets/s.
pub const MIN_FRAME_BITS: u64 = 512;

/// What one source address is trusted with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePolicy {
    /// The configured exporter's name; `None` for a source nobody configured. Named
    /// sources' streams count against their exporter's quota and are never evicted by
    /// strangers; their counters are never evicted.
    pub name: Option<Arc<str>>,
    /// Sampling rate that replaces the datagram's.
    pub sampling: Option<NonZeroU32>,
    /// Input interfaces whose records count; `None` counts all.
    pub interfaces: Option<Arc<[u32]>>,
    /// The largest believable sampling rate (N of 1:N).
    pub max_sampling_rate: u32,
    /// The most this source can truthfully report, in bits per second.
    pub max_bps: u64,
}

impl SourcePolicy {
    /// Believes everything (offline decoding of captures).
    pub fn trusting() -> Self {
        SourcePolicy {
            name: None,
            sampling: None,
            interfaces: None,
            max_sampling_rate: u32::MAX,
            max_bps: u64::MAX,
        }
    }

    /// A configured source.
    pub fn configured(&self) -> bool {
        self.name.is_some()
    }

    /// Applies the policy to one record: rescales it when sampling is overridden, and
    /// says why it is discarded, if it is. `budget` is the source's spending in the
    /// current second.
    pub(crate) fn check(&self, r: &mut FlowRecord, budget: &mut Budget) -> Option<Reason> {
        if let Some(list) = &self.interfaces
            && !r.in_if.is_some_and(|i| list.contains(&i))
        {
            return Some(Reason::Interface);
        }
        match self.sampling {
            Some(n) => {
                let rate = u64::from(r.sampling_rate.max(1));
                r.set_scaled(n.get(), r.packets / rate, r.bytes / rate);
            }
            None if r.sampling_rate > self.max_sampling_rate => return Some(Reason::Sampling),
            None => {}
        }
        (!budget.spend(r, self.max_bps)).then_some(Reason::Rate)
    }
}

/// Why a record was discarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    Interface,
    Sampling,
    Rate,
}

/// Records discarded per reason, for one exporter or all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Discards {
    /// Input interface not listed.
    pub interface: u64,
    /// Sampling rate above the believable maximum.
    pub sampling: u64,
    /// Beyond the source's per-second budget (`max_rate`).
    pub rate: u64,
}

impl Discards {
    pub(crate) fn count(&mut self, reason: Reason) {
        match reason {
            Reason::Interface => self.interface += 1,
            Reason::Sampling => self.sampling += 1,
            Reason::Rate => self.rate += 1,
        }
    }

    /// All of them.
    pub fn total(&self) -> u64 {
        self.interface + self.sampling + self.rate
    }

    /// `(reason, count)` pairs, for metrics and summaries.
    pub fn named(&self) -> [(&'static str, u64); 3] {
        [
            ("interface", self.interface),
            ("sampling", self.sampling),
            ("rate", self.rate),
        ]
    }
}

/// A source's spending in one second of receive time.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Budget {
    second: u64,
    bits: u64,
    packets: u64,
}

impl Budget {
    /// Whether `r` fits in what is left of `max_bps` this second; if so, it is spent.
    fn spend(&mut self, r: &FlowRecord, max_bps: u64) -> bool {
        let second = r.time_us / 1_000_000;
        if second != self.second {
            *self = Budget {
                second,
                ..Budget::default()
            };
        }
        let bits = self.bits.saturating_add(r.bytes.saturating_mul(8));
        let packets = self.packets.saturating_add(r.packets);
        if bits > max_bps || packets > max_bps / MIN_FRAME_BITS {
            return false;
        }
        (self.bits, self.packets) = (bits, packets);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::FlowType;
    use std::net::{IpAddr, Ipv4Addr};

    fn rec(t: u64, rate: u32, packets: u64, bytes: u64, in_if: Option<u32>) -> FlowRecord {
        let mut r = FlowRecord::blank(t, IpAddr::V4(Ipv4Addr::LOCALHOST), FlowType::Sflow);
        r.set_scaled(rate, packets, bytes);
        r.in_if = in_if;
        r
    }

    fn policy() -> SourcePolicy {
        SourcePolicy {
            max_sampling_rate: 100_000,
            max_bps: 8_000_000, // 1 MB/s, 15,625 packets/s
            ..SourcePolicy::trusting()
        }
    }

    #[test]
    fn implausible_sampling_is_discarded_unless_overridden() {
        let mut b = Budget::default();
        let p = policy();
        let mut r = rec(0, 1_000_000, 1, 100, None);
        assert_eq!(p.check(&mut r, &mut b), Some(Reason::Sampling));
        let p = SourcePolicy {
            sampling: NonZeroU32::new(10),
            ..policy()
        };
        assert_eq!(p.check(&mut r, &mut b), None);
        assert_eq!((r.sampling_rate, r.packets, r.bytes), (10, 10, 1000));
    }

    #[test]
    fn the_budget_is_per_second_of_receive_time() {
        let mut b = Budget::default();
        let p = policy();
        // 600 kB fits, another 600 kB in the same second does not, the next second does.
        assert_eq!(p.check(&mut rec(5, 1, 1, 600_000, None), &mut b), None);
        let again = p.check(&mut rec(999_999, 1, 1, 600_000, None), &mut b);
        assert_eq!(again, Some(Reason::Rate));
        assert_eq!(
            p.check(&mut rec(1_000_000, 1, 1, 600_000, None), &mut b),
            None
        );
        // Packets count too: 20,000 tiny packets exceed 15,625 packets/s.
        let many = p.check(&mut rec(2_000_000, 1, 20_000, 20_000, None), &mut b);
        assert_eq!(many, Some(Reason::Rate));
        // One record over the whole budget never fits.
        let huge = p.check(&mut rec(3_000_000, 1, 1, u64::MAX, None), &mut b);
        assert_eq!(huge, Some(Reason::Rate));
    }

    #[test]
    fn only_listed_input_interfaces_count() {
        let mut b = Budget::default();
        let p = SourcePolicy {
            interfaces: Some(Arc::from([3, 7])),
            ..policy()
        };
        assert_eq!(p.check(&mut rec(0, 1, 1, 1, Some(7)), &mut b), None);
        let other = p.check(&mut rec(0, 1, 1, 1, Some(4)), &mut b);
        assert_eq!(other, Some(Reason::Interface));
        let none = p.check(&mut rec(0, 1, 1, 1, None), &mut b);
        assert_eq!(none, Some(Reason::Interface));
    }
}
