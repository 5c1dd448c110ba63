//! The bodies of the cargo-fuzz targets (`bgp/fuzz/fuzz_targets/*`), one function per
//! target, so that the same code runs under libFuzzer and as a normal test over the
//! checked-in regression corpora (`bgp/fuzz/regressions/TARGET/`, walked by
//! `bgp/tests/fuzz_regressions.rs`): an input that once crashed the codec or the session
//! keeps failing `cargo test` if the bug returns.
//!
//! Each function feeds arbitrary bytes in and panics only when the code breaks a
//! promise: a panic inside it, or an encode → decode round trip that does not come back
//! to where it started. Not part of the speaker's API.

use crate::codes::Afi;
use crate::flowspec::FlowSpec;
use crate::message::{self, Capability, Family, Message, Open};
use crate::rib::{Encoder, Nlri, RouteText};
use crate::session::{Config, Input, Output, Session, State};
use crate::update::Update;
use crate::update::attr::Attribute;
use std::time::{Duration, Instant};

/// A target's body: arbitrary bytes in, a panic only on a broken promise.
pub type Body = fn(&[u8]);

/// The names of the targets, as in `bgp/fuzz/Cargo.toml`, with their bodies.
pub const TARGETS: [(&str, Body); 5] = [
    ("flowspec_nlri", flowspec_nlri),
    ("message", message),
    ("update", update),
    ("round_trip", round_trip),
    ("session", session),
];

/// FlowSpec NLRI (RFC 8955/8956; the first byte picks IPv4 or IPv6): decoding never
/// panics, and whatever decodes re-encodes to NLRI that decodes to the same rule.
pub fn flowspec_nlri(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let afi = if first & 1 == 0 { Afi::IPV4 } else { Afi::IPV6 };
    if let Ok(rules) = FlowSpec::decode_all(rest, afi) {
        for r in rules {
            let bytes = r.to_bytes().expect("a decoded rule re-encodes");
            let (back, used) = FlowSpec::decode(&bytes, afi).expect("re-encoded rule decodes");
            assert_eq!(used, bytes.len());
            assert_eq!(back, r);
            let _ = r.to_string();
        }
    }
}

/// Message framing and decoding (RFC 4271 §4): a message that decodes re-encodes to
/// bytes that decode to the same message.
pub fn message(data: &[u8]) {
    let mut buf = data;
    while let Ok(Some(len)) = message::frame(buf) {
        if let Ok(m) = Message::decode(&buf[..len]) {
            let bytes = m.to_bytes();
            let again = Message::decode(&bytes).expect("a re-encoded message decodes");
            assert_eq!(again, m);
        }
        buf = &buf[len..];
    }
    let _ = Message::decode(data);
}

/// UPDATE bodies and their path attributes (RFC 7606 handling; the first byte's low bit
/// says four-octet AS): once decoded, encoding and decoding are stable.
pub fn update(data: &[u8]) {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let four_octet = first & 1 == 1;
    let Ok(d) = Update::decode(body, four_octet) else {
        return;
    };
    if !four_octet {
        // Our encoder writes four-octet AS paths; the stable cycle is checked below.
        return;
    }
    let once = d.update.encode();
    let d2 = Update::decode(&once, true).expect("an encoded UPDATE decodes");
    let twice = d2.update.encode();
    assert_eq!(once, twice, "encode/decode is not stable");
}

/// Route text → route → text, NLRI and UPDATE: whatever text parses prints back to the
/// same route, its NLRI decodes to the same rule, and an UPDATE packed from it carries
/// it intact.
pub fn round_trip(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(r) = text.parse::<RouteText>() else {
        return;
    };
    let printed = r.to_string();
    let back: RouteText = printed.parse().expect("printed route parses");
    assert_eq!(back, r, "{printed}");
    let Nlri::Flow(rule) = &r.nlri else {
        return;
    };
    let bytes = rule.to_bytes().expect("a parsed rule encodes");
    assert_eq!(&FlowSpec::decode(&bytes, rule.afi).unwrap().0, rule);
    let enc = Encoder {
        local_as: 64500,
        ebgp: true,
        four_octet: true,
        next_hop_v4: "192.0.2.1".parse().unwrap(),
        next_hop_v6: "2001:db8::1".parse().unwrap(),
    };
    let family = r.nlri.family();
    let (msgs, bad) = enc.announce(family, &r.attrs, std::slice::from_ref(&r.nlri));
    if !bad.is_empty() {
        return;
    }
    let Message::Update(body) = Message::decode(&msgs[0]).unwrap() else {
        panic!("not an UPDATE")
    };
    let d = Update::decode(&body, true).unwrap();
    assert!(!d.treat_as_withdraw);
    let Some(Attribute::MpReach { nlri, .. }) = d.update.attributes.first() else {
        panic!("MP_REACH first")
    };
    assert_eq!(
        FlowSpec::decode_all(nlri, family.afi).unwrap(),
        vec![rule.clone()]
    );
}

/// A hostile peer: after a valid OPEN and KEEPALIVE, arbitrary bytes in chunks (the
/// first byte of each says how long it is). The session never panics, and a close
/// always leaves Established.
pub fn session(data: &[u8]) {
    let mut s = Session::new(Config {
        local_as: 64500,
        peer_as: 64501,
        router_id: "192.0.2.1".parse().unwrap(),
        hold_time: Duration::from_secs(90),
        connect_retry: Duration::from_secs(5),
        families: vec![Family::IPV4_FLOWSPEC, Family::IPV4_UNICAST],
        graceful_restart: None,
        active: false,
    });
    let now = Instant::now();
    s.handle(now, Input::Start);
    s.handle(now, Input::Connected);
    let open = Message::Open(Open::new(
        64501,
        90,
        "192.0.2.2".parse().unwrap(),
        vec![
            Capability::Multiprotocol(Family::IPV4_FLOWSPEC),
            Capability::FourOctetAs(64501),
        ],
    ));
    s.handle(now, Input::Bytes(open.to_bytes()));
    s.handle(now, Input::Bytes(Message::Keepalive.to_bytes()));
    assert_eq!(s.state(), State::Established);
    let mut rest = data;
    while let Some((&n, tail)) = rest.split_first() {
        let n = usize::from(n).min(tail.len());
        let out = s.handle(now, Input::Bytes(tail[..n].to_vec()));
        if out.iter().any(|o| matches!(o, Output::Close)) {
            assert_ne!(s.state(), State::Established);
            return;
        }
        rest = &tail[n..];
    }
}
