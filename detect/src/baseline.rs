//! Per-IP (or per-network) traffic baseline: the last [`SAMPLES`] one-second samples of
//! pps and bps, and their 99th percentiles, recomputed every [`RECOMPUTE_EVERY`] samples.
//!
//! Samples are one-byte [`logcode`](crate::logcode)s. Because the code is monotonic, the
//! p99 of the codes is exactly the code of the p99 of the raw samples (nearest-rank), so
//! the only error is the code's ±5 %. Seconds spent under attack must not be learned (the
//! caller does not call [`Baseline::learn`] for them): an attack must not raise its own
//! threshold.

use crate::logcode::{decode, encode};

/// Samples kept: five minutes of seconds.
pub const SAMPLES: usize = 300;
/// The p99 is recomputed after this many learned samples.
pub const RECOMPUTE_EVERY: u16 = 10;

/// The 300-sample baseline of one tracked IP or network: 610 bytes.
#[derive(Debug, Clone)]
pub struct Baseline {
    pps: [u8; SAMPLES],
    bps: [u8; SAMPLES],
    /// Samples held (at most SAMPLES).
    len: u16,
    /// Ring index of the next write.
    next: u16,
    /// Samples learned since the last recompute.
    pending: u16,
    /// The p99 codes (pps, bps) as of the last recompute.
    p99: [u8; 2],
    /// Samples held with any traffic (a non-zero pps or bps code).
    active: u16,
}

/// A pair of rates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rates {
    /// Packets per second.
    pub pps: u64,
    /// Bits per second.
    pub bps: u64,
}

impl Default for Baseline {
    fn default() -> Self {
        Baseline {
            pps: [0; SAMPLES],
            bps: [0; SAMPLES],
            len: 0,
            next: 0,
            pending: 0,
            p99: [0; 2],
            active: 0,
        }
    }
}

impl Baseline {
    /// Learns one second of normal traffic.
    pub fn learn(&mut self, second: Rates) {
        let i = usize::from(self.next);
        if usize::from(self.len) == SAMPLES {
            // The oldest sample, about to be overwritten, leaves the window.
            self.active -= u16::from(self.pps[i] != 0 || self.bps[i] != 0);
        }
        self.pps[i] = encode(second.pps);
        self.bps[i] = encode(second.bps);
        self.active += u16::from(self.pps[i] != 0 || self.bps[i] != 0);
        self.next = ((i + 1) % SAMPLES) as u16;
        self.len = (self.len + 1).min(SAMPLES as u16);
        self.pending += 1;
        if self.pending >= RECOMPUTE_EVERY {
            self.recompute();
        }
    }

    /// Samples held (for warm-up decisions).
    pub fn samples(&self) -> usize {
        usize::from(self.len)
    }

    /// Samples held with any traffic: how much of its history an IP was seen in (a
    /// spray's one-record destination holds at most one).
    pub fn active(&self) -> usize {
        usize::from(self.active)
    }

    /// The p99 as of the last recompute (zero until the first ten samples).
    pub fn p99(&self) -> Rates {
        Rates {
            pps: decode(self.p99[0]),
            bps: decode(self.p99[1]),
        }
    }

    /// The samples held, oldest first, as (pps, bps) [`logcode`](crate::logcode)s: what
    /// a snapshot saves ([`Baseline::restore`] takes them back).
    pub fn codes(&self) -> impl Iterator<Item = (u8, u8)> + '_ {
        // Until the ring is full the samples are `0..len` (`next` is `len`); once it is,
        // `next..` then `..next`: two plain runs, no index arithmetic per sample.
        let (len, next) = (usize::from(self.len), usize::from(self.next));
        let (old, new) = if len == SAMPLES {
            (next..SAMPLES, 0..next)
        } else {
            (0..len, 0..0)
        };
        let run = |r: std::ops::Range<usize>| self.pps[r.clone()].iter().zip(&self.bps[r]);
        run(old).chain(run(new)).map(|(&p, &b)| (p, b))
    }

    /// Forgets every sample (without clearing the arrays: only held samples are read).
    pub fn clear(&mut self) {
        (self.len, self.next, self.pending, self.p99, self.active) = (0, 0, 0, [0; 2], 0);
    }

    /// Whether every sample held is zero (nothing learned worth saving).
    pub fn is_silent(&self) -> bool {
        self.active == 0
    }

    /// A baseline holding `codes` (oldest first, as [`Baseline::codes`] gives them),
    /// its p99 computed at once; `None` for more than [`SAMPLES`].
    pub fn restore(codes: &[(u8, u8)]) -> Option<Baseline> {
        if codes.len() > SAMPLES {
            return None;
        }
        let mut b = Baseline::default();
        for (i, &(p, by)) in codes.iter().enumerate() {
            b.pps[i] = p;
            b.bps[i] = by;
            b.active += u16::from(p != 0 || by != 0);
        }
        b.len = codes.len() as u16;
        b.next = (codes.len() % SAMPLES) as u16;
        b.recompute();
        Some(b)
    }

    fn recompute(&mut self) {
        let n = usize::from(self.len);
        self.p99 = [p99_code(&self.pps[..n]), p99_code(&self.bps[..n])];
        self.pending = 0;
    }
}

