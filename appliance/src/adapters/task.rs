//! The task behind each adapter [`Handle`](super::Handle): it keeps the desired routes
//! and the changes not yet confirmed, hands them to the backend, retries a failure
//! with backoff, reconciles at start and every [`RESYNC`] (and at once when a probe every
//! [`PROBE`] finds the daemon lost routes, or cannot reach it), and reports each outcome
//! to the store and the status.

use super::{AdapterStatus, Backend, Change, Msg, Outcome, Report};
use levee_bgp::rib::{Attrs, Nlri};
use levee_mitigate::Levels;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{info, warn};

/// How often a running adapter reconciles with its daemon.
pub const RESYNC: Duration = Duration::from_secs(60);

/// How often an idle adapter with routes checks that its daemon still holds them
/// ([`Backend::probe`](super::Backend::probe)).
pub const PROBE: Duration = Duration::from_secs(5);

/// Backoff after a failure: 1 s, doubling, at most a minute.
pub(super) fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.min(6)).min(Duration::from_secs(60))
}

/// The routes that should be announced: id, attributes and levels per route.
type Desired = BTreeMap<Nlri, (u64, Attrs, Levels)>;

/// One adapter task's state around its backend.
struct Task<B> {
    backend: B,
    name: String,
    reports: mpsc::UnboundedSender<Report>,
    status: Arc<Mutex<AdapterStatus>>,
    /// What should be announced.
    desired: Desired,
    /// What is waiting to be applied (latest wins).
    pending: BTreeMap<Nlri, Change>,
    /// Set: the next attempt is a full reconciliation (with these stale routes).
    full: Option<Vec<Change>>,
    /// Failures in a row.
    failures: u32,
    /// While failing: when to try again.
    retry: Option<Instant>,
    /// Told to stop: no more messages are taken.
    stopping: bool,
    /// Probes in a row that found routes missing, counting the one that started the
    /// reconciliation (0: the last probe found them all; see [`Task::probe`]).
    lost: u8,
}

