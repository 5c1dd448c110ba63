//! The traffic history stage: what the protected networks received, kept to be looked
//! at (issue 16's traffic history).
//!
//! - [`ring`]: the last hour in memory at one-second resolution, per network and
//!   protocol, and per victim while it is a suspect or under attack (bounded; sizes in
//!   its overview);
//! - [`rollup`]: per-minute sums, stored in SQLite (`store::traffic`) and pruned after
//!   the retention (`history: {retention: 30d}`);
//! - [`series`]: each incident's per-second series, stored with the incident when it
//!   ends and once a minute while it lasts (bounded, downsampled beyond 30 minutes);
//! - [`query`]: reading a network's rates back over a range, choosing the resolution.
//!
//! The detection engine closes each second (`levee_detect::engine::history`); its
//! thread hands the seconds over on a bounded channel without waiting (a full channel
//! drops them, counted), so recording never stalls detection. The recorder task here
//! updates the ring and sends the minutes and series through the store's writer thread
//! ([`crate::store::writer::Sender`]), in one write per minute.

pub mod query;
pub mod ring;
pub mod rollup;
pub mod series;

pub use query::{QueryError, Series, Sources, query};

use crate::store::Write;
use crate::store::writer::Sender;
use levee_detect::engine::history::Second;
use ring::Ring;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc;
use tracing::{debug, info};

/// Batches of seconds queued from the detection thread (one batch per tick that closed
/// a second: a minute's worth and more).
pub const QUEUE: usize = 128;
/// How often old minutes are pruned.
const PRUNE_EVERY_S: u64 = 3600;

/// The history's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Per-minute rollups older than this are deleted (seconds).
    pub retention_s: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            retention_s: 30 * 86_400,
        }
    }
}

/// What the history counts, for /metrics (`levee_history_*`).
#[derive(Debug, Default)]
pub struct Counters {
    /// Closed seconds recorded.
    pub seconds: AtomicU64,
    /// Closed seconds the detection thread dropped because the recorder lagged (the
    /// detection thread counts them: `detection::live::HistoryOutlet::dropped`).
    pub dropped_seconds: Arc<AtomicU64>,
    /// Minute rows sent to the store.
    pub minutes_written: AtomicU64,
    /// Incident series sent to the store (each incident once a minute and at its end).
    pub series_written: AtomicU64,
    /// Victims followed in the last hour now.
    pub victims: AtomicU64,
    /// Victims not followed (the cap was full of stronger ones).
    pub victims_refused: AtomicU64,
    /// Incidents whose series were not kept (too many open at once).
    pub series_refused: AtomicU64,
    /// Bytes the last hour holds.
    pub memory_bytes: AtomicU64,
}

/// The recorder's core (sans-IO): seconds in, store writes out.
#[derive(Debug, Default)]
pub struct Recorder {
    settings: Settings,
    rollup: rollup::Rollup,
    incidents: series::Incidents,
    /// When old minutes were last pruned (Unix seconds; 0: not yet).
    pruned_s: u64,
}

impl Recorder {
    /// A recorder with its settings.
    pub fn new(settings: Settings) -> Recorder {
        Recorder {
            settings,
            ..Recorder::default()
        }
    }

    /// Takes one closed second (`now_us`: the wall clock, stamped on the series
    /// written); returns the writes due: the minutes it closed (with the pruning of
    /// minutes past the retention, hourly), the series of incidents that ended, and
    /// when a minute closed, the series of the open ones.
    pub fn push(&mut self, sec: &Second, now_us: u64) -> Vec<Write> {
        let mut out = Vec::new();
        let minutes = self.rollup.push(sec);
        let ended = self.incidents.push(sec);
        let minute_closed = !minutes.is_empty();
        if minute_closed {
            let s = sec.start_us / 1_000_000;
            let prune = (s >= self.pruned_s + PRUNE_EVERY_S).then(|| {
                self.pruned_s = s;
                s.saturating_sub(self.settings.retention_s)
            });
            out.push(Write::Traffic {
                minutes,
                prune_before_s: prune,
            });
        }
        let series = |s| Write::Series {
            now: now_us,
            series: Box::new(s),
        };
        out.extend(ended.into_iter().map(series));
        if minute_closed {
            out.extend(self.incidents.due().into_iter().map(series));
        }
        out
    }

    /// At a stop: the minutes in progress and every open incident's series.
    pub fn finish(&mut self, now_us: u64) -> Vec<Write> {
        let mut out = vec![Write::Traffic {
            minutes: self.rollup.finish(),
            prune_before_s: None,
        }];
        out.extend(self.incidents.finish().into_iter().map(|s| Write::Series {
            now: now_us,
            series: Box::new(s),
        }));
        out
    }

    /// Incidents whose series were not kept (too many open at once).
    pub fn series_refused(&self) -> u64 {
        self.incidents.refused()
    }
}

/// The running recorder: its input, the last hour it keeps, and its task.
#[derive(Debug)]
pub struct History {
    /// The last hour, for queries ([`query`]).
    pub ring: Arc<RwLock<Ring>>,
    task: tokio::task::JoinHandle<()>,
}

