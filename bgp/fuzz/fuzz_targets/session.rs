//! A hostile peer: after a valid OPEN and KEEPALIVE, arbitrary bytes in arbitrary
//! chunks. The session never panics, and whatever it does ends in sending, closing or
//! waiting, never an inconsistent state.
#![no_main]

use levee_bgp::message::{Capability, Family, Message, Open};
use levee_bgp::session::{Config, Input, Output, Session, State};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
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
    // The first byte of each chunk says how long it is.
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
});
