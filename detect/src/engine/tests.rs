//! Engine scenarios with synthetic time: flows built sample by sample, as an exporter
//! sampling 1:N would send them, fed in time order with a tick every 100 ms.

use super::*;
use crate::classify::Family;
use levee_flow::FlowType;
use std::net::IpAddr;

pub(super) const T0: u64 = 1_800_000_000 * SECOND_US;
pub(super) const SAMPLING: u32 = 1000;

pub(super) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// What the packets of a stream look like.
#[derive(Clone, Copy)]
pub(super) struct Shape {
    protocol: u8,
    src_port: u16,
    dst_port: u16,
    flags: u8,
    len: u16,
    /// Distinct sources, cycled (198.18.0.0/15 benchmarking space, then 2001:db8:ffff::).
    sources: u32,
    /// Random TTLs instead of a fixed 57.
    random_ttl: bool,
    fragment: bool,
}

pub(super) const UDP: Shape = Shape {
    protocol: 17,
    src_port: 40000,
    dst_port: 27015,
    flags: 0,
    len: 512,
    sources: 10,
    random_ttl: false,
    fragment: false,
};

pub(super) fn shape(protocol: u8, src_port: u16, dst_port: u16, flags: u8) -> Shape {
    Shape {
        protocol,
        src_port,
        dst_port,
        flags,
        ..UDP
    }
}

/// Samples of a stream at `pps` true packets per second from `start` for `secs`,
/// evenly spaced, each standing for SAMPLING packets.
pub(super) fn stream(dst: &str, pps: f64, start: f64, secs: f64, s: Shape) -> Vec<FlowRecord> {
    let dst = ip(dst);
    let gap = f64::from(SAMPLING) / pps;
    let mut rnd = levee_testkit::Rng::new(pps.to_bits() ^ start.to_bits());
    let mut out = Vec::new();
    let mut k = 0u64;
    loop {
        let t = start + k as f64 * gap;
        if t >= start + secs {
            break;
        }
        let mut r = FlowRecord::blank(T0 + (t * 1e6) as u64, ip("192.0.2.250"), FlowType::Sflow);
        let n = (k % u64::from(s.sources)) as u32;
        r.src_addr = if dst.is_ipv4() {
            IpAddr::V4((0xc612_0000u32 + n).into())
        } else {
            IpAddr::V6((0x2001_0db8_ffff_u128 << 80 | u128::from(n)).into())
        };
        r.dst_addr = dst;
        (r.protocol, r.src_port, r.dst_port, r.tcp_flags) =
            (s.protocol, s.src_port, s.dst_port, s.flags);
        r.ttl = Some(if s.random_ttl {
            rnd.next_u64() as u8
        } else {
            57
        });
        r.packet_length = Some(s.len);
        r.fragment = s.fragment;
        r.set_scaled(SAMPLING, 1, u64::from(s.len));
        out.push(r);
        k += 1;
    }
    out
}

/// Feeds records in time order with a tick every 100 ms, then ticks on for `tail` s.
pub(super) fn drive(e: &mut Engine, mut recs: Vec<FlowRecord>, tail: f64) -> Vec<Event> {
    recs.sort_by_key(|r| r.time_us);
    let mut out = Vec::new();
    let mut next = (e.now_us / TICK_US + 1) * TICK_US;
    for r in &recs {
        while next <= r.time_us {
            out.extend(e.tick(next));
            next += TICK_US;
        }
        e.ingest(std::slice::from_ref(r));
    }
    let end = recs.last().map_or(e.now_us, |r| r.time_us) + (tail * 1e6) as u64;
    while next <= end {
        out.extend(e.tick(next));
        next += TICK_US;
    }
    out
}

pub(super) fn engine() -> Engine {
    let cfg = EngineConfig {
        networks: vec![NetworkConfig {
            name: "customers".into(),
            prefixes: vec![
                "203.0.113.0/24".parse().unwrap(),
                "2001:db8:1::/48".parse().unwrap(),
            ],
            policy: Policy::default(),
        }],
        ..EngineConfig::default()
    };
    Engine::new(cfg, T0, 42, 1)
}

pub(super) fn starts(ev: &[Event]) -> Vec<&Event> {
    ev.iter().filter(|e| e.kind == EventKind::Start).collect()
}

fn at(e: &Event) -> f64 {
    (e.time_us - T0) as f64 / 1e6
}

