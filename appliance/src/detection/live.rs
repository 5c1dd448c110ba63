//! The live consumer of the flows stage's record batches: feeds the detection engine
//! and ticks it every 100 ms (`levee run`), or prints the records as JSON lines and
//! counts them (`levee flows listen`), until a signal, a deadline or the end of input.
//!
//! The consumer runs on its own thread (`levee-detect`, with a single-threaded timer
//! runtime of its own), so the engine's work — accounting, and the once-a-second sweep
//! over every tracked IP (about 48 ms at 1M IPs) — never holds up the async runtime's
//! tasks. The flows stage's bounded channel feeds it; incident events are logged here
//! and handed to the mitigation service through the [`Outlet`], with the engine's
//! counters for /metrics. Between batches the thread also applies configuration
//! updates ([`Update`]) and, every minute and at shutdown, saves the baselines
//! ([`super::snapshot`]).

use super::Update;
use super::snapshot;
use crate::clock::now_us;
use crate::flows::json::write_record;
use crate::flows::{FlowBatch, Ingest, IngestCounters};
use crate::human::plural;
use crate::signals::{shutdown_signal, sleep_until};
use levee_detect::engine::{EngineStats, TICK_US};
use levee_detect::{Engine, Event, EventKind};
use levee_flow::InterfaceCounters;
use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

/// Interfaces whose counters are kept (bounded: agents are not trusted).
const MAX_INTERFACES: usize = 65_536;
/// How often the baselines are saved.
const SNAPSHOT_EVERY: Duration = Duration::from_secs(60);
/// Host-table slots a snapshot encodes per tick (100 ms): about 8 ms of the detection
/// thread each on a loaded 2-core machine (docs/PERFORMANCE.md); 1M IPs take 20 s of
/// ticks, well inside the minute between snapshots.
const SNAPSHOT_SLOTS_PER_TICK: usize = 5_000;

/// What the consumer does with records besides detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// Count only.
    Count,
    /// Print JSON lines to stdout.
    Json,
}

/// How long and how loudly to consume.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// What to do with records.
    pub sink: Sink,
    /// How often to print the counters (zero: never).
    pub stats_every: Duration,
    /// Stop after this long (`None`: at a signal).
    pub duration: Option<Duration>,
}

/// Where the baselines are saved for warm restarts.
#[derive(Debug, Clone)]
pub struct Snapshots {
    /// The file (`<store dir>/baselines.snap`).
    pub path: PathBuf,
    /// The protected networks' fingerprints ([`snapshot::fingerprints`]); a
    /// reconfiguration updates them.
    pub networks: snapshot::Fingerprints,
}

/// Where `levee run` sends what detection produces, and what it takes besides flows:
/// incident events to the mitigation service, the engine's counters for /metrics,
/// configuration updates from a reload, and where to save the baselines.
#[derive(Debug)]
pub struct Outlet {
    /// Incident events, to the mitigation service.
    pub events: mpsc::Sender<Event>,
    /// The engine's counters, refreshed every tick.
    pub stats: Arc<Mutex<EngineStats>>,
    /// Configuration updates (a reload): each is applied between two batches with
    /// [`Engine::reconfigure`], and its result sent back on the update's `reply`. `None`:
    /// the configuration is fixed.
    pub updates: Option<mpsc::Receiver<Update>>,
    /// Where to save the baselines every minute and at shutdown (`None`: never).
    pub snapshots: Option<Snapshots>,
    /// Where each closed second's traffic goes (the traffic history). `None`: the
    /// engine keeps no history.
    pub history: Option<HistoryOutlet>,
}

