//! Sequence-number tracking to detect lost datagrams.
//!
//! Each format numbers something different: sFlow v5 and NetFlow v9 count datagrams;
//! NetFlow v5 and IPFIX (RFC 7011 §3.1) count records. For record counts the RFC says
//! "records sent before this message", but some exporters (softflowd 1.1.0's IPFIX, seen
//! in our fixtures) count the current message's records too. [`SequenceTracker::records`]
//! accepts either convention, learning which one a stream uses from its first gapless
//! step, so a conforming-but-different exporter is not reported as losing data.

/// The largest forward jump believed to be loss in datagram-numbered streams (sFlow,
/// NetFlow v9): about a minute of a busy agent's datagrams. A larger jump is an
/// exporter restart, or a forged number, and counts as a reset.
pub(crate) const MAX_DATAGRAM_GAP: u32 = 1 << 20;
/// The same for record-numbered streams (NetFlow v5, IPFIX).
pub(crate) const MAX_RECORD_GAP: u32 = 1 << 28;

/// What a sequence number says about the datagrams before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Gap {
    /// Units (datagrams or records) lost just before it.
    pub(crate) lost: u64,
    /// The numbering jumped too far to be loss: a restart (or a forged number).
    pub(crate) reset: bool,
}

/// Remembers where one stream's numbering stands.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SequenceTracker {
    /// Sequence number and unit count of the last datagram.
    last: Option<(u32, u32)>,
    /// The stream counts the current message's records in its own sequence number.
    inclusive: Option<bool>,
}

impl SequenceTracker {
    /// Observes a datagram numbered per datagram: the datagrams lost before it.
    pub(crate) fn datagrams(&mut self, seq: u32) -> Gap {
        let lost = self
            .last
            .map_or(0, |(last, _)| forward_gap(seq, last.wrapping_add(1)));
        self.last = Some((seq, 1));
        plausible(lost, MAX_DATAGRAM_GAP)
    }

    /// Observes a datagram numbered by records, carrying `count` of them: the records
    /// lost before it.
    pub(crate) fn records(&mut self, seq: u32, count: u32) -> Gap {
        let lost = match self.last {
            None => 0,
            Some((last, last_count)) => {
                let exclusive = last.wrapping_add(last_count);
                let inclusive = last.wrapping_add(count);
                match self.inclusive {
                    Some(true) => forward_gap(seq, inclusive),
                    Some(false) => forward_gap(seq, exclusive),
                    None if seq == exclusive && seq != inclusive => {
                        self.inclusive = Some(false);
                        0
                    }
                    None if seq == inclusive && seq != exclusive => {
                        self.inclusive = Some(true);
                        0
                    }
                    None => forward_gap(seq, exclusive).min(forward_gap(seq, inclusive)),
                }
            }
        };
        self.last = Some((seq, count));
        plausible(lost, MAX_RECORD_GAP)
    }
}

/// A gap up to `max` is loss; a larger one a reset.
fn plausible(lost: u64, max: u32) -> Gap {
    if lost > u64::from(max) {
        Gap {
            lost: 0,
            reset: true,
        }
    } else {
        Gap { lost, reset: false }
    }
}

/// How far `seq` is ahead of `expected`: a forward jump of less than half the space is
/// loss; anything else (duplicate, reordering, exporter restart) counts as none.
fn forward_gap(seq: u32, expected: u32) -> u64 {
    let diff = seq.wrapping_sub(expected);
    if diff < 1 << 31 { u64::from(diff) } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lost(g: Gap) -> u64 {
        assert!(!g.reset, "{g:?}");
        g.lost
    }

    #[test]
    fn absurd_jumps_are_resets_not_losses() {
        let mut t = SequenceTracker::default();
        t.datagrams(10);
        // The most that can be loss...
        assert_eq!(
            lost(t.datagrams(11 + MAX_DATAGRAM_GAP)),
            u64::from(MAX_DATAGRAM_GAP)
        );
        // ...and one more is a reset; the stream goes on from the new number.
        let x = 12 + 2 * MAX_DATAGRAM_GAP + 1;
        assert_eq!(
            t.datagrams(x),
            Gap {
                lost: 0,
                reset: true
            }
        );
        assert_eq!(lost(t.datagrams(x + 1)), 0);
        assert_eq!(lost(t.datagrams(x + 3)), 1);
        let mut t = SequenceTracker::default();
        t.records(0, 5);
        assert_eq!(
            t.records(1 << 30, 5),
            Gap {
                lost: 0,
                reset: true
            }
        );
    }

    #[test]
    fn datagram_gaps_and_wraps() {
        let mut t = SequenceTracker::default();
        assert_eq!(lost(t.datagrams(10)), 0);
        assert_eq!(lost(t.datagrams(11)), 0);
        assert_eq!(lost(t.datagrams(14)), 2);
        assert_eq!(lost(t.datagrams(14)), 0); // duplicate: no loss
        assert_eq!(lost(t.datagrams(3)), 0); // restart
        let mut t = SequenceTracker::default();
        t.datagrams(u32::MAX);
        assert_eq!(lost(t.datagrams(1)), 1);
    }

    #[test]
    fn records_rfc_convention() {
        let mut t = SequenceTracker::default();
        assert_eq!(lost(t.records(0, 5)), 0);
        assert_eq!(lost(t.records(5, 7)), 0);
        assert_eq!(lost(t.records(12, 3)), 0);
        assert_eq!(lost(t.records(25, 3)), 10);
    }

    #[test]
    fn records_inclusive_convention() {
        // softflowd: 23 records then seq 23; 32 records then 55; 15 records then 70.
        let mut t = SequenceTracker::default();
        assert_eq!(lost(t.records(23, 23)), 0);
        assert_eq!(lost(t.records(55, 32)), 0);
        assert_eq!(lost(t.records(70, 15)), 0);
        assert_eq!(lost(t.records(90, 10)), 10);
    }
}
