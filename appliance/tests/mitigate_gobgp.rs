//! Flows in, BGP out: `levee run` receives an sFlow flood on loopback, detects it,
//! announces a FlowSpec rate-limit (L1) to gobgpd, escalates to RTBH (L3) when the rate
//! holds above the L3 trigger, survives a restart in the middle of the attack without
//! losing or orphaning a route, and withdraws everything once the attack is over and
//! the (short) TTL has run out. Manual mitigations go through `levee mitigate`, and the
//! audit log verifies.

mod common;

use common::{Running as Levee, levee_with as levee, list};
use levee_testkit::daemon::bgp::{gobgp, gobgpd_conf};
use levee_testkit::lab::{free_port, free_udp_port, poll, scratch};
use levee_testkit::traffic::{Scenario, UDP};
use levee_testkit::{Daemon, Launch, have_all};
use std::net::UdpSocket;
use std::path::Path;
use std::time::{Duration, Instant};

const VICTIM: &str = "192.0.2.20/32";

struct Router {
    api: u16,
}

impl Router {
    fn cli(&self, args: &[&str]) -> String {
        gobgp(self.api, args)
    }

    fn flowspec(&self) -> String {
        self.cli(&["global", "rib", "-a", "ipv4-flowspec"])
    }

    fn unicast(&self) -> String {
        self.cli(&["global", "rib", "-a", "ipv4"])
    }

    fn established(&self) -> bool {
        self.cli(&["neighbor"]).contains("Establ")
    }
}

fn start_gobgpd(dir: &Path, port: u16, api: u16) -> Daemon {
    let c = gobgpd_conf(
        "192.0.2.2",
        "127.0.0.1",
        i32::from(port),
        "127.0.0.1",
        64500,
        &["ipv4-flowspec", "ipv4-unicast"],
        "",
    );
    let conf = dir.join("gobgpd.toml");
    std::fs::write(&conf, c).unwrap();
    Launch::gobgpd(&conf, api).start(&dir.join("gobgpd.log"))
}

fn levee_yaml(dir: &Path, sflow: u16, bgp: u16, web: u16) -> String {
    format!(
        "listeners:\n  sflow: {{bind: 127.0.0.1:{sflow}}}\n  netflow: {{enabled: false}}\n  \
         ipfix: {{enabled: false}}\n\
         protected_networks:\n  - name: lab\n    prefixes: [192.0.2.0/24]\n\
         detection:\n  incident: {{quiet_period: 2s}}\n\
         bgp:\n  local_as: 64500\n  router_id: 192.0.2.1\n  connect_retry: 300ms\n  \
         peers:\n    - name: edge\n      address: 127.0.0.1\n      port: {bgp}\n      \
         remote_as: 64501\n      families: [ipv4-flowspec, ipv4-unicast]\n      next_hop: 192.0.2.1\n\
         mitigation:\n  ttl: 4s\n  cooldown: 1s\n  safelist: [192.0.2.53/32]\n  levels:\n    \
         l1: {{trigger: 100Mbps, rate_limit: 8Mbps}}\n    l2: {{enabled: false}}\n    \
         l3: {{trigger: 100kpps, hold: 2s, communities: [\"64500:666\"], next_hop: [192.0.2.254]}}\n\
         store: {{path: {d}/levee.db}}\ncontrol: {{socket: {d}/control.sock}}\n\
         web: {{listen: 127.0.0.1:{web}}}\n",
        d = dir.display()
    )
}

/// Sends a 150k pps (614 Mbps) UDP flood to the victim as sFlow (1:1000) for `secs`.
fn flood(port: u16, secs: f64) -> std::thread::JoinHandle<()> {
    let mut s = Scenario::default();
    s.stream(0, "192.0.2.20", 150_000.0, 0.0, secs, 1000, UDP);
    let datagrams = s.datagrams(1000);
    std::thread::spawn(move || {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let start = Instant::now();
        for (t, d) in datagrams {
            if let Some(wait) = Duration::from_micros(t).checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
            sock.send_to(&d, ("127.0.0.1", port)).unwrap();
        }
    })
}