/// The traffic history's input: each closed second is handed over without waiting; a
/// full channel drops the seconds and counts them in `dropped`.
#[derive(Debug)]
pub struct HistoryOutlet {
    /// The recorder's channel.
    pub seconds: mpsc::Sender<Vec<levee_detect::engine::history::Second>>,
    /// Seconds dropped (shared with /metrics).
    pub dropped: Arc<std::sync::atomic::AtomicU64>,
    /// Whether the live feed has readers ([`crate::live::Feed::listening`]): checked
    /// every tick; while set, each closed second lists the busiest tracked
    /// destinations ([`Engine::record_busiest`]), otherwise that is not even computed.
    pub listening: Arc<std::sync::atomic::AtomicBool>,
}

/// Consumes batches until a signal, the deadline, the end of input or a closed
/// stdout; then stops the inputs, takes what they still held, ends the engine's
/// incidents and prints the totals.
pub async fn consume(
    mut ingest: Ingest,
    rx: mpsc::Receiver<FlowBatch>,
    opts: Options,
    engine: Option<Engine>,
    outlet: Option<Outlet>,
) -> anyhow::Result<()> {
    let detector = Detector::spawn(rx, opts, engine, outlet, ingest.counters.clone())?;
    let Detector {
        thread,
        stop,
        mut done,
    } = detector;
    let deadline = opts.duration.map(|d| tokio::time::Instant::now() + d);
    tokio::select! {
        _ = sleep_until(deadline) => {}
        _ = shutdown_signal() => info!("signal received, stopping"),
        _ = &mut done => {}
    }
    // Stop the inputs first: they hand over what they hold; then the consumer takes it
    // all, ends the engine's incidents and saves the baselines.
    let exporters = ingest.stop().await;
    let _ = stop.send(());
    let (consumer, forward) = tokio::task::spawn_blocking(move || thread.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the detection thread panicked"))?;
    let _ = std::io::stdout().flush();
    eprintln!(
        "levee: consumed {} records; {}",
        consumer.consumed,
        ingest.counters.render()
    );
    if !consumer.interfaces.is_empty() {
        eprintln!(
            "levee: interface counters known for {}",
            plural(consumer.interfaces.len(), "interface", "interfaces")
        );
    }
    eprint!("{exporters}");
    if forward.dropped > 0 {
        warn!(
            dropped_events = forward.dropped,
            "incident events were dropped because mitigation lagged"
        );
    }
    if forward.history_dropped > 0 {
        warn!(
            dropped_seconds = forward.history_dropped,
            "traffic history seconds were dropped because the recorder lagged"
        );
    }
    let dropped = ingest.counters.dropped_records.load(Relaxed);
    if dropped > 0 {
        eprintln!("levee: {dropped} records were dropped because the consumer lagged");
    }
    Ok(())
}

/// The consumer's thread and how to stop it.
#[derive(Debug)]
struct Detector {
    thread: std::thread::JoinHandle<(Consumer, Forward)>,
    /// Tells the thread the inputs are stopped: take what is left and finish.
    stop: oneshot::Sender<()>,
    /// Resolves when the thread's loop ended by itself (end of input, closed stdout).
    done: oneshot::Receiver<()>,
}

impl Detector {
    fn spawn(
        rx: mpsc::Receiver<FlowBatch>,
        opts: Options,
        engine: Option<Engine>,
        outlet: Option<Outlet>,
        counters: Arc<IngestCounters>,
    ) -> std::io::Result<Detector> {
        let (stop_tx, stop_rx) = oneshot::channel();
        let (done_tx, done_rx) = oneshot::channel();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?;
        let mut state = State {
            engine,
            consumer: Consumer {
                sink: Some(opts.sink),
                line: String::with_capacity(1 << 16),
                ..Consumer::default()
            },
            updates: None,
            snapshots: None,
            encoding: None,
            writer: None,
            forward: Forward {
                outlet: None,
                dropped: 0,
                history_dropped: 0,
            },
            counters,
            stats_every: opts.stats_every,
        };
        if let Some(mut o) = outlet {
            state.updates = o.updates.take();
            state.snapshots = o.snapshots.take();
            if let Some(e) = state.engine.as_mut() {
                e.record_history(o.history.is_some());
            }
            state.forward.outlet = Some(o);
        }
        let thread = std::thread::Builder::new()
            .name("levee-detect".into())
            .spawn(move || rt.block_on(state.run(rx, stop_rx, done_tx)))?;
        Ok(Detector {
            thread,
            stop: stop_tx,
            done: done_rx,
        })
    }
}

/// What the consumer's thread holds.
#[derive(Debug)]
struct State {
    engine: Option<Engine>,
    consumer: Consumer,
    forward: Forward,
    updates: Option<mpsc::Receiver<Update>>,
    snapshots: Option<Snapshots>,
    /// The snapshot being encoded, a slice per tick.
    encoding: Option<snapshot::Encoder>,
    /// The snapshot being written, off this thread.
    writer: Option<std::thread::JoinHandle<()>>,
    counters: Arc<IngestCounters>,
    stats_every: Duration,
}

impl State {
    /// The loop: batches in, engine ticks, updates, snapshots and periodic counters,
    /// until told to stop (or the input ends); then what is left in the channel, the
    /// last snapshot and the end of open incidents.
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<FlowBatch>,
        mut stop: oneshot::Receiver<()>,
        done: oneshot::Sender<()>,
    ) -> (Consumer, Forward) {
        let period = if self.stats_every.is_zero() {
            Duration::from_secs(3600 * 24)
        } else {
            self.stats_every
        };
        let mut stats = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        let mut ticks = tokio::time::interval(Duration::from_micros(TICK_US));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut snaps =
            tokio::time::interval_at(tokio::time::Instant::now() + SNAPSHOT_EVERY, SNAPSHOT_EVERY);
        let detecting = self.engine.is_some();
        let saving = detecting && self.snapshots.is_some();
        let mut stopped = false;
        loop {
            tokio::select! {
                b = rx.recv() => {
                    let Some(b) = b else { break };
                    if let Some(e) = self.engine.as_mut() {
                        e.ingest(&b.records);
                    }
                    if !self.consumer.take(b) {
                        break;
                    }
                }
                _ = ticks.tick(), if detecting => {
                    self.tick();
                    self.encode_step();
                }
                u = next_update(&mut self.updates) => match u {
                    Some(u) => self.apply(u),
                    None => self.updates = None,
                },
                _ = snaps.tick(), if saving => self.save(false),
                _ = stats.tick(), if !self.stats_every.is_zero() => {
                    eprintln!("levee: consumed {} records; {}", self.consumer.consumed, self.counters.render());
                    if let Some(e) = self.engine.as_ref() {
                        log_stats(&e.stats());
                    }
                }
                _ = &mut stop => {
                    stopped = true;
                    break;
                }
            }
        }
        let _ = done.send(());
        if !stopped {
            // Ended by itself: the inputs are stopped next; wait for what they hand over.
            let _ = stop.await;
        }
        while let Ok(b) = rx.try_recv() {
            if let Some(e) = self.engine.as_mut() {
                e.ingest(&b.records);
            }
            self.consumer.take(b);
        }
        if saving {
            self.save(true);
        }
        if let Some(mut e) = self.engine.take() {
            e.finish(now_us())
                .into_iter()
                .for_each(|ev| self.forward.send(ev));
            self.forward.publish(e.stats());
            self.forward.history(&mut e);
        }
        (self.consumer, self.forward)
    }

    fn tick(&mut self) {
        if let Some(e) = self.engine.as_mut() {
            if let Some(h) = self
                .forward
                .outlet
                .as_ref()
                .and_then(|o| o.history.as_ref())
            {
                let wanted = h.listening.load(Relaxed);
                e.record_busiest(if wanted { crate::live::TOP } else { 0 });
            }
            e.tick(now_us())
                .into_iter()
                .for_each(|ev| self.forward.send(ev));
            self.forward.publish(e.stats());
            self.forward.history(e);
        }
    }

    /// Applies a configuration update and answers it.
    fn apply(&mut self, u: Update) {
        let Some(e) = self.engine.as_mut() else {
            // No engine (`flows listen`): nothing to reconfigure; the sender sees its
            // reply channel closed.
            return;
        };
        let fingerprint = snapshot::fingerprints(&u.config.networks);
        let r = e.reconfigure(u.config, u.intel, now_us());
        match &r {
            Ok(done) => {
                info!(
                    hosts_kept = done.hosts_kept,
                    hosts_dropped = done.hosts_dropped,
                    networks_kept = done.networks_kept,
                    incidents_ended = done.incidents_ended,
                    "detection reconfigured"
                );
                if let Some(s) = self.snapshots.as_mut() {
                    s.networks = fingerprint;
                }
                // Its slots moved: the next minute's snapshot starts over.
                self.encoding = None;
            }
            Err(err) => warn!(%err, "detection configuration refused; keeping the running one"),
        }
        let _ = u.reply.send(r);
    }

    /// Starts a snapshot (every minute; encoded a slice per tick by
    /// [`State::encode_step`], written off this thread), or at shutdown (`last`) encodes
    /// and writes one here and now. A minute's snapshot is skipped while the last one is
    /// still being encoded or written.
    fn save(&mut self, last: bool) {
        let (Some(e), Some(s)) = (self.engine.as_ref(), self.snapshots.as_ref()) else {
            return;
        };
        if let Some(w) = self.writer.take() {
            if !last && !w.is_finished() {
                self.writer = Some(w);
                return;
            }
            let _ = w.join();
        }
        if last {
            self.encoding = None;
            let done = snapshot::encode(e, &s.networks, now_us());
            log_capped(&done);
            match snapshot::write(&s.path, &done.bytes) {
                Ok(()) => {
                    info!(path = %s.path.display(), hosts = done.hosts, bytes = done.bytes.len(), "baselines saved for the next start")
                }
                Err(err) => warn!(%err, "cannot save the baselines"),
            }
        } else if self.encoding.is_none() {
            self.encoding = Some(snapshot::Encoder::start(
                e,
                &s.networks,
                now_us(),
                snapshot::MAX_FILE_BYTES,
            ));
        }
    }

    /// Encodes the next slice of the snapshot under way; at the table's end, hands the
    /// file to a writer thread.
    fn encode_step(&mut self) {
        let (Some(e), Some(s), Some(enc)) = (
            self.engine.as_ref(),
            self.snapshots.as_ref(),
            self.encoding.as_mut(),
        ) else {
            return;
        };
        if !enc.step(e, SNAPSHOT_SLOTS_PER_TICK) {
            return;
        }
        let Some(enc) = self.encoding.take() else {
            return;
        };
        let done = enc.finish();
        log_capped(&done);
        let path = s.path.clone();
        let write = move || match snapshot::write(&path, &done.seal().bytes) {
            Ok(()) => {
                debug!(path = %path.display(), "baselines saved")
            }
            Err(err) => warn!(%err, "cannot save the baselines"),
        };
        match std::thread::Builder::new()
            .name("levee-snapshot".into())
            .spawn(write)
        {
            Ok(h) => self.writer = Some(h),
            Err(err) => warn!(%err, "cannot start the snapshot writer"),
        }
    }
}

