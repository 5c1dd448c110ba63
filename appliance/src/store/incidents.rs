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

#[cfg(test)]
mod tests {
    use super::super::Write;
    use super::super::tests::TempDir;
    use super::*;
    use levee_detect::classify::Family;
    use levee_detect::policy::{Current, Metric, Reason, Trigger};

    fn event(id: u64, kind: EventKind) -> Event {
        let ip = |k: u8| std::net::IpAddr::from([198, 51, 100, k]);
        Event {
            kind,
            id,
            time_us: 2_000_000,
            start_us: 1_000_000,
            victim: Victim::Host(ip(200)),
            network: "web".into(),
            family: Family::UdpFlood,
            vector: "udp/53".into(),
            confidence: 80,
            trigger: Trigger {
                reason: Reason::Baseline,
                metric: Metric::Bps,
                value: 9_000,
                threshold: 1_000,
            },
            rate: Current::default(),
            peak: Current {
                pps: 5,
                bps: 9_000,
                flows: 1,
            },
            distinct_sources: 40,
            botnet: false,
            spoofed: true,
            top_sources: (0..40).map(|k| (ip(k), 0.025)).collect(),
            top_src_ports: vec![(53, 1.0)],
            top_dst_ports: vec![(80, 1.0)],
            top_packet_lengths: vec![(1500, 1.0)],
            threat_intel: Vec::new(),
            threat_intel_packets: 0,
        }
    }

    /// A store from before evidence gets the column at open (its incidents have none);
    /// evidence is written with the row and capped; notes need a stored incident and
    /// are audited by their author.
    #[test]
    fn evidence_migrates_is_capped_and_notes_are_audited() {
        let dir = TempDir::new("evidence");
        let path = dir.0.join("levee.db");
        {
            let old = Connection::open(&path).unwrap();
            old.execute_batch(
                "CREATE TABLE incidents (id INTEGER PRIMARY KEY, victim TEXT NOT NULL,
                    network TEXT NOT NULL, family TEXT NOT NULL, vector TEXT NOT NULL,
                    start_us INTEGER NOT NULL, end_us INTEGER, peak_pps INTEGER NOT NULL,
                    peak_bps INTEGER NOT NULL, confidence INTEGER NOT NULL);
                 INSERT INTO incidents VALUES (1, '192.0.2.1', 'web', 'udp_flood', 'udp/53',
                    1, 2, 3, 4, 50);",
            )
            .unwrap();
        }
        let mut st = Store::open(&path).unwrap();
        assert!(has_column(&st.conn, "incidents", "evidence").unwrap());
        assert_eq!(st.incident_evidence(1).unwrap(), None);
        st.incident(&event(2, EventKind::Start)).unwrap();
        let mut changed = event(2, EventKind::Update);
        changed.family = Family::MultiVector;
        st.incident(&changed).unwrap();
        let ev = st.incident_evidence(2).unwrap().unwrap();
        assert_eq!(ev["family"], "multi_vector");
        assert_eq!(ev["trigger"]["metric"], "bps");
        assert_eq!(ev["trigger"]["threshold"], 1_000);
        assert_eq!(ev["spoofed"], true);
        assert_eq!(ev["top_sources"].as_array().unwrap().len(), 20);
        let author = Actor::Named("user:alice".into());
        let note = |incident, text: &str| Write::IncidentNote {
            now: 5,
            incident,
            author: author.clone(),
            text: text.into(),
        };
        let before = st.anchor();
        let errors = st.write(&[
            note(2, "first\nline two"),
            note(99, "nowhere"),
            note(1, "old"),
        ]);
        assert_eq!(errors.len(), 1);
        assert!(matches!(errors[0], StoreError::NoIncident(99)));
        assert_eq!(st.anchor().entries, before.entries + 2);
        let notes = st.incident_notes(2).unwrap();
        assert_eq!(
            notes,
            [IncidentNote {
                time_us: 5,
                author: "user:alice".into(),
                text: "first\nline two".into()
            }]
        );
        assert_eq!(st.incident_notes(1).unwrap().len(), 1);
        assert!(st.incident_notes(99).unwrap().is_empty());
        let tail = st.audit_after(before.entries, 10).unwrap();
        assert_eq!(
            (
                tail[0].actor.as_str(),
                tail[0].action.as_str(),
                tail[0].subject.as_str()
            ),
            ("user:alice", "note", "2")
        );
        assert!(st.has_incident(1).unwrap() && !st.has_incident(99).unwrap());
    }
}
