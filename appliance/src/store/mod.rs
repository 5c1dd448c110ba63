//! The store: one SQLite database (WAL) under /var/lib/levee with incidents,
//! mitigations (intent, state, per-adapter results) and the hash-chained audit log
//! ([`audit`]). Every engine decision is written in one transaction with its audit
//! entries, so what levee announced and why survives a restart or a crash.

pub mod audit;

use crate::adapters::Outcome;
use crate::pidlock::{PidLock, PidLockError};
use audit::{Action, Actor, Entry, GENESIS, Verdict};
use levee_bgp::rib::RouteText;
use levee_detect::{Event, EventKind, Victim};
use levee_mitigate::{Holder, Level, Mitigation, Origin, Output, Target};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A store error: the file and what went wrong.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The directory could not be created.
    #[error("store {path}: cannot create its directory: {source}")]
    Dir {
        /// The database path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another process holds the store open for writing.
    #[error(
        "store {path}: another levee process (PID {pid}) has it open for writing; \
         stop it first, or give this one its own store.path"
    )]
    Locked {
        /// The database path.
        path: PathBuf,
        /// The PID the writer recorded, or "unknown".
        pid: String,
    },
    /// The database (or its writer lock) cannot be opened or written.
    #[error(
        "store {path}: cannot open it for writing ({source}): run levee as root, or as \
         the user that owns {dir}"
    )]
    Open {
        /// The database path.
        path: PathBuf,
        /// Its directory.
        dir: String,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// SQLite failed.
    #[error("store: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A stored row that does not parse (edited by hand, or a newer levee's).
    #[error("store: mitigation {id}: {why}")]
    Row {
        /// Its id.
        id: u64,
        /// What is wrong.
        why: String,
    },
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY,
    victim TEXT NOT NULL,
    network TEXT NOT NULL,
    family TEXT NOT NULL,
    vector TEXT NOT NULL,
    start_us INTEGER NOT NULL,
    end_us INTEGER,
    peak_pps INTEGER NOT NULL,
    peak_bps INTEGER NOT NULL,
    confidence INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS mitigations (
    id INTEGER PRIMARY KEY,
    route TEXT NOT NULL,
    victim TEXT NOT NULL,
    network TEXT NOT NULL,
    level INTEGER,
    origin TEXT NOT NULL,
    incident INTEGER,
    holders TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    expires_us INTEGER NOT NULL,
    dry_run INTEGER NOT NULL,
    state TEXT NOT NULL,
    withdrawn_us INTEGER,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS mitigations_state ON mitigations(state);
CREATE TABLE IF NOT EXISTS adapter_results (
    mitigation INTEGER NOT NULL,
    adapter TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (mitigation, adapter)
);
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

/// The open database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    /// The writer's lock (`<db>.lock`, flock), held while the store is open for writing;
    /// readers (`levee audit`) take none.
    _writer: Option<PidLock>,
    /// The last audit entry's (seq, hash).
    head: (u64, String),
}

/// One adapter's result for a mitigation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AdapterResult {
    /// The adapter.
    pub adapter: String,
    /// What it last did.
    pub state: Outcome,
    /// Reports so far.
    pub attempts: u64,
    /// The last failure.
    pub error: Option<String>,
}

/// An audit entry to append (the store numbers and chains it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Who.
    pub actor: Actor,
    /// What.
    pub action: Action,
    /// On what.
    pub subject: String,
    /// Details.
    pub detail: String,
}

impl Note {
    /// A note.
    pub fn new(
        actor: Actor,
        action: Action,
        subject: impl ToString,
        detail: impl ToString,
    ) -> Note {
        Note {
            actor,
            action,
            subject: subject.to_string(),
            detail: detail.to_string(),
        }
    }
}

fn holders_json(h: &BTreeSet<Holder>) -> String {
    let v: Vec<String> = h
        .iter()
        .map(|h| match h {
            Holder::Manual => "manual".to_string(),
            Holder::Auto(Target::Host(ip)) => format!("host:{ip}"),
            Holder::Auto(Target::Network(n, _)) => format!("network:{n}"),
        })
        .collect();
    serde_json::to_string(&v).unwrap_or_else(|_| "[]".into())
}

