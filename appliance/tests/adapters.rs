//! The daemon adapters against the real daemons: `levee run` sends manual mitigations
//! to gobgpd (through the gobgp CLI), BIRD 2 (include file and `birdc configure`) and
//! FRR (static blackhole routes redistributed through a route-map, in a network
//! namespace of the test's own). Each test checks, in the daemon's own output:
//!
//! - RTBH with the BLACKHOLE and configured communities, and a FlowSpec rule where the
//!   daemon takes FlowSpec;
//! - a crash of levee (SIGKILL): after the restart the routes are still there, the one
//!   whose TTL ran out meanwhile is withdrawn, and a route levee owns that no
//!   mitigation holds (an orphan, put there by hand) is removed;
//! - a failing control tool: the adapter shows the error, levee stops with the
//!   withdrawal unconfirmed, and the next start withdraws it;
//! - an adapter that fails and recovers while levee runs;
//! - everything withdrawn at the end, and the audit log intact.

mod common;

use common::levee_with as levee;
use common::list;
use common::scenario::{Site, config, scenario, wrapper};
use levee_testkit::daemon::bgp::{birdc, gobgp, gobgpd_conf, vtysh};
use levee_testkit::lab::{Netns, free_port, output, poll, scratch};
use levee_testkit::{Daemon, Launch, have_all};
use std::path::{Path, PathBuf};
use std::process::Command;

// --- gobgpd ---------------------------------------------------------------------

struct Gobgp {
    dir: PathBuf,
    api: u16,
    daemon: Option<Daemon>,
}

impl Gobgp {
    fn start() -> Gobgp {
        Gobgp::start_with(
            "[global.config]\n  as = 64501\n  router-id = \"192.0.2.2\"\n  port = -1\n",
        )
    }

    /// gobgpd with this configuration.
    fn start_with(config: &str) -> Gobgp {
        let dir = scratch(&format!("adapter-gobgp-{}", free_port()));
        let api = free_port();
        let conf = dir.join("gobgpd.toml");
        std::fs::write(&conf, config).unwrap();
        let d = Launch::gobgpd(&conf, api).start(&dir.join("gobgpd.log"));
        let g = Gobgp {
            dir,
            api,
            daemon: Some(d),
        };
        g.wait_for_api();
        g
    }

    fn wait_for_api(&self) {
        poll("gobgpd's API", 20, |last| {
            *last = self.cli(&["global"]);
            last.contains("64501").then_some(())
        });
    }

    /// Stops gobgpd (its RIB, held in memory, goes with it).
    fn kill(&mut self) {
        if let Some(d) = self.daemon.take() {
            d.stop();
        }
    }

    /// Starts gobgpd again with the same configuration and API port: an empty RIB.
    fn start_again(&mut self) {
        let d = Launch::gobgpd(&self.dir.join("gobgpd.toml"), self.api)
            .start(&self.dir.join("gobgpd-2.log"));
        self.daemon = Some(d);
        self.wait_for_api();
    }

    fn cli(&self, args: &[&str]) -> String {
        gobgp(self.api, args)
    }
}

/// The line of `out` that mentions `what`, if any.
fn line_with(out: &str, what: &str) -> Option<String> {
    out.lines().find(|l| l.contains(what)).map(String::from)
}

impl Site for Gobgp {
    fn dir(&self) -> &Path {
        &self.dir
    }
    fn adapter_yaml(&self, tool: &Path) -> String {
        format!(
            "  adapters: [gobgp]\n  gobgp: {{cli: {}, port: {}}}\n",
            tool.display(),
            self.api
        )
    }
    fn tool(&self) -> &'static str {
        "gobgp"
    }
    fn flowspec(&self) -> bool {
        true
    }
    fn rtbh(&self, victim: &str) -> Option<String> {
        line_with(
            &self.cli(&["global", "rib", "-a", "ipv4"]),
            &format!("{victim}/32"),
        )
    }
    fn flows(&self) -> String {
        self.cli(&["global", "rib", "-a", "ipv4-flowspec"])
    }
    fn communities_ok(&self, r: &str) -> bool {
        r.contains("blackhole") && r.contains("64500:666") && r.contains("192.0.2.254")
    }
    fn plant_orphan(&self) -> bool {
        false
    }
}

