//! IPFIX byte vectors: templates, variable-length and enterprise fields, options-based
//! sampling (RFC 5477 elements), withdrawal, sequence tracking.

use crate::testing::Feed;
use crate::{DecodeError, FlowType};
use levee_testkit::bytes::u16s as words;
use levee_testkit::ipfix::{OPTIONS_TEMPLATE_SET, TEMPLATE_SET, message, set};
use std::net::IpAddr;

/// Template 300: sourceIPv6Address, destinationIPv6Address, protocolIdentifier,
/// destinationTransportPort, an enterprise field (PEN 29305, length 2), a variable-length
/// field (IE 82 interfaceName), packetDeltaCount(8), octetDeltaCount(8), selectorId(2).
fn template() -> Vec<u8> {
    let mut t = words(&[300, 9, 27, 16, 28, 16, 4, 1, 11, 2, 0x8000 | 12, 2]);
    t.extend_from_slice(&29305u32.to_be_bytes());
    t.extend(words(&[82, 0xffff, 2, 8, 1, 8, 302, 2]));
    set(TEMPLATE_SET, &t)
}

fn record(dst_last: u8, name: &[u8], selector: u16) -> Vec<u8> {
    let mut r = "2001:db8::1"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets()
        .to_vec();
    let mut dst = "2001:db8::".parse::<std::net::Ipv6Addr>().unwrap().octets();
    dst[15] = dst_last;
    r.extend_from_slice(&dst);
    r.push(17);
    r.extend_from_slice(&53u16.to_be_bytes());
    r.extend_from_slice(&[0xaa, 0xbb]);
    if name.len() < 255 {
        r.push(name.len() as u8);
    } else {
        r.push(255);
        r.extend_from_slice(&(name.len() as u16).to_be_bytes());
    }
    r.extend_from_slice(name);
    r.extend_from_slice(&2u64.to_be_bytes());
    r.extend_from_slice(&300u64.to_be_bytes());
    r.extend_from_slice(&selector.to_be_bytes());
    r
}

/// Options template 400: scope selectorId(2); samplingPacketInterval(4),
/// samplingPacketSpace(4).
fn options() -> Vec<u8> {
    set(
        OPTIONS_TEMPLATE_SET,
        &words(&[400, 3, 1, 302, 2, 305, 4, 306, 4]),
    )
}

fn options_data(selector: u16, interval: u32, space: u32) -> Vec<u8> {
    let mut b = selector.to_be_bytes().to_vec();
    b.extend_from_slice(&interval.to_be_bytes());
    b.extend_from_slice(&space.to_be_bytes());
    set(400, &b)
}

fn exporter() -> Feed {
    Feed::new("2001:db8::ff")
}

#[test]
fn variable_length_and_enterprise_fields() {
    let mut f = exporter();
    let long = vec![b'x'; 300];
    let mut data = record(1, b"eth0", 0);
    data.extend(record(2, &long, 0));
    let r = f.decode(1, &message(0, 1, &[template(), set(300, &data)]));
    assert_eq!(r.error, None);
    assert_eq!((r.flow_type, r.records), (Some(FlowType::Ipfix), 2));
    let rec = f.batch.records[1];
    assert_eq!(rec.dst_addr, "2001:db8::2".parse::<IpAddr>().unwrap());
    assert_eq!(
        (rec.protocol, rec.dst_port, rec.packets, rec.bytes),
        (17, 53, 2, 300)
    );
}

#[test]
fn sampling_from_options_by_selector() {
    let mut f = exporter();
    // 1 packet selected, 99 skipped: 1:100.
    f.decode(
        1,
        &message(0, 1, &[template(), options(), options_data(5, 1, 99)]),
    );
    let data = [record(1, b"", 5), record(2, b"", 6)].concat();
    let r = f.decode(2, &message(1, 1, &[set(300, &data)]));
    assert_eq!((r.error, r.records, r.lost_datagrams), (None, 2, 0));
    assert_eq!(f.scaled(0), (200, 30_000, 100));
    assert_eq!(f.batch.records[1].sampling_rate, 1);
}

#[test]
fn withdrawal_and_sequence_gaps() {
    let mut f = exporter();
    let data = [set(300, &record(1, b"", 0))];
    f.decode(1, &message(0, 1, &[template()]));
    assert_eq!(f.dec.templates(), 1);
    let r = f.decode(2, &message(10, 1, &data));
    // Before the stream shows which sequence convention it uses (RFC 7011's "records
    // before this message", or including them), the smaller possible gap is reported:
    // 10 - 1 = 9 records, each message here holding one.
    assert_eq!((r.records, r.lost_datagrams), (1, 9));
    f.decode(3, &message(11, 1, &[set(TEMPLATE_SET, &words(&[300, 0]))]));
    assert_eq!(f.dec.templates(), 0);
    let r = f.decode(4, &message(11, 1, &data));
    assert_eq!((r.records, r.template_misses), (0, 1));
    // Withdraw-all (template id 2).
    f.decode(5, &message(11, 1, &[template(), options()]));
    f.decode(6, &message(11, 1, &[set(TEMPLATE_SET, &words(&[2, 0]))]));
    assert_eq!(f.dec.templates(), 1, "only the options template is left");
}

#[test]
fn hostile_messages() {
    let mut f = exporter();
    let mut m = message(0, 1, &[template()]);
    m[3] = 200; // message length beyond the datagram
    assert!(matches!(
        f.decode(1, &m).error,
        Some(DecodeError::Truncated { .. })
    ));
    let m = message(0, 1, &[set(1, &[0, 0])]);
    assert_eq!(f.decode(1, &m).error, Some(DecodeError::ReservedSetId(1)));
    // A variable-length field claiming more than the set holds.
    let mut rec = record(1, b"abc", 0);
    rec[37] = 200;
    let m = message(0, 1, &[template(), set(300, &rec)]);
    assert!(matches!(
        f.decode(1, &m).error,
        Some(DecodeError::Truncated { .. })
    ));
    assert_eq!(
        f.decode(1, &[0xde, 0xad]).error,
        Some(DecodeError::UnknownFormat(0xdead_0000))
    );
}
