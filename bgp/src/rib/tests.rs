//! Adj-RIB-Out and UPDATE packing: full messages, withdrawals, families, End-of-RIB,
//! two-octet AS sessions; and the route text both ways.

use super::*;
use crate::codes::{Afi, Safi, origin};
use crate::flowspec::action::Action;
use crate::flowspec::{BitmaskOp, Component, NumericOp, Prefix};
use crate::message::{MAX_LEN, Message};
use crate::update::Update;
use crate::update::attr::{Attribute, Segment, community};
use std::net::{Ipv4Addr, Ipv6Addr};

fn enc(ebgp: bool, four_octet: bool) -> Encoder {
    Encoder {
        local_as: 64500,
        ebgp,
        four_octet,
        next_hop_v4: Ipv4Addr::new(192, 0, 2, 10),
        next_hop_v6: "2001:db8::10".parse().unwrap(),
    }
}

fn flow(i: u32) -> Nlri {
    let a = Ipv4Addr::from(0xc633_6400 | (i & 0xff)); // 198.51.100.x
    Nlri::Flow(FlowSpec {
        afi: Afi::IPV4,
        components: vec![
            Component::DestinationPrefix(Prefix {
                addr: a.into(),
                len: 32,
                offset: 0,
            }),
            Component::Protocol(vec![NumericOp::eq(17)]),
            Component::SourcePort(vec![NumericOp::eq(u64::from(i >> 8))]),
        ],
    })
}

fn discard() -> Arc<Attrs> {
    Arc::new(Attrs {
        extended_communities: vec![Action::DISCARD.to_bytes()],
        ..Attrs::default()
    })
}

/// Every message decodes; returns (announced, withdrawn, attributes of the last UPDATE).
fn decode_all(msgs: &[Vec<u8>]) -> (Vec<Nlri>, Vec<Nlri>, Vec<Vec<Attribute>>) {
    let mut ann = Vec::new();
    let mut wd = Vec::new();
    let mut attrs = Vec::new();
    for m in msgs {
        assert!(m.len() <= MAX_LEN, "{} octets", m.len());
        let Message::Update(body) = Message::decode(m).unwrap() else {
            panic!("not an UPDATE")
        };
        let d = Update::decode(&body, true).unwrap();
        assert!(!d.treat_as_withdraw && d.discarded.is_empty(), "{d:?}");
        for (a, l) in d.update.nlri {
            ann.push(Nlri::Unicast(IpPrefix::new(a.into(), l).unwrap()));
        }
        for (a, l) in d.update.withdrawn {
            wd.push(Nlri::Unicast(IpPrefix::new(a.into(), l).unwrap()));
        }
        for a in &d.update.attributes {
            let (family, bytes, to) = match a {
                Attribute::MpReach { family, nlri, .. } => (family, nlri, &mut ann),
                Attribute::MpUnreach { family, withdrawn } => (family, withdrawn, &mut wd),
                _ => continue,
            };
            if family.safi == Safi::FLOWSPEC {
                to.extend(
                    FlowSpec::decode_all(bytes, family.afi)
                        .unwrap()
                        .into_iter()
                        .map(Nlri::Flow),
                );
            } else {
                let mut b = &bytes[..];
                while let Some((&len, rest)) = b.split_first() {
                    let n = usize::from(len).div_ceil(8);
                    let mut o = [0u8; 16];
                    o[..n].copy_from_slice(&rest[..n]);
                    let p = IpPrefix::new(Ipv6Addr::from(o).into(), len).unwrap();
                    to.push(Nlri::Unicast(p));
                    b = &rest[n..];
                }
            }
        }
        attrs.push(d.update.attributes);
    }
    (ann, wd, attrs)
}