/// Says so when a snapshot reached its size cap.
fn log_capped(done: &snapshot::Encoded) {
    if done.left_out > 0 {
        warn!(
            saved = done.hosts,
            left_out = done.left_out,
            max_bytes = snapshot::MAX_FILE_BYTES,
            "baseline snapshot reached its size cap: the IPs left out warm up after a restart"
        );
    }
}

/// The next update, or never when there is no update channel.
async fn next_update(updates: &mut Option<mpsc::Receiver<Update>>) -> Option<Update> {
    match updates {
        Some(u) => u.recv().await,
        None => std::future::pending().await,
    }
}

fn log_stats(s: &EngineStats) {
    info!(
        tracked = s.tracked,
        evicted = s.evicted,
        untracked = s.untracked,
        outside = s.outside,
        active = s.incidents_active,
        started = s.incidents_started,
        "detection"
    );
}

/// Logs each event and hands it to the outlet, counting what it could not take.
#[derive(Debug)]
struct Forward {
    outlet: Option<Outlet>,
    dropped: u64,
    /// Seconds of traffic history the recorder could not take (its queue was full).
    history_dropped: u64,
}

impl Forward {
    fn send(&mut self, e: Event) {
        log_event(&e);
        if let Some(o) = &self.outlet
            && o.events.try_send(e).is_err()
        {
            self.dropped += 1;
        }
    }

