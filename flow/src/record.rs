//! The normalized flow record every decoder produces.

use std::net::{IpAddr, Ipv4Addr};

/// Which input produced a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlowType {
    /// sFlow version 5.
    Sflow,
    /// NetFlow version 5.
    Netflow5,
    /// NetFlow version 9.
    Netflow9,
    /// IPFIX (NetFlow version 10).
    Ipfix,
    /// A packet seen on a mirror (SPAN) port.
    Mirror,
}

impl FlowType {
    /// The name used in JSON output and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowType::Sflow => "sflow",
            FlowType::Netflow5 => "netflow5",
            FlowType::Netflow9 => "netflow9",
            FlowType::Ipfix => "ipfix",
            FlowType::Mirror => "mirror",
        }
    }
}

/// One normalized observation of traffic.
///
/// `packets` and `bytes` are already multiplied by `sampling_rate`, so consumers can sum
/// them directly. Fields the exporter did not report are `None` (or 0 for ports and
/// flags, which is also their value for protocols that have none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowRecord {
    /// When levee received it: microseconds since the Unix epoch.
    pub time_us: u64,
    /// The exporter: the sFlow agent address, or the UDP source of NetFlow/IPFIX.
    pub exporter: IpAddr,
    /// The input format.
    pub flow_type: FlowType,
    /// Source address.
    pub src_addr: IpAddr,
    /// Destination address.
    pub dst_addr: IpAddr,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...).
    pub protocol: u8,
    /// Transport source port; 0 when none.
    pub src_port: u16,
    /// Transport destination port; for ICMP, `type << 8 | code` as NetFlow does.
    pub dst_port: u16,
    /// TCP flags (low 8 bits: FIN SYN RST PSH ACK URG ECE CWR).
    pub tcp_flags: u8,
    /// IP TTL or hop limit, when the record carries it.
    pub ttl: Option<u8>,
    /// Length of the sampled IP packet, when the record describes a single packet.
    pub packet_length: Option<u16>,
    /// Input interface index.
    pub in_if: Option<u32>,
    /// Output interface index.
    pub out_if: Option<u32>,
    /// 802.1Q VLAN id (the outer tag for QinQ).
    pub vlan: Option<u16>,
    /// The sample is an IP fragment (first or later).
    pub fragment: bool,
    /// Sampling rate N of 1:N (1 when unsampled).
    pub sampling_rate: u32,
    /// Packets, scaled by the sampling rate.
    pub packets: u64,
    /// Bytes, scaled by the sampling rate.
    pub bytes: u64,
}

impl FlowRecord {
    /// An empty record of the given type, to be filled in by a decoder.
    pub fn blank(time_us: u64, exporter: IpAddr, flow_type: FlowType) -> Self {
        FlowRecord {
            time_us,
            exporter,
            flow_type,
            src_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            dst_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            protocol: 0,
            src_port: 0,
            dst_port: 0,
            tcp_flags: 0,
            ttl: None,
            packet_length: None,
            in_if: None,
            out_if: None,
            vlan: None,
            fragment: false,
            sampling_rate: 1,
            packets: 0,
            bytes: 0,
        }
    }

    /// Applies a sampling rate to unscaled packet and byte counts (saturating).
    pub fn set_scaled(&mut self, rate: u32, packets: u64, bytes: u64) {
        let rate = rate.max(1);
        self.sampling_rate = rate;
        self.packets = packets.saturating_mul(u64::from(rate));
        self.bytes = bytes.saturating_mul(u64::from(rate));
    }
}

/// sFlow interface counters (RFC 3176 / sFlow v5 `if_counters`, format 1), as last reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct InterfaceCounters {
    pub time_us: u64,
    /// The sFlow agent that reported them.
    pub agent: IpAddr,
    pub if_index: u32,
    pub if_type: u32,
    pub if_speed: u64,
    pub if_direction: u32,
    pub if_status: u32,
    pub in_octets: u64,
    pub in_ucast_pkts: u32,
    pub in_multicast_pkts: u32,
    pub in_broadcast_pkts: u32,
    pub in_discards: u32,
    pub in_errors: u32,
    pub in_unknown_protos: u32,
    pub out_octets: u64,
    pub out_ucast_pkts: u32,
    pub out_multicast_pkts: u32,
    pub out_broadcast_pkts: u32,
    pub out_discards: u32,
    pub out_errors: u32,
    pub promiscuous_mode: u32,
}
