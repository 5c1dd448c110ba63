//! A reload that flips dry run applies to the routes already active, not only to the
//! next ones.

use super::*;

fn flipped(out: &[Output]) -> Vec<(String, bool)> {
    out.iter()
        .filter_map(|o| match o {
            Output::DryRun(m) => Some((m.route.to_string(), m.dry_run)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_dry_run_flip_reaches_the_active_routes_both_ways() {
    let mut s = settings();
    s.dry_run = true;
    let mut e = Engine::new(s.clone(), 1);
    let out = e.on_event(
        0,
        &event(EventKind::Start, 1, "192.0.2.10", "udp_flood", 200 * MBPS),
    );
    let routes = announced(&out);
    assert!(!routes.is_empty());
    assert!(e.active().all(|m| m.dry_run));

    // The same settings again: nothing to do.
    assert!(e.set_settings(s.clone()).is_empty());

    // Dry run to live: every active route comes out live, to be announced.
    s.dry_run = false;
    let out = e.set_settings(s.clone());
    let live = flipped(&out);
    assert_eq!(live.len(), routes.len(), "{out:?}");
    assert!(live.iter().all(|(r, dry)| !dry && routes.contains(r)));
    assert!(e.active().all(|m| !m.dry_run));
    assert_eq!(e.active().count(), routes.len(), "the routes stay active");

    // Routes decided after the flip are live too.
    let out = e.on_event(
        S,
        &event(EventKind::Start, 2, "192.0.2.20", "udp_flood", 200 * MBPS),
    );
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Announce(m) if !m.dry_run))
    );

    // Live to dry run: withdrawn from the routers, kept recorded and active.
    let before = e.active().count();
    s.dry_run = true;
    let out = e.set_settings(s);
    assert_eq!(flipped(&out).len(), before);
    assert!(flipped(&out).iter().all(|(_, dry)| *dry));
    assert!(withdrawn(&out).is_empty(), "no mitigation ends");
    assert_eq!(e.active().count(), before);
    assert!(e.active().all(|m| m.dry_run));
}