/// 400 s of quiet background (under 1k pps) to a victim, so its baseline is warm.
pub(super) fn warm(e: &mut Engine, victims: &[&str]) {
    let mut bg = Vec::new();
    for v in victims {
        bg.extend(stream(v, 800.0, 0.0, 400.0, shape(6, 443, 50000, 0x18)));
    }
    assert!(drive(e, bg, 0.0).is_empty());
}

#[test]
fn floods_are_detected_within_half_a_second_warm_or_not_v4_and_v6() {
    let cases: [(&str, f64, u16); 4] = [
        ("203.0.113.10", 100_000.0, 64),
        ("2001:db8:1::10", 100_000.0, 64),
        // 1 Gbps of full-size packets: 83k pps.
        ("203.0.113.11", 1e9 / 8.0 / 1500.0, 1500),
        ("2001:db8:1::11", 1e9 / 8.0 / 1500.0, 1500),
    ];
    for warmed in [false, true] {
        for (victim, pps, len) in cases {
            let mut e = engine();
            let start = if warmed {
                warm(&mut e, &[victim]);
                400.0
            } else {
                0.0
            };
            let flood = stream(victim, pps, start + 0.037, 5.0, Shape { len, ..UDP });
            let first = flood[0].time_us;
            let ev = drive(&mut e, flood, 1.0);
            let s = starts(&ev);
            assert_eq!(s.len(), 1, "{victim} warmed={warmed}: {ev:#?}");
            let delay = (s[0].time_us - first) as f64 / 1e6;
            assert!(
                delay <= 0.5,
                "{victim} warmed={warmed}: detected after {delay} s"
            );
            assert_eq!(s[0].victim, Victim::Host(ip(victim)));
            let reason = s[0].trigger.reason;
            let want = if warmed {
                Reason::Baseline
            } else {
                Reason::Warmup
            };
            assert_eq!(reason, want, "{victim}");
        }
    }
}

#[test]
fn reported_rate_is_within_ten_percent_from_one_second_on() {
    let mut e = engine();
    warm(&mut e, &["203.0.113.20"]);
    let ev = drive(
        &mut e,
        stream("203.0.113.20", 250_000.0, 400.0, 8.0, UDP),
        0.0,
    );
    let s = starts(&ev)[0];
    let updates: Vec<_> = ev.iter().filter(|e| e.kind == EventKind::Update).collect();
    assert!(updates.len() >= 6, "{updates:#?}");
    for u in updates {
        // From one second after the flood began (at 400 s).
        if at(u) >= 401.0 && at(u) <= 408.0 {
            let err = (u.rate.pps as f64 - 250_000.0).abs() / 250_000.0;
            assert!(err <= 0.10, "at {}: {} pps", at(u), u.rate.pps);
            let bps = 250_000.0 * 512.0 * 8.0;
            assert!((u.rate.bps as f64 - bps).abs() / bps <= 0.10);
        }
        assert_eq!(u.id, s.id);
    }
}

#[test]
fn ends_after_the_quiet_period_without_flapping() {
    let mut e = engine();
    warm(&mut e, &["203.0.113.30"]);
    // A flood that swings around its threshold (20k pps floor): 30k, then 18k (below,
    // but above 80 % of it), seven times over. One incident, not seven.
    let mut recs = Vec::new();
    for i in 0..7 {
        let t = 400.0 + f64::from(i) * 4.0;
        recs.extend(stream("203.0.113.30", 30_000.0, t, 2.0, UDP));
        recs.extend(stream("203.0.113.30", 18_000.0, t + 2.0, 2.0, UDP));
    }
    let ev = drive(&mut e, recs, 30.0);
    assert_eq!(starts(&ev).len(), 1, "{:#?}", starts(&ev));
    let end: Vec<_> = ev.iter().filter(|e| e.kind == EventKind::End).collect();
    assert_eq!(end.len(), 1);
    // The last traffic stops at 428 s and the window empties by 429 s: quiet 10 s later.
    let t = at(end[0]);
    assert!((438.0..=439.5).contains(&t), "ended at {t}");
    assert_eq!(e.stats().incidents_active, 0);
    // Updates once a second in between.
    let n = ev.iter().filter(|e| e.kind == EventKind::Update).count();
    assert!((35..=40).contains(&n), "{n} updates");
}

