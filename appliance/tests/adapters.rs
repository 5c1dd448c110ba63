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
    _daemon: Daemon,
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
            _daemon: d,
        };
        poll("gobgpd's API", 20, |last| {
            *last = g.cli(&["global"]);
            last.contains("64501").then_some(())
        });
        g
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
    _daemon: Daemon,
}

impl Bird {
    fn start() -> Bird {
        let dir = scratch("adapter-bird");
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
        let sock = dir.join("bird.ctl");
        let d = Launch::bird(&conf, &sock).start(&dir.join("bird.log"));
        let b = Bird { dir, _daemon: d };
        poll("birdc", 20, |last| {
            *last = b.birdc(&["show", "status"]);
            last.contains("Daemon is up").then_some(())
        });
        b
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
