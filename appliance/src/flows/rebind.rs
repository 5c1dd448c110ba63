//! Moving a running UDP listener to a new address (a config reload): the new socket is
//! bound and its thread started first, and only then is the old thread told to stop,
//! so exports keep being read throughout; if the new address cannot be bound, the
//! listener stays where it is and the reload reports why. The listener keeps its
//! per-exporter table, so its counters go on.
//!
//! A changed `receive_buffer` alone is set on the live socket (SO_RCVBUF), no rebind.
//! Because the new socket is bound while the old one is open (no SO_REUSEADDR/PORT),
//! moving between the wildcard and an address on the *same port* (`0.0.0.0:P` and
//! `192.0.2.1:P`) fails with "address in use": move through another port in two
//! reloads, or restart.
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
    /// A duplicate of its socket's descriptor, to change the receive buffer in place.
    pub(super) socket: Option<std::net::UdpSocket>,
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
    /// each whose address changed is moved; one whose receive buffer alone changed has
    /// it set in place.
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
                if slot.listener.bind == l.bind
                    && let Some(sock) = &slot.socket
                {
                    let got = listen::set_receive_buffer(sock, l);
                    let kind = l.kind.as_str();
                    out.moved.push(format!(
                        "listener {kind} receive buffer set to {} ({} granted)",
                        crate::human::bytes(l.receive_buffer),
                        crate::human::bytes(got)
                    ));
                    info!(
                        kind,
                        bytes = l.receive_buffer,
                        granted = got,
                        "receive buffer set"
                    );
                    slot.listener = l.clone();
                    continue;
                }
                match self.start(l, slot.table.clone()) {
                    Ok((addr, socket, stop, thread)) => {
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
                            socket,
                            stop,
                            thread: Some(thread),
                        };
                    }
                    Err(e) => {
                        let same_port = e.kind() == std::io::ErrorKind::AddrInUse
                            && l.bind.port() == slot.addr.port();
                        out.failed.push(format!(
                            "listener {}: cannot bind {}: {e}; it stays on {}{}",
                            l.kind.as_str(),
                            l.bind,
                            slot.addr,
                            if same_port {
                                " (the old socket holds the port until the new one is \
                                 bound: move through another port in two reloads, or \
                                 restart)"
                            } else {
                                ""
                            }
                        ));
                    }
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
    ) -> std::io::Result<(
        SocketAddr,
        Option<std::net::UdpSocket>,
        Arc<AtomicBool>,
        std::thread::JoinHandle<()>,
    )> {
        let tx = self.tx.upgrade().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "levee is stopping")
        })?;
        let sock = listen::bind(l)?;
        let addr = sock.local_addr()?;
        let socket = sock.try_clone().ok();
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
        Ok((addr, socket, stop, thread))
    }
}

#[cfg(test)]
mod tests {
    use super::super::settings::{IngestBounds, ListenerKind, Settings};
    use super::*;

    /// The SO_RCVBUF the kernel reports for `slot`'s socket (twice the usable size).
    fn rcvbuf(slot: &Slot) -> usize {
        socket2::SockRef::from(slot.socket.as_ref().unwrap())
            .recv_buffer_size()
            .unwrap()
    }

    #[test]
    fn a_changed_receive_buffer_alone_is_set_in_place() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let listener = Listener {
                kind: ListenerKind::Sflow,
                bind: "127.0.0.1:0".parse().unwrap(),
                receive_buffer: 64 << 10,
            };
            let cfg = Settings {
                listeners: vec![listener.clone()],
                mirror: Vec::new(),
                bounds: IngestBounds::default(),
                exporters: None,
            };
            let (mut ingest, _rx) = Ingest::start(&cfg).unwrap();
            let addr = ingest.slots()[0].addr;
            let before = rcvbuf(&ingest.slots()[0]);
            // The same address (the bound port, as a reload would name it) with another
            // buffer: no rebind, which would fail with "address in use".
            let wanted = Listener {
                bind: addr,
                receive_buffer: 128 << 10,
                ..listener
            };
            // First make the slot's settings name the bound port, as configured.
            ingest.slots()[0].listener.bind = addr;
            let r = ingest
                .rebinder()
                .rebind(std::slice::from_ref(&wanted))
                .await;
            assert!(r.failed.is_empty(), "{r:?}");
            assert_eq!(r.moved.len(), 1, "{r:?}");
            assert!(
                r.moved[0].starts_with("listener sflow receive buffer set to 128 KiB"),
                "{r:?}"
            );
            {
                let slots = ingest.slots();
                assert_eq!((slots[0].addr, &slots[0].listener), (addr, &wanted));
                let after = rcvbuf(&slots[0]);
                assert!(after > before, "{before} -> {after}");
            }
            ingest.stop().await;
        });
    }
}
