//! levee as its service runs it, not as root: an unprivileged user (uid 65534, nobody)
//! with only CAP_NET_BIND_SERVICE, CAP_NET_RAW and CAP_NET_ADMIN (inheritable, ambient
//! and bounding set, as `scripts/levee.service` gives them) and no new privileges,
//! started with `setpriv` in a network namespace the test creates (loopback and a veth
//! pair, both ends inside, documentation addresses). It binds BGP on port 179, captures
//! on the mirror interface and writes a null route; without a capability it fails or
//! reports, naming the capability. And the Docker image's run: the embedded defaults as
//! the image's user, in directories made by the Dockerfile's own command.
//!
//! Needs root, iproute2 and util-linux (setpriv, unshare, nsenter): required in CI,
//! skipped with a message elsewhere.

mod common;

use common::{levee_with, list};
use levee::config::mitigation::{DEFAULT_CONTROL_SOCKET, DEFAULT_STORE};
use levee_testkit::daemon::sigterm;
use levee_testkit::lab::{Netns, output, poll, scratch};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The unprivileged user of the service test.
const NOBODY: u32 = 65534;
/// The service's capabilities, as setpriv names them.
const CAPS: [&str; 3] = ["net_bind_service", "net_raw", "net_admin"];
/// Their bits (CAP_NET_BIND_SERVICE 10, CAP_NET_ADMIN 12, CAP_NET_RAW 13).
const CAP_BITS: u64 = 1 << 10 | 1 << 12 | 1 << 13;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Root and the tools, or a skip (a failure in CI).
fn can_run() -> bool {
    let root = output("id", &["-u"]).trim() == "0";
    let tools = ["ip", "setpriv", "unshare", "nsenter", "python3"]
        .iter()
        .all(|t| {
            Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if root && tools {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI runs as root with iproute2, util-linux and python3"
    );
    println!("SKIPPED: the service test needs root, iproute2, util-linux and python3");
    false
}

/// A namespace with a veth pair inside (svA 192.0.2.1/24, svB the mirror port), and a
/// scratch directory owned by `uid` holding the levee binary (the build directory may
/// not be reachable by other users).
struct Lab {
    ns: Netns,
    dir: PathBuf,
    bin: PathBuf,
}

impl Lab {
    fn new(tag: &str, uid: u32) -> Lab {
        let ns = Netns::new(tag);
        for args in [
            &["link", "add", "svA", "type", "veth", "peer", "name", "svB"][..],
            &["link", "set", "svA", "up"],
            &["link", "set", "svB", "up"],
            &["addr", "add", "192.0.2.1/24", "dev", "svA"],
            // Datagrams to 192.0.2.9 leave svA (and reach svB) without ARP.
            &[
                "neigh",
                "add",
                "192.0.2.9",
                "lladdr",
                "02:00:00:00:00:09",
                "dev",
                "svA",
                "nud",
                "permanent",
            ],
        ] {
            let out = ns.ip(args);
            assert!(out.trim().is_empty(), "ip {args:?}: {out}");
        }
        let dir = scratch(&format!("service-{tag}"));
        let bin = dir.join("levee");
        // A hard link where the file system allows it (a 200 MB debug binary), else a copy.
        std::fs::hard_link(env!("CARGO_BIN_EXE_levee"), &bin)
            .or_else(|_| std::fs::copy(env!("CARGO_BIN_EXE_levee"), &bin).map(drop))
            .unwrap();
        std::os::unix::fs::chown(&dir, Some(uid), Some(uid)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        Lab { ns, dir, bin }
    }

    /// The service's config: BGP on 192.0.2.1:179 with one passive peer (TCP MD5 and
    /// GTSM, set on the listening socket: no capability needed), a mirror on svB, the null route beside the native adapter, store and control socket here,
    /// /metrics on the namespace's loopback.
    fn config(&self) -> PathBuf {
        let cfg = self.dir.join("levee.yaml");
        std::fs::write(
            &cfg,
            format!(
                "listeners:\n  sflow: {{bind: 127.0.0.1:6343}}\n  netflow: {{enabled: false}}\n  \
                 ipfix: {{enabled: false}}\nmirror:\n  - interface: svB\n\
                 protected_networks:\n  - name: lab\n    prefixes: [192.0.2.0/24]\n\
                 bgp:\n  local_as: 64500\n  router_id: 192.0.2.1\n  listen: 192.0.2.1:179\n  \
                 peers:\n    - {{name: r1, address: 192.0.2.2, remote_as: 64501, passive: true, \
                 md5_password: s3cretkey, ttl_security: 1}}\n\
                 mitigation:\n  adapters: [native, null_route]\n\
                 store: {{path: {d}/levee.db}}\ncontrol: {{socket: {d}/control.sock}}\n\
                 web: {{listen: '127.0.0.1:9750'}}\n",
                d = self.dir.display()
            ),
        )
        .unwrap();
        cfg
    }

    /// `ip netns exec NS setpriv ... LEVEE ARGS`: `uid` with only `caps`, no new
    /// privileges; setpriv and ip exec, so the child is levee itself.
    fn levee(&self, uid: u32, caps: &[&str], args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", self.ns.name()])
            .args(setpriv(uid, caps))
            .arg(&self.bin)
            .args(args);
        c
    }

    /// Its stdout and stderr, run to the end.
    fn run_to_end(&self, caps: &[&str], args: &[&str]) -> (Option<i32>, String) {
        let o = self.levee(NOBODY, caps, args).output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        )
    }

    /// `python3 -c SCRIPT` inside the namespace: its output.
    fn python(&self, script: &str) -> String {
        output(
            "ip",
            &["netns", "exec", self.ns.name(), "python3", "-c", script],
        )
    }

    /// A /metrics value, read inside the namespace.
    fn metric(&self, name: &str) -> Option<f64> {
        let body = self.python(
            "import urllib.request\n\
             print(urllib.request.urlopen('http://127.0.0.1:9750/metrics', timeout=5).read().decode())",
        );
        common::metric(&body, name)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// setpriv's arguments: `uid`/`gid`, no groups, no new privileges, and exactly `caps`
/// inheritable, ambient and in the bounding set.
fn setpriv(uid: u32, caps: &[&str]) -> Vec<String> {
    let set: String = caps.iter().map(|c| format!(",+{c}")).collect();
    vec![
        "setpriv".into(),
        format!("--reuid={uid}"),
        format!("--regid={uid}"),
        "--clear-groups".into(),
        "--no-new-privs".into(),
        format!("--inh-caps=-all{set}"),
        format!("--ambient-caps=-all{set}"),
        format!("--bounding-set=-all{set}"),
    ]
}

/// A running daemon, its stderr in a file; killed on drop.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(mut cmd: Command, log: PathBuf) -> Daemon {
        let f = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(f)
            .spawn()
            .unwrap();
        Daemon { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_for(&self, what: &str) {
        poll(what, 30, |last| {
            *last = self.log();
            last.contains(what).then_some(())
        });
    }

    /// A line of /proc/PID/status.
    fn status(&self, key: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap()
            .lines()
            .find_map(|l| Some(l.strip_prefix(key)?.strip_prefix(':')?.trim().to_string()))
            .unwrap_or_else(|| panic!("no {key} in /proc/PID/status"))
    }

    /// SIGTERM, a clean exit within 10 s; the log.
    fn stop(mut self) -> String {
        let status = sigterm(&mut self.child, Duration::from_secs(30));
        let log = self.log();
        assert!(
            status.is_some_and(|s| s.success()),
            "levee did not stop cleanly:\n{log}"
        );
        log
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The owner and permission bits of a file.
fn owner_and_mode(p: &Path) -> (u32, u32) {
    let m = std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (m.uid(), m.mode() & 0o777)
}

#[test]
fn a_non_root_service_with_only_its_capabilities_binds_captures_and_routes() {
    if !can_run() {
        return;
    }
    let lab = Lab::new("svc", NOBODY);
    let cfg = lab.config();
    let args = ["--log", "info", "--config", cfg.to_str().unwrap(), "run"];
    let d = Daemon::start(lab.levee(NOBODY, &CAPS, &args), lab.dir.join("levee.log"));
    d.wait_for("control socket ready");

    // Who it runs as: nobody, with exactly the three capabilities, no more to gain.
    assert_eq!(d.status("Uid").split_whitespace().next(), Some("65534"));
    for key in ["CapEff", "CapPrm", "CapAmb", "CapBnd"] {
        let bits = u64::from_str_radix(&d.status(key), 16).unwrap();
        assert_eq!(bits, CAP_BITS, "{key} {bits:x}");
    }
    assert_eq!(d.status("NoNewPrivs"), "1");

    // CAP_NET_BIND_SERVICE: BGP listens on port 179.
    let listening = output(
        "ip",
        &[
            "netns",
            "exec",
            lab.ns.name(),
            "ss",
            "-Htln",
            "sport = :179",
        ],
    );
    assert!(listening.contains("192.0.2.1:179"), "{listening}");

    // CAP_NET_RAW: the mirror port's packets are captured.
    lab.python(
        "import socket\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         for _ in range(20): s.sendto(b'x' * 100, ('192.0.2.9', 9999))\n",
    );
    poll("20 mirrored packets counted", 30, |last| {
        let n = lab.metric("levee_mirror_packets_total");
        *last = format!("{n:?}");
        n.filter(|n| *n >= 20.0)
    });

    // CAP_NET_ADMIN: the null route goes into the namespace's kernel.
    let (ok, out) = levee_with(&cfg, &["mitigate", "add", "192.0.2.50", "--level", "3"]);
    assert!(ok, "{out}");
    poll("the blackhole route", 30, |last| {
        *last = lab
            .ns
            .ip(&["route", "show", "table", "254", "proto", "240"]);
        last.contains("blackhole 192.0.2.50").then_some(())
    });

    // The store is the user's own, and no one else's to read.
    for f in ["levee.db", "levee.lock"] {
        assert_eq!(owner_and_mode(&lab.dir.join(f)), (NOBODY, 0o600), "{f}");
    }
    let log = d.stop();
    assert!(!log.contains("ERROR"), "{log}");
}

#[test]
fn without_a_capability_levee_names_it() {
    if !can_run() {
        return;
    }
    let lab = Lab::new("svcnocap", NOBODY);
    let cfg = lab.config();
    let args = ["--config", cfg.to_str().unwrap(), "run"];

    // Mirror capture first: with none at all, CAP_NET_RAW is the first one missed.
    for (caps, says) in [
        (&[][..], "capture needs CAP_NET_RAW"),
        (
            &["net_bind_service", "net_admin"][..],
            "capture needs CAP_NET_RAW",
        ),
        (
            &["net_raw", "net_admin"][..],
            "cannot listen on 192.0.2.1:179: Permission denied (os error 13); a port below 1024 needs CAP_NET_BIND_SERVICE",
        ),
    ] {
        let (code, out) = lab.run_to_end(caps, &args);
        assert_eq!(code, Some(1), "{caps:?}: {out}");
        assert!(out.contains(says), "{caps:?}: {out}");
        // Said once, on one line.
        assert_eq!(
            out.matches("Permission denied").count()
                + out.matches("Operation not permitted").count(),
            1,
            "{out}"
        );
    }

    // Without CAP_NET_ADMIN levee runs (TCP MD5 and GTSM need none), and the null-route
    // adapter says what it lacks.
    let d = Daemon::start(
        lab.levee(NOBODY, &["net_bind_service", "net_raw"], &args),
        lab.dir.join("nocap.log"),
    );
    d.wait_for("control socket ready");
    let (ok, out) = levee_with(&cfg, &["mitigate", "add", "192.0.2.51", "--level", "3"]);
    assert!(ok, "{out}");
    poll("CAP_NET_ADMIN in the null route's status", 30, |last| {
        let a = list(&cfg)["adapters"].clone();
        *last = a.to_string();
        a.as_array()?
            .iter()
            .any(|a| {
                a["name"] == "null_route"
                    && a["last_error"]
                        .as_str()
                        .is_some_and(|e| e.contains("levee needs CAP_NET_ADMIN"))
            })
            .then_some(())
    });
    d.stop();
}

/// The image's user, its runtime directories and its command, from the Dockerfile.
struct Image {
    uid: u32,
    /// The `RUN install -d ...` that makes the embedded defaults' directories.
    dirs: String,
}

fn image() -> Image {
    let docker = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let user = docker
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the image names its USER");
    let (uid, gid) = user.trim().split_once(':').expect("USER uid:gid");
    let uid: u32 = uid
        .parse()
        .expect("a numeric uid (Kubernetes' runAsNonRoot checks it)");
    assert_eq!(gid.parse::<u32>().ok(), Some(uid));
    assert_ne!(uid, 0);
    // The example config (its peer is at a documentation address) is not the image's
    // runtime config: `levee run` there uses the embedded defaults.
    for l in docker.lines().filter(|l| l.starts_with("COPY")) {
        assert!(!l.contains("/etc/levee"), "{l}");
    }
    assert!(
        docker.contains("ENTRYPOINT [\"levee\"]") && docker.contains("CMD [\"run\"]"),
        "{docker}"
    );
    let dirs = docker
        .lines()
        .find_map(|l| l.strip_prefix("RUN install -d "))
        .expect("RUN install -d: the defaults' directories")
        .to_string();
    for d in [DEFAULT_STORE, DEFAULT_CONTROL_SOCKET] {
        let parent = Path::new(d).parent().unwrap().to_str().unwrap();
        assert!(
            dirs.split_whitespace().any(|w| w == parent),
            "{parent} in {dirs}"
        );
    }
    assert!(dirs.contains(&format!("-o {uid} -g {uid}")), "{dirs}");
    Image { uid, dirs }
}

/// The image's `levee run` without the image: the embedded defaults as the image's
/// user, no capabilities, in a private mount namespace where /run and /var/lib are
/// empty and the Dockerfile's own `install -d` made the directories (and /etc/levee
/// holds no config).
#[test]
fn the_image_runs_as_its_user_on_the_embedded_defaults() {
    let img = image();
    if !can_run() {
        return;
    }
    let lab = Lab::new("svcimage", img.uid);
    let script = format!(
        "set -e; mount -t tmpfs -o mode=0755 tmpfs /run; mount -t tmpfs -o mode=0755 tmpfs /var/lib; \
         if [ -d /etc/levee ]; then mount -t tmpfs tmpfs /etc/levee; fi; \
         install -d {dirs}; exec {setpriv} {bin} --log info run",
        dirs = img.dirs,
        setpriv = setpriv(img.uid, &[]).join(" "),
        bin = lab.bin.display(),
    );
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", lab.ns.name()])
        .args(["unshare", "--mount", "--propagation", "private", "sh", "-c"])
        .arg(&script);
    let d = Daemon::start(cmd, lab.dir.join("image.log"));
    d.wait_for("listener bound kind=\"ipfix\"");
    let log = d.log();
    for line in [
        "levee starting origin=<embedded defaults>".to_string(),
        format!("store opened path={DEFAULT_STORE}"),
        format!("control socket ready socket={DEFAULT_CONTROL_SOCKET}"),
        "listener bound kind=\"sflow\" addr=0.0.0.0:6343".into(),
        "listener bound kind=\"netflow\" addr=0.0.0.0:2055".into(),
        "listener bound kind=\"ipfix\" addr=0.0.0.0:4739".into(),
    ] {
        assert!(log.contains(&line), "{line} not in:\n{log}");
    }
    assert_eq!(
        d.status("Uid").split_whitespace().next(),
        Some(img.uid.to_string().as_str())
    );
    assert_eq!(d.status("CapEff"), "0000000000000000");

    // Its store, in its mount namespace: the user's own.
    let root = PathBuf::from(format!("/proc/{}/root", d.child.id()));
    let store = root.join(DEFAULT_STORE.trim_start_matches('/'));
    assert_eq!(owner_and_mode(&store), (img.uid, 0o600));
    // Its control socket answers the image's user (`docker exec levee mitigate list`).
    let mut ask = Command::new("nsenter");
    ask.args([
        "--target",
        &d.child.id().to_string(),
        "--mount",
        "--net",
        "--",
    ])
    .args(setpriv(img.uid, &[]))
    .arg(&lab.bin)
    .args(["mitigate", "list", "--json"]);
    let o = ask.output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && out.contains("\"ok\":true"), "{out}");
    d.stop();
}

/// The unit grants what the service test grants, to the user install.sh creates, and
/// lets it open the sockets levee needs.
#[test]
fn the_unit_grants_exactly_the_tested_capabilities() {
    let unit = std::fs::read_to_string(repo().join("scripts/levee.service")).unwrap();
    let key = |k: &str| -> Vec<String> {
        let v: Vec<&str> = unit
            .lines()
            .filter_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .collect();
        assert_eq!(v.len(), 1, "{k}= once in the unit");
        v[0].split_whitespace().map(String::from).collect()
    };
    let mut tested: Vec<String> = CAPS
        .iter()
        .map(|c| format!("CAP_{}", c.to_uppercase()))
        .collect();
    tested.sort();
    for k in ["AmbientCapabilities", "CapabilityBoundingSet"] {
        let mut granted = key(k);
        granted.sort();
        assert_eq!(granted, tested, "{k}");
    }
    assert_eq!(key("User"), ["levee"]);
    assert_eq!(key("NoNewPrivileges"), ["yes"]);
    assert_eq!(key("ProtectSystem"), ["strict"]);
    assert_eq!(key("PrivateDevices"), ["yes"]);
    for family in ["AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET"] {
        assert!(
            key("RestrictAddressFamilies").iter().any(|f| f == family),
            "{family}"
        );
    }
    let install = std::fs::read_to_string(repo().join("scripts/install.sh")).unwrap();
    assert!(
        install.contains("useradd --system --gid levee --no-create-home")
            && install.contains("--shell /usr/sbin/nologin levee"),
        "install.sh creates the levee user"
    );
}
