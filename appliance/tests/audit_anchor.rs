//! The audit chain's anchoring, as an attacker with the store file would try it and
//! an operator would check it: a chain edited and re-hashed from there on verifies on
//! its own but not against the head and count the daemon published; cut-off entries
//! are caught by the count; an edited mitigation row is caught, and the daemon refuses
//! to act on it unless told to; with an HMAC key the chain cannot be re-hashed without
//! it; `levee audit verify` changes nothing in the database.

mod common;

use common::{Running, http_get, levee_with, list, metric};
use levee::store::audit::{Entry, Key};
use levee_testkit::lab::{poll, scratch};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn free_port(udp: bool) -> u16 {
    if udp {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    } else {
        let s = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    }
}

/// A daemon config in a fresh directory (no adapter: decisions are only recorded),
/// with `store_extra` under `store:`. (directory, config, web address)
fn config(name: &str, store_extra: &str) -> (PathBuf, PathBuf, String) {
    let dir = scratch(name);
    let web = format!("127.0.0.1:{}", free_port(false));
    let yaml = format!(
        "listeners:\n  sflow: {{bind: 127.0.0.1:{}}}\n  netflow: {{enabled: false}}\n  \
         ipfix: {{enabled: false}}\nprotected_networks:\n  - name: lab\n    prefixes: [192.0.2.0/24]\n\
         web: {{listen: {web}}}\n\
         store:\n  path: {d}/levee.db\n{store_extra}control: {{socket: {d}/control.sock}}\n",
        free_port(true),
        d = dir.display()
    );
    let cfg = dir.join("levee.yaml");
    std::fs::write(&cfg, yaml).unwrap();
    (dir, cfg, web)
}

fn ready(d: &Running) {
    poll("the control socket", 60, |last| {
        *last = d.log();
        last.contains("control socket ready").then_some(())
    });
}

/// Runs the daemon, announces two routes and withdraws the second; returns the anchor
/// it published (entries, head) after that, checked against its log and /metrics.
fn history(dir: &Path, cfg: &Path, web: &str) -> (u64, String) {
    let d = Running::start(cfg, dir.join("run.log"));
    ready(&d);
    for r in [
        "route 192.0.2.7/32 community 65535:666",
        "route 192.0.2.8/32 community 65535:666",
    ] {
        let (ok, out) = levee_with(cfg, &["mitigate", "add", r, "--ttl", "1h"]);
        assert!(ok, "{out}");
    }
    let (ok, out) = levee_with(cfg, &["mitigate", "withdraw", "2"]);
    assert!(ok, "{out}");
    // start, two announcements, a withdrawal.
    let (entries, head) = poll("the anchor after 4 entries", 60, |last| {
        let v = list(cfg);
        *last = v["audit"].to_string();
        let n = v["audit"]["entries"].as_u64()?;
        (n == 4).then(|| (n, v["audit"]["head"].as_str().unwrap().to_string()))
    });
    assert_eq!(head.len(), 64);
    let (_, body) = http_get(web, "/metrics");
    assert_eq!(
        metric(&body, "levee_audit_entries_total"),
        Some(4.0),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "levee_audit_head_info{{head=\"{head}\",entries=\"4\""
        )),
        "{body}"
    );
    let log = d.stop();
    assert!(
        log.contains("audit chain") && log.contains(&head),
        "the head is logged: {log}"
    );
    (entries, head)
}

fn verify(cfg: &Path, extra: &[&str]) -> (bool, String) {
    levee_with(cfg, &[&["audit", "verify"], extra].concat())
}