#[test]
fn ten_thousand_rules_pack_into_full_messages() {
    let mut rib = AdjRibOut::new();
    rib.up(&[Family::IPV4_FLOWSPEC], []);
    let rules: Vec<Nlri> = (0..10_000).map(flow).collect();
    for r in &rules {
        rib.announce(r.clone(), discard());
    }
    let mut msgs = Vec::new();
    let t = rib.take(&enc(true, true), &mut msgs);
    assert_eq!(t.announced, 10_000);
    assert_eq!(t.unencodable, 0);
    // Each rule is 14 octets: about 290 per message, so 35 messages + End-of-RIB.
    assert_eq!(t.updates as usize, msgs.len());
    assert!(msgs.len() <= 36, "{} messages", msgs.len());
    let (ann, wd, attrs) = decode_all(&msgs);
    assert!(wd.is_empty());
    let mut want = rules.clone();
    want.sort();
    let mut got = ann.clone();
    got.sort();
    assert_eq!(got, want);
    // MP_REACH first (RFC 7606 §5.1), then ORIGIN, AS_PATH, the action.
    let first = &attrs[0];
    assert!(matches!(first[0], Attribute::MpReach { ref next_hop, .. } if next_hop.is_empty()));
    assert_eq!(first[1], Attribute::Origin(origin::IGP));
    assert_eq!(
        first[2],
        Attribute::AsPath(vec![Segment::Sequence(vec![64500])])
    );
    assert_eq!(
        first[3],
        Attribute::ExtCommunities(vec![Action::DISCARD.to_bytes()])
    );
    // The last message is the End-of-RIB.
    assert_eq!(
        attrs.last().unwrap(),
        &vec![Attribute::MpUnreach {
            family: Family::IPV4_FLOWSPEC,
            withdrawn: vec![]
        }]
    );
    assert_eq!(rib.sent_len(), 10_000);

    // Withdrawing them all packs too.
    for r in &rules {
        rib.withdraw(r.clone());
    }
    let mut msgs = Vec::new();
    let t = rib.take(&enc(true, true), &mut msgs);
    assert_eq!(t.withdrawn, 10_000);
    let (ann, mut wd, _) = decode_all(&msgs);
    assert!(ann.is_empty());
    wd.sort();
    assert_eq!(wd, want);
    assert_eq!(rib.sent_len(), 0);
}

#[test]
fn rtbh_routes_v4_and_v6() {
    let mut rib = AdjRibOut::new();
    rib.up(&[Family::IPV4_UNICAST, Family::IPV6_UNICAST], []);
    let rtbh = Arc::new(Attrs {
        next_hop: Some("192.0.2.66".parse().unwrap()),
        communities: vec![community::BLACKHOLE, community::NO_EXPORT],
        large_communities: vec![[64500, 666, 1]],
        ..Attrs::default()
    });
    let v4: Vec<Nlri> = (0..3000u32)
        .map(|i| Nlri::Unicast(IpPrefix::new(Ipv4Addr::from(0xcb00_7100 + i).into(), 32).unwrap()))
        .collect();
    let v6 = Nlri::Unicast(IpPrefix::new("2001:db8::1".parse().unwrap(), 128).unwrap());
    for n in v4.iter().chain([&v6]) {
        rib.announce(n.clone(), rtbh.clone());
    }
    let mut msgs = Vec::new();
    let t = rib.take(&enc(false, true), &mut msgs);
    assert_eq!(t.announced, 3001);
    let (mut ann, _, attrs) = decode_all(&msgs);
    ann.sort();
    let mut want = v4.clone();
    want.push(v6.clone());
    want.sort();
    assert_eq!(ann, want);
    // 3000 × 5 octets do not fit one message.
    assert!(msgs.len() >= 2 + 1 + 2);
    let v4_attrs = &attrs[0];
    assert!(v4_attrs.contains(&Attribute::NextHop(Ipv4Addr::new(192, 0, 2, 66))));
    assert!(v4_attrs.contains(&Attribute::LocalPref(100)), "iBGP");
    assert!(
        v4_attrs.contains(&Attribute::AsPath(vec![])),
        "iBGP: empty path"
    );
    assert!(v4_attrs.contains(&Attribute::Communities(vec![
        community::BLACKHOLE,
        community::NO_EXPORT
    ])));
    assert!(v4_attrs.contains(&Attribute::LargeCommunities(vec![[64500, 666, 1]])));
    // The IPv6 route's next hop is the IPv4 one, mapped.
    let v6_attrs = attrs
        .iter()
        .find(|a| {
            a.iter().any(
                |x| matches!(x, Attribute::MpReach { family, .. } if *family == Family::IPV6_UNICAST),
            )
        })
        .unwrap();
    let Attribute::MpReach { next_hop, .. } = &v6_attrs[0] else {
        panic!()
    };
    assert_eq!(
        next_hop[..],
        Ipv4Addr::new(192, 0, 2, 66).to_ipv6_mapped().octets()
    );

    // Withdrawals of IPv4 unicast use the withdrawn-routes field.
    rib.withdraw(v4[0].clone());
    rib.withdraw(v6.clone());
    let mut msgs = Vec::new();
    rib.take(&enc(false, true), &mut msgs);
    let (_, mut wd, _) = decode_all(&msgs);
    wd.sort();
    assert_eq!(wd, vec![v4[0].clone(), v6]);
}

