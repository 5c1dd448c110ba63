//! The state machine driven with explicit time: two sessions talking to each other,
//! negotiation, errors and their NOTIFICATIONs, timers and backoff.

use super::*;
use crate::codes::origin;
use crate::message::{Family, Message, Notification};
use crate::update::Update;
use crate::update::attr::{Attribute, Segment};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

fn cfg(local_as: u32, peer_as: u32, id: u8, active: bool, families: &[Family]) -> Config {
    Config {
        local_as,
        peer_as,
        router_id: Ipv4Addr::new(192, 0, 2, id),
        hold_time: Duration::from_secs(90),
        connect_retry: Duration::from_secs(5),
        families: families.to_vec(),
        graceful_restart: Some(Duration::from_secs(120)),
        active,
    }
}

fn sent(out: &[Output]) -> Vec<u8> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send(b) => Some(b.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// Runs two sessions against each other until neither has anything to say.
fn exchange(a: &mut Session, b: &mut Session, now: Instant) -> (Vec<Output>, Vec<Output>) {
    let (mut all_a, mut all_b) = (Vec::new(), Vec::new());
    let mut out_a = a.handle(now, Input::Connected);
    let mut out_b = b.handle(now, Input::Connected);
    for _ in 0..10 {
        let (to_b, to_a) = (sent(&out_a), sent(&out_b));
        all_a.append(&mut out_a);
        all_b.append(&mut out_b);
        if to_a.is_empty() && to_b.is_empty() {
            break;
        }
        out_a = if to_a.is_empty() {
            vec![]
        } else {
            a.handle(now, Input::Bytes(to_a))
        };
        out_b = if to_b.is_empty() {
            vec![]
        } else {
            b.handle(now, Input::Bytes(to_b))
        };
    }
    (all_a, all_b)
}

#[test]
fn two_sessions_establish_and_negotiate() {
    let now = Instant::now();
    let mut a = Session::new(cfg(
        4_200_000_001,
        65001,
        1,
        true,
        &[
            Family::IPV4_UNICAST,
            Family::IPV4_FLOWSPEC,
            Family::IPV6_FLOWSPEC,
        ],
    ));
    let mut b = Session::new(Config {
        hold_time: Duration::from_secs(30),
        ..cfg(
            65001,
            4_200_000_001,
            2,
            false,
            &[Family::IPV4_FLOWSPEC, Family::IPV4_UNICAST],
        )
    });
    assert_eq!(
        a.handle(now, Input::Start),
        vec![
            Output::Connect,
            Output::SetTimer(Timer::ConnectRetry, Duration::from_secs(5)),
            Output::State(State::Connect)
        ]
    );
    b.handle(now, Input::Start);
    assert_eq!(b.state(), State::Active);
    let (out_a, _) = exchange(&mut a, &mut b, now);
    assert_eq!(
        (a.state(), b.state()),
        (State::Established, State::Established)
    );
    let n = a.negotiated().unwrap();
    assert_eq!(n.peer_as, 65001);
    assert_eq!(n.hold_time, Duration::from_secs(30));
    assert_eq!(
        n.families,
        vec![Family::IPV4_FLOWSPEC, Family::IPV4_UNICAST]
    );
    assert!(n.four_octet && n.route_refresh && n.enhanced_route_refresh);
    assert!(out_a.contains(&Output::SetTimer(Timer::Keepalive, Duration::from_secs(10))));
    assert!(out_a.iter().any(|o| matches!(o, Output::Established(_))));

    // An UPDATE from b reaches a's output.
    let upd = Update {
        attributes: vec![
            Attribute::Origin(origin::IGP),
            Attribute::AsPath(vec![Segment::Sequence(vec![65001])]),
            Attribute::NextHop(Ipv4Addr::new(192, 0, 2, 2)),
        ],
        nlri: vec![(Ipv4Addr::new(198, 51, 100, 0), 24)],
        ..Update::default()
    };
    let out = a.handle(now, Input::Bytes(Message::Update(upd.encode()).to_bytes()));
    assert!(out.contains(&Output::Update(upd)), "{out:?}");
    // ROUTE-REFRESH asks the owner to resend.
    let rr = Message::RouteRefresh(crate::message::RouteRefresh {
        family: Family::IPV4_FLOWSPEC,
        subtype: 0,
    });
    assert!(
        a.handle(now, Input::Bytes(rr.to_bytes()))
            .contains(&Output::RouteRefresh(Family::IPV4_FLOWSPEC))
    );
    // Keepalive timer: a KEEPALIVE, re-armed.
    let out = a.handle(now, Input::Timer(Timer::Keepalive));
    assert_eq!(sent(&out), Message::Keepalive.to_bytes());
}

#[test]
fn wrong_asn_ends_in_a_notification_on_both_sides() {
    let now = Instant::now();
    let mut a = Session::new(cfg(65000, 65001, 1, true, &[Family::IPV4_FLOWSPEC]));
    // b expects AS 64999, not a's 65000.
    let mut b = Session::new(cfg(65001, 64999, 2, false, &[Family::IPV4_FLOWSPEC]));
    a.handle(now, Input::Start);
    b.handle(now, Input::Start);
    let (out_a, out_b) = exchange(&mut a, &mut b, now);
    let down_b = out_b.iter().find_map(|o| match o {
        Output::Down(w) => Some(w.reason.clone()),
        _ => None,
    });
    assert_eq!(
        down_b.as_deref(),
        Some(
            "sent NOTIFICATION: OPEN message error (2/2): bad peer AS: peer AS is not the configured one"
        )
    );
    let down_a = out_a.iter().find_map(|o| match o {
        Output::Down(w) => Some(w.reason.clone()),
        _ => None,
    });
    assert_eq!(
        down_a.as_deref(),
        Some("received NOTIFICATION: OPEN message error (2/2): bad peer AS")
    );
    assert_eq!(a.state(), State::Connect);
    assert_eq!(b.state(), State::Active);
    assert!(a.last_error().unwrap().contains("bad peer AS"));
}

#[test]
fn no_common_family_is_an_unsupported_capability() {
    let now = Instant::now();
    let mut a = Session::new(cfg(65000, 65001, 1, true, &[Family::IPV6_FLOWSPEC]));
    let mut b = Session::new(cfg(65001, 65000, 2, false, &[Family::IPV4_FLOWSPEC]));
    a.handle(now, Input::Start);
    b.handle(now, Input::Start);
    let (_, out_b) = exchange(&mut a, &mut b, now);
    assert!(sent(&out_b).ends_with(&[3, 2, 7]), "NOTIFICATION 2/7");
}

#[test]
fn hold_timer_garbage_stop_and_backoff() {
    let now = Instant::now();
    let mk = || {
        let mut a = Session::new(cfg(65000, 65001, 1, true, &[Family::IPV4_FLOWSPEC]));
        let mut b = Session::new(cfg(65001, 65000, 2, false, &[Family::IPV4_FLOWSPEC]));
        a.handle(now, Input::Start);
        b.handle(now, Input::Start);
        exchange(&mut a, &mut b, now);
        assert_eq!(a.state(), State::Established);
        a
    };
    // Hold timer: NOTIFICATION 4/0, close, retry after backoff.
    let mut a = mk();
    let out = a.handle(now, Input::Timer(Timer::Hold));
    assert_eq!(sent(&out)[16..], [0, 21, 3, 4, 0]);
    assert!(out.contains(&Output::Close));
    assert!(out.contains(&Output::SetTimer(
        Timer::ConnectRetry,
        Duration::from_secs(10)
    )));
    // Retry: connect again; a second failure doubles the wait.
    let out = a.handle(now, Input::Timer(Timer::ConnectRetry));
    assert!(out.contains(&Output::Connect));
    let out = a.handle(now, Input::Disconnected);
    assert!(out.contains(&Output::SetTimer(
        Timer::ConnectRetry,
        Duration::from_secs(20)
    )));

    // A bad marker: NOTIFICATION 1/1.
    let mut a = mk();
    let out = a.handle(now, Input::Bytes(vec![0; 19]));
    assert_eq!(sent(&out)[18..], [3, 1, 1]);
    // An OPEN in Established: FSM error 5/3.
    let mut a = mk();
    let open = crate::message::Open::new(65001, 90, Ipv4Addr::new(192, 0, 2, 2), vec![]);
    let out = a.handle(now, Input::Bytes(Message::Open(open).to_bytes()));
    assert_eq!(sent(&out)[18..], [3, 5, 3]);

    // Stop with a shutdown communication.
    let mut a = mk();
    let out = a.handle(
        now,
        Input::Stop(Some(Notification::shutdown("maintenance"))),
    );
    let Message::Notification(n) = Message::decode(&sent(&out)).unwrap() else {
        panic!()
    };
    assert_eq!(n.shutdown_message().as_deref(), Some("maintenance"));
    assert_eq!(a.state(), State::Idle);
}

#[test]
fn messages_split_across_reads_are_reassembled() {
    let now = Instant::now();
    let mut a = Session::new(cfg(65000, 65001, 1, true, &[Family::IPV4_FLOWSPEC]));
    let b_open = Message::Open(crate::message::Open::new(
        65001,
        90,
        Ipv4Addr::new(192, 0, 2, 2),
        vec![crate::message::Capability::Multiprotocol(
            Family::IPV4_FLOWSPEC,
        )],
    ))
    .to_bytes();
    a.handle(now, Input::Start);
    a.handle(now, Input::Connected);
    let mut stream = b_open;
    stream.extend(Message::Keepalive.to_bytes());
    for byte in stream {
        a.handle(now, Input::Bytes(vec![byte]));
    }
    assert_eq!(a.state(), State::Established);
}
