//! Adapter task tests with a stand-in backend: retries with backoff, reconciliation,
//! levels, and what a stop does with queued changes.

use super::task::backoff;
use super::*;
use std::sync::atomic::{AtomicU32, Ordering};

/// A backend that fails its first `fail` applies and records what it was given.
#[derive(Debug)]
struct Flaky {
    fail: Arc<AtomicU32>,
    seen: Arc<Mutex<Vec<Vec<Change>>>>,
}

impl Backend for Flaky {
    fn name(&self) -> String {
        "flaky".into()
    }

    async fn apply(&mut self, changes: &[Change]) -> Result<(), AdapterError> {
        self.seen.lock().unwrap().push(changes.to_vec());
        if self.fail.load(Ordering::SeqCst) > 0 {
            self.fail.fetch_sub(1, Ordering::SeqCst);
            return Err(AdapterError("daemon unreachable".into()));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        "test".into()
    }

    async fn stop(self) {}
}

fn route(s: &str) -> RouteText {
    s.parse().unwrap()
}

#[tokio::test]
async fn failed_changes_are_retried_and_nothing_is_lost() {
    let fail = Arc::new(AtomicU32::new(1));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (rtx, mut rrx) = mpsc::unbounded_channel();
    let h = Handle::spawn(
        Flaky {
            fail: fail.clone(),
            seen: seen.clone(),
        },
        Levels::ALL,
        rtx,
    );
    let a = route("route 192.0.2.1/32 community 65535:666");
    let b = route("flow destination 192.0.2.2/32 then discard");
    h.send(vec![Change::announce(1, &a, Levels::ALL)]).await;
    let r = rrx.recv().await.unwrap();
    assert_eq!(
        (r.state.as_str(), r.ids.clone(), r.error.as_deref()),
        ("failed", vec![1], Some("daemon unreachable"))
    );
    // While failing, more changes queue up: b is announced, a is withdrawn again.
    h.send(vec![
        Change::announce(2, &b, Levels::ALL),
        Change::withdraw(1, &a, Levels::ALL),
    ])
    .await;
    tokio::task::yield_now().await;
    let st = h.status();
    assert_eq!((st.desired, st.pending, st.failures), (1, 2, 1));
    assert_eq!(st.last_error.as_deref(), Some("daemon unreachable"));
    // The retry (after 1 s) carries the latest state of both routes in one batch.
    let r1 = rrx.recv().await.unwrap();
    let r2 = rrx.recv().await.unwrap();
    assert_eq!((r1.state.as_str(), r1.ids), ("applied", vec![2]));
    assert_eq!((r2.state.as_str(), r2.ids), ("withdrawn", vec![1]));
    let batches = seen.lock().unwrap().clone();
    assert_eq!(batches.len(), 2);
    assert_eq!(batches[1].len(), 2);
    let st = h.status();
    assert_eq!(
        (st.desired, st.pending, st.applied, st.last_error),
        (1, 0, 1, None)
    );
    h.stop().await;
}

#[test]
fn backoff_doubles_to_a_minute() {
    let s: Vec<u64> = (0..9).map(|f| backoff(f).as_secs()).collect();
    assert_eq!(s, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
}

#[tokio::test]
async fn stop_applies_what_is_queued_first() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (rtx, mut rrx) = mpsc::unbounded_channel();
    let h = Handle::spawn(
        Flaky {
            fail: Arc::new(AtomicU32::new(0)),
            seen: seen.clone(),
        },
        Levels::ALL,
        rtx,
    );
    h.send(vec![Change::announce(
        1,
        &route("route 192.0.2.1/32"),
        Levels::ALL,
    )])
    .await;
    tokio::time::timeout(std::time::Duration::from_secs(5), h.stop())
        .await
        .expect("stop returns");
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(rrx.recv().await.unwrap().state.as_str(), "applied");
}

/// A daemon stand-in that holds routes, can forget them (a restart) and can be down.
#[derive(Debug, Default, Clone)]
struct Daemon {
    held: Arc<Mutex<std::collections::BTreeSet<Nlri>>>,
    down: Arc<std::sync::atomic::AtomicBool>,
    /// Takes routes but never holds them (or a probe that cannot see them).
    amnesiac: bool,
    applies: Arc<AtomicU32>,
}

impl Daemon {
    /// Applies: how many `apply` calls the daemon answered.
    fn applies(&self) -> usize {
        self.applies.load(Ordering::SeqCst) as usize
    }

    fn reachable(&self) -> Result<(), AdapterError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(AdapterError("connection refused".into()));
        }
        Ok(())
    }
}

impl Backend for Daemon {
    fn name(&self) -> String {
        "daemon".into()
    }

