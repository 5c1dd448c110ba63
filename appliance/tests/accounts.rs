//! `levee users ...` and `levee tokens ...` as an operator meets them: against the auth
//! database beside the config's store, with the daemon not running.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("levee-accounts-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(
            p.join("levee.yaml"),
            format!(
                "store: {{path: {}}}\ncontrol: {{socket: {}}}\n",
                p.join("levee.db").display(),
                p.join("control.sock").display()
            ),
        )
        .unwrap();
        Dir(p)
    }

    fn levee(&self, args: &[&str], stdin: &str) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_levee"))
            .arg("--config")
            .arg(self.0.join("levee.yaml"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run levee");
        c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        c.wait_with_output().unwrap()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn users_add_from_stdin_generate_list_set_role_remove() {
    let d = Dir::new("users");
    let o = d.levee(
        &["users", "add", "alice", "--role", "operator"],
        "a long enough password\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(d.0.join("levee.auth.db").exists());
    let o = d.levee(
        &["users", "add", "bob", "--role", "admin", "--generate"],
        "",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let pw = stdout(&o).lines().last().unwrap().to_string();
    assert_eq!(pw.len(), 40, "{}", stdout(&o));
    let o = d.levee(
        &["users", "add", "alice", "--role", "viewer"],
        "another long password\n",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("exists already"), "{}", stderr(&o));
    let o = d.levee(
        &["users", "add", "carol", "--role", "root"],
        "another long password\n",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unknown role"), "{}", stderr(&o));
    let o = d.levee(&["users", "add", "carol", "--role", "viewer"], "short\n");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("12 to 1024 bytes"), "{}", stderr(&o));
    let o = d.levee(
        &["users", "add", "../x", "--role", "viewer"],
        "another long password\n",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("bad name"), "{}", stderr(&o));
    let o = d.levee(&["users", "set-role", "alice", "analyst"], "");
    assert!(o.status.success(), "{}", stderr(&o));
    let o = d.levee(&["users", "list", "--json"], "");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["name"], "alice");
    assert_eq!(v[0]["role"], "analyst");
    assert_eq!(v[1]["role"], "admin");
    let o = d.levee(&["users", "remove", "alice"], "");
    assert!(o.status.success(), "{}", stderr(&o));
    let o = d.levee(&["users", "remove", "alice"], "");
    assert_eq!(o.status.code(), Some(1));
    let o = d.levee(&["users", "list"], "");
    assert!(stdout(&o).starts_with("bob "), "{}", stdout(&o));
    // bob is the last admin: neither removed nor demoted.
    for args in [
        &["users", "remove", "bob"][..],
        &["users", "set-role", "bob", "operator"],
    ] {
        let o = d.levee(args, "");
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(stderr(&o).contains("last admin"), "{}", stderr(&o));
    }
    let db = levee::auth::AuthDb::open(&d.0.join("levee.auth.db")).unwrap();
    assert_eq!(
        db.login("bob", &pw).unwrap().unwrap().role,
        levee::auth::Role::Admin
    );
    let actions: Vec<String> = db
        .audit_tail(10)
        .unwrap()
        .iter()
        .map(|e| format!("{} {}", e.action, e.subject))
        .collect();
    assert_eq!(
        actions,
        [
            "user_add alice",
            "user_add bob",
            "user_role alice",
            "user_remove alice"
        ]
    );
    assert!(db.audit_tail(1).unwrap()[0].actor.starts_with("cli:"));
    assert_eq!(db.verify().unwrap(), None);
}

#[test]
fn tokens_create_prints_once_list_revoke() {
    let d = Dir::new("tokens");
    let o = d.levee(
        &[
            "tokens",
            "create",
            "ci",
            "--role",
            "operator",
            "--expires",
            "24h",
        ],
        "",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let token = stdout(&o).lines().last().unwrap().to_string();
    assert!(token.starts_with("levee_"), "{token}");
    let db = levee::auth::AuthDb::open(&d.0.join("levee.auth.db")).unwrap();
    let now = levee::clock::now_us();
    assert_eq!(db.token(now, &token).unwrap().unwrap().actor, "token:ci");
    assert!(
        db.token(now + 25 * 3600 * 1_000_000, &token)
            .unwrap()
            .is_none()
    );
    let o = d.levee(&["tokens", "list"], "");
    assert!(stdout(&o).contains("ci "), "{}", stdout(&o));
    assert!(!stdout(&o).contains(&token));
    let o = d.levee(
        &["tokens", "create", "x", "--role", "viewer", "--expires=-5s"],
        "",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--expires"), "{}", stderr(&o));
    let o = d.levee(&["tokens", "revoke", "ci"], "");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(db.token(now, &token).unwrap().is_none());
    let o = d.levee(&["tokens", "revoke", "ci"], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no token named"), "{}", stderr(&o));
}
