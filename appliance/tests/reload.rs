//! Reloading a running daemon. SIGHUP: a valid config gives it its new mitigation
//! settings (seen through `levee mitigate list`); a broken one is logged and the
//! running config kept; sections read only at start are named as needing a restart;
//! `levee reload` turns the RPKI gate on and off. Against two gobgpd, `levee reload`
//! changes every section that can change live.

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

    // The RPKI gate turned on (a cache that is not there, failing closed: every
    // announcement is refused), then off again: both without a restart.
    let sock = dir.join("control.sock");
    let reload = || levee(&cfg, &["reload", "--socket", sock.to_str().unwrap()]);
    let add = || {
        levee(
            &cfg,
            &[
                "mitigate",
                "add",
                "192.0.2.40",
                "--level",
                "3",
                "--socket",
                sock.to_str().unwrap(),
            ],
        )
    };
    let nowhere = levee_testkit::lab::free_port();
    std::fs::write(
        &cfg,
        yaml(&dir, port, true)
            + &format!(
                "rpki: {{caches: [\"127.0.0.1:{nowhere}\"], policy: enforce, fail: closed, \
                 origin_asns: [64500]}}\n"
            ),
    )
    .unwrap();
    let (ok, out) = reload();
    assert!(ok && out.contains("rpki: RTR session restarted"), "{out}");
    let (ok, out) = add();
    assert!(!ok && out.contains("RPKI gate"), "{out}");
    std::fs::write(&cfg, yaml(&dir, port, true)).unwrap();
    let (ok, out) = reload();
    assert!(ok && out.contains("rpki: gate off"), "{out}");
    let (ok, out) = add();
    assert!(ok, "{out}");

    std::fs::write(
        &cfg,
        yaml(&dir, port, false) + "ingest: {channel_batches: 512}\n",
    )
    .unwrap();
    hup();
    poll("the restart warning", 10, |last| {
        *last = read_log();
        last.contains("take effect at the next restart")
            .then_some(())
    });
    assert!(
        read_log().contains("sections=mirror ports and ingest bounds"),
        "{}",
        read_log()
    );
    assert_eq!(dry_run(&cfg), Some(false));

    assert!(
        sigterm(&mut child, Duration::from_secs(10)).is_some_and(|s| s.success()),
        "{}",
        read_log()
    );
    let (ok, audit) = levee(&cfg, &["audit", "show"]);
    assert!(
        ok && audit.matches("operator  reload").count() == 4,
        "{audit}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// What the full-reload test's config turns on, step by step.
#[derive(Clone, Copy)]
struct Knobs {
    /// The sFlow listener's port.
    sflow: u16,
    dry_run: bool,
    web: u16,
    /// The hold time levee proposes to `edge` (a change resets the session).
    edge_hold: u16,
    /// The second peer, `edge2` (gobgpd B over BGP).
    edge2: bool,
    /// The gobgp adapter (gobgpd B through its API), with more keys for its section
    /// (such as its `levels`).
    gobgp_adapter: Option<&'static str>,
    /// The one allowed exporter (`exporters:` section), if any.
    exporter: Option<&'static str>,
}

/// Ports of the lab: gobgpd A (peer `edge`), gobgpd B (peer `edge2` at 127.0.0.2, and
/// the gobgp adapter's daemon).
#[derive(Clone, Copy)]
struct Lab {
    bgp_a: u16,
    bgp_b: u16,
    api_b: u16,
}

fn full_yaml(dir: &Path, lab: Lab, k: Knobs) -> String {
    let edge2 = if k.edge2 {
        format!(
            "    - name: edge2\n      address: 127.0.0.2\n      port: {}\n      remote_as: 64501\n      \
             families: [ipv4-unicast]\n      next_hop: 192.0.2.1\n",
            lab.bgp_b
        )
    } else {
        String::new()
    };
    let (adapters, gobgp) = match k.gobgp_adapter {
        Some(more) => (
            "[native, gobgp]",
            format!("  gobgp: {{host: 127.0.0.1, port: {}{more}}}\n", lab.api_b),
        ),
        None => ("[native]", String::new()),
    };
    let exporters = match k.exporter {
        Some(a) => format!("exporters:\n  - {{name: edge1, address: {a}}}\n"),
        None => String::new(),
    };
    format!(
        "{exporters}listeners:\n  sflow: {{bind: 127.0.0.1:{sflow}}}\n  netflow: {{enabled: false}}\n  \
         ipfix: {{enabled: false}}\n\
         protected_networks:\n  - name: lab\n    prefixes: [192.0.2.0/24]\n\
         bgp:\n  local_as: 64500\n  router_id: 192.0.2.1\n  connect_retry: 300ms\n  peers:\n    \
         - name: edge\n      address: 127.0.0.1\n      port: {bgp_a}\n      remote_as: 64501\n      \
         hold_time: {hold}s\n      families: [ipv4-unicast]\n      next_hop: 192.0.2.1\n{edge2}\
         mitigation:\n  dry_run: {dry_run}\n  adapters: {adapters}\n{gobgp}  levels:\n    \
         l3: {{communities: [\"64500:666\"], next_hop: [192.0.2.254]}}\n\
         store: {{path: {d}/levee.db}}\ncontrol: {{socket: {d}/control.sock}}\n\
         web: {{listen: 127.0.0.1:{web}}}\n",
        sflow = k.sflow,
        bgp_a = lab.bgp_a,
        hold = k.edge_hold,
        dry_run = k.dry_run,
        web = k.web,
        d = dir.display()
    )
}

/// `levee reload --socket ...`: (success, output).
fn reload(cfg: &Path) -> (bool, String) {
    let sock = cfg.with_file_name("control.sock");
    levee(cfg, &["reload", "--socket", sock.to_str().unwrap()])
}

fn start_gobgpd(dir: &Path, name: &str, local: &str, port: u16, api: u16) -> levee_testkit::Daemon {
    let c = levee_testkit::daemon::bgp::gobgpd_conf(
        "192.0.2.2",
        local,
        i32::from(port),
        "127.0.0.1",
        64500,
        &["ipv4-unicast"],
        "",
    );
    let conf = dir.join(format!("{name}.toml"));
    std::fs::write(&conf, c).unwrap();
    levee_testkit::Launch::gobgpd(&conf, api).start(&dir.join(format!("{name}.log")))
}

/// Every section a running levee can change, changed by `levee reload` against two real
/// gobgpd: a dry-run flip with an active route (announced after it, withdrawn but kept
/// after the flip back), the web endpoint moved, a BGP peer added, changed (reset, its
/// neighbour untouched) and removed, an adapter added and removed (its routes follow),
/// and a broken config refused with the running one kept.
#[test]
fn levee_reload_applies_every_live_section() {
    use levee_testkit::daemon::bgp::gobgp;
    use levee_testkit::lab::{free_port, free_udp_port};
    if !levee_testkit::have_all(&["gobgpd", "gobgp"]) {
        return;
    }
    let dir = scratch("reload-full");
    let lab = Lab {
        bgp_a: free_port(),
        bgp_b: free_port(),
        api_b: free_port(),
    };
    let api_a = free_port();
    let _a = start_gobgpd(&dir, "gobgpd-a", "127.0.0.1", lab.bgp_a, api_a);
    let _b = start_gobgpd(&dir, "gobgpd-b", "127.0.0.2", lab.bgp_b, lab.api_b);
    let rib = |api: u16| gobgp(api, &["global", "rib", "-a", "ipv4"]);
    let up = |api: u16| gobgp(api, &["neighbor"]).contains("Establ");
    for api in [api_a, lab.api_b] {
        poll("gobgpd's API", 20, |last| {
            *last = gobgp(api, &["neighbor"]);
            last.contains("127.0.0.1").then_some(())
        });
    }
    let (web1, web2) = (free_port(), free_port());
    let (sflow1, sflow2) = (free_udp_port(), free_udp_port());
    let mut k = Knobs {
        sflow: sflow1,
        dry_run: true,
        web: web1,
        edge_hold: 90,
        edge2: false,
        gobgp_adapter: None,
        exporter: None,
    };
    let cfg = dir.join("levee.yaml");
    let write = |k: Knobs| std::fs::write(&cfg, full_yaml(&dir, lab, k)).unwrap();
    write(k);
    let levee_run = common::Running::start(&cfg, dir.join("levee.log"));
    poll("edge's session", 20, |last| {
        *last = gobgp(api_a, &["neighbor"]) + &levee_run.log();
        up(api_a).then_some(())
    });
    let metrics = |port: u16| common::http_get(&format!("127.0.0.1:{port}"), "/metrics").1;
    let established = |port: u16, peer: &str| {
        common::metric(
            &metrics(port),
            &format!("levee_bgp_peer_established_total{{peer=\"{peer}\",address=\"127.0.0.1\"}}"),
        )
    };
    assert_eq!(established(web1, "edge"), Some(1.0));

    // An active route in dry run: recorded, not announced.
    let (ok, out) = levee(
        &cfg,
        &[
            "mitigate",
            "add",
            "192.0.2.30",
            "--level",
            "3",
            "--ttl",
            "600",
        ],
    );
    assert!(ok, "{out}");
    let l = common::list(&cfg);
    assert_eq!(l["mitigations"][0]["dry_run"], true, "{l}");
    // No new reload has happened: a route in dry run never reaches the router.
    assert!(!rib(api_a).contains("192.0.2.30"), "{}", rib(api_a));

    // Dry run off, the web endpoint and the sFlow listener moved: the route reaches the
    // router, /metrics answers at its new address, exports are read at theirs.
    k.dry_run = false;
    k.web = web2;
    k.sflow = sflow2;
    write(k);
    let (ok, out) = reload(&cfg);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!(
            "listener sflow moved from 127.0.0.1:{sflow1} to 127.0.0.1:{sflow2}"
        )),
        "{out}"
    );
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    poll("a datagram read at the new listener address", 20, |last| {
        sock.send_to(b"not sFlow", ("127.0.0.1", sflow2)).unwrap();
        *last = metrics(web2);
        common::metric(last, "levee_flow_datagrams_total")
            .is_some_and(|n| n >= 1.0)
            .then_some(())
    });
    // An exporters: section that does not list this sender: its datagrams are
    // dropped undecoded and counted as foreign from the next batch on; removing the
    // section accepts them again.
    k.exporter = Some("198.51.100.7");
    write(k);
    let (ok, reloaded) = reload(&cfg);
    assert!(
        ok && reloaded.contains("exporters: 1 allowed"),
        "{reloaded}"
    );
    poll(
        "a datagram from a stranger counted as foreign",
        20,
        |last| {
            sock.send_to(b"not sFlow", ("127.0.0.1", sflow2)).unwrap();
            *last = metrics(web2);
            common::metric(last, "levee_flow_foreign_datagrams_total")
                .is_some_and(|n| n >= 1.0)
                .then_some(())
        },
    );
    k.exporter = None;
    write(k);
    let (ok, reloaded) = reload(&cfg);
    assert!(
        ok && reloaded.contains("exporters: section removed"),
        "{reloaded}"
    );
    assert!(
        out.contains("dry run off: 1 active routes announced"),
        "{out}"
    );
    assert!(
        out.contains(&format!("web endpoint moved to 127.0.0.1:{web2}")),
        "{out}"
    );
    poll("the route after the flip", 20, |last| {
        *last = rib(api_a) + &levee_run.log();
        (last.contains("192.0.2.30/32") && last.contains("64500:666")).then_some(())
    });
    assert_eq!(common::list(&cfg)["mitigations"][0]["dry_run"], false);
    assert!(metrics(web2).contains("levee_mitigations_active 1"));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", web1)).is_err(),
        "the old web address is closed"
    );

    // A peer added (gobgpd B; it is sent the table) and one changed (edge: reset and
    // back with the route).
    k.edge2 = true;
    k.edge_hold = 30;
    write(k);
    let (ok, out) = reload(&cfg);
    assert!(ok, "{out}");
    assert!(out.contains("bgp peer edge2 added"), "{out}");
    assert!(out.contains("bgp peer edge changed"), "{out}");
    poll("edge2's session and the table", 20, |last| {
        *last = gobgp(lab.api_b, &["neighbor"]) + &rib(lab.api_b);
        (up(lab.api_b) && rib(lab.api_b).contains("192.0.2.30/32")).then_some(())
    });
    poll("edge reset and back with the route", 20, |last| {
        *last = format!("{:?} {}", established(web2, "edge"), rib(api_a));
        (established(web2, "edge") == Some(2.0)
            && up(api_a)
            && rib(api_a).contains("192.0.2.30/32"))
        .then_some(())
    });
    let edge2_count = |port| {
        common::metric(
            &metrics(port),
            "levee_bgp_peer_established_total{peer=\"edge2\",address=\"127.0.0.2\"}",
        )
    };
    assert_eq!(edge2_count(web2), Some(1.0));

    // The peer removed: gobgpd B loses the session and the route; edge keeps its session.
    k.edge2 = false;
    write(k);
    let (ok, out) = reload(&cfg);
    assert!(ok && out.contains("bgp peer edge2 removed"), "{out}");
    poll("edge2 gone", 20, |last| {
        *last = gobgp(lab.api_b, &["neighbor"]) + &rib(lab.api_b);
        (!up(lab.api_b) && !rib(lab.api_b).contains("192.0.2.30")).then_some(())
    });
    assert_eq!(
        established(web2, "edge"),
        Some(2.0),
        "edge kept its session"
    );

    // An adapter added: gobgpd B's RIB gets the active route through its API; its
    // levels changed to L1 and L2 alone: the L3 route is withdrawn from it, and back
    // when they include L3 again; removed: the route is withdrawn from it.
    let in_b = |what: &str, present: bool| {
        poll(what, 20, |last| {
            *last = rib(lab.api_b) + &levee_run.log();
            (rib(lab.api_b).contains("192.0.2.30/32") == present).then_some(())
        })
    };
    k.gobgp_adapter = Some("");
    write(k);
    let (ok, out) = reload(&cfg);
    assert!(ok && out.contains("adapter gobgp added"), "{out}");
    in_b("the route through the added adapter", true);
    k.gobgp_adapter = Some(", levels: [l1, l2]");
    write(k);
    let (ok, out) = reload(&cfg);
    assert!(
        ok && out.contains("adapter gobgp changed (levels l1, l2)"),
        "{out}"
    );
    in_b(
        "the L3 route withdrawn from an adapter now without L3",
        false,
    );
    k.gobgp_adapter = Some("");
    write(k);
    let (ok, out) = reload(&cfg);
    assert!(ok && out.contains("adapter gobgp changed"), "{out}");
    in_b("the L3 route back once the adapter carries L3 again", true);
    k.gobgp_adapter = None;
    write(k);
    let (ok, out) = reload(&cfg);
    assert!(ok && out.contains("adapter gobgp removed"), "{out}");
    poll("the route withdrawn from the removed adapter", 20, |last| {
        *last = rib(lab.api_b) + &levee_run.log();
        (!rib(lab.api_b).contains("192.0.2.30")).then_some(())
    });
    assert!(rib(api_a).contains("192.0.2.30/32"), "native keeps it");

    // Addresses that cannot be bound: the reload fails for them and the web endpoint and
    // listener stay where they are (and the next reload tries again).
    let busy_tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let bad = Knobs {
        web: busy_tcp.local_addr().unwrap().port(),
        sflow: busy_udp.local_addr().unwrap().port(),
        ..k
    };
    write(bad);
    let (ok, out) = reload(&cfg);
    assert!(!ok, "a failed change fails the command: {out}");
    assert!(
        out.contains("failed: web:") && out.contains("it stays where it was"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "failed: listener sflow: cannot bind 127.0.0.1:{}",
            bad.sflow
        )) && out.contains(&format!("it stays on 127.0.0.1:{sflow2}")),
        "{out}"
    );
    assert!(metrics(web2).contains("levee_flow_datagrams_total"));
    drop((busy_tcp, busy_udp));
    write(k);

    // A broken config: refused with its error, the running config kept.
    std::fs::write(
        &cfg,
        full_yaml(&dir, lab, k).replace("dry_run: false", "dry_run: maybe"),
    )
    .unwrap();
    let (ok, out) = reload(&cfg);
    assert!(!ok, "{out}");
    assert!(
        out.contains("keeping the running config") && out.contains("mitigation.dry_run"),
        "{out}"
    );
    assert_eq!(dry_run(&cfg), Some(false), "the running settings stay");

    // Live to dry run: the route leaves the router and stays recorded.
    k.dry_run = true;
    write(k);
    let (ok, out) = reload(&cfg);
    assert!(
        ok && out.contains("dry run on: 1 active routes withdrawn"),
        "{out}"
    );
    poll("the route withdrawn by dry run", 20, |last| {
        *last = rib(api_a);
        (!last.contains("192.0.2.30")).then_some(())
    });
    let l = common::list(&cfg);
    assert_eq!(l["mitigations"].as_array().map(Vec::len), Some(1), "{l}");
    assert_eq!(l["mitigations"][0]["dry_run"], true, "{l}");

    let body = metrics(web2);
    for (result, n) in [("applied", 10.0), ("partial", 1.0), ("refused", 1.0)] {
        let m = format!("levee_config_reloads_total{{result=\"{result}\"}}");
        assert_eq!(common::metric(&body, &m), Some(n), "{m} in:\n{body}");
    }

    let log = levee_run.stop();
    assert!(
        log.contains("config reload failed; keeping the running config"),
        "{log}"
    );
    let (ok, audit) = levee(&cfg, &["audit", "show", "--last", "100"]);
    assert!(ok, "{audit}");
    assert!(
        audit.contains("(dry run off)") && audit.contains("(dry run on: kept recorded)"),
        "{audit}"
    );
    assert_eq!(audit.matches("operator  reload").count(), 11, "{audit}");
    let _ = std::fs::remove_dir_all(&dir);
}
