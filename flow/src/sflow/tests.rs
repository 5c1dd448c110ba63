//! Byte-vector tests for the sFlow v5 walker, built field by field from the spec (with
//! the test kit's sFlow builder).

use super::*;
use crate::record::FlowType;
use levee_testkit::sflow::{self, ETHERNET, FlowSample, Xdr, raw_header};
use std::net::Ipv4Addr;

fn frame_vlan_udp(dst_last: u8) -> Vec<u8> {
    let mut f = vec![
        0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x81, 0x00, 0x00, 0x2a, 0x08, 0x00,
    ];
    f.extend_from_slice(&[
        0x45, 0, 0x05, 0xdc, 0, 1, 0, 0, 57, 17, 0, 0, 203, 0, 113, 9,
    ]);
    f.extend_from_slice(&[
        198, 51, 100, dst_last, 0x00, 0x7b, 0x1f, 0x90, 0x05, 0xc8, 0, 0,
    ]);
    f
}

fn header_record(frame: &[u8], frame_length: u32) -> Vec<u8> {
    raw_header(ETHERNET, frame_length, 4, frame)
}

fn flow_sample(rate: u32, records: &[(u32, Vec<u8>)]) -> Vec<u8> {
    FlowSample {
        sequence: 7,
        source_id: 3,
        rate,
        pool: 1000,
        drops: 0,
        input: 5,
        output: 9,
    }
    .encode(records)
}

fn datagram(seq: u32, samples: &[(u32, Vec<u8>)]) -> Vec<u8> {
    sflow::datagram(Ipv4Addr::new(192, 0, 2, 10), seq, 1000, samples)
}

fn run(d: &[u8]) -> (SflowOutcome, Vec<FlowRecord>, Vec<InterfaceCounters>) {
    let (mut r, mut c) = (Vec::new(), Vec::new());
    let o = decode(d, 42, &mut r, &mut c);
    (o, r, c)
}

#[test]
fn flow_sample_with_vlan_header() {
    let s = flow_sample(1000, &[(1, header_record(&frame_vlan_udp(5), 1518))]);
    let (o, recs, _) = run(&datagram(9, &[(1, s)]));
    assert_eq!(o.error, None);
    let h = o.header.unwrap();
    assert_eq!((h.sequence, h.samples), (9, 1));
    assert_eq!(recs.len(), 1);
    let r = recs[0];
    assert_eq!(r.flow_type, FlowType::Sflow);
    assert_eq!(r.exporter, "192.0.2.10".parse::<IpAddr>().unwrap());
    assert_eq!(r.dst_addr, "198.51.100.5".parse::<IpAddr>().unwrap());
    assert_eq!((r.protocol, r.src_port, r.dst_port), (17, 123, 8080));
    assert_eq!(
        (r.vlan, r.ttl, r.packet_length),
        (Some(42), Some(57), Some(1500))
    );
    assert_eq!(
        (r.packets, r.bytes, r.sampling_rate),
        (1000, 1_518_000, 1000)
    );
    assert_eq!((r.in_if, r.out_if), (Some(5), Some(9)));
}

#[test]
fn expanded_sample_with_sampled_ipv6() {
    let ip6 = Xdr::default()
        .u32(1280)
        .u32(6)
        .bytes(
            &"2001:db8::1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        )
        .bytes(
            &"2001:db8::80"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        )
        .u32(40000)
        .u32(443)
        .u32(0x02)
        .u32(0)
        .0;
    let body = Xdr::default()
        .u32(1)
        .u32(0)
        .u32(17)
        .u32(512)
        .u32(100)
        .u32(0)
        .u32(0)
        .u32(100_000)
        .u32(0)
        .u32(0x3fff_ffff)
        .u32(1)
        .u32(4)
        .opaque(&ip6)
        .0;
    let (o, recs, _) = run(&datagram(1, &[(3, body)]));
    assert_eq!(o.error, None);
    let r = recs[0];
    assert_eq!(r.dst_addr, "2001:db8::80".parse::<IpAddr>().unwrap());
    assert_eq!((r.protocol, r.dst_port, r.tcp_flags), (6, 443, 2));
    assert_eq!((r.packets, r.bytes), (512, 512 * 1280));
    assert_eq!((r.in_if, r.out_if), (Some(100_000), None));
}

#[test]
fn counters_sample_kept() {
    let ifc = Xdr::default()
        .u32(3)
        .u32(6)
        .u64(10_000_000_000)
        .u32(1)
        .u32(3)
        .u64(123_456)
        .u32(1)
        .u32(2)
        .u32(3)
        .u32(4)
        .u32(5)
        .u32(6)
        .u64(654_321)
        .u32(7)
        .u32(8)
        .u32(9)
        .u32(10)
        .u32(11)
        .u32(0)
        .0;
    let body = Xdr::default().u32(1).u32(3).u32(1).u32(1).opaque(&ifc).0;
    let (o, recs, ctrs) = run(&datagram(1, &[(2, body)]));
    assert_eq!(o.error, None);
    assert!(recs.is_empty());
    assert_eq!(ctrs.len(), 1);
    assert_eq!(
        (ctrs[0].if_index, ctrs[0].in_octets, ctrs[0].out_errors),
        (3, 123_456, 11)
    );
    assert_eq!(ctrs[0].if_speed, 10_000_000_000);
}

#[test]
fn truncated_sample_keeps_earlier_records() {
    let s = flow_sample(10, &[(1, header_record(&frame_vlan_udp(1), 100))]);
    let mut d = datagram(1, &[(1, s.clone()), (1, s)]);
    d.truncate(d.len() - 10);
    let (o, recs, _) = run(&d);
    assert!(matches!(o.error, Some(DecodeError::Truncated { .. })));
    assert_eq!(recs.len(), 1);
}

#[test]
fn garbage_never_panics() {
    let d = datagram(
        1,
        &[(
            1,
            flow_sample(10, &[(1, header_record(&frame_vlan_udp(1), 100))]),
        )],
    );
    let mut r = Vec::new();
    let mut c = Vec::new();
    for cut in 0..d.len() {
        decode(&d[..cut], 0, &mut r, &mut c);
    }
    for i in 0..d.len() {
        let mut m = d.clone();
        m[i] ^= 0xff;
        decode(&m, 0, &mut r, &mut c);
    }
    assert_eq!(
        decode(&[0, 0, 0, 5, 0, 0, 0, 3], 0, &mut r, &mut c).error,
        Some(DecodeError::AddressType(3))
    );
}
