//! The engine driven with explicit time: escalation and its hold-downs, TTL, cooldown,
//! deduplication, caps, safelist, monitor mode, manual mitigations and restore.

use super::engine::destination;
use super::settings::{Ladder, Level, Metric, Network, Settings, Trigger, UnicastAttrs};
use super::*;
use levee_bgp::rib::{Nlri, RouteText};
use levee_detect::classify::Family;
use levee_detect::policy::{self, Current, Reason};
use levee_detect::{Event, EventKind, Victim};
use std::collections::BTreeSet;
use std::net::IpAddr;

const S: u64 = 1_000_000;
const MBPS: u64 = 1_000_000;

/// The settings without the safelist, for tests about something else.
fn unsafelisted() -> Settings {
    Settings {
        safelist: Vec::new(),
        ..settings()
    }
}

fn settings() -> Settings {
    let ladder = Ladder {
        rtbh: UnicastAttrs {
            communities: vec![(64500 << 16) | 666],
            large_communities: vec![[64500, 666, 0]],
            no_export: true,
            next_hop_v4: Some("192.0.2.254".parse().unwrap()),
            next_hop_v6: None,
        },
        ..Ladder::default()
    };
    Settings {
        safelist: vec!["192.0.2.53/32".parse().unwrap()],
        networks: vec![
            Network {
                name: "web".into(),
                prefixes: vec![
                    "192.0.2.0/24".parse().unwrap(),
                    "2001:db8::/48".parse().unwrap(),
                ],
                ladder: ladder.clone(),
            },
            Network {
                name: "small".into(),
                prefixes: vec!["198.51.100.0/26".parse().unwrap()],
                ladder,
            },
        ],
        ..Settings::default()
    }
}

fn event(kind: EventKind, id: u64, victim: &str, vector: &str, bps: u64) -> Event {
    let victim = match victim.parse::<IpAddr>() {
        Ok(ip) => Victim::Host(ip),
        Err(_) => Victim::Network(victim.to_string()),
    };
    let network = match &victim {
        Victim::Host(ip) if ip.to_string().starts_with("198.51") => "small".to_string(),
        Victim::Host(_) => "web".to_string(),
        Victim::Network(n) => n.clone(),
    };
    let rate = Current {
        pps: bps / 8 / 500,
        bps,
        flows: 10,
    };
    Event {
        kind,
        id,
        time_us: 0,
        start_us: 0,
        victim,
        network,
        family: Family::UdpFlood,
        vector: vector.into(),
        confidence: 90,
        trigger: policy::Trigger {
            reason: Reason::Baseline,
            metric: policy::Metric::Bps,
            value: bps,
            threshold: bps / 2,
        },
        rate,
        peak: rate,
        distinct_sources: 1000,
        botnet: true,
        spoofed: false,
        top_sources: Vec::new(),
        top_src_ports: vec![(123, 1.0)],
        top_dst_ports: vec![(80, 0.9), (443, 0.1)],
        top_packet_lengths: vec![(468, 0.95)],
        threat_intel: Vec::new(),
        threat_intel_packets: 0,
    }
}

fn announced(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::Announce(m) => Some(m.route.to_string()),
            _ => None,
        })
        .collect()
}

fn withdrawn(out: &[Output]) -> Vec<(String, WithdrawReason)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Withdraw(m, r) => Some((m.route.to_string(), *r)),
            _ => None,
        })
        .collect()
}

/// A UDP flood spread over the whole "web" network, with no port or length to narrow
/// its rules by.
fn spread_flood(kind: EventKind, bps: u64) -> Event {
    let mut ev = event(kind, 1, "web", "udp_flood", bps);
    ev.top_dst_ports.clear();
    ev.top_packet_lengths.clear();
    ev
}

fn host(ip: &str) -> Target {
    Target::Host(ip.parse().unwrap())
}

