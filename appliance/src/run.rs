//! `levee run` and `levee flows listen`: start ingestion and consume its batches until a
//! signal (or the requested duration) ends it.

use crate::adapters::{Kind, native};
use crate::cli::ListenArgs;
use crate::config::{Config, Listener, ListenerKind, Mirror};
use crate::flows::json::write_record;
use crate::flows::{FlowBatch, Ingest};
use crate::mitigation::service::{Command, Request, Service};
use crate::store::Store;
use levee_bgp::speaker::{ShutdownPolicy, Speaker};
use levee_flow::InterfaceCounters;
use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// Interfaces whose counters are kept (bounded: agents are not trusted).
const MAX_INTERFACES: usize = 65_536;

/// How the consumer treats records until the detection engine takes them over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sink {
    /// Count only.
    Count,
    /// Print JSON lines to stdout.
    Json,
}

/// `levee run`.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    // Before the store, any socket or any stage: one daemon per run directory.
    let run_dir = cfg
        .mitigation
        .control_socket
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let _instance = crate::pidlock::PidLock::instance(run_dir)?;
    info!(origin = %cfg.origin, "levee starting");
    let intel = crate::detection::load_threat_intel(&cfg)?;
    let engine = crate::detection::engine(&cfg, intel, now_us(), seed(), first_id());
    if cfg.protected_networks.is_empty() {
        warn!("no protected networks configured: flows are counted, nothing is detected");
        for line in next_steps(&cfg).lines() {
            warn!("{line}");
        }
    }
    // Mitigation first: the routes active at the last stop go out again before any
    // new flow arrives.
    let acting = Acting::start(&cfg).await?;
    let (mut ingest, rx) = match Ingest::start(&cfg) {
        Ok(x) => x,
        Err(e) => {
            acting.stop().await;
            return Err(e.into());
        }
    };
    for (kind, addr) in &ingest.bound {
        info!(kind, %addr, "listener bound");
    }
    let stats = Arc::new(Mutex::new(levee_detect::engine::EngineStats::default()));
    let web = match cfg.web {
        None => None,
        Some(listen) => {
            let kinds = ingest
                .bound
                .iter()
                .map(|(k, _)| *k)
                .chain(std::iter::repeat("mirror"));
            let sources = crate::web::Sources {
                ingest: ingest.counters.clone(),
                exporters: kinds.zip(ingest.exporters.iter().cloned()).collect(),
                detection: stats.clone(),
                commands: acting.service.commands.clone(),
                speaker: acting.speaker.as_ref().map(|(s, _)| Arc::downgrade(s)),
            };
            match crate::web::Web::start(listen, sources).await {
                Ok(w) => {
                    info!(addr = %w.addr, "metrics at http://{}/metrics", w.addr);
                    Some(w)
                }
                Err(e) => {
                    ingest.stop().await;
                    acting.stop().await;
                    return Err(e);
                }
            }
        }
    };
    let reloader = tokio::spawn(reload_on_sighup(
        cfg.clone(),
        acting.service.commands.clone(),
    ));
    let r = consume(
        ingest,
        rx,
        Some(Sink::Count),
        Duration::from_secs(60),
        None,
        Some(engine),
        Some(Outlet {
            events: acting.service.events.clone(),
            stats,
        }),
    )
    .await;
    reloader.abort();
    if let Some(w) = web {
        w.stop();
    }
    acting.stop().await;
    r
}

/// What to do next, for an operator whose config protects nothing yet.
fn next_steps(cfg: &Config) -> String {
    let listeners: Vec<String> = cfg
        .listeners
        .iter()
        .map(|l| format!("{} on {}", l.kind.as_str(), l.bind))
        .collect();
    let page = match cfg.web {
        Some(a) => format!("http://{a}/metrics"),
        None => "off: add web: {listen: 127.0.0.1:9750} to serve /metrics".into(),
    };
    format!(
        "next steps: 1. copy {example} to {default} and list your prefixes under \
         protected_networks (and a bgp peer for your edge router);\n\
         next steps: 2. point your routers' sFlow/NetFlow/IPFIX exports at this host \
         ({listeners});\n\
         next steps: 3. validate with `levee check`, then restart levee (or send it SIGHUP);\n\
         next steps: metrics: {page}",
        example = crate::config::EXAMPLE_PATH,
        default = crate::config::DEFAULT_PATH,
        listeners = if listeners.is_empty() {
            "no listeners enabled".into()
        } else {
            listeners.join(", ")
        },
    )
}

