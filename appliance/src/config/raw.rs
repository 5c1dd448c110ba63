//! The YAML shape of /etc/levee/levee.yaml, as serde reads it. Unknown keys are rejected
//! everywhere. Values that have a type (addresses, prefixes, sizes) are parsed here, so a
//! wrong value is reported at its own line and column.

use super::ListenerKind;
use super::bytesize::ByteSize;
use super::units::{BitRate, Count, Duration};
use ipnet::IpNet;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::net::SocketAddr;
use std::num::NonZeroU32;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) listeners: RawListeners,
    #[serde(default)]
    pub(super) mirror: Vec<RawMirror>,
    #[serde(default)]
    pub(super) protected_networks: Vec<RawNetwork>,
    #[serde(default)]
    pub(super) ingest: RawIngest,
    pub(super) exporters: Option<Spanned<Vec<super::exporters::RawExporter>>>,
    #[serde(default)]
    pub(super) detection: RawDetection,
    pub(super) bgp: Option<super::bgp::RawBgp>,
    #[serde(default)]
    pub(super) mitigation: super::mitigation::RawMitigation,
    #[serde(default)]
    pub(super) store: super::mitigation::RawStore,
    #[serde(default)]
    pub(super) control: super::mitigation::RawControl,
    pub(super) rpki: Option<super::rpki::RawRpki>,
    pub(super) web: Option<RawWeb>,
    #[serde(default)]
    pub(super) history: super::history::RawHistory,
}

/// `web: {listen: 127.0.0.1:9750, tls: {cert: FILE, key: FILE}}`: the local endpoint
/// (/metrics, /api/v1).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWeb {
    pub(super) listen: std::net::SocketAddr,
    pub(super) tls: Option<RawWebTls>,
    #[serde(default)]
    pub(super) public: bool,
}

/// `web.tls`: PEM files.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebTls {
    pub(super) cert: std::path::PathBuf,
    pub(super) key: std::path::PathBuf,
}

/// A missing listener keeps its default (enabled, on its standard port).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawListeners {
    pub(super) sflow: RawListener,
    pub(super) netflow: RawListener,
    pub(super) ipfix: RawListener,
}

impl Default for RawListeners {
    fn default() -> Self {
        let listener = |kind: ListenerKind| RawListener {
            enabled: true,
            bind: Some(SocketAddr::from(([0, 0, 0, 0], kind.default_port()))),
            receive_buffer: ByteSize(DEFAULT_RECEIVE_BUFFER),
        };
        RawListeners {
            sflow: listener(ListenerKind::Sflow),
            netflow: listener(ListenerKind::Netflow),
            ipfix: listener(ListenerKind::Ipfix),
        }
    }
}

/// 32 MiB: several hundred milliseconds of a 2M samples/s sFlow stream.
pub(super) const DEFAULT_RECEIVE_BUFFER: u64 = 32 << 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawListener {
    #[serde(default = "yes")]
    pub(super) enabled: bool,
    /// `None` only when given as YAML null, which the conversion rejects with a message.
    pub(super) bind: Option<SocketAddr>,
    #[serde(default = "default_rcvbuf")]
    pub(super) receive_buffer: ByteSize,
}