#[test]
fn flows_in_bgp_out_through_escalation_restart_and_expiry() {
    if !have_all(&["gobgpd", "gobgp"]) {
        return;
    }
    let dir = scratch("mitigate-gobgp");
    let (bgp, api) = (free_port(), free_port());
    let sflow = free_udp_port();
    let router = Router { api };
    let _gobgpd = start_gobgpd(&dir, bgp, api);
    poll("gobgpd's API", 20, |last| {
        *last = router.cli(&["neighbor"]);
        last.contains("127.0.0.1").then_some(())
    });
    let cfg = dir.join("levee.yaml");
    let web = free_port();
    std::fs::write(&cfg, levee_yaml(&dir, sflow, bgp, web)).unwrap();
    let (ok, out) = levee(&cfg, &["check"]);
    assert!(ok, "{out}");

    let first = Levee::start(&cfg, dir.join("levee-1.log"));
    poll("the BGP session", 20, |last| {
        *last = router.cli(&["neighbor"]) + &first.log();
        router.established().then_some(())
    });

    // Manual mitigations, and the guardrails on them.
    let (ok, out) = levee(
        &cfg,
        &[
            "mitigate",
            "add",
            "192.0.2.30",
            "--level",
            "3",
            "--ttl",
            "60",
        ],
    );
    assert!(ok, "{out}");
    poll("the manual RTBH route", 10, |last| {
        *last = router.unicast();
        (last.contains("192.0.2.30/32") && last.contains("blackhole")).then_some(())
    });
    let id = list(&cfg)["mitigations"][0]["id"].as_u64().unwrap();
    let (ok, out) = levee(&cfg, &["mitigate", "add", "192.0.2.53", "--level", "2"]);
    assert!(!ok && out.contains("safelisted"), "{out}");
    let (ok, out) = levee(
        &cfg,
        &[
            "mitigate",
            "add",
            "flow destination 203.0.113.1/32 then discard",
        ],
    );
    assert!(
        !ok && out.contains("203.0.113.1/32 is outside the protected networks (lab 192.0.2.0/24"),
        "{out}"
    );
    let (ok, out) = levee(
        &cfg,
        &[
            "mitigate",
            "add",
            "flow destination 192.0.2.31/32 protocol sctp",
        ],
    );
    assert!(!ok && out.contains("route:"), "{out}");
    let (ok, out) = levee(&cfg, &["mitigate", "withdraw", &id.to_string()]);
    assert!(ok, "{out}");
    poll("the manual route's withdrawal", 10, |last| {
        *last = router.unicast();
        (!last.contains("192.0.2.30/32")).then_some(())
    });

    // The attack: L1 FlowSpec first.
    let attack = Instant::now();
    let sender = flood(sflow, 14.0);
    let latency = poll("the L1 FlowSpec rule", 10, |last| {
        let rib = router.flowspec();
        *last = rib.clone() + &first.log();
        rib.contains("[destination: 192.0.2.20/32]")
            .then(|| attack.elapsed())
    });
    println!("first attack packet to FlowSpec rule in gobgpd's RIB: {latency:?}");
    let rule = router.flowspec();
    assert!(rule.contains("[protocol: ==udp]"), "{rule}");
    assert!(
        rule.contains("rate: 1000000"),
        "L1 rate-limits to 8 Mbps = 1 MB/s: {rule}"
    );
    // Above 100k pps for 2 s: RTBH with BLACKHOLE and the configured community, and the
    // FlowSpec rule is replaced.
    poll("the L3 RTBH route", 15, |last| {
        let rib = router.unicast();
        *last = rib.clone() + &first.log();
        (rib.contains(VICTIM) && rib.contains("blackhole") && rib.contains("64500:666"))
            .then_some(())
    });
    poll("the L1 rule's withdrawal after escalation", 10, |last| {
        *last = router.flowspec();
        (!last.contains("192.0.2.20")).then_some(())
    });
    let l = list(&cfg);
    let m = &l["mitigations"][0];
    assert_eq!(
        (m["level"].as_u64(), m["origin"].as_str()),
        (Some(3), Some("auto")),
        "{l}"
    );
    poll("the native adapter's result", 10, |last| {
        let l = list(&cfg);
        *last = l.to_string();
        (l["mitigations"][0]["adapters"][0]["state"] == "applied").then_some(())
    });

    // /metrics covers flows, exporters, incidents, mitigations, adapters and BGP peers.
    let (status, body) = common::http_get(&format!("127.0.0.1:{web}"), "/metrics");
    assert!(status.contains("200"), "{status}");
    for (m, min) in [
        ("levee_flow_records_total", 1.0),
        (
            "levee_exporter_datagrams_total{listener=\"sflow\",exporter=\"127.0.0.1\"}",
            1.0,
        ),
        ("levee_incidents_started_total", 1.0),
        ("levee_incidents_active", 1.0),
        ("levee_mitigations_active", 1.0),
        ("levee_mitigation_events_total{kind=\"escalations\"}", 1.0),
        ("levee_adapter_applied_total{adapter=\"native\"}", 1.0),
        (
            "levee_bgp_peer_up{peer=\"edge\",address=\"127.0.0.1\"}",
            1.0,
        ),
        (
            "levee_bgp_peer_routes_sent{peer=\"edge\",address=\"127.0.0.1\"}",
            1.0,
        ),
    ] {
        let v = common::metric(&body, m);
        assert!(v.is_some_and(|v| v >= min), "{m} = {v:?} in:\n{body}");
    }
    let (status, _) = common::http_get(&format!("127.0.0.1:{web}"), "/nope");
    assert!(status.contains("404"), "{status}");

    // Restart in the middle of the attack: the RTBH route comes back from the store.
    let log1 = first.stop();
    assert!(log1.contains("incident started"), "{log1}");
    let second = Levee::start(&cfg, dir.join("levee-2.log"));
    poll("the restored RTBH route after the restart", 20, |last| {
        let rib = router.unicast();
        *last = rib.clone() + &second.log();
        rib.contains(VICTIM).then_some(())
    });
    assert!(
        second
            .log()
            .contains("re-announcing the mitigations active at the last stop")
    );

    // The attack ends; the TTL runs out; nothing is left on the router.
    sender.join().unwrap();
    poll("every route withdrawn after the TTL", 30, |last| {
        let rib = router.unicast() + &router.flowspec();
        *last = rib.clone() + &second.log();
        (!rib.contains("192.0.2.")).then_some(())
    });
    assert!(list(&cfg)["mitigations"].as_array().unwrap().is_empty());
    let log2 = second.stop();
    assert!(log2.contains("reason=\"expired\""), "{log2}");

    // The audit log holds the whole story and verifies.
    let (ok, out) = levee(&cfg, &["audit", "verify"]);
    assert!(ok && out.contains("intact"), "{out}");
    let (ok, audit) = levee(&cfg, &["audit", "show", "--last", "100"]);
    assert!(ok, "{audit}");
    for want in [
        "operator  announce",
        "operator  refused",
        "detector  level",
        "L1 -> L3",
        "expiry    withdraw",
        "1 restored",
    ] {
        assert!(audit.contains(want), "{want:?} missing from:\n{audit}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
