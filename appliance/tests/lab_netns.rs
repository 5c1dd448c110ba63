//! The end-to-end lab: real packets, a real exporter, a real router. `labs/netns/lab.sh`
//! builds four network namespaces around a router namespace (see that script); here:
//!
//! - the router namespace runs gobgpd (the edge router, taking FlowSpec and unicast
//!   from levee over eBGP) and pmacctd, which samples the victim-facing link 1:10 and
//!   exports sFlow to levee;
//! - levee runs in its own namespace and peers with the router;
//! - hping3 in the attacker namespace floods the victim with UDP from port 40000 to 53.
//!
//! The test checks that levee detects the flood and the L1 FlowSpec rate-limit appears
//! in the router's RIB (and prints how long that took from the first attack packet);
//! that a faster flood escalates to RTBH; that a crash of levee in the middle of the
//! attack loses nothing and leaves nothing twice; and that once the flood stops every
//! route is withdrawn when the (short) TTL has run out.
//!
//! `latency_rounds` (ignored: a benchmark) repeats the first step and prints the
//! median for a slow and a faster flood; docs/PERFORMANCE.md has the figures and the
//! command.

mod common;

use common::{Running, levee_with as levee, list};
use levee_testkit::daemon::bgp::gobgpd_conf;
use levee_testkit::daemon::exporter::{Input, pmacctd_sfprobe_conf};
use levee_testkit::lab::{poll, scratch};
use levee_testkit::{Daemon, Launch, have_all};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const VICTIM: &str = "192.0.2.10";

/// The namespaces, removed when dropped.
struct Lab {
    name: String,
    script: PathBuf,
    dir: PathBuf,
}

impl Lab {
    fn up(tag: &str) -> Lab {
        let name = format!("{tag}{}", std::process::id() % 100_000);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../labs/netns/lab.sh");
        let lab = Lab {
            dir: scratch(&format!("lab-{name}")),
            name,
            script,
        };
        let out = Command::new(&lab.script)
            .args(["up", &lab.name])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "lab.sh up: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        lab
    }

    /// `lab.sh exec NAME ROLE args...` as arguments for the script.
    fn exec_args<'a>(&'a self, role: &'a str, args: &[&'a str]) -> Vec<&'a str> {
        let mut a = vec!["exec", self.name.as_str(), role];
        a.extend_from_slice(args);
        a
    }

    /// Starts `launch` in the namespace of `role`, its log in the lab's directory.
    fn start(&self, launch: Launch, role: &str) -> Daemon {
        let log = self.dir.join(format!("{}.log", launch.name()));
        let mut wrapper = vec![self.script.to_str().unwrap()];
        wrapper.extend(self.exec_args(role, &[]));
        launch.via(wrapper).start(&log)
    }

    /// The router's gobgp CLI.
    fn gobgp(&self, args: &[&str]) -> String {
        let mut a = vec!["gobgp", "-u", "127.0.0.1", "-p", "50051"];
        a.extend_from_slice(args);
        let o = Command::new(&self.script)
            .args(self.exec_args("rtr", &a))
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
    }

    fn flowspec(&self) -> String {
        self.gobgp(&["global", "rib", "-a", "ipv4-flowspec"])
    }

    fn unicast(&self) -> String {
        self.gobgp(&["global", "rib", "-a", "ipv4"])
    }

    /// `levee run` in the levee namespace.
    fn levee(&self, cfg: &Path, log: &str) -> Running {
        let mut wrapper = vec![self.script.to_str().unwrap()];
        wrapper.extend(self.exec_args("lev", &[]));
        Running::start_via(&wrapper, cfg, self.dir.join(log))
    }

    /// hping3 in the attacker namespace: UDP 40000 -> 53, 500-byte payloads, one packet
    /// every `interval_us` (1000: about 900 pps, 3.8 Mbps; 100: about 6500 pps, 27 Mbps).
    fn flood(&self, interval_us: u32) -> Daemon {
        let i = format!("u{interval_us}");
        let hping3 = Launch::new(&format!("hping3-{interval_us}"), "hping3").args([
            // -n: no name lookups (hping3 was seen to abort in one, inside the namespace).
            "-n", "--udp", "-s", "40000", "-k", "-p", "53", "-d", "500", "-i", &i, VICTIM,
        ]);
        self.start(hping3, "att")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new(&self.script)
            .args(["down", &self.name])
            .status();
    }
}

