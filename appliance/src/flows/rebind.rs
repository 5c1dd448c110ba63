//! Moving a running UDP listener to a new address (a config reload): the new socket is
//! bound and its thread started first, and only then is the old thread told to stop,
//! so exports keep being read throughout; if the new address cannot be bound, the
//! listener stays where it is and the reload reports why. The listener keeps its
//! per-exporter table, so its counters go on.
//!
//! A listener kind turned on or off, or mirror ports changed, need a restart.

use super::listen::{self, ExporterTable, ListenerContext};
use super::settings::Listener;
use super::{FlowBatch, Ingest, IngestCounters};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tracing::info;

/// One running listener.
#[derive(Debug)]
pub(super) struct Slot {
    /// Its settings.
    pub(super) listener: Listener,
    /// The bound address.
    pub(super) addr: SocketAddr,
    /// Its per-exporter counters (kept across a move).
    pub(super) table: ExporterTable,
    /// Stops its thread alone.
    pub(super) stop: Arc<AtomicBool>,
    /// Its thread (taken when it is stopped).
    pub(super) thread: Option<std::thread::JoinHandle<()>>,
}

/// The running listeners, shared by the [`Ingest`] and its [`Rebinder`].
pub(super) type Listeners = Arc<Mutex<Vec<Slot>>>;

/// What a reload may change in the running ingest: its listeners' addresses.
#[derive(Debug, Clone)]
pub struct Rebinder {
    listeners: Listeners,
    limits: levee_flow::Limits,
    bounds: super::settings::IngestBounds,
    allowlist: Arc<super::exporters::LiveAllowlist>,
    counters: Arc<IngestCounters>,
    tx: mpsc::WeakSender<FlowBatch>,
}

/// What [`Rebinder::rebind`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rebound {
    /// Listeners moved, one line each.
    pub moved: Vec<String>,
    /// Listeners that could not move (and stay where they were), one line each.
    pub failed: Vec<String>,
    /// The change needs a restart (a listener kind turned on or off).
    pub restart: bool,
}

impl Ingest {
    pub(super) fn slots(&self) -> std::sync::MutexGuard<'_, Vec<Slot>> {
        self.listeners.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A handle a reload moves the listeners with.
    pub fn rebinder(&self) -> Rebinder {
        Rebinder {
            listeners: self.listeners.clone(),
            limits: self.limits,
            bounds: self.bounds,
            allowlist: self.allowlist.clone(),
            counters: self.counters.clone(),
            tx: self.tx.clone(),
        }
    }
}

impl Rebinder {
    /// Replaces the `exporters:` allowlist (`None`: no section, every source accepted);
    /// the listeners take it at their next batch of datagrams.
    pub fn set_exporters(&self, exporters: Option<&[super::settings::Exporter]>) {
        self.allowlist
            .replace(super::exporters::Allowlist::new(exporters, &self.bounds));
    }

    /// Gives the listeners the settings of `wanted` (one per kind, as configured):
    /// each whose address or receive buffer changed is moved.
    pub async fn rebind(&self, wanted: &[Listener]) -> Rebound {
        let mut out = Rebound::default();
        let retired = {
            let mut slots = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
            let kinds = |it: &mut dyn Iterator<Item = &Listener>| {
                let mut k: Vec<&str> = it.map(|l| l.kind.as_str()).collect();
                k.sort_unstable();
                k
            };
            if kinds(&mut slots.iter().map(|s| &s.listener)) != kinds(&mut wanted.iter()) {
                out.restart = true;
            }
            let mut retired = Vec::new();
            for l in wanted {
                let Some(slot) = slots.iter_mut().find(|s| s.listener.kind == l.kind) else {
                    continue;
                };
                if slot.listener == *l {
                    continue;
                }
                match self.start(l, slot.table.clone()) {
                    Ok((addr, stop, thread)) => {
                        let kind = l.kind.as_str();
                        out.moved.push(format!(
                            "listener {kind} moved from {} to {addr}",
                            slot.addr
                        ));
                        info!(kind, from = %slot.addr, to = %addr, "listener moved");
                        slot.stop.store(true, Relaxed);
                        retired.extend(slot.thread.take());
                        *slot = Slot {
                            listener: l.clone(),
                            addr,
                            table: slot.table.clone(),
                            stop,
                            thread: Some(thread),
                        };
                    }
                    Err(e) => out.failed.push(format!(
                        "listener {}: cannot bind {}: {e}; it stays on {}",
                        l.kind.as_str(),
                        l.bind,
                        slot.addr
                    )),
                }
            }
            retired
        };
        for t in retired {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        out
    }

    /// Binds `l` and starts its thread.
    #[allow(clippy::type_complexity)]
    fn start(
        &self,
        l: &Listener,
        table: ExporterTable,
    ) -> std::io::Result<(SocketAddr, Arc<AtomicBool>, std::thread::JoinHandle<()>)> {
        let tx = self.tx.upgrade().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "levee is stopping")
        })?;
        let sock = listen::bind(l)?;
        let addr = sock.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let ctx = ListenerContext {
            name: l.kind.as_str(),
            limits: self.limits,
            allowlist: self.allowlist.clone(),
            tx,
            counters: self.counters.clone(),
            table,
            stop: stop.clone(),
        };
        let thread = listen::spawn(sock, ctx)?;
        Ok((addr, stop, thread))
    }
}
