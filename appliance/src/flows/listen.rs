//! UDP listeners for flow exports.
//!
//! Each listener is one OS thread owning its socket and its [`Decoder`]. It receives up
//! to 32 datagrams per `recvmmsg(2)` call (batched receive), decodes them, and gathers the
//! records into batches handed to the consumer's tokio channel with `try_send` (at 2,048
//! records or after 5 ms): if the consumer lags and the channel is full, the batch is
//! dropped and counted. The socket is never left unread because of a slow consumer.
//!
//! Why a thread and not a tokio task: on this 2-core VM, profiling at 2M samples/s showed
//! about half the listener's CPU in context switches, because an edge-triggered reactor
//! wakes the task for every arriving burst. A thread that drains the socket and then
//! sleeps [`COALESCE`] (software interrupt coalescing) is woken at most ~1,000 times a
//! second under load, whatever the exporters' pacing; idle, it blocks in the kernel.
//!
//! Before decoding, each datagram's UDP source is looked up in the [`Allowlist`]: a
//! stranger's datagram is dropped undecoded and counted ([`Strangers`]), an exporter's
//! is decoded under its policy (sampling override, interfaces, rate budget).

use super::exporters::{Admission, Allowlist, LiveAllowlist, Strangers};
use super::ratelimit::LogLimiter;
use super::settings::Listener;
use super::sys::{BATCH, MultiRecv};
use super::{FlowBatch, IngestCounters};
use levee_flow::{Batch, CacheStats, Decoder, ExporterStats, Limits};
use socket2::{Domain, Protocol, Socket, Type};
use std::collections::HashMap;
use std::net::{IpAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tracing::warn;

/// After draining the socket, sleep this long before reading again so the kernel queues
/// a batch instead of waking us for every datagram.
const COALESCE: Duration = Duration::from_millis(1);
/// How long a blocking receive waits before checking whether to stop.
const IDLE_WAKE: Duration = Duration::from_millis(100);
/// Records gathered before a batch goes to the consumer...
const BATCH_RECORDS: usize = 2048;
/// ...or after this long, whichever comes first. Small against the detection budget.
const FLUSH_AFTER: Duration = Duration::from_millis(5);

/// Foreign sources counted per listener (the top of [`Strangers`]).
const STRANGERS_HELD: usize = 32;

/// What one listener publishes about its sources, about once a second.
#[derive(Debug, Clone, Default)]
pub struct ListenerStatus {
    /// Counters per exporter the decoder holds (bounded by `max_exporter_streams`).
    pub exporters: HashMap<IpAddr, ExporterStats>,
    /// Datagrams dropped because no `exporters:` entry covers their source.
    pub foreign_total: u64,
    /// The sources of most of them, with their (over-estimated) counts.
    pub foreign_top: Vec<(IpAddr, u64)>,
    /// The decoder's stream cache.
    pub cache: CacheStats,
}

/// One listener's published status.
pub type ExporterTable = Arc<Mutex<ListenerStatus>>;

/// Binds a UDP socket with the configured receive buffer (warning when the kernel grants
/// less).
pub fn bind(cfg: &Listener) -> std::io::Result<UdpSocket> {
    let sock = Socket::new(
        Domain::for_address(cfg.bind),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    if cfg.bind.is_ipv6() {
        // [::] also receives IPv4 exports (dual-stack), as operators expect.
        let _ = sock.set_only_v6(false);
    }
    set_receive_buffer(&sock, cfg);
    sock.set_read_timeout(Some(IDLE_WAKE))?;
    sock.bind(&cfg.bind.into())?;
    Ok(sock.into())
}

/// Asks for `cfg.receive_buffer` as SO_RCVBUF on `sock` (bound or not), warning when the
/// kernel grants less; returns the usable size granted.
pub fn set_receive_buffer(sock: &impl std::os::fd::AsFd, cfg: &Listener) -> u64 {
    let sock = socket2::SockRef::from(sock);
    let want = usize::try_from(cfg.receive_buffer).unwrap_or(usize::MAX);
    if let Err(e) = sock.set_recv_buffer_size(want) {
        warn!(bind = %cfg.bind, "cannot set receive buffer: {e}");
    }
    let got = sock.recv_buffer_size().unwrap_or(0);
    // Linux reports twice the usable size.
    if got / 2 < want.min(1 << 30) {
        warn!(
            bind = %cfg.bind,
            "receive buffer is {}, not the {} asked for; raise net.core.rmem_max \
             (sysctl -w net.core.rmem_max={want})",
            crate::human::bytes((got / 2) as u64),
            crate::human::bytes(want as u64)
        );
    }
    (got / 2) as u64
}

/// What a listener thread needs besides its socket.
#[derive(Debug, Clone)]
pub struct ListenerContext {
    /// Listener name for logs ("sflow", "netflow", "ipfix").
    pub name: &'static str,
    /// Decoder state bounds.
    pub limits: Limits,
    /// Who may send, and what each is trusted with (a reload may replace it).
    pub allowlist: Arc<LiveAllowlist>,
    /// Where batches go.
    pub tx: mpsc::Sender<FlowBatch>,
    /// Shared ingest counters.
    pub counters: Arc<IngestCounters>,
    /// Per-exporter counters, published about once a second.
    pub table: ExporterTable,
    /// Set to stop the thread (it notices within [`IDLE_WAKE`]).
    pub stop: Arc<AtomicBool>,
}

/// Starts the listener thread.
pub fn spawn(
    sock: UdpSocket,
    ctx: ListenerContext,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("listen-{}", ctx.name))
        .spawn(move || run(&sock, &ctx))
}

/// Runs one listener until told to stop or the consumer goes away.
pub fn run(sock: &UdpSocket, ctx: &ListenerContext) {
    let span = tracing::info_span!("listener", kind = ctx.name, bind = ?sock.local_addr().ok());
    let _enter = span.enter();
    let fd = sock.as_raw_fd();
    let mut rx = Receiver::new(ctx.limits);
    // Block for the first datagram only after the socket was found empty.
    let mut wait = true;
    let mut allow = (ctx.allowlist.generation(), ctx.allowlist.current());
    while !ctx.stop.load(Relaxed) && !ctx.tx.is_closed() {
        match rx.multi.recv(fd, wait) {
            Ok(n) => {
                let generation = ctx.allowlist.generation();
                if generation != allow.0 {
                    allow = (generation, ctx.allowlist.current());
                    rx.reclassify(&allow.1);
                }
                rx.decode_received(n, &allow.1, &ctx.counters);
                // A full batch means more may be queued: read on without blocking.
                wait = false;
                if n < BATCH {
                    rx.flush_if_due(ctx);
                    std::thread::sleep(COALESCE);
                }
            }
            Err(e) if nothing_queued(&e) => {
                // Nothing queued: flush what waits, then block until traffic returns.
                rx.flush_if_due(ctx);
                wait = true;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => rx.receive_error(&e, &ctx.counters),
        }
        rx.hand_over_if_full(ctx);
        rx.publish_if_due(&ctx.table);
    }
    rx.finish(ctx);
}

/// Whether a receive error only says the socket is empty (non-blocking, or the blocking
/// receive timed out).
fn nothing_queued(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// One listener's receive state: the kernel's batch, the decoder, and the records
/// gathered for the consumer.
struct Receiver {
    multi: MultiRecv,
    decoder: Decoder,
    batch: Batch,
    /// Rate limit of the decode and receive error logs.
    limiter: LogLimiter,
    /// Foreign sources, and the rate limit of their log lines.
    strangers: Strangers,
    foreign_log: LogLimiter,
    /// Rate limit of the "exceeded its max_rate" warnings.
    rate_log: LogLimiter,
    /// Since when the batch holds something not handed over.
    pending_since: Option<Instant>,
    /// When the per-exporter counters were last published.
    published: Instant,
}

impl Receiver {
    /// Fresh state; a decoder bounded by `limits`.
    fn new(limits: Limits) -> Self {
        Receiver {
            multi: MultiRecv::default(),
            decoder: Decoder::new(limits),
            batch: Batch::default(),
            limiter: LogLimiter::new(10, Duration::from_secs(10)),
            strangers: Strangers::new(STRANGERS_HELD),
            foreign_log: LogLimiter::new(5, Duration::from_secs(60)),
            rate_log: LogLimiter::new(5, Duration::from_secs(60)),
            pending_since: None,
            published: Instant::now(),
        }
    }

    /// The allowlist changed (a reload): every stream and exporter the decoder holds is
    /// re-read against it, so an exporter it no longer lists loses its protection.
    fn reclassify(&mut self, allowlist: &Allowlist) {
        self.decoder
            .reclassify(|source| match allowlist.admit(source) {
                Admission::Accept(p) => p.name.clone(),
                Admission::Foreign => None,
            });
    }

    /// Decodes the `n` datagrams just received into the batch and counts them and their
    /// records; decode errors are counted and logged (rate-limited), and so are
    /// datagrams from sources the allowlist does not cover, which are not decoded.
    #[inline]
    fn decode_received(&mut self, n: usize, allowlist: &Allowlist, counters: &IngestCounters) {
        let Receiver {
            multi,
            decoder,
            batch,
            limiter,
            strangers,
            foreign_log,
            rate_log,
            pending_since,
            ..
        } = self;
        let now_us = crate::clock::now_us();
        let before = batch.records.len();
        for (from, data) in (0..n).filter_map(|i| multi.get(i)) {
            let source = from.ip().to_canonical();
            let policy = match allowlist.admit(source) {
                Admission::Accept(p) => p,
                Admission::Foreign => {
                    strangers.count(source);
                    counters.foreign_datagrams.fetch_add(1, Relaxed);
                    let (log, suppressed) = foreign_log.allow(Instant::now());
                    if suppressed > 0 {
                        warn!(suppressed, "datagrams from unlisted sources not logged");
                    }
                    if log {
                        warn!(
                            source = %from,
                            "dropped a datagram from a source no exporters: entry covers"
                        );
                    }
                    continue;
                }
            };
            let r = decoder.decode_from(source, policy, now_us, data, batch);
            counters.discarded_records.fetch_add(r.discarded, Relaxed);
            if r.discarded_rate > 0 {
                over_budget(rate_log, source, policy.name.as_deref(), r.discarded_rate);
            }
            if let Some(e) = r.error {
                counters.decode_errors.fetch_add(1, Relaxed);
                let (log, suppressed) = limiter.allow(Instant::now());
                if suppressed > 0 {
                    warn!(suppressed, "decode errors not logged in the last window");
                }
                if log {
                    warn!(exporter = %from, kind = e.kind(), "decode error: {e}");
                }
            }
        }
        counters.datagrams.fetch_add(n as u64, Relaxed);
        counters
            .records
            .fetch_add((batch.records.len() - before) as u64, Relaxed);
        if pending_since.is_none() && (!batch.records.is_empty() || !batch.counters.is_empty()) {
            *pending_since = Some(Instant::now());
        }
    }

    /// Hands the batch over once something has waited [`FLUSH_AFTER`].
    fn flush_if_due(&mut self, ctx: &ListenerContext) {
        if self
            .pending_since
            .is_some_and(|t| t.elapsed() >= FLUSH_AFTER)
        {
            self.pending_since = None;
            hand_over(&ctx.tx, &mut self.batch, &ctx.counters);
        }
    }

    /// Hands the batch over as soon as it holds [`BATCH_RECORDS`].
    fn hand_over_if_full(&mut self, ctx: &ListenerContext) {
        if self.batch.records.len() >= BATCH_RECORDS {
            self.pending_since = None;
            hand_over(&ctx.tx, &mut self.batch, &ctx.counters);
        }
    }

    /// A failed receive: counted, logged (rate-limited), and a pause before the next.
    fn receive_error(&mut self, e: &std::io::Error, counters: &IngestCounters) {
        counters.receive_errors.fetch_add(1, Relaxed);
        let (log, _) = self.limiter.allow(Instant::now());
        if log {
            warn!("receive error: {e}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }

    /// Publishes the per-exporter counters when a second has passed since last time.
    fn publish_if_due(&mut self, table: &ExporterTable) {
        if self.published.elapsed() >= Duration::from_secs(1) {
            self.published = Instant::now();
            publish(&self.decoder, &self.strangers, table);
        }
    }

    /// On stopping: hands over the records left and publishes the counters a last time.
    fn finish(mut self, ctx: &ListenerContext) {
        if !self.batch.records.is_empty() {
            hand_over(&ctx.tx, &mut self.batch, &ctx.counters);
        }
        publish(&self.decoder, &self.strangers, &ctx.table);
    }
}

/// Warns (rate-limited) that a source spent its per-second budget: whoever spends it
/// first in a second, possibly a forger using its address, has the rest discarded.
fn over_budget(log: &mut LogLimiter, source: IpAddr, name: Option<&str>, discarded: u64) {
    let (allow, suppressed) = log.allow(Instant::now());
    if suppressed > 0 {
        warn!(
            suppressed,
            "max_rate warnings not logged in the last window"
        );
    }
    if allow {
        let exporter = name.map_or_else(|| source.to_string(), str::to_owned);
        warn!(
            %source,
            discarded,
            "exporter {exporter} exceeded its max_rate: records discarded; a spoofed \
             source may be using its address"
        );
    }
}

/// Sends the batch without waiting. A full channel drops it, counted.
fn hand_over(tx: &mpsc::Sender<FlowBatch>, batch: &mut Batch, counters: &IngestCounters) {
    let n = batch.records.len() as u64;
    let records = std::mem::replace(&mut batch.records, Vec::with_capacity(BATCH_RECORDS));
    let b = FlowBatch {
        records,
        counters: std::mem::take(&mut batch.counters),
    };
    if let Err(TrySendError::Full(_)) = tx.try_send(b) {
        counters.dropped_records.fetch_add(n, Relaxed);
        counters.dropped_batches.fetch_add(1, Relaxed);
    }
}

/// Replaces the shared status with the decoder's counters (exporters it evicted leave
/// the table too) and the count of strangers.
fn publish(decoder: &Decoder, strangers: &Strangers, table: &ExporterTable) {
    if let Ok(mut t) = table.lock() {
        t.exporters.clear();
        t.exporters
            .extend(decoder.exporters().map(|(a, s)| (*a, s.clone())));
        t.foreign_total = strangers.total;
        t.foreign_top = strangers.top();
        t.cache = decoder.cache_stats();
    }
}

#[cfg(test)]
mod tests;