/// Nearest-rank 99th percentile of codes, by counting (no allocation, O(n + 256)).
fn p99_code(codes: &[u8]) -> u8 {
    if codes.is_empty() {
        return 0;
    }
    let mut hist = [0u16; 256];
    for &c in codes {
        hist[usize::from(c)] += 1;
    }
    // Rank ceil(0.99 n), 1-based.
    let rank = (codes.len() * 99).div_ceil(100);
    let mut seen = 0;
    for (code, &count) in hist.iter().enumerate() {
        seen += usize::from(count);
        if seen >= rank {
            return code as u8;
        }
    }
    255
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_p99(v: &[u64]) -> u64 {
        let mut s = v.to_vec();
        s.sort_unstable();
        s[(s.len() * 99).div_ceil(100) - 1]
    }

    /// Oracle: keep every learned sample raw, take the nearest-rank p99 of the last 300
    /// at each recompute point; the baseline must report exactly its code's value.
    #[test]
    fn p99_matches_naive_on_random_input() {
        let mut rnd = levee_testkit::Rng::new(0x9e37_79b9_7f4a_7c15);
        for round in 0..30 {
            let mut b = Baseline::default();
            let mut learned: Vec<(u64, u64)> = Vec::new();
            let mut expect = Rates::default();
            let scale = 10u64.pow(round % 9);
            for _ in 0..1_000 {
                if rnd.next_u64().is_multiple_of(7) {
                    continue; // a second under attack: not learned
                }
                let s = (
                    rnd.next_u64() % (scale * 10),
                    rnd.next_u64() % (scale * 80_000),
                );
                b.learn(Rates { pps: s.0, bps: s.1 });
                learned.push(s);
                if learned.len().is_multiple_of(usize::from(RECOMPUTE_EVERY)) {
                    let last: Vec<_> = learned.iter().rev().take(SAMPLES).copied().collect();
                    let pps: Vec<u64> = last.iter().map(|s| s.0).collect();
                    let bps: Vec<u64> = last.iter().map(|s| s.1).collect();
                    expect = Rates {
                        pps: decode(encode(naive_p99(&pps))),
                        bps: decode(encode(naive_p99(&bps))),
                    };
                }
                assert_eq!(b.p99(), expect);
                assert_eq!(b.samples(), learned.len().min(SAMPLES));
                let held = learned.iter().rev().take(SAMPLES);
                let active = held
                    .filter(|s| encode(s.0) != 0 || encode(s.1) != 0)
                    .count();
                assert_eq!(b.active(), active);
            }
        }
    }

    #[test]
    fn converges_and_attack_seconds_are_not_learned() {
        let mut b = Baseline::default();
        for _ in 0..SAMPLES {
            b.learn(Rates {
                pps: 1_000,
                bps: 8_000_000,
            });
        }
        let p = b.p99();
        assert!(
            p.pps.abs_diff(1_000) <= 50 && p.bps.abs_diff(8_000_000) <= 400_000,
            "{p:?}"
        );
        // Ten minutes of attack are not learned, so the baseline stays; a single learned
        // attack second among 300 normal ones stays above the p99 too.
        b.learn(Rates {
            pps: 1_000_000,
            bps: 8_000_000_000,
        });
        for _ in 0..9 {
            b.learn(Rates {
                pps: 1_000,
                bps: 8_000_000,
            });
        }
        assert_eq!(b.p99(), p);
        // A new normal replaces the old one within one window.
        for _ in 0..SAMPLES {
            b.learn(Rates {
                pps: 5_000,
                bps: 40_000_000,
            });
        }
        assert!(b.p99().pps.abs_diff(5_000) <= 250);
    }

    #[test]
    fn codes_round_trip_through_restore_oldest_first() {
        for n in [0usize, 1, 7, 299, 300, 301, 777] {
            let mut b = Baseline::default();
            for i in 0..n as u64 {
                b.learn(Rates {
                    pps: i * 37 % 5000,
                    bps: i * 91_000 % 80_000_000,
                });
            }
            let codes: Vec<_> = b.codes().collect();
            assert_eq!(codes.len(), n.min(SAMPLES));
            // Oldest first: the last code is the last second learned.
            if n > 0 {
                let last = (n as u64 - 1) * 37 % 5000;
                assert_eq!(codes.last().unwrap().0, encode(last));
            }
            let r = Baseline::restore(&codes).unwrap();
            assert_eq!(r.codes().collect::<Vec<_>>(), codes);
            assert_eq!(r.active(), b.active());
            assert_eq!(r.samples(), b.samples());
            // The restored p99 is that of every sample held (b's may be up to nine
            // samples stale); one more learned second keeps both in step.
            let mut fresh = Baseline::default();
            fresh.pps[..codes.len()]
                .copy_from_slice(&codes.iter().map(|c| c.0).collect::<Vec<_>>());
            fresh.bps[..codes.len()]
                .copy_from_slice(&codes.iter().map(|c| c.1).collect::<Vec<_>>());
            fresh.len = codes.len() as u16;
            fresh.recompute();
            assert_eq!(r.p99(), fresh.p99());
        }
        assert!(Baseline::restore(&[(1, 1); SAMPLES + 1]).is_none());
        assert!(Baseline::default().is_silent());
    }

    #[test]
    fn p99_ignores_the_top_one_percent() {
        let mut b = Baseline::default();
        for i in 0..SAMPLES as u64 {
            // Three spikes in 300 samples are above the 99th percentile.
            let pps = if i % 100 == 0 { 1_000_000 } else { 100 };
            b.learn(Rates {
                pps,
                bps: pps * 8_000,
            });
        }
        assert!(b.p99().pps <= 105, "{:?}", b.p99());
    }
}
