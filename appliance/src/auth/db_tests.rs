use super::*;

fn db() -> (tempdir::Dir, AuthDb) {
    let d = tempdir::Dir::new();
    let db = AuthDb::open(&d.0.join("levee.auth.db")).unwrap();
    (d, db)
}

/// A directory removed when dropped.
mod tempdir {
    pub(super) struct Dir(pub(super) std::path::PathBuf);
    impl Dir {
        pub(super) fn new() -> Dir {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let p = std::env::temp_dir().join(format!(
                "levee-auth-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

const PW: &str = "a long enough password";

#[test]
fn users_add_list_login_set_role_remove_audited() {
    let (_d, mut db) = db();
    let hash = secret::hash_password(PW).unwrap();
    db.add_user(1, "cli:root", "alice", Role::Viewer, &hash)
        .unwrap();
    assert!(matches!(
        db.add_user(2, "cli:root", "alice", Role::Admin, &hash),
        Err(AuthError::Exists { .. })
    ));
    assert!(matches!(
        db.add_user(2, "cli:root", "al ice", Role::Admin, &hash),
        Err(AuthError::BadName(_))
    ));
    assert!(!db.has_admin().unwrap());
    let p = db.login("alice", PW).unwrap().unwrap();
    assert_eq!(p.actor, "user:alice");
    assert_eq!(p.role, Role::Viewer);
    assert_eq!(db.login("alice", "wrong password!!").unwrap(), None);
    assert_eq!(db.login("bob", PW).unwrap(), None);
    db.set_role(3, "cli:root", "alice", Role::Admin).unwrap();
    assert!(db.has_admin().unwrap());
    assert_eq!(db.users().unwrap()[0].role, Role::Admin);
    assert!(matches!(
        db.set_role(3, "cli:root", "bob", Role::Admin),
        Err(AuthError::Unknown { .. })
    ));
    // The last admin is neither removed nor demoted; re-granting admin is no change.
    assert!(matches!(
        db.remove_user(4, "cli:root", "alice"),
        Err(AuthError::LastAdmin { .. })
    ));
    assert!(matches!(
        db.set_role(4, "cli:root", "alice", Role::Operator),
        Err(AuthError::LastAdmin { .. })
    ));
    assert_eq!(db.users().unwrap()[0].role, Role::Admin);
    db.add_user(4, "cli:root", "bob", Role::Admin, &hash)
        .unwrap();
    db.remove_user(4, "cli:root", "alice").unwrap();
    assert_eq!(db.users().unwrap().len(), 1);
    assert!(matches!(
        db.remove_user(4, "cli:root", "alice"),
        Err(AuthError::Unknown { .. })
    ));
    let log: Vec<_> = db
        .audit_tail(10)
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {} {} {}", e.actor, e.action, e.subject, e.detail))
        .collect();
    assert_eq!(
        log,
        [
            "cli:root user_add alice viewer",
            "cli:root user_role alice admin",
            "cli:root user_add bob admin",
            "cli:root user_remove alice ",
        ]
    );
    assert_eq!(db.verify().unwrap(), None);
}

#[test]
fn token_lifecycle_create_use_expire_revoke() {
    let (_d, mut db) = db();
    let t = db
        .create_token(1_000, "cli:root", "ci", Role::Operator, Some(2_000))
        .unwrap();
    assert!(t.starts_with(secret::TOKEN_PREFIX));
    assert!(matches!(
        db.create_token(1_000, "cli:root", "ci", Role::Viewer, None),
        Err(AuthError::Exists { .. })
    ));
    let p = db.token(1_500, &t).unwrap().unwrap();
    assert_eq!((p.actor.as_str(), p.role), ("token:ci", Role::Operator));
    assert_eq!(db.token(2_000, &t).unwrap(), None, "expired");
    assert_eq!(db.token(1_500, "levee_nope").unwrap(), None);
    assert_eq!(db.token(1_500, "").unwrap(), None);
    // Only the digest is stored.
    let stored: Vec<String> = db
        .conn
        .prepare("SELECT digest FROM tokens")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(stored, [secret::digest(&t)]);
    let listed = db.tokens().unwrap();
    assert_eq!(listed[0].expires_us, Some(2_000));
    db.revoke_token(1_600, "cli:root", "ci").unwrap();
    assert!(db.tokens().unwrap().is_empty());
    let forever = db
        .create_token(1_700, "cli:root", "ci", Role::Viewer, None)
        .unwrap();
    assert_eq!(db.token(1_700, &t).unwrap(), None, "revoked");
    assert_eq!(
        db.token(u64::MAX / 2, &forever).unwrap().unwrap().role,
        Role::Viewer
    );
    assert_eq!(db.verify().unwrap(), None);
}

#[test]
fn sessions_expire_follow_the_role_and_are_bounded_per_user() {
    let (_d, mut db) = db();
    let hash = secret::hash_password(PW).unwrap();
    db.add_user(1, "cli:root", "op", Role::Operator, &hash)
        .unwrap();
    let s = db.open_session(10, "op", 100).unwrap();
    assert_ne!(s.id, s.csrf);
    let (p, csrf) = db.session(50, &s.id).unwrap().unwrap();
    assert_eq!((p.actor.as_str(), p.role), ("user:op", Role::Operator));
    assert_eq!(csrf, s.csrf);
    assert_eq!(db.session(110, &s.id).unwrap(), None, "expired");
    db.set_role(60, "cli:root", "op", Role::Viewer).unwrap();
    assert_eq!(db.session(70, &s.id).unwrap().unwrap().0.role, Role::Viewer);
    let mut ids = Vec::new();
    for i in 0..MAX_SESSIONS_PER_USER as u64 + 4 {
        ids.push(db.open_session(20 + i, "op", 1_000).unwrap().id);
    }
    assert_eq!(
        db.users().unwrap()[0].sessions,
        MAX_SESSIONS_PER_USER as u64
    );
    assert_eq!(db.session(100, &ids[0]).unwrap(), None, "oldest evicted");
    assert!(db.session(100, ids.last().unwrap()).unwrap().is_some());
    assert!(db.close_session(200, ids.last().unwrap()).unwrap());
    assert!(!db.close_session(200, ids.last().unwrap()).unwrap());
    assert_eq!(db.session(201, ids.last().unwrap()).unwrap(), None);
    db.remove_user(300, "cli:root", "op").unwrap();
    assert_eq!(db.session(301, &ids[5]).unwrap(), None, "user gone");
    assert_eq!(db.verify().unwrap(), None);
}

#[test]
fn an_edited_audit_entry_is_found() {
    let (_d, mut db) = db();
    db.create_token(1, "cli:root", "a", Role::Viewer, None)
        .unwrap();
    db.create_token(2, "cli:root", "b", Role::Admin, None)
        .unwrap();
    db.conn
        .execute_batch(
            "DROP TRIGGER audit_no_update;
             UPDATE audit SET detail = 'viewer' WHERE seq = 2;",
        )
        .unwrap();
    assert_eq!(db.verify().unwrap(), Some(2));
}

#[test]
fn a_second_connection_writes_beside_the_first_on_one_chain() {
    let (d, mut a) = db();
    let mut b = AuthDb::open(&d.0.join("levee.auth.db")).unwrap();
    a.create_token(1, "cli:root", "one", Role::Viewer, None)
        .unwrap();
    b.create_token(2, "cli:root", "two", Role::Viewer, None)
        .unwrap();
    a.revoke_token(3, "cli:root", "two").unwrap();
    assert_eq!(b.audit_tail(10).unwrap().len(), 3);
    assert_eq!(b.verify().unwrap(), None);
    let mode = std::fs::metadata(d.0.join("levee.auth.db")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.permissions().mode() & 0o777, 0o600);
}
