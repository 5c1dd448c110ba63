//! Flow ingestion: UDP listeners, mirror capture and offline pcap decoding, all feeding
//! [`FlowBatch`]es to one consumer over a bounded channel.

pub mod capture;
pub mod decode;
pub mod exporters;
pub mod json;
pub mod link;
pub mod listen;
pub mod ratelimit;
mod rebind;
pub mod settings;
pub mod summary;
pub mod sys;

use exporters::{Allowlist, LiveAllowlist};
use levee_flow::{FlowRecord, InterfaceCounters};
use listen::{ExporterTable, ListenerContext};
pub use rebind::Rebinder;
use rebind::{Listeners, Slot};
use settings::{IngestBounds, Settings};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// The start-up warning of listeners without an `exporters:` section: what any source
/// is then trusted with, under `bounds`.
pub fn open_listeners(bounds: &IngestBounds) -> String {
    format!(
        "no exporters: section: the flow listeners accept datagrams from any source, so \
         anyone who can reach the flow ports can forge traffic and trigger mitigations: \
         each source is trusted to report up to ingest.max_exporter_rate ({}bps) at \
         sampling rates up to 1:{} (ingest.max_sampling_rate), enough to trigger \
         mitigations; list your routers under exporters: (see configs/levee.yaml)",
        crate::human::si(bounds.max_exporter_bps),
        bounds.max_sampling_rate
    )
}

/// Records handed from ingestion to its consumer.
#[derive(Debug, Default)]
pub struct FlowBatch {
    pub records: Vec<FlowRecord>,
    pub counters: Vec<InterfaceCounters>,
}

/// Counters over all inputs; exposed to operators ("is it working?").
#[derive(Debug, Default)]
pub struct IngestCounters {
    pub datagrams: AtomicU64,
    pub records: AtomicU64,
    pub decode_errors: AtomicU64,
    pub receive_errors: AtomicU64,
    pub dropped_records: AtomicU64,
    pub dropped_batches: AtomicU64,
    pub mirror_packets: AtomicU64,
    /// Datagrams dropped undecoded: no `exporters:` entry covers their source.
    pub foreign_datagrams: AtomicU64,
    /// Records discarded by their exporter's policy (interfaces, sampling, rate).
    pub discarded_records: AtomicU64,
}

impl IngestCounters {
    pub fn render(&self) -> String {
        format!(
            "datagrams {} records {} decode_errors {} receive_errors {} dropped_records {} dropped_batches {} mirror_packets {} foreign_datagrams {} discarded_records {}",
            self.datagrams.load(Relaxed),
            self.records.load(Relaxed),
            self.decode_errors.load(Relaxed),
            self.receive_errors.load(Relaxed),
            self.dropped_records.load(Relaxed),
            self.dropped_batches.load(Relaxed),
            self.mirror_packets.load(Relaxed),
            self.foreign_datagrams.load(Relaxed),
            self.discarded_records.load(Relaxed),
        )
    }
}

/// Why ingestion could not start.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot listen on {bind} ({kind}): {source}{hint}")]
    Bind {
        kind: &'static str,
        bind: SocketAddr,
        source: std::io::Error,
        /// What to do about it, when we can tell.
        hint: String,
    },
    #[error(transparent)]
    Capture(#[from] capture::CaptureError),
}

impl IngestError {
    fn bind(kind: &'static str, bind: SocketAddr, source: std::io::Error) -> IngestError {
        let hint = match source.kind() {
            std::io::ErrorKind::AddrInUse => format!(
                "; is a levee daemon already running (`levee mitigate list` asks it), or \
                 another collector on that port? Stop it, or listen elsewhere: \
                 listeners.{kind}.bind in the config, or --{kind} ADDR for `levee flows listen`"
            ),
            std::io::ErrorKind::PermissionDenied => {
                "; ports below 1024 need root or CAP_NET_BIND_SERVICE".to_string()
            }
            _ => String::new(),
        };
        IngestError::Bind {
            kind,
            bind,
            source,
            hint,
        }
    }
}