/// Starts the router (gobgpd, pmacctd) and writes levee's config.
fn router(lab: &Lab) -> (Vec<Daemon>, PathBuf) {
    let d = &lab.dir;
    let c = gobgpd_conf(
        "198.51.100.1",
        "198.51.100.1",
        179,
        "198.51.100.2",
        64500,
        &["ipv4-flowspec", "ipv4-unicast"],
        "",
    );
    std::fs::write(d.join("gobgpd.toml"), c).unwrap();
    std::fs::write(
        d.join("pmacctd.conf"),
        pmacctd_sfprobe_conf(
            Input::Interface("eth-vic"),
            "198.51.100.2:6343".parse().unwrap(),
            "198.51.100.1".parse().unwrap(),
            Some(10),
        ),
    )
    .unwrap();
    let gobgpd = lab.start(Launch::gobgpd(&d.join("gobgpd.toml"), 50051), "rtr");
    let pmacctd = lab.start(Launch::pmacctd(&d.join("pmacctd.conf")), "rtr");
    poll("gobgpd's API", 20, |last| {
        *last = lab.gobgp(&["neighbor"]);
        last.contains("198.51.100.2").then_some(())
    });
    let cfg = d.join("levee.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listeners:\n  sflow: {{bind: 198.51.100.2:6343}}\n  netflow: {{enabled: false}}\n  \
             ipfix: {{enabled: false}}\n\
             protected_networks:\n  - name: lab\n    prefixes: [192.0.2.0/24]\n\
             detection:\n  floor: {{pps: 200, bps: 1Mbps}}\n  \
             warmup: {{thresholds: {{pps: 400, bps: 2Mbps}}}}\n  incident: {{quiet_period: 2s}}\n\
             bgp:\n  local_as: 64500\n  router_id: 198.51.100.2\n  connect_retry: 300ms\n  \
             peers:\n    - name: edge\n      address: 198.51.100.1\n      remote_as: 64501\n      \
             families: [ipv4-flowspec, ipv4-unicast]\n\
             mitigation:\n  ttl: 3s\n  cooldown: 1s\n  levels:\n    \
             l1: {{trigger: 1Mbps, rate_limit: 1Mbps}}\n    l2: {{enabled: false}}\n    \
             l3: {{trigger: 8Mbps, hold: 1s, communities: [\"64500:666\"], next_hop: [192.0.2.254]}}\n    \
             l4: {{enabled: false}}\n\
             store: {{path: {d}/levee.db}}\ncontrol: {{socket: {d}/control.sock}}\n",
            d = d.display()
        ),
    )
    .unwrap();
    let (ok, out) = levee(&cfg, &["check"]);
    assert!(ok, "{out}");
    (vec![gobgpd, pmacctd], cfg)
}

fn established(lab: &Lab, levee: &Running) {
    poll("the BGP session with the router", 20, |last| {
        *last = lab.gobgp(&["neighbor"]) + &levee.log();
        lab.gobgp(&["neighbor"]).contains("Establ").then_some(())
    });
}

/// Starts a flood (see [`Lab::flood`]) and waits for the L1 rule on the router: the
/// time it took.
fn attack_to_rule(lab: &Lab, levee: &Running, interval_us: u32) -> (Daemon, Duration) {
    let start = Instant::now();
    let flood = lab.flood(interval_us);
    let took = poll("the L1 FlowSpec rule on the router", 15, |last| {
        let rib = lab.flowspec();
        *last = rib.clone() + &levee.log();
        rib.contains("[destination: 192.0.2.10/32]")
            .then(|| start.elapsed())
    });
    (flood, took)
}

/// Waits until the router holds no route for the lab's networks and levee no mitigation.
fn all_withdrawn(lab: &Lab, cfg: &Path, levee: &Running, secs: u64) {
    poll("every route withdrawn", secs, |last| {
        let rib = lab.unicast() + &lab.flowspec();
        *last = rib.clone() + &levee.log();
        (!rib.contains("192.0.2.") && list(cfg)["mitigations"].as_array().unwrap().is_empty())
            .then_some(())
    });
}

