//! Interop with real exporters over loopback: softflowd (NetFlow v5, v9, IPFIX) and
//! pmacctd (sFlow via sfprobe) replay the traffic capture to `levee flows listen`.
//!
//! Both exporters are deterministic for a given capture, so what levee receives live must
//! equal, per destination, what it decodes from the committed capture of the same export
//! (which the tshark cross-check pins to tshark's decode). In CI the exporters must be
//! installed; elsewhere a missing one skips its test, saying so.

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type Totals = BTreeMap<IpAddr, (u64, u64, u64)>;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/flows")
}

fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var_os("CI").is_none(), "{tool} is required in CI");
        println!("SKIPPED: {tool} is not installed; this interop test did not run");
    }
    found
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn totals(json_lines: &str) -> Totals {
    let mut t = Totals::new();
    for line in json_lines.lines() {
        let v: Value = serde_json::from_str(line).expect("JSON line");
        let e = t
            .entry(v["dst_addr"].as_str().unwrap().parse().unwrap())
            .or_default();
        e.0 += 1;
        e.1 += v["packets"].as_u64().unwrap();
        e.2 += v["bytes"].as_u64().unwrap();
    }
    t
}

/// Starts `levee flows listen` and waits until it says it is listening.
fn listen(flag: &str, port: u16) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_levee"))
        .args([
            "flows",
            "listen",
            flag,
            &format!("127.0.0.1:{port}"),
            "--log",
            "warn",
            "--duration",
            "60",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start levee");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 {
        if line.contains("listening for") {
            break;
        }
        line.clear();
    }
    // Keep draining stderr so levee never blocks on it.
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    child
}

/// Stops levee with SIGTERM once `quiet` has passed with no new output; returns stdout.
fn stop(mut child: Child) -> String {
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).unwrap();
        s
    });
    std::thread::sleep(Duration::from_secs(1));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "levee did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(child.wait().unwrap().success());
    reader.join().unwrap()
}

fn decode_fixture(name: &str) -> Totals {
    let out = Command::new(env!("CARGO_BIN_EXE_levee"))
        .args(["flows", "decode"])
        .arg(fixtures().join(name))
        .output()
        .unwrap();
    totals(&String::from_utf8(out.stdout).unwrap())
}

fn softflowd(version: &str, flag: &str, fixture: &str) {
    if !have("softflowd") {
        return;
    }
    let port = free_udp_port();
    let levee = listen(flag, port);
    let tmp = std::env::temp_dir().join(format!(
        "levee-softflowd-{}-{version}.pid",
        std::process::id()
    ));
    // softflowd ends a replay by raising SIGINT: make sure it is not ignored. With a
    // control socket, softflowd 1.1.0 in -r mode can hang in accept(), so use none.
    let status = Command::new("env")
        .args([
            "--default-signal=INT",
            "softflowd",
            "-d",
            "-6",
            "-c",
            "none",
            "-p",
        ])
        .arg(&tmp)
        .arg("-r")
        .arg(fixtures().join("traffic.pcap"))
        .args(["-n", &format!("127.0.0.1:{port}"), "-v", version])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run softflowd");
    let _ = std::fs::remove_file(&tmp);
    // softflowd's exit status after a replay is not meaningful; the records are.
    let _ = status;
    let live = totals(&stop(levee));
    assert!(
        !live.is_empty(),
        "levee received nothing from softflowd -v {version}"
    );
    assert_eq!(
        live,
        decode_fixture(fixture),
        "softflowd -v {version}: live (left) vs fixture (right)"
    );
}

#[test]
fn softflowd_netflow_v5() {
    softflowd("5", "--netflow", "softflowd-v5.pcap");
}

#[test]
fn softflowd_netflow_v9() {
    softflowd("9", "--netflow", "softflowd-v9.pcap");
}

#[test]
fn softflowd_ipfix() {
    softflowd("10", "--ipfix", "softflowd-ipfix.pcap");
}

#[test]
fn pmacct_sflow() {
    if !have("pmacctd") {
        return;
    }
    let port = free_udp_port();
    let levee = listen("--sflow", port);
    let conf = std::env::temp_dir().join(format!("levee-pmacctd-{}.conf", std::process::id()));
    std::fs::write(
        &conf,
        format!(
            "daemonize: false\npcap_savefile: {}\nplugins: sfprobe[s]\nsfprobe_receiver[s]: 127.0.0.1:{port}\nsfprobe_agentip[s]: 192.0.2.254\n",
            fixtures().join("traffic.pcap").display()
        ),
    )
    .unwrap();
    let status = Command::new("env")
        .args(["--default-signal=INT", "pmacctd", "-f"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run pmacctd");
    let _ = std::fs::remove_file(&conf);
    assert!(status.success(), "pmacctd failed: {status}");
    let live = totals(&stop(levee));
    assert_eq!(
        live,
        decode_fixture("pmacct-sfprobe.pcap"),
        "pmacctd sfprobe: live (left) vs fixture (right)"
    );
}
