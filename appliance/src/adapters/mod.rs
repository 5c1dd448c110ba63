//! Adapters: where mitigation routes go. One [`Backend`] trait; each backend runs in
//! its own task behind a [`Handle`] that keeps the *desired* state (every route that
//! should be announced) apart from what the backend has confirmed. A change that fails
//! stays pending and is retried with backoff, so no mitigation intent is lost while a
//! daemon or a peer is away; the handle's [`AdapterStatus`] shows it.
//!
//! At start, and again every [`RESYNC`], the task *reconciles*: it hands the backend
//! the whole desired set plus the routes the store says this adapter may still hold
//! although their mitigation has ended. Backends that can read the daemon's state
//! (BIRD's include file, FRR's running config, gobgpd's RIB) fix any difference; the
//! rest re-apply. So a daemon that restarted, or a withdrawal lost while levee was
//! down, ends with exactly the desired routes: no orphans.
//!
//! - [`native`]: levee's own BGP speaker (crate `levee-bgp`), peering with the routers.
//! - [`exabgp`]: ExaBGP through its named pipe, each command acknowledged.
//! - [`gobgp`]: gobgpd through the `gobgp` CLI.
//! - [`bird`]: BIRD 2 through a generated include file and `birdc configure`.
//! - [`frr`]: FRR through vtysh: RTBH as tagged static blackhole routes, redistributed
//!   into BGP with their communities.
//! - [`null_route`]: RTBH as Linux blackhole routes on this host, through rtnetlink.
//! - [`webhook`]: every change POSTed as HMAC-SHA256-signed JSON (scrubbing providers,
//!   automation).
//!
//! Each change carries the escalation [`Levels`] of its route, and each handle the
//! levels its adapter carries (`levels:` in its config section): an adapter is sent
//! only its levels' routes, so a scrubbing provider's webhook can take L4 alone.

pub mod bird;
pub mod exabgp;
pub mod frr;
pub mod gobgp;
pub mod native;
pub mod null_route;
mod process;
pub mod webhook;

use levee_bgp::rib::{Attrs, Nlri, RouteText};
use levee_mitigate::Levels;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{info, warn};

/// One change for a backend: announce (with attributes) or withdraw a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The mitigation it belongs to.
    pub id: u64,
    /// The route.
    pub nlri: Nlri,
    /// `Some`: announce with these attributes; `None`: withdraw.
    pub attrs: Option<Attrs>,
    /// The escalation levels the route belongs to ([`Levels::of_route`]).
    pub levels: Levels,
}

impl Change {
    /// An announcement.
    pub fn announce(id: u64, r: &RouteText, levels: Levels) -> Change {
        Change {
            id,
            nlri: r.nlri.clone(),
            attrs: Some(r.attrs.clone()),
            levels,
        }
    }

    /// A withdrawal.
    pub fn withdraw(id: u64, r: &RouteText, levels: Levels) -> Change {
        Change {
            id,
            nlri: r.nlri.clone(),
            attrs: None,
            levels,
        }
    }
}

/// A FlowSpec numeric operator (RFC 8955 section 4.2.1.1) as the comparison symbol
/// BIRD and ExaBGP both write (`=`, `<`, `>=`, `!=`...); `None` for always-true and
/// always-false, which neither can write.
pub(crate) fn comparison(op: &levee_bgp::flowspec::NumericOp) -> Option<&'static str> {
    Some(match (op.lt, op.gt, op.eq) {
        (false, false, true) => "=",
        (true, false, false) => "<",
        (false, true, false) => ">",
        (true, false, true) => "<=",
        (false, true, true) => ">=",
        (true, true, false) => "!=",
        _ => return None,
    })
}

/// Why a backend could not apply changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AdapterError(pub String);

/// A place routes can be sent.
pub trait Backend: Send + 'static {
    /// Name in logs, status and the store.
    fn name(&self) -> String;

    /// Applies changes. Must be idempotent: after a failure the same changes (and
    /// newer ones) come again.
    fn apply(
        &mut self,
        changes: &[Change],
    ) -> impl std::future::Future<Output = Result<(), AdapterError>> + Send;

    /// Makes the backend hold exactly `desired`. `stale` are routes it was given
    /// earlier whose mitigation has ended (withdrawals that may not have reached it).
    /// The default withdraws `stale` and re-applies `desired`; backends that can read
    /// their daemon's state do better.
    fn reconcile(
        &mut self,
        desired: &[Change],
        stale: &[Change],
    ) -> impl std::future::Future<Output = Result<(), AdapterError>> + Send {
        async move {
            let mut all: Vec<Change> = stale
                .iter()
                .filter(|s| !desired.iter().any(|d| d.nlri == s.nlri))
                .cloned()
                .collect();
            all.extend_from_slice(desired);
            self.apply(&all).await
        }
    }

    /// A one-line description of the backend's own state (sessions, daemon), for status.
    fn describe(&self) -> String;

    /// Ends the backend (the shutdown policy decides what happens to its routes).
    fn stop(self) -> impl std::future::Future<Output = ()> + Send;
}

