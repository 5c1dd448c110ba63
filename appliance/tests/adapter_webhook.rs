//! The webhook adapter against a real HTTP endpoint (the test kit's
//! `levee_testkit::webhook::Receiver`, in this process), and the routing of escalation levels: L4 reaches the scrubbing peer and
//! the provider's webhook, and nothing else.
//!
//! - `webhook_adapter`: the adapter scenario (`common/scenario.rs`): RTBH and FlowSpec
//!   delivered, a crash and a restart, the endpoint answering 503 for a while, a
//!   withdrawal it never took done at the next start, everything withdrawn. Every
//!   request's signature checks out, also with the Python verifier the README gives.
//! - `l4_goes_to_the_scrubbing_peer_and_webhook_only`: levee with two gobgpd peers, an
//!   edge router (`levels: [l1, l2, l3]`) and a scrubbing provider (`levels: [l4]`),
//!   and a webhook for L4.

mod common;

use common::scenario::{Site, lab_yaml, scenario};
use common::{Running, levee_with as levee, list};
use levee_testkit::daemon::bgp::{gobgp, gobgpd_conf};
use levee_testkit::lab::{free_port, poll, scratch};
use levee_testkit::webhook::{self, Receiver, SECRET};
use levee_testkit::{Daemon, Launch, have, have_all};
use std::path::{Path, PathBuf};

struct Hook {
    dir: PathBuf,
    receiver: Receiver,
}

impl Site for Hook {
    fn dir(&self) -> &Path {
        &self.dir
    }
    fn adapter_yaml(&self, _tool: &Path) -> String {
        format!(
            "  adapters: [webhook]\n  webhook: {{url: \"{}\", secret: {SECRET}, attempts: 2, \
             timeout: 2s}}\n",
            self.receiver.url(false)
        )
    }
    fn tool(&self) -> &'static str {
        "true" // no control program: the endpoint is switched in-process
    }
    fn fail(&self, on: bool) -> bool {
        self.receiver.down(on.then_some(503));
        true
    }
    fn outage(&self) -> &'static str {
        "503 Service Unavailable"
    }
    fn flowspec(&self) -> bool {
        true
    }
    fn rtbh(&self, victim: &str) -> Option<String> {
        let want = format!("route {victim}/");
        self.receiver
            .routes()
            .into_iter()
            .find(|r| r.starts_with(&want))
    }
    fn flows(&self) -> String {
        let flows: Vec<String> = self
            .receiver
            .routes()
            .into_iter()
            .filter(|r| r.starts_with("flow "))
            .collect();
        flows.join("\n")
    }
    fn communities_ok(&self, r: &str) -> bool {
        r.contains("65535:666") && r.contains("64500:666") && r.contains("192.0.2.254")
    }
    fn plant_orphan(&self) -> bool {
        false // an endpoint's state cannot be read back
    }
}

