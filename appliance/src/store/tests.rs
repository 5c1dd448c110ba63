//! Store tests: a reopen keeps the mitigations, the audit chain holds and detects
//! tampering, one writer at a time, and clear errors for a bad path.

use super::*;
use levee_mitigate::settings::{Ladder, Network, Settings};
use levee_mitigate::{Engine, WithdrawReason};

/// A fresh directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "levee-store-{tag}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A new store in a fresh directory (removed when the first value drops).
pub(crate) fn fresh(tag: &str) -> (TempDir, PathBuf, Store) {
    let dir = TempDir::new(tag);
    let path = dir.0.join("levee.db");
    let st = Store::open(&path).unwrap();
    (dir, path, st)
}

/// An operator's announcement of 192.0.2.1/32 as mitigation `id`.
fn announce(id: u64) -> Note {
    Note::new(Actor::Operator, Action::Announce, id, "route 192.0.2.1/32")
}

fn engine(first: u64) -> Engine {
    Engine::new(
        Settings {
            networks: vec![Network {
                name: "web".into(),
                prefixes: vec!["192.0.2.0/24".parse().unwrap()],
                ladder: Ladder::default(),
            }],
            ..Settings::default()
        },
        first,
    )
}

#[test]
fn mitigations_survive_a_reopen_and_the_chain_holds() {
    let dir = TempDir::new("reopen");
    let path = dir.0.join("sub/levee.db");
    let mut st = Store::open(&path).unwrap();
    assert_eq!(st.next_id().unwrap(), 1);
    let mut e = engine(st.next_id().unwrap());
    let (id, out) = e
        .manual_add(
            5,
            "flow destination 192.0.2.7/32 protocol udp then discard"
                .parse()
                .unwrap(),
            100,
            None,
        )
        .unwrap();
    st.apply(5, Actor::Operator, &out).unwrap();
    let (_, out) = e
        .manual_add(
            6,
            "route 192.0.2.8/32 community 65535:666".parse().unwrap(),
            100,
            None,
        )
        .unwrap();
    st.apply(6, Actor::Operator, &out).unwrap();
    st.adapter_result(7, id, "native", Outcome::Applied, None)
        .unwrap();
    st.adapter_result(8, id, "native", Outcome::Failed, Some("peer down"))
        .unwrap();
    assert_eq!(
        st.adapter_results(id).unwrap(),
        [AdapterResult {
            adapter: "native".into(),
            state: Outcome::Failed,
            attempts: 2,
            error: Some("peer down".into())
        }]
    );
    let out = e.manual_withdraw(9, 2).unwrap();
    assert!(matches!(
        &out[..],
        [Output::Withdraw(_, WithdrawReason::Manual)]
    ));
    st.apply(9, Actor::Operator, &out).unwrap();
    drop(st);

    let st = Store::open(&path).unwrap();
    assert_eq!(st.next_id().unwrap(), 3);
    let active = st.active(|_| Vec::new()).unwrap();
    let want: Vec<Mitigation> = e.active().cloned().collect();
    assert_eq!(active, want);
    let Verdict::Intact { entries, .. } = st.verify().unwrap() else {
        panic!()
    };
    assert_eq!(entries, 3);
    let tail = st.audit_tail(2).unwrap();
    assert_eq!(tail[1].action, "withdraw");
    assert_eq!(
        tail[1].detail,
        "route 192.0.2.8/32 community 65535:666 (manual)"
    );
}

#[test]
fn the_audit_log_refuses_edits_and_detects_tampering() {
    let (_dir, path, mut st) = fresh("tamper");
    for i in 0..5 {
        st.audit(i, &[announce(i)]).unwrap();
    }
    let conn = Connection::open(&path).unwrap();
    let err = conn
        .execute("UPDATE audit SET detail = 'x' WHERE seq = 2", [])
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    assert!(conn.execute("DELETE FROM audit WHERE seq = 5", []).is_err());
    // Someone with the file drops the trigger and edits an entry.
    conn.execute_batch(
        "DROP TRIGGER audit_no_update; UPDATE audit SET detail = 'route 192.0.2.99/32' WHERE seq = 3;",
    )
    .unwrap();
    assert!(matches!(
        st.verify().unwrap(),
        Verdict::Broken { seq: 3, .. }
    ));
}

