//! The flows stage's settings: which UDP listeners and mirror ports to open, and the
//! bounds of the ingest pipeline. `config` fills them from the YAML.

use ipnet::IpNet;
use std::net::SocketAddr;
use std::num::NonZeroU32;

/// Everything [`super::Ingest::start`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Flow-export listeners that are enabled.
    pub listeners: Vec<Listener>,
    /// Mirror (SPAN) interfaces to capture on.
    pub mirror: Vec<Mirror>,
    /// Ingest pipeline bounds.
    pub bounds: IngestBounds,
    /// The allowed exporters; `None` (no `exporters:` section) accepts every source.
    pub exporters: Option<Vec<Exporter>>,
}

/// An allowed exporter (`exporters:` entry): datagrams are matched to it by their UDP
/// source address, the most specific prefix winning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exporter {
    /// Its name, in logs and metrics (unique).
    pub name: String,
    /// The source addresses it sends from (a host is a /32 or /128).
    pub prefix: IpNet,
    /// Sampling rate that replaces whatever its datagrams say.
    pub sampling: Option<NonZeroU32>,
    /// Input interfaces whose records count; `None` counts all.
    pub interfaces: Option<Vec<u32>>,
    /// The most it can truthfully report, bits per second; `None` takes
    /// [`IngestBounds::max_exporter_bps`].
    pub max_bps: Option<u64>,
}

/// One UDP listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Which protocol the operator meant it for (each accepts any format).
    pub kind: ListenerKind,
    /// Address and port to bind.
    pub bind: SocketAddr,
    /// SO_RCVBUF to request, in bytes.
    pub receive_buffer: u64,
}

/// The protocol a listener is configured for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    /// sFlow v5, default port 6343.
    Sflow,
    /// NetFlow v5/v9, default port 2055.
    Netflow,
    /// IPFIX, default port 4739.
    Ipfix,
}

impl ListenerKind {
    /// Name used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ListenerKind::Sflow => "sflow",
            ListenerKind::Netflow => "netflow",
            ListenerKind::Ipfix => "ipfix",
        }
    }

    /// The standard port: 6343 (sFlow), 2055 (NetFlow), 4739 (IPFIX, RFC 7011).
    pub fn default_port(self) -> u16 {
        match self {
            ListenerKind::Sflow => 6343,
            ListenerKind::Netflow => 2055,
            ListenerKind::Ipfix => 4739,
        }
    }
}

/// A mirror-port capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// Interface name.
    pub interface: String,
    /// Optional BPF filter expression.
    pub bpf: Option<String>,
    /// Keep 1 packet in N.
    pub sampling: NonZeroU32,
}

/// Bounds on the ingest pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestBounds {
    /// Record batches buffered between the listeners and their consumer.
    pub channel_batches: usize,
    /// Decoder state bounds.
    pub limits: levee_flow::Limits,
    /// The largest believable sampling rate; records claiming sparser sampling are
    /// discarded (unless their exporter overrides sampling).
    pub max_sampling_rate: u32,
    /// Per-second budget of any exporter without its own `max_rate`, bits per second.
    pub max_exporter_bps: u64,
}

impl Default for IngestBounds {
    fn default() -> Self {
        IngestBounds {
            channel_batches: 1024,
            limits: levee_flow::Limits::default(),
            max_sampling_rate: DEFAULT_MAX_SAMPLING_RATE,
            max_exporter_bps: DEFAULT_MAX_EXPORTER_BPS,
        }
    }
}

/// 1:100,000: sparser than any router samples in practice (most stop at 1:65,535), far
/// below the 1:1,000,000 a forger claims to multiply a trickle into a flood.
pub const DEFAULT_MAX_SAMPLING_RATE: u32 = 100_000;
/// 400 Gbit/s: what one exporter may report per second unless configured otherwise.
pub const DEFAULT_MAX_EXPORTER_BPS: u64 = 400_000_000_000;