/// The scenario against the site `start` builds, when `tools` are installed; the
/// site's directory goes after a pass.
fn run<S: Site>(tools: &[&str], start: fn() -> S) -> Option<S> {
    if !have_all(tools) {
        return None;
    }
    let site = start();
    scenario(&site);
    let _ = std::fs::remove_dir_all(site.dir());
    Some(site)
}

#[test]
fn gobgp_adapter() {
    run(&["gobgpd", "gobgp"], Gobgp::start);
}

/// gobgpd restarts mid-mitigation with an empty RIB: the route is back well before the
/// minute's resync, and `mitigate list` does not call it applied while it is missing.
#[test]
fn gobgpd_restart_is_reconciled_at_once() {
    if !have_all(&["gobgpd", "gobgp"]) {
        return;
    }
    let mut site = Gobgp::start();
    restart_scenario(&mut site, Gobgp::kill, Gobgp::start_again);
    let _ = std::fs::remove_dir_all(site.dir());
}

// --- daemon restarts --------------------------------------------------------------

/// The gobgp or bird adapter's result for mitigation `id` in `levee mitigate list`:
/// (state, error).
fn adapter_result(cfg: &Path, id: u64) -> (String, String) {
    let l = list(cfg);
    let m = l["mitigations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"].as_u64() == Some(id))
        .unwrap_or_else(|| panic!("mitigation {id} not listed: {l}"))
        .clone();
    let r = &m["adapters"][0];
    (
        r["state"].as_str().unwrap_or("").to_string(),
        r["error"].as_str().unwrap_or("").to_string(),
    )
}

/// levee announces an RTBH route through the site's adapter; the daemon is stopped
/// (`kill`), which `mitigate list` shows as not applied, then started again without the
/// route (`start_again`). The route is back within 20 s (the resync is every 60 s), and
/// at no point meanwhile does `mitigate list` call it applied while the daemon lacks it.
fn restart_scenario<S: Site>(site: &mut S, kill: fn(&mut S), start_again: fn(&mut S)) {
    let tool = wrapper(site.dir(), site.tool());
    let cfg = config(site, &tool);
    let run = common::Running::start(&cfg, site.dir().join("levee-restart.log"));
    poll("the control socket", 20, |last| {
        *last = run.log();
        last.contains("control socket ready").then_some(())
    });
    let (ok, out) = levee(&cfg, &["mitigate", "add", "192.0.2.30", "--level", "3"]);
    assert!(ok, "{out}");
    let id = list(&cfg)["mitigations"][0]["id"].as_u64().unwrap();
    poll("the route applied", 20, |last| {
        let r = adapter_result(&cfg, id);
        *last = format!("{r:?} {:?}\n{}", site.rtbh("192.0.2.30"), run.log());
        (r.0 == "applied" && site.rtbh("192.0.2.30").is_some()).then_some(())
    });

    kill(site);
    poll("mitigate list to stop calling it applied", 30, |last| {
        let r = adapter_result(&cfg, id);
        *last = format!("{r:?}\n{}", run.log());
        (r.0 == "failed").then_some(())
    });
    // (The adapter may put the route back while `start_again` waits for the daemon.)
    start_again(site);
    let restarted = std::time::Instant::now();
    poll("the route back on the daemon, and applied", 20, |last| {
        // The list first: if it says applied, the daemon must hold the route by now.
        let r = adapter_result(&cfg, id);
        let held = site.rtbh("192.0.2.30");
        assert!(
            r.0 != "applied" || held.is_some(),
            "mitigate list says applied while the daemon lacks the route: {r:?}"
        );
        *last = format!("{r:?} {held:?}\n{}", run.log());
        (r.0 == "applied" && held.is_some_and(|h| site.communities_ok(&h))).then_some(())
    });
    assert!(restarted.elapsed() < ::levee::adapters::RESYNC);
    let a = list(&cfg)["adapters"][0].clone();
    assert!(
        a["failures"].as_u64() >= Some(1) || a["restarts"].as_u64() >= Some(1),
        "{a}"
    );
    run.stop();
}

// --- ExaBGP ---------------------------------------------------------------------

