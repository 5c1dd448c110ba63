//! The store: one SQLite database (WAL) under /var/lib/levee with incidents,
//! mitigations (intent, state, per-adapter results) and the hash-chained audit log
//! ([`audit`]), which also anchors every mitigation row ([`rows`]). Every engine
//! decision is written with its audit entries, so what levee announced and why
//! survives a restart or a crash.
//!
//! The daemon never touches SQLite on its async runtime: [`writer::Writer`] owns the
//! store on a thread of its own, and each batch of queued writes is one transaction
//! (one savepoint per write, so a failing write is rolled back and counted alone). A
//! route's expiry, which the engine moves forward every second while an attack goes
//! on, is coalesced: written (and audited as `extend`) at most once a minute per route,
//! and at every stop, so after a crash a restored route may expire up to a minute
//! early.
//!
//! File modes: the database (and its `-wal` and `-shm` files, which SQLite creates
//! with the database's mode) is 0600, or 0640 when the file's group is a group named
//! `levee` (levee running as the service user, whose group members may then read and
//! verify the audit log without write access). `levee audit` opens the database
//! read-only and changes nothing in it.

pub mod audit;
mod file;
mod incidents;
pub mod queries;
mod read;
pub mod rows;
pub mod traffic;
pub mod writer;

use file::{SCHEMA, add_audit_columns, add_incident_columns, has_audit_columns};
pub(crate) use file::{restrict, set_mode};
pub use incidents::{IncidentNote, MAX_NOTE};
pub use read::entry;

use crate::adapters::Outcome;
use crate::pidlock::{PidLock, PidLockError};
use audit::{Action, Actor, Entry, GENESIS, Key, Verdict};
use levee_bgp::rib::RouteText;
use levee_detect::Event;
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
    /// A stored incident series that does not parse (edited by hand).
    #[error("store: incident {incident}'s traffic series: {why}")]
    Series {
        /// The incident.
        incident: u64,
        /// What is wrong.
        why: String,
    },
    /// A stored incident's evidence that does not parse (edited by hand).
    #[error("store: incident {incident}'s evidence: {why}")]
    Evidence {
        /// The incident.
        incident: u64,
        /// What is wrong.
        why: String,
    },
    /// A note on an incident that is not stored.
    #[error("store: no incident {0}")]
    NoIncident(u64),
    /// A stored row that does not parse (edited by hand, or a newer levee's).
    #[error("store: mitigation {id}: {why}")]
    Row {
        /// Its id.
        id: u64,
        /// What is wrong.
        why: String,
    },
}

/// How long a route's expiry may wait in memory before it is written.
pub const EXTEND_EVERY_US: u64 = 60_000_000;

/// The open database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    /// The writer's lock (`<db>.lock`, flock), held while the store is open for writing;
    /// readers (`levee audit`) take none.
    _writer: Option<PidLock>,
    /// The last audit entry's (seq, hash).
    head: (u64, String),
    /// The chain's HMAC key: entries written are keyed, and verification needs it.
    key: Option<Key>,
    /// Expiries the engine moved, not yet written (mitigation id → expiry).
    extends: std::collections::BTreeMap<u64, u64>,
    /// When they were last written (µs).
    extends_written_us: u64,
    /// The audit table has the row-state columns (a database an older levee wrote and
    /// no newer writer has opened since has not: read as unkeyed, without states).
    chained: bool,
}

/// One write; a batch of them is one transaction ([`Store::write`]).
#[derive(Debug, Clone)]
pub enum Write {
    /// The engine's outputs, with their audit entries by `actor`.
    Apply {
        /// When (µs).
        now: u64,
        /// Who decided.
        actor: Actor,
        /// What.
        outputs: Vec<Output>,
    },
    /// Audit entries.
    Audit {
        /// When (µs).
        now: u64,
        /// The entries.
        notes: Vec<Note>,
    },
    /// An incident's start, end, or a change of its classification: its row and its
    /// evidence.
    Incident(Box<Event>),
    /// An operator's note on an incident, audited by its author.
    IncidentNote {
        /// When (µs).
        now: u64,
        /// The incident.
        incident: u64,
        /// Who wrote it.
        author: Actor,
        /// The note.
        text: String,
    },
    /// What an adapter did with a mitigation.
    AdapterResult {
        /// When (µs).
        now: u64,
        /// The mitigation.
        id: u64,
        /// The adapter.
        adapter: String,
        /// What it did.
        state: Outcome,
        /// Its error.
        error: Option<String>,
    },
    /// Traffic history: minute rows to add, and the minutes before `prune_before_s`
    /// (Unix seconds) to delete.
    Traffic {
        /// The rows.
        minutes: Vec<traffic::MinuteRow>,
        /// Retention: delete what is older.
        prune_before_s: Option<u64>,
    },
    /// An incident's traffic series (replacing the one stored), at `now` (µs).
    Series {
        /// When (µs).
        now: u64,
        /// The series.
        series: Box<traffic::SeriesRow>,
    },
    /// Time passes: the coalesced expiries are written when they are due.
    Tick {
        /// Now (µs).
        now: u64,
    },
    /// Write the coalesced expiries now (a stop).
    Flush {
        /// Now (µs).
        now: u64,
    },
}

