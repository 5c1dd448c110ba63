//! The tokio speaker against itself and against a hostile peer, on loopback.

use levee_bgp::codes::error::{self, cease, header, open, update};
use levee_bgp::message::{Family, Message, Notification};
use levee_bgp::rib::RouteText;
use levee_bgp::session::State;
use levee_bgp::speaker::{Groups, PeerConfig, PeerStatus, ShutdownPolicy, Speaker, SpeakerConfig};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn peer(name: &str, local_as: u32, remote_as: u32, port: u16, passive: bool) -> PeerConfig {
    PeerConfig {
        name: name.into(),
        address: LOCAL,
        port,
        local_address: None,
        local_as,
        remote_as,
        router_id: Ipv4Addr::new(192, 0, 2, if passive { 2 } else { 1 }),
        hold_time: Duration::from_secs(9),
        connect_retry: Duration::from_millis(200),
        families: vec![
            Family::IPV4_UNICAST,
            Family::IPV6_UNICAST,
            Family::IPV4_FLOWSPEC,
            Family::IPV6_FLOWSPEC,
        ],
        passive,
        md5_password: None,
        ttl_security: None,
        graceful_restart: None,
        max_prefixes: 1000,
        next_hop_v4: None,
        next_hop_v6: None,
        export: Groups::ALL,
    }
}

/// A passive speaker listening on an ephemeral loopback port, and an active one that
/// connects to it.
async fn pair(
    edit_a: impl FnOnce(&mut PeerConfig),
    edit_b: impl FnOnce(&mut PeerConfig),
) -> (Speaker, Speaker) {
    pair_on(LOCAL, edit_a, edit_b).await
}

async fn pair_on(
    addr: IpAddr,
    edit_a: impl FnOnce(&mut PeerConfig),
    edit_b: impl FnOnce(&mut PeerConfig),
) -> (Speaker, Speaker) {
    let mut b_peer = peer("a", 64501, 64500, 0, true);
    b_peer.address = addr;
    edit_b(&mut b_peer);
    let b = Speaker::start(SpeakerConfig {
        listen: Some(SocketAddr::new(addr, 0)),
        peers: vec![b_peer],
    })
    .await
    .unwrap();
    let port = b.listen_addr().unwrap().port();
    let mut a_peer = peer("b", 64500, 64501, port, false);
    a_peer.address = addr;
    edit_a(&mut a_peer);
    let a = Speaker::start(SpeakerConfig {
        listen: None,
        peers: vec![a_peer],
    })
    .await
    .unwrap();
    (a, b)
}

