//! Interop with real exporters over loopback: softflowd (NetFlow v5, v9, IPFIX) and
//! pmacctd (sFlow via sfprobe) replay the traffic capture to `levee flows listen`.
//!
//! Both exporters are deterministic for a given capture, so what levee receives live must
//! equal, per destination, what it decodes from the committed capture of the same export
//! (which the tshark cross-check pins to tshark's decode). In CI the exporters must be
//! installed; elsewhere a missing one skips its test, saying so.

mod common;

use common::{Totals, fixtures, listen, totals};
use levee_testkit::daemon::exporter::{
    Input, pmacctd_replay, pmacctd_sfprobe_conf, softflowd_replay,
};
use levee_testkit::have;
use levee_testkit::lab::free_udp_port;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

fn start(flag: &str, port: u16) -> common::Levee {
    listen(
        &[flag, &format!("127.0.0.1:{port}"), "--duration", "60"],
        "listening for",
    )
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
    let levee = start(flag, port);
    // softflowd's exit status after a replay is not meaningful; the records are.
    let collector = SocketAddr::from(([127, 0, 0, 1], port));
    softflowd_replay(&fixtures().join("traffic.pcap"), collector, version);
    let live = totals(&levee.stop(Duration::from_secs(1)).0);
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
    let levee = start("--sflow", port);
    let conf = std::env::temp_dir().join(format!("levee-pmacctd-{}.conf", std::process::id()));
    let capture = fixtures().join("traffic.pcap");
    std::fs::write(
        &conf,
        pmacctd_sfprobe_conf(
            Input::Savefile(&capture),
            SocketAddr::from(([127, 0, 0, 1], port)),
            [192, 0, 2, 254].into(),
            None,
        ),
    )
    .unwrap();
    let out = pmacctd_replay(&conf);
    let _ = std::fs::remove_file(&conf);
    // At the end of a savefile pmacctd stops its plugin and exits 0, or, when its core
    // notices the plugin gone first ("no more plugins active"), 1: both are a normal end
    // (reproduced standalone, and about one run in three on a loaded machine). What
    // levee decoded is checked against the fixture below either way.
    let log =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let normal_end = out.status.success()
        || (out.status.code() == Some(1)
            && log.contains("Shutting down on user request")
            && !log.contains("ERROR"));
    assert!(normal_end, "pmacctd failed: {}\n{log}", out.status);
    let mut live = totals(&levee.stop(Duration::from_secs(1)).0);
    let mut fixture = decode_fixture("pmacct-sfprobe.pcap");
    // pmacctd's fragment handling depends on timing: it does not always sample the
    // trailing fragment of a fragmented datagram (1 of 2 IPv6 fragments in about one run
    // in ten), and on a loaded machine it was seen to report one fragment more (3 for 2).
    // Those destinations carry only fragments: they must be present, and everything else
    // must match exactly.
    for frag_only in ["198.51.100.50", "2001:db8:2::77"] {
        let ip: std::net::IpAddr = frag_only.parse().unwrap();
        let (l, f) = (
            live.remove(&ip).unwrap_or_default(),
            fixture.remove(&ip).unwrap_or_default(),
        );
        assert!(
            l.0 >= 1 && f.0 >= 1,
            "{frag_only}: live {l:?} fixture {f:?}"
        );
    }
    assert_eq!(
        live, fixture,
        "pmacctd sfprobe: live (left) vs fixture (right)"
    );
}
