//! Detection policy: when a rate counts as an attack.
//!
//! Three kinds of threshold, per protected network (a hostgroup), falling back to the
//! global defaults:
//! - **baseline**: once an IP has [`Policy::warmup`] of history, its rate must exceed
//!   `multiplier` × its p99 *and* the floor (floors keep tiny IPs from alerting on noise);
//! - **warm-up**: until then, only the static warm-up thresholds apply;
//! - **hard**: absolute thresholds per protocol in pps, bps and flows, always applied.

use crate::baseline::Rates;
use crate::breakdown::{Breakdown, Class, Protocol};
use crate::window::Totals;

/// Rates that count as an attack when exceeded; `None` is "not set".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Packets per second.
    pub pps: Option<u64>,
    /// Bits per second.
    pub bps: Option<u64>,
    /// Flow records per second.
    pub flows: Option<u64>,
}

impl Limits {
    /// The smallest value set, per metric, of two limits.
    fn min(self, o: Limits) -> Limits {
        let m = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Limits {
            pps: m(self.pps, o.pps),
            bps: m(self.bps, o.bps),
            flows: m(self.flows, o.flows),
        }
    }
}

/// What hard thresholds apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// All traffic.
    Total,
    /// TCP.
    Tcp,
    /// TCP SYN without ACK.
    Syn,
    /// UDP.
    Udp,
    /// ICMP and ICMPv6.
    Icmp,
}

impl Scope {
    /// All scopes.
    pub const ALL: [Scope; 5] = [
        Scope::Total,
        Scope::Tcp,
        Scope::Syn,
        Scope::Udp,
        Scope::Icmp,
    ];

    /// Name in config and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Total => "total",
            Scope::Tcp => "tcp",
            Scope::Syn => "syn",
            Scope::Udp => "udp",
            Scope::Icmp => "icmp",
        }
    }
}

/// The detection policy of one hostgroup.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Rate over p99 that counts as an attack.
    pub multiplier: f64,
    /// Baseline detection fires only above these.
    pub floor: Limits,
    /// Seconds of history an IP needs before its baseline is used.
    pub warmup: u32,
    /// Static thresholds used during warm-up.
    pub warmup_thresholds: Limits,
    /// Hard thresholds, indexed like [`Scope::ALL`].
    pub hard: [Limits; 5],
}

impl Default for Policy {
    /// Defaults that work with only the protected networks configured: a 100k pps or
    /// 1 Gbps flood against an IP at under 1k pps crosses every one of them within half a
    /// second, with margin for 1:1000 sampling noise.
    fn default() -> Self {
        Policy {
            multiplier: 3.0,
            floor: Limits {
                pps: Some(20_000),
                bps: Some(200_000_000),
                flows: None,
            },
            warmup: 300,
            warmup_thresholds: Limits {
                pps: Some(50_000),
                bps: Some(500_000_000),
                flows: None,
            },
            hard: [Limits::default(); 5],
        }
    }
}

/// Which threshold fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Rate above multiplier × p99 and the floor.
    Baseline,
    /// Static warm-up threshold.
    Warmup,
    /// A hard threshold for the scope.
    Hard(Scope),
}

/// The metric that crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Packets per second.
    Pps,
    /// Bits per second.
    Bps,
    /// Flows per second.
    Flows,
}

impl Metric {
    /// Name in events.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Pps => "pps",
            Metric::Bps => "bps",
            Metric::Flows => "flows",
        }
    }
}

/// A crossed threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trigger {
    /// Which kind.
    pub reason: Reason,
    /// Which metric.
    pub metric: Metric,
    /// The rate seen.
    pub value: u64,
    /// The threshold it crossed.
    pub threshold: u64,
}

/// Current per-second rates of one destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Current {
    /// Packets per second.
    pub pps: u64,
    /// Bits per second.
    pub bps: u64,
    /// Flows per second.
    pub flows: u64,
}

impl Current {
    /// Rates from window totals spanning `tenths` × 100 ms.
    pub fn from_totals(t: Totals, tenths: u64) -> Current {
        let scale = |v: u64| v.saturating_mul(10) / tenths.max(1);
        Current {
            pps: scale(t.packets),
            bps: scale(t.bytes.saturating_mul(8)),
            flows: scale(t.flows),
        }
    }