async fn until(s: &Speaker, what: &str, f: impl Fn(&PeerStatus) -> bool) -> PeerStatus {
    for _ in 0..500 {
        let st = s.status().remove(0);
        if f(&st) {
            return st;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}: {:?}", s.status());
}

fn route(text: &str) -> RouteText {
    text.parse().unwrap()
}

async fn announce(s: &Speaker, text: &str) {
    let r = route(text);
    s.announce(r.nlri, r.attrs).await;
}

#[tokio::test]
async fn routes_follow_the_session_through_flaps_and_shutdown() {
    let (a, b) = pair(|_| {}, |_| {}).await;
    // Announced before the session is up: sent when it establishes.
    announce(
        &a,
        "flow destination 192.0.2.1/32 protocol udp source-port ==53 then discard",
    )
    .await;
    announce(
        &a,
        "flow destination 2001:db8::1/128 then rate-limit 125000",
    )
    .await;
    announce(&a, "route 192.0.2.1/32 next-hop 192.0.2.66 blackhole").await;
    announce(&a, "route 2001:db8::1/128 blackhole").await;
    let st = until(&b, "4 routes", |s| s.routes_received == 4).await;
    assert_eq!(st.state, State::Established);
    assert_eq!(st.families.len(), 4);
    let sa = until(&a, "4 sent", |s| s.routes_sent == 4).await;
    assert!(sa.uptime().is_some());
    assert!(sa.messages_out >= 3 && sa.updates_out >= 4, "{sa:?}");

    // Withdraw one; announce a new one.
    a.withdraw(route("route 192.0.2.1/32").nlri).await;
    announce(
        &a,
        "flow destination 192.0.2.2/32 protocol tcp tcp-flags =syn then discard",
    )
    .await;
    until(&b, "withdraw + announce", |s| {
        s.routes_received == 4 && s.updates_in >= 6
    })
    .await;

    // Flap from our side: the peer sees a reset, and the table comes back.
    assert!(a.reset("b", "flap test").await);
    let st = until(&b, "re-established", |s| {
        s.established_count == 2 && s.routes_received == 4
    })
    .await;
    assert_eq!(
        st.last_notification_received
            .as_ref()
            .unwrap()
            .shutdown_message(),
        Some("flap test".into())
    );

    // Graceful shutdown with withdrawals: the peer holds nothing and gets the message.
    let b_status = b.status();
    assert_eq!(b_status[0].state, State::Established);
    a.shutdown(
        ShutdownPolicy::Withdraw("maintenance".into()),
        Duration::from_secs(5),
    )
    .await;
    let st = until(&b, "down after shutdown", |s| s.state != State::Established).await;
    assert_eq!(st.routes_received, 0);
    let n = st.last_notification_received.unwrap();
    assert_eq!((n.code, n.subcode), (error::CEASE, cease::ADMIN_SHUTDOWN));
    assert_eq!(n.shutdown_message(), Some("maintenance".into()));
}

#[tokio::test]
async fn ibgp_over_ipv6_transport() {
    let v6 = IpAddr::V6(std::net::Ipv6Addr::LOCALHOST);
    let ibgp = |p: &mut PeerConfig| {
        p.local_as = 64500;
        p.remote_as = 64500;
        p.md5_password = Some("v6-key".into());
    };
    let (a, b) = pair_on(v6, ibgp, ibgp).await;
    announce(
        &a,
        "flow destination 2001:db8::1/128 protocol ==udp then discard",
    )
    .await;
    // No next hop given: the IPv6 session address (::1) is used.
    announce(&a, "route 2001:db8::9/128 blackhole").await;
    announce(&a, "route 192.0.2.9/32 next-hop 192.0.2.66 blackhole").await;
    let st = until(&b, "3 routes over IPv6", |s| s.routes_received == 3).await;
    assert_eq!(st.address, v6);
    assert_eq!(a.status()[0].routes_sent, 3);
}

#[tokio::test]
async fn wrong_asn_ends_in_a_notification() {
    let (a, _b) = pair(|_| {}, |b| b.remote_as = 65000).await;
    let st = until(&a, "OPEN rejected", |s| {
        s.last_notification_received.is_some()
    })
    .await;
    let n = st.last_notification_received.unwrap();
    // OPEN Message Error, Bad Peer AS.
    assert_eq!(
        (n.code, n.subcode),
        (error::OPEN_MESSAGE, open::BAD_PEER_AS)
    );
    assert!(
        st.last_error.unwrap().contains("bad peer AS"),
        "{:?}",
        a.status()
    );
}

#[tokio::test]
async fn md5_and_gtsm_on_loopback() {
    let key = |p: &mut PeerConfig| {
        p.md5_password = Some("s3cret".into());
        p.ttl_security = Some(1);
    };
    let (a, b) = pair(key, key).await;
    announce(&a, "route 192.0.2.9/32 blackhole").await;
    until(&b, "MD5+GTSM session", |s| s.routes_received == 1).await;
    drop((a, b));

    // A wrong key: the kernel drops the segments; the session never comes up.
    let (a, _b) = pair(
        |p| p.md5_password = Some("wrong".into()),
        |p| p.md5_password = Some("right".into()),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let st = a.status().remove(0);
    assert_ne!(st.state, State::Established);
    assert_eq!(st.established_count, 0);
}

#[tokio::test]
async fn max_prefixes_resets_the_session() {
    let (a, b) = pair(|_| {}, |p| p.max_prefixes = 2).await;
    for i in 1..=3 {
        announce(&a, &format!("route 192.0.2.{i}/32 blackhole")).await;
    }
    let st = until(&a, "Cease 1", |s| s.last_notification_received.is_some()).await;
    let n = st.last_notification_received.unwrap();
    assert_eq!((n.code, n.subcode), (error::CEASE, cease::MAX_PREFIXES));
    let sb = b.status().remove(0);
    let sent = sb.last_notification_sent.unwrap();
    assert_eq!(
        (sent.code, sent.subcode),
        (error::CEASE, cease::MAX_PREFIXES)
    );
    // RFC 4486 §4: the data names the family that went over, and the bound.
    assert_eq!(n.max_prefixes_data(), Some((Family::IPV4_UNICAST, 2)));
}

/// The Cease names the family of the route that crossed the limit: IPv6 FlowSpec here.
#[tokio::test]
async fn max_prefixes_cease_names_the_family() {
    let (a, _b) = pair(|_| {}, |p| p.max_prefixes = 2).await;
    for i in 1..=3 {
        announce(
            &a,
            &format!("flow destination 2001:db8::{i}/128 protocol ==udp then discard"),
        )
        .await;
    }
    let st = until(&a, "Cease 1", |s| s.last_notification_received.is_some()).await;
    let n = st.last_notification_received.unwrap();
    assert_eq!(n.max_prefixes_data(), Some((Family::IPV6_FLOWSPEC, 2)));
    assert_eq!(n.data, [0, 2, 133, 0, 0, 0, 2]);
}

/// Reads until a NOTIFICATION arrives (skipping OPEN/KEEPALIVE) or the peer closes.
async fn notification(s: &mut TcpStream) -> Option<Notification> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Ok(Some(len)) = levee_bgp::message::frame(&buf) {
            let m: Vec<u8> = buf.drain(..len).collect();
            if let Ok(Message::Notification(n)) = Message::decode(&m) {
                return Some(n);
            }
        }
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn open_bytes(asn: u16) -> Vec<u8> {
    Message::Open(levee_bgp::message::Open::new(
        u32::from(asn),
        90,
        Ipv4Addr::new(192, 0, 2, 77),
        vec![
            levee_bgp::message::Capability::Multiprotocol(Family::IPV4_FLOWSPEC),
            levee_bgp::message::Capability::FourOctetAs(u32::from(asn)),
        ],
    ))
    .to_bytes()
}

#[tokio::test]
async fn hostile_peer_gets_a_notification_and_the_speaker_lives_on() {
    let b = Speaker::start(SpeakerConfig {
        listen: Some(SocketAddr::new(LOCAL, 0)),
        peers: vec![peer("hostile", 64501, 64500, 0, true)],
    })
    .await
    .unwrap();
    let addr = b.listen_addr().unwrap();
    let keepalive = Message::Keepalive.to_bytes();
    let mut bad_marker = keepalive.clone();
    bad_marker[3] = 0;
    let mut oversized = keepalive.clone();
    oversized[16..18].copy_from_slice(&5000u16.to_be_bytes());
    // OPEN with an unknown capability (code 200), otherwise fine: accepted.
    let mut unknown_cap = open_bytes(64500);
    // Append an optional parameter: capability 200 of length 1.
    unknown_cap.extend_from_slice(&[2, 3, 200, 1, 0]);
    unknown_cap[28] += 5; // optional parameters length
    let len = unknown_cap.len() as u16;
    unknown_cap[16..18].copy_from_slice(&len.to_be_bytes());
    // An UPDATE whose attribute length runs past the message.
    let lying_update = {
        let body = vec![0, 0, 0, 50, 0x40, 1, 1, 0];
        Message::Update(body).to_bytes()
    };
    type Case = (&'static str, Vec<Vec<u8>>, Option<(u8, u8)>);
    let cases: Vec<Case> = vec![
        (
            "bad marker",
            vec![bad_marker],
            Some((error::MESSAGE_HEADER, header::CONNECTION_NOT_SYNCHRONIZED)),
        ),
        (
            "oversized",
            vec![oversized],
            Some((error::MESSAGE_HEADER, header::BAD_MESSAGE_LENGTH)),
        ),
        (
            "wrong AS",
            vec![open_bytes(64999)],
            Some((error::OPEN_MESSAGE, open::BAD_PEER_AS)),
        ),
        (
            "attribute length lie",
            vec![unknown_cap.clone(), keepalive.clone(), lying_update],
            Some((error::UPDATE_MESSAGE, update::MALFORMED_ATTRIBUTE_LIST)),
        ),
    ];
    for (what, msgs, want) in cases {
        let mut s = TcpStream::connect(addr).await.unwrap();
        for m in &msgs {
            s.write_all(m).await.unwrap();
        }
        let n = notification(&mut s).await;
        assert_eq!(n.map(|n| (n.code, n.subcode)), want, "{what}");
    }
    // An unknown capability alone is ignored: the session establishes.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&unknown_cap).await.unwrap();
    s.write_all(&keepalive).await.unwrap();
    let st = until(&b, "established with unknown capability", |s| {
        s.state == State::Established
    })
    .await;
    assert_eq!(st.families, vec![Family::IPV4_FLOWSPEC]);
    drop(s);
    until(&b, "back to waiting", |s| s.state == State::Active).await;
}

#[tokio::test]
async fn export_groups_choose_the_peers_a_route_goes_to() {
    use levee_bgp::speaker::Groups;
    use std::sync::Arc;
    // a's session to b takes group 3 only (levee: the L4 diversion, for a scrubbing
    // provider).
    let (a, b) = pair(|p| p.export = Groups(0b1000), |_| {}).await;
    let grouped = |text: &str, g: u32| {
        let r = route(text);
        ((r.nlri, Some(Arc::new(r.attrs))), Groups(g))
    };
    a.apply_grouped(vec![
        grouped("route 192.0.2.7/32 blackhole", 0b0100),
        grouped("route 192.0.2.0/24 community 64500:999", 0b1000),
    ])
    .await;
    until(&b, "the diversion only", |s| s.routes_received == 1).await;
    until(&a, "one route sent", |s| s.routes_sent == 1).await;
    assert_eq!(a.routes().len(), 2, "the Loc-RIB holds both");

    // A route that joins the peer's group is sent; one that leaves it is withdrawn
    // (two UPDATEs: the withdrawal, then the announcement).
    let before = b.status()[0].updates_in;
    a.apply_grouped(vec![
        grouped("route 192.0.2.7/32 blackhole", 0b1100),
        grouped("route 192.0.2.0/24 community 64500:999", 0b0001),
    ])
    .await;
    until(&b, "one withdrawn, one announced", |s| {
        s.updates_in >= before + 2 && s.routes_received == 1
    })
    .await;
    until(&a, "one route sent", |s| s.routes_sent == 1).await;

    // After a flap, the peer is sent only its groups' routes again.
    assert!(a.reset("b", "test").await);
    until(&b, "re-established with one route", |s| {
        s.established_count >= 2 && s.routes_received == 1
    })
    .await;
}

/// One running speaker's peers reconfigured: an added peer establishes and is sent the
/// table, a changed one is reset (Cease / Administrative Reset) and comes back, a
/// removed one is shut down (Cease / Administrative Shutdown) and stays away, and the
/// peers left alone keep their sessions throughout.
#[tokio::test]
async fn set_peers_adds_changes_and_removes_peers_and_leaves_the_rest_alone() {
    let (x_addr, y_addr): (IpAddr, IpAddr) =
        ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
    let mut x = peer("x", 64501, 64500, 0, true);
    x.address = x_addr;
    let b = Speaker::start(SpeakerConfig {
        listen: Some(SocketAddr::new(x_addr, 0)),
        peers: vec![x.clone()],
    })
    .await
    .unwrap();
    announce(&b, "route 192.0.2.1/32 next-hop 192.0.2.66 blackhole").await;
    let port = b.listen_addr().unwrap().port();
    // Two routers, each connecting from its own loopback address.
    let router = |name: &str, from: IpAddr| {
        let mut p = peer(name, 64500, 64501, port, false);
        p.address = x_addr;
        p.local_address = Some(from);
        p
    };
    let a1 = Speaker::start(SpeakerConfig {
        listen: None,
        peers: vec![router("b", x_addr)],
    })
    .await
    .unwrap();
    let a2 = Speaker::start(SpeakerConfig {
        listen: None,
        peers: vec![router("b", y_addr)],
    })
    .await
    .unwrap();
    until(&a1, "x up with the route", |s| {
        s.state == State::Established && s.routes_received == 1
    })
    .await;

    // Added: y establishes and gets the table; x is untouched.
    let mut y = peer("y", 64501, 64500, 0, true);
    y.address = y_addr;
    let changes = b
        .set_peers(vec![x.clone(), y.clone()], Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(changes.added, vec!["y".to_string()]);
    assert!(changes.removed.is_empty() && changes.changed.is_empty());
    assert_eq!(changes.unchanged, 1);
    until(&a2, "y up with the route", |s| {
        s.state == State::Established && s.routes_received == 1
    })
    .await;
    assert_eq!(a1.status()[0].established_count, 1, "x kept its session");
    assert_eq!(b.status().len(), 2);

    // The same list again: nothing happens.
    let same = b
        .set_peers(vec![x.clone(), y.clone()], Duration::from_secs(5))
        .await
        .unwrap();
    assert!(same.is_empty() && same.unchanged == 2);

    // Changed: x is reset with Administrative Reset and comes back; y is untouched.
    let mut x2 = x.clone();
    x2.hold_time = Duration::from_secs(30);
    let changes = b
        .set_peers(vec![x2.clone(), y.clone()], Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(changes.changed, vec!["x".to_string()]);
    let st = until(&a1, "x back after its reset", |s| {
        s.established_count == 2 && s.state == State::Established && s.routes_received == 1
    })
    .await;
    let n = st.last_notification_received.unwrap();
    assert_eq!((n.code, n.subcode), (error::CEASE, cease::ADMIN_RESET));
    assert_eq!(a2.status()[0].established_count, 1, "y kept its session");
    let x_status = b.status().remove(0);
    assert_eq!(
        x_status.established_count, 2,
        "the changed peer's count goes on"
    );
    assert_eq!(
        x_status.last_notification_sent.map(|n| n.subcode),
        Some(cease::ADMIN_RESET)
    );

    // Removed: y is shut down with Administrative Shutdown and not let back in.
    let mut unknown = b.subscribe();
    let changes = b
        .set_peers(vec![x2.clone()], Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(changes.removed, vec!["y".to_string()]);
    let st = until(&a2, "y down", |s| s.state != State::Established).await;
    let n = st.last_notification_received.unwrap();
    assert_eq!((n.code, n.subcode), (error::CEASE, cease::ADMIN_SHUTDOWN));
    // y's router tries again and is turned away as an unknown peer.
    let from = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(levee_bgp::speaker::Event::UnknownPeer { from }) = unknown.recv().await {
                return from;
            }
        }
    })
    .await
    .expect("y's router reconnects and is refused");
    assert_eq!(from.ip(), y_addr);
    assert_eq!(b.status().len(), 1);
    let x_now = until(&a1, "x still up", |s| s.state == State::Established).await;
    assert_eq!(x_now.established_count, 2, "x kept its session");

    // A list with one address twice changes nothing.
    assert!(
        b.set_peers(vec![x2.clone(), x2], Duration::from_secs(5))
            .await
            .is_err()
    );
    assert_eq!(b.status().len(), 1);
}
