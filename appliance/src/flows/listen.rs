//! UDP listeners for flow exports.
//!
//! Each listener is one tokio task owning its socket and its [`Decoder`]. On every
//! readiness event it drains up to [`DRAIN`] datagrams without awaiting (batched receive),
//! decodes them, and hands the records to the consumer as one batch with `try_send`: if
//! the consumer lags and the channel is full, the batch is dropped and counted. The socket
//! is never left unread because of a slow consumer.

use super::ratelimit::LogLimiter;
use super::{FlowBatch, IngestCounters};
use crate::config::Listener;
use levee_flow::{Batch, Decoder, ExporterStats, Limits};
use socket2::{Domain, Protocol, Socket, Type};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tracing::{info, warn};

/// Datagrams read per readiness event before yielding.
const DRAIN: usize = 256;
/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;

/// Per-exporter counters of one listener, refreshed about once a second.
pub type ExporterTable = Arc<Mutex<HashMap<IpAddr, ExporterStats>>>;

/// Binds a UDP socket with the configured receive buffer.
pub fn bind(cfg: &Listener) -> std::io::Result<(UdpSocket, usize)> {
    let sock = Socket::new(
        Domain::for_address(cfg.bind),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    if cfg.bind.is_ipv6() {
        // [::] also receives IPv4 exports (dual-stack), as operators expect.
        let _ = sock.set_only_v6(false);
    }
    let want = usize::try_from(cfg.receive_buffer).unwrap_or(usize::MAX);
    if let Err(e) = sock.set_recv_buffer_size(want) {
        warn!(bind = %cfg.bind, "cannot set receive buffer: {e}");
    }
    let got = sock.recv_buffer_size().unwrap_or(0);
    // Linux reports twice the usable size.
    if got / 2 < want.min(1 << 30) {
        warn!(
            bind = %cfg.bind,
            "receive buffer is {} KiB, not the {} KiB asked for; raise net.core.rmem_max",
            got / 2 / 1024,
            want / 1024
        );
    }
    sock.set_nonblocking(true)?;
    sock.bind(&cfg.bind.into())?;
    Ok((UdpSocket::from_std(sock.into())?, got))
}

/// Runs one listener until the channel closes.
pub async fn run(
    sock: UdpSocket,
    name: &'static str,
    limits: Limits,
    tx: mpsc::Sender<FlowBatch>,
    counters: Arc<IngestCounters>,
    table: ExporterTable,
) {
    let local: Option<SocketAddr> = sock.local_addr().ok();
    let span = tracing::info_span!("listener", kind = name, bind = ?local);
    let _enter = span.enter();
    info!("listening");
    let mut decoder = Decoder::new(limits);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut batch = Batch::default();
    let mut limiter = LogLimiter::new(10, Duration::from_secs(10));
    let mut published = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            ready = sock.readable() => {
                if let Err(e) = ready {
                    warn!("socket error: {e}");
                    counters.receive_errors.fetch_add(1, Relaxed);
                    continue;
                }
            }
            _ = tick.tick() => {}
            _ = tx.closed() => break,
        }
        let now_us = unix_micros();
        let mut datagrams = 0;
        while datagrams < DRAIN {
            match sock.try_recv_from(&mut buf) {
                Ok((n, from)) => {
                    datagrams += 1;
                    let r = decoder.decode(from.ip(), now_us, &buf[..n], &mut batch);
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
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    counters.receive_errors.fetch_add(1, Relaxed);
                    warn!("receive error: {e}");
                    break;
                }
            }
        }
        counters.datagrams.fetch_add(datagrams as u64, Relaxed);
        if !batch.records.is_empty() {
            let n = batch.records.len() as u64;
            counters.records.fetch_add(n, Relaxed);
            let records = std::mem::replace(&mut batch.records, Vec::with_capacity(n as usize));
            match tx.try_send(FlowBatch {
                records,
                counters: std::mem::take(&mut batch.counters),
            }) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    counters.dropped_records.fetch_add(n, Relaxed);
                    counters.dropped_batches.fetch_add(1, Relaxed);
                }
                Err(TrySendError::Closed(_)) => break,
            }
        }
        batch.counters.clear();
        if published.elapsed() >= Duration::from_secs(1) {
            published = Instant::now();
            publish(&decoder, &table);
        }
    }
    publish(&decoder, &table);
}

fn publish(decoder: &Decoder, table: &ExporterTable) {
    if let Ok(mut t) = table.lock() {
        for (addr, stats) in decoder.exporters() {
            t.insert(*addr, stats.clone());
        }
    }
}

/// Wall-clock microseconds since the Unix epoch.
pub fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ListenerKind;

    /// An sFlow datagram with one flow sample of a sampled IPv4/UDP header.
    fn sflow_datagram(seq: u32) -> Vec<u8> {
        let mut hdr = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
        hdr.extend_from_slice(&[
            0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 1,
        ]);
        hdr.extend_from_slice(&[0, 53, 0x30, 0x39, 0, 8, 0, 0]);
        let words = |ws: &[u32]| ws.iter().flat_map(|w| w.to_be_bytes()).collect::<Vec<u8>>();
        let mut rec = words(&[1, 60, 0, hdr.len() as u32]);
        rec.extend_from_slice(&hdr);
        rec.resize(rec.len().next_multiple_of(4), 0);
        let mut sample = words(&[1, 3, 100, 0, 0, 1, 2, 1, 1, rec.len() as u32]);
        sample.extend_from_slice(&rec);
        let mut d = words(&[5, 1, 0xc000_0201, 0, seq, 0, 1, 1, sample.len() as u32]);
        d.extend_from_slice(&sample);
        d
    }

    #[tokio::test]
    async fn lagging_consumer_drops_and_counts_without_blocking_the_socket() {
        let cfg = Listener {
            kind: ListenerKind::Sflow,
            bind: "127.0.0.1:0".parse().unwrap(),
            receive_buffer: 4 << 20,
        };
        let (sock, _) = bind(&cfg).unwrap();
        let addr = sock.local_addr().unwrap();
        // Capacity 1 and nobody reading: every batch after the first is dropped.
        let (tx, rx) = mpsc::channel(1);
        let counters = Arc::new(IngestCounters::default());
        let table = ExporterTable::default();
        let task = tokio::spawn(run(
            sock,
            "sflow",
            Limits::default(),
            tx,
            counters.clone(),
            table.clone(),
        ));
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let total = 2_000u64;
        for seq in 0..total {
            sender.send_to(&sflow_datagram(seq as u32), addr).unwrap();
            if seq % 100 == 99 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while counters.datagrams.load(Relaxed) < total {
            assert!(
                Instant::now() < deadline,
                "listener stopped reading: {}",
                counters.render()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Every datagram was read and decoded; what the full channel could not take was
        // dropped and counted, and the books balance.
        let records = counters.records.load(Relaxed);
        let dropped = counters.dropped_records.load(Relaxed);
        assert_eq!(records, total);
        assert!(dropped > 0 && dropped < total, "{}", counters.render());
        let queued: usize = rx.len();
        assert_eq!(queued, 1);
        drop(rx);
        task.await.unwrap();
        let t = table.lock().unwrap();
        let stats = t.values().next().unwrap();
        assert_eq!(
            (stats.datagrams, stats.records, stats.lost_datagrams),
            (total, total, 0)
        );
    }
}
