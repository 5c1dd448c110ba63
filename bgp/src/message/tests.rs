//! Byte-vector tests of the messages other than UPDATE, both ways, and their errors.

use super::*;
use crate::codes::error::{self, header};
use crate::codes::{AS_TRANS, route_refresh};
use std::net::Ipv4Addr;

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

const MARKER: &str = "ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff ff";

#[test]
fn keepalive_and_route_refresh() {
    let ka = hex(&format!("{MARKER} 00 13 04"));
    assert_eq!(Message::Keepalive.to_bytes(), ka);
    assert_eq!(Message::decode(&ka).unwrap(), Message::Keepalive);
    let rr = Message::RouteRefresh(RouteRefresh {
        family: Family::IPV4_FLOWSPEC,
        subtype: route_refresh::REQUEST,
    });
    let bytes = hex(&format!("{MARKER} 00 17 05 00 01 00 85"));
    assert_eq!(rr.to_bytes(), bytes);
    assert_eq!(Message::decode(&bytes).unwrap(), rr);
}

/// An OPEN as levee sends it: AS 4200000001 (AS_TRANS in the two-octet field), hold
/// 90 s, the four families, route refresh, enhanced route refresh, graceful restart.
#[test]
fn open_with_every_capability() {
    let open = Open::new(
        4_200_000_001,
        90,
        Ipv4Addr::new(192, 0, 2, 1),
        vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::Multiprotocol(Family::IPV6_UNICAST),
            Capability::Multiprotocol(Family::IPV4_FLOWSPEC),
            Capability::Multiprotocol(Family::IPV6_FLOWSPEC),
            Capability::RouteRefresh,
            Capability::EnhancedRouteRefresh,
            Capability::GracefulRestart(GracefulRestart {
                restarting: false,
                time: 120,
                families: vec![(Family::IPV4_FLOWSPEC, true)],
            }),
        ],
    );
    let bytes = Message::Open(open.clone()).to_bytes();
    let caps = "01 04 00 01 00 01 01 04 00 02 00 01 01 04 00 01 00 85 01 04 00 02 00 85 \
                02 00 46 00 40 06 00 78 00 01 85 80 41 04 fa 56 ea 01";
    let want = hex(&format!(
        "{MARKER} 00 49 01 04 5b a0 00 5a c0 00 02 01 2c 02 2a {caps}"
    ));
    assert_eq!(bytes, want);
    let Message::Open(back) = Message::decode(&bytes).unwrap() else {
        panic!("not an OPEN");
    };
    assert_eq!(back, open);
    assert_eq!(back.asn(), 4_200_000_001);
    assert_eq!(back.my_as, AS_TRANS);
}

#[test]
fn open_errors_carry_their_notification() {
    let good = Message::Open(Open::new(65001, 90, Ipv4Addr::new(192, 0, 2, 1), vec![])).to_bytes();
    let mut v3 = good.clone();
    v3[19] = 3;
    let e = Message::decode(&v3).unwrap_err();
    assert_eq!(
        (e.code, e.subcode, e.data.as_slice()),
        (
            error::OPEN_MESSAGE,
            error::open::UNSUPPORTED_VERSION_NUMBER,
            &[0u8, 4][..]
        )
    );
    let mut hold = good.clone();
    hold[22..24].copy_from_slice(&[0, 2]);
    assert_eq!(
        Message::decode(&hold).unwrap_err().subcode,
        error::open::UNACCEPTABLE_HOLD_TIME
    );
    let mut id = good.clone();
    id[24..28].copy_from_slice(&[0; 4]);
    assert_eq!(
        Message::decode(&id).unwrap_err().subcode,
        error::open::BAD_BGP_IDENTIFIER
    );
    // An unknown optional parameter type (1, deprecated authentication).
    let mut param = good.clone();
    param[29] = 1;
    let e = Message::decode(&param).unwrap_err();
    assert_eq!(
        (e.code, e.subcode),
        (
            error::OPEN_MESSAGE,
            error::open::UNSUPPORTED_OPTIONAL_PARAMETER
        )
    );
    // Unknown capabilities are kept and ignored.
    let caps = Capability::decode_all(&hex("49 03 61 62 63 41 04 00 00 fd e9")).unwrap();
    assert_eq!(
        caps,
        vec![
            Capability::Unknown(0x49, b"abc".to_vec()),
            Capability::FourOctetAs(65001)
        ]
    );
}