/// ExaBGP fed through its named pipe, sending to a gobgpd whose RIB the checks read
/// (so what is checked went over the wire).
struct Exabgp {
    dir: PathBuf,
    pipes: PathBuf,
    name: String,
    receiver: Gobgp,
    _daemon: Daemon,
}

impl Exabgp {
    fn start() -> Exabgp {
        let dir = scratch("adapter-exabgp");
        // ExaBGP looks for its pipes in fixed run directories; the name is the test's.
        let pipes = PathBuf::from("/run/exabgp");
        std::fs::create_dir_all(&pipes).unwrap();
        let name = format!("levee-adapter-{}", std::process::id());
        for end in ["in", "out"] {
            let p = pipes.join(format!("{name}.{end}"));
            let _ = std::fs::remove_file(&p);
            output("mkfifo", &[p.to_str().unwrap()]);
        }
        let port = free_port();
        let receiver = Gobgp::start_with(&gobgpd_conf(
            "192.0.2.2",
            "127.0.0.1",
            i32::from(port),
            "127.0.0.1",
            64505,
            &["ipv4-unicast", "ipv4-flowspec"],
            "",
        ));
        let conf = dir.join("exabgp.conf");
        std::fs::write(
            &conf,
            format!(
                "neighbor 127.0.0.1 {{\n  router-id 192.0.2.5;\n  local-address 127.0.0.1;\n  \
                 local-as 64505;\n  peer-as 64501;\n  connect {port};\n  \
                 family {{\n    ipv4 unicast;\n    ipv4 flow;\n  }}\n}}\n"
            ),
        )
        .unwrap();
        let log = dir.join("exabgp.log");
        let d = Launch::exabgp(&conf, &log)
            .env("exabgp.api.pipename", &name)
            .start(&dir.join("exabgp.out"));
        poll("ExaBGP's session with gobgpd", 30, |last| {
            *last =
                receiver.cli(&["neighbor"]) + &std::fs::read_to_string(&log).unwrap_or_default();
            receiver.cli(&["neighbor"]).contains("Establ").then_some(())
        });
        Exabgp {
            dir,
            pipes,
            name,
            receiver,
            _daemon: d,
        }
    }

    fn pipe(&self, end: &str) -> PathBuf {
        self.pipes.join(format!("{}.{end}", self.name))
    }
}

impl Drop for Exabgp {
    fn drop(&mut self) {
        for end in ["in", "out", "in.away"] {
            let _ = std::fs::remove_file(self.pipe(end));
        }
    }
}

impl Site for Exabgp {
    fn dir(&self) -> &Path {
        &self.dir
    }
    fn adapter_yaml(&self, _tool: &Path) -> String {
        format!(
            "  adapters: [exabgp]\n  exabgp: {{pipe_dir: {}, pipe_name: {}}}\n",
            self.pipes.display(),
            self.name
        )
    }
    fn tool(&self) -> &'static str {
        "exabgp"
    }
    /// The command pipe moves away: the adapter cannot reach ExaBGP.
    fn fail(&self, on: bool) -> bool {
        let (from, to) = if on {
            ("in", "in.away")
        } else {
            ("in.away", "in")
        };
        std::fs::rename(self.pipe(from), self.pipe(to)).unwrap();
        true
    }
    fn outage(&self) -> &'static str {
        "no such pipe"
    }
    fn flowspec(&self) -> bool {
        true
    }
    fn rtbh(&self, victim: &str) -> Option<String> {
        self.receiver.rtbh(victim)
    }
    fn flows(&self) -> String {
        self.receiver.flows()
    }
    fn communities_ok(&self, r: &str) -> bool {
        self.receiver.communities_ok(r)
    }
    fn plant_orphan(&self) -> bool {
        false
    }
}

#[test]
fn exabgp_adapter() {
    if let Some(e) = run(&["exabgp", "gobgpd", "gobgp", "mkfifo"], Exabgp::start) {
        let _ = std::fs::remove_dir_all(&e.receiver.dir);
    }
}

// --- BIRD 2 ---------------------------------------------------------------------

struct Bird {
    dir: PathBuf,
    daemon: Option<Daemon>,
}

