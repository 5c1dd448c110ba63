//! The status page in a real browser (Debian's Chromium, headless, through
//! chromedriver), against `levee run` fed a replayed sFlow flood and announcing to a
//! real gobgpd:
//! - the overview's chart moves with the traffic, every second, with no reload;
//! - the incident shows in the list within 2 s of detection (the live feed, not a
//!   poll), and its detail page has the timeline and the mitigation;
//! - a viewer sees no withdraw button, and the API refuses the viewer's withdrawal;
//! - an operator logs in through the form and withdraws the route with the button,
//!   and gobgpd loses it;
//! - on a phone-sized window nothing scrolls sideways.
//!
//! Screenshots of the main pages (light, dark, phone) are saved under the target
//! directory's `tmp/screenshots/` as test artifacts.

mod common;

use common::{Running as Levee, levee_with as levee};
use levee_testkit::browser::Browser;
use levee_testkit::daemon::bgp::{gobgp, gobgpd_conf};
use levee_testkit::lab::{free_port, free_udp_port, poll, scratch};
use levee_testkit::traffic::{Scenario, UDP};
use levee_testkit::{Launch, have_all};
use std::io::{Read, Write};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn levee_yaml(dir: &Path, sflow: u16, bgp: u16, web: u16) -> String {
    format!(
        "listeners:\n  sflow: {{bind: 127.0.0.1:{sflow}}}\n  netflow: {{enabled: false}}\n  \
         ipfix: {{enabled: false}}\n\
         protected_networks:\n  - name: lab\n    prefixes: [192.0.2.0/24]\n\
         detection:\n  incident: {{quiet_period: 2s}}\n\
         bgp:\n  local_as: 64500\n  router_id: 192.0.2.1\n  connect_retry: 300ms\n  \
         peers:\n    - name: edge\n      address: 127.0.0.1\n      port: {bgp}\n      \
         remote_as: 64501\n      families: [ipv4-flowspec]\n      next_hop: 192.0.2.1\n\
         mitigation:\n  ttl: 10m\n  levels:\n    \
         l1: {{trigger: 100Mbps, rate_limit: 8Mbps}}\n    l2: {{enabled: false}}\n    \
         l3: {{enabled: false}}\n\
         store: {{path: {d}/levee.db}}\ncontrol: {{socket: {d}/control.sock}}\n\
         web: {{listen: 127.0.0.1:{web}}}\n",
        d = dir.display()
    )
}

/// A 150k pps (614 Mbps) UDP flood to 192.0.2.20 as sFlow (1:1000) for `secs`, after
/// `after` seconds of 2k pps background to 192.0.2.10.
fn flood(port: u16, after: f64, secs: f64) -> std::thread::JoinHandle<()> {
    let mut s = Scenario::default();
    s.stream(0, "192.0.2.10", 2_000.0, 0.0, after + secs, 1000, UDP);
    s.stream(0, "192.0.2.20", 150_000.0, after, secs, 1000, UDP);
    let datagrams = s.datagrams(1000);
    std::thread::spawn(move || {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let start = Instant::now();
        for (t, d) in datagrams {
            if let Some(wait) = Duration::from_micros(t).checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
            sock.send_to(&d, ("127.0.0.1", port)).unwrap();
        }
    })
}

/// One HTTP/1.1 call to `addr`: the status code and body.
fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Content-Length: 0\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).unwrap();
    let code = r
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        code,
        r.split_once("\r\n\r\n").map_or("", |x| x.1).to_string(),
    )
}

/// The last line `levee` printed (a generated password or a token).
fn last_line(cfg: &Path, args: &[&str]) -> String {
    let (ok, out) = levee(cfg, args);
    assert!(ok, "{out}");
    out.lines().last().unwrap().trim().to_string()
}

fn shots() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
}

/// Waits until the page has loaded `view`'s data.
fn ready(b: &Browser, view: &str) {
    b.wait_for(&format!("body[data-view=\"{view}\"][data-ready=\"1\"]"), 20);
}

