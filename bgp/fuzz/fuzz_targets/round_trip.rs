//! Encode → decode round trip from the route text: whatever text parses prints back to
//! the same route, its NLRI decodes to the same rule, and an UPDATE packed from it
//! carries it intact.
#![no_main]

use levee_bgp::flowspec::FlowSpec;
use levee_bgp::message::Message;
use levee_bgp::rib::{Encoder, Nlri, RouteText};
use levee_bgp::update::Update;
use levee_bgp::update::attr::Attribute;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
    assert_eq!(FlowSpec::decode_all(nlri, family.afi).unwrap(), vec![rule.clone()]);
});