#[test]
fn l1_rate_limits_the_narrowest_signature() {
    let mut e = Engine::new(settings(), 1);
    let mut ev = event(
        EventKind::Start,
        7,
        "192.0.2.10",
        "ntp_amplification",
        200 * MBPS,
    );
    // Reflected traffic goes to random ports: no destination port is dominant.
    ev.top_dst_ports = vec![(40000, 0.01), (40001, 0.01), (40002, 0.01)];
    let out = e.on_event(0, &ev);
    assert_eq!(
        announced(&out),
        [
            "flow destination 192.0.2.10/32 protocol ==udp source-port ==123 packet-length ==468 then rate-limit 1250000"
        ]
    );
    assert!(out.contains(&Output::Level {
        victim: "192.0.2.10".into(),
        network: "web".into(),
        incident: 7,
        from: None,
        to: Level::L1
    }));
    let m = e.active().next().unwrap();
    assert_eq!(
        (m.level, m.origin, m.incident, m.expires_us),
        (Some(Level::L1), Origin::Auto, Some(7), 300 * S)
    );
}

#[test]
fn each_vector_has_its_own_match_and_l2_drops_the_length() {
    let cases = [
        (
            "syn_flood",
            "protocol ==tcp destination-port ==80 tcp-flags =S&!A",
        ),
        (
            "tcp_ack_flood",
            "protocol ==tcp destination-port ==80 tcp-flags =A&!FSR",
        ),
        (
            "tcp_synack_flood",
            "protocol ==tcp destination-port ==80 tcp-flags =SA",
        ),
        (
            "dns_amplification",
            "protocol ==udp destination-port ==80 source-port ==53",
        ),
        (
            "memcached_amplification",
            "protocol ==udp destination-port ==80 source-port ==11211",
        ),
        ("dns_query_flood", "protocol ==udp destination-port ==80"),
        ("icmp_flood", "protocol ==icmp"),
        ("fragment_flood", "fragment is-fragment|first-fragment"),
        ("ip_protocol_flood", "protocol !=icmp&!=tcp&!=udp"),
        ("unknown", ""),
    ];
    for (vector, want) in cases {
        let mut e = Engine::new(settings(), 1);
        let out = e.on_event(
            0,
            &event(EventKind::Start, 1, "192.0.2.10", vector, 600 * MBPS),
        );
        let sep = if want.is_empty() { "" } else { " " };
        assert_eq!(
            announced(&out),
            [format!(
                "flow destination 192.0.2.10/32{sep}{want} then discard"
            )],
            "{vector}"
        );
    }
}

#[test]
fn multi_vector_is_one_rule_per_vector_without_shared_ports() {
    let mut e = Engine::new(settings(), 1);
    let out = e.on_event(
        0,
        &event(
            EventKind::Start,
            1,
            "2001:db8::10",
            "syn_flood+ntp_amplification",
            600 * MBPS,
        ),
    );
    assert_eq!(
        announced(&out),
        [
            "flow ipv6 destination 2001:db8::10/128/0 protocol ==tcp tcp-flags =S&!A then discard",
            "flow ipv6 destination 2001:db8::10/128/0 protocol ==udp source-port ==123 then discard",
        ]
    );
}