#[test]
fn adj_rib_out_follows_the_session() {
    let loc: Vec<(Nlri, Arc<Attrs>)> = (0..5).map(|i| (flow(i), discard())).collect();
    let v6 = Nlri::Unicast(IpPrefix::new("2001:db8::1".parse().unwrap(), 128).unwrap());
    let mut rib = AdjRibOut::new();
    // Down: nothing is queued.
    rib.announce(flow(9), discard());
    assert_eq!(rib.pending_len(), 0);
    // Up: the table, then End-of-RIB; families the peer lacks are skipped.
    let with_v6: Vec<(Nlri, Arc<Attrs>)> = loc
        .iter()
        .cloned()
        .chain([(v6.clone(), Arc::new(Attrs::default()))])
        .collect();
    rib.up(
        &[Family::IPV4_FLOWSPEC],
        with_v6.iter().map(|(n, a)| (n, a)),
    );
    assert_eq!(rib.pending_len(), 5);
    let mut msgs = Vec::new();
    let t = rib.take(&enc(true, true), &mut msgs);
    assert_eq!((t.announced, t.updates), (5, 2));
    // The same announcement again is not resent; a new attribute set is.
    rib.announce(flow(0), discard());
    assert_eq!(rib.pending_len(), 0);
    let rate = Arc::new(Attrs {
        extended_communities: vec![Action::RateBytes { asn: 0, rate: 1e6 }.to_bytes()],
        ..Attrs::default()
    });
    rib.announce(flow(0), rate.clone());
    assert_eq!(rib.pending_len(), 1);
    // Announce then withdraw before sending: nothing goes out for a route never sent.
    rib.announce(flow(7), discard());
    rib.withdraw(flow(7));
    let mut msgs = Vec::new();
    let t = rib.take(&enc(true, true), &mut msgs);
    assert_eq!((t.announced, t.withdrawn, t.updates), (1, 0, 1));
    assert_eq!(rib.sent(&flow(0)), Some(&rate));
    // Route refresh resends the family; no End-of-RIB this time.
    rib.refresh(Family::IPV4_FLOWSPEC);
    let mut msgs = Vec::new();
    let t = rib.take(&enc(true, true), &mut msgs);
    assert_eq!(t.announced, 5);
    // Graceful shutdown withdraws everything held.
    rib.withdraw_all();
    let mut msgs = Vec::new();
    let t = rib.take(&enc(true, true), &mut msgs);
    assert_eq!((t.withdrawn, rib.sent_len()), (5, 0));
    // Down forgets; up again re-advertises the table.
    rib.down();
    assert!(!rib.is_up());
    rib.up(&[Family::IPV4_FLOWSPEC], loc.iter().map(|(n, a)| (n, a)));
    assert_eq!(rib.pending_len(), 5);
}

