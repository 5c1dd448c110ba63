//! Per-minute rollups: the seconds of each protected network summed per minute (per
//! protocol towards it, and out of it), with the busiest second's rates each way, handed to the store when the minute is
//! over (a second of the next minute arrives) or at shutdown (the minute so far).
//! Sans-IO: seconds in, rows out.

use crate::store::traffic::MinuteRow;
use levee_detect::engine::history::Second;
use std::collections::BTreeMap;

/// Minutes in progress per network, at most this many networks (the configured ones;
/// a second naming more is cut here, not grown without bound).
pub const MAX_NETWORKS: usize = 4096;

/// The minutes being summed.
#[derive(Debug, Default)]
pub struct Rollup {
    open: BTreeMap<String, MinuteRow>,
}

impl Rollup {
    /// Adds one second; returns the minutes it closed.
    pub fn push(&mut self, sec: &Second) -> Vec<MinuteRow> {
        let s = sec.start_us / 1_000_000;
        let minute_s = s / 60 * 60;
        let mut done = Vec::new();
        for n in sec.networks.iter() {
            let full = self.open.len() >= MAX_NETWORKS;
            let row = match self.open.get_mut(&n.network) {
                Some(r) if r.minute_s == minute_s => r,
                Some(r) if r.minute_s > minute_s => continue, // late: its minute is gone
                Some(r) => {
                    let fresh = MinuteRow {
                        network: n.network.clone(),
                        minute_s,
                        ..MinuteRow::default()
                    };
                    done.push(std::mem::replace(r, fresh));
                    r
                }
                None if full => continue,
                None => self.open.entry(n.network.clone()).or_insert(MinuteRow {
                    network: n.network.clone(),
                    minute_s,
                    ..MinuteRow::default()
                }),
            };
            row.seconds += 1;
            for (sum, r) in row.protocols.iter_mut().zip(n.protocols) {
                sum.0 = sum.0.saturating_add(r.packets);
                sum.1 = sum.1.saturating_add(r.bytes);
            }
            let t = n.total();
            row.peak_pps = row.peak_pps.max(t.packets);
            row.peak_bps = row.peak_bps.max(t.bytes.saturating_mul(8));
            row.out.0 = row.out.0.saturating_add(n.out.packets);
            row.out.1 = row.out.1.saturating_add(n.out.bytes);
            row.peak_out_pps = row.peak_out_pps.max(n.out.packets);
            row.peak_out_bps = row.peak_out_bps.max(n.out.bytes.saturating_mul(8));
        }
        // Networks no longer reported (a reload removed them): their minute is over.
        let gone: Vec<String> = self
            .open
            .iter()
            .filter(|(_, r)| r.minute_s < minute_s)
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            done.extend(self.open.remove(&k));
        }
        done
    }

    /// The minutes in progress (a stop), leaving none.
    pub fn finish(&mut self) -> Vec<MinuteRow> {
        std::mem::take(&mut self.open).into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use levee_detect::engine::history::{NetworkSecond, Rate};

    fn sec(s: u64, nets: &[(&str, u64)]) -> Second {
        Second {
            start_us: s * 1_000_000,
            networks: nets
                .iter()
                .map(|(n, p)| NetworkSecond {
                    network: (*n).into(),
                    protocols: [
                        Rate {
                            packets: *p,
                            bytes: p * 64,
                        },
                        Rate {
                            packets: 1,
                            bytes: 100,
                        },
                        Rate::default(),
                        Rate::default(),
                    ],
                    out: Rate {
                        packets: p / 10,
                        bytes: p * 100,
                    },
                })
                .collect(),
            victims: Vec::new(),
            busiest: Vec::new(),
        }
    }

    /// Three minutes of seconds: each minute comes out once, when the next begins, with
    /// its sums and peak; the minute in progress at a stop comes out partial.
    #[test]
    fn minutes_close_in_order_with_sums_and_peaks() {
        let mut r = Rollup::default();
        let t0 = 1_800_000_000 / 60 * 60;
        let mut out = Vec::new();
        for k in 0..150 {
            let p = if k == 70 { 90_000 } else { 1000 };
            out.extend(r.push(&sec(t0 + k, &[("a", p), ("b", 10)])));
        }
        assert_eq!(out.len(), 4);
        let a: Vec<&MinuteRow> = out.iter().filter(|m| m.network == "a").collect();
        assert_eq!(a[0].minute_s, t0);
        assert_eq!(a[0].seconds, 60);
        assert_eq!(a[0].protocols[0], (60_000, 60_000 * 64));
        assert_eq!(a[0].protocols[1], (60, 6000));
        assert_eq!(a[0].peak_pps, 1001);
        assert_eq!(a[1].peak_pps, 90_001);
        assert_eq!(a[1].peak_bps, (90_000 * 64 + 100) * 8);
        assert_eq!(a[0].out, (6_000, 6_000_000));
        assert_eq!(a[1].out, (59 * 100 + 9_000, 59 * 100_000 + 9_000_000));
        assert_eq!(
            (a[1].peak_out_pps, a[1].peak_out_bps),
            (9_000, 9_000_000 * 8)
        );
        let rest = r.finish();
        assert_eq!(rest.len(), 2);
        assert!(
            rest.iter()
                .all(|m| m.seconds == 30 && m.minute_s == t0 + 120)
        );
        assert!(r.finish().is_empty());
    }

    /// A network that stops being reported has its minute closed when the next one
    /// begins; a late second for a closed minute is not double counted.
    #[test]
    fn removed_networks_close_and_late_seconds_are_ignored() {
        let mut r = Rollup::default();
        let t0 = 1_800_000_000 / 60 * 60;
        assert!(r.push(&sec(t0, &[("a", 1), ("gone", 1)])).is_empty());
        let out = r.push(&sec(t0 + 60, &[("a", 1)]));
        assert_eq!(out.len(), 2);
        assert!(r.push(&sec(t0 + 59, &[("a", 1)])).is_empty());
        let rest = r.finish();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].seconds, 1);
    }
}
