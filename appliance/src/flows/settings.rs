//! The flows stage's settings: which UDP listeners and mirror ports to open, and the
//! bounds of the ingest pipeline. `config` fills them from the YAML.

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
}
