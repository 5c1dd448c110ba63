//! `levee run` live: sFlow over loopback, paced in real time, through the listener and
//! the engine; the flood is logged as an incident, the background is not, and SIGTERM
//! ends the open incident cleanly.

use levee_testkit::lab::free_udp_port;
use levee_testkit::traffic::{Scenario, UDP};
use std::io::Read;
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn a_live_flood_is_logged_as_an_incident() {
    let port = free_udp_port();
    let dir = std::env::temp_dir().join(format!("levee-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("levee.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listeners:\n  sflow: {{bind: 127.0.0.1:{port}}}\n  netflow: {{enabled: false}}\n  \
             ipfix: {{enabled: false}}\nprotected_networks:\n  - name: lab\n    prefixes: [203.0.113.0/24, 2001:db8:1::/48]\n\
             store: {{path: {dir}/levee.db}}\ncontrol: {{socket: {dir}/control.sock}}\n",
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
    std::thread::sleep(Duration::from_millis(500));

    // 3 s: background to .10 and, from 1 s, 150k pps to .20 and 2001:db8:1::20.
    let mut s = Scenario::default();
    s.stream(0, "203.0.113.10", 2_000.0, 0.0, 3.0, 1000, UDP);
    s.stream(0, "203.0.113.20", 150_000.0, 1.0, 2.0, 1000, UDP);
    s.stream(0, "2001:db8:1::20", 150_000.0, 1.0, 2.0, 1000, UDP);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let start = Instant::now();
    for (t, d) in s.datagrams(1000) {
        let due = Duration::from_micros(t);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
        sock.send_to(&d, ("127.0.0.1", port)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    // SIGTERM: the daemon stops its inputs, drains, and ends open incidents.
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
    let _ = std::fs::remove_dir_all(&dir);
    assert!(status.success(), "{log}");
    let started: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("incident started"))
        .collect();
    assert_eq!(started.len(), 2, "{log}");
    for victim in ["203.0.113.20", "2001:db8:1::20"] {
        assert!(
            started
                .iter()
                .any(|l| l.contains(&format!("victim={victim}"))),
            "{log}"
        );
        assert!(
            log.lines()
                .any(|l| l.contains("incident ended") && l.contains(&format!("victim={victim}"))),
            "{log}"
        );
    }
    assert!(
        started
            .iter()
            .all(|l| l.contains("family=\"udp_flood\"") || l.contains("family=udp_flood")),
        "{log}"
    );
    assert!(!log.contains("victim=203.0.113.10"), "{log}");
}