#[test]
fn escalates_through_the_hold_downs_make_before_break() {
    let mut e = Engine::new(unsafelisted(), 1);
    let ev = |bps| event(EventKind::Update, 1, "192.0.2.10", "udp_flood", bps);
    e.on_event(0, &ev(200 * MBPS));
    assert_eq!(e.level_of(&host("192.0.2.10")), Some(Level::L1));
    // L2 has no hold-down.
    let out = e.on_event(S, &ev(900 * MBPS));
    assert_eq!(e.level_of(&host("192.0.2.10")), Some(Level::L2));
    let a = out
        .iter()
        .position(|o| matches!(o, Output::Announce(_)))
        .unwrap();
    let w = out
        .iter()
        .position(|o| matches!(o, Output::Withdraw(..)))
        .unwrap();
    assert!(a < w, "announce before withdraw: {out:?}");
    assert_eq!(withdrawn(&out)[0].1, WithdrawReason::Escalated);
    // L3 waits 5 s above 2 Gbps; a dip restarts the wait.
    for t in 2..=6 {
        e.on_event(t * S, &ev(3000 * MBPS));
    }
    assert_eq!(e.level_of(&host("192.0.2.10")), Some(Level::L2));
    e.on_event(7 * S, &ev(1000 * MBPS));
    for t in 8..=12 {
        e.on_event(t * S, &ev(3000 * MBPS));
    }
    assert_eq!(e.level_of(&host("192.0.2.10")), Some(Level::L2));
    let out = e.on_event(13 * S, &ev(3000 * MBPS));
    assert_eq!(e.level_of(&host("192.0.2.10")), Some(Level::L3));
    assert_eq!(
        announced(&out),
        [
            "route 192.0.2.10/32 next-hop 192.0.2.254 community 65535:666 community 64500:666 community 65535:65281 large-community 64500:666:0"
        ]
    );
    assert_eq!(e.counters().escalations, 2);
    // Straight from L3 to L4 after its 10 s.
    for t in 14..=23 {
        e.on_event(t * S, &ev(6000 * MBPS));
    }
    assert_eq!(e.level_of(&host("192.0.2.10")), Some(Level::L3));
    let out = e.on_event(24 * S, &ev(6000 * MBPS));
    assert_eq!(announced(&out), ["route 192.0.2.0/24"]);
    assert_eq!(e.active().count(), 1);
}

#[test]
fn starts_at_the_level_the_rate_warrants() {
    let mut e = Engine::new(settings(), 1);
    let out = e.on_event(
        0,
        &event(EventKind::Start, 1, "192.0.2.10", "udp_flood", 3000 * MBPS),
    );
    // L3 needs 5 s above its trigger: L2 first.
    assert_eq!(e.level_of(&host("192.0.2.10")), Some(Level::L2));
    assert_eq!(announced(&out).len(), 1);
}

#[test]
fn deescalates_after_its_hold_down_and_never_below_l1_while_attacked() {
    let mut e = Engine::new(settings(), 1);
    let ev = |bps| event(EventKind::Update, 1, "192.0.2.10", "udp_flood", bps);
    e.on_event(0, &ev(900 * MBPS));
    assert_eq!(e.level_of(&host("192.0.2.10")), Some(Level::L2));
    for t in 1..60 {
        e.on_event(t * S, &ev(50 * MBPS));
    }
    assert_eq!(e.level_of(&host("192.0.2.10")), Some(Level::L2));
    let out = e.on_event(61 * S, &ev(50 * MBPS));
    assert_eq!(e.level_of(&host("192.0.2.10")), Some(Level::L1), "{out:?}");
    assert_eq!(withdrawn(&out)[0].1, WithdrawReason::Deescalated);
    assert_eq!(e.counters().deescalations, 1);
}

#[test]
fn ttl_extends_while_attacked_and_expires_after_the_end() {
    let mut e = Engine::new(settings(), 1);
    let ev = |k| event(k, 1, "192.0.2.10", "udp_flood", 200 * MBPS);
    e.on_event(0, &ev(EventKind::Start));
    for t in 1..=100 {
        e.on_event(t * S, &ev(EventKind::Update));
        assert!(e.tick(t * S).is_empty());
    }
    e.on_event(101 * S, &ev(EventKind::End));
    assert_eq!(e.active().next().unwrap().expires_us, 400 * S);
    assert!(e.tick(400 * S - 1).is_empty());
    let out = e.tick(400 * S);
    assert_eq!(withdrawn(&out).len(), 1);
    assert_eq!(withdrawn(&out)[0].1, WithdrawReason::Expired);
    assert_eq!(e.active().count(), 0);
    assert_eq!(e.counters().expired, 1);
    // The cooldown holds back a new attack on it for 60 s, reported once.
    let out = e.on_event(
        401 * S,
        &event(EventKind::Start, 2, "192.0.2.10", "udp_flood", 200 * MBPS),
    );
    assert!(matches!(
        &out[..],
        [Output::Skip {
            reason: Refusal::Cooldown(_),
            ..
        }]
    ));
    assert!(
        e.on_event(
            402 * S,
            &event(EventKind::Update, 2, "192.0.2.10", "udp_flood", 200 * MBPS)
        )
        .is_empty()
    );
    assert_eq!(e.counters().cooldown, 1);
    e.tick(460 * S);
    let out = e.on_event(
        460 * S,
        &event(EventKind::Update, 2, "192.0.2.10", "udp_flood", 200 * MBPS),
    );
    assert_eq!(announced(&out).len(), 1);
}

