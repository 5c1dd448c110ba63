//! A newcomer's first run: one daemon per run directory (a second `levee run` refuses
//! before it touches the store, a socket or a router, and the first is unaffected), the
//! next steps on an empty config, errors that say it once and say what to do, the human
//! `levee mitigate list`, `levee check` without a config, install.sh, and the
//! Dockerfile.

mod common;

use common::{Running, levee_with};
use levee_testkit::lab::{poll, scratch};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn levee(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_levee"))
        .args(args)
        .output()
        .expect("run levee")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A daemon config in `dir`: one sFlow listener, one protected network, a webhook
/// adapter whose endpoint refuses connections (so it shows a failing state).
fn daemon_yaml(dir: &Path, port: u16) -> String {
    format!(
        "listeners:\n  sflow: {{bind: 127.0.0.1:{port}}}\n  netflow: {{enabled: false}}\n  \
         ipfix: {{enabled: false}}\nprotected_networks:\n  - name: lab\n    prefixes: [192.0.2.0/24]\n\
         mitigation:\n  adapters: [webhook]\n  webhook:\n    url: http://127.0.0.1:9/levee\n    \
         secret: 0123456789abcdef0123\n    attempts: 1\n    timeout: 1s\n\
         store: {{path: {d}/levee.db}}\ncontrol: {{socket: {d}/control.sock}}\n",
        d = dir.display()
    )
}

/// `yaml` as `levee.yaml` in a fresh scratch directory: (the directory, the file).
fn scratch_config(name: &str, yaml: impl FnOnce(&Path) -> String) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let cfg = dir.join("levee.yaml");
    std::fs::write(&cfg, yaml(&dir)).unwrap();
    (dir, cfg)
}