/// The chain's head: entries so far and the last one's hash.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Anchor {
    /// Entries in the chain.
    pub entries: u64,
    /// The last entry's hash.
    pub head: String,
    /// Entries are written with the HMAC key.
    pub keyed: bool,
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
        Store::open_keyed(path, None)
    }

    /// [`Store::open`], writing entries keyed with `key`.
    pub fn open_keyed(path: &Path, key: Option<Key>) -> Result<Store, StoreError> {
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
        // The store is levee's alone (see the module overview): created with that mode
        // before SQLite opens it, and files left by an older levee set to it.
        let mode = restrict(path).map_err(|e| unwritable(Box::new(e)))?;
        let conn = Connection::open(path).map_err(|e| unwritable(Box::new(e)))?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            set_mode(Path::new(&side), mode).map_err(|e| unwritable(Box::new(e)))?;
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
        conn.execute_batch(traffic::SCHEMA)?;
        add_incident_columns(&conn)?;
        traffic::add_traffic_columns(&conn)?;
        let migrated = add_audit_columns(&conn)?;
        let mut st = Store::with(conn, Some(writer))?;
        st.key = key;
        if migrated {
            st.adopt_rows(crate::clock::now_us())?;
        }
        Ok(st)
    }

    /// The chain's key (for verifying; a writer is opened with its key).
    pub fn with_key(mut self, key: Option<Key>) -> Store {
        self.key = key;
        self
    }

    /// The chain's head.
    pub fn anchor(&self) -> Anchor {
        Anchor {
            entries: self.head.0,
            head: self.head.1.clone(),
            keyed: self.key.is_some(),
        }
    }

    /// A database from before rows were chained (its audit table has just been given
    /// the row-state columns): its rows are taken in, one `adopt` entry each, once, and
    /// only onto an intact chain. Never otherwise: a row with no entry in a chained
    /// database was inserted by hand, and `verify` says so (an audit log wiped beside
    /// forged rows must not make them legitimate).
    fn adopt_rows(&mut self, now: u64) -> Result<(), StoreError> {
        if !matches!(self.verify_chain()?, Verdict::Intact { .. }) {
            return Ok(());
        }
        let ids: Vec<i64> = {
            let mut q = self
                .conn
                .prepare("SELECT id FROM mitigations ORDER BY id")?;
            q.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
        };
        if ids.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        let mut head = self.head.clone();
        for id in ids {
            let note = Note::new(
                Actor::Levee,
                Action::Adopt,
                id,
                "row written before rows were chained",
            );
            Self::append_row(&tx, &mut head, self.key.as_ref(), now, &note, id as u64)?;
        }
        tx.commit()?;
        self.head = head;
        Ok(())
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
            _writer: writer,
            head,
            key: None,
            extends: std::collections::BTreeMap::new(),
            extends_written_us: crate::clock::now_us(),
            chained: has_audit_columns(&conn)?,
            conn,
        })
    }

    /// The id to hand out after every stored mitigation.
    pub fn next_id(&self) -> Result<u64, StoreError> {
        let max: Option<i64> = self
            .conn
            .query_row("SELECT MAX(id) FROM mitigations", [], |r| r.get(0))?;
        Ok(max.map_or(1, |m| m as u64 + 1))
    }

    /// Appends one entry (with the row state `state`, or none) under `head`.
    fn append_with(
        tx: &Connection,
        head: &mut (u64, String),
        key: Option<&Key>,
        now: u64,
        n: &Note,
        state: String,
    ) -> Result<(), StoreError> {
        let e = Entry {
            seq: head.0 + 1,
            time_us: now,
            actor: n.actor.as_str().to_string(),
            action: n.action.as_str().to_string(),
            subject: n.subject.clone(),
            detail: n.detail.clone(),
            state,
            keyed: key.is_some(),
        };
        let hash = e.hash(&head.1, key).unwrap_or_default();
        tx.execute(
            "INSERT INTO audit (seq, time_us, actor, action, subject, detail, prev, hash, state,
                                keyed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                e.seq as i64,
                now as i64,
                e.actor,
                e.action,
                e.subject,
                e.detail,
                head.1,
                hash,
                e.state,
                e.keyed
            ],
        )?;
        *head = (e.seq, hash);
        Ok(())
    }

    /// Appends an entry that changes no mitigation row.
    fn append(
        tx: &Connection,
        head: &mut (u64, String),
        key: Option<&Key>,
        now: u64,
        n: &Note,
    ) -> Result<(), StoreError> {
        Self::append_with(tx, head, key, now, n, String::new())
    }

    /// Appends the entry of a change to mitigation `id`'s row, with the row's state.
    fn append_row(
        tx: &Connection,
        head: &mut (u64, String),
        key: Option<&Key>,
        now: u64,
        n: &Note,
        id: u64,
    ) -> Result<(), StoreError> {
        let state = rows::digest(tx, id)?.unwrap_or_default();
        Self::append_with(tx, head, key, now, n, state)
    }

    /// Writes a batch in one transaction, each write in a savepoint of its own: a
    /// failing write is rolled back alone. Returns each failure.
    pub fn write(&mut self, batch: &[Write]) -> Vec<StoreError> {
        let mut errors = Vec::new();
        let mut head = self.head.clone();
        let result = (|| -> Result<(), StoreError> {
            let mut tx = self.conn.transaction()?;
            for w in batch {
                let sp = tx.savepoint()?;
                let before = head.clone();
                let done = Self::write_one(
                    &sp,
                    &mut head,
                    self.key.as_ref(),
                    &mut self.extends,
                    &mut self.extends_written_us,
                    w,
                )
                .and_then(|()| Ok(sp.commit()?));
                if let Err(e) = done {
                    head = before;
                    errors.push(e);
                }
            }
            tx.commit()?;
            Ok(())
        })();
        match result {
            Ok(()) => self.head = head,
            Err(e) => errors.push(e),
        }
        errors
    }

    fn write_one(
        tx: &Connection,
        head: &mut (u64, String),
        key: Option<&Key>,
        extends: &mut std::collections::BTreeMap<u64, u64>,
        written_us: &mut u64,
        w: &Write,
    ) -> Result<(), StoreError> {
        match w {
            Write::Apply {
                now,
                actor,
                outputs,
            } => {
                for o in outputs {
                    match o {
                        Output::Extend { id, expires_us } => {
                            let e = extends.entry(*id).or_insert(0);
                            *e = (*e).max(*expires_us);
                        }
                        Output::Announce(m) | Output::Withdraw(m, _) | Output::Holders(m) => {
                            extends.remove(&m.id);
                        }
                        _ => {}
                    }
                    if let Some((note, row)) = Self::write_output(tx, *now, actor.clone(), o)? {
                        match row {
                            Some(id) => Self::append_row(tx, head, key, *now, &note, id)?,
                            None => Self::append(tx, head, key, *now, &note)?,
                        }
                    }
                }
            }
            Write::Audit { now, notes } => {
                for n in notes {
                    Self::append(tx, head, key, *now, n)?;
                }
            }
            Write::Incident(e) => incidents::write_incident(tx, e)?,
            Write::IncidentNote {
                now,
                incident,
                author,
                text,
            } => {
                let note = incidents::write_note(tx, *now, *incident, author, text)?;
                Self::append(tx, head, key, *now, &note)?;
            }
            Write::AdapterResult {
                now,
                id,
                adapter,
                state,
                error,
            } => {
                tx.execute(
                    "INSERT INTO adapter_results (mitigation, adapter, state, attempts, error,
                                                  updated_us)
                     VALUES (?1, ?2, ?3, 1, ?4, ?5)
                     ON CONFLICT(mitigation, adapter) DO UPDATE SET state = ?3,
                        attempts = attempts + 1, error = ?4, updated_us = ?5",
                    params![*id as i64, adapter, state.as_str(), error, *now as i64],
                )?;
            }
            Write::Traffic {
                minutes,
                prune_before_s,
            } => {
                traffic::write_minutes(tx, minutes)?;
                if let Some(before) = prune_before_s {
                    traffic::prune(tx, *before)?;
                }
            }
            Write::Series { now, series } => traffic::write_series(tx, series, *now)?,
            Write::Tick { now } if now.saturating_sub(*written_us) < EXTEND_EVERY_US => {}
            Write::Tick { now } | Write::Flush { now } => {
                Self::write_extends(tx, head, key, *now, extends)?;
                *written_us = *now;
            }
        }
        Ok(())
    }

    /// Writes the coalesced expiries of routes still active, one `extend` entry each.
    fn write_extends(
        tx: &Connection,
        head: &mut (u64, String),
        key: Option<&Key>,
        now: u64,
        extends: &mut std::collections::BTreeMap<u64, u64>,
    ) -> Result<(), StoreError> {
        for (id, expires_us) in std::mem::take(extends) {
            let changed = tx.execute(
                "UPDATE mitigations SET expires_us = ?2
                 WHERE id = ?1 AND state = 'active' AND expires_us < ?2",
                params![id as i64, expires_us as i64],
            )?;
            if changed == 1 {
                let detail = format!("until {}", crate::clock::rfc3339(expires_us));
                let note = Note::new(Actor::Detector, Action::Extend, id, detail);
                Self::append_row(tx, head, key, now, &note, id)?;
            }
        }
        Ok(())
    }

    /// Appends audit entries in one transaction.
    pub fn audit(&mut self, now: u64, notes: &[Note]) -> Result<(), StoreError> {
        self.one(Write::Audit {
            now,
            notes: notes.to_vec(),
        })
    }

    /// One write as its own transaction: its error, if it failed.
    fn one(&mut self, w: Write) -> Result<(), StoreError> {
        match self.write(&[w]).into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Records an incident's start or end.
    pub fn incident(&mut self, e: &Event) -> Result<(), StoreError> {
        self.one(Write::Incident(Box::new(e.clone())))
    }

    /// Writes the engine's outputs and their audit entries (by `actor`) in one
    /// transaction. Expiries are coalesced (see the module overview).
    pub fn apply(&mut self, now: u64, actor: Actor, outputs: &[Output]) -> Result<(), StoreError> {
        self.one(Write::Apply {
            now,
            actor,
            outputs: outputs.to_vec(),
        })
    }

    /// Writes the coalesced expiries now.
    pub fn flush(&mut self, now: u64) -> Result<(), StoreError> {
        self.one(Write::Flush { now })
    }

    /// Writes one output's change to the mitigations table; returns its audit note, if
    /// it gets one, with the mitigation whose row it changed.
    fn write_output(
        tx: &Connection,
        now: u64,
        actor: Actor,
        o: &Output,
    ) -> Result<Option<(Note, Option<u64>)>, StoreError> {
        Ok(match o {
            Output::Announce(m) => {
                Self::upsert(tx, m)?;
                let action = if m.dry_run {
                    Action::AnnounceDryRun
                } else {
                    Action::Announce
                };
                Some((Note::new(actor, action, m.id, &m.route), Some(m.id)))
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
                Some((Note::new(actor, action, m.id, detail), Some(m.id)))
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
                Some((Note::new(actor, action, m.id, detail), Some(m.id)))
            }
            Output::Holders(m) => {
                tx.execute(
                    "UPDATE mitigations SET holders = ?2, expires_us = ?3 WHERE id = ?1",
                    params![m.id as i64, holders_json(&m.holders), m.expires_us as i64],
                )?;
                let detail = format!("{} (held by {})", m.route, holders_json(&m.holders));
                Some((Note::new(actor, Action::Hold, m.id, detail), Some(m.id)))
            }
            // Coalesced by the caller.
            Output::Extend { .. } => None,
            Output::Level {
                victim,
                network,
                incident,
                from,
                to,
            } => {
                let from = from.map_or("none".to_string(), |l| l.to_string());
                let detail = format!("{from} -> {to} in {network}, incident {incident}");
                Some((Note::new(actor, Action::Level, victim, detail), None))
            }
            Output::Skip {
                victim,
                incident,
                reason,
            } => {
                let detail = format!("incident {incident}: {reason}");
                Some((Note::new(actor, Action::Refuse, victim, detail), None))
            }
            // Logged by the service; not a decision.
            Output::GateWarning { .. } => None,
        })
    }

    /// Inserts an announced mitigation, or updates its route, holders and expiry.
    fn upsert(tx: &Connection, m: &Mitigation) -> Result<(), StoreError> {
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
        self.one(Write::AdapterResult {
            now,
            id,
            adapter: adapter.to_string(),
            state,
            error: error.map(str::to_string),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