/// What a backend did with a mitigation, for the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The adapter.
    pub adapter: String,
    /// The mitigations.
    pub ids: Vec<u64>,
    /// `applied`, `withdrawn` or `failed`.
    pub state: &'static str,
    /// The failure.
    pub error: Option<String>,
}

/// An adapter's state as `levee mitigate list` and /metrics show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdapterStatus {
    /// Name.
    pub name: String,
    /// The levels it carries.
    pub levels: String,
    /// Routes it should hold.
    pub desired: usize,
    /// Changes not yet confirmed.
    pub pending: usize,
    /// Successful applies.
    pub applied: u64,
    /// Failed applies.
    pub failures: u64,
    /// Completed reconciliations.
    pub reconciled: u64,
    /// The last failure, while failing.
    pub last_error: Option<String>,
    /// The backend's own account of itself.
    pub backend: String,
}

/// The daemon's side of an adapter task.
#[derive(Debug)]
pub struct Handle {
    levels: Levels,
    tx: mpsc::Sender<Msg>,
    status: Arc<Mutex<AdapterStatus>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
enum Msg {
    Changes(Vec<Change>),
    Sync {
        desired: Vec<Change>,
        stale: Vec<Change>,
    },
    Stop,
}

/// How often a running adapter reconciles with its daemon.
pub const RESYNC: Duration = Duration::from_secs(60);

/// Backoff after a failure: 1 s, doubling, at most a minute.
fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.min(6)).min(Duration::from_secs(60))
}

impl Handle {
    /// Starts a backend's task for the routes of `levels`; reports go to `reports`.
    pub fn spawn<B: Backend>(
        backend: B,
        levels: Levels,
        reports: mpsc::UnboundedSender<Report>,
    ) -> Handle {
        let (tx, rx) = mpsc::channel(1024);
        let status = Arc::new(Mutex::new(AdapterStatus {
            name: backend.name(),
            levels: levels.to_string(),
            backend: backend.describe(),
            ..AdapterStatus::default()
        }));
        let task = tokio::spawn(run(backend, rx, reports, status.clone()));
        Handle {
            levels,
            tx,
            status,
            task,
        }
    }

    /// Whether the adapter carries a route of these levels.
    pub fn carries(&self, levels: Levels) -> bool {
        self.levels.intersects(levels)
    }

    /// Queues the changes of the levels the adapter carries (never dropped: the
    /// channel is awaited).
    pub async fn send(&self, mut changes: Vec<Change>) {
        changes.retain(|c| self.carries(c.levels));
        if !changes.is_empty() {
            let _ = self.tx.send(Msg::Changes(changes)).await;
        }
    }

    /// The adapter's state.
    pub fn status(&self) -> AdapterStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Replaces the desired state with `desired` (of the levels the adapter carries)
    /// and reconciles the backend with it; `stale` are routes it may still hold that
    /// must go (see [`Backend::reconcile`]), whatever their levels.
    pub async fn sync(&self, mut desired: Vec<Change>, stale: Vec<Change>) {
        desired.retain(|c| self.carries(c.levels));
        let _ = self.tx.send(Msg::Sync { desired, stale }).await;
    }

    /// Stops the task after it has tried what is queued.
    pub async fn stop(self) {
        let _ = self.tx.send(Msg::Stop).await;
        let _ = self.task.await;
    }
}