    /// The larger of two estimates, per metric.
    pub fn max(self, o: Current) -> Current {
        Current {
            pps: self.pps.max(o.pps),
            bps: self.bps.max(o.bps),
            flows: self.flows.max(o.flows),
        }
    }

    /// The share of these rates that one scope carries, by the breakdown's proportions.
    fn scoped(self, scope: Scope, b: &Breakdown) -> Current {
        let (proto, packets) = match scope {
            Scope::Total => return self,
            Scope::Tcp => (0, b.protocol_packets(Protocol::Tcp)),
            Scope::Syn => (0, b.class(Class::Syn)),
            Scope::Udp => (1, b.protocol_packets(Protocol::Udp)),
            Scope::Icmp => (2, b.protocol_packets(Protocol::Icmp)),
        };
        let total_p = b.total_packets();
        let total_b: u64 = b.bytes.iter().sum();
        let total_f: u64 = b.flows.iter().map(|&f| u64::from(f)).sum();
        let part = |v: u64, num: u64, den: u64| {
            if den == 0 {
                0
            } else {
                (v as u128 * num as u128 / den as u128) as u64
            }
        };
        // SYN bytes and flows are not kept apart: take TCP's, scaled by SYN's packet share.
        let tcp_p = b.protocol_packets(Protocol::Tcp);
        let (bytes, flows) = if scope == Scope::Syn {
            (
                part(b.bytes[0], packets, tcp_p),
                part(u64::from(b.flows[0]), packets, tcp_p),
            )
        } else {
            (b.bytes[proto], u64::from(b.flows[proto]))
        };
        Current {
            pps: part(self.pps, packets, total_p),
            bps: part(self.bps, bytes, total_b),
            flows: part(self.flows, flows, total_f),
        }
    }
}

/// A policy prepared for the hot path.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The policy.
    pub policy: Policy,
    /// Below all of these nothing can fire: one comparison per record.
    gate: Current,
    any_hard: bool,
}

fn exceeds(cur: Current, lim: Limits) -> Option<(Metric, u64, u64)> {
    [
        (Metric::Pps, cur.pps, lim.pps),
        (Metric::Bps, cur.bps, lim.bps),
        (Metric::Flows, cur.flows, lim.flows),
    ]
    .into_iter()
    .find_map(|(m, v, l)| l.filter(|&l| v > l).map(|l| (m, v, l)))
}

impl Compiled {
    /// Prepares a policy.
    pub fn new(policy: Policy) -> Self {
        let mut low = policy.floor.min(policy.warmup_thresholds);
        for h in &policy.hard {
            low = low.min(*h);
        }
        let gate = Current {
            pps: low.pps.unwrap_or(u64::MAX),
            bps: low.bps.unwrap_or(u64::MAX),
            flows: low.flows.unwrap_or(u64::MAX),
        };
        let any_hard = policy.hard.iter().any(|l| *l != Limits::default());
        Compiled {
            policy,
            gate,
            any_hard,
        }
    }

    /// Whether `cur` is below every threshold that could fire (the common case).
    pub fn quiet(&self, cur: Current) -> bool {
        cur.pps <= self.gate.pps && cur.bps <= self.gate.bps && cur.flows <= self.gate.flows
    }

    /// Whether `cur` is past half of the lowest threshold that could fire: worth
    /// gathering evidence on.
    pub fn near(&self, cur: Current) -> bool {
        cur.pps > self.gate.pps / 2
            || cur.bps > self.gate.bps / 2
            || cur.flows > self.gate.flows / 2
    }

    /// The baseline thresholds (pps, bps) for a warm IP with this p99.
    pub fn baseline_thresholds(&self, p99: Rates) -> (u64, u64) {
        let m = self.policy.multiplier;
        let t = |p: u64, floor: Option<u64>| ((p as f64 * m) as u64).max(floor.unwrap_or(0));
        (
            t(p99.pps, self.policy.floor.pps),
            t(p99.bps, self.policy.floor.bps),
        )
    }

