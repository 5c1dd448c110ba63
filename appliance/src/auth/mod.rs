//! Who may use the web endpoint and API: users (a name, a [`Role`], an argon2id
//! password hash), API bearer tokens (a name, a role, an expiry, and only the SHA-256
//! of the token) and browser sessions (the SHA-256 of the session id, its user, a CSRF
//! token and an expiry).
//!
//! **Where they live, and why there.** They are kept in an auth database of their own,
//! beside the store (`levee.db` → `levee.auth.db`, same directory, same file mode),
//! not in the store itself:
//!
//! - `levee users ...` and `levee tokens ...` must work with the daemon running or not.
//!   The store has one writer, the daemon's store thread, which holds `<db>.lock` and
//!   keeps the audit chain's head in memory; a second writer would fork the chain. The
//!   auth database has no long-lived writer: every write (the CLI's, the daemon's
//!   sessions) is one short `BEGIN IMMEDIATE` transaction, serialized by SQLite's own
//!   lock (WAL, with a busy timeout), and reads the head of its chain inside that
//!   transaction. So the CLI writes directly whether or not the daemon runs, and the
//!   daemon sees a new user or a revoked token at the next request, with no reload.
//! - An account fix (a lost admin password, a leaked token) must not depend on a
//!   daemon that may be the thing misbehaving.
//! - Logins are something a stranger can cause: keeping their session writes out of
//!   the store keeps them off the mitigation writer's queue.
//!
//! **Audit.** Every change (user added, removed, role set, password set, token created
//! or revoked, session opened or closed) is appended to the auth database's own
//! `audit` table, hash-chained exactly as the store's ([`crate::store::audit::Entry`]),
//! with the actor's name: `cli:<unix user>`, `user:<name>`, `token:<name>`. Failed
//! logins are counted, not audited (a stranger could otherwise grow the log).
//! Mitigation changes made through the API are audited in the store's chain, with the
//! same actor names.
//!
//! **Bounds.** Users and tokens are created only by whoever may write the database.
//! Sessions are bounded per user ([`db::MAX_SESSIONS_PER_USER`], oldest evicted) and
//! expired ones are purged at every login.

pub mod db;
pub mod secret;

pub use db::{AuthDb, AuthError, Principal, Session, TokenRow, UserRow};

/// What a user or token may do; each role may do everything the ones below it may.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read everything.
    Viewer,
    /// Viewer, plus incident notes and exports.
    Analyst,
    /// Analyst, plus mitigations: add, withdraw, extend.
    Operator,
    /// Operator, plus users and tokens.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Analyst, Role::Operator, Role::Admin];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected viewer, analyst, operator or admin")]
pub struct BadRole(pub String);

impl std::str::FromStr for Role {
    type Err = BadRole;

    fn from_str(s: &str) -> Result<Role, BadRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| BadRole(s.to_string()))
    }
}

/// Longest token lifetime: ten years.
const MAX_EXPIRES_US: u64 = 10 * 366 * 86_400 * 1_000_000;

/// What a token's lifetime may be, for error messages.
pub const EXPIRES_RANGE: &str = "expected a duration from 1s to ten years, such as 30m, 24h, 30d";

/// When a token created at `now` with lifetime `text` ("30d", "24h") expires, if the
/// lifetime is one ([`EXPIRES_RANGE`]); `levee tokens create --expires` and
/// `POST /api/v1/tokens` take the same.
pub fn expiry(now: u64, text: &str) -> Option<u64> {
    crate::yaml::units::Duration::parse(text)
        .filter(|&us| us > 0 && us <= MAX_EXPIRES_US)
        .map(|us| now.saturating_add(us))
}

/// The auth database beside the store at `store`: `levee.db` → `levee.auth.db`.
pub fn path_beside(store: &std::path::Path) -> std::path::PathBuf {
    let stem = store
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "levee".into());
    store.with_file_name(format!("{stem}.auth.db"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_order_and_parse() {
        assert!(Role::Viewer < Role::Analyst);
        assert!(Role::Analyst < Role::Operator);
        assert!(Role::Operator < Role::Admin);
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("root".parse::<Role>().is_err());
        assert!("Admin".parse::<Role>().is_err());
    }

    #[test]
    fn auth_db_sits_beside_the_store() {
        assert_eq!(
            path_beside(std::path::Path::new("/var/lib/levee/levee.db")),
            std::path::Path::new("/var/lib/levee/levee.auth.db")
        );
        assert_eq!(
            path_beside(std::path::Path::new("store")),
            std::path::Path::new("store.auth.db")
        );
    }
}