    /// Hands the seconds the engine closed to the traffic history, without waiting.
    fn history(&mut self, e: &mut Engine) {
        let Some(h) = self.outlet.as_ref().and_then(|o| o.history.as_ref()) else {
            return;
        };
        let seconds = e.take_history();
        if seconds.is_empty() {
            return;
        }
        let n = seconds.len() as u64;
        if h.seconds.try_send(seconds).is_err() {
            if self.history_dropped == 0 {
                warn!("traffic history lagging: seconds dropped (counted)");
            }
            self.history_dropped += n;
            h.dropped.fetch_add(n, Relaxed);
        }
    }

    fn publish(&self, stats: EngineStats) {
        if let Some(Ok(mut s)) = self.outlet.as_ref().map(|o| o.stats.lock()) {
            *s = stats;
        }
    }
}

/// Logs an incident event: a start as a warning, an end as info, updates at debug.
fn log_event(e: &Event) {
    let (id, victim, family, vector) = (e.id, &e.victim, e.family.as_str(), e.vector.as_str());
    match e.kind {
        EventKind::Start => warn!(
            id, %victim, family, vector,
            pps = e.rate.pps, bps = e.rate.bps, confidence = e.confidence,
            trigger = e.trigger.metric.as_str(), threshold = e.trigger.threshold,
            reason = %super::events::reason(e.trigger.reason),
            "incident started"
        ),
        EventKind::Update => debug!(
            id, %victim, family, vector,
            pps = e.rate.pps, bps = e.rate.bps, confidence = e.confidence,
            sources = e.distinct_sources, "incident update"
        ),
        EventKind::End => info!(
            id, %victim, family, vector,
            peak_pps = e.peak.pps, peak_bps = e.peak.bps, confidence = e.confidence,
            sources = e.distinct_sources, "incident ended"
        ),
    }
}