/// SIGHUP: reads the config again. A config that does not validate is logged and the
/// running one kept; a valid one gives the mitigation engine its new settings (ladders,
/// TTL, caps, safelist, dry run). Listeners, peers and detection settings are read at
/// start only: a change to them is logged as needing a restart.
async fn reload_on_sighup(mut running: Config, commands: mpsc::Sender<Command>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        warn!("cannot listen for SIGHUP: config reload is off");
        return;
    };
    while hup.recv().await.is_some() {
        let fresh = if running.origin == "<embedded defaults>" {
            Config::parse(crate::config::EMBEDDED_DEFAULTS, &running.origin)
        } else {
            Config::load(std::path::Path::new(&running.origin))
        };
        let new = match fresh {
            Ok(c) => c,
            Err(errors) => {
                warn!(origin = %running.origin, %errors, "config reload failed; keeping the running config");
                continue;
            }
        };
        let mut restart = Vec::new();
        if new.listeners != running.listeners || new.mirror != running.mirror {
            restart.push("listeners");
        }
        if new.bgp != running.bgp {
            restart.push("bgp");
        }
        if new.detection != running.detection
            || new
                .protected_networks
                .iter()
                .map(|n| (&n.name, &n.prefixes, &n.policy))
                .ne(running
                    .protected_networks
                    .iter()
                    .map(|n| (&n.name, &n.prefixes, &n.policy)))
        {
            restart.push("detection");
        }
        if new.rpki != running.rpki {
            restart.push("rpki");
        }
        if new.mitigation.adapters != running.mitigation.adapters
            || new.mitigation.store != running.mitigation.store
            || new.mitigation.control_socket != running.mitigation.control_socket
        {
            restart.push("adapters, store and control socket");
        }
        if !restart.is_empty() {
            warn!(sections = %restart.join(", "), "changed in the config; they take effect at the next restart");
        }
        let (reply, rx) = tokio::sync::oneshot::channel();
        let request = Request::Reconfigure(Box::new(new.mitigation.settings.clone()));
        if commands.send(Command { request, reply }).await.is_err() {
            return;
        }
        let _ = rx.await;
        info!(origin = %new.origin, "config reloaded");
        running = new;
    }
}

/// The acting half of the daemon: the BGP speaker, the adapters, the mitigation task
/// with its store, and the control socket.
struct Acting {
    service: Service,
    control: crate::control::Server,
    speaker: Option<(Arc<Speaker>, ShutdownPolicy)>,
    rpki: Option<crate::rpki::Rpki>,
}

