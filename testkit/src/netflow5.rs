//! NetFlow version 5 export datagrams (Cisco's fixed format): a 24-byte header and
//! 48-byte records.

use std::net::Ipv4Addr;

/// One flow record; [`Record::default`] is a UDP flow 192.0.2.1:53 -> 198.51.100.0:40000
/// of 10 packets and 1,500 bytes, in on interface 3, TCP flags 0x02.
///
/// ```text
///  0 srcaddr  4 dstaddr  8 nexthop  12 input(2)  14 output(2)  16 dPkts  20 dOctets
/// 24 First   28 Last    32 srcport(2)  34 dstport(2)  36 pad1  37 tcp_flags  38 prot
/// 39 tos     40 src_as(2)  42 dst_as(2)  44 src_mask  45 dst_mask  46 pad2(2)
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Record {
    /// `srcaddr`.
    pub src: Ipv4Addr,
    /// `dstaddr`.
    pub dst: Ipv4Addr,
    /// `input` interface.
    pub input: u16,
    /// `dPkts`.
    pub packets: u32,
    /// `dOctets`.
    pub octets: u32,
    /// `srcport`.
    pub src_port: u16,
    /// `dstport`.
    pub dst_port: u16,
    /// `tcp_flags`.
    pub tcp_flags: u8,
    /// `prot`.
    pub protocol: u8,
}

impl Default for Record {
    fn default() -> Record {
        Record {
            src: Ipv4Addr::new(192, 0, 2, 1),
            dst: Ipv4Addr::new(198, 51, 100, 0),
            input: 3,
            packets: 10,
            octets: 1500,
            src_port: 53,
            dst_port: 40000,
            tcp_flags: 0x02,
            protocol: 17,
        }
    }
}

impl Record {
    /// The 48 bytes.
    pub fn encode(&self) -> [u8; 48] {
        let mut r = [0u8; 48];
        r[0..4].copy_from_slice(&self.src.octets());
        r[4..8].copy_from_slice(&self.dst.octets());
        r[12..14].copy_from_slice(&self.input.to_be_bytes());
        r[16..20].copy_from_slice(&self.packets.to_be_bytes());
        r[20..24].copy_from_slice(&self.octets.to_be_bytes());
        r[32..34].copy_from_slice(&self.src_port.to_be_bytes());
        r[34..36].copy_from_slice(&self.dst_port.to_be_bytes());
        r[37] = self.tcp_flags;
        r[38] = self.protocol;
        r
    }
}

/// A datagram: the header (uptime and time zero) with `flow_sequence` and the
/// `sampling_interval` field as written (mode in the top two bits), then `records`.
///
/// ```text
///  0 version(2)=5  2 count(2)  4 SysUptime  8 unix_secs  12 unix_nsecs
/// 16 flow_sequence  20 engine_type  21 engine_id  22 sampling_interval(2)
/// ```
pub fn datagram(flow_sequence: u32, sampling: u16, records: &[Record]) -> Vec<u8> {
    let mut d = Vec::with_capacity(24 + 48 * records.len());
    d.extend_from_slice(&5u16.to_be_bytes());
    d.extend_from_slice(&(records.len() as u16).to_be_bytes());
    d.extend_from_slice(&[0; 12]);
    d.extend_from_slice(&flow_sequence.to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(&sampling.to_be_bytes());
    for r in records {
        d.extend_from_slice(&r.encode());
    }
    d
}