#[test]
fn two_octet_peer_gets_as_trans_and_as4_path() {
    let mut e = enc(true, false);
    e.local_as = 4_200_000_001;
    let (msgs, bad) = e.announce(Family::IPV4_FLOWSPEC, &discard(), &[flow(1)]);
    assert!(bad.is_empty());
    let Message::Update(body) = Message::decode(&msgs[0]).unwrap() else {
        panic!()
    };
    // Decoded as a two-octet session: AS_PATH holds AS_TRANS, AS4_PATH the real AS.
    let d = Update::decode(&body, false).unwrap();
    assert!(
        d.update
            .attributes
            .contains(&Attribute::AsPath(vec![Segment::Sequence(vec![23456])]))
    );
    assert!(
        d.update
            .attributes
            .contains(&Attribute::As4Path(vec![Segment::Sequence(vec![
                4_200_000_001
            ])]))
    );
}

#[test]
fn a_rule_too_large_for_a_message_is_reported_not_sent() {
    let ops: Vec<NumericOp> = (0..1000).map(|i| NumericOp::eq(1000 + i)).collect();
    let big = Nlri::Flow(FlowSpec {
        afi: Afi::IPV4,
        components: vec![
            Component::DestinationPort(ops.clone()),
            Component::SourcePort(ops),
        ],
    });
    let mut rib = AdjRibOut::new();
    rib.up(&[Family::IPV4_FLOWSPEC], []);
    rib.announce(big.clone(), discard());
    rib.announce(flow(1), discard());
    let mut msgs = Vec::new();
    let t = rib.take(&enc(true, true), &mut msgs);
    assert_eq!((t.announced, t.unencodable), (1, 1));
    assert!(rib.sent(&big).is_none());
}

/// A flow with every IPv4 component and most actions.
fn every_component() -> RouteText {
    "flow match destination 192.0.2.1/32 source 198.51.100.0/24 protocol udp \
        port ==53 destination-port 8000-8080 ==443 source-port >1023 icmp-type ==3 icmp-code ==1 \
        tcp-flags =syn|ack&!rst packet-length >=1400&<=1500 dscp ==46 fragment is-fragment \
        then rate-limit 125000 action sample redirect 65000:100 mark 10 community 64500:1"
        .parse()
        .unwrap()
}

/// An IPv6 flow with a prefix offset and a flow label.
fn ipv6_with_offset() -> RouteText {
    "flow destination 2001:db8::/64/8 label ==5 then discard"
        .parse()
        .unwrap()
}

/// An RTBH route with its communities.
fn rtbh() -> RouteText {
    "route 192.0.2.1/32 next-hop 192.0.2.66 blackhole no-export large-community 64500:666:1"
        .parse()
        .unwrap()
}

#[test]
fn route_text_reads_every_component_and_action() {
    let r = every_component();
    let Nlri::Flow(rule) = &r.nlri else { panic!() };
    assert_eq!(rule.components.len(), 12);
    assert_eq!(
        rule.components[4],
        Component::DestinationPort(vec![
            NumericOp {
                and: false,
                lt: false,
                gt: true,
                eq: true,
                value: 8000
            },
            NumericOp {
                and: true,
                lt: true,
                gt: false,
                eq: true,
                value: 8080
            },
            NumericOp::eq(443),
        ])
    );
    assert_eq!(
        rule.components[8],
        Component::TcpFlags(vec![
            BitmaskOp {
                and: false,
                not: false,
                match_all: true,
                value: 0x12
            },
            BitmaskOp {
                and: true,
                not: true,
                match_all: false,
                value: 0x04
            },
        ])
    );
    assert_eq!(
        rule.to_string(),
        "[destination: 192.0.2.1/32][source: 198.51.100.0/24][protocol: ==udp][port: ==53]\
         [destination-port: >=8000&<=8080 ==443][source-port: >1023][icmp-type: ==3]\
         [icmp-code: ==1][tcp-flags: =SA&!R][packet-length: >=1400&<=1500]\
         [dscp: ==46][fragment: is-fragment]"
    );
    let actions: Vec<String> = r
        .attrs
        .extended_communities
        .iter()
        .map(|x| Action::from_bytes(*x).unwrap().to_string())
        .collect();
    assert_eq!(
        actions,
        [
            "rate: 125000.000000",
            "action: sample",
            "redirect: 65000:100",
            "remark: 10"
        ]
    );
    assert_eq!(r.attrs.communities, vec![64500 << 16 | 1]);
}