#[test]
fn header_errors() {
    let ka = Message::Keepalive.to_bytes();
    let mut marker = ka.clone();
    marker[3] = 0;
    assert_eq!(
        frame(&marker).unwrap_err().subcode,
        header::CONNECTION_NOT_SYNCHRONIZED
    );
    let mut long = ka.clone();
    long[16..18].copy_from_slice(&5000u16.to_be_bytes());
    assert_eq!(
        frame(&long).unwrap_err().subcode,
        header::BAD_MESSAGE_LENGTH
    );
    let mut short = ka.clone();
    short[16..18].copy_from_slice(&18u16.to_be_bytes());
    assert_eq!(
        frame(&short).unwrap_err().subcode,
        header::BAD_MESSAGE_LENGTH
    );
    let mut kind = ka.clone();
    kind[18] = 9;
    let e = Message::decode(&kind).unwrap_err();
    assert_eq!(
        (e.code, e.subcode, e.data.as_slice()),
        (error::MESSAGE_HEADER, header::BAD_MESSAGE_TYPE, &[9u8][..])
    );
    // A KEEPALIVE with a body is a length error.
    let mut ka_body = hex(&format!("{MARKER} 00 14 04 00"));
    assert_eq!(
        Message::decode(&ka_body).unwrap_err().subcode,
        header::BAD_MESSAGE_LENGTH
    );
    ka_body.truncate(10);
    assert_eq!(frame(&ka_body).unwrap(), None);
}

#[test]
fn shutdown_communication() {
    let n = Notification::shutdown("levee: maintenance, back in 10 min");
    let bytes = Message::Notification(n.clone()).to_bytes();
    let Message::Notification(back) = Message::decode(&bytes).unwrap() else {
        panic!()
    };
    assert_eq!(
        back.shutdown_message().as_deref(),
        Some("levee: maintenance, back in 10 min")
    );
    assert_eq!(
        back.to_string(),
        "cease (6/2): administrative shutdown: \"levee: maintenance, back in 10 min\""
    );
    // Cut at 255 octets on a character boundary.
    let long = "é".repeat(200);
    let n = Notification::shutdown(&long);
    assert_eq!(n.data[0], 254);
    assert_eq!(n.shutdown_message().unwrap().chars().count(), 127);
}

/// RFC 4486 §4: the max-prefix Cease carries AFI, SAFI and the bound, both ways.
#[test]
fn max_prefixes_cease_carries_the_family() {
    let n = Notification::max_prefixes(Family::IPV4_FLOWSPEC, 1000);
    let bytes = Message::Notification(n.clone()).to_bytes();
    assert_eq!(&bytes[19..], &hex("06 01 00 01 85 00 00 03 e8")[..]);
    let Message::Notification(back) = Message::decode(&bytes).unwrap() else {
        panic!()
    };
    assert_eq!(
        back.max_prefixes_data(),
        Some((Family::IPV4_FLOWSPEC, 1000))
    );
    // A bound beyond 32 bits is sent as the largest one.
    let big = Notification::max_prefixes(Family::IPV6_UNICAST, usize::MAX);
    assert_eq!(
        big.max_prefixes_data(),
        Some((Family::IPV6_UNICAST, u32::MAX))
    );
    // Other notifications, and a short one from a peer, carry none.
    assert_eq!(Notification::shutdown("x").max_prefixes_data(), None);
    let short = Notification {
        code: error::CEASE,
        subcode: error::cease::MAX_PREFIXES,
        data: vec![0, 0, 0],
    };
    assert_eq!(short.max_prefixes_data(), None);
}

/// Random frames never panic the decoder.
#[test]
fn noise_never_panics() {
    let mut rnd = levee_testkit::Rng::new(0x9e37_79b9_7f4a_7c15u64);
    let open = Message::Open(Open::new(
        65001,
        90,
        Ipv4Addr::new(192, 0, 2, 1),
        vec![
            Capability::Multiprotocol(Family::IPV4_FLOWSPEC),
            Capability::RouteRefresh,
        ],
    ))
    .to_bytes();
    for _ in 0..20_000 {
        let mut m = open.clone();
        for _ in 0..1 + rnd.next_u64() % 4 {
            let i = 18 + rnd.next_u64() as usize % (m.len() - 18);
            m[i] = rnd.next_u64() as u8;
        }
        let _ = Message::decode(&m);
        let n = HEADER_LEN + rnd.next_u64() as usize % 40;
        let mut r: Vec<u8> = (0..n).map(|_| rnd.next_u64() as u8).collect();
        r[..16].fill(0xff);
        r[16..18].copy_from_slice(&(n as u16).to_be_bytes());
        let _ = Message::decode(&r);
    }
}

#[test]
fn family_names_both_ways() {
    for f in [
        Family::IPV4_UNICAST,
        Family::IPV6_UNICAST,
        Family::IPV4_FLOWSPEC,
        Family::IPV6_FLOWSPEC,
    ] {
        let name = f.to_string();
        assert_eq!(Family::from_name(&name), Some(f), "{name}");
        assert_eq!(f.name(), Some(name.as_str()));
    }
    assert_eq!(Family::IPV6_FLOWSPEC.to_string(), "ipv6-flowspec");
    let other = Family::new(Afi(25), Safi(65));
    assert_eq!(
        (other.name(), other.to_string()),
        (None, "afi25-safi65".into())
    );
    assert_eq!(Family::from_name("ipv4-multicast"), None);
}
