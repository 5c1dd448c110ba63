//! The command line as an operator meets it: exit codes, summaries, and hostile input.

use levee_testkit::Rng;
use levee_testkit::packet::ipv4_udp;
use levee_testkit::pcap::{self, LINKTYPE_RAW, Writer};
use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn levee(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_levee"))
        .args(args)
        .output()
        .expect("run levee")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("levee-cli-{}-{name}", std::process::id()))
}

/// Writes a classic pcap (LINKTYPE_RAW) of IPv4/UDP datagrams with the given payloads,
/// plus one IP fragment.
fn write_pcap(path: &Path, payloads: &[Vec<u8>]) {
    let (src, dst): (SocketAddrV4, SocketAddrV4) = (
        "192.0.2.7:12345".parse().unwrap(),
        "192.0.2.8:6343".parse().unwrap(),
    );
    let mut w = Writer::new(LINKTYPE_RAW);
    for p in payloads {
        w.packet(1_795_000_000_000_000, &ipv4_udp(src, dst, p, false));
    }
    w.packet(
        1_795_000_000_000_000,
        &ipv4_udp(src, dst, b"fragment", true),
    );
    w.write(path);
}

/// UDP payloads of a fixture capture (Ethernet, IPv4 and UDP on loopback).
fn fixture_payloads(name: &str) -> Vec<Vec<u8>> {
    pcap::udp_payloads(&root().join("tests/fixtures/flows").join(name))
}

#[test]
fn check_valid_and_invalid_configs() {
    let ok = levee(&[
        "check",
        "--config",
        root().join("configs/levee.yaml").to_str().unwrap(),
    ]);
    assert!(ok.status.success());
    assert!(String::from_utf8_lossy(&ok.stdout).contains("is valid"));
    let bad = tmp("bad.yaml");
    std::fs::write(&bad, "listeners:\n  sflow:\n    bind: 0.0.0.0:99999\n").unwrap();
    let out = levee(&["check", "--config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(":3:11: listeners.sflow.bind:"), "{err}");
    let missing = levee(&["check", "--config", "/nonexistent/levee.yaml"]);
    assert_eq!(missing.status.code(), Some(1));
    std::fs::remove_file(bad).unwrap();
}

#[test]
fn check_prints_no_secret() {
    let dir = tmp("secrets");
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("audit.key");
    std::fs::write(&key, "audit-key-SECRET-0123456789\n").unwrap();
    let cfg = dir.join("levee.yaml");
    std::fs::write(
        &cfg,
        format!(
            "bgp:\n  local_as: 64500\n  router_id: 192.0.2.1\n  peers:\n    - {{name: edge, \
             address: 192.0.2.1, remote_as: 64501, md5_password: md5-SECRET-pw}}\n\
             mitigation:\n  adapters: [native, webhook]\n  webhook:\n    \
             url: \"https://ops:userinfo-SECRET@scrub.example.net/hook?token=query-SECRET&x=1\"\n    \
             secret: hmac-SECRET-0123456789\n\
             store:\n  path: {d}/levee.db\n  audit_hmac_key_file: {k}\n",
            d = dir.display(),
            k = key.display()
        ),
    )
    .unwrap();
    let out = levee(&["check", "--config", cfg.to_str().unwrap()]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("SECRET"), "a secret printed:\n{text}");
    assert!(
        text.contains("webhook posts to https://***:***@scrub.example.net/hook?token=***&x=***")
            && text.contains("audit chain HMAC-keyed")
            && text.contains(", MD5"),
        "{text}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(levee(&["flows", "decode"]).status.code(), Some(2));
    assert_eq!(levee(&["no-such-command"]).status.code(), Some(2));
}

#[test]
fn unreadable_capture_exits_1_with_a_clear_message() {
    let out = levee(&["flows", "decode", "/nonexistent/x.pcap"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.pcap: no such file"));
    let junk = tmp("junk.pcap");
    std::fs::write(&junk, b"this is not a capture").unwrap();
    let out = levee(&["flows", "decode", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a readable pcap"),
        "{out:?}"
    );
    std::fs::remove_file(junk).unwrap();
}

#[test]
fn hostile_datagrams_are_counted_never_fatal() {
    // Every real datagram of every format, cut at many lengths and with bytes flipped,
    // plus garbage: decoding must finish, exit 0, and count what it could not decode.
    let mut payloads = Vec::new();
    for name in [
        "softflowd-v5.pcap",
        "softflowd-v9.pcap",
        "softflowd-ipfix.pcap",
        "pmacct-sfprobe-sampled.pcap",
    ] {
        for d in fixture_payloads(name).into_iter().take(4) {
            for cut in (0..d.len()).step_by(7) {
                payloads.push(d[..cut].to_vec());
            }
            for i in (0..d.len()).step_by(5) {
                let mut m = d.clone();
                m[i] ^= 0xa5;
                payloads.push(m);
            }
        }
    }
    let mut rng = Rng::new(12345);
    for n in 0..200 {
        payloads.push((0..(n * 7 % 1400)).map(|_| rng.next_u64() as u8).collect());
    }
    let path = tmp("hostile.pcap");
    write_pcap(&path, &payloads);
    let out = levee(&["flows", "decode", path.to_str().unwrap()]);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("datagrams: {}", payloads.len())),
        "{err}"
    );
    assert!(err.contains("1 IP fragments"), "{err}");
    let errors: u64 = err
        .lines()
        .find_map(|l| l.strip_prefix("decode errors: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("summary has a decode error count");
    assert!(errors > 1000, "{err}");
    for kind in ["truncated", "unknown_format"] {
        assert!(
            err.contains(&format!("{kind}: ")),
            "{kind} missing from {err}"
        );
    }
    // Whatever was decoded is valid JSON.
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
}

#[test]
fn mirror_decode_counts_every_packet() {
    let out = levee(&[
        "flows",
        "decode",
        "--mirror",
        "--mirror-sampling",
        "10",
        root()
            .join("tests/fixtures/flows/traffic.pcap")
            .to_str()
            .unwrap(),
    ]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 588);
    let first: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(
        (first["flow_type"].as_str(), first["sampling_rate"].as_u64()),
        (Some("mirror"), Some(10))
    );
}

/// A TTL that would overflow or wrap an expiry is refused before anything is sent.
#[test]
fn mitigate_ttl_is_range_checked() {
    let sock = tmp("no-daemon.sock");
    for ttl in ["0", "2600000000h", "5124095576h", "745h"] {
        let out = levee(&[
            "mitigate",
            "add",
            "route 192.0.2.1/32",
            "--ttl",
            ttl,
            "--socket",
            sock.to_str().unwrap(),
        ]);
        let text = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{ttl}: {text}");
        assert!(
            text.contains("expected a duration from 1s to 30 days"),
            "{ttl}: {text}"
        );
    }
}