#[test]
fn route_text_reads_ipv6_offsets_and_rtbh() {
    let v6 = ipv6_with_offset();
    assert_eq!(v6.nlri.family(), Family::IPV6_FLOWSPEC);
    // The bits before the offset are dropped, as on the wire.
    let Nlri::Flow(rule6) = &v6.nlri else {
        panic!()
    };
    assert_eq!(rule6.to_string(), "[destination: 1:db8::/64/8][label: ==5]");
    let bytes = rule6.to_bytes().unwrap();
    assert_eq!(&FlowSpec::decode(&bytes, Afi::IPV6).unwrap().0, rule6);

    let rtbh = rtbh();
    assert_eq!(rtbh.nlri.family(), Family::IPV4_UNICAST);
    assert_eq!(
        rtbh.attrs.communities,
        vec![community::BLACKHOLE, community::NO_EXPORT]
    );
}

#[test]
fn route_text_round_trips() {
    // Text → route → text → route is stable.
    for r in [every_component(), ipv6_with_offset(), rtbh()] {
        let again: RouteText = r.to_string().parse().unwrap();
        assert_eq!(again, r, "{r}");
    }
}

#[test]
fn route_text_errors_name_the_word() {
    let cases = [
        ("", "a route starts with `flow` or `route`"),
        (
            "flow destination 192.0.2.1/33",
            "word 3 (\"192.0.2.1/33\"): expected a prefix such as 192.0.2.0/24",
        ),
        (
            "flow protocol udp destination-port 70000",
            "word 5 (\"70000\"): expected port terms such as ==53, >=1024 or 8000-8080",
        ),
        (
            "flow destination 192.0.2.1 source 2001:db8::/32",
            "word 5 (\"2001:db8::/32\"): expected prefixes of one address family",
        ),
        (
            "flow protocol udp then explode",
            "word 5 (\"explode\"): expected an action or attribute",
        ),
        (
            "flow then discard",
            "word 2 (\"then\"): expected at least one FlowSpec component",
        ),
        (
            "route 192.0.2.1/24",
            "word 2 (\"192.0.2.1/24\"): expected a prefix without host bits",
        ),
        (
            "flow label ==5",
            "FlowSpec component type 13 is not defined for this address family",
        ),
        (
            "route 192.0.2.1/32 community 65536:1",
            "word 4 (\"65536:1\"): expected a community such as 65535:666, blackhole or no-export",
        ),
    ];
    for (text, want) in cases {
        let e = text.parse::<RouteText>().unwrap_err();
        assert_eq!(e.to_string(), want, "{text:?}");
    }
}

/// Random in-range rules print and parse back to themselves.
#[test]
fn route_text_round_trip() {
    use crate::testgen::{Shape, random_rule};
    let mut rnd = levee_testkit::Rng::new(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3_000 {
        let Some(rule) = random_rule(&mut rnd, Shape::Text) else {
            continue;
        };
        let r = RouteText {
            nlri: Nlri::Flow(rule),
            attrs: Attrs {
                extended_communities: vec![Action::Mark { dscp: 3 }.to_bytes()],
                ..Attrs::default()
            },
        };
        let text = r.to_string();
        let back: RouteText = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(back, r, "{text}");
    }
}
