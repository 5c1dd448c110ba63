//! Mirror-port (SPAN) packets as flow records: one record per captured packet.

use crate::packet::{self, PacketInfo};
use crate::record::{FlowRecord, FlowType};
use std::net::IpAddr;

/// How a captured packet starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// An Ethernet header (possibly VLAN-tagged).
    Ethernet,
    /// Directly an IPv4 or IPv6 header.
    Ip,
}

/// Turns one captured packet into a record. `wire_len` is its length on the wire (the
/// capture may be shorter); with 1:N sampling each packet stands for N. Returns `None`
/// for packets that carry no IP.
pub fn record(
    link: Link,
    bytes: &[u8],
    wire_len: u32,
    time_us: u64,
    exporter: IpAddr,
    sampling_rate: u32,
    in_if: Option<u32>,
) -> Option<FlowRecord> {
    let info = match link {
        Link::Ethernet => packet::parse_ethernet(bytes),
        Link::Ip => packet::parse_ip(bytes),
    }?;
    let mut rec = FlowRecord::blank(time_us, exporter, FlowType::Mirror);
    fill(&mut rec, &info);
    rec.in_if = in_if;
    rec.set_scaled(sampling_rate, 1, u64::from(wire_len));
    Some(rec)
}

/// Copies what a parsed header says into a record.
pub(crate) fn fill(rec: &mut FlowRecord, info: &PacketInfo) {
    rec.src_addr = info.src;
    rec.dst_addr = info.dst;
    rec.protocol = info.protocol;
    rec.src_port = info.src_port;
    rec.dst_port = info.dst_port;
    rec.tcp_flags = info.tcp_flags;
    rec.ttl = Some(info.ttl);
    rec.packet_length = Some(info.ip_length);
    rec.vlan = info.vlan.or(rec.vlan);
    rec.fragment = info.fragment;
}