    async fn apply(&mut self, changes: &[Change]) -> Result<(), AdapterError> {
        self.reachable()?;
        self.applies.fetch_add(1, Ordering::SeqCst);
        if self.amnesiac {
            return Ok(());
        }
        let mut held = self.held.lock().unwrap();
        for c in changes {
            match c.attrs {
                Some(_) => held.insert(c.nlri.clone()),
                None => held.remove(&c.nlri),
            };
        }
        Ok(())
    }

    async fn probe(&mut self, applied: &[Change]) -> Result<Option<String>, AdapterError> {
        self.reachable()?;
        let held = self.held.lock().unwrap();
        let missing = applied.iter().filter(|c| !held.contains(&c.nlri)).count();
        Ok((missing > 0).then(|| format!("lost {missing} routes")))
    }

    fn describe(&self) -> String {
        "stand-in".into()
    }

    async fn stop(self) {}
}

/// The next report, waiting well past a probe interval.
async fn next(rx: &mut mpsc::UnboundedReceiver<Report>) -> Report {
    tokio::time::timeout(PROBE * 4, rx.recv())
        .await
        .expect("a report within four probe intervals")
        .expect("the task is running")
}

/// A daemon that restarts and forgets its routes is found by the probe: the routes are
/// reported failed (not applied) and reconciled at once, long before the minute's
/// resync; one that cannot be reached is reported failed until it answers again.
#[tokio::test]
async fn a_daemon_that_lost_its_routes_is_reconciled_at_once() {
    let d = Daemon::default();
    let (rtx, mut rrx) = mpsc::unbounded_channel();
    let h = Handle::spawn(d.clone(), Levels::ALL, rtx);
    let a = route("route 192.0.2.1/32 community 65535:666");
    h.send(vec![Change::announce(1, &a, Levels::ALL)]).await;
    assert_eq!(next(&mut rrx).await.state, Outcome::Applied);

    // A restart: the daemon forgets everything.
    d.held.lock().unwrap().clear();
    let started = std::time::Instant::now();
    let lost = next(&mut rrx).await;
    assert_eq!(
        (lost.state, lost.ids, lost.error.as_deref()),
        (Outcome::Failed, vec![1], Some("lost 1 routes"))
    );
    let back = next(&mut rrx).await;
    assert_eq!((back.state, back.ids), (Outcome::Applied, vec![1]));
    assert!(started.elapsed() < RESYNC, "not left to the resync");
    assert!(d.held.lock().unwrap().contains(&a.nlri));
    let st = h.status();
    assert_eq!((st.restarts, st.reconciled, st.last_error), (1, 1, None));

    // Down: reported failed while it does not answer, reconciled when it does.
    d.down.store(true, Ordering::SeqCst);
    d.held.lock().unwrap().clear();
    let down = next(&mut rrx).await;
    assert_eq!(
        (down.state, down.error.as_deref()),
        (Outcome::Failed, Some("connection refused"))
    );
    assert!(h.status().last_error.is_some());
    d.down.store(false, Ordering::SeqCst);
    loop {
        let r = next(&mut rrx).await;
        if r.state == Outcome::Applied {
            break;
        }
        assert_eq!(r.state, Outcome::Failed, "{r:?}");
    }
    assert!(d.held.lock().unwrap().contains(&a.nlri));
    assert_eq!(h.status().last_error, None);
    h.stop().await;
}

/// A daemon that keeps lacking the routes after the reconciliation is reported once
/// more and left to the resync: the adapter does not reconcile at every probe.
#[tokio::test]
async fn a_daemon_that_cannot_hold_routes_is_not_reconciled_at_every_probe() {
    let d = Daemon {
        amnesiac: true,
        ..Daemon::default()
    };
    let (rtx, mut rrx) = mpsc::unbounded_channel();
    let h = Handle::spawn(d.clone(), Levels::ALL, rtx);
    let a = route("route 192.0.2.1/32");
    h.send(vec![Change::announce(1, &a, Levels::ALL)]).await;
    assert_eq!(next(&mut rrx).await.state, Outcome::Applied);
    assert_eq!(next(&mut rrx).await.state, Outcome::Failed);
    assert_eq!(
        next(&mut rrx).await.state,
        Outcome::Applied,
        "one reconciliation"
    );
    let again = next(&mut rrx).await;
    assert_eq!(again.state, Outcome::Failed);
    assert!(
        again
            .error
            .as_deref()
            .is_some_and(|e| e.contains("still missing")),
        "{again:?}"
    );
    // Quiet until the resync: no more reports, no more applies.
    let quiet = tokio::time::timeout(PROBE * 3, rrx.recv()).await;
    assert!(quiet.is_err(), "{quiet:?}");
    assert_eq!(d.applies(), 2);
    assert_eq!(h.status().restarts, 1);
    h.stop().await;
}