impl Store {
    /// Opens (creating) the database at `path` in WAL mode, as its only writer: a
    /// second writer (another levee on the same file) is refused with the first one's
    /// PID.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
            path: path.to_path_buf(),
            source,
        })?;
        let unwritable = |source: Box<dyn std::error::Error + Send + Sync>| StoreError::Open {
            path: path.to_path_buf(),
            dir: dir.display().to_string(),
            source,
        };
        let mut lock = path.as_os_str().to_owned();
        lock.push(".lock");
        let writer = PidLock::acquire(Path::new(&lock)).map_err(|e| match e {
            PidLockError::Held { pid, .. } => StoreError::Locked {
                path: path.to_path_buf(),
                pid,
            },
            PidLockError::Io { source, .. } => unwritable(Box::new(source)),
        })?;
        let conn = Connection::open(path).map_err(|e| unwritable(Box::new(e)))?;
        // The store is levee's alone: 0600 (SQLite gives its WAL and shared-memory
        // files the database's mode).
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| unwritable(Box::new(e)))?;
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen) => {
                    unwritable(Box::new(e))
                }
                _ => StoreError::Sql(e),
            })?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Store::with(conn, Some(writer))
    }

    /// Opens an existing database read-only, beside a running writer (`levee audit`).
    pub fn open_read(path: &Path) -> Result<Store, StoreError> {
        use rusqlite::OpenFlags;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Store::with(conn, None)
    }

    fn with(conn: Connection, writer: Option<PidLock>) -> Result<Store, StoreError> {
        let head = conn
            .query_row(
                "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?)),
            )
            .optional()?
            .unwrap_or((0, GENESIS.to_string()));
        Ok(Store {
            conn,
            _writer: writer,
            head,
        })
    }

    /// The id to hand out after every stored mitigation.
    pub fn next_id(&self) -> Result<u64, StoreError> {
        let max: Option<i64> = self
            .conn
            .query_row("SELECT MAX(id) FROM mitigations", [], |r| r.get(0))?;
        Ok(max.map_or(1, |m| m as u64 + 1))
    }

    fn append(
        tx: &rusqlite::Transaction<'_>,
        head: &mut (u64, String),
        now: u64,
        n: &Note,
    ) -> Result<(), StoreError> {
        let e = Entry {
            seq: head.0 + 1,
            time_us: now,
            actor: n.actor.as_str().to_string(),
            action: n.action.as_str().to_string(),
            subject: n.subject.clone(),
            detail: n.detail.clone(),
        };
        let hash = e.hash(&head.1);
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
                head.1,
                hash
            ],
        )?;
        *head = (e.seq, hash);
        Ok(())
    }

    /// Appends audit entries in one transaction.
    pub fn audit(&mut self, now: u64, notes: &[Note]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let mut head = self.head.clone();
        for n in notes {
            Self::append(&tx, &mut head, now, n)?;
        }
        tx.commit()?;
        self.head = head;
        Ok(())
    }

    /// Records an incident's start or end.
    pub fn incident(&mut self, e: &Event) -> Result<(), StoreError> {
        let victim = match &e.victim {
            Victim::Host(ip) => ip.to_string(),
            Victim::Network(n) => n.clone(),
        };
        self.conn.execute(
            "INSERT INTO incidents (id, victim, network, family, vector, start_us, end_us,
                                    peak_pps, peak_bps, confidence)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT(id) DO UPDATE SET family = ?4, vector = ?5, end_us = ?7,
                peak_pps = ?8, peak_bps = ?9, confidence = ?10",
            params![
                e.id as i64,
                victim,
                e.network,
                e.family.as_str(),
                e.vector,
                e.start_us as i64,
                (e.kind == EventKind::End).then_some(e.time_us as i64),
                e.peak.pps as i64,
                e.peak.bps as i64,
                e.confidence,
            ],
        )?;
        Ok(())
    }

    /// Writes the engine's outputs and their audit entries (by `actor`) in one
    /// transaction.
    pub fn apply(&mut self, now: u64, actor: Actor, outputs: &[Output]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let mut head = self.head.clone();
        for o in outputs {
            if let Some(note) = Self::write_output(&tx, now, actor, o)? {
                Self::append(&tx, &mut head, now, &note)?;
            }
        }
        tx.commit()?;
        self.head = head;
        Ok(())
    }

    /// Writes one output's change to the mitigations table; returns its audit note, if
    /// it gets one.
    fn write_output(
        tx: &rusqlite::Transaction<'_>,
        now: u64,
        actor: Actor,
        o: &Output,
    ) -> Result<Option<Note>, StoreError> {
        Ok(match o {
            Output::Announce(m) => {
                Self::upsert(tx, m)?;
                let action = if m.dry_run {
                    Action::AnnounceDryRun
                } else {
                    Action::Announce
                };
                Some(Note::new(actor, action, m.id, &m.route))
            }
            Output::Withdraw(m, reason) => {
                tx.execute(
                    "UPDATE mitigations SET state = 'withdrawn', withdrawn_us = ?2, reason = ?3
                     WHERE id = ?1",
                    params![m.id as i64, now as i64, reason.as_str()],
                )?;
                let action = if m.dry_run {
                    Action::WithdrawDryRun
                } else {
                    Action::Withdraw
                };
                let detail = format!("{} ({})", m.route, reason.as_str());
                Some(Note::new(actor, action, m.id, detail))
            }
            Output::DryRun(m) => {
                tx.execute(
                    "UPDATE mitigations SET dry_run = ?2 WHERE id = ?1",
                    params![m.id as i64, m.dry_run],
                )?;
                let (action, detail) = if m.dry_run {
                    (
                        Action::Withdraw,
                        format!("{} (dry run on: kept recorded)", m.route),
                    )
                } else {
                    (Action::Announce, format!("{} (dry run off)", m.route))
                };
                Some(Note::new(actor, action, m.id, detail))
            }
            Output::Extend { id, expires_us } => {
                tx.execute(
                    "UPDATE mitigations SET expires_us = ?2 WHERE id = ?1",
                    params![*id as i64, *expires_us as i64],
                )?;
                None
            }
            Output::Level {
                victim,
                network,
                incident,
                from,
                to,
            } => {
                let from = from.map_or("none".to_string(), |l| l.to_string());
                let detail = format!("{from} -> {to} in {network}, incident {incident}");
                Some(Note::new(actor, Action::Level, victim, detail))
            }
            Output::Skip {
                victim,
                incident,
                reason,
            } => {
                let detail = format!("incident {incident}: {reason}");
                Some(Note::new(actor, Action::Refuse, victim, detail))
            }
            // Logged by the service; not a decision.
            Output::GateWarning { .. } => None,
        })
    }

    /// Inserts an announced mitigation, or updates its route, holders and expiry.
    fn upsert(tx: &rusqlite::Transaction<'_>, m: &Mitigation) -> Result<(), StoreError> {
        tx.execute(
            "INSERT INTO mitigations (id, route, victim, network, level, origin, incident,
                                      holders, created_us, expires_us, dry_run, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'active')
             ON CONFLICT(id) DO UPDATE SET route = ?2, holders = ?8, expires_us = ?10",
            params![
                m.id as i64,
                m.route.to_string(),
                m.victim,
                m.network,
                m.level.map(Level::number),
                m.origin.as_str(),
                m.incident.map(|i| i as i64),
                holders_json(&m.holders),
                m.created_us as i64,
                m.expires_us as i64,
                m.dry_run,
            ],
        )?;
        Ok(())
    }

    /// Records what an adapter did with a mitigation.
    pub fn adapter_result(
        &mut self,
        now: u64,
        id: u64,
        adapter: &str,
        state: Outcome,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO adapter_results (mitigation, adapter, state, attempts, error, updated_us)
             VALUES (?1, ?2, ?3, 1, ?4, ?5)
             ON CONFLICT(mitigation, adapter) DO UPDATE SET state = ?3, attempts = attempts + 1,
                error = ?4, updated_us = ?5",
            params![id as i64, adapter, state.as_str(), error, now as i64],
        )?;
        Ok(())
    }

    /// What each adapter did with a mitigation.
    pub fn adapter_results(&self, id: u64) -> Result<Vec<AdapterResult>, StoreError> {
        let mut q = self.conn.prepare(
            "SELECT adapter, state, attempts, error FROM adapter_results
             WHERE mitigation = ?1 ORDER BY adapter",
        )?;
        let rows = q.query_map([id as i64], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)? as u64,
                r.get::<_, Option<String>>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (adapter, state, attempts, error) = row?;
            let state = Outcome::parse(&state).ok_or_else(|| StoreError::Row {
                id,
                why: format!("adapter {adapter}: unknown state {state:?}"),
            })?;
            out.push(AdapterResult {
                adapter,
                state,
                attempts,
                error,
            });
        }
        Ok(out)
    }

    /// Routes `adapter` was given and whose withdrawal it never confirmed: those of
    /// active mitigations, and of ended ones whose withdrawal failed or was cut short
    /// by a stop. They may still be there.
    pub fn held(&self, adapter: &str) -> Result<Vec<(u64, RouteText)>, StoreError> {
        let mut q = self.conn.prepare(
            "SELECT m.id, m.route FROM mitigations m
               JOIN adapter_results r ON r.mitigation = m.id
             WHERE r.adapter = ?1 AND r.state <> 'withdrawn'
             ORDER BY m.id",
        )?;
        let rows = q.query_map([adapter], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, route) = row?;
            let route = route.parse().map_err(|e| StoreError::Row {
                id,
                why: format!("route: {e}"),
            })?;
            out.push((id, route));
        }
        Ok(out)
    }

    /// The mitigations that were active at the last stop. `prefixes_of` gives a
    /// network's prefixes (for network-wide targets).
    pub fn active(
        &self,
        prefixes_of: impl Fn(&str) -> Vec<ipnet::IpNet>,
    ) -> Result<Vec<Mitigation>, StoreError> {
        let mut q = self.conn.prepare(
            "SELECT id, route, victim, network, level, origin, incident, holders, created_us,
                    expires_us, dry_run
             FROM mitigations WHERE state = 'active' ORDER BY id",
        )?;
        let rows = q.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)? as u64,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<u8>>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, Option<i64>>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, i64>(8)? as u64,
                r.get::<_, i64>(9)? as u64,
                r.get::<_, bool>(10)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (
                id,
                route,
                victim,
                network,
                level,
                origin,
                incident,
                holders,
                created,
                expires,
                dry,
            ) = row?;
            let bad = |why: String| StoreError::Row { id, why };
            let route: RouteText = route.parse().map_err(|e| bad(format!("route: {e}")))?;
            let names: Vec<String> =
                serde_json::from_str(&holders).map_err(|e| bad(format!("holders: {e}")))?;
            let mut hs = BTreeSet::new();
            for h in names {
                hs.insert(match h.split_once(':') {
                    None if h == "manual" => Holder::Manual,
                    Some(("host", ip)) => Holder::Auto(Target::Host(
                        ip.parse().map_err(|_| bad(format!("holder {h:?}")))?,
                    )),
                    Some(("network", n)) => Holder::Auto(Target::Network(n.into(), prefixes_of(n))),
                    _ => return Err(bad(format!("holder {h:?}"))),
                });
            }
            out.push(Mitigation {
                id,
                route,
                victim,
                network,
                level: level.and_then(Level::from_number),
                origin: if origin == "manual" {
                    Origin::Manual
                } else {
                    Origin::Auto
                },
                incident: incident.map(|i| i as u64),
                created_us: created,
                expires_us: expires,
                dry_run: dry,
                holders: hs,
            });
        }
        Ok(out)
    }

    /// The last `n` audit entries, oldest first.
    pub fn audit_tail(&self, n: u64) -> Result<Vec<Entry>, StoreError> {
        let mut q = self.conn.prepare(
            "SELECT seq, time_us, actor, action, subject, detail FROM
               (SELECT * FROM audit ORDER BY seq DESC LIMIT ?1) ORDER BY seq",
        )?;
        let rows = q.query_map([n as i64], entry)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Walks the audit chain.
    pub fn verify(&self) -> Result<Verdict, StoreError> {
        let mut q = self.conn.prepare(
            "SELECT seq, time_us, actor, action, subject, detail, prev, hash FROM audit ORDER BY seq",
        )?;
        let rows = q.query_map([], |r| {
            Ok((entry(r)?, r.get::<_, String>(6)?, r.get::<_, String>(7)?))
        })?;
        let rows: Vec<_> = rows.collect::<Result<_, _>>()?;
        Ok(audit::verify(rows))
    }
}

/// An audit entry from the first six columns of a row.
fn entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        seq: r.get::<_, i64>(0)? as u64,
        time_us: r.get::<_, i64>(1)? as u64,
        actor: r.get(2)?,
        action: r.get(3)?,
        subject: r.get(4)?,
        detail: r.get(5)?,
    })
}

#[cfg(test)]
mod tests;