impl Acting {
    async fn start(cfg: &Config) -> anyhow::Result<Acting> {
        let m = &cfg.mitigation;
        let store = Store::open(&m.store)?;
        info!(path = %m.store.display(), "store opened");
        let (reports_tx, reports) = mpsc::unbounded_channel();
        let mut adapters = Vec::new();
        let mut speaker = None;
        if let Some(bgp) = &cfg.bgp {
            let s = Arc::new(Speaker::start(bgp.speaker.clone()).await?);
            if let Some(a) = s.listen_addr() {
                info!(%a, "BGP listening");
            }
            for p in &bgp.speaker.peers {
                info!(peer = %p.name, address = %p.address, remote_as = p.remote_as, "BGP peer configured");
            }
            if let Some(a) = m.adapters.iter().find(|a| a.kind == Kind::Native) {
                adapters.push(native::start(s.clone(), a.levels, reports_tx.clone()));
            }
            speaker = Some((s, bgp.shutdown.clone()));
        }
        for a in &m.adapters {
            // The native adapter started with the speaker, above.
            let Some(h) = a.kind.start(a.levels, reports_tx.clone()) else {
                continue;
            };
            adapters.push(h);
            info!(adapter = a.kind.name(), levels = %a.levels, "mitigation adapter started");
        }
        if adapters.is_empty() {
            warn!("no mitigation adapters: decisions are recorded, nothing is announced");
        }
        if m.settings.dry_run {
            warn!("dry run: mitigation decisions are logged and stored, nothing is announced");
        }
        let rpki = cfg.rpki.clone().map(|r| {
            info!(caches = ?r.caches, policy = ?r.policy, fail = ?r.fail, origins = ?r.origins, "RPKI gate on");
            crate::rpki::Rpki::start(r)
        });
        let service = Service::start(m.settings.clone(), store, adapters, reports, rpki.as_ref())?;
        let control = crate::control::Server::start(&m.control_socket, service.commands.clone())?;
        info!(socket = %m.control_socket.display(), "control socket ready");
        Ok(Acting {
            service,
            control,
            speaker,
            rpki,
        })
    }

    async fn stop(self) {
        self.control.stop();
        self.service.stop().await;
        if let Some(r) = self.rpki {
            r.stop();
        }
        if let Some((s, policy)) = self.speaker {
            match Arc::try_unwrap(s) {
                Ok(s) => s.shutdown(policy, crate::speaker::SHUTDOWN_WAIT).await,
                Err(_) => {
                    warn!("BGP speaker still in use at shutdown; sessions end with the process")
                }
            }
        }
    }
}

/// Wall-clock microseconds since the Unix epoch: the daemon's clock (detection,
/// mitigation, the store).
pub(crate) fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// A random seed for the engine's keyed hashes (std's randomly keyed SipHash as the
/// entropy source, so no extra dependency).
fn seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(now_us())
}

/// Incident ids unique across restarts: milliseconds at start, times 1000.
fn first_id() -> u64 {
    now_us() / 1000 * 1000
}

/// Logs an incident event.
fn log_event(e: &levee_detect::Event) {
    let (id, victim, family, vector) = (e.id, &e.victim, e.family.as_str(), e.vector.as_str());
    match e.kind {
        levee_detect::EventKind::Start => warn!(
            id, %victim, family, vector,
            pps = e.rate.pps, bps = e.rate.bps, confidence = e.confidence,
            trigger = e.trigger.metric.as_str(), threshold = e.trigger.threshold,
            "incident started"
        ),
        levee_detect::EventKind::Update => debug!(
            id, %victim, family, vector,
            pps = e.rate.pps, bps = e.rate.bps, confidence = e.confidence,
            sources = e.distinct_sources, "incident update"
        ),
        levee_detect::EventKind::End => info!(
            id, %victim, family, vector,
            peak_pps = e.peak.pps, peak_bps = e.peak.bps, confidence = e.confidence,
            sources = e.distinct_sources, "incident ended"
        ),
    }
}

/// `levee flows listen`.
pub async fn listen(mut cfg: Config, args: &ListenArgs) -> anyhow::Result<()> {
    let explicit = [
        (ListenerKind::Sflow, args.sflow),
        (ListenerKind::Netflow, args.netflow),
        (ListenerKind::Ipfix, args.ipfix),
    ];
    // Any address or --mirror flag replaces the config's inputs with exactly those.
    if explicit.iter().any(|(_, a)| a.is_some()) || !args.mirror.is_empty() {
        let rcvbuf = cfg.listeners.first().map_or(32 << 20, |l| l.receive_buffer);
        cfg.listeners = explicit
            .iter()
            .filter_map(|(kind, a)| {
                a.map(|bind| Listener {
                    kind: *kind,
                    bind,
                    receive_buffer: rcvbuf,
                })
            })
            .collect();
        let sampling = NonZeroU32::new(args.mirror_sampling).unwrap_or(NonZeroU32::MIN);
        cfg.mirror = args
            .mirror
            .iter()
            .map(|interface| Mirror {
                interface: interface.clone(),
                bpf: args.bpf.clone(),
                sampling,
            })
            .collect();
    }
    let (ingest, rx) = Ingest::start(&cfg)?;
    for (kind, addr) in &ingest.bound {
        eprintln!("levee: listening for {kind} on {addr}");
    }
    for m in &cfg.mirror {
        eprintln!(
            "levee: capturing on {} (sampling 1:{})",
            m.interface, m.sampling
        );
    }
    let sink = Some(if args.quiet { Sink::Count } else { Sink::Json });
    let every = Duration::from_secs(args.stats_every);
    consume(
        ingest,
        rx,
        sink,
        every,
        args.duration.map(Duration::from_secs),
        None,
        None,
    )
    .await
}