#[test]
fn a_recurring_attack_before_expiry_keeps_its_level() {
    let mut e = Engine::new(settings(), 1);
    e.on_event(
        0,
        &event(EventKind::Start, 1, "192.0.2.10", "udp_flood", 900 * MBPS),
    );
    e.on_event(
        20 * S,
        &event(EventKind::End, 1, "192.0.2.10", "udp_flood", 0),
    );
    let out = e.on_event(
        100 * S,
        &event(EventKind::Start, 2, "192.0.2.10", "udp_flood", 200 * MBPS),
    );
    assert!(announced(&out).is_empty(), "no churn: {out:?}");
    assert_eq!(e.level_of(&host("192.0.2.10")), Some(Level::L2));
    assert_eq!(e.active().next().unwrap().expires_us, 400 * S);
}

#[test]
fn safelist_and_unprotected_victims_are_refused_once() {
    let mut e = Engine::new(settings(), 1);
    let out = e.on_event(
        0,
        &event(EventKind::Start, 1, "192.0.2.53", "udp_flood", 9000 * MBPS),
    );
    assert!(matches!(
        &out[..],
        [Output::Skip {
            reason: Refusal::Safelisted(_),
            ..
        }]
    ));
    assert!(
        e.on_event(
            S,
            &event(EventKind::Update, 1, "192.0.2.53", "udp_flood", 9000 * MBPS)
        )
        .is_empty()
    );
    let mut ev = event(EventKind::Start, 2, "192.0.2.10", "udp_flood", 9000 * MBPS);
    ev.network = "gone".into();
    assert!(matches!(
        &e.on_event(0, &ev)[..],
        [Output::Skip {
            reason: Refusal::OutsideProtected { .. },
            ..
        }]
    ));
    assert_eq!(e.active().count(), 0);
    assert_eq!(
        (e.counters().safelisted, e.counters().not_protected),
        (1, 1)
    );
    // Manual requests get the same answers.
    let r: RouteText = "route 192.0.2.53/32".parse().unwrap();
    assert_eq!(
        e.manual_add(0, r, S, None).unwrap_err(),
        Refusal::Safelisted("192.0.2.53/32".into())
    );
    let r: RouteText = "route 192.0.2.0/24".parse().unwrap();
    assert!(matches!(
        e.manual_add(0, r, S, None),
        Err(Refusal::CoversSafelisted { .. })
    ));
    let r: RouteText = "route 203.0.113.1/32".parse().unwrap();
    assert!(matches!(
        e.manual_add(0, r, S, None),
        Err(Refusal::OutsideProtected { .. })
    ));
    let r: RouteText = "flow protocol udp then discard".parse().unwrap();
    assert_eq!(
        e.manual_add(0, r, S, None).unwrap_err(),
        Refusal::NoDestination
    );
}

#[test]
fn caps_in_total_and_per_network() {
    let mut s = settings();
    s.max_active = 3;
    s.max_active_per_network = 2;
    let mut e = Engine::new(s, 1);
    for (i, v) in ["192.0.2.1", "192.0.2.2", "192.0.2.3"].iter().enumerate() {
        e.on_event(
            0,
            &event(EventKind::Start, i as u64, v, "udp_flood", 200 * MBPS),
        );
    }
    assert_eq!(e.active().count(), 2);
    assert_eq!(e.counters().capped, 1);
    e.on_event(
        0,
        &event(EventKind::Start, 9, "198.51.100.1", "udp_flood", 200 * MBPS),
    );
    let out = e.on_event(
        0,
        &event(
            EventKind::Start,
            10,
            "198.51.100.2",
            "udp_flood",
            200 * MBPS,
        ),
    );
    assert!(
        matches!(
            &out[..],
            [Output::Skip {
                reason: Refusal::Cap { limit: 3, .. },
                ..
            }]
        ),
        "{out:?}"
    );
    // Escalating replaces routes one for one: within the cap.
    e.on_event(
        S,
        &event(EventKind::Update, 0, "192.0.2.1", "udp_flood", 900 * MBPS),
    );
    assert_eq!(e.level_of(&host("192.0.2.1")), Some(Level::L2));
    assert_eq!(e.active().count(), 3);
}