impl History {
    /// Starts the recorder task, counting into `counters`; the detection thread sends
    /// on the returned channel.
    pub fn start(
        settings: Settings,
        store: Sender,
        counters: Arc<Counters>,
        feed: crate::live::Feed,
    ) -> (History, mpsc::Sender<Vec<Second>>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let ring = Arc::new(RwLock::new(Ring::default()));
        info!(
            retention_days = settings.retention_s as f64 / 86_400.0,
            "traffic history: the last hour in memory, minutes in the store"
        );
        let rec = Recorder::new(settings);
        let task = tokio::spawn(record(rec, rx, ring.clone(), store, counters, feed));
        (History { ring, task }, tx)
    }

    /// Waits until the recorder has written what it holds: call once the detection
    /// thread (the sender) has ended, before the store stops.
    pub async fn stop(self) {
        let _ = self.task.await;
    }
}

async fn record(
    mut rec: Recorder,
    mut rx: mpsc::Receiver<Vec<Second>>,
    ring: Arc<RwLock<Ring>>,
    store: Sender,
    counters: Arc<Counters>,
    feed: crate::live::Feed,
) {
    while let Some(batch) = rx.recv().await {
        let now = crate::clock::now_us();
        let mut writes = Vec::new();
        if let Ok(mut r) = ring.write() {
            for sec in &batch {
                r.push(sec);
            }
            counters.victims.store(r.victims() as u64, Relaxed);
            counters.victims_refused.store(r.victims_refused(), Relaxed);
            counters.memory_bytes.store(r.bytes() as u64, Relaxed);
        }
        for sec in &batch {
            feed.second(sec);
            writes.extend(rec.push(sec, now));
        }
        counters.seconds.fetch_add(batch.len() as u64, Relaxed);
        counters.series_refused.store(rec.series_refused(), Relaxed);
        write(&store, &counters, writes).await;
    }
    write(&store, &counters, rec.finish(crate::clock::now_us())).await;
    let (victims, refused) = ring
        .read()
        .map(|r| (r.victims(), r.victims_refused()))
        .unwrap_or_default();
    debug!(
        victims,
        victims_refused = refused,
        series_refused = rec.series_refused(),
        "traffic history written"
    );
}

/// Sends writes to the store, counting what they carry.
async fn write(store: &Sender, counters: &Counters, writes: Vec<Write>) {
    for w in writes {
        match &w {
            Write::Traffic { minutes, .. } => {
                counters
                    .minutes_written
                    .fetch_add(minutes.len() as u64, Relaxed);
            }
            Write::Series { .. } => {
                counters.series_written.fetch_add(1, Relaxed);
            }
            _ => {}
        }
        store.write(w).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use levee_detect::Victim;
    use levee_detect::engine::history::{NetworkSecond, Rate, VictimSecond};

    fn sec(s: u64, attacked: bool) -> Second {
        let r = Rate {
            packets: 1000,
            bytes: 64_000,
        };
        Second {
            start_us: s * 1_000_000,
            networks: vec![NetworkSecond {
                network: "customers".into(),
                protocols: [r; 4],
                out: r,
            }],
            victims: attacked
                .then(|| VictimSecond {
                    victim: Victim::Host("203.0.113.9".parse().unwrap()),
                    network: "customers".into(),
                    incident: Some(3),
                    rate: r,
                })
                .into_iter()
                .collect(),
            busiest: Vec::new(),
        }
    }

    /// Over two hours and a half: one minute write per minute, pruning once an hour
    /// (and at the first minute) by the retention; an incident's series written once a
    /// minute while open and at its end; the rest at a stop.
    #[test]
    fn recorder_batches_minutes_prunes_hourly_and_writes_series() {
        let mut rec = Recorder::new(Settings { retention_s: 7200 });
        let t0 = 1_800_000_000 / 3600 * 3600;
        let mut traffic = Vec::new();
        let mut series = Vec::new();
        for k in 0..9000 {
            for w in rec.push(&sec(t0 + k, (100..250).contains(&k)), 1) {
                match w {
                    Write::Traffic {
                        minutes,
                        prune_before_s,
                    } => traffic.push((minutes.len(), prune_before_s)),
                    Write::Series { series: s, .. } => series.push(s),
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(traffic.len(), 149);
        assert!(traffic.iter().all(|(n, _)| *n == 1));
        let prunes: Vec<u64> = traffic.iter().filter_map(|t| t.1).collect();
        assert_eq!(prunes, [t0 + 60 - 7200, t0 + 3660 - 7200, t0 + 7260 - 7200]);
        // Open from 100 s to 249 s: minutes closing at 120 and 180 and 240, then its end.
        assert_eq!(series.len(), 4);
        let last = series.last().unwrap();
        assert_eq!(
            (last.incident, last.start_s, last.points.len()),
            (3, t0 + 100, 150)
        );
        let rest = rec.finish(2);
        assert!(matches!(&rest[0], Write::Traffic { minutes, .. } if minutes[0].seconds == 60));
    }
}
