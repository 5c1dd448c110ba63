//! UPDATE byte vectors both ways, and the RFC 7606 handling of malformed ones.

use super::attr::{Attribute, Segment, community};
use super::*;
use crate::codes::origin;

fn base() -> Vec<Attribute> {
    vec![
        Attribute::Origin(origin::IGP),
        Attribute::AsPath(vec![Segment::Sequence(vec![4_200_000_001])]),
    ]
}

/// An RTBH route as levee announces it: 198.51.100.7/32, next hop 192.0.2.66,
/// BLACKHOLE and NO_EXPORT, a large community.
#[test]
fn rtbh_update_both_ways() {
    let mut attrs = base();
    attrs.push(Attribute::NextHop(Ipv4Addr::new(192, 0, 2, 66)));
    attrs.push(Attribute::Communities(vec![
        community::BLACKHOLE,
        community::NO_EXPORT,
    ]));
    attrs.push(Attribute::LargeCommunities(vec![[4_200_000_001, 666, 1]]));
    let u = Update {
        withdrawn: vec![],
        attributes: attrs,
        nlri: vec![(Ipv4Addr::new(198, 51, 100, 7), 32)],
    };
    let body = u.encode();
    let hex: String = body.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "0000\
         002e\
         40010100\
         4002060201fa56ea01\
         400304c0000242\
         c00808ffff029affffff01\
         c0200cfa56ea010000029a00000001\
         20c6336407"
    );
    let d = Update::decode(&body, true).unwrap();
    assert_eq!(
        (d.update, d.treat_as_withdraw, d.discarded),
        (u, false, vec![])
    );
}

#[test]
fn flowspec_and_end_of_rib() {
    let mut attrs = base();
    attrs.push(Attribute::ExtCommunities(vec![[
        0x80, 0x06, 0, 0, 0, 0, 0, 0,
    ]]));
    attrs.push(Attribute::MpReach {
        family: Family::IPV4_FLOWSPEC,
        next_hop: vec![],
        nlri: vec![0x05, 0x01, 0x18, 0xc0, 0x00, 0x02],
    });
    let u = Update {
        attributes: attrs,
        ..Update::default()
    };
    let d = Update::decode(&u.encode(), true).unwrap();
    assert_eq!((d.update, d.treat_as_withdraw), (u, false));
    let eor = Update::end_of_rib(Family::IPV6_FLOWSPEC).encode();
    assert_eq!(eor, [0, 0, 0, 6, 0x80, 15, 3, 0, 2, 133]);
    assert_eq!(
        Update::end_of_rib(Family::IPV4_UNICAST).encode(),
        [0, 0, 0, 0]
    );
    // Two-octet AS sessions read AS_PATH in two-octet form.
    let two = Update {
        attributes: vec![
            Attribute::Origin(origin::IGP),
            Attribute::AsPath(vec![Segment::Sequence(vec![65001])]),
        ],
        ..Update::default()
    };
    let mut body = two.encode();
    // Rewrite the path to two-octet form: type, count, AS.
    body.truncate(body.len() - 9);
    body.extend_from_slice(&[0x40, 2, 4, 2, 1, 0xfd, 0xe9]);
    body[3] = (body.len() - 4) as u8;
    assert_eq!(Update::decode(&body, false).unwrap().update, two);
}

/// RFC 7606: which errors discard, which withdraw, which reset.
#[test]
fn rfc7606_handling() {
    let route = |attrs: Vec<u8>| {
        let mut b = vec![0, 0];
        b.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        b.extend_from_slice(&attrs);
        b.extend_from_slice(&[24, 198, 51, 100]);
        b
    };
    let good = [0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4, 192, 0, 2, 1];
    let d = Update::decode(&route(good.to_vec()), true).unwrap();
    assert!(!d.treat_as_withdraw);
    // ORIGIN 7: treat-as-withdraw.
    let mut bad = good.to_vec();
    bad[3] = 7;
    assert!(Update::decode(&route(bad), true).unwrap().treat_as_withdraw);
    // LOCAL_PREF of 3 octets: discarded, route kept.
    let mut lp = good.to_vec();
    lp.extend_from_slice(&[0x40, 5, 3, 0, 0, 100]);
    let d = Update::decode(&route(lp), true).unwrap();
    assert_eq!(
        (d.treat_as_withdraw, d.discarded),
        (false, vec![code::LOCAL_PREF])
    );
    // A repeated ORIGIN: the second is dropped.
    let mut dup = good.to_vec();
    dup.extend_from_slice(&[0x40, 1, 1, 2]);
    assert_eq!(
        Update::decode(&route(dup), true).unwrap().discarded,
        vec![code::ORIGIN]
    );
    // Missing NEXT_HOP with IPv4 NLRI: treat-as-withdraw.
    assert!(
        Update::decode(&route(good[..7].to_vec()), true)
            .unwrap()
            .treat_as_withdraw
    );
    // An attribute overrunning the list: treat-as-withdraw.
    let mut over = good.to_vec();
    over.extend_from_slice(&[0xc0, 8, 40, 0, 0]);
    assert!(
        Update::decode(&route(over), true)
            .unwrap()
            .treat_as_withdraw
    );
    // A malformed MP_REACH: session reset with an UPDATE error.
    let mut mp = good.to_vec();
    mp.extend_from_slice(&[0x80, 14, 2, 0, 1]);
    let e = Update::decode(&route(mp), true).unwrap_err();
    assert_eq!(e.code, UPDATE_MESSAGE);
    // Withdrawn routes overrunning the message: malformed attribute list.
    assert_eq!(
        Update::decode(&[0, 9, 24, 1], true).unwrap_err().subcode,
        MALFORMED_ATTRIBUTE_LIST
    );
    // A bad NLRI prefix length: invalid network field.
    let mut nl = route(good.to_vec());
    *nl.last_mut().unwrap() = 100;
    nl.push(33);
    assert_eq!(
        Update::decode(&nl, true).unwrap_err().subcode,
        INVALID_NETWORK_FIELD
    );
}