async fn run<B: Backend>(
    mut b: B,
    mut rx: mpsc::Receiver<Msg>,
    reports: mpsc::UnboundedSender<Report>,
    status: Arc<Mutex<AdapterStatus>>,
) {
    let name = b.name();
    // What should be announced, and what is waiting to be applied (latest wins).
    let mut desired: BTreeMap<Nlri, (u64, Attrs, Levels)> = BTreeMap::new();
    let mut pending: BTreeMap<Nlri, Change> = BTreeMap::new();
    // Set: the next attempt is a full reconciliation (with these stale routes).
    let mut full: Option<Vec<Change>> = None;
    let mut failures = 0u32;
    let mut retry: Option<tokio::time::Instant> = None;
    let mut stopping = false;
    let mut resync = tokio::time::interval_at(tokio::time::Instant::now() + RESYNC, RESYNC);
    resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // Stopping: once what was queued is applied, or has failed (the store keeps it).
        if stopping && ((pending.is_empty() && full.is_none()) || failures > 0) {
            break;
        }
        let wait = async {
            match retry {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            m = rx.recv(), if !stopping => match m {
                Some(Msg::Changes(cs)) => {
                    for c in cs {
                        match &c.attrs {
                            Some(a) => desired.insert(c.nlri.clone(), (c.id, a.clone(), c.levels)),
                            None => desired.remove(&c.nlri),
                        };
                        pending.insert(c.nlri.clone(), c);
                    }
                }
                Some(Msg::Sync { desired: d, stale }) => {
                    desired = d
                        .into_iter()
                        .filter_map(|c| Some((c.nlri, (c.id, c.attrs?, c.levels))))
                        .collect();
                    pending.clear();
                    full = Some(stale);
                }
                Some(Msg::Stop) | None => stopping = true,
            },
            _ = resync.tick(), if !stopping && retry.is_none() => {
                full.get_or_insert_with(Vec::new);
            }
            _ = wait => retry = None,
        }
        // A failing backend waits for its retry; new changes join the queue.
        if retry.is_some() && !stopping {
            update(&status, &b, &desired, &pending, None);
            continue;
        }
        if pending.is_empty() && full.is_none() {
            continue;
        }
        let (batch, result) = match &full {
            Some(stale) => {
                let all: Vec<Change> = desired
                    .iter()
                    .map(|(n, (id, a, levels))| Change {
                        id: *id,
                        nlri: n.clone(),
                        attrs: Some(a.clone()),
                        levels: *levels,
                    })
                    .collect();
                let mut gone: Vec<Change> = stale.clone();
                gone.extend(pending.values().filter(|c| c.attrs.is_none()).cloned());
                let r = b.reconcile(&all, &gone).await;
                gone.extend(all);
                (gone, r)
            }
            None => {
                let batch: Vec<Change> = pending.values().cloned().collect();
                let r = b.apply(&batch).await;
                (batch, r)
            }
        };
        match result {
            Ok(()) => {
                if failures > 0 {
                    info!(adapter = %name, "adapter recovered after {failures} failures");
                }
                failures = 0;
                pending.clear();
                let reconciled = full.take().is_some();
                let (up, down): (Vec<&Change>, Vec<&Change>) =
                    batch.iter().partition(|c| c.attrs.is_some());
                for (state, cs) in [("applied", up), ("withdrawn", down)] {
                    if !cs.is_empty() {
                        let _ = reports.send(Report {
                            adapter: name.clone(),
                            ids: cs.iter().map(|c| c.id).collect(),
                            state,
                            error: None,
                        });
                    }
                }
                if let Ok(mut s) = status.lock() {
                    s.applied += 1;
                    s.reconciled += u64::from(reconciled);
                    s.last_error = None;
                }
                update(&status, &b, &desired, &pending, None);
            }
            Err(e) => {
                failures += 1;
                let delay = backoff(failures - 1);
                warn!(adapter = %name, error = %e, retry_in = ?delay, pending = pending.len(), "adapter failed; will retry");
                retry = Some(tokio::time::Instant::now() + delay);
                let _ = reports.send(Report {
                    adapter: name.clone(),
                    ids: batch.iter().map(|c| c.id).collect(),
                    state: "failed",
                    error: Some(e.0.clone()),
                });
                if let Ok(mut s) = status.lock() {
                    s.failures += 1;
                }
                update(&status, &b, &desired, &pending, Some(e.0));
            }
        }
    }
    if !pending.is_empty() || full.is_some() {
        warn!(adapter = %name, pending = pending.len(), "stopping with changes not applied; the store keeps the intent");
    }
    b.stop().await;
}

fn update<B: Backend>(
    status: &Mutex<AdapterStatus>,
    b: &B,
    desired: &BTreeMap<Nlri, (u64, Attrs, Levels)>,
    pending: &BTreeMap<Nlri, Change>,
    error: Option<String>,
) {
    if let Ok(mut s) = status.lock() {
        s.desired = desired.len();
        s.pending = pending.len();
        s.backend = b.describe();
        if error.is_some() {
            s.last_error = error;
        }
    }
}

#[cfg(test)]
mod tests;