/// The README's Python verifier, run on one request as a receiver would.
fn python_verifies(req: &webhook::Request) -> bool {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let snippet = readme
        .split("```python\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains("def verify("))
        .expect("the README's webhook verifier (a python block with def verify)");
    let dir = scratch("webhook-python");
    std::fs::write(dir.join("body"), &req.body).unwrap();
    let headers = serde_json::json!({
        "X-Levee-Timestamp": req.headers["x-levee-timestamp"],
        "X-Levee-Signature": req.headers["x-levee-signature"],
    });
    std::fs::write(dir.join("headers.json"), headers.to_string()).unwrap();
    let driver = format!(
        "{snippet}\nimport json, sys\nh = json.load(open('{d}/headers.json'))\n\
         body = open('{d}/body', 'rb').read()\n\
         ok = verify(b'{SECRET}', h, body)\nbad = verify(b'{SECRET}', h, body + b' ')\n\
         sys.exit(0 if ok and not bad else 1)\n",
        d = dir.display()
    );
    let st = std::process::Command::new("python3")
        .args(["-c", &driver])
        .status()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    st.success()
}

#[test]
fn webhook_adapter() {
    let site = Hook {
        dir: scratch("adapter-webhook"),
        receiver: Receiver::start(false),
    };
    scenario(&site);
    let seen = site.receiver.requests();
    assert!(seen.len() >= 8, "{seen:?}");
    assert!(
        seen.iter().all(|r| r.verified),
        "every request is signed: {seen:?}"
    );
    if have("python3") {
        assert!(python_verifies(&seen[0]), "{:?}", seen[0]);
    }
    let _ = std::fs::remove_dir_all(&site.dir);
}

// --- L4 to the scrubbing peer only ------------------------------------------------

/// A gobgpd on `addr`:`port` that takes levee's session from the same address.
fn gobgpd(dir: &Path, name: &str, addr: &str) -> (Daemon, u16, u16) {
    let (port, api) = (free_port(), free_port());
    let conf = dir.join(format!("{name}.toml"));
    let c = gobgpd_conf(
        addr,
        addr,
        i32::from(port),
        addr,
        64500,
        &["ipv4-flowspec", "ipv4-unicast"],
        "",
    );
    std::fs::write(&conf, c).unwrap();
    let d = Launch::gobgpd(&conf, api).start(&dir.join(format!("{name}.log")));
    (d, port, api)
}

fn rib(api: u16) -> String {
    gobgp(api, &["global", "rib", "-a", "ipv4"])
}

#[test]
fn l4_goes_to_the_scrubbing_peer_and_webhook_only() {
    if !have_all(&["gobgpd", "gobgp"]) {
        return;
    }
    let dir = scratch("l4-scrubbing");
    let (_edge, edge_port, edge_api) = gobgpd(&dir, "edge", "127.0.0.1");
    let (_scrub, scrub_port, scrub_api) = gobgpd(&dir, "scrub", "127.0.0.2");
    let hook = Receiver::start(false);
    let cfg = dir.join("levee.yaml");
    let middle = format!(
        "bgp:\n  local_as: 64500\n  router_id: 192.0.2.1\n  connect_retry: 300ms\n  peers:\n    \
         - {{name: edge, address: 127.0.0.1, port: {edge_port}, remote_as: 64501, \
         families: [ipv4-flowspec, ipv4-unicast], levels: [l1, l2, l3]}}\n    \
         - {{name: scrubbing, address: 127.0.0.2, local_address: 127.0.0.2, port: {scrub_port}, \
         remote_as: 64501, families: [ipv4-unicast], next_hop: 192.0.2.1, levels: [l4]}}\n\
         mitigation:\n  adapters: [native, webhook]\n  \
         webhook: {{url: \"{url}\", secret: {SECRET}, levels: [l4]}}\n  levels:\n    \
         l3: {{communities: [\"64500:666\"], next_hop: [192.0.2.254]}}\n    \
         l4: {{communities: [\"64500:999\"]}}\n",
        url = hook.url(false),
    );
    std::fs::write(&cfg, lab_yaml(&dir, &middle)).unwrap();
    let (ok, out) = levee(&cfg, &["check"]);
    assert!(ok && out.contains("webhook (l4)"), "{out}");
    let daemon = Running::start(&cfg, dir.join("levee.log"));
    poll("the control socket", 20, |last| {
        *last = daemon.log();
        last.contains("control socket ready").then_some(())
    });
    poll("both BGP sessions", 20, |last| {
        let n = [edge_api, scrub_api].map(|a| gobgp(a, &["neighbor"]));
        *last = format!("{n:?}\n{}", daemon.log());
        n.iter().all(|n| n.contains("Establ")).then_some(())
    });

    // L3: the edge router only.
    let (ok, out) = levee(&cfg, &["mitigate", "add", "192.0.2.30", "--level", "3"]);
    assert!(ok, "{out}");
    poll("the RTBH route at the edge", 10, |last| {
        *last = rib(edge_api);
        last.contains("192.0.2.30/32").then_some(())
    });
    // L4: the covering /24 to the scrubbing peer and the webhook only.
    let (ok, out) = levee(&cfg, &["mitigate", "add", "192.0.2.30", "--level", "4"]);
    assert!(ok, "{out}");
    poll("the diversion at the scrubbing peer", 10, |last| {
        *last = rib(scrub_api);
        (last.contains("192.0.2.0/24") && last.contains("64500:999")).then_some(())
    });
    poll("the diversion at the webhook", 10, |last| {
        *last = format!("{:?}", hook.routes());
        (hook.routes() == ["route 192.0.2.0/24 community 64500:999"]).then_some(())
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let edge = rib(edge_api);
    assert!(
        !edge.contains("192.0.2.0/24"),
        "the edge got the diversion: {edge}"
    );
    let scrub = rib(scrub_api);
    assert!(
        !scrub.contains("192.0.2.30/32"),
        "the scrubbing peer got RTBH: {scrub}"
    );
    let bodies: Vec<serde_json::Value> = hook
        .requests()
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    assert_eq!(bodies.len(), 1, "the webhook got the L3 route: {bodies:?}");
    assert_eq!(bodies[0]["levels"], serde_json::json!(["l4"]));
    // Each mitigation shows the adapters that carried it.
    let l = list(&cfg);
    for m in l["mitigations"].as_array().unwrap() {
        let mut adapters: Vec<&str> = m["adapters"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["adapter"].as_str())
            .collect();
        adapters.sort_unstable();
        let want: &[&str] = if m["level"] == 4 {
            &["native", "webhook"]
        } else {
            &["native"]
        };
        assert_eq!(adapters, want, "{m}");
    }

    // Withdrawn everywhere.
    for m in l["mitigations"].as_array().unwrap() {
        let id = m["id"].as_u64().unwrap().to_string();
        let (ok, out) = levee(&cfg, &["mitigate", "withdraw", &id]);
        assert!(ok, "{out}");
    }
    poll("everything withdrawn", 10, |last| {
        *last = rib(edge_api) + &rib(scrub_api);
        (!last.contains("192.0.2.") && hook.routes().is_empty()).then_some(())
    });
    daemon.stop();
    let (ok, out) = levee(&cfg, &["audit", "verify"]);
    assert!(ok && out.contains("intact"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// An adapter whose `levels` lose a level between two runs: the active route of that
/// level it was given is withdrawn from it at the restart (it would be an orphan).
#[test]
fn a_level_taken_from_an_adapter_is_withdrawn_from_it_at_restart() {
    let dir = scratch("webhook-levels");
    let hook = Receiver::start(false);
    let cfg = dir.join("levee.yaml");
    let write = |levels: &str, off: &str| {
        let middle = format!(
            "mitigation:\n  adapters: [webhook]\n  \
             webhook: {{url: \"{url}\", secret: {SECRET}, levels: [{levels}]}}\n  \
             levels: {{{off}}}\n",
            url = hook.url(false),
        );
        std::fs::write(&cfg, lab_yaml(&dir, &middle)).unwrap();
    };
    let start = |log: &str| {
        let r = Running::start(&cfg, dir.join(log));
        poll("the control socket", 20, |last| {
            *last = r.log();
            last.contains("control socket ready").then_some(())
        });
        r
    };
    let flowspec_off = "l1: {enabled: false}, l2: {enabled: false}";
    write("l3, l4", flowspec_off);
    let first = start("levee-1.log");
    let (ok, out) = levee(&cfg, &["mitigate", "add", "192.0.2.30", "--level", "3"]);
    assert!(ok, "{out}");
    poll("the RTBH route at the webhook", 10, |last| {
        *last = format!("{:?}", hook.routes());
        (hook.routes().len() == 1).then_some(())
    });
    first.stop();

    // The webhook no longer takes L3 (and L3 is turned off, so the check passes).
    write("l4", &format!("{flowspec_off}, l3: {{enabled: false}}"));
    let second = start("levee-2.log");
    poll("the route withdrawn from the webhook", 10, |last| {
        *last = format!("{:?}\n{}", hook.routes(), second.log());
        hook.routes().is_empty().then_some(())
    });
    let withdrawals: Vec<serde_json::Value> = hook
        .requests()
        .iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(&r.body).unwrap())
        .filter(|b| b["event"] == "withdraw")
        .collect();
    assert_eq!(withdrawals.len(), 1, "{withdrawals:?}");
    assert_eq!(withdrawals[0]["route"], "route 192.0.2.30/32");
    // The mitigation itself is still active (it only left this adapter).
    assert_eq!(list(&cfg)["mitigations"].as_array().unwrap().len(), 1);
    second.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
