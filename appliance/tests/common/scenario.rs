//! The scenario every daemon adapter goes through (see `adapters.rs`): what a
//! [`Site`] must offer, and [`scenario`] itself.

use super::{Running, levee_with as levee, list};
use levee_testkit::lab::{free_port, output, poll};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A daemon under an adapter, as the scenario drives it.
pub(crate) trait Site {
    /// The scratch directory.
    fn dir(&self) -> &Path;
    /// The `mitigation.adapters` list and the adapter's section, indented for
    /// `mitigation:`; `tool` is the control program to use (a wrapper that can fail).
    fn adapter_yaml(&self, tool: &Path) -> String;
    /// The real control program the wrapper runs.
    fn tool(&self) -> &'static str;
    /// Makes the adapter's way to the daemon fail (`on`) or work again; false where
    /// there is no way to (the scenario then leaves out its failure steps). The
    /// default makes the wrapper fail.
    fn fail(&self, on: bool) -> bool {
        let flag = self.dir().join("fail");
        if on {
            std::fs::write(flag, "").unwrap();
        } else {
            std::fs::remove_file(flag).unwrap();
        }
        true
    }
    /// What `levee run` is started through (such as `ip netns exec NS`).
    fn runner(&self) -> Vec<String> {
        Vec::new()
    }
    /// What the adapter's error says while it fails.
    fn outage(&self) -> &'static str {
        "simulated outage"
    }
    /// Whether the daemon takes FlowSpec from levee.
    fn flowspec(&self) -> bool;
    /// The daemon's rendering of the route for `victim` (`None`: it has none).
    fn rtbh(&self, victim: &str) -> Option<String>;
    /// The daemon's FlowSpec rules, as text.
    fn flows(&self) -> String;
    /// Whether a route's rendering shows BLACKHOLE and 64500:666.
    fn communities_ok(&self, rendering: &str) -> bool;
    /// Puts a route for 192.0.2.40/32 where levee's routes live (its include file, its
    /// tag range), held by no mitigation; false where the daemon has no such place
    /// (gobgpd: levee removes only what its store says it put there).
    fn plant_orphan(&self) -> bool;
}

/// A wrapper around the control tool that fails while `DIR/fail` exists.
pub(crate) fn wrapper(dir: &Path, real: &str) -> PathBuf {
    let w = dir.join(format!("{real}-wrapper"));
    let real = output("sh", &["-c", &format!("command -v {real}")]);
    std::fs::write(
        &w,
        format!(
            "#!/bin/sh\nif [ -e {d}/fail ]; then echo 'simulated outage' >&2; exit 1; fi\nexec {r} \"$@\"\n",
            d = dir.display(),
            r = real.trim()
        ),
    )
    .unwrap();
    Command::new("chmod")
        .args(["+x", w.to_str().unwrap()])
        .status()
        .unwrap();
    w
}

pub(crate) fn config(site: &impl Site, tool: &Path) -> PathBuf {
    let d = site.dir();
    let flow_levels = if site.flowspec() {
        ""
    } else {
        "    l1: {enabled: false}\n    l2: {enabled: false}\n"
    };
    let cfg = d.join("levee.yaml");
    let middle = format!(
        "mitigation:\n{adapter}  levels:\n{flow_levels}    \
         l3: {{communities: [\"64500:666\"], next_hop: [192.0.2.254]}}\n",
        adapter = site.adapter_yaml(tool),
    );
    std::fs::write(&cfg, lab_yaml(d, &middle)).unwrap();
    cfg
}

/// A levee config for the tests: an sFlow listener on a free loopback port, the
/// protected network `lab` (192.0.2.0/24), then `middle` (bgp, mitigation...), and the
/// store and control socket in `dir`.
pub(crate) fn lab_yaml(dir: &Path, middle: &str) -> String {
    format!(
        "listeners:\n  sflow: {{bind: 127.0.0.1:{p}}}\n  netflow: {{enabled: false}}\n  \
         ipfix: {{enabled: false}}\n\
         protected_networks:\n  - name: lab\n    prefixes: [192.0.2.0/24]\n\
         {middle}\
         store: {{path: {d}/levee.db}}\ncontrol: {{socket: {d}/control.sock}}\n",
        p = free_port(),
        d = dir.display()
    )
}