/// Takes record batches: counts them, keeps the latest interface counters, prints
/// JSON lines for `flows listen`.
#[derive(Debug, Default)]
struct Consumer {
    sink: Option<Sink>,
    line: String,
    consumed: u64,
    stdout_closed: bool,
    /// Latest sFlow interface counters per (agent, ifIndex), for the status page to come.
    interfaces: HashMap<(IpAddr, u32), InterfaceCounters>,
}

impl Consumer {
    /// Returns false once stdout is closed (`| head`): the run ends quietly.
    fn take(&mut self, b: FlowBatch) -> bool {
        self.consumed += b.records.len() as u64;
        for c in b.counters {
            let key = (c.agent, c.if_index);
            if self.interfaces.len() < MAX_INTERFACES || self.interfaces.contains_key(&key) {
                self.interfaces.insert(key, c);
            }
        }
        if self.sink == Some(Sink::Json) && !self.stdout_closed {
            for r in &b.records {
                write_record(&mut self.line, r);
            }
            if std::io::stdout()
                .lock()
                .write_all(self.line.as_bytes())
                .is_err()
            {
                self.stdout_closed = true;
            }
            self.line.clear();
        }
        !self.stdout_closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use levee_detect::policy::{Policy, Reason};
    use levee_detect::{EngineConfig, NetworkConfig, Victim};
    use levee_flow::{FlowRecord, FlowType};

    fn config(prefixes: &[&str], max_tracked: usize) -> EngineConfig {
        EngineConfig {
            networks: vec![NetworkConfig {
                name: "lab".into(),
                prefixes: prefixes.iter().map(|p| p.parse().unwrap()).collect(),
                policy: Policy::default(),
            }],
            max_tracked,
            ..EngineConfig::default()
        }
    }

    /// 200k pps sampled 1:1000 to `dst` over the last half second of wall time.
    fn flood(dst: &str) -> FlowBatch {
        let now = now_us();
        let records = (0..100u64)
            .map(|k| {
                let mut r = FlowRecord::blank(
                    now - 500_000 + k * 5_000,
                    "192.0.2.1".parse().unwrap(),
                    FlowType::Sflow,
                );
                r.dst_addr = dst.parse().unwrap();
                r.src_addr = "198.51.100.9".parse().unwrap();
                r.protocol = 17;
                r.set_scaled(1000, 1, 512);
                r
            })
            .collect();
        FlowBatch {
            records,
            counters: Vec::new(),
        }
    }

    async fn next_event(rx: &mut mpsc::Receiver<Event>, kind: EventKind) -> Event {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let e = tokio::time::timeout_at(deadline, rx.recv())
                .await
                .expect("no event within 60 s")
                .expect("events channel closed");
            if e.kind == kind {
                return e;
            }
        }
    }

