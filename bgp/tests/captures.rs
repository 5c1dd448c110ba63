//! Byte vectors from tshark captures of GoBGP 3.10 and ExaBGP 4.2.21 announcing the same
//! four FlowSpec rules to `levee bgp` (`tshark -d tcp.port==14179,bgp -Y "bgp.type == 2"
//! -T fields -e tcp.payload`). Both ways: levee decodes each UPDATE to the rule its route
//! text describes, and encodes that rule to the very NLRI and extended communities the
//! daemons sent.

use levee_bgp::flowspec::FlowSpec;
use levee_bgp::message::{self, Family, Message};
use levee_bgp::rib::{Nlri, RouteText};
use levee_bgp::update::Update;
use levee_bgp::update::attr::Attribute;

/// GoBGP: `gobgp global rib add -a ipv4-flowspec match destination 192.0.2.1/32 protocol
/// udp source-port ==53 packet-length '>=1400&<=1500' then discard`, and so on.
const GOBGP: [&str; 4] = [
    "ffffffffffffffffffffffffffffffff004b02000000344001010240020602010000fbf5800e19000185\
     0000130120c00002010381110681350a130578d505dcc010088006000000000000",
    "ffffffffffffffffffffffffffffffff0051020000003a4001010240020602010000fbf5800e1f000285\
     00001901800020010db8000000000000000000000001038106058150c010088006000047f42400",
    "ffffffffffffffffffffffffffffffff0041020000002a4001010240020602010000fbf5800e0f000185\
     0000090120c0000203098102c010088008fde800000064",
    "ffffffffffffffffffffffffffffffff004902000000324001010240020602010000fbf5800e0f000185\
     0000090120c00002040c8002c01010800900000000000a8007000000000003",
];

/// ExaBGP: the same rules from `flow { route ... }` in its configuration. It puts
/// MP_REACH_NLRI last and ORIGIN IGP; the NLRI are byte for byte GoBGP's.
const EXABGP: [&str; 4] = [
    "ffffffffffffffffffffffffffffffff004b02000000344001010040020602010000fbf9c01008800600\
     0000000000800e190001850000130120c00002010381110681350a130578d505dc",
    "ffffffffffffffffffffffffffffffff0051020000003a4001010040020602010000fbf9c01008800600\
     0047f42400800e1f00028500001901800020010db8000000000000000000000001038106058150",
    "ffffffffffffffffffffffffffffffff0041020000002a4001010040020602010000fbf9c010088008fd\
     e800000064800e0f0001850000090120c0000203098102",
    "ffffffffffffffffffffffffffffffff004902000000324001010040020602010000fbf9c01010800900\
     000000000a8007000000000003800e0f0001850000090120c00002040c8002",
];

/// End-of-RIB for IPv4 then IPv6 FlowSpec, in one segment (GoBGP), and ExaBGP's form
/// with the extended-length flag.
const GOBGP_EOR: &str = "ffffffffffffffffffffffffffffffff001d0200000006800f03000185\
                         ffffffffffffffffffffffffffffffff001d0200000006800f03000285";
const EXABGP_EOR: &str = "ffffffffffffffffffffffffffffffff001e0200000007900f0003000185\
                          ffffffffffffffffffffffffffffffff001e0200000007900f0003000285";

/// What each capture carries, as levee's route text.
const RULES: [&str; 4] = [
    "flow destination 192.0.2.1/32 protocol ==udp source-port ==53 \
     packet-length >=1400&<=1500 then discard",
    "flow destination 2001:db8::1/128 protocol ==tcp destination-port ==80 \
     then rate-limit 125000",
    "flow destination 192.0.2.3/32 tcp-flags =S then redirect 65000:100",
    "flow destination 192.0.2.4/32 fragment is-fragment then mark 10 action sample-terminal",
];

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Splits a TCP payload into messages and decodes the UPDATEs.
fn updates(payload: &[u8]) -> Vec<Update> {
    let mut out = Vec::new();
    let mut b = payload;
    while let Some(len) = message::frame(b).unwrap() {
        let Message::Update(body) = Message::decode(&b[..len]).unwrap() else {
            panic!("not an UPDATE")
        };
        let d = Update::decode(&body, true).unwrap();
        assert!(!d.treat_as_withdraw && d.discarded.is_empty(), "{d:?}");
        out.push(d.update);
        b = &b[len..];
    }
    assert!(b.is_empty());
    out
}

fn check(daemon: &str, captures: &[&str; 4]) {
    for (capture, text) in captures.iter().zip(RULES) {
        let want: RouteText = text.parse().unwrap();
        let Nlri::Flow(rule) = &want.nlri else {
            unreachable!()
        };
        let u = updates(&hex(capture)).remove(0);
        let (mut nlri, mut ext) = (None, None);
        for a in &u.attributes {
            match a {
                Attribute::MpReach {
                    family,
                    next_hop,
                    nlri: n,
                } => {
                    assert_eq!(*family, want.nlri.family(), "{daemon}: {text}");
                    assert!(next_hop.is_empty(), "FlowSpec carries no next hop");
                    nlri = Some(n.clone());
                }
                Attribute::ExtCommunities(x) => ext = Some(x.clone()),
                _ => {}
            }
        }
        let nlri = nlri.expect("MP_REACH_NLRI");
        // Decode: the daemon's bytes are the rule levee's text describes.
        assert_eq!(
            FlowSpec::decode_all(&nlri, rule.afi).unwrap(),
            vec![rule.clone()],
            "{daemon}: {text}"
        );
        assert_eq!(
            ext.as_ref(),
            Some(&want.attrs.extended_communities),
            "{daemon}: {text}"
        );
        // Encode: levee writes the same octets.
        assert_eq!(rule.to_bytes().unwrap(), nlri, "{daemon}: {text}");
    }
}

#[test]
fn gobgp_captures_both_ways() {
    check("GoBGP", &GOBGP);
}

#[test]
fn exabgp_captures_both_ways() {
    check("ExaBGP", &EXABGP);
}

#[test]
fn end_of_rib_from_both() {
    for (daemon, eor) in [("GoBGP", GOBGP_EOR), ("ExaBGP", EXABGP_EOR)] {
        let us = updates(&hex(eor));
        assert_eq!(
            us,
            vec![
                Update::end_of_rib(Family::IPV4_FLOWSPEC),
                Update::end_of_rib(Family::IPV6_FLOWSPEC)
            ],
            "{daemon}"
        );
    }
    // levee's own End-of-RIB is GoBGP's, byte for byte.
    let ours: Vec<u8> = [Family::IPV4_FLOWSPEC, Family::IPV6_FLOWSPEC]
        .iter()
        .flat_map(|f| levee_bgp::rib::pack::end_of_rib(*f))
        .collect();
    assert_eq!(ours, hex(GOBGP_EOR));
}
