//! A one-second sliding window in ten 100 ms buckets.
//!
//! Rates must be judged more often than once a second (a flood is to be detected within
//! 0.5 s), but over a full second (so one bursty 100 ms does not look like a flood). Each
//! bucket counts one 100 ms slot; the window's sums are kept current as buckets rotate out,
//! so reading the one-second rate is O(1).

/// Slots per second.
pub const SLOTS: usize = 10;
/// Slot length in microseconds.
pub const SLOT_US: u64 = 100_000;
/// Bytes one slot can hold: far beyond any link (1e18 bytes in 100 ms), and low enough
/// that the sum of all slots cannot overflow whatever an exporter claims.
const MAX_SLOT_BYTES: u64 = u64::MAX / 16;

/// Packets, bytes and flows over the last second, one bucket per 100 ms slot. The three
/// counters live in separate arrays (176 bytes in all, against 208 for an array of
/// structs) because this is held once per tracked IP.
#[derive(Debug, Clone, Default)]
pub struct SlidingWindow {
    packets: [u32; SLOTS],
    /// Flow records per slot; saturates at 65,535 per 100 ms (655k flows/s per victim,
    /// far above any flows threshold).
    flows: [u16; SLOTS],
    bytes: [u64; SLOTS],
    /// Slot number (time / 100 ms) of the newest bucket; 0 before the first record.
    newest: u64,
    sum: Totals,
}

/// Window sums.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Packets (already scaled by sampling).
    pub packets: u64,
    /// Bytes (already scaled by sampling).
    pub bytes: u64,
    /// Flow records.
    pub flows: u64,
}

impl SlidingWindow {
    /// Moves the window so that it ends in the slot holding `now_us`, dropping older slots.
    /// Time going backwards (reordered input) is treated as the current slot.
    pub fn advance(&mut self, now_us: u64) {
        let slot = now_us / SLOT_US;
        if slot <= self.newest {
            return;
        }
        let steps = (slot - self.newest).min(SLOTS as u64);
        for i in 1..=steps {
            let k = ((self.newest + i) % SLOTS as u64) as usize;
            self.sum.packets -= u64::from(self.packets[k]);
            self.sum.flows -= u64::from(self.flows[k]);
            self.sum.bytes -= self.bytes[k];
            (self.packets[k], self.flows[k], self.bytes[k]) = (0, 0, 0);
        }
        self.newest = slot;
    }

    /// Adds one record at `now_us` (advancing first).
    pub fn add(&mut self, now_us: u64, packets: u64, bytes: u64) {
        self.advance(now_us);
        let k = (self.newest % SLOTS as u64) as usize;
        // Saturate per bucket: 4e9 packets in 100 ms is beyond any real link.
        let p = u32::try_from(packets)
            .unwrap_or(u32::MAX)
            .min(u32::MAX - self.packets[k]);
        let f = u16::from(self.flows[k] < u16::MAX);
        let by = bytes.min(MAX_SLOT_BYTES - self.bytes[k]);
        self.packets[k] += p;
        self.flows[k] += f;
        self.bytes[k] += by;
        // The sums only ever hold what the buckets hold, so rotation can subtract exactly.
        self.sum.packets += u64::from(p);
        self.sum.flows += u64::from(f);
        self.sum.bytes += by;
    }

    /// The last second's totals (as of the last `advance` or `add`).
    pub fn totals(&self) -> Totals {
        self.sum
    }

    /// Totals of the newest `n` slots (`n` at most [`SLOTS`]): the last `n` × 100 ms.
    pub fn recent(&self, n: usize) -> Totals {
        let mut t = Totals::default();
        for i in 0..n.min(SLOTS) as u64 {
            let k = ((self.newest + SLOTS as u64 - i) % SLOTS as u64) as usize;
            t.packets += u64::from(self.packets[k]);
            t.flows += u64::from(self.flows[k]);
            t.bytes += self.bytes[k];
        }
        t
    }

    /// Reads a word from each of the window's cache lines (see `Engine::ingest`).
    pub fn touch(&self) -> u64 {
        u64::from(self.packets[0]) ^ self.bytes[2] ^ self.bytes[9] ^ self.newest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A naive oracle: keep every record, sum those in the last ten slots.
    #[test]
    fn matches_naive_sums_on_random_streams() {
        let mut rnd = levee_testkit::Rng::new(0x2545_f491_4f6c_dd1d);
        for _ in 0..20 {
            let mut w = SlidingWindow::default();
            let mut all: Vec<(u64, u64, u64)> = Vec::new();
            let mut t = 1_000_000_000 + rnd.next_u64() % 1_000_000;
            for _ in 0..3_000 {
                // Mostly small steps, sometimes a gap of seconds.
                t += if rnd.next_u64().is_multiple_of(50) {
                    rnd.next_u64() % 3_000_000
                } else {
                    rnd.next_u64() % 20_000
                };
                let (p, b) = (1 + rnd.next_u64() % 1000, 64 + rnd.next_u64() % 100_000);
                w.add(t, p, b);
                all.push((t, p, b));
                let slot = t / SLOT_US;
                let recent = all
                    .iter()
                    .filter(|(ts, _, _)| ts / SLOT_US + SLOTS as u64 > slot);
                let naive = recent.fold(Totals::default(), |mut s, (_, p, b)| {
                    s.packets += p;
                    s.bytes += b;
                    s.flows += 1;
                    s
                });
                assert_eq!(w.totals(), naive);
                let half = all
                    .iter()
                    .filter(|(ts, _, _)| ts / SLOT_US + 5 > slot)
                    .fold(0, |s, (_, p, _)| s + p);
                assert_eq!(w.recent(5).packets, half);
            }
        }
    }

    #[test]
    fn hostile_counts_saturate_without_overflow() {
        let mut w = SlidingWindow::default();
        for i in 0..40 {
            w.add(1_000_000 + i * 50_000, u64::MAX, u64::MAX);
        }
        let t = w.totals();
        assert!(t.bytes <= u64::MAX / 16 * 10 && t.packets <= u64::from(u32::MAX) * 10);
        w.advance(10_000_000);
        assert_eq!(w.totals(), Totals::default());
    }

    #[test]
    fn advance_expires_and_reordering_is_tolerated() {
        let mut w = SlidingWindow::default();
        w.add(1_000_000, 10, 1000);
        w.add(1_050_000, 10, 1000);
        w.add(1_000_000, 5, 500); // late: counted in the current slot
        assert_eq!(
            w.totals(),
            Totals {
                packets: 25,
                bytes: 2500,
                flows: 3
            }
        );
        w.advance(1_950_000);
        assert_eq!(w.totals().packets, 25);
        w.advance(2_000_000);
        assert_eq!(w.totals().packets, 0);
    }
}
