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
//! Between reconciliations, an idle adapter with routes to hold *probes* its daemon
//! every [`PROBE`] ([`Backend::probe`]): gobgpd's RIB and FRR's running config are read
//! back for the confirmed routes, BIRD's boot time is compared with the one it had at
//! the last `configure`. A daemon that restarted or lost routes, or cannot be reached,
//! has its routes reported not applied (`failed`, so `levee mitigate list` does not
//! claim them) and reconciled at once, not a minute later.
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
//!
//! Each adapter's module holds, beside its backend, its config section as read
//! (`Raw`, serde, unknown keys refused), its typed `Settings`, the conversion from one
//! to the other with located errors ([`crate::yaml`]), and its `start`. The registry's
//! [`Kind`] has one variant per adapter carrying its settings; `levee run` starts every
//! configured adapter through [`Kind::start`]. The task behind each [`Handle`] is in
//! `task`.

pub mod bird;
pub mod exabgp;
pub mod frr;
pub mod gobgp;
pub mod native;
pub mod null_route;
mod process;
mod registry;
mod task;
pub mod webhook;

pub(crate) use registry::RawSections;
pub use registry::{Adapter, Kind};
pub use task::{PROBE, RESYNC};

use levee_bgp::rib::{Attrs, Nlri, RouteText};
use levee_mitigate::Levels;
use std::fmt;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

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

    /// Checks that the daemon still holds `applied` (the routes it confirmed): `Ok(None)`
    /// when it does or the backend cannot tell, `Ok(Some(why))` when it lost them (it
    /// restarted, or its RIB lacks some), `Err` when the daemon cannot be reached. Run
    /// every [`PROBE`] while the adapter is idle with routes to hold; on anything but
    /// `Ok(None)` the routes are reported not applied and reconciled at once, instead
    /// of at the next [`RESYNC`]. The default cannot tell.
    fn probe(
        &mut self,
        applied: &[Change],
    ) -> impl std::future::Future<Output = Result<Option<String>, AdapterError>> + Send {
        let _ = applied;
        async { Ok(None) }
    }

    /// A one-line description of the backend's own state (sessions, daemon), for status.
    fn describe(&self) -> String;

    /// Ends the backend (the shutdown policy decides what happens to its routes).
    fn stop(self) -> impl std::future::Future<Output = ()> + Send;
}

/// What a backend did with the routes of some mitigations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Announced.
    Applied,
    /// Withdrawn.
    Withdrawn,
    /// Not applied (the change stays pending and is retried).
    Failed,
}

impl Outcome {
    /// The outcome a stored name stands for.
    pub fn parse(s: &str) -> Option<Outcome> {
        [Outcome::Applied, Outcome::Withdrawn, Outcome::Failed]
            .into_iter()
            .find(|o| o.as_str() == s)
    }

    /// As the store and the JSON output write it: `applied`, `withdrawn`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Withdrawn => "withdrawn",
            Outcome::Failed => "failed",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a backend did with a mitigation, for the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The adapter.
    pub adapter: String,
    /// The mitigations.
    pub ids: Vec<u64>,
    /// What happened to their routes.
    pub state: Outcome,
    /// The failure.
    pub error: Option<String>,
}

/// An adapter's state as `levee mitigate list` and /metrics show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AdapterStatus {
    /// Name.
    pub name: String,
    /// The levels it carries.
    pub levels: Levels,
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
    /// Times the daemon was found to have lost confirmed routes (it restarted, or its
    /// RIB lacked some) and was reconciled at once.
    #[serde(default)]
    pub restarts: u64,
    /// The last failure, while failing.
    pub last_error: Option<String>,
    /// The backend's own account of itself.
    pub backend: String,
}

impl AdapterStatus {
    /// `failing` while it has an error, `pending` while changes wait, else `ok`.
    pub fn state(&self) -> &'static str {
        if self.last_error.is_some() {
            "failing"
        } else if self.pending > 0 {
            "pending"
        } else {
            "ok"
        }
    }
}

/// Nothing yet: no name, no levels, no routes.
impl Default for AdapterStatus {
    fn default() -> Self {
        AdapterStatus {
            name: String::new(),
            levels: Levels::NONE,
            desired: 0,
            pending: 0,
            applied: 0,
            failures: 0,
            reconciled: 0,
            restarts: 0,
            last_error: None,
            backend: String::new(),
        }
    }
}

/// The daemon's side of an adapter task.
#[derive(Debug)]
pub struct Handle {
    levels: Levels,
    tx: mpsc::Sender<Msg>,
    status: Arc<Mutex<AdapterStatus>>,
    task: tokio::task::JoinHandle<()>,
}

/// What the daemon tells an adapter task.
#[derive(Debug)]
enum Msg {
    Changes(Vec<Change>),
    Sync {
        desired: Vec<Change>,
        stale: Vec<Change>,
    },
    Stop,
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
            levels,
            backend: backend.describe(),
            ..AdapterStatus::default()
        }));
        let task = tokio::spawn(task::run(backend, rx, reports, status.clone()));
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

#[cfg(test)]
mod tests;
