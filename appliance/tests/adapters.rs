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

use common::bgplab::{Daemon, free_port, have_all, output, poll, scratch};
use common::{Running, levee_with as levee, list};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A daemon under an adapter, as the scenario drives it.
trait Site {
    /// The scratch directory.
    fn dir(&self) -> &Path;
    /// The `mitigation.adapters` list and the adapter's section, indented for
    /// `mitigation:`; `tool` is the control program to use (a wrapper that can fail).
    fn adapter_yaml(&self, tool: &Path) -> String;
    /// The real control program the wrapper runs.
    fn tool(&self) -> &'static str;
    /// Makes the adapter's way to the daemon fail (`on`) or work again. The default
    /// makes the wrapper fail.
    fn fail(&self, on: bool) {
        let flag = self.dir().join("fail");
        if on {
            std::fs::write(flag, "").unwrap();
        } else {
            std::fs::remove_file(flag).unwrap();
        }
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
fn wrapper(dir: &Path, real: &str) -> PathBuf {
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

fn config(site: &impl Site, tool: &Path) -> PathBuf {
    let d = site.dir();
    let flow_levels = if site.flowspec() {
        ""
    } else {
        "    l1: {enabled: false}\n    l2: {enabled: false}\n"
    };
    let cfg = d.join("levee.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listeners:\n  sflow: {{bind: 127.0.0.1:{p}}}\n  netflow: {{enabled: false}}\n  \
             ipfix: {{enabled: false}}\n\
             protected_networks:\n  - name: lab\n    prefixes: [192.0.2.0/24]\n\
             mitigation:\n{adapter}  levels:\n{flow_levels}    \
             l3: {{communities: [\"64500:666\"], next_hop: [192.0.2.254]}}\n\
             store: {{path: {d}/levee.db}}\ncontrol: {{socket: {d}/control.sock}}\n",
            p = free_port(),
            adapter = site.adapter_yaml(tool),
            d = d.display()
        ),
    )
    .unwrap();
    cfg
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

fn scenario(site: &impl Site) {
    let dir = site.dir();
    let tool = wrapper(dir, site.tool());
    let cfg = config(site, &tool);
    let (ok, out) = levee(&cfg, &["check"]);
    assert!(ok, "{out}");
    let first = Running::start(&cfg, dir.join("levee-1.log"));
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
    let second = Running::start(&cfg, dir.join("levee-2.log"));
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

    // The control tool fails and recovers while levee runs: the change is retried.
    site.fail(true);
    add(&cfg, &["192.0.2.33", "--level", "3", "--ttl", "120"]);
    poll("the adapter's failure in its status", 10, |last| {
        let a = adapter(&cfg);
        *last = a.to_string();
        a["last_error"]
            .as_str()
            .is_some_and(|e| e.contains(site.outage()))
            .then_some(())
    });
    site.fail(false);
    poll("the retried announcement", 15, |last| {
        *last = adapter(&cfg).to_string();
        site.rtbh("192.0.2.33")
    });

    // A withdrawal the daemon never gets: levee stops with it unconfirmed and withdraws
    // it at the next start.
    site.fail(true);
    withdraw(&cfg, kept);
    poll("the failed withdrawal", 10, |last| {
        let a = adapter(&cfg);
        *last = a.to_string();
        (a["pending"].as_u64() >= Some(1)).then_some(())
    });
    let log = second.stop();
    assert!(log.contains("changes not applied"), "{log}");
    assert!(site.rtbh("192.0.2.30").is_some());
    site.fail(false);
    let third = Running::start(&cfg, dir.join("levee-3.log"));
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

    // Everything withdrawn; nothing left in the daemon.
    for m in list(&cfg)["mitigations"].as_array().unwrap() {
        withdraw(&cfg, m["id"].as_u64().unwrap());
    }
    poll("every route withdrawn", 15, |last| {
        *last = site.flows();
        (site.rtbh("192.0.2.33").is_none() && !site.flows().contains("192.0.2.")).then_some(())
    });
    third.stop();
    let (ok, out) = levee(&cfg, &["audit", "verify"]);
    assert!(ok && out.contains("intact"), "{out}");
}

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
        let d = Daemon::start(
            "gobgpd",
            "gobgpd",
            &[
                "-f",
                conf.to_str().unwrap(),
                "--api-hosts",
                &format!("127.0.0.1:{api}"),
            ],
            &[],
            &dir.join("gobgpd.log"),
        );
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
        common::bgplab::gobgp(self.api, args)
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

#[test]
fn gobgp_adapter() {
    if !have_all(&["gobgpd", "gobgp"]) {
        return;
    }
    let g = Gobgp::start();
    scenario(&g);
    let _ = std::fs::remove_dir_all(&g.dir);
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
        let receiver = Gobgp::start_with(&format!(
            "[global.config]\n  as = 64501\n  router-id = \"192.0.2.2\"\n  port = {port}\n  \
             local-address-list = [\"127.0.0.1\"]\n\n[[neighbors]]\n  [neighbors.config]\n    \
             neighbor-address = \"127.0.0.1\"\n    peer-as = 64505\n  \
             [neighbors.transport.config]\n    passive-mode = true\n\
             [[neighbors.afi-safis]]\n  [neighbors.afi-safis.config]\n    afi-safi-name = \"ipv4-unicast\"\n\
             [[neighbors.afi-safis]]\n  [neighbors.afi-safis.config]\n    afi-safi-name = \"ipv4-flowspec\"\n"
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
        let d = Daemon::start(
            "exabgp",
            "exabgp",
            &[conf.to_str().unwrap()],
            &[
                ("exabgp.daemon.user", "root"),
                ("exabgp.api.pipename", &name),
                ("exabgp.log.destination", log.to_str().unwrap()),
            ],
            &dir.join("exabgp.out"),
        );
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
    fn fail(&self, on: bool) {
        let (from, to) = if on {
            ("in", "in.away")
        } else {
            ("in.away", "in")
        };
        std::fs::rename(self.pipe(from), self.pipe(to)).unwrap();
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
    if !have_all(&["exabgp", "gobgpd", "gobgp", "mkfifo"]) {
        return;
    }
    let e = Exabgp::start();
    scenario(&e);
    let _ = std::fs::remove_dir_all(&e.dir);
    let _ = std::fs::remove_dir_all(&e.receiver.dir);
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
        let d = Daemon::start(
            "bird",
            "bird",
            &[
                "-f",
                "-c",
                conf.to_str().unwrap(),
                "-s",
                sock.to_str().unwrap(),
            ],
            &[],
            &dir.join("bird.log"),
        );
        let b = Bird { dir, _daemon: d };
        poll("birdc", 20, |last| {
            *last = b.birdc(&["show", "status"]);
            last.contains("Daemon is up").then_some(())
        });
        b
    }

    fn birdc(&self, args: &[&str]) -> String {
        common::bgplab::birdc(&self.dir.join("bird.ctl"), args)
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
    if !have_all(&["bird", "birdc"]) {
        return;
    }
    let b = Bird::start();
    scenario(&b);
    let _ = std::fs::remove_dir_all(&b.dir);
}

// --- FRR ------------------------------------------------------------------------

/// zebra, staticd and bgpd in a network namespace of the test's own (static routes
/// reach zebra and its kernel table, which must not be the host's).
struct Frr {
    dir: PathBuf,
    ns: String,
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
        let ns = format!("levee-frr-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &ns]).output();
        let ok = Command::new("ip")
            .args(["netns", "add", &ns])
            .status()
            .unwrap();
        assert!(ok.success(), "ip netns add {ns}");
        output(
            "ip",
            &["netns", "exec", &ns, "ip", "link", "set", "lo", "up"],
        );
        let mut f = Frr {
            dir,
            ns,
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
            let bin = format!("/usr/lib/frr/{name}");
            let mut args = vec![
                "netns".to_string(),
                "exec".into(),
                f.ns.clone(),
                bin,
                "-f".into(),
                c.display().to_string(),
                "-i".into(),
                d.join(format!("{name}.pid")).display().to_string(),
                "-z".into(),
                d.join("zserv.api").display().to_string(),
                "--vty_socket".into(),
                d.display().to_string(),
            ];
            if name != "zebra" {
                args.extend(["-P".into(), "0".into()]);
            }
            if name == "bgpd" {
                args.extend(["-p".into(), "0".into()]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            f.daemons.push(Daemon::start(
                name,
                "ip",
                &args,
                &[],
                &d.join(format!("{name}.log")),
            ));
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
        let mut a = vec!["--vty_socket", self.dir.to_str().unwrap()];
        for c in cmds {
            a.extend(["-c", c]);
        }
        output("vtysh", &a)
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        for d in self.daemons.drain(..) {
            d.stop();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
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
