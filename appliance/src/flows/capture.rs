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
use std::os::fd::{AsRawFd, RawFd};
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
    /// The kernel refused the AF_PACKET socket: the capability is missing.
    #[error(
        "mirror interface {interface}: {reason}: capture needs CAP_NET_RAW (the systemd \
         unit grants it; otherwise run levee as root or with that capability)"
    )]
    NoCapability { interface: String, reason: String },
}

/// Bytes of each packet to keep: enough for Ethernet, two VLAN tags, IPv6 with extension
/// headers and the transport header.
const SNAPLEN: i32 = 256;
const BATCH: usize = 1024;
/// Pause after draining the ring while traffic flows.
const COALESCE: Duration = Duration::from_millis(1);
/// Longest wait for traffic before checking for a stop request.
const IDLE_WAKE: Duration = Duration::from_millis(100);

/// A mirror interface opened (so errors surface at start-up), not yet read.
pub struct Opened {
    cap: pcap::Capture<pcap::Active>,
    cfg: Mirror,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened").field("cfg", &self.cfg).finish()
    }
}

/// Opens the interface.
pub fn open_mirror(cfg: &Mirror) -> Result<Opened, CaptureError> {
    Ok(Opened {
        cap: open(cfg)?,
        cfg: cfg.clone(),
    })
}

impl Opened {
    /// Spawns its reader thread.
    pub fn start(
        self,
        tx: mpsc::Sender<FlowBatch>,
        counters: Arc<IngestCounters>,
        stop: Arc<AtomicBool>,
    ) -> Result<std::thread::JoinHandle<()>, CaptureError> {
        let Opened { cap, cfg } = self;
        let packets = Packets {
            linktype: cap.get_datalink().0,
            sampling: cfg.sampling.get(),
            in_if: ifindex(&cfg.interface),
            seen: 0,
        };
        let name = cfg.interface.clone();
        info!(interface = %name, sampling = packets.sampling, "mirror capture started");
        let thread_name = format!("mirror-{name}");
        let reader = Reader {
            cap,
            name,
            packets,
            outbox: Outbox::new(tx),
            counters,
        };
        let spawned = std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || reader.run(&stop));
        spawned.map_err(|e| CaptureError::Open {
            interface: cfg.interface.clone(),
            reason: format!("cannot start thread: {e}"),
        })
    }
}

