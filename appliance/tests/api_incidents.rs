//! Incidents through `/api/v1` over a store of 10,000 (with their mitigations, adapter
//! results and some traffic series), written before `levee run` starts: filters,
//! paging and CSV answer exactly the rows they should, newest first; an incident's
//! detail carries its evidence (lists capped), its mitigations' adapter results, its
//! timeline and its notes; notes are added by analysts and up only (CSRF required with
//! a session), checked, audited with the author's name.

mod common;

use common::api::{
    Lab, PW, SEED_START_US, http, roles, seed_family, seed_incidents, seed_network, seed_open,
    seed_victim,
};
use levee::auth::Role;
use serde_json::json;

const N: u64 = 10_000;

/// The ids a filter should answer, newest first.
fn expected(keep: impl Fn(u64) -> bool) -> Vec<u64> {
    (1..=N).rev().filter(|&i| keep(i)).collect()
}

/// Every page of `query` (with `limit`), following `next_before`: the ids, in order.
fn all_pages(lab: &Lab, query: &str, limit: u32) -> Vec<u64> {
    let mut ids = Vec::new();
    let mut before: Option<u64> = None;
    loop {
        let mut path = format!("/api/v1/incidents?{query}&limit={limit}");
        if let Some(b) = before {
            path.push_str(&format!("&before={b}"));
        }
        let r = lab.call(None, "GET", &path, None);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let v = r.json();
        let page: Vec<u64> = v["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_u64().unwrap())
            .collect();
        assert!(page.len() <= limit as usize, "{path}");
        ids.extend(&page);
        match v["next_before"].as_u64() {
            Some(b) => {
                assert_eq!(Some(&b), page.last(), "{path}");
                before = Some(b);
            }
            None => return ids,
        }
    }
}

#[test]
fn ten_thousand_incidents_filter_page_export_detail_and_notes() {
    let lab = Lab::start_with("incidents", |store| seed_incidents(store, N, true));
    // Every incident, in pages of 1000 and of 333: all of them, newest first.
    assert_eq!(all_pages(&lab, "format=json", 1000), expected(|_| true));
    assert_eq!(all_pages(&lab, "format=json", 333), expected(|_| true));
    // Filters, alone and together.
    let victim = seed_victim(7);
    for (query, keep) in [
        (
            "network=lab",
            Box::new(|i| seed_network(i) == "lab") as Box<dyn Fn(u64) -> bool>,
        ),
        (
            &format!("victim={victim}") as &str,
            Box::new(|i| seed_victim(i) == victim),
        ),
        (
            "family=syn_flood",
            Box::new(|i| seed_family(i).as_str() == "syn_flood"),
        ),
        ("open=true", Box::new(seed_open)),
        ("open=false", Box::new(|i| !seed_open(i))),
        (
            "network=edge&family=udp_flood&open=false",
            Box::new(|i| {
                seed_network(i) == "edge" && seed_family(i).as_str() == "udp_flood" && !seed_open(i)
            }),
        ),
        ("network=nowhere", Box::new(|_| false)),
    ] {
        let want = expected(keep);
        assert_eq!(all_pages(&lab, query, 1000), want, "{query}");
    }
    // A time window: incidents 101 to 200 started in it.
    let since = (SEED_START_US + 101 * 60_000_000) / 1_000_000;
    let until = (SEED_START_US + 201 * 60_000_000) / 1_000_000;
    let q = format!("since={since}&until={until}&family=syn_flood");
    assert_eq!(
        all_pages(&lab, &q, 7),
        expected(|i| (101..=200).contains(&i) && i.is_multiple_of(5))
    );
    // CSV: the same rows as JSON, one line each after the header.
    let r = lab.call(
        Some(Role::Analyst),
        "GET",
        "/api/v1/incidents?format=csv&network=lab&open=true&limit=1000",
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let lines: Vec<&str> = r.body.lines().collect();
    let want = expected(|i| seed_network(i) == "lab" && seed_open(i));
    assert_eq!(lines.len(), want.len() + 1);
    for (line, id) in lines[1..].iter().zip(&want) {
        assert!(
            line.starts_with(&format!("{id},\"{}\",\"lab\",", seed_victim(*id))),
            "{line}"
        );
    }
    let r = lab.call(
        Some(Role::Analyst),
        "GET",
        "/api/v1/incidents?format=csv&limit=1000",
        None,
    );
    assert_eq!(r.body.lines().count(), 1001);
    assert!(r.body.lines().nth(1).unwrap().starts_with("10000,"));

    // One incident's detail: evidence (lists capped at 20), adapters, timeline.
    let d = lab.call(None, "GET", "/api/v1/incidents/3000", None).json();
    assert_eq!(d["id"], 3000);
    let ev = &d["evidence"];
    assert_eq!(ev["family"], "syn_flood");
    assert_eq!(ev["trigger"]["threshold"], 10_000);
    assert_eq!(ev["trigger"]["metric"], "pps");
    assert_eq!(ev["top_sources"].as_array().unwrap().len(), 20, "{ev}");
    assert_eq!(ev["top_sources"][0]["address"], "198.51.100.1");
    assert_eq!(ev["top_dst_ports"][0]["port"], 4444);
    assert_eq!(ev["top_packet_lengths"][0]["length"], 512);
    assert_eq!(ev["threat_intel"][0]["list"], "blocklist");
    assert_eq!(
        (ev["botnet"].as_bool(), ev["spoofed"].as_bool()),
        (Some(true), Some(false))
    );
    let ms = d["mitigations"].as_array().unwrap();
    assert_eq!(ms.len(), 1, "{d}");
    assert_eq!(ms[0]["state"], "withdrawn");
    assert_eq!(
        ms[0]["adapters"],
        json!([{"adapter": "webhook", "state": "withdrawn", "attempts": 2, "error": null}])
    );
    let t = d["timeline"].as_array().unwrap();
    assert_eq!(t.len(), 60);
    let start_s = (SEED_START_US + 3000 * 60_000_000) / 1_000_000;
    assert_eq!(
        t[2],
        json!({"time": start_s + 2, "pps": 2_000, "bps": 16_000})
    );
    assert_eq!(d["notes"], json!([]));
    let d = lab.call(None, "GET", "/api/v1/incidents/3001", None).json();
    assert_eq!(d["timeline"], json!([]), "no series stored for it");

    // Notes: analysts and up; viewers and anonymous callers are refused.
    for role in roles() {
        let text = format!("seen by {role:?}\nsame botnet as before");
        let r = lab.call(
            role,
            "POST",
            "/api/v1/incidents/3000/notes",
            Some(&json!({"text": text})),
        );
        if role >= Some(Role::Analyst) {
            assert_eq!(r.status, 201, "{role:?}: {}", r.body);
            assert_eq!(
                r.json()["author"],
                format!("token:{}", role.unwrap().as_str())
            );
        } else {
            assert_eq!((r.status, r.code()), (403, "forbidden".into()), "{role:?}");
        }
    }
    let an = Some(Role::Analyst);
    for (path, body, want) in [
        ("/api/v1/incidents/424242/notes", json!({"text": "x"}), 404),
        ("/api/v1/incidents/abc/notes", json!({"text": "x"}), 400),
        ("/api/v1/incidents/3000/notes", json!({"text": ""}), 400),
        (
            "/api/v1/incidents/3000/notes",
            json!({"text": "x".repeat(4097)}),
            400,
        ),
        (
            "/api/v1/incidents/3000/notes",
            json!({"text": "a\u{1b}[2J"}),
            400,
        ),
        ("/api/v1/incidents/3000/notes", json!({"text": "a\tb"}), 400),
        ("/api/v1/incidents/3000/notes", json!({"note": "x"}), 400),
    ] {
        let r = lab.call(an, "POST", path, Some(&body));
        assert_eq!(r.status, want, "{path} {body}: {}", r.body);
    }
    let r = lab.call(
        an,
        "POST",
        "/api/v1/incidents/3000/notes",
        Some(&json!({"text": "x".repeat(4096)})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // With a session, a note needs the CSRF token.
    let login = http(
        lab.port,
        "POST",
        "/api/v1/login",
        &[("Content-Type", "application/json")],
        &json!({"user": "analyst", "password": PW}).to_string(),
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let cookie = login
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = login.json()["csrf"].as_str().unwrap().to_string();
    let body = json!({"text": "from the browser"}).to_string();
    let ct = ("Content-Type", "application/json");
    let r = http(
        lab.port,
        "POST",
        "/api/v1/incidents/3000/notes",
        &[("Cookie", &cookie), ct],
        &body,
    );
    assert_eq!((r.status, r.code()), (403, "csrf".into()));
    let r = http(
        lab.port,
        "POST",
        "/api/v1/incidents/3000/notes",
        &[("Cookie", &cookie), ct, ("X-CSRF-Token", &csrf)],
        &body,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // Listed oldest first with their authors, and audited by them.
    let d = lab.call(None, "GET", "/api/v1/incidents/3000", None).json();
    let authors: Vec<&str> = d["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["author"].as_str().unwrap())
        .collect();
    assert_eq!(
        authors,
        [
            "token:analyst",
            "token:operator",
            "token:admin",
            "token:analyst",
            "user:analyst"
        ]
    );
    assert_eq!(
        d["notes"][0]["text"],
        "seen by Some(Analyst)\nsame botnet as before"
    );
    assert!(
        d["notes"][0]["time"].as_str().unwrap().ends_with('Z'),
        "{d}"
    );
    let audit = lab
        .call(None, "GET", "/api/v1/audit?after=20000&limit=1000", None)
        .json();
    let notes: Vec<(String, String)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "note")
        .map(|e| {
            (
                e["actor"].as_str().unwrap().into(),
                e["subject"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(notes.len(), 5, "{audit}");
    assert!(notes.iter().all(|(_, s)| s == "3000"));
    assert_eq!(notes[4].0, "user:analyst");
    let v = lab.levee(&["audit", "verify"]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}
