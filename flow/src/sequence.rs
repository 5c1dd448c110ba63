//! Sequence-number tracking to detect lost datagrams.
//!
//! Each format numbers something different: sFlow v5 and NetFlow v9 count datagrams,
//! NetFlow v5 and IPFIX (RFC 7011 §3.1) count the records sent before this message. The
//! tracker works on "units" and the caller says how many units a datagram advances.

/// Remembers the next expected sequence number of one stream.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SequenceTracker {
    expected: Option<u32>,
}

impl SequenceTracker {
    /// Observes a datagram whose sequence number is `seq` and that carries `advance` units.
    /// Returns how many units went missing just before it (0 for the first datagram, for a
    /// duplicate or reordered one, and after an exporter restart).
    pub(crate) fn observe(&mut self, seq: u32, advance: u32) -> u64 {
        let lost = match self.expected {
            // A forward jump of less than half the space is loss; anything else is a
            // restart or reordering, which resets without counting.
            Some(exp) => {
                let diff = seq.wrapping_sub(exp);
                if diff != 0 && diff < 1 << 31 {
                    u64::from(diff)
                } else {
                    0
                }
            }
            None => 0,
        };
        self.expected = Some(seq.wrapping_add(advance));
        lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_gaps_and_wraps() {
        let mut t = SequenceTracker::default();
        assert_eq!(t.observe(10, 1), 0);
        assert_eq!(t.observe(11, 1), 0);
        assert_eq!(t.observe(14, 1), 2);
        assert_eq!(t.observe(14, 1), 0); // duplicate: no loss
        assert_eq!(t.observe(3, 1), 0); // restart
        assert_eq!(t.observe(4, 30), 0);
        assert_eq!(t.observe(40, 1), 6);
        let mut t = SequenceTracker::default();
        t.observe(u32::MAX, 1);
        assert_eq!(t.observe(1, 1), 1);
    }
}
