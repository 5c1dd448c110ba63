//! The null-route adapter against the kernel: `levee run` inside a network namespace
//! of the test's own puts its RTBH routes there as blackhole routes (protocol 240),
//! checked with `ip route`. The adapter scenario (`common/scenario.rs`) runs without
//! its failure steps (there is no switch to make the kernel refuse for a while);
//! instead, levee started without CAP_NET_ADMIN must say so in the adapter's status.
//! Blackhole routes that are not levee's (another protocol) are never touched.

mod common;

use common::scenario::{Site, config, scenario};
use common::{Running, levee_with as levee, list};
use levee_testkit::have_all;
use levee_testkit::lab::{Netns, poll, scratch};
use std::path::{Path, PathBuf};

/// The kernel of a network namespace of the test's own.
struct Kernel {
    dir: PathBuf,
    ns: Netns,
}

impl Kernel {
    fn new() -> Kernel {
        Kernel {
            dir: scratch("adapter-null-route"),
            ns: Netns::new("null"),
        }
    }

    fn ip(&self, args: &[&str]) -> String {
        self.ns.ip(args)
    }
}

impl Site for Kernel {
    fn dir(&self) -> &Path {
        &self.dir
    }
    fn adapter_yaml(&self, _tool: &Path) -> String {
        "  adapters: [null_route]\n  null_route: {table: 254, protocol: 240}\n".into()
    }
    fn tool(&self) -> &'static str {
        "ip"
    }
    fn fail(&self, _on: bool) -> bool {
        false
    }
    fn runner(&self) -> Vec<String> {
        self.ns.exec().map(String::from).to_vec()
    }
    fn flowspec(&self) -> bool {
        false
    }
    fn rtbh(&self, victim: &str) -> Option<String> {
        self.ip(&["route", "show", "table", "254", "proto", "240"])
            .lines()
            .find(|l| {
                l.starts_with(&format!("blackhole {victim} "))
                    || l.trim() == format!("blackhole {victim}")
            })
            .map(String::from)
    }
    /// Every levee route in the namespace (no FlowSpec here).
    fn flows(&self) -> String {
        self.ip(&["route", "show", "table", "all", "proto", "240"])
    }
    fn communities_ok(&self, r: &str) -> bool {
        r.starts_with("blackhole")
    }
    fn plant_orphan(&self) -> bool {
        self.ip(&["route", "add", "blackhole", "192.0.2.40/32", "proto", "240"]);
        true
    }
}

#[test]
fn null_route_adapter() {
    if !have_all(&["ip", "setpriv"]) {
        return;
    }
    let n = Kernel::new();
    // Not levee's: another protocol, untouched by reconciliation.
    n.ip(&[
        "route",
        "add",
        "blackhole",
        "192.0.2.41/32",
        "proto",
        "static",
    ]);
    scenario(&n);
    assert!(
        n.ip(&["route", "show", "proto", "static"])
            .contains("blackhole 192.0.2.41"),
        "{}",
        n.ip(&["route"])
    );

    // Without CAP_NET_ADMIN the adapter fails, says why, and keeps the change pending.
    let cfg = config(&n, Path::new("ip"));
    let mut runner = n.runner();
    runner.extend(["setpriv", "--bounding-set", "-net_admin"].map(String::from));
    let runner: Vec<&str> = runner.iter().map(String::as_str).collect();
    let levee_run = Running::start_via(&runner, &cfg, n.dir.join("levee-nocap.log"));
    poll("the control socket", 20, |last| {
        *last = levee_run.log();
        last.contains("control socket ready").then_some(())
    });
    let (ok, out) = levee(&cfg, &["mitigate", "add", "192.0.2.50", "--level", "3"]);
    assert!(ok, "{out}");
    poll("the permission error in the adapter's status", 15, |last| {
        let a = list(&cfg)["adapters"][0].clone();
        *last = a.to_string();
        (a["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("levee needs CAP_NET_ADMIN"))
            && a["pending"].as_u64() >= Some(1))
        .then_some(())
    });
    assert!(n.rtbh("192.0.2.50").is_none());
    levee_run.crash();
    let _ = std::fs::remove_dir_all(&n.dir);
}