    /// Judges current rates against the policy; `samples` is the baseline's history.
    pub fn judge(
        &self,
        cur: Current,
        b: &Breakdown,
        p99: Rates,
        samples: usize,
    ) -> Option<Trigger> {
        if self.any_hard {
            for (scope, lim) in Scope::ALL.iter().zip(&self.policy.hard) {
                if let Some((metric, value, threshold)) = exceeds(cur.scoped(*scope, b), *lim) {
                    return Some(Trigger {
                        reason: Reason::Hard(*scope),
                        metric,
                        value,
                        threshold,
                    });
                }
            }
        }
        if samples < self.policy.warmup as usize {
            return exceeds(cur, self.policy.warmup_thresholds).map(
                |(metric, value, threshold)| Trigger {
                    reason: Reason::Warmup,
                    metric,
                    value,
                    threshold,
                },
            );
        }
        let (tp, tb) = self.baseline_thresholds(p99);
        let floor_flows = self.policy.floor.flows;
        let lim = Limits {
            pps: (self.policy.floor.pps.is_some() || p99.pps > 0).then_some(tp),
            bps: (self.policy.floor.bps.is_some() || p99.bps > 0).then_some(tb),
            flows: floor_flows,
        };
        exceeds(cur, lim).map(|(metric, value, threshold)| Trigger {
            reason: Reason::Baseline,
            metric,
            value,
            threshold,
        })
    }

    /// The (pps, bps) an incident must stay above to count as ongoing: the thresholds as
    /// they stand, or for hard and warm-up triggers, those thresholds.
    pub fn hold_thresholds(&self, t: &Trigger, p99: Rates, samples: usize) -> (u64, u64) {
        let pick = |l: Limits| (l.pps.unwrap_or(u64::MAX), l.bps.unwrap_or(u64::MAX));
        match t.reason {
            Reason::Hard(s) => {
                let (p, b) = pick(self.policy.hard[s as usize]);
                // A flows trigger holds on the other metrics' baseline instead.
                if p == u64::MAX && b == u64::MAX {
                    self.baseline_or_warmup(p99, samples)
                } else {
                    (p, b)
                }
            }
            _ => self.baseline_or_warmup(p99, samples),
        }
    }

    fn baseline_or_warmup(&self, p99: Rates, samples: usize) -> (u64, u64) {
        if samples < self.policy.warmup as usize {
            let l = self.policy.warmup_thresholds;
            (l.pps.unwrap_or(u64::MAX), l.bps.unwrap_or(u64::MAX))
        } else {
            self.baseline_thresholds(p99)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(pps: u64, bps: u64) -> Current {
        Current { pps, bps, flows: 0 }
    }

    #[test]
    fn warmup_then_baseline_then_hard() {
        let c = Compiled::new(Policy::default());
        let b = Breakdown::default();
        let p99 = Rates {
            pps: 10_000,
            bps: 80_000_000,
        };
        // Warm-up: static 50k pps.
        assert!(c.judge(cur(40_000, 0), &b, p99, 10).is_none());
        let t = c.judge(cur(60_000, 0), &b, p99, 10).unwrap();
        assert_eq!(
            (t.reason, t.metric, t.threshold),
            (Reason::Warmup, Metric::Pps, 50_000)
        );
        // Warm: 3 × p99 = 30k pps, above the 20k floor.
        let t = c.judge(cur(31_000, 0), &b, p99, 300).unwrap();
        assert_eq!((t.reason, t.threshold), (Reason::Baseline, 30_000));
        assert!(c.judge(cur(29_000, 0), &b, p99, 300).is_none());
        // A quiet IP is held by the floor.
        let low = Rates {
            pps: 100,
            bps: 800_000,
        };
        assert!(c.judge(cur(19_000, 150_000_000), &b, low, 300).is_none());
        assert!(c.judge(cur(21_000, 0), &b, low, 300).is_some());
        assert!(c.quiet(cur(19_000, 150_000_000)));
    }

    #[test]
    fn hard_thresholds_per_protocol_use_the_breakdown_shares() {
        let mut p = Policy::default();
        p.hard[Scope::Udp as usize].pps = Some(10_000);
        let c = Compiled::new(p);
        let mut b = Breakdown::default();
        b.packets[Class::UdpOther as usize] = 600;
        b.packets[Class::Web as usize] = 400;
        // 20k pps in all, 60 % UDP: 12k UDP pps > 10k.
        let t = c.judge(cur(20_000, 0), &b, Rates::default(), 0).unwrap();
        assert_eq!((t.reason, t.value), (Reason::Hard(Scope::Udp), 12_000));
        b.packets[Class::UdpOther as usize] = 400;
        b.packets[Class::Web as usize] = 600;
        assert!(c.judge(cur(20_000, 0), &b, Rates::default(), 0).is_none());
        assert!(!c.quiet(cur(20_000, 0)));
    }
}
