//! Traffic history end to end: `levee run` takes a flood over sFlow on loopback, is
//! stopped, and `levee traffic --json` (the daemon no longer running) shows the
//! network's minute with the flood's rate as its busiest second, the packets sent, and
//! (`--incident`) the incident's per-second series stored with it. While it runs, /metrics shows the
//! history recording. A stream from a protected host to outside shows as the network's
//! outbound traffic (live feed, API, store), and not as inbound.

mod common;

use common::{http_get, metric, sse};
use levee_testkit::lab::{free_port, free_udp_port};
use levee_testkit::traffic::{Scenario, UDP};
use std::io::Read;
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn a_replayed_flood_shows_in_levee_traffic() {
    let port = free_udp_port();
    let web = format!("127.0.0.1:{}", free_port());
    let dir = std::env::temp_dir().join(format!("levee-history-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("levee.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listeners:\n  sflow: {{bind: 127.0.0.1:{port}}}\n  netflow: {{enabled: false}}\n  \
             ipfix: {{enabled: false}}\nprotected_networks:\n  - name: lab\n    prefixes: [203.0.113.0/24]\n\
             store: {{path: {dir}/levee.db}}\ncontrol: {{socket: {dir}/control.sock}}\n\
             history: {{retention: 2d}}\nweb: {{listen: {web}, public: true}}\n",
            dir = dir.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_levee"))
        .args(["--log", "info", "--config", cfg.to_str().unwrap(), "run"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The listener is bound before the control socket is made.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !dir.join("control.sock").exists() {
        assert!(Instant::now() < deadline, "levee run did not start");
        assert!(child.try_wait().unwrap().is_none(), "levee run ended early");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The page's live feed, heard while the flood runs.
    let wait = Instant::now() + Duration::from_secs(60);
    while !http_get(&web, "/api/v1/status").0.contains("200") {
        assert!(Instant::now() < wait, "the web endpoint did not answer");
        std::thread::sleep(Duration::from_millis(50));
    }
    let events = sse(&web, "/api/v1/events", 8);
    std::thread::sleep(Duration::from_millis(300));
    // 4 s of 2k pps background to .10 and, from 1 s, 3 s of 150k pps to .20; and 4 s
    // of 20k pps from .10 to outside (198.51.100.1): outbound.
    let mut s = Scenario::default();
    s.stream(0, "203.0.113.10", 2_000.0, 0.0, 4.0, 1000, UDP);
    s.stream(0, "203.0.113.20", 150_000.0, 1.0, 3.0, 1000, UDP);
    s.stream_from(
        0,
        "203.0.113.10",
        "198.51.100.1",
        20_000.0,
        0.0,
        4.0,
        1000,
        UDP,
    );
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let start = Instant::now();
    for (t, d) in s.datagrams(1000) {
        let due = Duration::from_micros(t);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
        sock.send_to(&d, ("127.0.0.1", port)).unwrap();
    }
    // The flood has just ended (the incident lasts its quiet period): the public page
    // says the network is under attack, with no address on it, and no login.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, body) = http_get(&web, "/api/v1/public");
        assert!(status.contains("200"), "{status} {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if v["networks"][0]["under_attack"] == true {
            assert_eq!(v["networks"][0]["name"], "lab", "{body}");
            // Dry run is off but no adapter is configured: nothing is announced.
            assert!(!body.contains("203.0.113"), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "{body}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let (status, html) = http_get(&web, "/status");
    assert!(status.contains("200"), "{status}");
    assert!(
        html.contains("Under attack") && html.contains("lab"),
        "{html}"
    );
    assert!(
        !html.contains("203.0.113") && !html.contains("<script"),
        "{html}"
    );
    // Every second with traffic closed before the stop, and the history counting them:
    // the network's hour is allocated, the victim followed.
    std::thread::sleep(Duration::from_millis(1500));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = http_get(&web, "/metrics");
        let seconds = metric(&body, "levee_history_seconds_total").unwrap_or(0.0);
        let bytes = metric(&body, "levee_history_memory_bytes").unwrap_or(0.0);
        if seconds >= 5.0 && bytes >= 230_400.0 {
            assert_eq!(
                metric(&body, "levee_history_dropped_seconds_total"),
                Some(0.0)
            );
            break;
        }
        assert!(Instant::now() < deadline, "{body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The live feed: a traffic frame a second with the network's rates (the flood's
    // among them), the victim among the top destinations, the incident's start.
    let events = events.join().unwrap();
    let traffic: Vec<&serde_json::Value> = events
        .iter()
        .filter(|(n, _)| n == "traffic")
        .map(|(_, v)| v)
        .collect();
    assert!(traffic.len() >= 4, "{events:?}");
    let flood = traffic
        .iter()
        .filter_map(|t| t["networks"][0]["protocols"]["udp"]["pps"].as_u64())
        .max()
        .unwrap();
    assert!((100_000..=400_000).contains(&flood), "{events:?}");
    let listed = |addr: &str| {
        traffic.iter().any(|t| {
            t["top_destinations"]
                .as_array()
                .is_some_and(|d| d.iter().any(|d| d["address"] == addr))
        })
    };
    assert!(listed("203.0.113.20"), "{events:?}");
    // The background's destination is no suspect: listed as one of the busiest of all
    // tracked IPs (picked because this stream listens).
    assert!(listed("203.0.113.10"), "{events:?}");
    // The incident's victim carries its id.
    assert!(
        traffic
            .iter()
            .any(|t| t["top_destinations"].as_array().is_some_and(|d| d
                .iter()
                .any(|d| d["address"] == "203.0.113.20" && d["incident"].is_u64()))),
        "{events:?}"
    );
    // Outbound: 20k pps out of the network, never counted in.
    let out = traffic
        .iter()
        .filter_map(|t| t["networks"][0]["out"]["pps"].as_u64())
        .max()
        .unwrap();
    assert!((10_000..=40_000).contains(&out), "{events:?}");
    assert!(
        traffic
            .iter()
            .all(|t| t["networks"][0]["out"]["bps"].as_u64().is_some()),
        "{events:?}"
    );
    assert!(
        events.iter().any(|(n, v)| n == "incident"
            && v["kind"] == "start"
            && v["victim"] == "203.0.113.20"
            && v["network"] == "lab"),
        "{events:?}"
    );
    // The last hour at one-second resolution (in steps of 3 s: at most 1440 points),
    // through the API.
    let (status, body) = http_get(&web, "/api/v1/traffic?network=lab");
    assert!(status.contains("200"), "{status} {body}");
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    let series = &doc["series"][0];
    assert_eq!(series["resolution"], "second", "{body}");
    let peak = series["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["peak_pps"].as_u64())
        .max()
        .unwrap();
    assert!((100_000..=400_000).contains(&peak), "{body}");
    let peak_out = series["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["peak_out_pps"].as_u64())
        .max()
        .unwrap();
    assert!((10_000..=40_000).contains(&peak_out), "{body}");
    assert!(
        series["points"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["out"]["pps"].as_u64().is_some_and(|v| v > 0)),
        "{body}"
    );
    let (status, _) = http_get(&web, "/api/v1/traffic?network=nope");
    assert!(status.contains("404"), "{status}");
    let (status, body) = http_get(&web, "/api/v1/traffic?step=0");
    assert!(status.contains("400"), "{status} {body}");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(status.success(), "{log}");
    assert!(log.contains("incident started"), "{log}");

    // The daemon is stopped: levee traffic reads the store.
    let out = Command::new(env!("CARGO_BIN_EXE_levee"))
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "traffic",
            "--json",
            "--since",
            "10m",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let nets = doc["networks"].as_array().unwrap();
    assert_eq!(nets.len(), 1, "{text}");
    assert_eq!(nets[0]["network"], "lab");
    assert_eq!(nets[0]["resolution"], "minute");
    let points = nets[0]["points"].as_array().unwrap();
    assert!(!points.is_empty(), "{text}");
    let u = |p: &serde_json::Value, k: &str| p[k].as_u64().unwrap();
    // The busiest second is the flood's (150k pps with the background, give or take
    // the pacing of a loaded machine).
    let peak = points.iter().map(|p| u(p, "peak_pps")).max().unwrap();
    assert!(
        (100_000..=400_000).contains(&peak),
        "peak {peak} pps: {text}"
    );
    // All of it UDP, and all of it counted: 450k flood and 8k background packets.
    let packets: u64 = points
        .iter()
        .map(|p| p["protocols"]["udp"]["pps"].as_u64().unwrap() * u(p, "seconds"))
        .sum();
    let sent = 458_000;
    assert!(
        packets.abs_diff(sent) <= sent / 50 + 60 * points.len() as u64,
        "{packets} packets counted of {sent}: {text}"
    );
    assert!(points.iter().all(|p| p["protocols"]["tcp"]["pps"] == 0));
    // Outbound, stored with the minutes: all 80k packets, the busiest second ~20k.
    let out: u64 = points
        .iter()
        .map(|p| p["out"]["pps"].as_u64().unwrap() * u(p, "seconds"))
        .sum();
    let sent_out = 80_000;
    assert!(
        out.abs_diff(sent_out) <= sent_out / 50 + 60 * points.len() as u64,
        "{out} packets out counted of {sent_out}: {text}"
    );
    let peak_out = points.iter().map(|p| u(p, "peak_out_pps")).max().unwrap();
    assert!((10_000..=40_000).contains(&peak_out), "{text}");
    // The text form reads the same store.
    let out = Command::new(env!("CARGO_BIN_EXE_levee"))
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "traffic",
            "--network",
            "lab",
        ])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && table.contains("lab: towards its prefixes")
            && table.contains("out pps"),
        "{table}"
    );
    // An unknown network is an error, not an empty answer.
    let out = Command::new(env!("CARGO_BIN_EXE_levee"))
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "traffic",
            "--network",
            "nope",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no traffic history for network"));

    // The incident's per-second series is stored with it: the flood's seconds.
    let id = log
        .lines()
        .find(|l| l.contains("incident started"))
        .and_then(|l| l.split(" id=").nth(1))
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .unwrap_or_else(|| panic!("no incident id: {log}"))
        .to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_levee"))
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "traffic",
            "--incident",
            &id,
            "--json",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["victim"], "203.0.113.20", "{text}");
    assert_eq!(doc["step"], 1, "{text}");
    let series: Vec<(u64, u64)> = serde_json::from_value(doc["points"].clone()).unwrap();
    let top = series.iter().map(|p| p.0).max().unwrap();
    assert!((100_000..=400_000).contains(&top), "{series:?}");
    // An incident with no stored series: a clear error.
    let out = Command::new(env!("CARGO_BIN_EXE_levee"))
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "traffic",
            "--incident",
            "999999",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no traffic series stored"));
    let _ = std::fs::remove_dir_all(&dir);
}
