//! The RPKI gate against StayRTR serving a VRP JSON file: levee's RTR client fails
//! over from a dead cache to StayRTR, which speaks only RTR version 0 here (the client
//! proposes a newer version and steps down), loads the VRPs, and the gate lets a
//! mitigation through for a prefix that is RPKI-valid for our AS and refuses one that
//! is invalid. When the file changes, the serial update reaches levee and the refused
//! prefix becomes valid.

mod common;

use common::{Running, levee_with as levee, list};
use levee_testkit::lab::{free_port, poll, scratch};
use levee_testkit::{Launch, have_all};
use std::path::Path;

fn vrps(path: &Path, extra: &str) {
    std::fs::write(
        path,
        format!(
            "{{\"metadata\": {{\"generated\": 1700000000}}, \"roas\": [\
             {{\"prefix\": \"192.0.2.0/24\", \"maxLength\": 24, \"asn\": \"AS64500\"}},\
             {{\"prefix\": \"198.51.100.0/24\", \"maxLength\": 24, \"asn\": \"AS65000\"}}{extra}]}}"
        ),
    )
    .unwrap();
}

#[test]
fn gate_follows_the_vrps_from_stayrtr() {
    if !have_all(&["stayrtr"]) {
        return;
    }
    let dir = scratch("rpki-stayrtr");
    let json = dir.join("vrps.json");
    vrps(&json, "");
    let (rtr, metrics, dead, web) = (free_port(), free_port(), free_port(), free_port());
    let _stayrtr = Launch::stayrtr(&json, rtr, metrics)
        .args(["-protocol", "0"])
        .start(&dir.join("stayrtr.log"));
    let cfg = dir.join("levee.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listeners:\n  sflow: {{bind: 127.0.0.1:{p}}}\n  netflow: {{enabled: false}}\n  \
             ipfix: {{enabled: false}}\n\
             protected_networks:\n  - name: ours\n    prefixes: [192.0.2.0/24]\n  \
             - name: customer\n    prefixes: [198.51.100.0/24]\n\
             rpki:\n  caches: [\"127.0.0.1:{dead}\", \"127.0.0.1:{rtr}\"]\n  policy: enforce\n  \
             fail: closed\n  origin_asns: [64500]\n  connect_timeout: 1s\n\
             store: {{path: {d}/levee.db}}\ncontrol: {{socket: {d}/control.sock}}\n\
             web: {{listen: 127.0.0.1:{web}}}\n",
            p = free_port(),
            d = dir.display()
        ),
    )
    .unwrap();
    let (ok, out) = levee(&cfg, &["check"]);
    assert!(ok, "{out}");
    let run = Running::start(&cfg, dir.join("levee.log"));
    poll("the control socket", 20, |last| {
        *last = run.log();
        last.contains("control socket ready").then_some(())
    });
    let rpki = poll(
        "an RTR session synced through the second cache",
        30,
        |last| {
            let r = list(&cfg)["rpki"].clone();
            *last = format!("{r}\n{}", run.log());
            (r["state"] == "synced" && r["vrps"] == 2).then_some(r)
        },
    );
    assert_eq!(rpki["cache"], format!("127.0.0.1:{rtr}"), "{rpki}");
    assert!(
        rpki["failures"].as_u64() >= Some(1),
        "the dead cache counted: {rpki}"
    );

    let (ok, out) = levee(&cfg, &["mitigate", "add", "192.0.2.30", "--level", "3"]);
    assert!(ok, "valid for AS64500: {out}");
    let (ok, out) = levee(&cfg, &["mitigate", "add", "198.51.100.5", "--level", "3"]);
    assert!(
        !ok && out.contains("198.51.100.0/24 is RPKI invalid for AS64500"),
        "{out}"
    );

    // The customer's ROA gains our AS: the next serial update lets it through.
    vrps(
        &json,
        ",{\"prefix\": \"198.51.100.0/24\", \"maxLength\": 24, \"asn\": \"AS64500\"}",
    );
    poll("the serial update with the third VRP", 30, |last| {
        let r = list(&cfg)["rpki"].clone();
        *last = r.to_string();
        (r["vrps"] == 3).then_some(())
    });
    let (ok, out) = levee(&cfg, &["mitigate", "add", "198.51.100.5", "--level", "3"]);
    assert!(ok, "{out}");
    let l = list(&cfg);
    assert_eq!(l["counters"]["rpki_refused"], 1, "{l}");
    assert_eq!(l["mitigations"].as_array().unwrap().len(), 2, "{l}");
    // The RTR side in /metrics.
    let (_, body) = common::http_get(&format!("127.0.0.1:{web}"), "/metrics");
    for (m, want) in [
        ("levee_rtr_vrps", 3.0),
        ("levee_rtr_state{state=\"synced\"}", 1.0),
        ("levee_mitigation_events_total{kind=\"rpki_refused\"}", 1.0),
    ] {
        assert_eq!(common::metric(&body, m), Some(want), "{m} in:\n{body}");
    }
    run.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
