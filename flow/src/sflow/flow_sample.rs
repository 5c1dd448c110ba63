//! sFlow v5 flow samples: `flow_sample` (format 1) and `flow_sample_expanded` (format 3).
//!
//! ```text
//! flow_sample:          sequence | source_id | sampling_rate | sample_pool | drops
//!                       | input | output | flow_record records<>
//! flow_sample_expanded: sequence | source_id_type | source_id_index | sampling_rate
//!                       | sample_pool | drops | input_format | input_value
//!                       | output_format | output_value | flow_record records<>
//! ```
//! The compact interface is `format(2 bits) << 30 | value(30 bits)`; format 0 is an
//! ifIndex, 0x3fffffff means unknown.

use crate::cursor::Cursor;
use crate::error::DecodeError;
use crate::packet;
use crate::record::{FlowRecord, FlowType};
use std::net::IpAddr;

/// `header_protocol` values of `sampled_header` (sFlow v5 §5.4).
const HEADER_ETHERNET: u32 = 1;
const HEADER_IPV4: u32 = 11;
const HEADER_IPV6: u32 = 12;

pub(super) fn decode(
    body: &[u8],
    expanded: bool,
    agent: IpAddr,
    time_us: u64,
    out: &mut Vec<FlowRecord>,
) -> Result<(), DecodeError> {
    let mut c = Cursor::new(body, "sFlow flow sample");
    let _sequence = c.u32()?;
    c.take(if expanded { 8 } else { 4 })?;
    let rate = c.u32()?;
    let _pool = c.u32()?;
    let _drops = c.u32()?;
    let (in_if, out_if) = if expanded {
        let (fi, vi, fo, vo) = (c.u32()?, c.u32()?, c.u32()?, c.u32()?);
        (expanded_if(fi, vi), expanded_if(fo, vo))
    } else {
        (compact_if(c.u32()?), compact_if(c.u32()?))
    };
    let n = c.u32()?;
    let mut rec = FlowRecord::blank(time_us, agent, FlowType::Sflow);
    rec.in_if = in_if;
    rec.out_if = out_if;
    let mut have = false;
    let mut frame_len = 0u64;
    for _ in 0..n.min(64) {
        let format = c.u32()?;
        let data = c.opaque("sFlow flow record")?;
        match format {
            1 if !have => {
                if let Some(len) = sampled_header(data, &mut rec)? {
                    frame_len = len;
                    have = true;
                }
            }
            3 | 4 if !have => {
                frame_len = sampled_ip(data, format == 4, &mut rec)?;
                have = true;
            }
            1001 => {
                // extended_switch: src_vlan | src_priority | dst_vlan | dst_priority
                let mut s = Cursor::new(data, "sFlow extended switch");
                let vlan = s.u32()?;
                if rec.vlan.is_none() && vlan > 0 && vlan < 4096 {
                    rec.vlan = Some(vlan as u16);
                }
            }
            _ => {}
        }
    }
    if have {
        // One sample stands for `rate` packets.
        rec.set_scaled(rate, 1, frame_len);
        out.push(rec);
    }
    Ok(())
}

fn compact_if(v: u32) -> Option<u32> {
    (v >> 30 == 0 && v != 0x3fff_ffff && v != 0).then_some(v)
}

fn expanded_if(format: u32, value: u32) -> Option<u32> {
    (format == 0 && value != 0x3fff_ffff && value != 0).then_some(value)
}

/// `sampled_header`: header_protocol | frame_length | stripped | header<>.
/// Returns the frame length, or `None` when the header holds no IP packet.
fn sampled_header(data: &[u8], rec: &mut FlowRecord) -> Result<Option<u64>, DecodeError> {
    let mut c = Cursor::new(data, "sFlow sampled header");
    let proto = c.u32()?;
    let frame_length = c.u32()?;
    let _stripped = c.u32()?;
    let header = c.opaque("sFlow sampled header bytes")?;
    let info = match proto {
        HEADER_ETHERNET => packet::parse_ethernet(header),
        HEADER_IPV4 => packet::parse_ipv4(header),
        HEADER_IPV6 => packet::parse_ipv6(header),
        _ => None,
    };
    Ok(info.map(|info| {
        crate::mirror::fill(rec, &info);
        u64::from(frame_length)
    }))
}

/// `sampled_ipv4` / `sampled_ipv6`: length | protocol | src | dst | src_port | dst_port
/// | tcp_flags | tos (or priority). Returns the IP packet length.
fn sampled_ip(data: &[u8], v6: bool, rec: &mut FlowRecord) -> Result<u64, DecodeError> {
    let mut c = Cursor::new(data, "sFlow sampled IP");
    let length = c.u32()?;
    rec.protocol = c.u32()? as u8;
    if v6 {
        rec.src_addr = IpAddr::V6(c.ipv6()?);
        rec.dst_addr = IpAddr::V6(c.ipv6()?);
    } else {
        rec.src_addr = IpAddr::V4(c.ipv4()?);
        rec.dst_addr = IpAddr::V4(c.ipv4()?);
    }
    rec.src_port = c.u32()? as u16;
    rec.dst_port = c.u32()? as u16;
    rec.tcp_flags = c.u32()? as u8;
    rec.packet_length = Some(length.min(u32::from(u16::MAX)) as u16);
    Ok(u64::from(length))
}