impl Bird {
    fn start() -> Bird {
        let dir = scratch(&format!("adapter-bird-{}", free_port()));
        let include = dir.join("levee.conf");
        // BIRD needs the include file to exist; levee rewrites it at start.
        std::fs::write(&include, "").unwrap();
        let conf = dir.join("bird.conf");
        std::fs::write(
            &conf,
            format!(
                "router id 192.0.2.3;\nflow4 table flowtab4;\nflow6 table flowtab6;\n\
                 protocol device {{}}\ninclude \"{}\";\n",
                include.display()
            ),
        )
        .unwrap();
        let mut b = Bird { dir, daemon: None };
        b.start_again();
        b
    }

    /// Starts BIRD with the test's bird.conf (and whatever the include file holds).
    fn start_again(&mut self) {
        let n = std::fs::read_dir(&self.dir).map_or(0, |d| d.count());
        let d = Launch::bird(&self.dir.join("bird.conf"), &self.dir.join("bird.ctl"))
            .start(&self.dir.join(format!("bird-{n}.log")));
        self.daemon = Some(d);
        poll("birdc", 20, |last| {
            *last = self.birdc(&["show", "status"]);
            last.contains("Daemon is up").then_some(())
        });
    }

    /// Stops BIRD.
    fn kill(&mut self) {
        if let Some(d) = self.daemon.take() {
            d.stop();
        }
    }

    fn birdc(&self, args: &[&str]) -> String {
        birdc(&self.dir.join("bird.ctl"), args)
    }
}

impl Site for Bird {
    fn dir(&self) -> &Path {
        &self.dir
    }
    fn adapter_yaml(&self, tool: &Path) -> String {
        format!(
            "  adapters: [bird]\n  bird: {{birdc: {}, socket: {}, include: {}}}\n",
            tool.display(),
            self.dir.join("bird.ctl").display(),
            self.dir.join("levee.conf").display()
        )
    }
    fn tool(&self) -> &'static str {
        "birdc"
    }
    fn flowspec(&self) -> bool {
        true
    }
    fn rtbh(&self, victim: &str) -> Option<String> {
        let out = self.birdc(&[
            "show",
            "route",
            "table",
            "master4",
            &format!("{victim}/32"),
            "all",
        ]);
        out.contains(&format!("{victim}/32")).then_some(out)
    }
    fn flows(&self) -> String {
        self.birdc(&["show", "route", "table", "flowtab4", "all"])
    }
    fn communities_ok(&self, r: &str) -> bool {
        r.contains("blackhole")
            && r.contains("BGP.community: (65535,666) (64500,666)")
            && r.contains("BGP.next_hop: 192.0.2.254")
    }
    fn plant_orphan(&self) -> bool {
        let include = self.dir.join("levee.conf");
        let text = std::fs::read_to_string(&include).unwrap();
        let planted = text.replace(
            "ipv4 { table master4; };\n",
            "ipv4 { table master4; };\n  route 192.0.2.40/32 blackhole;\n",
        );
        assert_ne!(text, planted, "{text}");
        std::fs::write(&include, planted).unwrap();
        let out = self.birdc(&["configure"]);
        assert!(out.contains("Reconfigured"), "{out}");
        true
    }
}

#[test]
fn bird_adapter() {
    run(&["bird", "birdc"], Bird::start);
}

/// BIRD restarts mid-mitigation with its include file emptied (configuration management
/// or a package upgrade put another one in place): the restart is noticed by BIRD's
/// boot time, and the file written and configured again at once.
#[test]
fn bird_restart_is_reconciled_at_once() {
    if !have_all(&["bird", "birdc"]) {
        return;
    }
    let mut site = Bird::start();
    restart_scenario(
        &mut site,
        |b| {
            b.kill();
            std::fs::write(b.dir.join("levee.conf"), "").unwrap();
        },
        Bird::start_again,
    );
    let _ = std::fs::remove_dir_all(site.dir());
}

// --- FRR ------------------------------------------------------------------------

/// zebra, staticd and bgpd in a network namespace of the test's own (static routes
/// reach zebra and its kernel table, which must not be the host's).
struct Frr {
    dir: PathBuf,
    ns: Netns,
    daemons: Vec<Daemon>,
}

