//! Reading the history back: a network's rates from `from` to `to` in steps, from the
//! in-memory last hour (one-second resolution) when the range lies within it, else from
//! the per-minute rollups in the store. The step is what was asked, rounded up to the
//! resolution, and raised so that no more than [`MAX_POINTS`] points come back.
//! This is what `levee traffic` prints and what `GET /api/v1/traffic` is to serve.

use super::ring::{Ring, SECONDS, Slot};
use crate::store::Store;
use crate::store::traffic::MinuteRow;
use levee_detect::engine::history::Rate;

/// Points returned at most.
pub const MAX_POINTS: u64 = 1440;
/// The longest range asked (a year): beyond any retention.
pub const MAX_RANGE_S: u64 = 366 * 86_400;

/// Why a query was refused.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// `from` is not before `to`.
    #[error("the range is empty: from ({from}) must be before to ({to})")]
    EmptyRange {
        /// From (Unix seconds).
        from: u64,
        /// To (Unix seconds).
        to: u64,
    },
    /// Longer than [`MAX_RANGE_S`].
    #[error("the range is longer than 366 days")]
    TooLong,
    /// A zero step.
    #[error("the step must be at least one second")]
    ZeroStep,
    /// Neither the last hour nor the store knows the network.
    #[error("no traffic history for network {0:?}")]
    UnknownNetwork(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Where the history comes from: the daemon's last hour, the store, or both.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sources<'a> {
    /// The last hour in memory (`None` with the daemon stopped: `levee traffic`).
    pub ring: Option<&'a Ring>,
    /// The store (its minute rollups).
    pub store: Option<&'a Store>,
}

/// A resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Resolution {
    /// One second (the last hour, in memory).
    Second,
    /// One minute (the rollups in the store).
    Minute,
}

/// Rates of one protocol over a point.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Rates {
    /// Packets per second.
    pub pps: u64,
    /// Bits per second.
    pub bps: u64,
}

/// The rates per protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ByProtocol {
    /// TCP.
    pub tcp: Rates,
    /// UDP.
    pub udp: Rates,
    /// ICMP and ICMPv6.
    pub icmp: Rates,
    /// Other IP protocols.
    pub other: Rates,
}

/// One point: averages over the seconds of its step that hold data, and the busiest
/// second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Point {
    /// Its start (Unix seconds).
    pub time: u64,
    /// Seconds of data in it.
    pub seconds: u64,
    /// Packets per second, all protocols.
    pub pps: u64,
    /// Bits per second, all protocols.
    pub bps: u64,
    /// The busiest second's packets per second.
    pub peak_pps: u64,
    /// The busiest second's bits per second.
    pub peak_bps: u64,
    /// Per protocol.
    pub protocols: ByProtocol,
    /// Out of the network (to outside every protected network), all protocols.
    pub out: Rates,
    /// The busiest second's outbound packets per second.
    pub peak_out_pps: u64,
    /// The busiest second's outbound bits per second.
    pub peak_out_bps: u64,
}

/// A network's traffic over a range, towards its prefixes (and out of them: `out`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Series {
    /// The network.
    pub network: String,
    /// From (Unix seconds, inclusive).
    pub from: u64,
    /// To (Unix seconds, exclusive).
    pub to: u64,
    /// Seconds per point.
    pub step: u64,
    /// Where the points come from.
    pub resolution: Resolution,
    /// The points with data, oldest first (steps with none are left out).
    pub points: Vec<Point>,
}

/// Sums over one step.
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    seconds: u64,
    protocols: [(u64, u64); 4],
    peak_pps: u64,
    peak_bps: u64,
    out: (u64, u64),
    peak_out_pps: u64,
    peak_out_bps: u64,
}

impl Acc {
    fn second(&mut self, p: &Slot) {
        let mut total = Rate::default();
        for (a, r) in self.protocols.iter_mut().zip(&p.protocols) {
            a.0 = a.0.saturating_add(r.packets);
            a.1 = a.1.saturating_add(r.bytes);
            total = total.plus(*r);
        }
        self.seconds += 1;
        self.peak_pps = self.peak_pps.max(total.packets);
        self.peak_bps = self.peak_bps.max(total.bytes.saturating_mul(8));
        self.out.0 = self.out.0.saturating_add(p.out.packets);
        self.out.1 = self.out.1.saturating_add(p.out.bytes);
        self.peak_out_pps = self.peak_out_pps.max(p.out.packets);
        self.peak_out_bps = self.peak_out_bps.max(p.out.bytes.saturating_mul(8));
    }

