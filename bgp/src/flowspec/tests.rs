//! FlowSpec NLRI byte vectors both ways (the RFC 8955 and RFC 8956 examples), the
//! ordering and length rules, malformed input, and random round trips.

use super::*;
use crate::codes::component::{FLOW_LABEL, PORT, PROTOCOL};

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

fn v4(s: &str, len: u8) -> Prefix {
    Prefix {
        addr: s.parse().unwrap(),
        len,
        offset: 0,
    }
}

fn both_ways(rule: &FlowSpec, bytes: &[u8]) {
    assert_eq!(rule.to_bytes().unwrap(), bytes, "encode {rule}");
    let (got, used) = FlowSpec::decode(bytes, rule.afi).unwrap();
    assert_eq!((&got, used), (rule, bytes.len()), "decode");
}

/// RFC 8955 §4.3, first example: packets to 192.0.2.0/24 and TCP port 25.
#[test]
fn rfc8955_example_1() {
    let rule = FlowSpec {
        afi: Afi::IPV4,
        components: vec![
            Component::DestinationPrefix(v4("192.0.2.0", 24)),
            Component::Protocol(vec![NumericOp::eq(6)]),
            Component::Port(vec![NumericOp::eq(25)]),
        ],
    };
    both_ways(&rule, &hex("0b 01 18 c0 00 02 03 81 06 04 81 19"));
    assert_eq!(
        rule.to_string(),
        "[destination: 192.0.2.0/24][protocol: ==tcp][port: ==25]"
    );
}

/// RFC 8955 §4.3, second example: to 192.0.2.0/24 from 203.0.113.0/24, port
/// [137, 139] or 8080.
#[test]
fn rfc8955_example_2() {
    let [lo, hi] = NumericOp::range(137, 139);
    let rule = FlowSpec {
        afi: Afi::IPV4,
        components: vec![
            Component::DestinationPrefix(v4("192.0.2.0", 24)),
            Component::SourcePrefix(v4("203.0.113.0", 24)),
            Component::Port(vec![lo, hi, NumericOp::eq(8080)]),
        ],
    };
    both_ways(
        &rule,
        &hex("12 01 18 c0 00 02 02 18 cb 00 71 04 03 89 45 8b 91 1f 90"),
    );
    assert_eq!(
        rule.to_string(),
        "[destination: 192.0.2.0/24][source: 203.0.113.0/24][port: >=137&<=139 ==8080]"
    );
}

/// RFC 8956: an IPv6 destination with an offset matches bits offset..len only.
#[test]
fn ipv6_prefix_offsets_and_flow_label() {
    let rule = FlowSpec {
        afi: Afi::IPV6,
        components: vec![
            Component::DestinationPrefix(Prefix {
                addr: "2001:db8:2::".parse().unwrap(),
                len: 48,
                offset: 0,
            }),
            // Bits 32..64 of ::0:0:1234:5678:: (a pattern in the middle of the address).
            Component::SourcePrefix(Prefix {
                addr: "0:0:1234:5678::".parse().unwrap(),
                len: 64,
                offset: 32,
            }),
            Component::Protocol(vec![NumericOp::eq(58)]),
            Component::FlowLabel(vec![NumericOp::eq(0x12345)]),
        ],
    };
    both_ways(
        &rule,
        &hex("19 01 30 00 20 01 0d b8 00 02 02 40 20 12 34 56 78 03 81 3a 0d a1 00 01 23 45"),
    );
    assert_eq!(
        rule.to_string(),
        "[destination: 2001:db8:2::/48/0][source: 0:0:1234:5678::/64/32][protocol: ==ipv6-icmp][label: ==74565]"
    );
}

#[test]
fn bitmasks_and_every_numeric_component() {
    let rule = FlowSpec {
        afi: Afi::IPV4,
        components: vec![
            Component::DestinationPrefix(v4("198.51.100.7", 32)),
            Component::DestinationPort(vec![NumericOp::eq(53)]),
            Component::SourcePort(vec![NumericOp::eq(123)]),
            Component::IcmpType(vec![NumericOp::eq(8)]),
            Component::IcmpCode(vec![NumericOp::eq(0)]),
            Component::TcpFlags(vec![
                BitmaskOp {
                    and: false,
                    not: false,
                    match_all: true,
                    value: 0x02,
                },
                BitmaskOp {
                    and: true,
                    not: true,
                    match_all: false,
                    value: 0x10,
                },
            ]),
            Component::PacketLength(NumericOp::range(400, 1500).to_vec()),
            Component::Dscp(vec![NumericOp::eq(46)]),
            Component::Fragment(vec![BitmaskOp {
                and: false,
                not: false,
                match_all: false,
                value: fragment::IS_FRAGMENT | fragment::FIRST,
            }]),
        ],
    };
    let bytes = rule.to_bytes().unwrap();
    // Ports 53 and 123 fit one octet; 1500 needs two (len code 1).
    assert_eq!(&bytes[7..13], &hex("05 81 35 06 81 7b")[..]);
    assert_eq!(FlowSpec::decode(&bytes, Afi::IPV4).unwrap().0, rule);
    assert_eq!(
        rule.to_string(),
        "[destination: 198.51.100.7/32][destination-port: ==53][source-port: ==123]\
         [icmp-type: ==8][icmp-code: ==0][tcp-flags: =S&!A][packet-length: >=400&<=1500]\
         [dscp: ==46][fragment: is-fragment|first-fragment]"
    );
}

