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
