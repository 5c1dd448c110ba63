//! Each incident's per-second series, kept while it is open and stored with it: the
//! victim's packets and bytes each second from the incident's start, at most
//! [`MAX_POINTS`] points; when full, neighbouring points are merged in pairs and the
//! step doubles (the first 30 minutes at one second, the first hour at two, ...).
//! At most [`MAX_OPEN`] incidents are followed at once (the rest are counted); memory
//! is then at most 256 × 1,800 × 16 bytes = 7.4 MB.
//!
//! Sans-IO: seconds in; out, the series to store: every incident that ended (it is no
//! longer reported), and every open one once a minute ([`Incidents::due`]).

use crate::store::traffic::SeriesRow;
use levee_detect::engine::history::{Rate, Second};
use std::collections::BTreeMap;

/// Points per series at most.
pub const MAX_POINTS: usize = 1800;
/// Incidents followed at once.
pub const MAX_OPEN: usize = 256;

/// One incident's series.
#[derive(Debug, Clone)]
struct Series {
    victim: String,
    network: String,
    start_s: u64,
    step_s: u32,
    /// Sums over each step.
    points: Vec<Rate>,
    /// Seconds added to the last point.
    filled: u32,
    last_s: u64,
}

impl Series {
    fn push(&mut self, s: u64, r: Rate) {
        if s < self.last_s {
            return;
        }
        // Missed seconds (none closed) count as zero.
        let mut s_at = self.last_s;
        while s_at + 1 < s {
            s_at += 1;
            self.add(Rate::default());
        }
        self.add(r);
        self.last_s = s;
    }

    fn add(&mut self, r: Rate) {
        if self.filled == self.step_s || self.points.is_empty() {
            if self.points.len() == MAX_POINTS {
                self.halve();
            }
            if self.filled == self.step_s || self.points.is_empty() {
                self.points.push(Rate::default());
                self.filled = 0;
            }
        }
        let p = self.points.last_mut().expect("pushed above");
        *p = p.plus(r);
        self.filled += 1;
    }

    /// Merges neighbouring points: half as many, twice the step. The last point, if
    /// partly filled, keeps filling.
    fn halve(&mut self) {
        let merged: Vec<Rate> = self
            .points
            .chunks(2)
            .map(|c| c.iter().fold(Rate::default(), |a, &r| a.plus(r)))
            .collect();
        // The last merged point holds the last two (or, with an odd count, the last).
        if self.points.len().is_multiple_of(2) {
            self.filled += self.step_s;
        }
        self.points = merged;
        self.step_s *= 2;
    }

    fn row(&self, incident: u64) -> SeriesRow {
        let step = u64::from(self.step_s);
        SeriesRow {
            incident,
            victim: self.victim.clone(),
            network: self.network.clone(),
            start_s: self.start_s,
            step_s: self.step_s,
            points: self
                .points
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    // The last point covers only the seconds it has.
                    let secs = if i + 1 == self.points.len() {
                        u64::from(self.filled.max(1))
                    } else {
                        step
                    };
                    (r.packets / secs, r.bytes.saturating_mul(8) / secs)
                })
                .collect(),
        }
    }
}

/// The incidents being followed.
#[derive(Debug, Default)]
pub struct Incidents {
    open: BTreeMap<u64, Series>,
    refused: u64,
}

impl Incidents {
    /// Takes one second; returns the series of the incidents that ended (no longer
    /// reported this second).
    pub fn push(&mut self, sec: &Second) -> Vec<SeriesRow> {
        let s = sec.start_us / 1_000_000;
        let mut seen = Vec::new();
        for v in &sec.victims {
            let Some(id) = v.incident else { continue };
            seen.push(id);
            if let Some(series) = self.open.get_mut(&id) {
                series.push(s, v.rate);
                continue;
            }
            if self.open.len() >= MAX_OPEN {
                self.refused += 1;
                continue;
            }
            let mut series = Series {
                victim: v.victim.to_string(),
                network: v.network.clone(),
                start_s: s,
                step_s: 1,
                points: Vec::new(),
                filled: 0,
                last_s: s,
            };
            series.add(v.rate);
            self.open.insert(id, series);
        }
        seen.sort_unstable();
        let ended: Vec<u64> = self
            .open
            .keys()
            .filter(|id| seen.binary_search(id).is_err())
            .copied()
            .collect();
        ended
            .into_iter()
            .filter_map(|id| self.open.remove(&id).map(|s| s.row(id)))
            .collect()
    }