/// Runs `backend` until told to stop (or the handle is gone), then stops it.
pub(super) async fn run<B: Backend>(
    backend: B,
    mut rx: mpsc::Receiver<Msg>,
    reports: mpsc::UnboundedSender<Report>,
    status: Arc<Mutex<AdapterStatus>>,
) {
    let mut t = Task {
        name: backend.name(),
        backend,
        reports,
        status,
        desired: BTreeMap::new(),
        pending: BTreeMap::new(),
        full: None,
        failures: 0,
        retry: None,
        stopping: false,
        lost: 0,
    };
    let mut resync = tokio::time::interval_at(Instant::now() + RESYNC, RESYNC);
    resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut probe = tokio::time::interval_at(Instant::now() + PROBE, PROBE);
    probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !t.done() {
        let retry = t.retry;
        let wait = async move {
            match retry {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            m = rx.recv(), if !t.stopping => t.receive(m),
            _ = resync.tick(), if !t.stopping && t.retry.is_none() => {
                t.full.get_or_insert_with(Vec::new);
            }
            _ = probe.tick(), if t.probing() => t.probe().await,
            _ = wait => t.retry = None,
        }
        // A failing backend waits for its retry; new changes join the queue.
        if t.retry.is_some() && !t.stopping {
            t.update(None);
            continue;
        }
        if !t.idle() {
            t.attempt().await;
        }
    }
    if !t.idle() {
        warn!(adapter = %t.name, pending = t.pending.len(), "stopping with changes not applied; the store keeps the intent");
    }
    t.backend.stop().await;
}

impl<B: Backend> Task<B> {
    /// Stopping, and what was queued is applied or has failed (the store keeps it).
    fn done(&self) -> bool {
        self.stopping && (self.idle() || self.failures > 0)
    }

    /// Nothing to apply and no reconciliation due.
    fn idle(&self) -> bool {
        self.pending.is_empty() && self.full.is_none()
    }

    /// Whether a probe is due when its interval ticks: running, not failing, nothing
    /// queued, and routes the daemon should hold.
    fn probing(&self) -> bool {
        !self.stopping && self.retry.is_none() && self.idle() && !self.desired.is_empty()
    }

    /// The desired routes as changes (announcements).
    fn desired_changes(&self) -> Vec<Change> {
        self.desired
            .iter()
            .map(|(n, (id, a, levels))| Change {
                id: *id,
                nlri: n.clone(),
                attrs: Some(a.clone()),
                levels: *levels,
            })
            .collect()
    }

    /// Asks the backend whether its daemon still holds the confirmed routes. If it lost
    /// them, they are reported failed and a reconciliation is due now; if it cannot be
    /// reached, the same, after the failure's backoff.
    ///
    /// A daemon that still lacks routes right after the reconciliation is reported once
    /// more and then left to the next resync: a daemon that cannot hold them (or a
    /// probe that cannot see them) must not make the adapter reconcile every probe.
    async fn probe(&mut self) {
        let applied = self.desired_changes();
        match self.backend.probe(&applied).await {
            Ok(None) => self.lost = 0,
            Ok(Some(why)) if self.lost == 0 => {
                warn!(adapter = %self.name, why = %why, routes = applied.len(), "the daemon lost routes; reconciling now");
                self.lost = 1;
                let ids = applied.iter().map(|c| c.id).collect();
                self.report(ids, Outcome::Failed, Some(why));
                if let Ok(mut s) = self.status.lock() {
                    s.restarts += 1;
                }
                self.full.get_or_insert_with(Vec::new);
            }
            Ok(Some(why)) if self.lost == 1 => {
                warn!(adapter = %self.name, why = %why, "the daemon still lacks routes after reconciling; trying again at the resync");
                self.lost = 2;
                let why = format!("{why}; still missing after reconciling");
                let ids = applied.iter().map(|c| c.id).collect();
                self.report(ids, Outcome::Failed, Some(why));
            }
            Ok(Some(_)) => {}
            Err(e) => {
                self.full.get_or_insert_with(Vec::new);
                self.failed(&applied, e.0);
            }
        }
    }

    /// Takes a message from the handle (`None`: the handle is gone).
    fn receive(&mut self, m: Option<Msg>) {
        match m {
            Some(Msg::Changes(cs)) => {
                for c in cs {
                    match &c.attrs {
                        Some(a) => self
                            .desired
                            .insert(c.nlri.clone(), (c.id, a.clone(), c.levels)),
                        None => self.desired.remove(&c.nlri),
                    };
                    self.pending.insert(c.nlri.clone(), c);
                }
            }
            Some(Msg::Sync { desired, stale }) => {
                self.desired = desired
                    .into_iter()
                    .filter_map(|c| Some((c.nlri, (c.id, c.attrs?, c.levels))))
                    .collect();
                self.pending.clear();
                self.full = Some(stale);
            }
            Some(Msg::Stop) | None => self.stopping = true,
        }
    }

    /// One try: a reconciliation when one is due, else the pending changes.
    async fn attempt(&mut self) {
        let (batch, result) = match self.full.clone() {
            Some(stale) => {
                let all = self.desired_changes();
                let mut gone = stale;
                gone.extend(self.pending.values().filter(|c| c.attrs.is_none()).cloned());
                let r = self.backend.reconcile(&all, &gone).await;
                gone.extend(all);
                (gone, r)
            }
            None => {
                let batch: Vec<Change> = self.pending.values().cloned().collect();
                let r = self.backend.apply(&batch).await;
                (batch, r)
            }
        };
        match result {
            Ok(()) => self.succeeded(&batch),
            Err(e) => self.failed(&batch, e.0),
        }
    }

    /// The backend holds `batch`: report it and clear what was pending.
    fn succeeded(&mut self, batch: &[Change]) {
        if self.failures > 0 {
            info!(adapter = %self.name, "adapter recovered after {} failures", self.failures);
        }
        self.failures = 0;
        self.pending.clear();
        let reconciled = self.full.take().is_some();
        if reconciled && self.lost > 1 {
            // The resync tried again: the next probe may report a loss once more.
            self.lost = 1;
        }
        let (up, down): (Vec<&Change>, Vec<&Change>) =
            batch.iter().partition(|c| c.attrs.is_some());
        for (state, cs) in [(Outcome::Applied, up), (Outcome::Withdrawn, down)] {
            if !cs.is_empty() {
                self.report(cs.iter().map(|c| c.id).collect(), state, None);
            }
        }
        if let Ok(mut s) = self.status.lock() {
            s.applied += 1;
            s.reconciled += u64::from(reconciled);
            s.last_error = None;
        }
        self.update(None);
    }

    /// The backend refused `batch`: report it and retry after the backoff.
    fn failed(&mut self, batch: &[Change], error: String) {
        self.failures += 1;
        let delay = backoff(self.failures - 1);
        warn!(adapter = %self.name, error = %error, retry_in = ?delay, pending = self.pending.len(), "adapter failed; will retry");
        self.retry = Some(Instant::now() + delay);
        let ids = batch.iter().map(|c| c.id).collect();
        self.report(ids, Outcome::Failed, Some(error.clone()));
        if let Ok(mut s) = self.status.lock() {
            s.failures += 1;
        }
        self.update(Some(error));
    }

    fn report(&self, ids: Vec<u64>, state: Outcome, error: Option<String>) {
        let _ = self.reports.send(Report {
            adapter: self.name.clone(),
            ids,
            state,
            error,
        });
    }

    /// Refreshes the status's counts and backend line (and its error, if given).
    fn update(&self, error: Option<String>) {
        if let Ok(mut s) = self.status.lock() {
            s.desired = self.desired.len();
            s.pending = self.pending.len();
            s.backend = self.backend.describe();
            if error.is_some() {
                s.last_error = error;
            }
        }
    }
}
