//! Mirror-port (SPAN) packets as flow records: one record per captured frame.

use crate::packet;
use crate::record::{FlowRecord, FlowType};
use std::net::IpAddr;

/// Turns one captured Ethernet frame into a record. `wire_len` is the frame's length on
/// the wire (the capture may be shorter); with 1:N sampling each frame stands for N.
/// Returns `None` for frames that carry no IP packet.
pub fn record(
    frame: &[u8],
    wire_len: u32,
    time_us: u64,
    exporter: IpAddr,
    sampling_rate: u32,
    in_if: Option<u32>,
) -> Option<FlowRecord> {
    let info = packet::parse_ethernet(frame)?;
    let mut rec = FlowRecord::blank(time_us, exporter, FlowType::Mirror);
    rec.src_addr = info.src;
    rec.dst_addr = info.dst;
    rec.protocol = info.protocol;
    rec.src_port = info.src_port;
    rec.dst_port = info.dst_port;
    rec.tcp_flags = info.tcp_flags;
    rec.ttl = Some(info.ttl);
    rec.packet_length = Some(info.ip_length);
    rec.vlan = info.vlan;
    rec.fragment = info.fragment;
    rec.in_if = in_if;
    rec.set_scaled(sampling_rate, 1, u64::from(wire_len));
    Some(rec)
}