#[test]
fn a_second_daemon_refuses_at_once_and_the_first_is_unaffected() {
    let (dir, cfg) = scratch_config("first-run-twice", |d| daemon_yaml(d, free_udp_port()));
    let first = Running::start(&cfg, dir.join("first.log"));
    poll("the first daemon's control socket", 20, |last| {
        *last = first.log();
        last.contains("control socket ready").then_some(())
    });
    let pid = std::fs::read_to_string(dir.join("levee.lock")).unwrap();
    let audit_before = levee_with(&cfg, &["audit", "show", "--last", "100"]).1;

    let started = Instant::now();
    let second = Command::new(env!("CARGO_BIN_EXE_levee"))
        .args(["--config", cfg.to_str().unwrap(), "run"])
        .output()
        .unwrap();
    let out = text(&second);
    assert_eq!(second.status.code(), Some(1), "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the second instance must exit at once"
    );
    assert!(
        out.contains(&format!(
            "another levee is already running (PID {}, ",
            pid.trim()
        )),
        "{out}"
    );
    // It refused before doing anything.
    for acted in [
        "store opened",
        "re-announcing",
        "listener bound",
        "adapter started",
    ] {
        assert!(
            !out.contains(acted),
            "the second instance {acted:?}:\n{out}"
        );
    }
    assert_eq!(
        levee_with(&cfg, &["audit", "show", "--last", "100"]).1,
        audit_before
    );

    // The first daemon still writes its store and its audit chain.
    let (ok, added) = levee_with(
        &cfg,
        &[
            "mitigate",
            "add",
            "route 192.0.2.9/32 blackhole",
            "--ttl",
            "10m",
        ],
    );
    assert!(ok, "{added}");
    let (ok, verify) = levee_with(&cfg, &["audit", "verify"]);
    assert!(ok && verify.contains("intact"), "{verify}");
    let (_, shown) = levee_with(&cfg, &["audit", "show", "--last", "100"]);
    assert!(shown.contains("192.0.2.9/32"), "{shown}");
    assert!(
        !first.log().contains("UNIQUE constraint"),
        "{}",
        first.log()
    );

    // The human list: a text blackhole route counts as L3; adapter states and counters
    // are there as in --json.
    let (ok, list) = levee_with(&cfg, &["mitigate", "list"]);
    assert!(ok, "{list}");
    let row = list
        .lines()
        .find(|l| l.contains("route 192.0.2.9/32"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(row.contains(" L3 "), "{row}");
    poll("the webhook adapter's failure in the list", 20, |last| {
        *last = levee_with(&cfg, &["mitigate", "list"]).1;
        last.lines()
            .any(|l| {
                l.starts_with("adapter webhook (l1, l2, l3, l4): failing")
                    && l.contains("last error")
            })
            .then_some(())
    });
    let counters = list
        .lines()
        .find(|l| l.starts_with("counters: "))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(counters.contains("announced 1"), "{counters}");

    let log = first.stop();
    // Each listener is logged once.
    assert_eq!(log.matches("listener bound").count(), 1, "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_empty_config_says_what_to_do_next() {
    let (dir, cfg) = scratch_config("first-run-empty", |dir| {
        format!(
            "listeners:\n  sflow: {{bind: 127.0.0.1:{}}}\n  netflow: {{enabled: false}}\n  \
             ipfix: {{enabled: false}}\nstore: {{path: {d}/levee.db}}\ncontrol: {{socket: {d}/control.sock}}\n",
            free_udp_port(),
            d = dir.display()
        )
    });
    let running = Running::start(&cfg, dir.join("levee.log"));
    let log = poll("the next steps", 20, |last| {
        *last = running.log();
        last.contains("control socket ready").then(|| last.clone())
    });
    assert!(log.contains("no protected networks configured"), "{log}");
    for step in [
        "/etc/levee/levee.yaml.example",
        "protected_networks",
        "sflow on 127.0.0.1:",
        "levee check",
        "web: {listen: 127.0.0.1:9750}",
    ] {
        assert!(log.contains(step), "next steps lack {step:?}:\n{log}");
    }
    let log = running.stop();
    assert!(!log.contains("interface counters known for 0"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn errors_say_it_once_and_say_what_to_do() {
    // A busy port: the cause once, and the way out.
    let busy = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let o = levee(&["flows", "listen", "--sflow", &addr, "--duration", "1"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert_eq!(out.matches("Address already in use").count(), 1, "{out}");
    assert!(
        out.contains("levee daemon already running") && out.contains("--sflow ADDR"),
        "{out}"
    );

    // No daemon: said plainly.
    let sock = std::env::temp_dir().join(format!("levee-nodaemon-{}.sock", std::process::id()));
    let o = levee(&["mitigate", "list", "--socket", sock.to_str().unwrap()]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("no levee daemon is running"), "{out}");
    assert!(out.contains("levee run"), "{out}");
}

#[test]
fn check_reads_what_run_would_and_speaks_plainly() {
    // No --config: /etc/levee/levee.yaml if it exists, else the embedded defaults.
    let o = levee(&["check"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    if Path::new("/etc/levee/levee.yaml").exists() {
        assert!(
            out.contains("config /etc/levee/levee.yaml is valid"),
            "{out}"
        );
    } else {
        assert!(out.contains("config <embedded defaults> is valid"), "{out}");
    }

    let dir = scratch("first-run-check");
    let cfg = dir.join("one.yaml");
    std::fs::write(
        &cfg,
        "listeners:\n  sflow: {bind: 127.0.0.1:16343, receive_buffer: 1 GiB}\n  \
         netflow: {bind: 127.0.0.1:12055, receive_buffer: 32 MiB}\n  ipfix: {receive_buffer: 8 MiB}\n\
         protected_networks:\n  - name: a\n    prefixes: [192.0.2.0/24]\n",
    )
    .unwrap();
    let (ok, out) = levee_with(&cfg, &["check"]);
    assert!(ok, "{out}");
    assert!(out.contains("(receive buffer 1 GiB)"), "{out}");
    assert!(out.contains("(receive buffer 32 MiB)"), "{out}");
    // A listener section without an address keeps the standard port.
    assert!(
        out.contains("ipfix   0.0.0.0:4739 (receive buffer 8 MiB)"),
        "{out}"
    );
    assert!(out.contains("protected networks: 1 (1 prefix)"), "{out}");
    let rmem: u64 = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    if rmem < 1 << 30 {
        assert_eq!(
            out.matches("warning: the kernel grants").count(),
            1,
            "{out}"
        );
        assert!(
            out.contains("sysctl -w net.core.rmem_max=1073741824"),
            "{out}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// install.sh with the build and apt-get stubbed out: the toolchain check comes first,
/// and the binary is found where cargo puts it (CARGO_TARGET_DIR honoured).
#[test]
fn install_sh_checks_the_toolchain_and_honours_cargo_target_dir() {
    let dir = scratch("first-run-install");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = |name: &str, body: &str| {
        use std::os::unix::fs::PermissionsExt;
        let p = bin.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    let real_cargo = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v cargo"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    // A staged install (DESTDIR) touches neither apt nor the system; the build is
    // stubbed out, leaving a marker.
    let apt = dir.join("apt-get-ran");
    script("apt-get", &format!("touch {}", apt.display()));
    let built = dir.join("cargo-build-ran");
    script(
        "cargo",
        &format!(
            "[ \"$1\" = build ] && {{ touch {}; exit 0; }}\nexec {} \"$@\"",
            built.display(),
            real_cargo.trim()
        ),
    );
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let target = dir.join("elsewhere");
    std::fs::create_dir_all(target.join("release")).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_levee"), target.join("release/levee")).unwrap();
    let stage = dir.join("stage");
    let run = || {
        Command::new("bash")
            .arg(repo().join("scripts/install.sh"))
            .env("PATH", &path)
            .env("CARGO_TARGET_DIR", &target)
            .env("DESTDIR", &stage)
            .output()
            .unwrap()
    };

    script("rustc", "echo 'rustc 1.63.0 (4b91a6ea7 2022-08-08)'");
    let o = run();
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains("rustc 1.63.0 is too old") && out.contains("rustup"),
        "{out}"
    );
    assert!(
        !built.exists(),
        "the toolchain check must come before the build"
    );

    std::fs::remove_file(bin.join("rustc")).unwrap();
    let o = run();
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("levee installed: levee"), "{out}");
    assert!(built.exists() && !apt.exists(), "{out}");
    for f in [
        "usr/local/bin/levee",
        "etc/levee/levee.yaml.example",
        "etc/systemd/system/levee.service",
        "etc/sysctl.d/90-levee.conf",
    ] {
        assert!(stage.join(f).exists(), "{f} not installed:\n{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The systemd unit runs what install.sh installs, checks the config first, and gives
/// levee the directories of its defaults (the control socket's run directory, the
/// store's state directory).
#[test]
fn the_service_unit_matches_the_install_and_the_defaults() {
    let unit = std::fs::read_to_string(repo().join("scripts/levee.service")).unwrap();
    let key = |k: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {k}= in the unit"))
            .to_string()
    };
    assert_eq!(key("ExecStart"), "/usr/local/bin/levee run");
    assert_eq!(key("ExecStartPre"), "/usr/local/bin/levee check");
    assert_eq!(key("ExecReload"), "/bin/kill -HUP $MAINPID");
    let (ok, out) = levee_with(&repo().join("configs/levee.yaml"), &["check"]);
    assert!(ok, "{out}");
    use levee::config::mitigation::{DEFAULT_CONTROL_SOCKET, DEFAULT_STORE};
    let (run, state) = (
        Path::new("/run").join(key("RuntimeDirectory")),
        Path::new("/var/lib").join(key("StateDirectory")),
    );
    assert_eq!(
        Path::new(DEFAULT_CONTROL_SOCKET).parent(),
        Some(run.as_path())
    );
    assert_eq!(Path::new(DEFAULT_STORE).parent(), Some(state.as_path()));
    let install = std::fs::read_to_string(repo().join("scripts/install.sh")).unwrap();
    assert!(
        install.contains("scripts/levee.service"),
        "install.sh installs the unit"
    );
}

#[test]
fn the_image_exposes_its_ports_keeps_its_store_and_leaves_fuzzing_out() {
    let docker = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let expose = docker
        .lines()
        .find(|l| l.starts_with("EXPOSE "))
        .expect("EXPOSE");
    for port in ["179/tcp", "6343/udp", "2055/udp", "4739/udp"] {
        assert!(expose.contains(port), "{expose}");
    }
    assert!(docker.contains("VOLUME [\"/var/lib/levee\"]"), "{docker}");
    assert!(docker.contains("CAP_NET_RAW") && docker.contains("CAP_NET_ADMIN"));
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l.trim() == "**/fuzz"), "{ignore}");
    // Every fuzz crate is where that pattern reaches.
    for c in ["flow", "bgp"] {
        assert!(repo().join(c).join("fuzz/Cargo.toml").exists());
    }
}

/// A busy flow port stops `levee run` before it opens the store, its control socket or
/// any adapter.
#[test]
fn a_busy_port_stops_the_daemon_before_any_stage() {
    let busy = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let (dir, cfg) = scratch_config("first-run-busy", |d| daemon_yaml(d, port));
    let o = Command::new(env!("CARGO_BIN_EXE_levee"))
        .args(["--log", "info", "--config", cfg.to_str().unwrap(), "run"])
        .output()
        .unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("Address already in use"), "{out}");
    for acted in ["store opened", "adapter started", "control socket ready"] {
        assert!(
            !out.contains(acted),
            "levee {acted:?} before failing:\n{out}"
        );
    }
    assert!(!dir.join("levee.db").exists(), "the store was opened");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `levee check` reads what `run` reads: a missing threat-intel list fails the check,
/// named by its key.
#[test]
fn check_fails_on_a_missing_threat_intel_list() {
    let (dir, cfg) = scratch_config("first-run-intel", |dir| {
        format!(
            "protected_networks:\n  - name: a\n    prefixes: [192.0.2.0/24]\n\
             detection:\n  threat_intel:\n    - {{name: spamhaus, path: {}/missing.txt}}\n",
            dir.display()
        )
    });
    let (ok, out) = levee_with(&cfg, &["check"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("detection.threat_intel: threat intel list \"spamhaus\": cannot read"),
        "{out}"
    );
    std::fs::write(dir.join("missing.txt"), "192.0.2.66\n").unwrap();
    let (ok, out) = levee_with(&cfg, &["check"]);
    assert!(ok, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
