//! sFlow v5 counter samples: `counters_sample` (format 2) and `counters_sample_expanded`
//! (format 4). Only the generic interface counters record (format 1) is kept; other
//! counter records (Ethernet, processor, ...) are skipped.

use crate::cursor::Cursor;
use crate::error::DecodeError;
use crate::record::InterfaceCounters;
use std::net::IpAddr;

pub(super) fn decode(
    body: &[u8],
    expanded: bool,
    agent: IpAddr,
    time_us: u64,
    out: &mut Vec<InterfaceCounters>,
) -> Result<(), DecodeError> {
    let mut c = Cursor::new(body, "sFlow counters sample");
    let _sequence = c.u32()?;
    // source_id: compact (type<<24 | index) or expanded (type, index).
    c.take(if expanded { 8 } else { 4 })?;
    let n = c.u32()?;
    for _ in 0..n.min(256) {
        let format = c.u32()?;
        let rec = c.opaque("sFlow counter record")?;
        if format == 1 {
            out.push(generic(rec, agent, time_us)?);
        }
    }
    Ok(())
}

/// `if_counters` (88 bytes).
fn generic(rec: &[u8], agent: IpAddr, time_us: u64) -> Result<InterfaceCounters, DecodeError> {
    let mut c = Cursor::new(rec, "sFlow generic interface counters");
    Ok(InterfaceCounters {
        time_us,
        agent,
        if_index: c.u32()?,
        if_type: c.u32()?,
        if_speed: c.u64()?,
        if_direction: c.u32()?,
        if_status: c.u32()?,
        in_octets: c.u64()?,
        in_ucast_pkts: c.u32()?,
        in_multicast_pkts: c.u32()?,
        in_broadcast_pkts: c.u32()?,
        in_discards: c.u32()?,
        in_errors: c.u32()?,
        in_unknown_protos: c.u32()?,
        out_octets: c.u64()?,
        out_ucast_pkts: c.u32()?,
        out_multicast_pkts: c.u32()?,
        out_broadcast_pkts: c.u32()?,
        out_discards: c.u32()?,
        out_errors: c.u32()?,
        promiscuous_mode: c.u32()?,
    })
}