async fn consume(
    mut ingest: Ingest,
    mut rx: mpsc::Receiver<FlowBatch>,
    sink: Option<Sink>,
    stats_every: Duration,
    duration: Option<Duration>,
    mut engine: Option<levee_detect::Engine>,
    outlet: Option<Outlet>,
) -> anyhow::Result<()> {
    let mut dropped_events = 0u64;
    let stats_out = outlet.as_ref().map(|o| o.stats.clone());
    let mut forward = |e: levee_detect::Event| {
        log_event(&e);
        if let Some(o) = &outlet
            && o.events.try_send(e).is_err()
        {
            dropped_events += 1;
        }
    };
    let mut consumer = Consumer {
        sink,
        line: String::with_capacity(1 << 16),
        ..Consumer::default()
    };
    let deadline = duration.map(|d| tokio::time::Instant::now() + d);
    let period = if stats_every.is_zero() {
        Duration::from_secs(3600 * 24)
    } else {
        stats_every
    };
    let mut stats = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let tick = Duration::from_micros(levee_detect::engine::TICK_US);
    let mut ticks = tokio::time::interval(tick);
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
                    e.tick(now_us()).into_iter().for_each(&mut forward);
                    if let Some(Ok(mut s)) = stats_out.as_ref().map(|s| s.lock()) {
                        *s = e.stats();
                    }
                }
            }
            _ = stats.tick(), if !stats_every.is_zero() => {
                eprintln!("levee: consumed {} records; {}", consumer.consumed, ingest.counters.render());
                if let Some(e) = &engine {
                    let s = e.stats();
                    info!(
                        tracked = s.tracked, evicted = s.evicted, untracked = s.untracked,
                        outside = s.outside, active = s.incidents_active,
                        started = s.incidents_started, "detection"
                    );
                }
            }
            _ = sleep_until(deadline) => break,
            _ = &mut shutdown => {
                info!("signal received, stopping");
                break;
            }
        }
    }
    // Stop the inputs first: they hand over what they hold; then take it all.
    let exporters = ingest.stop().await;
    while let Ok(b) = rx.try_recv() {
        if let Some(e) = engine.as_mut() {
            e.ingest(&b.records);
        }
        consumer.take(b);
    }
    if let Some(mut e) = engine {
        e.finish(now_us()).into_iter().for_each(&mut forward);
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
            crate::config::plural(consumer.interfaces.len(), "interface", "interfaces")
        );
    }
    eprint!("{exporters}");
    if dropped_events > 0 {
        warn!(
            dropped_events,
            "incident events were dropped because mitigation lagged"
        );
    }
    let dropped = ingest.counters.dropped_records.load(Relaxed);
    if dropped > 0 {
        eprintln!("levee: {dropped} records were dropped because the consumer lagged");
    }
    Ok(())
}

/// Where `levee run` sends what detection produces: incident events to the
/// mitigation task, and the engine's counters for /metrics.
#[derive(Debug)]
struct Outlet {
    events: mpsc::Sender<levee_detect::Event>,
    stats: Arc<Mutex<levee_detect::engine::EngineStats>>,
}

/// Takes record batches until the detection engine does.
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

pub(crate) async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

pub(crate) async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
