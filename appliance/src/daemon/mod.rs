//! `levee run`, the daemon: one instance per run directory ([`crate::pidlock`]), the
//! acting stages first ([`acting`]: store, speaker, adapters, RPKI, mitigation service,
//! control socket), then the flows stage and the web endpoint, then the detection loop
//! ([`crate::detection::live`]) until a signal; SIGHUP and `levee reload` reload
//! ([`reload`]).
//! `levee flows listen` ([`listen`]) runs the flows stage alone.
//!
//! This is the wiring: it imports every stage; no stage imports it.

mod acting;
mod listen;
mod reload;

pub use listen::listen;

use crate::clock::now_us;
use crate::config::Config;
use crate::detection::live::{HistoryOutlet, Options, Outlet, Sink, Snapshots, consume};
use crate::detection::snapshot;
use crate::flows::Ingest;
use crate::history::History;
use acting::Acting;
use reload::Reloader;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::{info, warn};

/// `levee run` (`args`: its flags).
pub async fn run(cfg: Config, args: &crate::cli::RunArgs) -> anyhow::Result<()> {
    // Before the store, any socket or any stage: one daemon per run directory.
    let run_dir = cfg
        .mitigation
        .control_socket
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let _instance = crate::pidlock::PidLock::instance(run_dir)?;
    info!(origin = %cfg.origin, "levee starting");
    // The web endpoint is bound first (its binding rule and TLS files checked), so its
    // address is in the first lines and a busy port stops levee before anything
    // starts; it serves once the stages it reads run.
    let web = match &cfg.web {
        None => None,
        Some(w) => {
            let opened =
                crate::web::Web::open(w, &crate::auth::path_beside(&cfg.mitigation.store)).await?;
            let scheme = crate::web::Web::scheme(w);
            info!(addr = %opened.addr(), "status page at {scheme}://{}/", opened.addr());
            Some(opened)
        }
    };
    let intel = crate::detection::load_threat_intel(&cfg.detection.threat_intel)?;
    let engine_cfg = cfg.engine_config();
    let snapshots = Snapshots {
        path: snapshot::path_beside(&cfg.mitigation.store),
        networks: snapshot::fingerprints(&engine_cfg.networks),
    };
    let mut engine = crate::detection::engine(engine_cfg, intel, now_us(), seed(), first_id());
    warm_start(&mut engine, &snapshots);
    if cfg.protected_networks.is_empty() {
        warn!("no protected networks configured: flows are counted, nothing is detected");
        for line in next_steps(&cfg).lines() {
            warn!("{line}");
        }
    }
    // The inputs are bound next, so a busy port stops levee before any stage starts;
    // then mitigation: the routes active at the last stop go out again before any
    // new flow is read.
    let bound = Ingest::bind(&cfg.flows())?;
    let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(4);
    let feed = crate::live::Feed::new();
    let acting = Acting::start(&cfg, args.accept_broken_audit, reload_tx, feed.clone()).await?;
    let (mut ingest, rx) = match bound.start() {
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
    let history_counters = Arc::new(crate::history::Counters::default());
    let listening = feed.listening();
    let (history, seconds) = History::start(
        cfg.history,
        acting.service.store.clone(),
        history_counters.clone(),
        feed.clone(),
    );
    let web_sources = web_sources(
        &cfg,
        &ingest,
        &acting,
        stats.clone(),
        (history_counters.clone(), history.ring.clone(), feed),
    );
    let web = match web.map(|o| o.serve(web_sources.clone())).transpose() {
        Ok(w) => w,
        Err(e) => {
            ingest.stop().await;
            history.stop().await;
            acting.stop().await;
            return Err(e);
        }
    };
    if let Some(w) = &web {
        let scheme = if cfg.web.as_ref().is_some_and(|s| s.tls.is_some()) {
            "https"
        } else {
            "http"
        };
        info!(addr = %w.addr, "metrics at {scheme}://{}/metrics, API at {scheme}://{}/api/v1", w.addr, w.addr);
    }
    // A reload hands the detection thread its new settings through this channel.
    let (updates_tx, updates) = tokio::sync::mpsc::channel(4);
    let reloader = Reloader {
        running: cfg.clone(),
        commands: acting.service.commands.clone(),
        speaker: acting.speaker.as_ref().map(|(s, _)| s.clone()),
        listeners: ingest.rebinder(),
        web,
        web_sources,
        detection: updates_tx,
    };
    let (stop_reloader, stopped) = tokio::sync::oneshot::channel();
    let reloader = tokio::spawn(reloader.serve(reload_rx, stopped));
    let opts = Options {
        sink: Sink::Count,
        stats_every: Duration::from_secs(60),
        duration: None,
    };
    let outlet = Outlet {
        events: acting.service.events.clone(),
        stats,
        updates: Some(updates),
        snapshots: Some(snapshots),
        history: Some(HistoryOutlet {
            seconds,
            dropped: history_counters.dropped_seconds.clone(),
            listening,
        }),
    };
    let r = consume(ingest, rx, opts, Some(engine), Some(outlet)).await;
    // The detection thread has ended (its sender with it): the recorder writes the
    // minute in progress and the open incidents' series before the store stops.
    history.stop().await;
    let _ = stop_reloader.send(());
    // The reloader holds the speaker and the web endpoint: both are let go here.
    if let Ok(reloader) = reloader.await
        && let Some(w) = reloader.web
    {
        w.stop();
    }
    acting.stop().await;
    r
}

/// Puts back the baselines saved at the last stop, unless the snapshot is missing,
/// older than the baseline window, too large or damaged (each said in one log line; the
/// engine then warms up). Networks whose prefixes changed, and IPs no longer protected,
/// warm up; the rest is restored.
fn warm_start(engine: &mut levee_detect::Engine, s: &Snapshots) {
    let path = s.path.display();
    let now = now_us();
    let r = snapshot::read(&s.path).and_then(|b| {
        b.map(|b| snapshot::restore(engine, &b, &s.networks, now))
            .transpose()
    });
    match r {
        Ok(Some(done)) => {
            let age_s = now.saturating_sub(done.written_at_us) / 1_000_000;
            info!(
                %path,
                age_s,
                networks = done.networks,
                networks_changed = done.networks_changed,
                hosts = done.hosts,
                hosts_left_out = done.hosts_left_out,
                "baselines restored from the last run"
            );
        }
        Ok(None) => info!(%path, "no baseline snapshot: baselines warm up"),
        Err(err) => warn!(%path, %err, "baseline snapshot ignored: baselines warm up"),
    }
}

/// What the web endpoint reads: the running stages.
fn web_sources(
    cfg: &Config,
    ingest: &Ingest,
    acting: &Acting,
    detection: Arc<Mutex<levee_detect::engine::EngineStats>>,
    (history, ring, feed): (
        Arc<crate::history::Counters>,
        Arc<std::sync::RwLock<crate::history::ring::Ring>>,
        crate::live::Feed,
    ),
) -> crate::web::Sources {
    let kinds = ingest
        .bound
        .iter()
        .map(|(k, _)| *k)
        .chain(std::iter::repeat("mirror"));
    crate::web::Sources {
        ingest: ingest.counters.clone(),
        exporters: kinds.zip(ingest.exporters.iter().cloned()).collect(),
        detection,
        commands: acting.service.commands.clone(),
        speaker: acting.speaker.as_ref().map(|(s, _)| Arc::downgrade(s)),
        reloads: Arc::default(),
        history,
        ring,
        feed,
        store: cfg.mitigation.store.clone(),
        auth: crate::auth::path_beside(&cfg.mitigation.store),
        origin: cfg.origin.to_string(),
        audit_key: cfg.mitigation.audit_key.clone(),
    }
}

/// What to do next, for an operator whose config protects nothing yet.
fn next_steps(cfg: &Config) -> String {
    let listeners: Vec<String> = cfg
        .listeners
        .iter()
        .map(|l| format!("{} on {}", l.kind.as_str(), l.bind))
        .collect();
    let page = match &cfg.web {
        Some(w) => format!("{}://{}/", crate::web::Web::scheme(w), w.listen),
        None => {
            "off: add web: {listen: 127.0.0.1:9750} to serve the page, the API and /metrics".into()
        }
    };
    format!(
        "next steps: 1. copy {example} to {default} and list your prefixes under \
         protected_networks (and a bgp peer for your edge router);\n\
         next steps: 2. point your routers' sFlow/NetFlow/IPFIX exports at this host \
         ({listeners});\n\
         next steps: 3. validate with `levee check`, then `levee reload` (or SIGHUP) applies it;\n\
         next steps: status page: {page}",
        example = crate::config::EXAMPLE_PATH,
        default = crate::config::DEFAULT_PATH,
        listeners = if listeners.is_empty() {
            "no listeners enabled".into()
        } else {
            listeners.join(", ")
        },
    )
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
