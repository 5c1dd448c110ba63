//! `levee replay` over a generated sFlow capture: background traffic for 400 s (past the
//! 300 s warm-up) and a flood of each family against its own victim, one during warm-up.
//! Each flood must be found, with the right family and vector, within 0.5 s of its first
//! sampled packet; the background must raise nothing.

mod common;

use levee_testkit::traffic::{Scenario, Shape, UDP};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;

/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600_000_000;
const RATE: u32 = 1000;

const CONFIG: &str = "
listeners:
  sflow: {enabled: false}
  netflow: {enabled: false}
  ipfix: {enabled: false}
protected_networks:
  - name: customers
    prefixes: [203.0.113.0/24, 2001:db8:1::/48]
  - name: hosting
    prefixes: [198.51.100.0/24]
    detection:
      multiplier: 4
";

fn shape(protocol: u8, src_port: u16, dst_port: u16, tcp_flags: u8, len: u16) -> Shape {
    Shape {
        protocol,
        src_port,
        dst_port,
        tcp_flags,
        len,
        ..UDP
    }
}

struct Flood {
    victim: &'static str,
    start: f64,
    family: &'static str,
    vector: &'static str,
}

fn scenario(dir: &std::path::Path) -> (std::path::PathBuf, Vec<Flood>) {
    let mut s = Scenario::default();
    let web = shape(6, 443, 51000, 0x18, 1200);
    // Background: quiet hosts, a busy web server (30k pps: under the 50k warm-up
    // threshold, then held by its own baseline) and DNS traffic.
    for i in 1..=20 {
        s.stream(
            T0,
            &format!("203.0.113.{i}"),
            300.0 + 30.0 * f64::from(i),
            0.0,
            400.0,
            RATE,
            web,
        );
    }
    for i in 1..=5 {
        s.stream(
            T0,
            &format!("2001:db8:1::{i}"),
            500.0,
            0.0,
            400.0,
            RATE,
            web,
        );
    }
    s.stream(T0, "198.51.100.80", 30_000.0, 0.0, 400.0, RATE, web);
    s.stream(
        T0,
        "198.51.100.53",
        2_000.0,
        0.0,
        400.0,
        RATE,
        shape(17, 40000, 53, 0, 80),
    );
    // Outside every protected network: ignored whatever its rate.
    s.stream(T0, "192.0.2.99", 500_000.0, 100.0, 5.0, RATE, UDP);

    let many = |sh: Shape| Shape {
        sources: 2000,
        ..sh
    };
    let spoofed = |sh: Shape| Shape {
        sources: 60_000,
        random_ttl: true,
        ..sh
    };
    let floods: Vec<(&str, f64, f64, Shape, &str, &str)> = vec![
        // During warm-up, IPv6.
        (
            "2001:db8:1::100",
            100.0,
            100_000.0,
            UDP,
            "udp_flood",
            "udp_flood",
        ),
        (
            "203.0.113.101",
            305.0,
            200_000.0,
            UDP,
            "udp_flood",
            "udp_flood",
        ),
        (
            "203.0.113.102",
            320.0,
            100_000.0,
            many(shape(17, 123, 40000, 0, 468)),
            "udp_flood",
            "ntp_amplification",
        ),
        (
            "203.0.113.103",
            335.0,
            90_000.0,
            many(shape(17, 11211, 40000, 0, 1400)),
            "udp_flood",
            "memcached_amplification",
        ),
        (
            "203.0.113.104",
            350.0,
            100_000.0,
            many(shape(17, 53, 40000, 0, 1200)),
            "dns_flood",
            "dns_amplification",
        ),
        (
            "198.51.100.105",
            365.0,
            150_000.0,
            spoofed(shape(17, 40000, 53, 0, 80)),
            "dns_flood",
            "dns_query_flood",
        ),
        (
            "203.0.113.106",
            380.0,
            300_000.0,
            spoofed(shape(6, 40000, 80, 0x02, 60)),
            "syn_flood",
            "syn_flood",
        ),
        (
            "2001:db8:1::107",
            305.0,
            150_000.0,
            spoofed(shape(6, 40000, 443, 0x10, 60)),
            "syn_flood",
            "tcp_ack_flood",
        ),
        (
            "2001:db8:1::108",
            320.0,
            120_000.0,
            shape(1, 0, 0, 0, 1000),
            "icmp_flood",
            "icmp_flood",
        ),
        (
            "203.0.113.109",
            335.0,
            120_000.0,
            many(shape(6, 52000, 443, 0x18, 600)),
            "http_flood",
            "http_flood",
        ),
        (
            "203.0.113.110",
            350.0,
            100_000.0,
            Shape {
                fragment: true,
                len: 1500,
                ..UDP
            },
            "udp_flood",
            "fragment_flood",
        ),
    ];
    let mut out = Vec::new();
    for (victim, start, pps, sh, family, vector) in floods {
        s.stream(T0, victim, 500.0, 0.0, 400.0, RATE, web);
        s.stream(T0, victim, pps, start, 10.0, RATE, sh);
        out.push(Flood {
            victim,
            start,
            family,
            vector,
        });
    }
    // Two vectors at once against one victim.
    let v = "203.0.113.111";
    s.stream(T0, v, 500.0, 0.0, 400.0, RATE, web);
    s.stream(
        T0,
        v,
        120_000.0,
        365.0,
        10.0,
        RATE,
        spoofed(shape(6, 40000, 80, 0x02, 60)),
    );
    s.stream(
        T0,
        v,
        100_000.0,
        365.0,
        10.0,
        RATE,
        many(shape(17, 123, 40000, 0, 468)),
    );
    out.push(Flood {
        victim: v,
        start: 365.0,
        family: "multi_vector",
        vector: "syn_flood+ntp_amplification",
    });
    let path = dir.join("floods.pcap");
    s.write_pcap(&path, RATE);
    (path, out)
}

