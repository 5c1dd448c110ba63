//! The store on a thread of its own, so no SQLite call runs on the async runtime.
//! Writes queue on a bounded channel (a full queue makes the mitigation task wait,
//! never drops a decision); the thread takes everything queued, up to [`MAX_BATCH`],
//! and writes it as one transaction. Reads the service needs (an adapter's held
//! routes) queue behind the writes before them and are answered after those commit.
//! Failed writes are counted ([`Writer::errors`]) and logged. After every batch that
//! appended audit entries, the chain's head and entry count are logged and published
//! ([`Writer::anchor`]). [`Writer::stop`] writes the coalesced expiries, then ends the
//! thread once everything queued is written.

use super::{Anchor, Store, StoreError, Write};
use levee_bgp::rib::RouteText;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info};

/// Writes queued before the service waits.
pub const QUEUE: usize = 4096;
/// Most messages taken into one transaction.
pub const MAX_BATCH: usize = 1024;

/// An adapter's held routes, as [`Store::held`] answers.
type Held = Result<Vec<(u64, RouteText)>, StoreError>;

enum Msg {
    Write(Write),
    Held(String, oneshot::Sender<Held>),
    Flush(u64, oneshot::Sender<()>),
    Sync(oneshot::Sender<()>),
    /// Ends the thread (after what is queued before it), even while other senders
    /// ([`Sender`]) are still held.
    Stop,
}

/// What the thread shares.
#[derive(Debug, Default)]
struct Shared {
    errors: AtomicU64,
    anchor: Mutex<Anchor>,
}

/// The handle on the store's thread.
#[derive(Debug)]
pub struct Writer {
    tx: mpsc::Sender<Msg>,
    thread: Option<std::thread::JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Write(w) => write!(f, "Write({w:?})"),
            Msg::Held(a, _) => write!(f, "Held({a})"),
            Msg::Flush(now, _) => write!(f, "Flush({now})"),
            Msg::Sync(_) => write!(f, "Sync"),
            Msg::Stop => f.write_str("Stop"),
        }
    }
}

impl Writer {
    /// Moves the store to its thread.
    pub fn start(store: Store) -> std::io::Result<Writer> {
        let a = store.anchor();
        info!(entries = a.entries, head = %a.head, "audit chain");
        let shared = Arc::new(Shared {
            errors: AtomicU64::new(0),
            anchor: Mutex::new(store.anchor()),
        });
        let (tx, rx) = mpsc::channel(QUEUE);
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("levee-store".into())
            .spawn(move || serve(store, rx, &s))?;
        Ok(Writer {
            tx,
            thread: Some(thread),
            shared,
        })
    }

    /// Queues a write (waits while the queue is full).
    pub async fn write(&self, w: Write) {
        if self.tx.send(Msg::Write(w)).await.is_err() {
            self.lost("the store thread has ended");
        }
    }

    /// The routes `adapter` may still hold (see [`Store::held`]), after every write
    /// queued before.
    pub async fn held(&self, adapter: &str) -> Held {
        let (reply, rx) = oneshot::channel();
        if self
            .tx
            .send(Msg::Held(adapter.to_string(), reply))
            .await
            .is_err()
        {
            self.lost("the store thread has ended");
            return Ok(Vec::new());
        }
        rx.await.unwrap_or_else(|_| Ok(Vec::new()))
    }

    /// Waits until everything queued so far is committed (not the coalesced expiries):
    /// a decision is on disk before any router hears of it.
    pub async fn sync(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Msg::Sync(reply)).await.is_err() {
            self.lost("the store thread has ended");
            return;
        }
        let _ = rx.await;
    }

    /// Writes the coalesced expiries and waits until everything queued is written.
    pub async fn flush(&self, now: u64) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(now, reply)).await.is_err() {
            self.lost("the store thread has ended");
            return;
        }
        let _ = rx.await;
    }

    /// Another handle for queueing writes (traffic history), which does not keep the
    /// thread alive: [`Writer::stop`] ends it, and writes queued after that are counted
    /// as lost.
    pub fn sender(&self) -> Sender {
        Sender {
            tx: self.tx.clone(),
            shared: self.shared.clone(),
        }
    }

    /// Flushes, then ends the thread.
    pub async fn stop(self, now: u64) {
        self.flush(now).await;
        let Writer { tx, thread, .. } = self;
        let _ = tx.send(Msg::Stop).await;
        drop(tx);
        if let Some(t) = thread {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }

    /// Failed writes so far.
    pub fn errors(&self) -> u64 {
        self.shared.errors.load(Relaxed)
    }

    /// The chain's head after the last batch.
    pub fn anchor(&self) -> Anchor {
        self.shared
            .anchor
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default()
    }

    fn lost(&self, why: &str) {
        self.shared.errors.fetch_add(1, Relaxed);
        error!("store write lost: {why}");
    }
}