#[test]
fn manual_and_automatic_requests_for_one_route_are_one_announcement() {
    let mut e = Engine::new(settings(), 100);
    let out = e.on_event(
        0,
        &event(EventKind::Start, 1, "192.0.2.10", "udp_flood", 200 * MBPS),
    );
    let auto_route = e.active().next().unwrap().route.clone();
    assert_eq!(announced(&out).len(), 1);
    let (id, out) = e.manual_add(S, auto_route.clone(), 1000 * S, None).unwrap();
    assert_eq!(id, 100);
    assert!(announced(&out).is_empty());
    assert_eq!(e.counters().deduplicated, 1);
    let m = e.active().next().unwrap();
    assert_eq!(m.holders.len(), 2);
    assert_eq!(m.expires_us, 1001 * S);
    // The new holder is told to the record (a restart restores both holders).
    assert!(
        matches!(&out[..], [Output::Holders(h)] if h.id == 100 && h.holders.len() == 2),
        "{out:?}"
    );
    // The attack ends and moves on to L2; the manual hold keeps the L1 rule, and the
    // record loses the automatic holder.
    let out = e.on_event(
        2 * S,
        &event(EventKind::Update, 1, "192.0.2.10", "udp_flood", 900 * MBPS),
    );
    assert!(withdrawn(&out).is_empty());
    assert!(
        out.iter().any(
            |o| matches!(o, Output::Holders(h) if h.id == 100 && h.holders == BTreeSet::from([Holder::Manual]))
        ),
        "{out:?}"
    );
    assert_eq!(e.active().count(), 2);
    // An operator withdrawal wins over the automatic hold, and starts the cooldown.
    let l2 = e.active().find(|m| m.level == Some(Level::L2)).unwrap().id;
    let out = e.manual_withdraw(3 * S, l2).unwrap();
    assert_eq!(withdrawn(&out)[0].1, WithdrawReason::Manual);
    let out = e.on_event(
        4 * S,
        &event(EventKind::Update, 1, "192.0.2.10", "udp_flood", 900 * MBPS),
    );
    assert!(
        matches!(
            &out[..],
            [Output::Skip {
                reason: Refusal::Cooldown(_),
                ..
            }]
        ),
        "{out:?}"
    );
    assert_eq!(
        e.manual_withdraw(3 * S, 999).unwrap_err(),
        Refusal::Unknown(999)
    );
    // The manual rule stays until its own TTL.
    assert!(withdrawn(&e.tick(1000 * S)).is_empty());
    assert_eq!(withdrawn(&e.tick(1001 * S)).len(), 1);
}

#[test]
fn manual_attributes_replace_and_reannounce() {
    let mut e = Engine::new(settings(), 1);
    let r: RouteText = "flow destination 192.0.2.7/32 protocol udp then rate-limit 1000"
        .parse()
        .unwrap();
    let (id, out) = e.manual_add(0, r, 60 * S, None).unwrap();
    assert_eq!(announced(&out).len(), 1);
    let r: RouteText = "flow destination 192.0.2.7/32 protocol udp then discard"
        .parse()
        .unwrap();
    let (again, out) = e.manual_add(0, r, 60 * S, None).unwrap();
    assert_eq!(id, again);
    assert_eq!(
        announced(&out),
        ["flow destination 192.0.2.7/32 protocol ==udp then discard"]
    );
}