#[test]
fn two_octet_length_form() {
    // 60 ports × 3 octets + 6: past 239 octets.
    let ports: Vec<NumericOp> = (0..80).map(|i| NumericOp::eq(1000 + i)).collect();
    let rule = FlowSpec {
        afi: Afi::IPV4,
        components: vec![
            Component::DestinationPrefix(v4("192.0.2.0", 24)),
            Component::Port(ports),
        ],
    };
    let bytes = rule.to_bytes().unwrap();
    let len = bytes.len() - 2;
    assert!(len >= 240);
    assert_eq!(
        u16::from_be_bytes([bytes[0], bytes[1]]),
        0xf000 | len as u16
    );
    assert_eq!(FlowSpec::decode(&bytes, Afi::IPV4).unwrap().0, rule);
}

#[test]
fn malformed_input_is_an_error() {
    let ok = hex("0b 01 18 c0 00 02 03 81 06 04 81 19");
    for n in 0..ok.len() {
        assert!(
            FlowSpec::decode(&ok[..n], Afi::IPV4).is_err(),
            "truncated at {n}"
        );
    }
    // Out of order: port before protocol.
    let e = FlowSpec::decode(&hex("06 04 81 19 03 81 06"), Afi::IPV4).unwrap_err();
    assert_eq!(
        e,
        Error::OutOfOrder {
            prev: PORT,
            got: PROTOCOL
        }
    );
    // Duplicate type.
    assert!(FlowSpec::decode(&hex("06 04 81 19 04 81 19"), Afi::IPV4).is_err());
    assert_eq!(
        FlowSpec::decode(&hex("03 0e 81 00"), Afi::IPV4).unwrap_err(),
        Error::UnknownComponent(14)
    );
    assert_eq!(
        FlowSpec::decode(&hex("03 0d 81 00"), Afi::IPV4).unwrap_err(),
        Error::WrongFamily(FLOW_LABEL)
    );
    assert_eq!(
        FlowSpec::decode(&hex("05 01 21 c0 00 02"), Afi::IPV4).unwrap_err(),
        Error::BadPrefix { len: 33, offset: 0 }
    );
    assert_eq!(
        FlowSpec::decode(&hex("03 03 89 06"), Afi::IPV4).unwrap_err(),
        Error::ReservedBits(0x89)
    );
    assert_eq!(
        FlowSpec::decode(&hex("00"), Afi::IPV4).unwrap_err(),
        Error::Empty
    );
    // A family FlowSpec is not defined for (AFI 25, L2VPN) neither decodes nor encodes.
    assert_eq!(
        FlowSpec::decode(&ok, Afi(25)).unwrap_err(),
        Error::UnsupportedAfi(Afi(25))
    );
    let l2vpn = FlowSpec {
        afi: Afi(25),
        components: vec![Component::Protocol(vec![NumericOp::eq(6)])],
    };
    assert_eq!(l2vpn.to_bytes(), Err(Error::UnsupportedAfi(Afi(25))));
    // Encoding refuses what it cannot express.
    let bad = FlowSpec {
        afi: Afi::IPV4,
        components: vec![
            Component::Port(vec![]),
            Component::Protocol(vec![NumericOp::eq(6)]),
        ],
    };
    assert!(bad.to_bytes().is_err());
}

/// Random rules survive encode → decode unchanged, and random bytes never panic.
#[test]
fn round_trip_and_noise() {
    use crate::testgen::{Shape, random_rule};
    let mut rnd = levee_testkit::Rng::new(0x2545_f491_4f6c_dd1du64);
    for _ in 0..2_000 {
        let Some(rule) = random_rule(&mut rnd, Shape::Wire) else {
            continue;
        };
        let afi = rule.afi;
        let bytes = rule.to_bytes().unwrap();
        let (back, used) = FlowSpec::decode(&bytes, afi).unwrap();
        assert_eq!((back, used), (rule.clone(), bytes.len()), "{rule}");
        // Noise: flip a byte; decoding may fail but must not panic.
        let mut noisy = bytes.clone();
        let i = rnd.next_u64() as usize % noisy.len();
        noisy[i] ^= rnd.next_u64() as u8 | 1;
        let _ = FlowSpec::decode_all(&noisy, afi);
    }
}