/// A handle queueing writes on the store's thread ([`Writer::sender`]).
#[derive(Debug, Clone)]
pub struct Sender {
    tx: mpsc::Sender<Msg>,
    shared: Arc<Shared>,
}

impl Sender {
    /// Queues a write (waits while the queue is full).
    pub async fn write(&self, w: Write) {
        if self.tx.send(Msg::Write(w)).await.is_err() {
            self.shared.errors.fetch_add(1, Relaxed);
            error!("store write lost: the store thread has ended");
        }
    }
}

/// The thread: batches until the channel closes or a stop.
fn serve(mut store: Store, mut rx: mpsc::Receiver<Msg>, shared: &Shared) {
    let mut stopping = false;
    while let Some(first) = rx.blocking_recv() {
        let mut writes = Vec::new();
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(m) = next {
            taken += 1;
            match m {
                Msg::Write(w) => writes.push(w),
                Msg::Held(adapter, reply) => {
                    commit(&mut store, &mut writes, shared);
                    let held = store.held(&adapter);
                    if let Err(e) = &held {
                        count(shared, e);
                    }
                    let _ = reply.send(held);
                }
                Msg::Flush(now, reply) => {
                    writes.push(Write::Flush { now });
                    commit(&mut store, &mut writes, shared);
                    let _ = reply.send(());
                }
                Msg::Sync(reply) => {
                    commit(&mut store, &mut writes, shared);
                    let _ = reply.send(());
                }
                Msg::Stop => {
                    stopping = true;
                    break;
                }
            }
            next = if taken < MAX_BATCH {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        commit(&mut store, &mut writes, shared);
        if stopping {
            return;
        }
    }
}

/// Writes what is pending as one transaction, counts its failures and publishes the
/// head if entries were appended.
fn commit(store: &mut Store, writes: &mut Vec<Write>, shared: &Shared) {
    if writes.is_empty() {
        return;
    }
    let before = store.anchor();
    for e in store.write(writes) {
        count(shared, &e);
    }
    writes.clear();
    let after = store.anchor();
    if after != before {
        info!(entries = after.entries, head = %after.head, "audit chain");
        if let Ok(mut a) = shared.anchor.lock() {
            *a = after;
        }
    }
}

fn count(shared: &Shared, e: &StoreError) {
    shared.errors.fetch_add(1, Relaxed);
    error!(error = %e, "store write failed; the decision stands and is logged here");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::traffic::MinuteRow;

    /// A write queued through another sender is written; stopping ends the thread
    /// while that sender is still held; a write after the stop is counted as lost.
    #[tokio::test(flavor = "current_thread")]
    async fn stop_ends_the_thread_while_other_senders_live() {
        let (_d, path, st) = crate::store::tests::fresh("writer-stop");
        let w = Writer::start(st).unwrap();
        let other = w.sender();
        let row = MinuteRow {
            network: "a".into(),
            minute_s: 1_800_000_000 / 60 * 60,
            seconds: 60,
            ..MinuteRow::default()
        };
        other
            .write(Write::Traffic {
                minutes: vec![row.clone()],
                prune_before_s: None,
            })
            .await;
        let errors = other.shared.clone();
        w.stop(1).await;
        other
            .write(Write::Traffic {
                minutes: vec![row.clone()],
                prune_before_s: None,
            })
            .await;
        assert_eq!(errors.errors.load(Relaxed), 1);
        let r = Store::open_read(&path).unwrap();
        assert_eq!(r.minutes("a", 0, u64::MAX >> 2, 10).unwrap(), vec![row]);
    }
}