impl Frr {
    fn start() -> Frr {
        let dir = scratch("adapter-frr");
        // FRR's daemons run as the frr user: they must write their sockets here.
        Command::new("chmod")
            .args(["777", dir.to_str().unwrap()])
            .status()
            .unwrap();
        let mut f = Frr {
            dir,
            ns: Netns::new("frr"),
            daemons: Vec::new(),
        };
        let confs = [
            ("zebra", "hostname lab\n".to_string()),
            ("staticd", "hostname lab\n".to_string()),
            (
                "bgpd",
                "hostname lab\nrouter bgp 64504\n bgp router-id 192.0.2.4\n \
                 no bgp ebgp-requires-policy\n"
                    .to_string(),
            ),
        ];
        for (name, conf) in confs {
            let d = &f.dir;
            let c = d.join(format!("{name}.conf"));
            std::fs::write(&c, conf).unwrap();
            let mut launch = Launch::frr(name, &c, d)
                .arg("-z")
                .arg(d.join("zserv.api"))
                .via(f.ns.exec());
            if name != "zebra" {
                launch = launch.args(["-P", "0"]);
            }
            if name == "bgpd" {
                launch = launch.args(["-p", "0"]);
            }
            f.daemons.push(launch.start(&d.join(format!("{name}.log"))));
            if name == "zebra" {
                poll("zebra's socket", 20, |_| {
                    d.join("zserv.api").exists().then_some(())
                });
            }
        }
        poll("vtysh reaching bgpd and staticd", 20, |last| {
            *last = f.vtysh(&["show running-config"]);
            (last.contains("router bgp 64504") && f.vtysh(&["show daemons"]).contains("staticd"))
                .then_some(())
        });
        f
    }

    fn vtysh(&self, cmds: &[&str]) -> String {
        vtysh(&self.dir, cmds)
    }
}

impl Drop for Frr {
    /// The daemons stop before their namespace goes.
    fn drop(&mut self) {
        for d in self.daemons.drain(..) {
            d.stop();
        }
    }
}

impl Site for Frr {
    fn dir(&self) -> &Path {
        &self.dir
    }
    fn adapter_yaml(&self, tool: &Path) -> String {
        format!(
            "  adapters: [frr]\n  frr: {{vtysh: {}, vty_socket: {}}}\n",
            tool.display(),
            self.dir.display()
        )
    }
    fn tool(&self) -> &'static str {
        "vtysh"
    }
    fn flowspec(&self) -> bool {
        false
    }
    /// The static route in the running config, with the BGP route redistributed from it.
    fn rtbh(&self, victim: &str) -> Option<String> {
        let conf = self.vtysh(&["show running-config"]);
        let line = line_with(&conf, &format!("ip route {victim}/32 blackhole"))?;
        Some(line + "\n" + &self.vtysh(&[&format!("show bgp ipv4 unicast {victim}/32")]))
    }
    fn flows(&self) -> String {
        String::new()
    }
    fn communities_ok(&self, r: &str) -> bool {
        r.contains("Community: 64500:666 blackhole") && r.contains("192.0.2.254 from")
    }
    fn plant_orphan(&self) -> bool {
        // In levee's tag range: levee's by convention.
        self.vtysh(&[
            "configure terminal",
            "ip route 192.0.2.40/32 blackhole tag 6999",
        ]);
        true
    }
}

#[test]
fn frr_adapter() {
    if !have_all(&["vtysh", "/usr/lib/frr/zebra", "/usr/lib/frr/staticd", "ip"]) {
        return;
    }
    let f = Frr::start();
    // FRR alone cannot carry the FlowSpec levels: the config check says so.
    let tool = wrapper(&f.dir, "vtysh");
    let cfg = config(&f, &tool);
    let with_flowspec = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("    l1: {enabled: false}\n    l2: {enabled: false}\n", "");
    let bad = f.dir.join("flowspec.yaml");
    std::fs::write(&bad, with_flowspec).unwrap();
    let (ok, out) = levee(&bad, &["check"]);
    assert!(
        !ok && out.contains("the frr adapter carries RTBH only"),
        "{out}"
    );
    scenario(&f);
    // The route-map levee maintains, as FRR shows it.
    let conf = f.vtysh(&["show running-config"]);
    assert!(
        conf.contains("redistribute static route-map LEVEE-RTBH"),
        "{conf}"
    );
    let dir = f.dir.clone();
    drop(f);
    let _ = std::fs::remove_dir_all(&dir);
}
