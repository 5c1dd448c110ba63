//! NetFlow v9 byte vectors: templates, data, options templates carrying the sampling
//! interval, and hostile template lies.

use crate::testing::Feed;
use crate::{DecodeError, FlowType, Limits};
use levee_testkit::bytes::u16s as words;
use levee_testkit::netflow9::{OPTIONS_TEMPLATE, TEMPLATE, flowset, header};
use std::net::IpAddr;

/// Template 256: IPV4_SRC, IPV4_DST, L4_SRC, L4_DST, PROTO, TCP_FLAGS, IN_PKTS(4),
/// IN_BYTES(4), FLOW_SAMPLER_ID(1), INPUT_SNMP(2).
fn template() -> Vec<u8> {
    flowset(
        TEMPLATE,
        &words(&[
            256, 10, 8, 4, 12, 4, 7, 2, 11, 2, 4, 1, 6, 1, 2, 4, 1, 4, 48, 1, 10, 2,
        ]),
    )
}

fn data_record(dst_last: u8, sampler: u8) -> Vec<u8> {
    let mut r = vec![
        192, 0, 2, 1, 198, 51, 100, dst_last, 0x30, 0x39, 0x00, 0x50, 6, 0x12,
    ];
    r.extend_from_slice(&3u32.to_be_bytes());
    r.extend_from_slice(&180u32.to_be_bytes());
    r.push(sampler);
    r.extend_from_slice(&7u16.to_be_bytes());
    r
}

/// Options template 257: scope System(1) length 4; FLOW_SAMPLER_ID(48) 1,
/// FLOW_SAMPLER_RANDOM_INTERVAL(50) 4.
fn options_template() -> Vec<u8> {
    flowset(
        OPTIONS_TEMPLATE,
        &words(&[257, 4, 8, 1, 4, 48, 1, 50, 4, 0]),
    )
}

fn options_data(sampler: u8, interval: u32) -> Vec<u8> {
    let mut b = vec![0, 0, 0, 0, sampler];
    b.extend_from_slice(&interval.to_be_bytes());
    b.extend_from_slice(&[0, 0, 0]); // padding
    flowset(257, &b)
}

/// A datagram: the header (`sequence`, `source_id`), then `flowsets`.
fn datagram(sequence: u32, source_id: u32, flowsets: &[Vec<u8>]) -> Vec<u8> {
    let mut d = header(sequence, source_id);
    d.extend(flowsets.concat());
    d
}

fn exporter() -> Feed {
    Feed::new("192.0.2.200")
}

#[test]
fn template_then_data_with_padding() {
    let mut f = exporter();
    let mut recs = data_record(1, 0);
    recs.extend(data_record(2, 0));
    recs.extend_from_slice(&[0, 0]); // padding to 4
    let r = f.decode(1, &datagram(1, 7, &[template(), flowset(256, &recs)]));
    assert_eq!(r.error, None);
    assert_eq!((r.flow_type, r.records), (Some(FlowType::Netflow9), 2));
    let rec = f.batch.records[1];
    assert_eq!(rec.dst_addr, "198.51.100.2".parse::<IpAddr>().unwrap());
    assert_eq!(
        (rec.src_port, rec.dst_port, rec.protocol, rec.tcp_flags),
        (12345, 80, 6, 0x12)
    );
    assert_eq!(
        (rec.packets, rec.bytes, rec.sampling_rate, rec.in_if),
        (3, 180, 1, Some(7))
    );
}

#[test]
fn options_sampling_applies_to_its_sampler_only() {
    let mut f = exporter();
    let mut recs = data_record(1, 2);
    recs.extend(data_record(2, 3));
    let d = datagram(
        1,
        7,
        &[
            template(),
            options_template(),
            options_data(2, 1000),
            flowset(256, &recs),
        ],
    );
    let r = f.decode(1, &d);
    assert_eq!(r.error, None);
    assert_eq!(f.scaled(0), (3000, 180_000, 1000));
    assert_eq!(
        f.batch.records[1].sampling_rate, 1,
        "sampler 3 has no known rate"
    );
}

#[test]
fn templates_are_per_source_id_and_misses_counted() {
    let mut f = exporter();
    let data = [flowset(256, &data_record(1, 0))];
    f.decode(1, &datagram(1, 7, &[template()]));
    let r = f.decode(2, &datagram(2, 8, &data));
    assert_eq!((r.records, r.template_misses), (0, 1));
    let r = f.decode(3, &datagram(5, 7, &data));
    assert_eq!((r.records, r.lost_datagrams), (1, 3));
    let stats = f.dec.exporters().next().unwrap().1;
    assert_eq!(
        (
            stats.datagrams,
            stats.records,
            stats.template_misses,
            stats.lost_datagrams
        ),
        (3, 1, 1, 3)
    );
}

#[test]
fn hostile_templates() {
    let mut f = exporter();
    // Field length 0 would make a zero-length record and an endless loop.
    let d = datagram(1, 1, &[flowset(TEMPLATE, &words(&[300, 1, 8, 0]))]);
    assert!(matches!(
        f.decode(1, &d).error,
        Some(DecodeError::BadTemplate { .. })
    ));
    // Flowset length shorter than its header.
    let d = datagram(1, 1, &[vec![0, 0, 0, 2]]);
    assert!(matches!(
        f.decode(1, &d).error,
        Some(DecodeError::BadLength { .. })
    ));
    // Per-exporter template limit.
    let limits = Limits {
        max_templates_per_domain: 2,
        ..Limits::default()
    };
    let mut f = Feed::with_limits("192.0.2.200", limits);
    let d = datagram(
        1,
        1,
        &[flowset(
            TEMPLATE,
            &words(&[256, 1, 8, 4, 257, 1, 8, 4, 258, 1, 8, 4]),
        )],
    );
    let r = f.decode(1, &d);
    assert_eq!(r.error, Some(DecodeError::Limit("templates per exporter")));
    assert_eq!(f.dec.templates(), 2);
}
