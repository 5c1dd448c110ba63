//! The datagrams of the state-exhaustion attacks of issue 15, and the legitimate NetFlow
//! v9 exporter that must still decode after them.
//!
//! - [`sflow_sub_agent`]: a 28-byte sFlow v5 header (no samples) with its own sub-agent
//!   id; 20,000 of them from one source once filled the stream table.
//! - [`netflow9_templates`]: NetFlow v9 datagrams of nothing but templates, 40 each,
//!   25 datagrams per source id; 1,664 of them once filled the template table.
//! - [`netflow9_template`] and [`netflow9_data`]: a real exporter's template (id 256:
//!   IPV4_SRC, IPV4_DST, PROTOCOL, IN_PKTS, IN_BYTES, INPUT_SNMP) and its data records.

use crate::bytes::u16s;
use crate::netflow9::{TEMPLATE, flowset, header};
use crate::sflow::Xdr;
use std::net::Ipv4Addr;

/// Datagrams in the sFlow sub-agent attack.
pub const SFLOW_SUB_AGENTS: u32 = 20_000;
/// Datagrams in the NetFlow v9 template attack.
pub const NETFLOW9_TEMPLATE_DATAGRAMS: u32 = 1_664;

/// sFlow v5 header of 7 words from `agent`, sub-agent `sub_agent`, announcing no samples.
pub fn sflow_sub_agent(agent: Ipv4Addr, sub_agent: u32) -> Vec<u8> {
    Xdr::default()
        .u32(5)
        .u32(1)
        .bytes(&agent.octets())
        .u32(sub_agent)
        .u32(1)
        .u32(0)
        .u32(0)
        .0
}

/// Attack datagram `i`: source id `i / 25`, templates `256 + 40 * (i % 25)` onwards,
/// 40 of them, each one 4-byte IN_BYTES field.
pub fn netflow9_templates(i: u32) -> Vec<u8> {
    let first = 256 + 40 * (i % 25) as u16;
    let mut body = Vec::new();
    for id in first..first + 40 {
        body.extend(u16s(&[id, 1, 1, 4]));
    }
    let mut d = header(i, i / 25);
    d.extend(flowset(TEMPLATE, &body));
    d
}

/// The legitimate exporter's template datagram (template 256, source id 0).
pub fn netflow9_template(sequence: u32) -> Vec<u8> {
    let mut d = header(sequence, 0);
    d.extend(flowset(
        TEMPLATE,
        &u16s(&[256, 6, 8, 4, 12, 4, 4, 1, 2, 4, 1, 4, 10, 2]),
    ));
    d
}

/// The legitimate exporter's data datagram: one record per destination, each
/// `packets` packets of 100 bytes from 192.0.2.1, UDP, in on interface 3.
pub fn netflow9_data(sequence: u32, dsts: &[Ipv4Addr], packets: u32) -> Vec<u8> {
    let mut body = Vec::new();
    for dst in dsts {
        body.extend_from_slice(&[192, 0, 2, 1]);
        body.extend_from_slice(&dst.octets());
        body.push(17);
        body.extend_from_slice(&packets.to_be_bytes());
        body.extend_from_slice(&(packets * 100).to_be_bytes());
        body.extend_from_slice(&3u16.to_be_bytes());
    }
    while body.len() % 4 != 0 {
        body.push(0);
    }
    let mut d = header(sequence, 0);
    d.extend(flowset(256, &body));
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attack_datagram_sizes() {
        assert_eq!(sflow_sub_agent(Ipv4Addr::LOCALHOST, 9).len(), 28);
        let d = netflow9_templates(0);
        assert_eq!(d.len(), 20 + 4 + 40 * 8);
        // 1,664 datagrams of 40 templates overfill a 65,536-template table.
        let templates = (d.len() - 24) / 8;
        assert!(templates * NETFLOW9_TEMPLATE_DATAGRAMS as usize > 65_536);
    }
}