/// The audit rows as stored: (entry, prev, hash).
fn rows(conn: &Connection) -> Vec<(Entry, String, String)> {
    let mut q = conn
        .prepare(
            "SELECT seq, time_us, actor, action, subject, detail, state, keyed, prev, hash
             FROM audit ORDER BY seq",
        )
        .unwrap();
    q.query_map([], |r| Ok((levee::store::entry(r)?, r.get(8)?, r.get(9)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// What an attacker with the file and without any key does: drops the triggers,
/// changes entry `seq`'s detail, and recomputes every later link as unkeyed SHA-256.
fn rewrite(db: &Path, seq: u64, detail: &str) {
    let conn = Connection::open(db).unwrap();
    conn.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
        .unwrap();
    let mut prev = levee::store::audit::GENESIS.to_string();
    for (mut e, _, hash) in rows(&conn) {
        if e.seq < seq {
            prev = hash;
            continue;
        }
        if e.seq == seq {
            e.detail = detail.into();
        }
        e.keyed = false;
        let h = e.hash(&prev, None).unwrap();
        conn.execute(
            "UPDATE audit SET detail = ?2, keyed = 0, prev = ?3, hash = ?4 WHERE seq = ?1",
            rusqlite::params![e.seq as i64, e.detail, prev, h],
        )
        .unwrap();
        prev = h;
    }
}

/// The database's files, byte for byte.
fn files(db: &Path) -> Vec<Option<Vec<u8>>> {
    ["", "-wal", "-shm"]
        .iter()
        .map(|s| std::fs::read(format!("{}{s}", db.display())).ok())
        .collect()
}

#[test]
fn a_rewritten_or_cut_chain_is_caught_by_the_anchor_and_verify_writes_nothing() {
    let (dir, cfg, web) = config("audit-anchor", "");
    let db = dir.join("levee.db");
    let (entries, head) = history(&dir, &cfg, &web);
    let n = entries.to_string();
    let anchor = ["--expect-head", &head, "--expect-entries", &n];
    let (ok, out) = verify(&cfg, &anchor);
    assert!(
        ok && out.contains("intact, 5 entries") && out.contains("holds the anchor"),
        "{out}"
    );

    // Rewritten from entry 2 (the first announcement now names another route).
    rewrite(&db, 2, "route 198.51.100.1/32 community 65535:666");
    let (ok, out) = verify(&cfg, &[]);
    assert!(ok, "a consistent rewrite verifies on its own: {out}");
    let (ok, out) = verify(&cfg, &anchor);
    assert!(
        !ok && out.contains("entry 4 does not have the anchored hash"),
        "{out}"
    );
    let (ok, out) = verify(&cfg, &["--expect-head", &head]);
    assert!(
        !ok && out.contains("no entry has the anchored hash"),
        "{out}"
    );

    // verify opened it read-only: the dropped triggers stay dropped, nothing changed.
    let before = files(&db);
    let _ = verify(&cfg, &anchor);
    assert_eq!(files(&db), before, "levee audit verify wrote to the store");
    let triggers: i64 = Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(triggers, 0, "levee audit verify re-created the triggers");
}

#[test]
fn cut_off_entries_are_caught_by_the_count() {
    let (dir, cfg, web) = config("audit-cut", "");
    let db = dir.join("levee.db");
    let (entries, head) = history(&dir, &cfg, &web);
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch("DROP TRIGGER audit_no_delete;").unwrap();
    // The stop entry and the withdrawal go; the mitigation row they left is put back
    // as it was before, so the rows agree with the shorter chain.
    conn.execute("DELETE FROM audit WHERE seq >= 4", [])
        .unwrap();
    conn.execute(
        "UPDATE mitigations SET state = 'active', withdrawn_us = NULL, reason = NULL
         WHERE id = 2",
        [],
    )
    .unwrap();
    let (ok, out) = verify(&cfg, &[]);
    assert!(ok && out.contains("intact, 3 entries"), "{out}");
    let n = entries.to_string();
    let (ok, out) = verify(&cfg, &["--expect-head", &head, "--expect-entries", &n]);
    assert!(!ok && out.contains("entries were cut off"), "{out}");
}

#[test]
fn an_edited_mitigation_row_is_caught_and_the_daemon_will_not_act_on_it() {
    let (dir, cfg, web) = config("audit-row", "");
    let db = dir.join("levee.db");
    history(&dir, &cfg, &web);
    // The withdrawn route made active again, for the next start to re-announce.
    Connection::open(&db)
        .unwrap()
        .execute("UPDATE mitigations SET state = 'active' WHERE id = 2", [])
        .unwrap();
    let (ok, out) = verify(&cfg, &[]);
    assert!(!ok && out.contains("BROKEN: mitigation 2"), "{out}");

    let (ok, out) = levee_with(&cfg, &["run"]);
    assert!(
        !ok && out.contains("levee will not act on it") && out.contains("--accept-broken-audit"),
        "{out}"
    );
    // Told to, it starts, says so loudly and audits it.
    let log = dir.join("accept.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_levee"))
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "run",
            "--accept-broken-audit",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    poll("the accepting daemon's control socket", 60, |last| {
        *last = std::fs::read_to_string(&log).unwrap_or_default();
        last.contains("control socket ready").then_some(())
    });
    let status = levee_testkit::daemon::sigterm(&mut child, std::time::Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("AUDIT LOG BROKEN: mitigation 2"), "{text}");
    let (_, shown) = levee_with(&cfg, &["audit", "show", "--last", "100"]);
    assert!(shown.contains("accept_broken"), "{shown}");
}

#[test]
fn a_keyed_chain_cannot_be_rewritten_without_the_key() {
    let dir0 = scratch("audit-key-file");
    let keyfile = dir0.join("audit.key");
    std::fs::write(&keyfile, "0f1e2d3c4b5a69788796a5b4c3d2e1f0\n").unwrap();
    let extra = format!("  audit_hmac_key_file: {}\n", keyfile.display());
    let (dir, cfg, web) = config("audit-key", &extra);
    let db = dir.join("levee.db");
    history(&dir, &cfg, &web);
    let (ok, out) = verify(&cfg, &[]);
    assert!(ok && out.contains("intact, 5 entries"), "{out}");
    let stored = rows(&Connection::open(&db).unwrap());
    assert!(stored.iter().all(|(e, ..)| e.keyed));
    let key = Key(b"0f1e2d3c4b5a69788796a5b4c3d2e1f0".to_vec());
    assert_eq!(
        stored[0].0.hash(&stored[0].1, Some(&key)).as_ref(),
        Some(&stored[0].2)
    );
    // Without the key it says what it needs.
    let plain = dir0.join("plain.yaml");
    std::fs::write(&plain, format!("store: {{path: {}}}\n", db.display())).unwrap();
    let (ok, out) = verify(&plain, &[]);
    assert!(!ok && out.contains("give the key"), "{out}");
    // Re-hashed without the key: caught with no anchor at all.
    rewrite(&db, 2, "route 198.51.100.1/32 community 65535:666");
    let (ok, out) = verify(&cfg, &[]);
    assert!(
        !ok && out.contains("BROKEN at entry 2: an unkeyed entry after keyed ones"),
        "{out}"
    );
    let (ok, out) = verify(&plain, &["--hmac-key-file", keyfile.to_str().unwrap()]);
    assert!(
        !ok && out.contains("BROKEN at entry 2: an unkeyed entry after keyed ones"),
        "{out}"
    );
}
