//! The busiest few of the tracked destinations, picked in one pass: a min-heap of at
//! most `n` entries and the smallest packet count it holds once full (the floor), so
//! each host costs one comparison and only one that beats the floor touches the heap.
//! O(hosts + n log n per replacement); at 1M hosts it rides on the sweep that reads
//! every window anyway (docs/PERFORMANCE.md).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::IpAddr;

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
    heap: BinaryHeap<Reverse<Entry>>,
    /// Packets a candidate must exceed: 0 until `n` are held, then the least held.
    floor: u64,
}

impl Busiest {
    /// Keeps the `n` busiest (`n` ≥ 1).
    pub(super) fn new(n: usize) -> Self {
        Busiest {
            n: n.max(1),
            heap: BinaryHeap::with_capacity(n.max(1) + 1),
            floor: 0,
        }
    }

    /// Considers one host; hosts without packets are never listed.
    #[inline]
    pub(super) fn offer(&mut self, packets: u64, bytes: u64, ip: IpAddr, slot: u32) {
        if packets > self.floor {
            self.insert(Entry {
                packets,
                bytes,
                ip,
                slot,
            });
        }
    }

    #[cold]
    fn insert(&mut self, e: Entry) {
        if self.heap.len() < self.n {
            self.heap.push(Reverse(e));
        } else if let Some(mut least) = self.heap.peek_mut()
            && e > least.0
        {
            *least = Reverse(e);
        }
        if self.heap.len() == self.n {
            self.floor = self.heap.peek().map_or(0, |l| l.0.packets);
        }
    }

    /// The pick, busiest first.
    pub(super) fn into_sorted(self) -> Vec<Entry> {
        // Ascending order of `Reverse` is descending order of the entries.
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|r| r.0)
            .collect()
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
}
