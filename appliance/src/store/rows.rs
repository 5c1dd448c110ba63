//! Mitigation rows inside the audit chain: a row's state is SHA-256 over every column
//! of the row (each value tagged with its SQLite type and length-prefixed), recorded
//! in the audit entry that left the row so ([`super::audit`]). [`check`] recomputes
//! every row and compares it with the last recorded state of its mitigation.

use crate::human::hex;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Every column of `mitigations`, in the order hashed.
const COLUMNS: &str = "id, route, victim, network, level, origin, incident, holders, \
                       created_us, expires_us, dry_run, state, withdrawn_us, reason";
/// How many.
const NCOLUMNS: usize = 14;

/// The state of one row.
fn state(r: &rusqlite::Row<'_>) -> rusqlite::Result<String> {
    let mut h = Sha256::new();
    for i in 0..NCOLUMNS {
        let (tag, bytes): (u8, Vec<u8>) = match r.get_ref(i)? {
            ValueRef::Null => (0, Vec::new()),
            ValueRef::Integer(n) => (1, n.to_be_bytes().to_vec()),
            ValueRef::Real(x) => (2, x.to_bits().to_be_bytes().to_vec()),
            ValueRef::Text(t) => (3, t.to_vec()),
            ValueRef::Blob(b) => (4, b.to_vec()),
        };
        h.update([tag]);
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(&bytes);
    }
    Ok(hex(&h.finalize()))
}

/// The state of mitigation `id`'s row; `None` without one.
pub fn digest(conn: &Connection, id: u64) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM mitigations WHERE id = ?1"),
        [id as i64],
        state,
    )
    .optional()
}

/// Compares every row with the state the last entry about its mitigation recorded:
/// the first mitigation that differs (a row edited, inserted or deleted), and how.
pub fn check(conn: &Connection) -> Result<Option<(u64, String)>, rusqlite::Error> {
    let mut recorded: HashMap<String, (String, u64)> = HashMap::new();
    {
        let mut q =
            conn.prepare("SELECT subject, state, seq FROM audit WHERE state <> '' ORDER BY seq")?;
        let rows = q.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (subject, st, seq) = row?;
            recorded.insert(subject, (st, seq as u64));
        }
    }
    let mut q = conn.prepare(&format!("SELECT {COLUMNS} FROM mitigations ORDER BY id"))?;
    let rows = q.query_map([], |r| Ok((r.get::<_, i64>(0)?, state(r)?)))?;
    for row in rows {
        let (id, st) = row?;
        match recorded.remove(&id.to_string()) {
            None => {
                return Ok(Some((
                    id as u64,
                    "its row is in no audit entry (inserted by hand?)".into(),
                )));
            }
            Some((want, seq)) if want != st => {
                return Ok(Some((
                    id as u64,
                    format!("its row is not the state entry {seq} recorded (edited by hand?)"),
                )));
            }
            Some(_) => {}
        }
    }
    let gone = recorded.into_iter().min_by_key(|(_, (_, seq))| *seq);
    Ok(gone.map(|(subject, (_, seq))| {
        (
            subject.parse().unwrap_or(0),
            format!("entry {seq} recorded its row, which is gone (deleted by hand?)"),
        )
    }))
}