#[test]
fn legitimate_growth_and_short_bursts_do_not_fire_after_warmup() {
    let mut e = engine();
    let v = "203.0.113.40";
    let web = shape(6, 50000, 443, 0x18);
    let mut recs = Vec::new();
    // Warm at 25k pps (above the floor, so the baseline is what decides), with ±20 %
    // second-to-second wobble.
    let mut rnd = levee_testkit::Rng::new(9);
    let mut wobble = |base: f64| base * (0.8 + (rnd.next_u64() % 400) as f64 / 1000.0);
    for s in 0..400 {
        recs.extend(stream(v, wobble(25_000.0), f64::from(s), 1.0, web));
    }
    // Then doubling over five minutes, twice: 25k to 100k pps by 1,000 s.
    for s in 400..1000 {
        let base = 25_000.0 * 2f64.powf(f64::from(s - 400) / 300.0);
        recs.extend(stream(v, wobble(base), f64::from(s), 1.0, web));
    }
    // A 2 s spike to twice the rate, and a 200 ms microburst at four times it.
    recs.extend(stream(v, 100_000.0, 1000.0, 2.0, web));
    recs.extend(stream(v, 300_000.0, 1010.0, 0.2, web));
    for s in 1000..1030 {
        recs.extend(stream(v, 100_000.0, f64::from(s), 1.0, web));
    }
    let ev = drive(&mut e, recs, 5.0);
    assert!(ev.is_empty(), "{:#?}", starts(&ev));
}

#[test]
fn baseline_converges_and_does_not_learn_attack_seconds() {
    let mut e = engine();
    let v = "203.0.113.50";
    let mut recs = stream(v, 10_000.0, 0.0, 400.0, shape(6, 50000, 443, 0x18));
    // A ten-minute flood: longer than the 300 s baseline window.
    recs.extend(stream(v, 200_000.0, 400.0, 600.0, UDP));
    recs.extend(stream(
        v,
        10_000.0,
        400.0,
        600.0,
        shape(6, 50000, 443, 0x18),
    ));
    let ev = drive(&mut e, recs, 0.0);
    assert_eq!(starts(&ev).len(), 1);
    // Still one incident, open to the end: the flood never became "normal".
    assert!(ev.iter().all(|e| e.kind != EventKind::End));
    let h = &e.hosts[e.index[&ip(v)] as usize];
    let p99 = h.baseline.p99();
    assert!(p99.pps.abs_diff(10_000) <= 1_000, "{p99:?}");
    assert_eq!(h.baseline.samples(), 300);
    let last = ev.last().unwrap();
    assert!(
        last.rate.pps.abs_diff(210_000) <= 21_000,
        "{}",
        last.rate.pps
    );
    assert!(last.peak.pps >= last.rate.pps);
}

#[test]
fn each_family_and_vector_is_named() {
    let many = |s: Shape| Shape { sources: 2000, ..s };
    let cases = [
        (
            shape(17, 123, 40000, 0),
            Family::UdpFlood,
            "ntp_amplification",
        ),
        (
            shape(17, 11211, 40000, 0),
            Family::UdpFlood,
            "memcached_amplification",
        ),
        (
            shape(17, 53, 40000, 0),
            Family::DnsFlood,
            "dns_amplification",
        ),
        (shape(17, 40000, 53, 0), Family::DnsFlood, "dns_query_flood"),
        (UDP, Family::UdpFlood, "udp_flood"),
        (
            Shape {
                fragment: true,
                src_port: 0,
                dst_port: 0,
                ..UDP
            },
            Family::UdpFlood,
            "fragment_flood",
        ),
        (shape(6, 40000, 80, 0x02), Family::SynFlood, "syn_flood"),
        (shape(6, 40000, 80, 0x10), Family::SynFlood, "tcp_ack_flood"),
        (shape(1, 0, 0, 0), Family::IcmpFlood, "icmp_flood"),
        (
            many(shape(6, 40000, 443, 0x18)),
            Family::HttpFlood,
            "http_flood",
        ),
        (shape(47, 0, 0, 0), Family::Unknown, "ip_protocol_flood"),
    ];
    for (s, family, vector) in cases {
        let mut e = engine();
        let ev = drive(&mut e, stream("203.0.113.60", 150_000.0, 0.0, 4.0, s), 0.0);
        let st = starts(&ev);
        assert_eq!(st.len(), 1, "{vector}");
        let last = ev.last().unwrap();
        for e in [st[0], last] {
            assert_eq!((e.family, e.vector.as_str()), (family, vector), "{e:#?}");
        }
    }
}