fn add(cfg: &Path, args: &[&str]) -> u64 {
    let mut a = vec!["mitigate", "add"];
    a.extend_from_slice(args);
    let (ok, out) = levee(cfg, &a);
    assert!(ok, "{out}");
    list(cfg)["mitigations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_u64().unwrap())
        .max()
        .unwrap()
}

fn withdraw(cfg: &Path, id: u64) {
    let (ok, out) = levee(cfg, &["mitigate", "withdraw", &id.to_string()]);
    assert!(ok, "{out}");
}

/// The adapter's status in `levee mitigate list --json`.
fn adapter(cfg: &Path) -> serde_json::Value {
    list(cfg)["adapters"][0].clone()
}

fn start(site: &impl Site, cfg: &Path, log: &str) -> Running {
    let runner = site.runner();
    let runner: Vec<&str> = runner.iter().map(String::as_str).collect();
    Running::start_via(&runner, cfg, site.dir().join(log))
}

pub(crate) fn scenario(site: &impl Site) {
    let dir = site.dir();
    let tool = wrapper(dir, site.tool());
    let cfg = config(site, &tool);
    let (ok, out) = levee(&cfg, &["check"]);
    assert!(ok, "{out}");
    let first = start(site, &cfg, "levee-1.log");
    poll("the control socket", 20, |last| {
        *last = first.log();
        last.contains("control socket ready").then_some(())
    });

    // RTBH with its communities, and FlowSpec where the daemon takes it.
    let kept = add(&cfg, &["192.0.2.30", "--level", "3", "--ttl", "120"]);
    poll("the RTBH route", 15, |last| {
        let r = site.rtbh("192.0.2.30");
        *last = format!("{r:?}\n{}", first.log());
        r.filter(|r| site.communities_ok(r))
    });
    let flow =
        "flow destination 192.0.2.31/32 protocol udp source-port ==123 then rate-limit 125000";
    if site.flowspec() {
        add(&cfg, &[flow, "--ttl", "120"]);
        poll("the FlowSpec rule", 15, |last| {
            *last = site.flows() + &first.log();
            last.contains("192.0.2.31").then_some(())
        });
    }
    let short = add(&cfg, &["192.0.2.32", "--level", "3", "--ttl", "2"]);
    poll("the short-lived RTBH route", 15, |last| {
        *last = first.log();
        site.rtbh("192.0.2.32")
    });
    assert!(short > kept);

    // A crash: nothing is withdrawn. The short route expires while levee is down, and
    // an orphan appears.
    first.crash();
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(
        site.rtbh("192.0.2.32").is_some(),
        "a crash withdraws nothing"
    );
    let planted = site.plant_orphan();
    if planted {
        poll("the planted orphan", 10, |_| site.rtbh("192.0.2.40"));
    }
    let second = start(site, &cfg, "levee-2.log");
    poll(
        "the expired route and the orphan gone after the restart",
        20,
        |last| {
            *last = format!(
                "{:?} {:?}\n{}",
                site.rtbh("192.0.2.32"),
                site.rtbh("192.0.2.40"),
                second.log()
            );
            (site.rtbh("192.0.2.32").is_none() && site.rtbh("192.0.2.40").is_none()).then_some(())
        },
    );
    assert!(
        site.rtbh("192.0.2.30").is_some(),
        "the restart lost a route"
    );
    if site.flowspec() {
        assert!(
            site.flows().contains("192.0.2.31"),
            "the restart lost the rule"
        );
    }
    poll("the adapter's reconciliation", 10, |last| {
        let a = adapter(&cfg);
        *last = a.to_string();
        (a["reconciled"].as_u64() >= Some(1)).then_some(())
    });

    // Where the daemon can be made unreachable: the control tool fails and recovers
    // while levee runs, and a withdrawal never reaches the daemon before levee stops.
    let last = if site.fail(true) {
        // The control tool fails and recovers while levee runs: the change is retried.
        add(&cfg, &["192.0.2.33", "--level", "3", "--ttl", "120"]);
        poll("the adapter's failure in its status", 10, |last| {
            let a = adapter(&cfg);
            *last = a.to_string();
            a["last_error"]
                .as_str()
                .is_some_and(|e| e.contains(site.outage()))
                .then_some(())
        });
        assert!(site.fail(false));
        poll("the retried announcement", 15, |last| {
            *last = adapter(&cfg).to_string();
            site.rtbh("192.0.2.33")
        });

        // A withdrawal the daemon never gets: levee stops with it unconfirmed and withdraws
        // it at the next start.
        assert!(site.fail(true));
        withdraw(&cfg, kept);
        poll("the failed withdrawal", 10, |last| {
            let a = adapter(&cfg);
            *last = a.to_string();
            (a["pending"].as_u64() >= Some(1)).then_some(())
        });
        let log = second.stop();
        assert!(log.contains("changes not applied"), "{log}");
        assert!(site.rtbh("192.0.2.30").is_some());
        assert!(site.fail(false));
        let third = start(site, &cfg, "levee-3.log");
        poll(
            "the unconfirmed withdrawal done at the next start",
            20,
            |last| {
                *last = third.log();
                site.rtbh("192.0.2.30").is_none().then_some(())
            },
        );
        assert!(
            third
                .log()
                .contains("withdrawal the adapter never confirmed"),
            "{}",
            third.log()
        );
        assert!(site.rtbh("192.0.2.33").is_some());
        third
    } else {
        second
    };

    // Two probe intervals with routes held: the probe reads the daemon's routes back
    // and must not take a route it holds for a lost one (a daemon restart is the
    // adapters test's own case).
    std::thread::sleep(::levee::adapters::PROBE * 2);
    assert_eq!(adapter(&cfg)["restarts"], 0, "{}", last.log());

    // Everything withdrawn; nothing left in the daemon.
    for m in list(&cfg)["mitigations"].as_array().unwrap() {
        withdraw(&cfg, m["id"].as_u64().unwrap());
    }
    poll("every route withdrawn", 15, |seen| {
        *seen = site.flows();
        (site.rtbh("192.0.2.33").is_none()
            && site.rtbh("192.0.2.30").is_none()
            && !site.flows().contains("192.0.2."))
        .then_some(())
    });
    last.stop();
    let (ok, out) = levee(&cfg, &["audit", "verify"]);
    assert!(ok && out.contains("intact"), "{out}");
}
