//! The engine's state stays bounded by what it mitigates: what an attacker can create
//! at will (incidents below every trigger) is forgotten when it ends.

use super::*;

/// Incidents that never reach a level leave nothing behind when they end.
#[test]
fn incidents_below_every_level_are_forgotten_at_their_end() {
    let mut e = Engine::new(settings(), 1);
    for i in 0..1000u64 {
        let ip = format!("192.0.2.{}", 100 + i % 100);
        let mut ev = event(EventKind::Start, i, &ip, "udp_flood", 10 * MBPS);
        e.on_event(i, &ev);
        ev.kind = EventKind::End;
        e.on_event(i + 1, &ev);
    }
    assert_eq!(e.tracked_targets(), 0);
    assert_eq!(e.active().count(), 0);
}