#[test]
fn noise_never_panics() {
    let mut rnd = levee_testkit::Rng::new(0x1234_5678_9abc_def1u64);
    let mut attrs = base();
    attrs.push(Attribute::NextHop(Ipv4Addr::new(192, 0, 2, 1)));
    attrs.push(Attribute::Communities(vec![community::BLACKHOLE]));
    let body = Update {
        withdrawn: vec![(Ipv4Addr::new(203, 0, 113, 0), 24)],
        attributes: attrs,
        nlri: vec![(Ipv4Addr::new(198, 51, 100, 0), 24)],
    }
    .encode();
    for _ in 0..50_000 {
        let mut m = body.clone();
        for _ in 0..1 + rnd.next_u64() % 3 {
            let i = rnd.next_u64() as usize % m.len();
            m[i] = rnd.next_u64() as u8;
        }
        let cut = rnd.next_u64() as usize % (m.len() + 1);
        let _ = Update::decode(&m[..cut], rnd.next_u64().is_multiple_of(2));
        let _ = Update::decode(&m, true);
    }
}

/// RFC 7606 §3 c: a recognised attribute with the wrong Optional/Transitive bits, and an
/// attribute that claims to be well-known without being recognised, make the UPDATE
/// treat-as-withdraw instead of being accepted; AS4_PATH is discarded (RFC 6793 §6).
#[test]
fn rfc7606_attribute_flag_errors() {
    let route = |attrs: &[u8]| {
        let mut b = vec![0, 0];
        b.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        b.extend_from_slice(attrs);
        b.extend_from_slice(&[24, 198, 51, 100]);
        b
    };
    let good = [0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4, 192, 0, 2, 1];
    let with = |extra: &[u8]| {
        let mut a = good.to_vec();
        a.extend_from_slice(extra);
        Update::decode(&route(&a), true).unwrap()
    };
    // The control: the same attributes with the right flags are accepted.
    let d = with(&[0xc0, 8, 4, 0xff, 0xff, 0x02, 0x9a, 0x80, 4, 4, 0, 0, 0, 1]);
    assert!(!d.treat_as_withdraw && d.flag_errors.is_empty(), "{d:?}");
    // ORIGIN marked optional: treat-as-withdraw.
    let mut a = good.to_vec();
    a[0] = 0xc0;
    let d = Update::decode(&route(&a), true).unwrap();
    assert_eq!(
        (d.treat_as_withdraw, d.flag_errors),
        (true, vec![code::ORIGIN])
    );
    // COMMUNITIES (optional transitive) sent as well-known: treat-as-withdraw.
    let d = with(&[0x40, 8, 4, 0xff, 0xff, 0x02, 0x9a]);
    assert_eq!(
        (d.treat_as_withdraw, d.flag_errors),
        (true, vec![code::COMMUNITIES])
    );
    assert!(
        !d.update
            .attributes
            .iter()
            .any(|a| matches!(a, Attribute::Communities(_)))
    );
    // MED (optional non-transitive) marked transitive: treat-as-withdraw.
    assert!(with(&[0xc0, 4, 4, 0, 0, 0, 1]).treat_as_withdraw);
    // ATOMIC_AGGREGATE is well-known: with the right flags it is fine, optional is not.
    assert!(!with(&[0x40, code::ATOMIC_AGGREGATE, 0]).treat_as_withdraw);
    assert!(with(&[0x80, code::ATOMIC_AGGREGATE, 0]).treat_as_withdraw);
    // An unrecognised type code with the Optional bit clear: treat-as-withdraw; the
    // same code with the Optional bit set is an ordinary unknown optional attribute.
    let d = with(&[0x40, 99, 2, 1, 2]);
    assert_eq!((d.treat_as_withdraw, d.flag_errors), (true, vec![99]));
    let d = with(&[0xc0, 99, 2, 1, 2]);
    assert!(!d.treat_as_withdraw);
    assert!(
        d.update
            .attributes
            .contains(&Attribute::Unknown(0xc0, 99, vec![1, 2]))
    );
    // AS4_PATH with wrong flags: discarded, the route kept (RFC 6793 §6).
    let d = with(&[0x40, code::AS4_PATH, 6, 2, 1, 0, 0, 0xfd, 0xe9]);
    assert_eq!(
        (d.treat_as_withdraw, d.discarded, d.flag_errors),
        (false, vec![code::AS4_PATH], vec![code::AS4_PATH])
    );
    // MP_REACH_NLRI marked transitive: still read, so its routes are withdrawn.
    let mut mp = good[..7].to_vec();
    mp.extend_from_slice(&[0xc0, 14, 11, 0, 1, 133, 0, 0, 5, 1, 0x18, 0xc0, 0x00, 0x02]);
    let mut b = vec![0, 0];
    b.extend_from_slice(&(mp.len() as u16).to_be_bytes());
    b.extend_from_slice(&mp);
    let d = Update::decode(&b, true).unwrap();
    assert!(d.treat_as_withdraw);
    assert_eq!(d.flag_errors, vec![code::MP_REACH_NLRI]);
    assert!(
        d.update
            .attributes
            .iter()
            .any(|a| matches!(a, Attribute::MpReach { nlri, .. } if nlri.len() == 6))
    );
}