/// The true rate of each flood, as the scenario sends it.
fn floods_pps(victim: &str) -> f64 {
    match victim {
        "203.0.113.101" => 200_000.0,
        "203.0.113.103" => 90_000.0,
        "198.51.100.105" | "2001:db8:1::107" => 150_000.0,
        "203.0.113.106" => 300_000.0,
        "2001:db8:1::108" | "203.0.113.109" => 120_000.0,
        "203.0.113.111" => 220_000.0,
        _ => 100_000.0,
    }
}

fn replay(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_levee"))
        .args(["--log", "warn", "replay"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn each_family_is_detected_and_background_raises_nothing() {
    let dir = tempdir();
    let (pcap, floods) = scenario(&dir);
    let cfg = dir.join("levee.yaml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let out = replay(&["--config", cfg.to_str().unwrap(), pcap.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let events: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect();
    let mut by_victim: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for e in &events {
        for key in [
            "event",
            "id",
            "time",
            "victim",
            "family",
            "vector",
            "confidence",
            "pps",
            "bps",
            "peak_pps",
            "peak_bps",
            "distinct_sources",
            "botnet",
            "spoofed",
            "top_sources",
            "top_src_ports",
            "top_dst_ports",
        ] {
            assert!(e.get(key).is_some(), "{key} missing in {e}");
        }
        by_victim
            .entry(e["victim"].as_str().unwrap().to_string())
            .or_default()
            .push(e);
    }
    let expected: Vec<&str> = floods.iter().map(|f| f.victim).collect();
    let unexpected: Vec<&String> = by_victim
        .keys()
        .filter(|v| !expected.contains(&v.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "incidents on background or outside victims: {unexpected:?}"
    );
    for f in &floods {
        let ev = by_victim
            .get(f.victim)
            .unwrap_or_else(|| panic!("{} not detected", f.victim));
        let starts: Vec<_> = ev
            .iter()
            .filter(|e| e["event"] == "incident_start")
            .collect();
        assert_eq!(starts.len(), 1, "{}: {starts:?}", f.victim);
        let start = rfc3339_us(starts[0]["start"].as_str().unwrap());
        let first = T0 + (f.start * 1e6) as u64;
        let delay = start as f64 / 1e6 - first as f64 / 1e6;
        let emitted =
            rfc3339_us(starts[0]["time"].as_str().unwrap()) as f64 / 1e6 - first as f64 / 1e6;
        assert!(
            delay >= 0.0 && emitted <= 0.5,
            "{}: crossed after {delay} s, reported after {emitted} s",
            f.victim
        );
        let end = ev
            .iter()
            .find(|e| e["event"] == "incident_end")
            .expect("ends");
        assert_eq!(
            (
                end["family"].as_str().unwrap(),
                end["vector"].as_str().unwrap()
            ),
            (f.family, f.vector),
            "{}: {end}",
            f.victim
        );
        // An update each second: 10 s of flood, then the 10 s quiet period.
        let upd = ev
            .iter()
            .filter(|e| e["event"] == "incident_update")
            .count();
        assert!((18..=22).contains(&upd), "{}: {upd} updates", f.victim);
        // From one second in, updates report the flood's rate (plus the 500 pps
        // background) within 10 %.
        let expect = floods_pps(f.victim) + 500.0;
        for u in ev.iter().filter(|e| e["event"] == "incident_update") {
            let t = rfc3339_us(u["time"].as_str().unwrap()) as f64 / 1e6 - T0 as f64 / 1e6;
            if t >= f.start + 1.0 && t <= f.start + 10.0 {
                let pps = u["pps"].as_f64().unwrap();
                assert!(
                    (pps - expect).abs() / expect <= 0.10,
                    "{} at {t}: {pps} pps",
                    f.victim
                );
            }
        }
        assert!(!end["top_sources"].as_array().unwrap().is_empty());
    }
    let spoofed = by_victim["203.0.113.106"].last().unwrap();
    assert_eq!(
        (spoofed["spoofed"].as_bool(), spoofed["botnet"].as_bool()),
        (Some(true), Some(true))
    );
    let peak = by_victim["203.0.113.106"].last().unwrap()["peak_pps"]
        .as_u64()
        .unwrap();
    assert!(peak.abs_diff(300_500) <= 30_000, "peak {peak}");
    assert!(stderr.contains("12 incidents"), "{stderr}");

    // --summary: one line per incident.
    let out = replay(&[
        "--config",
        cfg.to_str().unwrap(),
        "--summary",
        pcap.to_str().unwrap(),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 12, "{text}");
    assert!(
        text.contains("203.0.113.102 udp_flood/ntp_amplification"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn mirror_captures_replay_and_missing_networks_or_files_are_errors() {
    let dir = tempdir();
    let cfg = dir.join("levee.yaml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let traffic = common::fixtures().join("traffic.pcap");
    let out = replay(&[
        "--config",
        cfg.to_str().unwrap(),
        "--mirror",
        traffic.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "the fixture's few packets are no attack"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 incidents"));

    let out = replay(&["--config", cfg.to_str().unwrap(), "/nonexistent.pcap"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.pcap: no such file"));

    let bare = dir.join("bare.yaml");
    std::fs::write(&bare, "listeners: {}\n").unwrap();
    let out = replay(&[
        "--config",
        bare.to_str().unwrap(),
        traffic.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no protected networks"));

    let intel = dir.join("intel.yaml");
    std::fs::write(
        &intel,
        format!(
            "{CONFIG}detection:\n  threat_intel:\n    - {{name: feed, path: {}/missing.txt}}\n",
            dir.display()
        ),
    )
    .unwrap();
    let out = replay(&[
        "--config",
        intel.to_str().unwrap(),
        traffic.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("threat intel list \"feed\": cannot read")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "levee-replay-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Parses levee's "2026-01-01T00:05:05.123456Z" back to µs.
fn rfc3339_us(s: &str) -> u64 {
    let (date, time) = s.trim_end_matches('Z').split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<u64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe - 719_468) as u64;
    let frac_us: u64 = format!("{frac:0<6}")[..6].parse().unwrap();
    ((days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]) * 1_000_000) + frac_us
}