    fn minute(&mut self, m: &MinuteRow) {
        for (a, r) in self.protocols.iter_mut().zip(m.protocols) {
            a.0 = a.0.saturating_add(r.0);
            a.1 = a.1.saturating_add(r.1);
        }
        self.seconds += u64::from(m.seconds);
        self.peak_pps = self.peak_pps.max(m.peak_pps);
        self.peak_bps = self.peak_bps.max(m.peak_bps);
        self.out.0 = self.out.0.saturating_add(m.out.0);
        self.out.1 = self.out.1.saturating_add(m.out.1);
        self.peak_out_pps = self.peak_out_pps.max(m.peak_out_pps);
        self.peak_out_bps = self.peak_out_bps.max(m.peak_out_bps);
    }

    fn point(&self, time: u64) -> Point {
        let n = self.seconds.max(1);
        let rates = |(p, b): (u64, u64)| Rates {
            pps: p / n,
            bps: b.saturating_mul(8) / n,
        };
        let total = self.protocols.iter().fold((0u64, 0u64), |a, r| {
            (a.0.saturating_add(r.0), a.1.saturating_add(r.1))
        });
        let t = rates(total);
        Point {
            time,
            seconds: self.seconds,
            pps: t.pps,
            bps: t.bps,
            peak_pps: self.peak_pps,
            peak_bps: self.peak_bps,
            protocols: ByProtocol {
                tcp: rates(self.protocols[0]),
                udp: rates(self.protocols[1]),
                icmp: rates(self.protocols[2]),
                other: rates(self.protocols[3]),
            },
            out: rates(self.out),
            peak_out_pps: self.peak_out_pps,
            peak_out_bps: self.peak_out_bps,
        }
    }
}

/// The resolution and step for a range: one second when the range starts within the
/// last hour in memory (`ring_oldest_s`: the start of its window), else one minute; the step asked (default: the resolution)
/// rounded up to it, and raised so that at most [`MAX_POINTS`] come back.
pub fn plan(
    ring_oldest_s: Option<u64>,
    from_s: u64,
    to_s: u64,
    step_s: Option<u64>,
) -> Result<(Resolution, u64), QueryError> {
    if from_s >= to_s {
        return Err(QueryError::EmptyRange {
            from: from_s,
            to: to_s,
        });
    }
    if to_s - from_s > MAX_RANGE_S {
        return Err(QueryError::TooLong);
    }
    if step_s == Some(0) {
        return Err(QueryError::ZeroStep);
    }
    let (res, unit) = match ring_oldest_s {
        Some(oldest) if from_s >= oldest && to_s - from_s <= SECONDS as u64 => {
            (Resolution::Second, 1)
        }
        _ => (Resolution::Minute, 60),
    };
    let asked = step_s.unwrap_or(unit).div_ceil(unit) * unit;
    let least = (to_s - from_s).div_ceil(MAX_POINTS).div_ceil(unit) * unit;
    Ok((res, asked.max(least)))
}

/// `network`'s traffic from `from_s` to `to_s` (Unix seconds) in steps of about
/// `step_s` (see [`plan`]).
pub fn query(
    src: Sources<'_>,
    network: &str,
    from_s: u64,
    to_s: u64,
    step_s: Option<u64>,
) -> Result<Series, QueryError> {
    let ring = src.ring.and_then(|r| r.network(network));
    let (resolution, step) = plan(ring.map(|r| r.window_s()), from_s, to_s, step_s)?;
    // Buckets aligned on multiples of the step (so that successive queries agree).
    let first = from_s / step * step;
    let mut buckets: std::collections::BTreeMap<u64, Acc> = std::collections::BTreeMap::new();
    match (resolution, ring) {
        (Resolution::Second, Some(r)) => {
            // Seconds before the ring's first (levee was not running, or had just
            // started) come from the store's minutes, one point per minute.
            if let Some(store) = src.store
                && from_s < r.oldest_s()
            {
                let to_m = r.oldest_s().min(to_s);
                for m in store.minutes(network, from_s / 60 * 60, to_m, 60)? {
                    if m.minute_s + 60 <= r.oldest_s() {
                        let at = m.minute_s.max(first);
                        buckets
                            .entry(first + (at - first) / step * step)
                            .or_default()
                            .minute(&m);
                    }
                }
            }
            for (s, p) in r.range(from_s, to_s) {
                buckets
                    .entry(first + (s - first) / step * step)
                    .or_default()
                    .second(&p);
            }
        }
        _ => {
            let Some(store) = src.store else {
                return Err(QueryError::UnknownNetwork(network.to_string()));
            };
            let from_m = from_s / 60 * 60;
            let rows = store.minutes(network, from_m, to_s, (MAX_RANGE_S / 60) as usize)?;
            if rows.is_empty() && ring.is_none() && !store_knows(store, network)? {
                return Err(QueryError::UnknownNetwork(network.to_string()));
            }
            for m in &rows {
                let at = m.minute_s.max(first);
                buckets
                    .entry(first + (at - first) / step * step)
                    .or_default()
                    .minute(m);
            }
        }
    }
    Ok(Series {
        network: network.to_string(),
        from: from_s,
        to: to_s,
        step,
        resolution,
        points: buckets
            .iter()
            .filter(|(_, a)| a.seconds > 0)
            .map(|(t, a)| a.point(*t))
            .collect(),
    })
}