#[test]
fn level_routes_for_a_manual_host() {
    let mut e = Engine::new(settings(), 1);
    let ip: IpAddr = "198.51.100.9".parse().unwrap();
    let mut text = |l| {
        e.level_routes(0, ip, l)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        text(Level::L1),
        ["flow destination 198.51.100.9/32 then rate-limit 1250000"]
    );
    assert_eq!(
        text(Level::L2),
        ["flow destination 198.51.100.9/32 then discard"]
    );
    // The /26 is longer than the /24 L4 would use: the covering prefix stays inside it.
    assert_eq!(text(Level::L4), ["route 198.51.100.0/26"]);
    assert!(matches!(
        e.level_routes(0, "203.0.113.1".parse().unwrap(), Level::L1),
        Err(Refusal::OutsideProtected { .. })
    ));
}

#[test]
fn carpet_bombing_gets_flowspec_per_prefix_and_skips_rtbh() {
    let mut e = Engine::new(unsafelisted(), 1);
    let ev = spread_flood(EventKind::Start, 3000 * MBPS);
    let out = e.on_event(0, &ev);
    assert_eq!(
        announced(&out),
        [
            "flow destination 192.0.2.0/24 protocol ==udp then discard",
            "flow ipv6 destination 2001:db8::/48/0 protocol ==udp then discard",
        ]
    );
    let mut ev = ev.clone();
    ev.kind = EventKind::Update;
    for t in 1..=10 {
        ev.rate.bps = 3000 * MBPS;
        e.on_event(t * S, &ev);
    }
    // Above the L3 trigger for 10 s, but L3 has no route for a network: it stays at L2.
    assert_eq!(e.level_of(&Target::Network("web".into(), Vec::new())), None);
    assert!(e.active().all(|m| m.level == Some(Level::L2)));
}

#[test]
fn disabled_levels_and_pps_triggers() {
    let mut s = settings();
    let l = &mut s.networks[0].ladder;
    l.levels[0].enabled = false;
    l.levels[1].trigger = Trigger {
        metric: Metric::Pps,
        value: 10_000,
    };
    let mut e = Engine::new(s, 1);
    // 200 Mbps of 500-byte packets is 50k pps: past the L2 pps trigger, L1 is off.
    let out = e.on_event(
        0,
        &event(EventKind::Start, 1, "192.0.2.10", "udp_flood", 200 * MBPS),
    );
    assert_eq!(e.level_of(&host("192.0.2.10")), Some(Level::L2));
    assert!(announced(&out)[0].ends_with("then discard"));
}

#[test]
fn reclassification_replaces_the_rule() {
    let mut e = Engine::new(settings(), 1);
    e.on_event(
        0,
        &event(EventKind::Start, 1, "192.0.2.10", "udp_flood", 600 * MBPS),
    );
    let out = e.on_event(
        S,
        &event(EventKind::Update, 1, "192.0.2.10", "syn_flood", 600 * MBPS),
    );
    assert_eq!(announced(&out).len(), 1);
    assert!(announced(&out)[0].contains("tcp-flags"));
    assert_eq!(withdrawn(&out)[0].1, WithdrawReason::Reclassified);
}

#[test]
fn dry_run_decides_the_same_and_marks_it() {
    let mut s = settings();
    s.dry_run = true;
    let mut e = Engine::new(s, 1);
    let out = e.on_event(
        0,
        &event(EventKind::Start, 1, "192.0.2.10", "udp_flood", 200 * MBPS),
    );
    let Output::Announce(m) = &out[0] else {
        panic!("{out:?}")
    };
    assert!(m.dry_run);
}

#[test]
fn restore_picks_up_routes_and_expires_the_stale() {
    let mut e = Engine::new(settings(), 1);
    e.on_event(
        0,
        &event(EventKind::Start, 1, "192.0.2.10", "udp_flood", 900 * MBPS),
    );
    e.manual_add(0, "route 192.0.2.99/32".parse().unwrap(), 10 * S, None)
        .unwrap();
    let saved: Vec<Mitigation> = e.active().cloned().collect();
    let mut e = Engine::new(settings(), 1);
    e.restore(saved);
    assert_eq!(e.level_of(&host("192.0.2.10")), Some(Level::L2));
    // The manual route expired while levee was down.
    let out = e.tick(20 * S);
    assert_eq!(
        withdrawn(&out),
        [("route 192.0.2.99/32".into(), WithdrawReason::Expired)]
    );
    // The attack goes on: same route, extended, ids continue.
    let out = e.on_event(
        21 * S,
        &event(EventKind::Start, 5, "192.0.2.10", "udp_flood", 900 * MBPS),
    );
    assert!(announced(&out).is_empty(), "{out:?}");
    assert_eq!(e.active().next().unwrap().expires_us, 321 * S);
    let (id, _) = e
        .manual_add(22 * S, "route 192.0.2.98/32".parse().unwrap(), S, None)
        .unwrap();
    assert_eq!(id, 3);
}