fn yes() -> bool {
    true
}
fn default_rcvbuf() -> ByteSize {
    ByteSize(DEFAULT_RECEIVE_BUFFER)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMirror {
    pub(super) interface: Spanned<String>,
    pub(super) bpf: Option<String>,
    #[serde(default = "one")]
    pub(super) sampling: NonZeroU32,
}

fn one() -> NonZeroU32 {
    NonZeroU32::MIN
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNetwork {
    pub(super) name: Spanned<String>,
    pub(super) prefixes: Spanned<Vec<Spanned<IpNet>>>,
    /// Overrides of the global detection policy for this network (a hostgroup).
    #[serde(default)]
    pub(super) detection: RawPolicy,
    /// Overrides of the global mitigation ladder for this network.
    #[serde(default)]
    pub(super) mitigation: super::mitigation::RawNetworkMitigation,
}

/// Thresholds per metric; unset keys inherit.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub(super) pps: Option<Count>,
    pub(super) bps: Option<BitRate>,
    pub(super) flows: Option<Count>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWarmup {
    pub(super) duration: Option<Spanned<Duration>>,
    pub(super) thresholds: Option<RawLimits>,
}

/// Hard thresholds per protocol.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHard {
    pub(super) total: Option<RawLimits>,
    pub(super) tcp: Option<RawLimits>,
    pub(super) syn: Option<RawLimits>,
    pub(super) udp: Option<RawLimits>,
    pub(super) icmp: Option<RawLimits>,
}

/// The policy keys, global or per network.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    pub(super) multiplier: Option<Spanned<f64>>,
    pub(super) floor: Option<RawLimits>,
    #[serde(default)]
    pub(super) warmup: RawWarmup,
    #[serde(default)]
    pub(super) thresholds: RawHard,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIncident {
    pub(super) quiet_period: Option<Spanned<Duration>>,
    pub(super) hysteresis: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIntel {
    pub(super) name: Spanned<String>,
    pub(super) path: String,
}

/// The `detection` section: the global policy plus engine settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDetection {
    pub(super) multiplier: Option<Spanned<f64>>,
    pub(super) floor: Option<RawLimits>,
    #[serde(default)]
    pub(super) warmup: RawWarmup,
    #[serde(default)]
    pub(super) thresholds: RawHard,
    #[serde(default)]
    pub(super) incident: RawIncident,
    pub(super) botnet_sources: Option<Spanned<u64>>,
    pub(super) http_min_sources: Option<Spanned<u64>>,
    pub(super) top: Option<Spanned<usize>>,
    pub(super) max_tracked_ips: Option<Spanned<usize>>,
    pub(super) idle_timeout: Option<Spanned<Duration>>,
    #[serde(default)]
    pub(super) threat_intel: Vec<RawIntel>,
}

impl RawDetection {
    /// The policy part.
    pub(super) fn policy(&mut self) -> RawPolicy {
        RawPolicy {
            multiplier: self.multiplier.take(),
            floor: self.floor.take(),
            warmup: std::mem::take(&mut self.warmup),
            thresholds: std::mem::take(&mut self.thresholds),
        }
    }
}

/// Missing keys keep their defaults (the decoder's own bounds).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawIngest {
    pub(super) channel_batches: usize,
    pub(super) max_exporter_streams: usize,
    pub(super) max_templates_per_exporter: usize,
    pub(super) max_templates_total: usize,
    pub(super) max_streams_per_source: usize,
    pub(super) max_templates_per_source: usize,
    pub(super) max_streams_per_listed_exporter: usize,
    pub(super) max_templates_per_listed_exporter: usize,
    pub(super) stream_idle_timeout: Duration,
    pub(super) max_sampling_rate: u32,
    pub(super) max_exporter_rate: BitRate,
}

impl Default for RawIngest {
    fn default() -> Self {
        let b = crate::flows::settings::IngestBounds::default();
        let limits = b.limits;
        RawIngest {
            channel_batches: b.channel_batches,
            max_exporter_streams: limits.max_domains,
            max_templates_per_exporter: limits.max_templates_per_domain,
            max_templates_total: limits.max_templates_total,
            max_streams_per_source: limits.max_domains_per_source,
            max_templates_per_source: limits.max_templates_per_source,
            max_streams_per_listed_exporter: limits.max_domains_per_exporter,
            max_templates_per_listed_exporter: limits.max_templates_per_exporter,
            stream_idle_timeout: Duration(limits.idle_timeout_us),
            max_sampling_rate: b.max_sampling_rate,
            max_exporter_rate: BitRate(b.max_exporter_bps),
        }
    }
}