fn points(b: &Browser, css: &str) -> u64 {
    b.find(css)
        .and_then(|e| b.attribute(&e, "data-points"))
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

#[test]
fn the_page_in_a_real_browser_follows_an_attack_and_steers_its_mitigation() {
    if !have_all(&["gobgpd", "gobgp", "chromium", "chromedriver"]) {
        return;
    }
    let dir = scratch("browser");
    let (bgp, api, sflow, web) = (free_port(), free_port(), free_udp_port(), free_port());
    let conf = dir.join("gobgpd.toml");
    std::fs::write(
        &conf,
        gobgpd_conf(
            "192.0.2.2",
            "127.0.0.1",
            i32::from(bgp),
            "127.0.0.1",
            64500,
            &["ipv4-flowspec"],
            "",
        ),
    )
    .unwrap();
    let _gobgpd = Launch::gobgpd(&conf, api).start(&dir.join("gobgpd.log"));
    poll("gobgpd's API", 20, |last| {
        *last = gobgp(api, &["neighbor"]);
        last.contains("127.0.0.1").then_some(())
    });
    let cfg = dir.join("levee.yaml");
    std::fs::write(&cfg, levee_yaml(&dir, sflow, bgp, web)).unwrap();
    let op_pw = last_line(
        &cfg,
        &["users", "add", "op", "--role", "operator", "--generate"],
    );
    let viewer_token = last_line(&cfg, &["tokens", "create", "wall", "--role", "viewer"]);
    let daemon = Levee::start(&cfg, dir.join("levee.log"));
    poll("the BGP session", 30, |last| {
        *last = gobgp(api, &["neighbor"]) + &daemon.log();
        last.contains("Establ").then_some(())
    });
    let base = format!("http://127.0.0.1:{web}");
    let addr = format!("127.0.0.1:{web}");

    // The overview, anonymous (a viewer on loopback), before and during the flood.
    let b = Browser::start(1280, 900);
    b.goto(&format!("{base}/#/"));
    ready(&b, "overview");
    let sender = flood(sflow, 3.0, 8.0);
    let before = points(&b, "canvas#overview-chart");
    poll("the overview chart to move", 15, |last| {
        let now = points(&b, "canvas#overview-chart");
        *last = format!("{before} points, then {now}");
        (now >= before + 3).then_some(())
    });

    // The incident list, open while the flood starts: the row comes with detection.
    b.goto(&format!("{base}/#/incidents"));
    ready(&b, "incidents");
    poll("the incident to start", 30, |last| {
        *last = daemon.log();
        last.contains("incident started").then_some(())
    });
    let detected = Instant::now();
    let row = b.wait_for("table#incident-list tr[data-incident-id]", 10);
    let shown = detected.elapsed();
    assert!(
        shown <= Duration::from_secs(2),
        "the incident took {shown:?} after detection to show in the list"
    );
    let incident = b.attribute(&row, "data-incident-id").unwrap();
    b.screenshot(&shots().join("incidents.png"));

    // Back to the overview mid-attack, for its picture.
    b.goto(&format!("{base}/#/"));
    ready(&b, "overview");
    std::thread::sleep(Duration::from_secs(3));
    b.screenshot(&shots().join("overview.png"));
    sender.join().unwrap();

    // The route reached the router.
    poll("the FlowSpec route in gobgpd", 20, |last| {
        *last = gobgp(api, &["global", "rib", "-a", "ipv4-flowspec"]);
        last.contains("192.0.2.20/32").then_some(())
    });

    // Its detail page: the timeline and the mitigation.
    b.goto(&format!("{base}/#/incidents/{incident}"));
    ready(&b, "incident");
    // Per second, with the seconds before the attack (from memory) and the flood's.
    poll("the incident's timeline", 10, |last| {
        let n = points(&b, "canvas#incident-timeline");
        *last = format!("{n} points");
        (n >= 8).then_some(())
    });
    // The evidence: the flood's one destination port takes the whole bar.
    b.wait_for("#incident-evidence table.top", 10);
    assert!(
        b.text("#incident-evidence").contains("100%"),
        "{}",
        b.text("#incident-evidence")
    );
    let m = b.wait_for("table#incident-mitigations tr[data-mitigation-id]", 10);
    let mitigation = b.attribute(&m, "data-mitigation-id").unwrap();
    b.screenshot_page(&shots().join("incident.png"), 1280, 900);

    // A viewer sees the route but no button to withdraw it, and the API refuses them.
    b.goto(&format!("{base}/#/mitigations"));
    ready(&b, "mitigations");
    b.wait_for(
        &format!("table#mitigation-list tr[data-mitigation-id=\"{mitigation}\"]"),
        10,
    );
    assert!(
        b.find("button.withdraw").is_none(),
        "a viewer sees a withdraw button"
    );
    assert!(
        b.find("form#mitigation-add").is_none(),
        "a viewer sees the add form"
    );
    let bearer = format!("Bearer {viewer_token}");
    let (code, body) = http(
        &addr,
        "DELETE",
        &format!("/api/v1/mitigations/{mitigation}"),
        &[("Authorization", &bearer)],
    );
    assert_eq!(code, 403, "{body}");

    // The other views, for their pictures.
    for view in ["peers", "exporters", "audit"] {
        b.goto(&format!("{base}/#/{view}"));
        ready(&b, view);
        b.screenshot(&shots().join(format!("{view}.png")));
    }
    // The audit view says the chain verifies; the exporters view the sampling rate.
    assert!(
        b.text("#audit-verification").contains("Chain verified"),
        "{}",
        b.text("main")
    );
    b.goto(&format!("{base}/#/exporters"));
    ready(&b, "exporters");
    assert!(
        b.text("#exporter-list").contains("1:1000"),
        "{}",
        b.text("main")
    );

    // A phone: nothing scrolls sideways; then the dark theme.
    b.resize(375, 800);
    b.goto(&format!("{base}/#/"));
    ready(&b, "overview");
    let wide = b.execute(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
        &[],
    );
    assert!(
        wide.as_i64().unwrap_or(1) <= 0,
        "the page scrolls sideways by {wide} px on a phone"
    );
    b.screenshot(&shots().join("overview-phone.png"));
    b.resize(1280, 900);
    b.goto(&format!("{base}/#/incidents/{incident}"));
    ready(&b, "incident");
    b.click(&b.wait_for("#theme-toggle", 10));
    b.wait_for("html[data-theme=\"dark\"]", 5);
    let background = b.execute(
        "return getComputedStyle(document.body).backgroundColor;",
        &[],
    );
    let rgb: Vec<u32> = background
        .as_str()
        .unwrap_or_default()
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    assert!(
        rgb.len() >= 3 && rgb[..3].iter().all(|c| *c < 80),
        "the dark theme's background is {background}"
    );
    std::thread::sleep(Duration::from_millis(300));
    b.screenshot(&shots().join("incident-dark.png"));

    // An operator logs in through the form and withdraws the route with the button.
    b.goto(&format!("{base}/#/login"));
    ready(&b, "login");
    b.type_into(&b.wait_for("input#login-user", 10), "op");
    b.type_into(&b.wait_for("input#login-password", 10), &op_pw);
    b.click(&b.wait_for("button#login-submit", 10));
    poll("the login", 10, |last| {
        *last = b.text("#session-role");
        last.contains("operator").then_some(())
    });
    b.goto(&format!("{base}/#/mitigations"));
    ready(&b, "mitigations");
    let button = b.wait_for(
        &format!("button.withdraw[data-mitigation-id=\"{mitigation}\"]"),
        10,
    );
    b.screenshot(&shots().join("mitigations-operator.png"));
    b.click(&button);
    b.accept_dialog();
    poll("gobgpd to lose the route", 20, |last| {
        *last = gobgp(api, &["global", "rib", "-a", "ipv4-flowspec"]);
        (!last.contains("192.0.2.20/32")).then_some(())
    });
    // The audit log names the operator.
    let (code, body) = http(&addr, "GET", "/api/v1/audit?limit=50", &[]);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("user:op"), "{body}");
    drop(b);
    let log = daemon.stop();
    assert!(!log.contains("panicked"), "{log}");
}
