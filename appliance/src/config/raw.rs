//! The YAML shape of /etc/levee/levee.yaml, as serde reads it. Unknown keys are rejected
//! everywhere. Values that have a type (addresses, prefixes, sizes) are parsed here, so a
//! wrong value is reported at its own line and column.

use super::bytesize::ByteSize;
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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawListeners {
    #[serde(default = "sflow_default")]
    pub(super) sflow: RawListener,
    #[serde(default = "netflow_default")]
    pub(super) netflow: RawListener,
    #[serde(default = "ipfix_default")]
    pub(super) ipfix: RawListener,
}

impl Default for RawListeners {
    fn default() -> Self {
        RawListeners {
            sflow: sflow_default(),
            netflow: netflow_default(),
            ipfix: ipfix_default(),
        }
    }
}

fn listener(port: u16) -> RawListener {
    RawListener {
        enabled: true,
        bind: Some(SocketAddr::from(([0, 0, 0, 0], port))),
        receive_buffer: ByteSize(DEFAULT_RECEIVE_BUFFER),
    }
}
fn sflow_default() -> RawListener {
    listener(6343)
}
fn netflow_default() -> RawListener {
    listener(2055)
}
fn ipfix_default() -> RawListener {
    listener(4739)
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
    #[serde(default)]
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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIngest {
    #[serde(default = "default_channel")]
    pub(super) channel_batches: usize,
    #[serde(default = "default_max_streams")]
    pub(super) max_exporter_streams: usize,
    #[serde(default = "default_max_tpl_exporter")]
    pub(super) max_templates_per_exporter: usize,
    #[serde(default = "default_max_tpl_total")]
    pub(super) max_templates_total: usize,
}

impl Default for RawIngest {
    fn default() -> Self {
        RawIngest {
            channel_batches: default_channel(),
            max_exporter_streams: default_max_streams(),
            max_templates_per_exporter: default_max_tpl_exporter(),
            max_templates_total: default_max_tpl_total(),
        }
    }
}

fn default_channel() -> usize {
    1024
}
fn default_max_streams() -> usize {
    levee_flow::Limits::default().max_domains
}
fn default_max_tpl_exporter() -> usize {
    levee_flow::Limits::default().max_templates_per_domain
}
fn default_max_tpl_total() -> usize {
    levee_flow::Limits::default().max_templates_total
}