#[test]
fn concurrent_vectors_are_one_multi_vector_incident() {
    let mut e = engine();
    let v = "2001:db8:1::60";
    let mut recs = stream(v, 120_000.0, 0.0, 4.0, shape(6, 40000, 80, 0x02));
    recs.extend(stream(v, 100_000.0, 0.0, 4.0, shape(17, 123, 40000, 0)));
    let ev = drive(&mut e, recs, 0.0);
    assert_eq!(starts(&ev).len(), 1);
    let last = ev.last().unwrap();
    assert_eq!(last.family, Family::MultiVector);
    assert_eq!(last.vector, "syn_flood+ntp_amplification");
    assert!(last.top_src_ports.iter().any(|(p, _)| *p == 123));
}

#[test]
fn sources_botnet_spoofing_heavy_hitters_and_threat_intel() {
    let mut e = engine();
    let mut set = crate::prefixset::PrefixSet::default();
    set.insert("198.18.0.0/22".parse().unwrap(), 0);
    e.set_threat_intel(Some(ThreatIntel {
        set,
        names: vec!["blocklist".into()],
    }));
    let botnet = Shape {
        sources: 5000,
        random_ttl: true,
        ..shape(17, 40000, 27015, 0)
    };
    let ev = drive(
        &mut e,
        stream("203.0.113.70", 300_000.0, 0.0, 10.0, botnet),
        0.0,
    );
    let last = ev.last().unwrap();
    assert!(last.botnet && last.spoofed, "{last:#?}");
    assert!(
        last.distinct_sources.abs_diff(3000) <= 300,
        "{}",
        last.distinct_sources
    );
    assert_eq!(last.top_dst_ports[0], (27015, 1.0));
    assert_eq!(last.top_packet_lengths[0], (512, 1.0));
    // 1,024 listed sources sent: 32 listed by address, all counted.
    assert_eq!(last.threat_intel.len(), 32);
    assert!(
        last.threat_intel_packets >= 1_000 * 1_000,
        "{}",
        last.threat_intel_packets
    );
    assert_eq!(last.threat_intel[0].1, "blocklist");
    assert!(last.confidence >= 80, "{}", last.confidence);

    // One source with a real TTL: not a botnet, not spoofed, and the top source.
    let mut e = engine();
    let ev = drive(
        &mut e,
        stream(
            "203.0.113.71",
            300_000.0,
            0.0,
            5.0,
            Shape { sources: 1, ..UDP },
        ),
        0.0,
    );
    let last = ev.last().unwrap();
    assert!(!last.botnet && !last.spoofed);
    assert_eq!(last.top_sources, vec![(ip("198.18.0.0"), 1.0)]);
    assert!(last.threat_intel.is_empty());
}

#[test]
fn carpet_bombing_is_a_network_incident() {
    let mut e = engine();
    let mut recs = Vec::new();
    // 16 IPs at 800 pps for 400 s, then 200 IPs each at 2k pps: each under the 20k
    // floor, 400k pps in all.
    for i in 1..=16 {
        recs.extend(stream(&format!("203.0.113.{i}"), 800.0, 0.0, 400.0, UDP));
    }
    for i in 1..=200 {
        recs.extend(stream(&format!("203.0.113.{i}"), 2_000.0, 400.0, 5.0, UDP));
    }
    let ev = drive(&mut e, recs, 0.0);
    let s = starts(&ev);
    assert_eq!(s.len(), 1, "{s:#?}");
    assert_eq!(s[0].victim, Victim::Network("customers".into()));
}

#[test]
fn tracking_is_capped_and_idle_ips_are_evicted() {
    let mut e = engine();
    e.cfg.max_tracked = 10;
    e.cfg.idle_timeout_s = 60;
    let mut recs = Vec::new();
    for i in 1..=20 {
        recs.extend(stream(&format!("203.0.113.{i}"), 500.0, 0.0, 10.0, UDP));
    }
    recs.extend(stream("192.0.2.1", 500.0, 0.0, 10.0, UDP));
    let n = recs.len() as u64;
    drive(&mut e, recs, 0.0);
    let s = e.stats();
    assert_eq!((s.records, s.tracked, s.outside), (n, 10, 5));
    // A full table makes room (never first-come refusal): nothing goes untracked.
    assert_eq!(s.untracked, 0);
    assert!(s.displaced >= 10, "{s:?}");
    drive(&mut e, Vec::new(), 75.0);
    let s = e.stats();
    assert_eq!((s.tracked, s.evicted), (0, 10));
}

/// The per-IP budget is 1 KiB: the host record plus its index entry.
#[test]
fn per_ip_state_fits_the_budget() {
    use std::mem::size_of;
    let host = size_of::<host::Host>();
    let index = size_of::<(IpAddr, u32)>() + 1;
    assert!(host <= 816, "{host}");
    assert!(host + index <= 1024, "{host} + {index}");
}