#[test]
fn destinations_of_routes() {
    let n = |s: &str| s.parse::<RouteText>().unwrap().nlri;
    assert_eq!(
        destination(&n("route 192.0.2.0/24")),
        Some("192.0.2.0/24".parse().unwrap())
    );
    assert_eq!(
        destination(&n(
            "flow ipv6 destination 2001:db8::1/128/0 protocol udp then discard"
        )),
        Some("2001:db8::1/128".parse().unwrap())
    );
    assert!(matches!(n("route 192.0.2.0/24"), Nlri::Unicast(_)));
}

/// A gate that refuses 198.51.100.0/26, warns about IPv6 and allows the rest, and
/// records what it was asked.
#[derive(Debug, Default)]
struct TestGate(std::sync::Mutex<Vec<Vec<ipnet::IpNet>>>);

impl Gate for TestGate {
    fn check(&self, _now: u64, covering: &[ipnet::IpNet]) -> GateVerdict {
        self.0.lock().unwrap().push(covering.to_vec());
        match covering.first().map(|p| p.to_string()).as_deref() {
            Some("198.51.100.0/26") => {
                GateVerdict::Refuse("198.51.100.0/26 is RPKI invalid".into())
            }
            Some("2001:db8::/48") => GateVerdict::Warn("2001:db8::/48 is RPKI not-found".into()),
            _ => GateVerdict::Allow,
        }
    }
}

#[test]
fn the_gate_refuses_warns_or_allows_through_the_covering_prefix() {
    let gate = std::sync::Arc::new(TestGate::default());
    let mut e = Engine::new(settings(), 1);
    e.set_gate(Some(gate.clone()));
    // Refused: reported once per incident, counted, nothing announced.
    let out = e.on_event(
        0,
        &event(EventKind::Start, 1, "198.51.100.7", "udp_flood", 900 * MBPS),
    );
    assert!(
        matches!(&out[..], [Output::Skip { reason: Refusal::Rpki(why), .. }] if why.contains("invalid")),
        "{out:?}"
    );
    assert!(
        e.on_event(
            S,
            &event(
                EventKind::Update,
                1,
                "198.51.100.7",
                "udp_flood",
                900 * MBPS
            )
        )
        .is_empty()
    );
    // Allowed: the covering protected prefix is what was checked, not the /32.
    let out = e.on_event(
        0,
        &event(EventKind::Start, 2, "192.0.2.10", "udp_flood", 200 * MBPS),
    );
    assert_eq!(announced(&out).len(), 1, "{out:?}");
    assert_eq!(
        gate.0.lock().unwrap().last().unwrap(),
        &vec!["192.0.2.0/24".parse::<ipnet::IpNet>().unwrap()]
    );
    // Warned: announced, counted once for the incident.
    for t in 0..3 {
        let out = e.on_event(
            t * S,
            &event(
                if t == 0 {
                    EventKind::Start
                } else {
                    EventKind::Update
                },
                3,
                "2001:db8::5",
                "udp_flood",
                200 * MBPS,
            ),
        );
        if t == 0 {
            assert_eq!(announced(&out).len(), 1, "{out:?}");
        }
    }
    assert_eq!(
        (e.counters().rpki_refused, e.counters().rpki_warned),
        (1, 1)
    );
    // Manual requests pass the same gate.
    let r: RouteText = "route 198.51.100.9/32".parse().unwrap();
    assert!(matches!(e.manual_add(0, r, S, None), Err(Refusal::Rpki(_))));
    assert!(matches!(
        e.level_routes(0, "198.51.100.9".parse().unwrap(), Level::L3),
        Err(Refusal::Rpki(_))
    ));
    let r: RouteText = "route 192.0.2.99/32".parse().unwrap();
    assert!(e.manual_add(0, r, S, None).is_ok());
    assert_eq!(e.counters().rpki_refused, 3);
}

