//! The engine's state under pressure and under change: a spray of random destinations
//! against a full host table, reconfiguration, and baselines restored.

use super::tests::{SAMPLING, T0, UDP, drive, engine, ip, starts, stream, warm};
use super::*;
use crate::policy::Reason;
use levee_flow::FlowType;

/// 1M random destinations a second for 59 s (simulated, from 11 s to 70 s) while 20
/// servers get steady traffic, 20 more get a record every 10 s (about 100 pps sampled
/// 1:1000: quiet over most seconds, as a sprayed IP is) and, from 50 s, one of the
/// steady ones is flooded: the flood is detected within 0.5 s, no server loses its slot
/// (or its baseline), the spray never goes untracked, and the table stays within its
/// bound. The servers are tracked before the spray begins (the quiet ones have had two
/// seconds with traffic): a destination seen once, in the same second as a spray's, is
/// indistinguishable from the spray's; what the ranking guarantees is that no sprayed
/// IP (one record, so at most one second with traffic) outranks a learned baseline.
#[test]
fn a_spray_of_random_destinations_does_not_blind_per_host_detection() {
    const SECS: u64 = 70;
    const SPRAY_FROM_MS: u64 = 11_000;
    const SPRAY_PER_S: u64 = 1_000_000;
    const FLOOD_AT_US: u64 = 50 * SECOND_US + 12_345;
    let mut e = Engine::new(
        EngineConfig {
            networks: vec![NetworkConfig {
                name: "customers".into(),
                prefixes: vec![
                    "198.18.0.0/15".parse().unwrap(),
                    "2001:db8::/32".parse().unwrap(),
                ],
                policy: Policy::default(),
            }],
            ..EngineConfig::default()
        },
        T0,
        42,
        1,
    );
    assert_eq!(e.cfg.max_tracked, 1_000_000);
    let servers: Vec<IpAddr> = (1..=20)
        .map(|i| IpAddr::V4((0xc612_0000u32 + i).into()))
        .collect();
    let quiet: Vec<IpAddr> = (1..=20)
        .map(|i| IpAddr::V6((0x2001_0db8_0000_0000_0000_0000_0000_5000_u128 + i).into()))
        .collect();
    let victim = servers[7];
    let mut template = FlowRecord::blank(T0, ip("192.0.2.250"), FlowType::Sflow);
    (template.protocol, template.src_port, template.dst_port) = (17, 40000, 27015);
    template.src_addr = ip("198.51.100.7");
    template.packet_length = Some(512);
    template.ttl = Some(57);
    template.set_scaled(SAMPLING, 1, 512);
    // xorshift64 inline (the test kit's generator is not optimised in the dev profile).
    let mut x = 0x5eed_u64;
    let mut chunk = Vec::with_capacity(2048);
    let mut events = Vec::new();
    // One millisecond at a time: 1,000 spray records, the servers' records due (5k pps
    // each, sampled: five a second), and the flood's (100k pps: one every 10 ms).
    for ms in 0..SECS * 1000 {
        let t0 = T0 + ms * 1000;
        chunk.clear();
        let spray = if ms >= SPRAY_FROM_MS {
            SPRAY_PER_S / 1000
        } else {
            0
        };
        for k in 0..spray {
            let mut r = template;
            r.time_us = t0 + k;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            r.dst_addr = if x & 1 == 0 {
                IpAddr::V4((0xc612_0000u32 | (x >> 8) as u32 & 0x1_ffff).into())
            } else {
                IpAddr::V6((0x2001_0db8_u128 << 96 | u128::from(x >> 1)).into())
            };
            chunk.push(r);
        }
        for (i, s) in servers.iter().enumerate() {
            if ms % 200 == i as u64 {
                let mut r = template;
                (r.time_us, r.dst_addr) = (t0 + 500, *s);
                chunk.push(r);
            }
        }
        for (i, s) in quiet.iter().enumerate() {
            if ms % 10_000 == 300 + i as u64 {
                let mut r = template;
                (r.time_us, r.dst_addr) = (t0 + 600, *s);
                chunk.push(r);
            }
        }
        if t0 >= T0 + FLOOD_AT_US && ms % 10 == 0 {
            let mut r = template;
            (r.time_us, r.dst_addr) = (t0 + 700, victim);
            chunk.push(r);
        }
        e.ingest(&chunk);
        if ms % 100 == 99 {
            events.extend(e.tick(t0 + 1000));
        }
    }
    let s = e.stats();
    let flood_start = T0 + FLOOD_AT_US.div_ceil(10_000) * 10_000 + 700;
    let started = starts(&events);
    assert_eq!(started.len(), 1, "{started:#?}");
    assert_eq!(started[0].victim, Victim::Host(victim));
    let delay = started[0].time_us.saturating_sub(flood_start);
    assert!(
        delay <= 500_000,
        "detected {delay} µs after the flood began"
    );
    for srv in &servers {
        let i = e.index.get(srv).copied().expect("a server lost its slot");
        // Tracked from the first second on; the victim learns nothing while attacked.
        let learned = e.hosts[i as usize].baseline.samples();
        assert!(
            learned >= if *srv == victim { 49 } else { 69 },
            "{srv}: {learned}"
        );
    }
    for srv in &quiet {
        let i = e
            .index
            .get(srv)
            .copied()
            .expect("a quiet server lost its slot");
        // Tracked since its first record in the first second, never displaced: a
        // displaced one would come back with at most ten seconds of baseline.
        let b = &e.hosts[i as usize].baseline;
        assert!(b.samples() >= 69, "{srv}: {}", b.samples());
        assert_eq!(b.active(), 7, "{srv}: one second with traffic every 10 s");
    }
    assert_eq!(s.untracked, 0, "{s:?}");
    assert!(s.displaced > 25_000_000, "{s:?}");
    assert_eq!(s.tracked, 1_000_000);
    let bytes = e.table_bytes();
    eprintln!(
        "spray: {s:?}; table {bytes} bytes; {}",
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert!(bytes <= 1 << 30, "{bytes}");
}

/// Hosts under an incident are never the ones evicted, even when every other slot is
/// taken by a spray.
#[test]
fn a_victim_under_attack_keeps_its_slot_in_a_full_table() {
    let mut e = engine();
    e.cfg.max_tracked = 4;
    let mut recs = stream("203.0.113.9", 100_000.0, 0.0, 3.0, UDP);
    for i in 0..3000u32 {
        recs.extend(stream(
            &format!("2001:db8:1::{:x}", i + 100),
            1000.0,
            f64::from(i) * 0.001,
            0.001,
            UDP,
        ));
    }
    let ev = drive(&mut e, recs, 0.0);
    assert_eq!(starts(&ev).len(), 1, "{ev:#?}");
    // Updates every second to the end: the victim was never dropped and re-tracked.
    assert!(e.index.contains_key(&ip("203.0.113.9")));
    assert!(e.stats().displaced > 2000, "{:?}", e.stats());
    let ended: Vec<_> = ev.iter().filter(|x| x.kind == EventKind::End).collect();
    assert!(ended.is_empty(), "{ended:#?}");
}

fn config(prefixes: &[&str], max_tracked: usize) -> EngineConfig {
    EngineConfig {
        networks: vec![NetworkConfig {
            name: "customers".into(),
            prefixes: prefixes.iter().map(|p| p.parse().unwrap()).collect(),
            policy: Policy::default(),
        }],
        max_tracked,
        ..EngineConfig::default()
    }
}

#[test]
fn reconfigure_keeps_the_baselines_of_what_stays_protected() {
    let mut e = engine();
    warm(&mut e, &["203.0.113.10", "2001:db8:1::10"]);
    let now = e.now_us;
    // A new policy, the IPv6 prefix no longer protected, another network added.
    let mut cfg = config(&["203.0.113.0/24"], 1_000_000);
    cfg.networks[0].policy.multiplier = 5.0;
    cfg.networks.push(NetworkConfig {
        name: "new".into(),
        prefixes: vec!["198.51.100.0/24".parse().unwrap()],
        policy: Policy::default(),
    });
    let done = e.reconfigure(cfg.clone(), None, now).unwrap();
    assert_eq!(done.hosts_kept, 1);
    assert_eq!(done.hosts_dropped, 1);
    assert_eq!(
        done.networks_kept, 0,
        "prefixes changed: the network starts over"
    );
    assert_eq!(e.cfg, cfg);
    // The kept IP is warm: a flood is judged on its baseline, not the warm-up one.
    let flood = stream("203.0.113.10", 100_000.0, 400.1, 2.0, UDP);
    let ev = drive(&mut e, flood, 0.0);
    let s = starts(&ev);
    assert_eq!(s.len(), 1, "{ev:#?}");
    assert_eq!(s[0].trigger.reason, Reason::Baseline);
    // The new network detects too; what is no longer protected is outside.
    let before = e.stats().outside;
    let ev = drive(
        &mut e,
        [
            stream("198.51.100.5", 100_000.0, 403.0, 1.0, UDP),
            stream("2001:db8:1::10", 100_000.0, 403.0, 1.0, UDP),
        ]
        .concat(),
        0.0,
    );
    let s = starts(&ev);
    assert_eq!(s.len(), 1, "{ev:#?}");
    assert_eq!(s[0].victim, Victim::Host(ip("198.51.100.5")));
    assert_eq!(s[0].network, "new");
    assert!(e.stats().outside > before);
}

#[test]
fn reconfigure_ends_incidents_no_longer_protected_and_keeps_the_others() {
    let mut e = engine();
    let ev = drive(
        &mut e,
        [
            stream("203.0.113.20", 100_000.0, 0.0, 2.0, UDP),
            stream("2001:db8:1::20", 100_000.0, 0.0, 2.0, UDP),
        ]
        .concat(),
        0.0,
    );
    assert_eq!(starts(&ev).len(), 2);
    let now = e.now_us;
    // Same network name and prefixes but a new name order: the v6 prefix is dropped.
    let mut cfg = config(&["203.0.113.0/24"], 1_000_000);
    cfg.networks.insert(
        0,
        NetworkConfig {
            name: "other".into(),
            prefixes: vec!["192.0.2.0/24".parse().unwrap()],
            policy: Policy::default(),
        },
    );
    let done = e.reconfigure(cfg, None, now).unwrap();
    assert_eq!(done.incidents_ended, 1);
    let ev = drive(
        &mut e,
        stream("203.0.113.20", 100_000.0, 2.0, 2.0, UDP),
        0.0,
    );
    let ended: Vec<_> = ev.iter().filter(|x| x.kind == EventKind::End).collect();
    assert_eq!(ended.len(), 1, "{ev:#?}");
    assert_eq!(ended[0].victim, Victim::Host(ip("2001:db8:1::20")));
    // The other incident goes on, now in network 1, and ends cleanly later.
    assert!(ev.iter().any(|x| x.kind == EventKind::Update
        && x.victim == Victim::Host(ip("203.0.113.20"))
        && x.network == "customers"));
    let ev = drive(&mut e, Vec::new(), 15.0);
    assert_eq!(ev.iter().filter(|x| x.kind == EventKind::End).count(), 1);
    let s = e.stats();
    assert_eq!((s.incidents_active, s.incidents_ended), (0, 2));
}

#[test]
fn reconfigure_refuses_bad_settings_and_changes_nothing() {
    let mut e = engine();
    warm(&mut e, &["203.0.113.10"]);
    let before = e.cfg.clone();
    assert_eq!(
        e.reconfigure(config(&["203.0.113.0/24"], 0), None, e.now_us),
        Err(ReconfigureError::NothingTracked)
    );
    assert_eq!(e.cfg, before);
    assert_eq!(e.stats().tracked, 1);
}

#[test]
fn a_lower_cap_evicts_the_least_active_first() {
    let mut e = engine();
    warm(&mut e, &["203.0.113.1", "203.0.113.2"]);
    // Three IPs with one record each, long after: no history, idle.
    drive(
        &mut e,
        [
            stream("203.0.113.3", 1000.0, 400.0, 0.001, UDP),
            stream("203.0.113.4", 1000.0, 400.0, 0.001, UDP),
        ]
        .concat(),
        3.0,
    );
    let done = e
        .reconfigure(
            config(&["203.0.113.0/24", "2001:db8:1::/48"], 2),
            None,
            e.now_us,
        )
        .unwrap();
    assert_eq!((done.hosts_kept, done.hosts_dropped), (2, 2));
    assert!(e.index.contains_key(&ip("203.0.113.1")));
    assert!(e.index.contains_key(&ip("203.0.113.2")));
}

#[test]
fn restored_baselines_skip_the_warm_up() {
    let mut warm_engine = engine();
    warm(&mut warm_engine, &["203.0.113.10"]);
    let saved: Vec<(IpAddr, Vec<(u8, u8)>)> = warm_engine
        .host_baselines()
        .map(|(ip, b)| (ip, b.codes().collect()))
        .collect();
    let nets: Vec<(String, Vec<(u8, u8)>)> = warm_engine
        .network_baselines()
        .map(|(n, b)| (n.to_string(), b.codes().collect()))
        .collect();
    // A fresh engine, 400 s later, given those baselines.
    let mut e = Engine::new(e_cfg(), T0 + 400 * SECOND_US, 7, 100);
    for (ip, codes) in saved {
        assert!(e.restore_host(ip, crate::baseline::Baseline::restore(&codes).unwrap()));
    }
    for (n, codes) in nets {
        assert!(e.restore_network(&n, crate::baseline::Baseline::restore(&codes).unwrap()));
    }
    assert!(!e.restore_host(ip("192.0.2.1"), Default::default()));
    assert!(!e.restore_network("gone", Default::default()));
    // 30k pps: past 3 × p99 (800 pps) and the floor, under the warm-up thresholds.
    let ev = drive(
        &mut e,
        stream("203.0.113.10", 30_000.0, 400.5, 2.0, UDP),
        0.0,
    );
    let s = starts(&ev);
    assert_eq!(s.len(), 1, "{ev:#?}");
    assert_eq!(s[0].trigger.reason, Reason::Baseline);
    // Without them the same flood is below the warm-up thresholds: nothing.
    let mut cold = Engine::new(e_cfg(), T0 + 400 * SECOND_US, 7, 100);
    let ev = drive(
        &mut cold,
        stream("203.0.113.10", 30_000.0, 400.5, 2.0, UDP),
        0.0,
    );
    assert!(starts(&ev).is_empty(), "{ev:#?}");
}

/// A restored baseline ranks by its samples: right after a restart, a spray of
/// one-record destinations into a full table displaces none of the restored IPs, though
/// they have had no traffic yet in this process.
#[test]
fn restored_baselines_outrank_a_spray_after_a_restart() {
    let mut cfg = e_cfg();
    cfg.max_tracked = 64;
    let mut e = Engine::new(cfg, T0, 7, 1);
    // Five minutes with traffic in one second of ten: 30 seconds with traffic.
    let codes: Vec<(u8, u8)> = (0..300)
        .map(|s| if s % 10 == 0 { (40, 90) } else { (0, 0) })
        .collect();
    let restored: Vec<IpAddr> = (1..=16).map(|i| ip(&format!("203.0.113.{i}"))).collect();
    for a in &restored {
        let b = crate::baseline::Baseline::restore(&codes).unwrap();
        assert!(e.restore_host(*a, b));
    }
    let mut spray = Vec::new();
    for i in 0..20_000u32 {
        spray.extend(stream(
            &format!("2001:db8:1::{:x}", i + 0x100),
            1000.0,
            f64::from(i) * 0.0002,
            0.001,
            UDP,
        ));
    }
    drive(&mut e, spray, 1.0);
    let s = e.stats();
    assert!(s.displaced > 15_000, "{s:?}");
    for a in &restored {
        let i = e
            .index
            .get(a)
            .copied()
            .expect("a restored IP lost its slot");
        // Five seconds of zeros learned since: the oldest sample with traffic rotated out.
        assert_eq!(e.hosts[i as usize].baseline.active(), 29);
    }
}

fn e_cfg() -> EngineConfig {
    config(&["203.0.113.0/24", "2001:db8:1::/48"], 1_000_000)
}
