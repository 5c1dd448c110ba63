//! Incidents in the store: the summary row of each (written at its start and end, and
//! when its classification changes), its evidence as JSON (see
//! [`crate::detection::events::evidence`]), and the notes operators add to it, each
//! audited by its author.

use super::audit::{Action, Actor};
use super::file::has_column;
use super::{Note, Store, StoreError};
use levee_detect::{Event, EventKind, Victim};
use rusqlite::{Connection, OptionalExtension, params};

/// Longest note, in bytes.
pub const MAX_NOTE: usize = 4096;

/// A note on an incident.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IncidentNote {
    /// When it was written (µs).
    pub time_us: u64,
    /// Who wrote it (`user:<name>`, `token:<name>`).
    pub author: String,
    /// The note.
    pub text: String,
}

/// Writes an incident's row and evidence (inserted at its start, updated after).
pub(super) fn write_incident(tx: &Connection, e: &Event) -> Result<(), StoreError> {
    let victim = match &e.victim {
        Victim::Host(ip) => ip.to_string(),
        Victim::Network(n) => n.clone(),
    };
    let evidence = crate::detection::events::evidence(e).to_string();
    tx.execute(
        "INSERT INTO incidents (id, victim, network, family, vector, start_us, end_us,
                                peak_pps, peak_bps, confidence, evidence)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT(id) DO UPDATE SET family = ?4, vector = ?5, end_us = ?7,
            peak_pps = ?8, peak_bps = ?9, confidence = ?10, evidence = ?11",
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
            evidence,
        ],
    )?;
    Ok(())
}

/// Stores a note on `incident` (which must exist) and returns its audit entry.
pub(super) fn write_note(
    tx: &Connection,
    now: u64,
    incident: u64,
    author: &Actor,
    text: &str,
) -> Result<Note, StoreError> {
    let n = tx.execute(
        "INSERT INTO notes (incident, time_us, author, text)
         SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM incidents WHERE id = ?1)",
        params![int(incident), int(now), author.as_str(), text],
    )?;
    if n == 0 {
        return Err(StoreError::NoIncident(incident));
    }
    Ok(Note::new(author.clone(), Action::Note, incident, text))
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Store {
    /// An incident's stored evidence (JSON), if it has any (incidents stored by an
    /// older levee have none).
    pub fn incident_evidence(&self, id: u64) -> Result<Option<serde_json::Value>, StoreError> {
        if !has_column(&self.conn, "incidents", "evidence")? {
            return Ok(None);
        }
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT evidence FROM incidents WHERE id = ?1",
                [int(id)],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| StoreError::Evidence {
                incident: id,
                why: e.to_string(),
            })
        })
        .transpose()
    }

    /// The notes on an incident, oldest first.
    pub fn incident_notes(&self, id: u64) -> Result<Vec<IncidentNote>, StoreError> {
        if !super::traffic::has_table(&self.conn, "notes")? {
            return Ok(Vec::new());
        }
        let mut q = self
            .conn
            .prepare("SELECT time_us, author, text FROM notes WHERE incident = ?1 ORDER BY id")?;
        let rows = q.query_map([int(id)], |r| {
            Ok(IncidentNote {
                time_us: r.get::<_, i64>(0)? as u64,
                author: r.get(1)?,
                text: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whether incident `id` is stored.
    pub fn has_incident(&self, id: u64) -> Result<bool, StoreError> {
        let mut q = self.conn.prepare("SELECT 1 FROM incidents WHERE id = ?1")?;
        Ok(q.exists([int(id)])?)
    }
}