/// Opens the interface promiscuous and non-blocking, with the configured filter.
fn open(cfg: &Mirror) -> Result<pcap::Capture<pcap::Active>, CaptureError> {
    let open_err = |e: pcap::Error| {
        let (interface, reason) = (cfg.interface.clone(), e.to_string());
        // libpcap says "socket: Operation not permitted" (EPERM) when the process may
        // not open an AF_PACKET socket.
        if reason.contains("Operation not permitted") || reason.contains("permission") {
            CaptureError::NoCapability { interface, reason }
        } else {
            CaptureError::Open { interface, reason }
        }
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
    Ok(cap)
}

/// The interface's index (the records' input interface), when the kernel tells it.
fn ifindex(interface: &str) -> Option<u32> {
    std::fs::read_to_string(format!("/sys/class/net/{interface}/ifindex"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// The reader thread: its capture, what turns packets into records, and where they go.
struct Reader {
    cap: pcap::Capture<pcap::Active>,
    /// The interface, for logs.
    name: String,
    packets: Packets,
    outbox: Outbox,
    counters: Arc<IngestCounters>,
}

impl Reader {
    /// Reads until told to stop, the capture fails or the consumer goes away.
    fn run(mut self, stop: &AtomicBool) {
        let fd = self.cap.as_raw_fd();
        // Packets read since the ring was last found empty.
        let mut drained = 0u32;
        while !stop.load(Relaxed) {
            match self.cap.next_packet() {
                Ok(p) => {
                    drained += 1;
                    self.counters.mirror_packets.fetch_add(1, Relaxed);
                    if !self.packets.keep() {
                        continue;
                    }
                    if let Some(r) = self.packets.record(&p) {
                        self.outbox.records.push(r);
                    }
                }
                // Non-blocking and nothing queued.
                Err(pcap::Error::TimeoutExpired) => {
                    pause(drained, fd, &self.name);
                    drained = 0;
                }
                Err(e) => {
                    warn!(interface = %self.name, "capture stopped: {e}");
                    self.counters.receive_errors.fetch_add(1, Relaxed);
                    break;
                }
            }
            if !self.outbox.send_if_due(&self.counters) {
                break;
            }
        }
        if let Ok(s) = self.cap.stats() {
            info!(
                interface = %self.name,
                received = s.received,
                dropped_by_kernel = s.dropped,
                "mirror capture stopped"
            );
        }
    }
}

/// Waits after the ring was found empty: briefly while traffic flows (`drained` packets
/// since the last wait), else until it is readable again, for at most [`IDLE_WAKE`].
fn pause(drained: u32, fd: RawFd, name: &str) {
    if drained > 0 {
        std::thread::sleep(COALESCE);
    } else if let Err(e) = wait_readable(fd, IDLE_WAKE) {
        warn!(interface = %name, "poll: {e}");
        std::thread::sleep(IDLE_WAKE);
    }
}

/// Turns captured packets into flow records, keeping 1 in `sampling`.
struct Packets {
    /// The capture's link type (LINKTYPE_*).
    linktype: i32,
    sampling: u32,
    /// The interface's index, for the records.
    in_if: Option<u32>,
    /// Packets read.
    seen: u64,
}

impl Packets {
    /// Counts a packet read; true when sampling keeps it.
    #[inline]
    fn keep(&mut self) -> bool {
        self.seen += 1;
        self.sampling <= 1 || self.seen.is_multiple_of(u64::from(self.sampling))
    }

    /// The flow record of a kept packet, if levee reads its link and network layers.
    #[inline]
    fn record(&self, p: &pcap::Packet<'_>) -> Option<FlowRecord> {
        let ts = p.header.ts;
        let t = crate::clock::Timestamp::from_timeval(ts.tv_sec, ts.tv_usec).as_micros();
        let exporter = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        network_layer(self.linktype, p.data).and_then(|(link, bytes)| {
            mirror::record(
                link,
                bytes,
                p.header.len,
                t,
                exporter,
                self.sampling,
                self.in_if,
            )
        })
    }
}

/// Records gathered for the consumer, handed over in batches.
struct Outbox {
    tx: mpsc::Sender<FlowBatch>,
    records: Vec<FlowRecord>,
    /// When the last batch went.
    flushed: Instant,
}

impl Outbox {
    /// An empty outbox sending to `tx`.
    fn new(tx: mpsc::Sender<FlowBatch>) -> Self {
        Outbox {
            tx,
            records: Vec::with_capacity(BATCH),
            flushed: Instant::now(),
        }
    }

    /// Sends the records without waiting once they fill a batch or waited 50 ms; a full
    /// channel drops them, counted. False when the consumer has gone away.
    fn send_if_due(&mut self, counters: &IngestCounters) -> bool {
        let due = self.records.len() >= BATCH
            || (!self.records.is_empty() && self.flushed.elapsed() >= Duration::from_millis(50));
        if !due {
            return true;
        }
        self.flushed = Instant::now();
        let n = self.records.len() as u64;
        counters.records.fetch_add(n, Relaxed);
        let records = std::mem::replace(&mut self.records, Vec::with_capacity(BATCH));
        let batch = FlowBatch {
            records,
            counters: Vec::new(),
        };
        match self.tx.try_send(batch) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                counters.dropped_records.fetch_add(n, Relaxed);
                counters.dropped_batches.fetch_add(1, Relaxed);
                true
            }
            Err(TrySendError::Closed(_)) => false,
        }
    }
}
