//! Store tests: a reopen keeps the mitigations, the audit chain holds and detects
//! tampering, one writer at a time, and clear errors for a bad path.

use super::*;
use levee_mitigate::settings::{Ladder, Network, Settings};
use levee_mitigate::{Engine, WithdrawReason};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
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
fn fresh(tag: &str) -> (TempDir, PathBuf, Store) {
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