#[test]
fn a_bad_directory_is_a_clear_error() {
    let err = Store::open(Path::new("/proc/levee/levee.db")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("store /proc/levee/levee.db: cannot create"),
        "{err}"
    );
}

#[test]
fn a_second_writer_is_refused_and_readers_are_not() {
    let (_dir, path, mut st) = fresh("writer");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the store is levee's alone");
    }
    st.audit(1, &[announce(1)]).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let wal = PathBuf::from(format!("{}-wal", path.display()));
        let mode = std::fs::metadata(&wal).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the WAL takes the database's mode");
    }
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(&err, StoreError::Locked { pid, .. } if *pid == std::process::id().to_string()),
        "{err}"
    );
    assert!(err.to_string().contains("has it open for writing"), "{err}");
    // A reader beside the writer sees what it wrote, and the writer goes on writing.
    let reader = Store::open_read(&path).unwrap();
    assert!(matches!(
        reader.verify().unwrap(),
        Verdict::Intact { entries: 1, .. }
    ));
    st.audit(
        2,
        &[Note::new(
            Actor::Operator,
            Action::Withdraw,
            1,
            "route 192.0.2.1/32",
        )],
    )
    .unwrap();
    assert!(matches!(
        reader.verify().unwrap(),
        Verdict::Intact { entries: 2, .. }
    ));
    drop(st);
    Store::open(&path).unwrap();
}

#[test]
fn an_unwritable_store_names_its_path_and_what_to_do() {
    // A directory where the database file should be: SQLite cannot open it.
    let dir = TempDir::new("unwritable");
    let path = dir.0.join("levee.db");
    std::fs::create_dir_all(&path).unwrap();
    let err = Store::open(&path).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "store {}: cannot open it for writing",
            path.display()
        )) && err.contains("run levee as root, or as the user that owns"),
        "{err}"
    );
}

/// A store with mitigations 1 (active) and 2 (withdrawn), both chained.
fn with_rows(tag: &str) -> (TempDir, PathBuf, Store, Engine) {
    let (dir, path, mut st) = fresh(tag);
    let mut e = engine(1);
    for (t, r) in [
        (5, "route 192.0.2.7/32 community 65535:666"),
        (6, "route 192.0.2.8/32 community 65535:666"),
    ] {
        let (_, out) = e.manual_add(t, r.parse().unwrap(), 100, None).unwrap();
        st.apply(t, Actor::Operator, &out).unwrap();
    }
    let out = e.manual_withdraw(9, 2).unwrap();
    st.apply(9, Actor::Operator, &out).unwrap();
    (dir, path, st, e)
}

#[test]
fn an_edited_inserted_or_deleted_mitigation_row_is_caught() {
    let (_dir, path, st, _) = with_rows("rows");
    assert!(matches!(
        st.verify().unwrap(),
        Verdict::Intact { entries: 3, .. }
    ));
    let conn = Connection::open(&path).unwrap();
    // The withdrawn route made active again, so a restart would re-announce it.
    conn.execute("UPDATE mitigations SET state = 'active' WHERE id = 2", [])
        .unwrap();
    let Verdict::RowEdited { id: 2, why } = st.verify().unwrap() else {
        panic!("{:?}", st.verify())
    };
    assert!(why.contains("edited by hand"), "{why}");
    conn.execute(
        "UPDATE mitigations SET state = 'withdrawn' WHERE id = 2",
        [],
    )
    .unwrap();
    assert!(matches!(st.verify().unwrap(), Verdict::Intact { .. }));
    // A longer expiry is an edit too.
    conn.execute(
        "UPDATE mitigations SET expires_us = expires_us + 1 WHERE id = 1",
        [],
    )
    .unwrap();
    assert!(matches!(
        st.verify().unwrap(),
        Verdict::RowEdited { id: 1, .. }
    ));
    conn.execute(
        "UPDATE mitigations SET expires_us = expires_us - 1 WHERE id = 1",
        [],
    )
    .unwrap();
    // A row nobody announced.
    conn.execute(
        "INSERT INTO mitigations SELECT 3, 'route 192.0.2.0/24 community 65535:666', victim,
           network, level, origin, incident, holders, created_us, expires_us, dry_run,
           'active', NULL, NULL FROM mitigations WHERE id = 1",
        [],
    )
    .unwrap();
    let Verdict::RowEdited { id: 3, why } = st.verify().unwrap() else {
        panic!()
    };
    assert!(why.contains("inserted by hand"), "{why}");
    // A row deleted.
    conn.execute("DELETE FROM mitigations WHERE id IN (1, 3)", [])
        .unwrap();
    let Verdict::RowEdited { id: 1, why } = st.verify().unwrap() else {
        panic!()
    };
    assert!(why.contains("deleted by hand"), "{why}");
}

