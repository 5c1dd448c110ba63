//! The live consumer of the flows stage's record batches: feeds the detection engine
//! and ticks it every 100 ms (`levee run`), or prints the records as JSON lines and
//! counts them (`levee flows listen`), until a signal, a deadline or the end of input.
//! Incident events are logged here and handed to the mitigation service through the
//! [`Outlet`]; the engine's counters are published there for /metrics.

use crate::clock::now_us;
use crate::flows::json::write_record;
use crate::flows::{FlowBatch, Ingest};
use crate::human::plural;
use crate::signals::{shutdown_signal, sleep_until};
use levee_detect::engine::{EngineStats, TICK_US};
use levee_detect::{Engine, Event, EventKind};
use levee_flow::InterfaceCounters;
use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// Interfaces whose counters are kept (bounded: agents are not trusted).
const MAX_INTERFACES: usize = 65_536;

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

/// Where `levee run` sends what detection produces: incident events to the
/// mitigation service, and the engine's counters for /metrics.
#[derive(Debug)]
pub struct Outlet {
    /// Incident events, to the mitigation service.
    pub events: mpsc::Sender<Event>,
    /// The engine's counters, refreshed every tick.
    pub stats: Arc<Mutex<EngineStats>>,
}

/// Consumes batches until a signal, the deadline, the end of input or a closed
/// stdout; then stops the inputs, takes what they still held, ends the engine's
/// incidents and prints the totals.
pub async fn consume(
    mut ingest: Ingest,
    mut rx: mpsc::Receiver<FlowBatch>,
    opts: Options,
    mut engine: Option<Engine>,
    outlet: Option<Outlet>,
) -> anyhow::Result<()> {
    let mut consumer = Consumer {
        sink: Some(opts.sink),
        line: String::with_capacity(1 << 16),
        ..Consumer::default()
    };
    let mut forward = Forward { outlet, dropped: 0 };
    run_loop(
        &ingest,
        &mut rx,
        opts,
        &mut engine,
        &mut consumer,
        &mut forward,
    )
    .await;
    // Stop the inputs first: they hand over what they hold; then take it all.
    let exporters = ingest.stop().await;
    while let Ok(b) = rx.try_recv() {
        if let Some(e) = engine.as_mut() {
            e.ingest(&b.records);
        }
        consumer.take(b);
    }
    if let Some(mut e) = engine {
        e.finish(now_us()).into_iter().for_each(|e| forward.send(e));
    }
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
    let dropped = ingest.counters.dropped_records.load(Relaxed);
    if dropped > 0 {
        eprintln!("levee: {dropped} records were dropped because the consumer lagged");
    }
    Ok(())
}

/// The loop: batches in, engine ticks, periodic counters, until told to stop.
async fn run_loop(
    ingest: &Ingest,
    rx: &mut mpsc::Receiver<FlowBatch>,
    opts: Options,
    engine: &mut Option<Engine>,
    consumer: &mut Consumer,
    forward: &mut Forward,
) {
    let deadline = opts.duration.map(|d| tokio::time::Instant::now() + d);
    let period = if opts.stats_every.is_zero() {
        Duration::from_secs(3600 * 24)
    } else {
        opts.stats_every
    };
    let mut stats = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let mut ticks = tokio::time::interval(Duration::from_micros(TICK_US));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // Created once, so a signal between two loop turns is not missed.
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            b = rx.recv() => {
                let Some(b) = b else { break };
                if let Some(e) = engine.as_mut() {
                    e.ingest(&b.records);
                }
                if !consumer.take(b) {
                    break;
                }
            }
            _ = ticks.tick(), if engine.is_some() => {
                if let Some(e) = engine.as_mut() {
                    e.tick(now_us()).into_iter().for_each(|ev| forward.send(ev));
                    forward.publish(e.stats());
                }
            }
            _ = stats.tick(), if !opts.stats_every.is_zero() => {
                eprintln!("levee: consumed {} records; {}", consumer.consumed, ingest.counters.render());
                if let Some(e) = engine.as_ref() {
                    log_stats(&e.stats());
                }
            }
            _ = sleep_until(deadline) => break,
            _ = &mut shutdown => {
                info!("signal received, stopping");
                break;
            }
        }
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
