//! The safelist on every automatic path: host and network scope, FlowSpec levels
//! narrowed around it, unicast levels that would cover it refused (counted, reported,
//! the target left at its level).

use super::*;
use ipnet::IpNet;

/// No announced route's destination covers 192.0.2.53 (the fixture's safelist).
fn spares_the_safelist(out: &[Output]) {
    let safe: IpNet = "192.0.2.53/32".parse().unwrap();
    for o in out {
        if let Output::Announce(m) = o {
            let d = destination(&m.route.nlri).unwrap();
            assert!(!d.contains(&safe), "{} covers {safe}", m.route);
        }
    }
}

#[test]
fn a_network_scope_attack_gets_flowspec_narrowed_around_the_safelist() {
    let mut e = Engine::new(settings(), 1);
    let out = e.on_event(0, &spread_flood(EventKind::Start, 3000 * MBPS));
    spares_the_safelist(&out);
    let v4: Vec<String> = announced(&out)
        .into_iter()
        .filter(|r| !r.contains("ipv6"))
        .collect();
    // 192.0.2.0/24 without .53: the eight prefixes around it.
    assert_eq!(v4.len(), 8, "{v4:?}");
    assert!(v4.contains(&"flow destination 192.0.2.52/32 protocol ==udp then discard".into()));
    assert!(v4.contains(&"flow destination 192.0.2.128/25 protocol ==udp then discard".into()));
    assert_eq!(e.counters().safelisted, 0, "narrowed, not refused");
}

#[test]
fn a_diversion_covering_the_safelist_is_refused_and_the_level_kept() {
    let mut e = Engine::new(settings(), 1);
    let ev = |bps| event(EventKind::Update, 1, "192.0.2.10", "udp_flood", bps);
    for t in 0..=6 {
        e.on_event(t * S, &ev(3000 * MBPS));
    }
    assert_eq!(e.level_of(&host("192.0.2.10")), Some(Level::L3));
    let mut refusals = Vec::new();
    for t in 7..=30 {
        let out = e.on_event(t * S, &ev(6000 * MBPS));
        spares_the_safelist(&out);
        refusals.extend(out.into_iter().filter_map(|o| match o {
            Output::Skip { reason, .. } => Some(reason),
            _ => None,
        }));
    }
    // L4 would divert 192.0.2.0/24, .53 with it: refused once, L3's RTBH stays.
    assert_eq!(e.level_of(&host("192.0.2.10")), Some(Level::L3));
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert!(
        matches!(&refusals[0], Refusal::CoversSafelisted { safelisted, .. } if safelisted.to_string() == "192.0.2.53/32"),
        "{:?}",
        refusals[0]
    );
    assert_eq!(e.counters().safelisted, 1);
    assert!(
        e.active()
            .all(|m| m.route.to_string().starts_with("route 192.0.2.10/32"))
    );
}

#[test]
fn a_network_scope_diversion_covering_the_safelist_is_refused() {
    let mut e = Engine::new(settings(), 1);
    let ev = spread_flood(EventKind::Update, 6000 * MBPS);
    let mut all = Vec::new();
    for t in 0..=30 {
        all.extend(e.on_event(t * S, &ev));
    }
    spares_the_safelist(&all);
    assert!(e.counters().safelisted >= 1, "{all:?}");
    assert!(
        e.active()
            .all(|m| !m.route.to_string().starts_with("route 192.0.2.0/24")),
        "no diversion of the /24"
    );
}

#[test]
fn a_reload_that_safelists_an_active_target_withdraws_its_routes() {
    let mut e = Engine::new(settings(), 1);
    let out = e.on_event(
        0,
        &event(EventKind::Start, 1, "192.0.2.10", "udp_flood", 200 * MBPS),
    );
    assert!(!announced(&out).is_empty());
    let out = e.on_event(
        0,
        &event(EventKind::Start, 2, "192.0.2.20", "udp_flood", 200 * MBPS),
    );
    assert!(!announced(&out).is_empty());
    let before = e.active().count();

    // The same settings again: nothing moves.
    assert!(e.set_settings(settings(), S).is_empty());

    let mut s = settings();
    s.safelist.push("192.0.2.10/32".parse().unwrap());
    let out = e.set_settings(s, S);
    let gone = withdrawn(&out);
    assert!(!gone.is_empty(), "{out:?}");
    assert!(
        gone.iter()
            .all(|(r, why)| r.contains("192.0.2.10/32") && *why == WithdrawReason::Safelisted),
        "{gone:?}"
    );
    assert_eq!(e.active().count(), before - gone.len());
    assert!(
        e.active()
            .all(|m| !m.route.to_string().contains("192.0.2.10/32")),
        "the other victim's routes stay"
    );
}

#[test]
fn restored_routes_are_revalidated_against_the_config_of_this_start() {
    // Last run: two victims mitigated, live.
    let mut before = Engine::new(settings(), 1);
    for (id, ip) in [(1, "192.0.2.10"), (2, "192.0.2.20")] {
        let out = before.on_event(0, &event(EventKind::Start, id, ip, "udp_flood", 200 * MBPS));
        assert!(!announced(&out).is_empty());
    }
    let rows: Vec<Mitigation> = before.active().cloned().collect();

    // This start: .10 safelisted meanwhile, dry run on.
    let mut s = settings();
    s.safelist.push("192.0.2.10/32".parse().unwrap());
    s.dry_run = true;
    let mut e = Engine::new(s, 100);
    e.restore(rows.clone());
    let out = e.revalidate(S);
    let gone = withdrawn(&out);
    assert!(
        !gone.is_empty()
            && gone
                .iter()
                .all(|(r, why)| r.contains("192.0.2.10/32") && *why == WithdrawReason::Safelisted),
        "{out:?}"
    );
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::DryRun(m) if m.dry_run && m.victim == "192.0.2.20")),
        "{out:?}"
    );
    assert!(e.active().all(|m| m.dry_run && m.victim == "192.0.2.20"));
    assert!(
        e.revalidate(2 * S).is_empty(),
        "in line: nothing more to do"
    );

    // Another start: the network is gone from the config.
    let mut s = settings();
    s.networks.retain(|n| {
        !n.prefixes
            .iter()
            .any(|p| p.contains(&"192.0.2.10".parse::<IpAddr>().unwrap()))
    });
    let mut e = Engine::new(s, 100);
    e.restore(rows);
    let out = e.revalidate(S);
    let gone = withdrawn(&out);
    assert!(
        !gone.is_empty()
            && gone
                .iter()
                .all(|(_, why)| *why == WithdrawReason::Unprotected),
        "{out:?}"
    );
    assert_eq!(e.active().count(), 0);
}