#[test]
fn gate_warnings_are_outputs_once_per_incident_and_per_request() {
    let mut e = Engine::new(settings(), 1);
    e.set_gate(Some(std::sync::Arc::new(TestGate::default())));
    let warning = |victim: &str, incident| Output::GateWarning {
        victim: victim.into(),
        incident,
        why: "2001:db8::/48 is RPKI not-found".into(),
    };
    let ev = |kind| event(kind, 3, "2001:db8::5", "udp_flood", 200 * MBPS);
    let out = e.on_event(0, &ev(EventKind::Start));
    assert_eq!(out.first(), Some(&warning("2001:db8::5", 3)), "{out:?}");
    assert!(
        !e.on_event(S, &ev(EventKind::Update))
            .contains(&warning("2001:db8::5", 3))
    );
    // An operator's request: before the announcement; from a call without outputs,
    // with the next call's.
    let (_, out) = e
        .manual_add(S, "route 2001:db8::7/128".parse().unwrap(), S, None)
        .unwrap();
    assert_eq!(out.first(), Some(&warning("2001:db8::7/128", 0)), "{out:?}");
    let _ = e.level_routes(S, "2001:db8::9".parse().unwrap(), Level::L2);
    assert_eq!(e.tick(S), [warning("2001:db8::9/128", 0)]);
    assert_eq!(e.counters().rpki_warned, 3);
}

mod bounds;
mod dry_run;
mod safelist;

/// A destination outside every protected network is refused as that, naming the
/// networks configured, even when it also covers a safelisted prefix (the old message
/// called it "safelisted"); one inside that covers a safelisted prefix says so.
#[test]
fn refusals_say_what_is_true() {
    let mut e = Engine::new(settings(), 1);
    let r: RouteText = "route 192.0.2.0/23".parse().unwrap();
    let err = e.manual_add(0, r, S, None).unwrap_err();
    assert_eq!(
        err,
        Refusal::OutsideProtected {
            target: "192.0.2.0/23".into(),
            protected: "web 192.0.2.0/24, 2001:db8::/48; small 198.51.100.0/26".into(),
        }
    );
    assert_eq!(
        err.to_string(),
        "192.0.2.0/23 is outside the protected networks \
         (web 192.0.2.0/24, 2001:db8::/48; small 198.51.100.0/26)"
    );
    assert!(!err.to_string().contains("safelisted"));
    let r: RouteText = "route 203.0.113.7/32".parse().unwrap();
    let err = e.manual_add(0, r, S, None).unwrap_err();
    assert!(matches!(err, Refusal::OutsideProtected { .. }), "{err}");
    // Inside, covering the safelisted address: says which.
    let r: RouteText = "route 192.0.2.0/25".parse().unwrap();
    assert_eq!(
        e.manual_add(0, r, S, None).unwrap_err().to_string(),
        "192.0.2.0/25 covers 192.0.2.53/32, which is safelisted: never mitigated"
    );
    // The safelisted address itself.
    assert_eq!(
        e.level_routes(0, "192.0.2.53".parse().unwrap(), Level::L1)
            .unwrap_err()
            .to_string(),
        "192.0.2.53/32 is safelisted: never mitigated"
    );
    assert_eq!(
        (e.counters().safelisted, e.counters().not_protected),
        (0, 0),
        "manual refusals are answered, not counted as automatic ones"
    );
    // With no networks at all, the message says so.
    let mut bare = Engine::new(
        Settings {
            networks: Vec::new(),
            ..settings()
        },
        1,
    );
    let r: RouteText = "route 192.0.2.1/32".parse().unwrap();
    assert_eq!(
        bare.manual_add(0, r, S, None).unwrap_err().to_string(),
        "192.0.2.1/32 is outside the protected networks (none are configured)"
    );
}
