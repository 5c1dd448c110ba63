//! The auth database (see the module overview in [`super`]): users, tokens, sessions
//! and their audit chain, in one SQLite file (WAL, mode 0600). Every write is one
//! `BEGIN IMMEDIATE` transaction that reads the chain's head inside it, so the CLI and
//! the daemon may both write at any time without forking the chain.

use super::Role;
use super::secret::{self, SecretError};
use crate::store::audit::{Entry, GENESIS};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::{Path, PathBuf};

/// Sessions kept per user; a login beyond this ends the user's oldest session.
pub const MAX_SESSIONS_PER_USER: usize = 16;
/// Longest user or token name.
pub const MAX_NAME: usize = 64;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password TEXT NOT NULL,
    created_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    created_us INTEGER NOT NULL,
    expires_us INTEGER
);
CREATE TABLE IF NOT EXISTS sessions (
    digest TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    expires_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    time_us INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
";

/// An auth database error.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The file could not be created or opened.
    #[error("auth database {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("auth database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A name with characters other than letters, digits, `.`, `_`, `-`, or too long.
    #[error("bad name {0:?}: use 1 to 64 letters, digits, '.', '_' or '-'")]
    BadName(String),
    /// The user or token exists already.
    #[error("{kind} {name:?} exists already")]
    Exists {
        /// "user" or "token".
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// No such user or token.
    #[error("no {kind} named {name:?}")]
    Unknown {
        /// "user" or "token".
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// A stored role that does not parse (edited by hand, or a newer levee's).
    #[error("auth database: {kind} {name:?} has an unknown role {role:?}")]
    BadRow {
        /// "user", "token" or "session".
        kind: &'static str,
        /// Its name.
        name: String,
        /// The stored role.
        role: String,
    },
    /// A secret could not be made.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The change would leave no admin (removing or demoting the last one).
    #[error(
        "{name:?} is the last admin: add another admin first, or nobody could manage \
         users and tokens through the API"
    )]
    LastAdmin {
        /// The user.
        name: String,
    },
}

/// Who is asking: a user (by password or session) or a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The name as audited: `user:<name>` or `token:<name>`.
    pub actor: String,
    /// What it may do.
    pub role: Role,
}

/// A user, as listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserRow {
    /// The name.
    pub name: String,
    /// The role.
    pub role: Role,
    /// Created (µs).
    pub created_us: u64,
    /// Open sessions.
    pub sessions: u64,
}

/// A token, as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenRow {
    /// The name.
    pub name: String,
    /// The role.
    pub role: Role,
    /// Created (µs).
    pub created_us: u64,
    /// Expires (µs), or never.
    pub expires_us: Option<u64>,
}

/// A browser session just opened: the id goes in the cookie, the CSRF token to the
/// page; only the id's digest is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The session id (secret).
    pub id: String,
    /// The CSRF token every state-changing request of this session must carry.
    pub csrf: String,
    /// When it ends (µs).
    pub expires_us: u64,
}

/// The open database.
#[derive(Debug)]
pub struct AuthDb {
    conn: Connection,
}

/// Whether `name` is a valid user or token name.
pub fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn check_name(name: &str) -> Result<(), AuthError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(AuthError::BadName(name.chars().take(80).collect()))
    }
}

fn role_of(kind: &'static str, name: &str, role: String) -> Result<Role, AuthError> {
    role.parse().map_err(|_| AuthError::BadRow {
        kind,
        name: name.to_string(),
        role,
    })
}

/// Appends one entry to the chain, inside `tx` (whose head it reads).
fn audit(
    tx: &Connection,
    now: u64,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> Result<(), AuthError> {
    let (seq, prev) = tx
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?)),
        )
        .optional()?
        .unwrap_or((0, GENESIS.to_string()));
    let e = Entry {
        seq: seq + 1,
        time_us: now,
        actor: actor.to_string(),
        action: action.to_string(),
        subject: subject.to_string(),
        detail: detail.to_string(),
        state: String::new(),
        keyed: false,
    };
    let hash = e.hash(&prev, None).unwrap_or_default();
    tx.execute(
        "INSERT INTO audit (seq, time_us, actor, action, subject, detail, prev, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            e.seq as i64,
            now as i64,
            e.actor,
            e.action,
            e.subject,
            e.detail,
            prev,
            hash
        ],
    )?;
    Ok(())
}