    /// Through the loop on its thread: an update protecting a new prefix is applied
    /// between batches and answered; a flood there is then detected; a refused update
    /// keeps the running settings; stopping ends the open incident and saves nothing
    /// without a snapshot path.
    #[tokio::test(flavor = "current_thread")]
    async fn updates_are_applied_between_batches_and_answered() {
        let (tx, rx) = mpsc::channel(16);
        let (events_tx, mut events) = mpsc::channel(64);
        let (updates_tx, updates) = mpsc::channel(4);
        let engine = Engine::new(config(&["203.0.113.0/24"], 1000), now_us(), 1, 1);
        let outlet = Outlet {
            events: events_tx,
            stats: Arc::default(),
            updates: Some(updates),
            snapshots: None,
            history: None,
        };
        let opts = Options {
            sink: Sink::Count,
            stats_every: Duration::ZERO,
            duration: None,
        };
        let d = Detector::spawn(rx, opts, Some(engine), Some(outlet), Arc::default()).unwrap();
        // Not protected yet: a flood to 198.51.100.5 is outside.
        tx.send(flood("198.51.100.5")).await.unwrap();
        let (reply, answer) = oneshot::channel();
        let update = Update {
            config: config(&["203.0.113.0/24", "198.51.100.0/24"], 1000),
            intel: None,
            reply,
        };
        updates_tx.send(update).await.unwrap();
        let done = answer.await.unwrap().unwrap();
        assert_eq!(done.networks_kept, 0);
        tx.send(flood("198.51.100.5")).await.unwrap();
        let start = next_event(&mut events, EventKind::Start).await;
        assert_eq!(start.victim, Victim::Host("198.51.100.5".parse().unwrap()));
        assert_eq!(start.trigger.reason, Reason::Warmup);
        // A refused update: answered with the error, the flood's incident goes on.
        let (reply, answer) = oneshot::channel();
        let update = Update {
            config: config(&["203.0.113.0/24"], 0),
            intel: None,
            reply,
        };
        updates_tx.send(update).await.unwrap();
        assert!(answer.await.unwrap().is_err());
        let _ = d.stop.send(());
        let (consumer, forward) = tokio::task::spawn_blocking(move || d.thread.join())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(consumer.consumed, 200);
        assert_eq!(forward.dropped, 0);
        let end = next_event(&mut events, EventKind::End).await;
        assert_eq!(end.id, start.id);
    }
}