    /// The series of every open incident (stored once a minute while they last).
    pub fn due(&self) -> Vec<SeriesRow> {
        self.open.iter().map(|(id, s)| s.row(*id)).collect()
    }

    /// Every open incident's series, leaving none (a stop).
    pub fn finish(&mut self) -> Vec<SeriesRow> {
        let rows = self.due();
        self.open.clear();
        rows
    }

    /// Incidents not followed because [`MAX_OPEN`] were.
    pub fn refused(&self) -> u64 {
        self.refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use levee_detect::Victim;
    use levee_detect::engine::history::VictimSecond;

    const T0: u64 = 1_800_000_000;

    fn sec(s: u64, victims: &[(u64, u64)]) -> Second {
        Second {
            start_us: s * 1_000_000,
            networks: Vec::new(),
            victims: victims
                .iter()
                .map(|(id, p)| VictimSecond {
                    victim: Victim::Host(std::net::Ipv4Addr::new(203, 0, 113, *id as u8).into()),
                    network: "customers".into(),
                    incident: Some(*id),
                    rate: Rate {
                        packets: *p,
                        bytes: p * 500,
                    },
                })
                .collect(),
            busiest: Vec::new(),
        }
    }

    /// A 10-second incident: stored at its end with one point a second.
    #[test]
    fn an_ended_incident_is_stored_per_second() {
        let mut inc = Incidents::default();
        for k in 0..10 {
            assert!(inc.push(&sec(T0 + k, &[(7, 1000 * (k + 1))])).is_empty());
        }
        assert_eq!(inc.due().len(), 1);
        let done = inc.push(&sec(T0 + 10, &[]));
        assert_eq!(done.len(), 1);
        let s = &done[0];
        assert_eq!((s.incident, s.start_s, s.step_s), (7, T0, 1));
        assert_eq!(s.victim, "203.0.113.7");
        let pps: Vec<u64> = s.points.iter().map(|p| p.0).collect();
        assert_eq!(pps, (1..=10).map(|k| k * 1000).collect::<Vec<_>>());
        assert_eq!(s.points[0].1, 1000 * 500 * 8);
        assert!(inc.due().is_empty());
    }

    /// A two-hour incident stays under MAX_POINTS: halved twice (step 4 s), every
    /// point still the average rate, and the total preserved.
    #[test]
    fn long_incidents_are_downsampled_within_the_bound() {
        let mut inc = Incidents::default();
        let secs = 7200u64;
        for k in 0..secs {
            inc.push(&sec(T0 + k, &[(1, 4000)]));
        }
        let s = inc.finish().remove(0);
        assert!(s.points.len() <= MAX_POINTS);
        assert_eq!(s.step_s, 4);
        assert_eq!(s.points.len() as u64, secs / 4);
        assert!(s.points.iter().all(|p| p.0 == 4000), "{:?}", &s.points[..4]);
    }

    /// Missed seconds count as zero; at most MAX_OPEN incidents are followed.
    #[test]
    fn gaps_are_zero_and_open_incidents_are_capped() {
        let mut inc = Incidents::default();
        inc.push(&sec(T0, &[(1, 100)]));
        inc.push(&sec(T0 + 3, &[(1, 100)]));
        let s = &inc.due()[0];
        assert_eq!(
            s.points.iter().map(|p| p.0).collect::<Vec<_>>(),
            [100, 0, 0, 100]
        );
        let many: Vec<(u64, u64)> = (0..MAX_OPEN as u64 + 10).map(|k| (k, 1)).collect();
        inc.push(&sec(T0 + 4, &many));
        assert_eq!(inc.due().len(), MAX_OPEN);
        assert_eq!(inc.refused(), 10, "incident 1 was open already");
    }
}