/// Refuses to leave no admin: `name` is an admin, no other user is, and it is being
/// removed (`to` is `None`) or given another role. Runs inside the write's transaction.
fn keep_an_admin(tx: &Connection, name: &str, to: Option<Role>) -> Result<(), AuthError> {
    if to == Some(Role::Admin) {
        return Ok(());
    }
    let admin = Role::Admin.as_str();
    let is_admin: bool = tx
        .prepare("SELECT 1 FROM users WHERE name = ?1 AND role = ?2")?
        .exists(params![name, admin])?;
    let others: i64 = tx.query_row(
        "SELECT COUNT(*) FROM users WHERE name <> ?1 AND role = ?2",
        params![name, admin],
        |r| r.get(0),
    )?;
    if is_admin && others == 0 {
        return Err(AuthError::LastAdmin { name: name.into() });
    }
    Ok(())
}

impl AuthDb {
    /// Opens (creating) the database at `path`, mode 0600.
    pub fn open(path: &Path) -> Result<AuthDb, AuthError> {
        let open = |source| AuthError::Open {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(open)?;
        }
        crate::store::restrict(path).map_err(open)?;
        crate::store::set_mode(path, 0o600).map_err(open)?;
        let conn = Connection::open(path)?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            crate::store::set_mode(Path::new(&side), 0o600).map_err(open)?;
        }
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        Ok(AuthDb { conn })
    }

    fn write<T>(
        &mut self,
        f: impl FnOnce(&Connection) -> Result<T, AuthError>,
    ) -> Result<T, AuthError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Adds a user with an argon2id `password_hash` ([`secret::hash_password`]).
    pub fn add_user(
        &mut self,
        now: u64,
        actor: &str,
        name: &str,
        role: Role,
        password_hash: &str,
    ) -> Result<(), AuthError> {
        check_name(name)?;
        self.write(|tx| {
            let n = tx.execute(
                "INSERT OR IGNORE INTO users (name, role, password, created_us)
                 VALUES (?1, ?2, ?3, ?4)",
                params![name, role.as_str(), password_hash, now as i64],
            )?;
            if n == 0 {
                return Err(AuthError::Exists {
                    kind: "user",
                    name: name.into(),
                });
            }
            audit(tx, now, actor, "user_add", name, role.as_str())
        })
    }

    /// Removes a user and ends their sessions; refused for the last admin.
    pub fn remove_user(&mut self, now: u64, actor: &str, name: &str) -> Result<(), AuthError> {
        self.write(|tx| {
            keep_an_admin(tx, name, None)?;
            tx.execute("DELETE FROM sessions WHERE user = ?1", [name])?;
            if tx.execute("DELETE FROM users WHERE name = ?1", [name])? == 0 {
                return Err(AuthError::Unknown {
                    kind: "user",
                    name: name.into(),
                });
            }
            audit(tx, now, actor, "user_remove", name, "")
        })
    }

    /// Sets a user's role (their open sessions take it at their next request); demoting
    /// the last admin is refused.
    pub fn set_role(
        &mut self,
        now: u64,
        actor: &str,
        name: &str,
        role: Role,
    ) -> Result<(), AuthError> {
        self.write(|tx| {
            keep_an_admin(tx, name, Some(role))?;
            let n = tx.execute(
                "UPDATE users SET role = ?2 WHERE name = ?1",
                params![name, role.as_str()],
            )?;
            if n == 0 {
                return Err(AuthError::Unknown {
                    kind: "user",
                    name: name.into(),
                });
            }
            audit(tx, now, actor, "user_role", name, role.as_str())
        })
    }

    /// The users, by name.
    pub fn users(&self) -> Result<Vec<UserRow>, AuthError> {
        let mut q = self.conn.prepare(
            "SELECT name, role, created_us,
                    (SELECT COUNT(*) FROM sessions s WHERE s.user = u.name)
             FROM users u ORDER BY name",
        )?;
        let rows = q.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)? as u64,
                r.get::<_, i64>(3)? as u64,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (name, role, created_us, sessions) = row?;
            let role = role_of("user", &name, role)?;
            out.push(UserRow {
                name,
                role,
                created_us,
                sessions,
            });
        }
        Ok(out)
    }

    /// Whether any user has the admin role.
    pub fn has_admin(&self) -> Result<bool, AuthError> {
        let n: i64 =
            self.conn
                .query_row("SELECT COUNT(*) FROM users WHERE role = 'admin'", [], |r| {
                    r.get(0)
                })?;
        Ok(n > 0)
    }

    /// A user's role and password hash, to check a login with off the database's lock.
    pub fn password_of(&self, name: &str) -> Result<Option<(Role, String)>, AuthError> {
        let row: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT role, password FROM users WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(role, hash)| Ok((role_of("user", name, role)?, hash)))
            .transpose()
    }

    /// Checks a user's password: the user as a principal, or `None` (no such user,
    /// wrong password). Runs argon2: call it off the async runtime.
    pub fn login(&self, name: &str, password: &str) -> Result<Option<Principal>, AuthError> {
        let Some((role, hash)) = self.password_of(name)? else {
            return Ok(None);
        };
        Ok(secret::verify_password(password, &hash).then(|| Principal {
            actor: format!("user:{name}"),
            role,
        }))
    }

    /// Creates a token with `role` expiring at `expires_us` (or never); returns the
    /// token, which is not stored (only its digest is) and cannot be shown again.
    pub fn create_token(
        &mut self,
        now: u64,
        actor: &str,
        name: &str,
        role: Role,
        expires_us: Option<u64>,
    ) -> Result<String, AuthError> {
        check_name(name)?;
        let token = secret::new_token()?;
        let digest = secret::digest(&token);
        self.write(|tx| {
            let n = tx.execute(
                "INSERT OR IGNORE INTO tokens (name, role, digest, created_us, expires_us)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    name,
                    role.as_str(),
                    digest,
                    now as i64,
                    expires_us.map(|e| e as i64)
                ],
            )?;
            if n == 0 {
                return Err(AuthError::Exists {
                    kind: "token",
                    name: name.into(),
                });
            }
            let detail = match expires_us {
                Some(e) => format!("{} until {}", role, crate::clock::rfc3339(e)),
                None => role.to_string(),
            };
            audit(tx, now, actor, "token_create", name, &detail)
        })?;
        Ok(token)
    }

    /// Revokes (deletes) a token.
    pub fn revoke_token(&mut self, now: u64, actor: &str, name: &str) -> Result<(), AuthError> {
        self.write(|tx| {
            if tx.execute("DELETE FROM tokens WHERE name = ?1", [name])? == 0 {
                return Err(AuthError::Unknown {
                    kind: "token",
                    name: name.into(),
                });
            }
            audit(tx, now, actor, "token_revoke", name, "")
        })
    }

    /// The tokens, by name.
    pub fn tokens(&self) -> Result<Vec<TokenRow>, AuthError> {
        let mut q = self
            .conn
            .prepare("SELECT name, role, created_us, expires_us FROM tokens ORDER BY name")?;
        let rows = q.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)? as u64,
                r.get::<_, Option<i64>>(3)?.map(|e| e as u64),
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (name, role, created_us, expires_us) = row?;
            let role = role_of("token", &name, role)?;
            out.push(TokenRow {
                name,
                role,
                created_us,
                expires_us,
            });
        }
        Ok(out)
    }

    /// The principal a bearer token stands for, if it exists and has not expired.
    pub fn token(&self, now: u64, token: &str) -> Result<Option<Principal>, AuthError> {
        if !token.starts_with(secret::TOKEN_PREFIX) || token.len() > 128 {
            return Ok(None);
        }
        let row: Option<(String, String, Option<i64>)> = self
            .conn
            .query_row(
                "SELECT name, role, expires_us FROM tokens WHERE digest = ?1",
                [secret::digest(token)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((name, role, expires)) = row else {
            return Ok(None);
        };
        if expires.is_some_and(|e| e as u64 <= now) {
            return Ok(None);
        }
        Ok(Some(Principal {
            role: role_of("token", &name, role)?,
            actor: format!("token:{name}"),
        }))
    }

    /// Opens a session for `user` lasting `ttl_us`: purges expired sessions and, past
    /// [`MAX_SESSIONS_PER_USER`], the user's oldest.
    pub fn open_session(
        &mut self,
        now: u64,
        user: &str,
        ttl_us: u64,
    ) -> Result<Session, AuthError> {
        let id = secret::new_secret()?;
        let csrf = secret::new_secret()?;
        let expires_us = now.saturating_add(ttl_us);
        self.write(|tx| {
            tx.execute("DELETE FROM sessions WHERE expires_us <= ?1", [now as i64])?;
            tx.execute(
                "DELETE FROM sessions WHERE digest IN (
                     SELECT digest FROM sessions WHERE user = ?1
                     ORDER BY created_us DESC LIMIT -1 OFFSET ?2)",
                params![user, (MAX_SESSIONS_PER_USER - 1) as i64],
            )?;
            tx.execute(
                "INSERT INTO sessions (digest, user, csrf, created_us, expires_us)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    secret::digest(&id),
                    user,
                    csrf,
                    now as i64,
                    expires_us as i64
                ],
            )?;
            audit(
                tx,
                now,
                &format!("user:{user}"),
                "login",
                user,
                &format!("until {}", crate::clock::rfc3339(expires_us)),
            )
        })?;
        Ok(Session {
            id,
            csrf,
            expires_us,
        })
    }

    /// The principal and CSRF token of a live session, with the user's current role.
    pub fn session(&self, now: u64, id: &str) -> Result<Option<(Principal, String)>, AuthError> {
        if id.len() != 64 {
            return Ok(None);
        }
        let row: Option<(String, String, String, i64)> = self
            .conn
            .query_row(
                "SELECT s.user, u.role, s.csrf, s.expires_us
                 FROM sessions s JOIN users u ON u.name = s.user WHERE s.digest = ?1",
                [secret::digest(id)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((user, role, csrf, expires)) = row else {
            return Ok(None);
        };
        if expires as u64 <= now {
            return Ok(None);
        }
        Ok(Some((
            Principal {
                role: role_of("session", &user, role)?,
                actor: format!("user:{user}"),
            },
            csrf,
        )))
    }

    /// Ends a session (logout); false if there was none.
    pub fn close_session(&mut self, now: u64, id: &str) -> Result<bool, AuthError> {
        self.write(|tx| {
            let user: Option<String> = tx
                .query_row(
                    "DELETE FROM sessions WHERE digest = ?1 RETURNING user",
                    [secret::digest(id)],
                    |r| r.get(0),
                )
                .optional()?;
            match user {
                Some(u) => {
                    audit(tx, now, &format!("user:{u}"), "logout", &u, "")?;
                    Ok(true)
                }
                None => Ok(false),
            }
        })
    }

    /// The last `n` audit entries, oldest first.
    pub fn audit_tail(&self, n: u64) -> Result<Vec<Entry>, AuthError> {
        let mut q = self.conn.prepare(
            "SELECT seq, time_us, actor, action, subject, detail FROM
               (SELECT * FROM audit ORDER BY seq DESC LIMIT ?1) ORDER BY seq",
        )?;
        let rows = q.query_map([n.min(i64::MAX as u64) as i64], |r| {
            Ok(Entry {
                seq: r.get::<_, i64>(0)? as u64,
                time_us: r.get::<_, i64>(1)? as u64,
                actor: r.get(2)?,
                action: r.get(3)?,
                subject: r.get(4)?,
                detail: r.get(5)?,
                state: String::new(),
                keyed: false,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Walks the chain: the first entry whose link or hash does not hold, if any.
    pub fn verify(&self) -> Result<Option<u64>, AuthError> {
        let mut q = self.conn.prepare(
            "SELECT seq, time_us, actor, action, subject, detail, prev, hash
             FROM audit ORDER BY seq",
        )?;
        let mut rows = q.query([])?;
        let mut head = (0u64, GENESIS.to_string());
        while let Some(r) = rows.next()? {
            let e = Entry {
                seq: r.get::<_, i64>(0)? as u64,
                time_us: r.get::<_, i64>(1)? as u64,
                actor: r.get(2)?,
                action: r.get(3)?,
                subject: r.get(4)?,
                detail: r.get(5)?,
                state: String::new(),
                keyed: false,
            };
            let prev: String = r.get(6)?;
            let hash: String = r.get(7)?;
            if e.seq != head.0 + 1 || prev != head.1 || e.hash(&prev, None) != Some(hash.clone()) {
                return Ok(Some(e.seq));
            }
            head = (e.seq, hash);
        }
        Ok(None)
    }
}

#[cfg(test)]
#[path = "db_tests.rs"]
mod tests;
