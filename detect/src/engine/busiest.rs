//! The busiest few of the tracked destinations, picked in one pass: candidates above
//! a floor go into a buffer of [`BUFFER`] entries; when it is full, a selection
//! (`select_nth_unstable`, O(buffer)) keeps the `n` busiest and raises the floor to the
//! least of them. So each host costs one comparison, a candidate a push, and the worst
//! order (every host busier than the one before) O(1) amortized per host: no heap to
//! sift per candidate. At 1M hosts it rides on the sweep that reads every window anyway
//! (docs/PERFORMANCE.md).

use std::net::IpAddr;

/// Candidates held before the `n` busiest are selected from them.
const BUFFER: usize = 1024;

/// One candidate: its last second's sums, its address and its incident slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Entry {
    /// Packets (ranked by these first, then bytes, then address).
    pub(super) packets: u64,
    /// Bytes.
    pub(super) bytes: u64,
    /// The destination.
    pub(super) ip: IpAddr,
    /// Its incident slot (or `NONE`), read when the pick is turned into seconds.
    pub(super) slot: u32,
}

/// The `n` busiest seen so far.
#[derive(Debug)]
pub(super) struct Busiest {
    n: usize,
    buf: Vec<Entry>,
    /// Packets a candidate must exceed: 0 until `n` were selected, then the least of
    /// them.
    floor: u64,
}

impl Busiest {
    /// Keeps the `n` busiest (`n` at least 1, well under [`BUFFER`]).
    pub(super) fn new(n: usize) -> Self {
        let n = n.clamp(1, BUFFER / 4);
        Busiest {
            n,
            buf: Vec::with_capacity(BUFFER),
            floor: 0,
        }
    }

    /// Considers one host; hosts without packets are never listed.
    #[inline]
    pub(super) fn offer(&mut self, packets: u64, bytes: u64, ip: IpAddr, slot: u32) {
        if packets > self.floor {
            self.buf.push(Entry {
                packets,
                bytes,
                ip,
                slot,
            });
            if self.buf.len() == BUFFER {
                self.select();
            }
        }
    }

    /// Keeps the `n` busiest of the buffer, busiest first, and raises the floor.
    #[cold]
    fn select(&mut self) {
        if self.buf.len() > self.n {
            self.buf.select_nth_unstable_by(self.n - 1, |a, b| b.cmp(a));
            self.buf.truncate(self.n);
        }
        if self.buf.len() == self.n {
            self.floor = self.buf.iter().map(|e| e.packets).min().unwrap_or(0);
        }
    }

    /// The pick, busiest first.
    pub(super) fn into_sorted(mut self) -> Vec<Entry> {
        self.select();
        self.buf.sort_unstable_by(|a, b| b.cmp(a));
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(k: u32) -> IpAddr {
        IpAddr::V4(k.into())
    }

    /// Against sorting everything: random rates (many ties, many zeros), any `n`.
    #[test]
    fn picks_the_same_as_a_full_sort() {
        let mut rnd = levee_testkit::Rng::new(11);
        for round in 0..200 {
            let n = 1 + (round % 12);
            let hosts = (rnd.next_u64() % 300) as u32;
            let all: Vec<Entry> = (0..hosts)
                .map(|k| Entry {
                    packets: rnd.next_u64() % 40,
                    bytes: rnd.next_u64() % 3,
                    ip: ip(k),
                    slot: k,
                })
                .collect();
            let mut b = Busiest::new(n);
            for e in &all {
                b.offer(e.packets, e.bytes, e.ip, e.slot);
            }
            let mut want: Vec<Entry> = all.into_iter().filter(|e| e.packets > 0).collect();
            want.sort_unstable_by(|a, b| b.cmp(a));
            // Equal packets at the floor: which of them is kept is not specified, only
            // that the ranks by packets agree.
            let got = b.into_sorted();
            let rank = |v: &[Entry]| v.iter().map(|e| e.packets).collect::<Vec<_>>();
            want.truncate(n);
            assert_eq!(rank(&got), rank(&want), "round {round}");
            assert!(got.windows(2).all(|w| w[0] >= w[1]));
        }
    }

    /// The pick's cost over 1M hosts, for docs/PERFORMANCE.md (printed, not asserted):
    /// random rates, and the worst order (every host busier than the last, so each one
    /// replaces the heap's least). Run with
    /// `cargo test --release -p levee-detect --lib busiest_1m -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, run by hand in release"]
    fn busiest_1m_cost() {
        let mut rnd = levee_testkit::Rng::new(5);
        let random: Vec<u64> = (0..1_000_000).map(|_| rnd.next_u64() % 100_000).collect();
        let rising: Vec<u64> = (1..=1_000_000).collect();
        for (label, rates) in [("random", &random), ("rising", &rising)] {
            let mut best = f64::MAX;
            for _ in 0..10 {
                let t = std::time::Instant::now();
                let mut b = Busiest::new(10);
                for (k, &p) in rates.iter().enumerate() {
                    b.offer(p, p * 100, ip(k as u32), k as u32);
                }
                std::hint::black_box(b.into_sorted());
                best = best.min(t.elapsed().as_secs_f64());
            }
            println!(
                "busiest 10 of 1M hosts, {label} rates: {:.2} ms",
                best * 1e3
            );
        }
    }
}