/// The active routes, as levee lists them.
fn routes(cfg: &Path) -> Vec<String> {
    let mut r: Vec<String> = list(cfg)["mitigations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| format!("{} {}", m["id"], m["route"]))
        .collect();
    r.sort();
    r
}

fn tools() -> bool {
    have_all(&["ip", "gobgpd", "gobgp", "pmacctd", "hping3"])
}

#[test]
fn attack_detected_mitigated_escalated_and_withdrawn() {
    if !tools() {
        return;
    }
    let lab = Lab::up("lv");
    let (_router, cfg) = router(&lab);
    let first = lab.levee(&cfg, "levee-1.log");
    established(&lab, &first);

    // Detection, and the L1 FlowSpec rule on the router.
    let (slow, took) = attack_to_rule(&lab, &first, 1000);
    println!("first attack packet to FlowSpec rule on the router: {took:?}");
    let rule = lab.flowspec();
    assert!(rule.contains("[protocol: ==udp]"), "{rule}");
    assert!(
        rule.contains("53"),
        "the attack's port is in the rule: {rule}"
    );
    assert!(rule.contains("rate: 125000"), "1 Mbps = 125000 B/s: {rule}");
    assert!(first.log().contains("incident started"), "{}", first.log());

    // A faster flood crosses the L3 trigger: RTBH, and the L1 rule goes.
    let fast = lab.flood(100);
    // A loaded machine (the whole suite on 2 cores) slows hping3 and the exporter: the
    // poll ends as soon as the route is there.
    poll("the L3 RTBH route", 45, |last| {
        let rib = lab.unicast();
        *last = rib.clone() + &first.log();
        (rib.contains("192.0.2.10/32") && rib.contains("blackhole") && rib.contains("64500:666"))
            .then_some(())
    });
    poll("the L1 rule's withdrawal after escalation", 10, |last| {
        *last = lab.flowspec();
        (!last.contains("192.0.2.10")).then_some(())
    });
    let before = routes(&cfg);
    assert_eq!(before.len(), 1, "{before:?}");

    // A crash in the middle of the attack: the session drops and the router forgets
    // the route; the restarted levee announces it again from its store, once.
    first.crash();
    poll("the router dropping levee's routes", 20, |last| {
        *last = lab.unicast();
        (!last.contains("192.0.2.10/32")).then_some(())
    });
    let second = lab.levee(&cfg, "levee-2.log");
    established(&lab, &second);
    poll("the RTBH route back after the restart", 20, |last| {
        let rib = lab.unicast();
        *last = rib.clone() + &second.log();
        rib.contains("192.0.2.10/32").then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(routes(&cfg), before, "the restart changed the mitigations");
    assert_eq!(
        lab.unicast().matches("192.0.2.10/32").count(),
        1,
        "{}",
        lab.unicast()
    );

    // The attack ends: after the quiet period and the TTL, nothing is left.
    fast.stop();
    slow.stop();
    all_withdrawn(&lab, &cfg, &second, 30);
    let log = second.stop();
    assert!(log.contains("reason=\"expired\""), "{log}");
    let (ok, out) = levee(&cfg, &["audit", "verify"]);
    assert!(ok && out.contains("intact"), "{out}");
    let _ = std::fs::remove_dir_all(&lab.dir);
}

/// The latency benchmark: `LEVEE_LAB_ROUNDS` (default 10) attacks at each of the two
/// flood rates, each from the first packet to the rule on the router, then withdrawn
/// before the next.
#[test]
#[ignore = "a benchmark: cargo test --release -p levee --test lab_netns -- --ignored --nocapture"]
fn latency_rounds() {
    if !tools() {
        return;
    }
    let rounds: usize = std::env::var("LEVEE_LAB_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10);
    let lab = Lab::up("lb");
    let (_router, cfg) = router(&lab);
    let levee = lab.levee(&cfg, "levee.log");
    established(&lab, &levee);
    for interval_us in [1000, 100] {
        let mut took = Vec::new();
        for round in 0..rounds {
            // pmacctd sends its samples when its buffer fills or once a second: start
            // each attack at a different point of that second.
            std::thread::sleep(Duration::from_millis((round as u64 * 370) % 1000));
            let (flood, t) = attack_to_rule(&lab, &levee, interval_us);
            println!("flood every {interval_us} us, round {round}: {t:?}");
            took.push(t);
            flood.stop();
            all_withdrawn(&lab, &cfg, &levee, 30);
            // Past the cooldown, so the next attack is mitigated at once.
            std::thread::sleep(Duration::from_secs(2));
        }
        took.sort();
        println!(
            "flood every {interval_us} us: attack to rule on the router over {rounds} rounds: \
             min {:?} median {:?} max {:?}",
            took[0],
            took[rounds / 2],
            took[rounds - 1]
        );
    }
    levee.stop();
    let _ = std::fs::remove_dir_all(&lab.dir);
}

/// The containerlab version of the lab (labs/containerlab) cannot run here (no
/// container runtime); what can be checked is: every node a link names exists, every
/// file a node binds is there, and levee, gobgpd and FRR accept their configs.
#[test]
fn containerlab_files_are_consistent_and_accepted() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../labs/containerlab");
    let text = std::fs::read_to_string(dir.join("levee.clab.yml")).unwrap();
    let topo: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let nodes = topo["topology"]["nodes"].as_object().unwrap();
    for n in ["edge", "rs", "levee", "attacker", "victim"] {
        assert!(nodes.contains_key(n), "node {n} missing");
    }
    for link in topo["topology"]["links"].as_array().unwrap() {
        for end in link["endpoints"].as_array().unwrap() {
            let node = end.as_str().unwrap().split(':').next().unwrap();
            assert!(nodes.contains_key(node), "link to unknown node {node}");
        }
    }
    for (name, node) in nodes {
        for bind in node["binds"].as_array().into_iter().flatten() {
            let file = bind.as_str().unwrap().split(':').next().unwrap();
            assert!(dir.join(file).is_file(), "{name} binds missing {file}");
        }
    }
    let (ok, out) = levee(&dir.join("levee.yaml"), &["check"]);
    assert!(ok, "{out}");
    if have_all(&["gobgpd"]) {
        let o = Command::new("gobgpd")
            .args(["--dry-run", "-f"])
            .arg(dir.join("rs/gobgpd.toml"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    }
    if have_all(&["vtysh"]) {
        let o = Command::new("vtysh")
            .arg("--dryrun")
            .arg("-f")
            .arg(dir.join("edge/frr.conf"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    }
}
