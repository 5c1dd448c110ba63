//! Warm restarts: `levee run` (dry run) learns a victim's baseline from live sFlow over
//! loopback, detects a flood on it against that baseline, is stopped (SIGTERM) in the
//! middle of the flood and started again, and the restarted daemon detects the
//! ongoing flood on the restored baseline at once.
//!
//! The flood (30k pps against a baseline of 1k pps) is above the baseline threshold
//! (3 × p99, floor 5k pps) and far below the warm-up thresholds (10M pps). A fresh
//! engine could never report it as a baseline detection while it lasts: until 20 s of
//! history it judges on the warm-up thresholds, and a host past half a threshold learns
//! nothing. So a `reason=baseline` start after the restart is the restored baseline.
//!
//! Then `levee reload` with a second protected prefix and lower warm-up thresholds: the
//! engine takes them without a restart, keeping the victim's baseline, and a flood
//! inside the new prefix is detected.

mod common;

use common::Running;
use levee_testkit::lab::free_udp_port;
use levee_testkit::traffic::{Scenario, UDP};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const VICTIM: &str = "203.0.113.10";

/// `levee run` on `cfg`, once its listener is bound.
fn start(cfg: &Path, log: PathBuf) -> Running {
    let d = Running::start(cfg, log);
    wait_for(&d, |l| l.contains("listener bound"), "the listener");
    d
}

/// Polls the daemon's log (generous deadline: the machine is loaded).
fn wait_for(d: &Running, f: impl Fn(&str) -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if d.log().lines().any(&f) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no {what} in the log:\n{}", d.log());
}

/// Sends `secs` of traffic paced in real time: 1k pps of background to the victim,
/// plus, when `flood`, 30k pps more; sampled 1:100. Stops early when `until` holds.
fn send(port: u16, secs: f64, flood: bool, until: &dyn Fn() -> bool) {
    let mut s = Scenario::default();
    s.stream(0, VICTIM, 1_000.0, 0.0, secs, 100, UDP);
    if flood {
        s.stream(0, VICTIM, 30_000.0, 0.0, secs, 100, UDP);
    }
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let start = Instant::now();
    for (i, (t, d)) in s.datagrams(100).into_iter().enumerate() {
        let due = Duration::from_micros(t);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
        sock.send_to(&d, ("127.0.0.1", port)).unwrap();
        if i % 16 == 0 && until() {
            return;
        }
    }
}

fn baseline_start(log: &str) -> bool {
    log.lines().any(|l| {
        l.contains("incident started") && l.contains(VICTIM) && l.contains("reason=baseline")
    })
}

#[test]
fn baseline_detection_continues_across_a_restart_mid_attack() {
    let port = free_udp_port();
    let dir = std::env::temp_dir().join(format!("levee-warm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("levee.yaml");
    let yaml = |prefixes: &str, warmup_pps: &str| {
        format!(
            "listeners:\n  sflow: {{bind: 127.0.0.1:{port}}}\n  netflow: {{enabled: false}}\n  \
             ipfix: {{enabled: false}}\n\
             protected_networks:\n  - name: lab\n    prefixes: [{prefixes}]\n\
             detection:\n  multiplier: 3\n  floor: {{pps: 5k}}\n  \
             warmup: {{duration: 20s, thresholds: {{pps: {warmup_pps}, bps: 100Gbps}}}}\n\
             mitigation: {{dry_run: true}}\n\
             store: {{path: {dir}/levee.db}}\ncontrol: {{socket: {dir}/control.sock}}\n",
            dir = dir.display()
        )
    };
    std::fs::write(&cfg, yaml("203.0.113.0/24", "10M")).unwrap();

    // First run: 24 s of background (20 s of warm-up and the first p99s), then the
    // flood, detected against the baseline.
    let first = start(&cfg, dir.join("first.log"));
    send(port, 24.0, false, &|| false);
    assert!(!first.log().contains("incident started"), "{}", first.log());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !baseline_start(&first.log()) && Instant::now() < deadline {
        send(port, 1.0, true, &|| baseline_start(&first.log()));
    }
    // Mid-attack: the flood is still being sent when the daemon is stopped.
    send(port, 0.5, true, &|| false);
    let log = first.stop();
    assert!(baseline_start(&log), "first run:\n{log}");
    assert!(log.contains("baselines saved for the next start"), "{log}");
    let snap = dir.join("baselines.snap");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&snap).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // Second run: the baselines come back and the ongoing flood is a baseline
    // detection again (never a warm-up one: those thresholds are far above it).
    let second = start(&cfg, dir.join("second.log"));
    wait_for(
        &second,
        |l| l.contains("baselines restored from the last run") && l.contains("hosts=1"),
        "restore",
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !baseline_start(&second.log()) && Instant::now() < deadline {
        send(port, 1.0, true, &|| baseline_start(&second.log()));
    }
    assert!(
        baseline_start(&second.log()),
        "second run:\n{}",
        second.log()
    );

    // A reload adds 198.51.100.0/24 and lowers the warm-up thresholds to 100k pps:
    // applied by the running engine, the victim's baseline kept; a 300k pps flood in
    // the new prefix (no history there: judged on the new warm-up thresholds) is then
    // detected.
    std::fs::write(&cfg, yaml("203.0.113.0/24, 198.51.100.0/24", "100k")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_levee"))
        .args(["--config", cfg.to_str().unwrap(), "reload", "--socket"])
        .arg(dir.join("control.sock"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}\n{}", second.log());
    assert!(
        text.contains("detection: 1 tracked IPs kept with their baselines"),
        "{text}"
    );
    let other = "198.51.100.20";
    let started = |log: &str| {
        log.lines()
            .any(|l| l.contains("incident started") && l.contains(other))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !started(&second.log()) && Instant::now() < deadline {
        let mut s = Scenario::default();
        s.stream(0, other, 300_000.0, 0.0, 1.0, 1000, UDP);
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let start = Instant::now();
        for (t, d) in s.datagrams(1000) {
            if let Some(wait) = Duration::from_micros(t).checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
            sock.send_to(&d, ("127.0.0.1", port)).unwrap();
        }
    }
    let log = second.stop();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(started(&log), "after the reload:\n{log}");
    let warmup_on_victim = log.lines().any(|l| {
        l.contains("incident started") && l.contains(VICTIM) && l.contains("reason=warmup")
    });
    assert!(!warmup_on_victim, "{log}");
}
