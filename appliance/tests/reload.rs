//! SIGHUP: a valid config gives the running daemon its new mitigation settings (seen
//! through `levee mitigate list`); a broken one is logged and the running config kept;
//! sections read only at start are named as needing a restart.

mod common;

use common::levee_with as levee;
use levee_testkit::daemon::sigterm;
use levee_testkit::lab::{poll, scratch};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn yaml(dir: &Path, port: u16, dry_run: bool) -> String {
    format!(
        "listeners:\n  sflow: {{bind: 127.0.0.1:{port}}}\n  netflow: {{enabled: false}}\n  \
         ipfix: {{enabled: false}}\nprotected_networks:\n  - name: lab\n    prefixes: [192.0.2.0/24]\n\
         mitigation:\n  dry_run: {dry_run}\n\
         store: {{path: {d}/levee.db}}\ncontrol: {{socket: {d}/control.sock}}\n",
        d = dir.display()
    )
}

fn dry_run(cfg: &Path) -> Option<bool> {
    let sock = cfg.with_file_name("control.sock");
    let (ok, out) = levee(
        cfg,
        &[
            "mitigate",
            "list",
            "--json",
            "--socket",
            sock.to_str().unwrap(),
        ],
    );
    if !ok {
        return None;
    }
    serde_json::from_str::<Value>(&out).ok()?["dry_run"].as_bool()
}

#[test]
fn sighup_reloads_mitigation_settings_and_keeps_a_broken_config_out() {
    let dir = scratch("reload");
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.join("levee.yaml");
    std::fs::write(&cfg, yaml(&dir, port, false)).unwrap();
    let log = dir.join("levee.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_levee"))
        .args(["--config", cfg.to_str().unwrap(), "run"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let hup = || {
        Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .unwrap();
    };
    poll("the control socket", 10, |last| {
        *last = read_log();
        (dry_run(&cfg) == Some(false)).then_some(())
    });

    std::fs::write(&cfg, yaml(&dir, port, true)).unwrap();
    hup();
    poll("dry run after the reload", 10, |last| {
        *last = read_log();
        (dry_run(&cfg) == Some(true)).then_some(())
    });

    std::fs::write(
        &cfg,
        yaml(&dir, port, false).replace("dry_run: false", "dry_run: maybe"),
    )
    .unwrap();
    hup();
    poll("the refused reload", 10, |last| {
        *last = read_log();
        last.contains("config reload failed; keeping the running config")
            .then_some(())
    });
    assert!(
        read_log().contains("mitigation.dry_run"),
        "the error names the key"
    );
    assert_eq!(dry_run(&cfg), Some(true), "the running settings stay");

    std::fs::write(&cfg, yaml(&dir, port + 1, false)).unwrap();
    hup();
    poll("the restart warning", 10, |last| {
        *last = read_log();
        last.contains("take effect at the next restart")
            .then_some(())
    });
    assert!(read_log().contains("sections=listeners"), "{}", read_log());
    assert_eq!(dry_run(&cfg), Some(false));

    assert!(
        sigterm(&mut child, Duration::from_secs(10)).is_some_and(|s| s.success()),
        "{}",
        read_log()
    );
    let (ok, audit) = levee(&cfg, &["audit", "show"]);
    assert!(
        ok && audit.matches("operator  reload").count() == 2,
        "{audit}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
