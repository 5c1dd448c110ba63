//! Heavy hitters: the top keys by packets, with the Space-Saving algorithm (Metwally,
//! Agrawal and El Abbadi, "Efficient Computation of Frequent and Top-k Elements in Data
//! Streams", 2005).
//!
//! A fixed number of counters: a key not held replaces the smallest counter and inherits
//! its count (its possible over-estimate is kept as `error`). Any key with more than
//! total / capacity packets is guaranteed to be held. One set of these per incident,
//! for sources, source ports, destination ports and packet lengths.

/// One counted key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hitter<K> {
    /// The key.
    pub key: K,
    /// Packets counted for it (an over-estimate by at most `error`).
    pub count: u64,
    /// How much of `count` it may have inherited.
    pub error: u64,
}

/// A Space-Saving summary of at most `capacity` keys.
#[derive(Debug, Clone)]
pub struct SpaceSaving<K> {
    items: Vec<Hitter<K>>,
    capacity: usize,
    total: u64,
}

impl<K: Copy + Eq + Ord> SpaceSaving<K> {
    /// An empty summary.
    pub fn new(capacity: usize) -> Self {
        SpaceSaving {
            items: Vec::with_capacity(capacity),
            capacity: capacity.max(1),
            total: 0,
        }
    }

    /// Counts `weight` packets for `key`.
    pub fn add(&mut self, key: K, weight: u64) {
        self.total = self.total.saturating_add(weight);
        if let Some(h) = self.items.iter_mut().find(|h| h.key == key) {
            h.count = h.count.saturating_add(weight);
            return;
        }
        if self.items.len() < self.capacity {
            self.items.push(Hitter {
                key,
                count: weight,
                error: 0,
            });
            return;
        }
        // Capacity is small (16 to 32): a linear scan beats a heap's upkeep here.
        let min = self
            .items
            .iter_mut()
            .min_by_key(|h| h.count)
            .expect("capacity is at least one");
        *min = Hitter {
            key,
            count: min.count.saturating_add(weight),
            error: min.count,
        };
    }

    /// Packets counted in all.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The `n` largest, largest first (ties broken by key, so output is deterministic).
    pub fn top(&self, n: usize) -> Vec<Hitter<K>> {
        let mut v = self.items.clone();
        v.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
        v.truncate(n);
        v
    }

    /// Halves every count (the holder calls this once a second, like the breakdowns).
    pub fn decay(&mut self) {
        for h in &mut self.items {
            h.count /= 2;
            h.error /= 2;
        }
        self.total /= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Oracle: exact counts on a skewed random stream. Every key above total/capacity is
    /// held, and each held count is within its error of the truth.
    #[test]
    fn guarantees_hold_against_exact_counts() {
        let mut rnd = levee_testkit::Rng::new(5);
        let mut s = SpaceSaving::new(16);
        let mut exact = std::collections::HashMap::<u32, u64>::new();
        for _ in 0..50_000 {
            // Zipf-like: a few keys carry most of the weight.
            let r = rnd.next_u64() % 1000;
            let key = if r < 300 {
                1
            } else if r < 500 {
                2
            } else if r < 600 {
                3
            } else {
                (rnd.next_u64() % 5000) as u32 + 10
            };
            let w = 1 + rnd.next_u64() % 10;
            s.add(key, w);
            *exact.entry(key).or_default() += w;
        }
        let total: u64 = exact.values().sum();
        assert_eq!(s.total(), total);
        let top = s.top(16);
        for (k, &c) in &exact {
            if c > total / 16 {
                assert!(top.iter().any(|h| h.key == *k), "{k} missing");
            }
        }
        for h in &top {
            let truth = exact.get(&h.key).copied().unwrap_or(0);
            assert!(
                h.count >= truth && h.count - h.error <= truth,
                "{h:?} vs {truth}"
            );
        }
        assert_eq!(
            top.iter().take(3).map(|h| h.key).collect::<Vec<_>>(),
            [1, 2, 3]
        );
    }
}