fn store_knows(store: &Store, network: &str) -> Result<bool, QueryError> {
    Ok(store.traffic_networks()?.iter().any(|n| n == network))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Write;
    use levee_detect::engine::history::{NetworkSecond, Second};

    const NOW: u64 = 1_800_000_000 / 3600 * 3600;

    /// The resolution follows the range's start; the step is rounded up to the
    /// resolution and raised to keep at most MAX_POINTS points; bad ranges are refused.
    #[test]
    fn plan_chooses_resolution_and_bounds_points() {
        let oldest = Some(NOW - 3599);
        assert_eq!(
            plan(oldest, NOW - 600, NOW, None).unwrap(),
            (Resolution::Second, 1)
        );
        assert_eq!(
            plan(oldest, NOW - 600, NOW, Some(10)).unwrap(),
            (Resolution::Second, 10)
        );
        assert_eq!(
            plan(oldest, NOW - 3599, NOW, None).unwrap(),
            (Resolution::Second, 3)
        );
        assert_eq!(
            plan(oldest, NOW - 7200, NOW, None).unwrap(),
            (Resolution::Minute, 60)
        );
        assert_eq!(
            plan(None, NOW - 600, NOW, Some(1)).unwrap(),
            (Resolution::Minute, 60)
        );
        assert_eq!(
            plan(None, NOW - 600, NOW, Some(90)).unwrap(),
            (Resolution::Minute, 120)
        );
        // 30 days: 43,200 minutes, so at least 30 minutes a point.
        let (_, step) = plan(None, NOW - 30 * 86_400, NOW, None).unwrap();
        assert_eq!(step, 1800);
        assert!(30 * 86_400 / step <= MAX_POINTS);
        assert!(matches!(
            plan(oldest, NOW, NOW, None),
            Err(QueryError::EmptyRange { .. })
        ));
        assert!(matches!(
            plan(oldest, 0, NOW, None),
            Err(QueryError::TooLong)
        ));
        assert!(matches!(
            plan(oldest, NOW - 1, NOW, Some(0)),
            Err(QueryError::ZeroStep)
        ));
    }

    fn second(s: u64, udp: u64) -> Second {
        Second {
            start_us: s * 1_000_000,
            networks: vec![NetworkSecond {
                network: "customers".into(),
                protocols: [
                    Rate::default(),
                    Rate {
                        packets: udp,
                        bytes: udp * 512,
                    },
                    Rate::default(),
                    Rate::default(),
                ],
                out: Rate {
                    packets: udp / 4,
                    bytes: udp * 100,
                },
            }],
            victims: Vec::new(),
            busiest: Vec::new(),
        }
    }

    /// The last ten minutes come from the ring at one second (or in steps of ten),
    /// older ranges from the store's minutes; an unknown network is an error.
    #[test]
    fn query_reads_the_ring_or_the_store() {
        let mut ring = Ring::default();
        for k in 0..600 {
            let udp = if (300..305).contains(&k) {
                100_000
            } else {
                1000
            };
            ring.push(&second(NOW - 600 + k, udp));
        }
        let src = Sources {
            ring: Some(&ring),
            store: None,
        };
        let s = query(src, "customers", NOW - 600, NOW, None).unwrap();
        assert_eq!(
            (s.resolution, s.step, s.points.len()),
            (Resolution::Second, 1, 600)
        );
        assert_eq!(s.points[300].pps, 100_000);
        assert_eq!(s.points[300].protocols.udp.bps, 100_000 * 512 * 8);
        assert_eq!(
            s.points[300].out,
            Rates {
                pps: 25_000,
                bps: 100_000 * 100 * 8
            }
        );
        let s = query(src, "customers", NOW - 600, NOW, Some(10)).unwrap();
        assert_eq!(s.points.len(), 60);
        assert_eq!(s.points[30].pps, (5 * 100_000 + 5 * 1000) / 10);
        assert_eq!(s.points[30].peak_pps, 100_000);
        assert_eq!(s.points[30].out.pps, (5 * 25_000 + 5 * 250) / 10);
        assert_eq!(
            (s.points[30].peak_out_pps, s.points[30].peak_out_bps),
            (25_000, 100_000 * 100 * 8)
        );
        assert!(matches!(
            query(src, "nope", NOW - 600, NOW, None),
            Err(QueryError::UnknownNetwork(_))
        ));
        // Older: the store's minutes.
        let (_d, _p, mut st) = crate::store::tests::fresh("query");
        let minutes = (0..120)
            .map(|k| MinuteRow {
                network: "customers".into(),
                minute_s: NOW - 7200 + k * 60,
                seconds: 60,
                protocols: [(0, 0), (60_000, 60_000 * 512), (0, 0), (0, 0)],
                peak_pps: 1000,
                peak_bps: 1000 * 512 * 8,
                out: (6_000, 6_000 * 100),
                peak_out_pps: 200,
                peak_out_bps: 200 * 100 * 8,
            })
            .collect();
        let w = Write::Traffic {
            minutes,
            prune_before_s: None,
        };
        assert!(st.write(&[w]).is_empty());
        let src = Sources {
            ring: Some(&ring),
            store: Some(&st),
        };
        let s = query(src, "customers", NOW - 7200, NOW - 3600, Some(600)).unwrap();
        assert_eq!(
            (s.resolution, s.step, s.points.len()),
            (Resolution::Minute, 600, 6)
        );
        assert!(s.points.iter().all(|p| p.pps == 1000 && p.seconds == 600));
        assert!(
            s.points
                .iter()
                .all(|p| p.out.pps == 100 && p.out.bps == 100 * 100 * 8 && p.peak_out_pps == 200)
        );
        assert!(matches!(
            query(src, "nope", NOW - 7200, NOW, None),
            Err(QueryError::UnknownNetwork(_))
        ));
    }

    /// Within the last hour, seconds from before the ring's first (a restart) come
    /// from the store's minutes, one point per minute, and none is counted twice.
    #[test]
    fn the_last_hour_joins_the_stored_minutes_before_the_ring() {
        let mut ring = Ring::default();
        for k in 0..120 {
            ring.push(&second(NOW - 120 + k, 2000));
        }
        let (_d, _p, mut st) = crate::store::tests::fresh("join");
        // Eleven minutes stored; the last overlaps the ring and is left out.
        let minutes = (0..11)
            .map(|k| MinuteRow {
                network: "customers".into(),
                minute_s: NOW - 720 + k * 60,
                seconds: 60,
                protocols: [(0, 0), (60_000, 60_000 * 512), (0, 0), (0, 0)],
                peak_pps: 1000,
                peak_bps: 1000 * 512 * 8,
                out: (6_000, 6_000 * 100),
                peak_out_pps: 200,
                peak_out_bps: 200 * 100 * 8,
            })
            .collect();
        let w = Write::Traffic {
            minutes,
            prune_before_s: None,
        };
        assert!(st.write(&[w]).is_empty());
        let src = Sources {
            ring: Some(&ring),
            store: Some(&st),
        };
        let s = query(src, "customers", NOW - 900, NOW, None).unwrap();
        assert_eq!((s.resolution, s.step), (Resolution::Second, 1));
        // The ten stored minutes end where the ring's first second (NOW - 120) is.
        let old: Vec<_> = s.points.iter().filter(|p| p.time < NOW - 120).collect();
        assert_eq!(old.len(), 10);
        assert!(old.iter().all(|p| p.seconds == 60 && p.pps == 1000));
        let new: Vec<_> = s.points.iter().filter(|p| p.time >= NOW - 120).collect();
        assert_eq!(new.len(), 120);
        assert!(new.iter().all(|p| p.seconds == 1 && p.pps == 2000));
    }
}