#[test]
fn expiries_are_coalesced_written_when_due_and_chained() {
    let (_dir, path, mut st, _) = with_rows("extend");
    let stored = |id: i64| -> i64 {
        Connection::open(&path)
            .unwrap()
            .query_row(
                "SELECT expires_us FROM mitigations WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap()
    };
    let before = stored(1);
    let t0 = st.extends_written_us;
    for s in 1..=30u64 {
        let out = [Output::Extend {
            id: 1,
            expires_us: before as u64 + s * 1_000_000,
        }];
        st.apply(t0 + s * 1_000_000, Actor::Detector, &out).unwrap();
        st.write(&[Write::Tick {
            now: t0 + s * 1_000_000,
        }]);
    }
    assert_eq!(stored(1), before, "not written before a minute has passed");
    assert!(
        st.write(&[Write::Tick {
            now: t0 + EXTEND_EVERY_US
        }])
        .is_empty()
    );
    assert_eq!(stored(1), before + 30_000_000);
    let tail = st.audit_tail(1).unwrap();
    assert_eq!(
        (tail[0].action.as_str(), tail[0].subject.as_str()),
        ("extend", "1")
    );
    // A stop writes what is pending.
    st.apply(
        t0 + EXTEND_EVERY_US + 1,
        Actor::Detector,
        &[Output::Extend {
            id: 1,
            expires_us: before as u64 + 90_000_000,
        }],
    )
    .unwrap();
    st.flush(t0 + EXTEND_EVERY_US + 2).unwrap();
    assert_eq!(stored(1), before + 90_000_000);
    assert!(matches!(
        st.verify().unwrap(),
        Verdict::Intact { entries: 5, .. }
    ));
}

#[test]
fn a_failing_write_is_rolled_back_alone_and_the_batch_commits() {
    let (_dir, path, mut st) = fresh("batch");
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER no_results BEFORE INSERT ON adapter_results
               BEGIN SELECT RAISE(ABORT, 'disk says no'); END;",
        )
        .unwrap();
    let errors = st.write(&[
        Write::Audit {
            now: 1,
            notes: vec![announce(1)],
        },
        Write::AdapterResult {
            now: 2,
            id: 1,
            adapter: "native".into(),
            state: Outcome::Applied,
            error: None,
        },
        Write::Audit {
            now: 3,
            notes: vec![announce(2)],
        },
    ]);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].to_string().contains("disk says no"),
        "{}",
        errors[0]
    );
    assert_eq!(st.anchor().entries, 2);
    assert!(matches!(
        st.verify().unwrap(),
        Verdict::Intact { entries: 2, .. }
    ));
}

#[test]
fn rows_of_an_older_database_are_adopted_once() {
    let dir = TempDir::new("adopt");
    let path = dir.0.join("levee.db");
    {
        // A store as an older levee left it: no state column, rows outside the chain.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            &SCHEMA.replace(
                "hash TEXT NOT NULL,\n    state TEXT NOT NULL DEFAULT '',\n    keyed INTEGER NOT NULL DEFAULT 0",
                "hash TEXT NOT NULL",
            ),
        )
        .unwrap();
        conn.execute(
            "INSERT INTO mitigations (id, route, victim, network, level, origin, holders,
               created_us, expires_us, dry_run, state)
             VALUES (1, 'route 192.0.2.7/32 community 65535:666', '192.0.2.7', 'web', NULL,
               'manual', '[\"manual\"]', 1, 2, 0, 'active')",
            [],
        )
        .unwrap();
    }
    // A reader (levee audit verify) of the old file changes nothing and checks the chain.
    let old = Store::open_read(&path).unwrap();
    assert!(matches!(
        old.verify().unwrap(),
        Verdict::Intact { entries: 0, .. }
    ));
    drop(old);
    let st = Store::open(&path).unwrap();
    assert!(matches!(
        st.verify().unwrap(),
        Verdict::Intact { entries: 1, .. }
    ));
    assert_eq!(st.audit_tail(1).unwrap()[0].action, "adopt");
    drop(st);
    let st = Store::open(&path).unwrap();
    assert_eq!(st.anchor().entries, 1, "adopted once");
}

