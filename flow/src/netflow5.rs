//! NetFlow version 5 (Cisco fixed format).
//!
//! ```text
//! header (24 bytes): version(2)=5 | count(2) | sys_uptime(4) | unix_secs(4)
//!                    | unix_nsecs(4) | flow_sequence(4) | engine_type(1) | engine_id(1)
//!                    | sampling_interval(2): mode in the top 2 bits, interval in the low 14
//! record (48 bytes): srcaddr | dstaddr | nexthop | input(2) | output(2) | dPkts | dOctets
//!                    | first | last | srcport(2) | dstport(2) | pad1 | tcp_flags | prot
//!                    | tos | src_as(2) | dst_as(2) | src_mask | dst_mask | pad2(2)
//! ```

use crate::cursor::Cursor;
use crate::error::DecodeError;
use crate::record::{FlowRecord, FlowType};
use std::net::IpAddr;

const HEADER_LEN: usize = 24;
const RECORD_LEN: usize = 48;
/// Cisco caps a v5 export datagram at 30 records.
const MAX_COUNT: usize = 30;

/// The header fields the decoder tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Netflow5Header {
    /// Records in this datagram.
    pub count: u16,
    /// Sequence number of the first flow of this datagram.
    pub flow_sequence: u32,
    /// Engine type and id: together they name the exporting engine.
    pub engine: u16,
    /// Sampling interval (1 when unsampled).
    pub sampling: u32,
}

/// Decodes a NetFlow v5 datagram.
pub fn decode(
    data: &[u8],
    exporter: IpAddr,
    time_us: u64,
    out: &mut Vec<FlowRecord>,
) -> Result<Netflow5Header, DecodeError> {
    let mut c = Cursor::new(data, "NetFlow v5 header");
    let version = c.u16()?;
    if version != 5 {
        return Err(DecodeError::UnknownFormat(u32::from(version)));
    }
    let count = c.u16()?;
    let _uptime = c.u32()?;
    let _secs = c.u32()?;
    let _nsecs = c.u32()?;
    let flow_sequence = c.u32()?;
    let engine = c.u16()?;
    let sampling = u32::from(c.u16()? & 0x3fff).max(1);
    let header = Netflow5Header {
        count,
        flow_sequence,
        engine,
        sampling,
    };
    let n = usize::from(count);
    if n == 0 || n > MAX_COUNT {
        return Err(DecodeError::BadLength {
            what: "NetFlow v5 record count",
            len: n,
        });
    }
    let need = HEADER_LEN + n * RECORD_LEN;
    if data.len() < need {
        return Err(DecodeError::Truncated {
            what: "NetFlow v5 records",
            need,
            have: data.len(),
        });
    }
    for rec in data[HEADER_LEN..need].chunks_exact(RECORD_LEN) {
        out.push(record(rec, exporter, time_us, sampling));
    }
    Ok(header)
}

fn record(r: &[u8], exporter: IpAddr, time_us: u64, sampling: u32) -> FlowRecord {
    let u16at = |i: usize| u16::from_be_bytes([r[i], r[i + 1]]);
    let u32at = |i: usize| u32::from_be_bytes([r[i], r[i + 1], r[i + 2], r[i + 3]]);
    let mut rec = FlowRecord::blank(time_us, exporter, FlowType::Netflow5);
    rec.src_addr = IpAddr::from([r[0], r[1], r[2], r[3]]);
    rec.dst_addr = IpAddr::from([r[4], r[5], r[6], r[7]]);
    rec.in_if = Some(u32::from(u16at(12)));
    rec.out_if = Some(u32::from(u16at(14)));
    rec.src_port = u16at(32);
    rec.dst_port = u16at(34);
    rec.tcp_flags = r[37];
    rec.protocol = r[38];
    rec.set_scaled(sampling, u64::from(u32at(16)), u64::from(u32at(20)));
    rec
}

#[cfg(test)]
mod tests {
    use super::*;
    use levee_testkit::netflow5::{self, Record};
    use std::net::Ipv4Addr;

    /// `records` flows to 198.51.100.0, .1, ... (the test kit's default record).
    fn datagram(records: u8, seq: u32, sampling: u16) -> Vec<u8> {
        let records: Vec<Record> = (0..records)
            .map(|i| Record {
                dst: Ipv4Addr::new(198, 51, 100, i),
                ..Record::default()
            })
            .collect();
        netflow5::datagram(seq, sampling, &records)
    }

    #[test]
    fn decodes_and_scales() {
        let mut out = Vec::new();
        let exp: IpAddr = "192.0.2.250".parse().unwrap();
        let h = decode(&datagram(2, 77, 0x4000 | 100), exp, 5, &mut out).unwrap();
        assert_eq!((h.count, h.flow_sequence, h.sampling), (2, 77, 100));
        assert_eq!(out.len(), 2);
        let r = &out[1];
        assert_eq!(r.dst_addr, "198.51.100.1".parse::<IpAddr>().unwrap());
        assert_eq!(
            (r.src_port, r.dst_port, r.protocol, r.tcp_flags),
            (53, 40000, 17, 2)
        );
        assert_eq!((r.packets, r.bytes, r.sampling_rate), (1000, 150_000, 100));
        assert_eq!(r.in_if, Some(3));
    }

    #[test]
    fn rejects_lies() {
        let mut out = Vec::new();
        let exp: IpAddr = "192.0.2.250".parse().unwrap();
        let mut d = datagram(2, 1, 0);
        d.truncate(80);
        assert!(matches!(
            decode(&d, exp, 0, &mut out),
            Err(DecodeError::Truncated { .. })
        ));
        let d = datagram(0, 1, 0);
        assert!(matches!(
            decode(&d, exp, 0, &mut out),
            Err(DecodeError::BadLength { .. })
        ));
        assert!(out.is_empty());
    }
}
