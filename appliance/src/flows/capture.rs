//! Mirror-port capture: libpcap on Linux uses an AF_PACKET TPACKET_V3 ring. One thread
//! per interface reads packets, keeps 1 in N when sampling is configured, turns each into
//! a flow record, and hands batches to the consumer without ever blocking on it.
//!
//! The capture is non-blocking: with TPACKET_V3 a blocking read can wait past its timeout
//! when nothing matches the filter, and the thread must notice a stop request. So the
//! thread drains the ring, sleeps 1 ms while traffic flows (as the UDP listeners do), and
//! otherwise waits in `poll(2)` for at most 100 ms.

use super::link::network_layer;
use super::settings::Mirror;
use super::sys::wait_readable;
use super::{FlowBatch, IngestCounters};
use levee_flow::{FlowRecord, mirror};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tracing::{info, warn};

/// Why a capture could not start.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// libpcap refused to open the interface or compile the filter.
    #[error("mirror interface {interface}: {reason}")]
    Open { interface: String, reason: String },
}

/// Bytes of each packet to keep: enough for Ethernet, two VLAN tags, IPv6 with extension
/// headers and the transport header.
const SNAPLEN: i32 = 256;
const BATCH: usize = 1024;
/// Pause after draining the ring while traffic flows.
const COALESCE: Duration = Duration::from_millis(1);
/// Longest wait for traffic before checking for a stop request.
const IDLE_WAKE: Duration = Duration::from_millis(100);

/// Opens the interface now (so errors surface at start-up) and spawns its reader thread.
pub fn start(
    cfg: &Mirror,
    tx: mpsc::Sender<FlowBatch>,
    counters: Arc<IngestCounters>,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, CaptureError> {
    let open_err = |e: pcap::Error| CaptureError::Open {
        interface: cfg.interface.clone(),
        reason: e.to_string(),
    };
    let mut cap = pcap::Capture::from_device(cfg.interface.as_str())
        .map_err(open_err)?
        .promisc(true)
        .snaplen(SNAPLEN)
        .buffer_size(64 << 20)
        .timeout(100)
        .open()
        .map_err(open_err)?
        .setnonblock()
        .map_err(open_err)?;
    if let Some(f) = &cfg.bpf {
        cap.filter(f, true).map_err(open_err)?;
    }
    let linktype = cap.get_datalink().0;
    let in_if = std::fs::read_to_string(format!("/sys/class/net/{}/ifindex", cfg.interface))
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let sampling = cfg.sampling.get();
    let name = cfg.interface.clone();
    info!(interface = %name, sampling, "mirror capture started");
    let thread_name = format!("mirror-{name}");
    let interface = name.clone();
    let spawned = std::thread::Builder::new().name(thread_name).spawn(move || {
        let exporter = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let mut records: Vec<FlowRecord> = Vec::with_capacity(BATCH);
        let mut seen: u64 = 0;
        let mut flushed = Instant::now();
        let fd = cap.as_raw_fd();
        let mut drained = 0u32;
        while !stop.load(Relaxed) {
            match cap.next_packet() {
                Ok(p) => {
                    seen += 1;
                    drained += 1;
                    counters.mirror_packets.fetch_add(1, Relaxed);
                    if sampling > 1 && !seen.is_multiple_of(u64::from(sampling)) {
                        continue;
                    }
                    let ts = p.header.ts;
                    let t = crate::clock::Timestamp::from_timeval(ts.tv_sec, ts.tv_usec).as_micros();
                    let rec = network_layer(linktype, p.data).and_then(|(link, bytes)| {
                        mirror::record(link, bytes, p.header.len, t, exporter, sampling, in_if)
                    });
                    if let Some(r) = rec {
                        records.push(r);
                    }
                }
                // Non-blocking and nothing queued.
                Err(pcap::Error::TimeoutExpired) => {
                    if drained > 0 {
                        std::thread::sleep(COALESCE);
                    } else if let Err(e) = wait_readable(fd, IDLE_WAKE) {
                        warn!(interface = %name, "poll: {e}");
                        std::thread::sleep(IDLE_WAKE);
                    }
                    drained = 0;
                }
                Err(e) => {
                    warn!(interface = %name, "capture stopped: {e}");
                    counters.receive_errors.fetch_add(1, Relaxed);
                    break;
                }
            }
            if records.len() >= BATCH || (!records.is_empty() && flushed.elapsed() >= Duration::from_millis(50)) {
                flushed = Instant::now();
                let n = records.len() as u64;
                counters.records.fetch_add(n, Relaxed);
                let batch = FlowBatch { records: std::mem::replace(&mut records, Vec::with_capacity(BATCH)), counters: Vec::new() };
                match tx.try_send(batch) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        counters.dropped_records.fetch_add(n, Relaxed);
                        counters.dropped_batches.fetch_add(1, Relaxed);
                    }
                    Err(TrySendError::Closed(_)) => break,
                }
            }
        }
        if let Ok(s) = cap.stats() {
            info!(interface = %name, received = s.received, dropped_by_kernel = s.dropped, "mirror capture stopped");
        }
    });
    spawned.map_err(|e| CaptureError::Open {
        interface,
        reason: format!("cannot start thread: {e}"),
    })
}