#[test]
fn the_writer_thread_batches_answers_reads_and_flushes_at_stop() {
    let (_dir, path, st) = fresh("thread");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let w = writer::Writer::start(st).unwrap();
        for i in 1..=50 {
            w.write(Write::Audit {
                now: i,
                notes: vec![announce(i)],
            })
            .await;
        }
        w.write(Write::AdapterResult {
            now: 60,
            id: 1,
            adapter: "native".into(),
            state: Outcome::Applied,
            error: None,
        })
        .await;
        // The read comes after the writes queued before it.
        assert!(w.held("native").await.unwrap().is_empty());
        assert_eq!(w.anchor().entries, 50);
        assert_eq!(w.errors(), 0);
        w.write(Write::Audit {
            now: 61,
            notes: vec![announce(51)],
        })
        .await;
        w.stop(62).await;
    });
    let st = Store::open_read(&path).unwrap();
    assert!(matches!(
        st.verify().unwrap(),
        Verdict::Intact { entries: 51, .. }
    ));
    assert!(st.check_anchor(None, Some(52)).unwrap().is_some());
}

#[test]
fn a_new_holder_is_stored_chained_and_restored() {
    let (_dir, _path, mut st, _) = with_rows("hold");
    let mut m = st
        .active(|_| Vec::new())
        .unwrap()
        .into_iter()
        .find(|m| m.id == 1)
        .unwrap();
    m.holders.insert(levee_mitigate::engine::Holder::Auto(
        levee_mitigate::Target::Host("192.0.2.7".parse().unwrap()),
    ));
    m.expires_us += 50;
    st.apply(20, Actor::Detector, &[Output::Holders(m.clone())])
        .unwrap();
    let back = st.active(|_| Vec::new()).unwrap();
    let back = back.iter().find(|b| b.id == 1).unwrap();
    assert_eq!(back.holders, m.holders, "a restart restores both holders");
    assert_eq!(back.expires_us, m.expires_us);
    let tail = st.audit_tail(1).unwrap();
    assert_eq!(
        (tail[0].action.as_str(), tail[0].subject.as_str()),
        ("hold", "1")
    );
    assert!(matches!(
        st.verify().unwrap(),
        Verdict::Intact { entries: 4, .. }
    ));
}

#[test]
fn a_wiped_log_beside_a_forged_row_is_not_adopted() {
    let (_dir, path, st, _) = with_rows("wiped");
    drop(st);
    {
        // Someone with the file: the append-only triggers dropped, the log wiped, an
        // active RTBH row forged.
        let conn = Connection::open(&path).unwrap();
        let triggers: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for t in triggers {
            conn.execute_batch(&format!("DROP TRIGGER {t}")).unwrap();
        }
        conn.execute_batch("DELETE FROM audit").unwrap();
        conn.execute(
            "INSERT INTO mitigations (id, route, victim, network, level, origin, holders,
               created_us, expires_us, dry_run, state)
             VALUES (9, 'route 192.0.2.9/32 community 65535:666', '192.0.2.9', 'web', NULL,
               'manual', '[\"manual\"]', 1, 99999999999, 0, 'active')",
            [],
        )
        .unwrap();
    }
    let st = Store::open(&path).unwrap();
    assert_eq!(st.anchor().entries, 0, "nothing adopted");
    assert!(
        matches!(st.verify().unwrap(), Verdict::RowEdited { .. }),
        "{:?}",
        st.verify()
    );
}