/// Running listeners and captures.
#[derive(Debug)]
pub struct Ingest {
    pub counters: Arc<IngestCounters>,
    pub exporters: Vec<ExporterTable>,
    pub bound: Vec<(&'static str, SocketAddr)>,
    stop: Arc<AtomicBool>,
    /// Mirror captures.
    threads: Vec<std::thread::JoinHandle<()>>,
    /// UDP listeners, each with its own stop flag (a reload may replace one).
    listeners: Listeners,
    /// Decoder bounds, for listeners started by a reload.
    limits: levee_flow::Limits,
    /// The ingest bounds, for an allowlist made by a reload.
    bounds: settings::IngestBounds,
    /// Who may send, shared by every listener (a reload replaces it).
    allowlist: Arc<LiveAllowlist>,
    /// The channel's sending side, for listeners started by a reload (weak: the
    /// consumer ends when every listener has stopped).
    tx: mpsc::WeakSender<FlowBatch>,
}

/// Listeners bound and mirror interfaces opened, nothing read yet: `levee run` binds
/// before any other stage starts, so a busy port stops it before it touches a router.
#[derive(Debug)]
pub struct Bound {
    listeners: Vec<(settings::Listener, std::net::UdpSocket)>,
    mirrors: Vec<capture::Opened>,
    bounds: settings::IngestBounds,
    allowlist: Arc<LiveAllowlist>,
    /// The bound addresses, by listener kind.
    pub addresses: Vec<(&'static str, SocketAddr)>,
}

impl Bound {
    /// Starts reading: one thread per listener and per mirror interface; returns the
    /// running ingest and the receiving end of its channel.
    pub fn start(self) -> Result<(Ingest, mpsc::Receiver<FlowBatch>), IngestError> {
        let (tx, rx) = mpsc::channel(self.bounds.channel_batches);
        let counters = Arc::new(IngestCounters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut ingest = Ingest {
            counters: counters.clone(),
            exporters: Vec::new(),
            bound: self.addresses,
            stop: stop.clone(),
            threads: Vec::new(),
            listeners: Arc::new(Mutex::new(Vec::new())),
            limits: self.bounds.limits,
            bounds: self.bounds,
            allowlist: self.allowlist.clone(),
            tx: tx.downgrade(),
        };
        for (listener, sock) in self.listeners {
            let kind = listener.kind.as_str();
            let table = ExporterTable::default();
            ingest.exporters.push(table.clone());
            let own = Arc::new(AtomicBool::new(false));
            let ctx = ListenerContext {
                name: kind,
                limits: self.bounds.limits,
                allowlist: self.allowlist.clone(),
                tx: tx.clone(),
                counters: counters.clone(),
                table: table.clone(),
                stop: own.clone(),
            };
            let addr = sock
                .local_addr()
                .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
            let socket = sock.try_clone().ok();
            let thread =
                listen::spawn(sock, ctx).map_err(|source| IngestError::bind(kind, addr, source))?;
            ingest.slots().push(Slot {
                listener,
                addr,
                table,
                socket,
                stop: own,
                thread: Some(thread),
            });
        }
        for m in self.mirrors {
            ingest
                .threads
                .push(m.start(tx.clone(), counters.clone(), stop.clone())?);
        }
        Ok((ingest, rx))
    }
}

impl Ingest {
    /// Binds every enabled listener and opens every mirror interface of `cfg`. Without
    /// an `exporters:` section, warns once that every source is trusted.
    pub fn bind(cfg: &Settings) -> Result<Bound, IngestError> {
        let allowlist = Allowlist::new(cfg.exporters.as_deref(), &cfg.bounds);
        let open = !allowlist.restricted() && !cfg.listeners.is_empty();
        let mut bound = Bound {
            listeners: Vec::new(),
            mirrors: Vec::new(),
            bounds: cfg.bounds,
            allowlist: Arc::new(LiveAllowlist::new(allowlist)),
            addresses: Vec::new(),
        };
        for l in &cfg.listeners {
            let kind = l.kind.as_str();
            let sock = listen::bind(l).map_err(|source| IngestError::bind(kind, l.bind, source))?;
            bound
                .addresses
                .push((kind, sock.local_addr().unwrap_or(l.bind)));
            bound.listeners.push((l.clone(), sock));
        }
        for m in &cfg.mirror {
            bound.mirrors.push(capture::open_mirror(m)?);
        }
        if open {
            tracing::warn!("{}", open_listeners(&cfg.bounds));
        }
        Ok(bound)
    }

    /// Binds and starts at once (`levee flows listen`).
    pub fn start(cfg: &Settings) -> Result<(Ingest, mpsc::Receiver<FlowBatch>), IngestError> {
        Ingest::bind(cfg)?.start()
    }

    /// Stops listeners and captures, waits until they have handed over what they held,
    /// and returns their per-exporter counters, one line per exporter.
    pub async fn stop(&mut self) -> String {
        self.stop.store(true, Relaxed);
        let mut threads: Vec<_> = self.threads.drain(..).collect();
        for slot in self.slots().iter_mut() {
            slot.stop.store(true, Relaxed);
            threads.extend(slot.thread.take());
        }
        for t in threads {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        let mut merged = std::collections::HashMap::new();
        let mut foreign = Vec::new();
        for t in &self.exporters {
            if let Ok(t) = t.lock() {
                for (a, s) in t.exporters.iter() {
                    merged.insert(*a, s.clone());
                }
                foreign.extend(t.foreign_top.iter().copied());
            }
        }
        let total = self.counters.foreign_datagrams.load(Relaxed);
        summary::render_exporters(merged.iter()) + &summary::render_foreign(total, &foreign)
    }
}
