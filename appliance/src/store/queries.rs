//! Reads for the web API: incidents by filter (newest first, paged by id), one
//! incident with the mitigations it caused, and the audit log after a sequence
//! number. Every page has a hard limit ([`MAX_PAGE`]); filters are bound as SQL
//! parameters, never spliced into the text.

use super::audit::Entry;
use super::{Store, StoreError, entry};
use rusqlite::{OptionalExtension, ToSql};

/// Most rows one query answers.
pub const MAX_PAGE: u32 = 1000;

/// Which incidents (every field optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    /// The protected network's name.
    pub network: Option<String>,
    /// The victim: an address, or a network's name.
    pub victim: Option<String>,
    /// The attack family (`udp_flood`, ...).
    pub family: Option<String>,
    /// Started at or after (µs).
    pub since_us: Option<u64>,
    /// Started before (µs).
    pub until_us: Option<u64>,
    /// Still open (`true`) or ended (`false`).
    pub open: Option<bool>,
    /// Only ids below this one (the previous page's last id).
    pub before: Option<u64>,
    /// At most this many (capped at [`MAX_PAGE`]).
    pub limit: u32,
}

/// One stored incident.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IncidentRow {
    /// Its id.
    pub id: u64,
    /// The victim.
    pub victim: String,
    /// The protected network.
    pub network: String,
    /// The family.
    pub family: String,
    /// The vector.
    pub vector: String,
    /// Started (µs).
    pub start_us: u64,
    /// Ended (µs), or still open.
    pub end_us: Option<u64>,
    /// Peak packets per second.
    pub peak_pps: u64,
    /// Peak bits per second.
    pub peak_bps: u64,
    /// Confidence, 0 to 100.
    pub confidence: u8,
}

/// A mitigation an incident caused, as stored (active or withdrawn).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IncidentMitigation {
    /// Its id.
    pub id: u64,
    /// The route, as text.
    pub route: String,
    /// Its level.
    pub level: Option<u8>,
    /// `active` or `withdrawn`.
    pub state: String,
    /// Announced (µs).
    pub created_us: u64,
    /// Expires (µs).
    pub expires_us: u64,
    /// Withdrawn (µs).
    pub withdrawn_us: Option<u64>,
    /// Why it was withdrawn.
    pub reason: Option<String>,
}

fn incident(r: &rusqlite::Row<'_>) -> rusqlite::Result<IncidentRow> {
    Ok(IncidentRow {
        id: r.get::<_, i64>(0)? as u64,
        victim: r.get(1)?,
        network: r.get(2)?,
        family: r.get(3)?,
        vector: r.get(4)?,
        start_us: r.get::<_, i64>(5)? as u64,
        end_us: r.get::<_, Option<i64>>(6)?.map(|v| v as u64),
        peak_pps: r.get::<_, i64>(7)? as u64,
        peak_bps: r.get::<_, i64>(8)? as u64,
        confidence: r.get(9)?,
    })
}

const INCIDENT_COLUMNS: &str =
    "id, victim, network, family, vector, start_us, end_us, peak_pps, peak_bps, confidence";

/// A time or id as SQLite's signed integer (larger values are clamped: they match
/// everything or nothing, as they would unclamped).
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The query of [`Store::incidents`] and its parameters. Newest first is by id (the
/// rowid), which the indexes on network, victim, family and open incidents keep in
/// order, so a filtered page reads only its rows, with no sort.
fn incidents_sql(f: &IncidentFilter) -> (String, Vec<Box<dyn ToSql>>) {
    let mut sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE 1 = 1");
    let mut args: Vec<Box<dyn ToSql>> = Vec::new();
    let mut cond = |sql_part: &str, v: Box<dyn ToSql>| {
        args.push(v);
        sql.push_str(&format!(" AND {sql_part} ?{}", args.len()));
    };
    if let Some(n) = &f.network {
        cond("network =", Box::new(n.clone()));
    }
    if let Some(v) = &f.victim {
        cond("victim =", Box::new(v.clone()));
    }
    if let Some(fam) = &f.family {
        cond("family =", Box::new(fam.clone()));
    }
    if let Some(s) = f.since_us {
        cond("start_us >=", Box::new(int(s)));
    }
    if let Some(u) = f.until_us {
        cond("start_us <", Box::new(int(u)));
    }
    if let Some(b) = f.before {
        cond("id <", Box::new(int(b)));
    }
    match f.open {
        Some(true) => sql.push_str(" AND end_us IS NULL"),
        Some(false) => sql.push_str(" AND end_us IS NOT NULL"),
        None => {}
    }
    args.push(Box::new(i64::from(f.limit.min(MAX_PAGE))));
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ?{}", args.len()));
    (sql, args)
}

impl Store {
    /// Incidents matching `f`, newest first.
    pub fn incidents(&self, f: &IncidentFilter) -> Result<Vec<IncidentRow>, StoreError> {
        let (sql, args) = incidents_sql(f);
        let mut q = self.conn.prepare(&sql)?;
        let params: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref()).collect();
        let rows = q.query_map(params.as_slice(), incident)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One incident, with the mitigations it caused.
    pub fn incident_detail(
        &self,
        id: u64,
    ) -> Result<Option<(IncidentRow, Vec<IncidentMitigation>)>, StoreError> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?1"),
                [int(id)],
                incident,
            )
            .optional()?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut q = self.conn.prepare(
            "SELECT id, route, level, state, created_us, expires_us, withdrawn_us, reason
             FROM mitigations WHERE incident = ?1 ORDER BY id",
        )?;
        let ms = q.query_map([int(id)], |r| {
            Ok(IncidentMitigation {
                id: r.get::<_, i64>(0)? as u64,
                route: r.get(1)?,
                level: r.get(2)?,
                state: r.get(3)?,
                created_us: r.get::<_, i64>(4)? as u64,
                expires_us: r.get::<_, i64>(5)? as u64,
                withdrawn_us: r.get::<_, Option<i64>>(6)?.map(|v| v as u64),
                reason: r.get(7)?,
            })
        })?;
        Ok(Some((row, ms.collect::<Result<_, _>>()?)))
    }

    /// Up to `limit` audit entries after sequence number `after`, oldest first.
    pub fn audit_after(&self, after: u64, limit: u32) -> Result<Vec<Entry>, StoreError> {
        let mut q = self.conn.prepare(&format!(
            "SELECT seq, time_us, actor, action, subject, detail, {} FROM audit
             WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            self.state_columns()
        ))?;
        let rows = q.query_map([int(after), i64::from(limit.min(MAX_PAGE))], entry)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (std::path::PathBuf, Store) {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "levee-queries-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let st = Store::open(&dir.join("levee.db")).unwrap();
        for i in 1..=30u64 {
            st.conn
                .execute(
                    "INSERT INTO incidents (id, victim, network, family, vector, start_us,
                         end_us, peak_pps, peak_bps, confidence)
                     VALUES (?1, ?2, ?3, ?4, 'udp/53', ?5, ?6, 1000, 8000, 90)",
                    rusqlite::params![
                        i as i64,
                        format!("192.0.2.{}", i % 3),
                        if i % 2 == 0 { "web" } else { "dns" },
                        if i % 5 == 0 { "syn_flood" } else { "udp_flood" },
                        (i * 1_000_000) as i64,
                        (i % 4 != 0).then_some((i * 1_000_000 + 5) as i64),
                    ],
                )
                .unwrap();
        }
        (dir, st)
    }

    fn ids(rows: &[IncidentRow]) -> Vec<u64> {
        rows.iter().map(|r| r.id).collect()
    }

    /// Every filter's page is read through an index in id order: no full scan, no
    /// sort (`EXPLAIN QUERY PLAN`).
    #[test]
    fn filtered_pages_use_an_index_and_no_sort() {
        let (dir, st) = store();
        let base = IncidentFilter {
            limit: 100,
            ..IncidentFilter::default()
        };
        let some = |s: &str| Some(s.to_string());
        for f in [
            IncidentFilter {
                network: some("web"),
                ..base.clone()
            },
            IncidentFilter {
                victim: some("192.0.2.1"),
                ..base.clone()
            },
            IncidentFilter {
                family: some("syn_flood"),
                ..base.clone()
            },
            IncidentFilter {
                open: Some(true),
                ..base.clone()
            },
            IncidentFilter {
                network: some("web"),
                before: Some(20),
                ..base.clone()
            },
            IncidentFilter {
                network: some("web"),
                family: some("syn_flood"),
                open: Some(true),
                ..base.clone()
            },
        ] {
            let (sql, args) = incidents_sql(&f);
            let params: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref()).collect();
            let mut q = st
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            let plan: Vec<String> = q
                .query_map(params.as_slice(), |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let plan = plan.join("; ");
            assert!(
                plan.contains("USING") && plan.contains("INDEX"),
                "{f:?}: {plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "{f:?}: {plan}");
        }
        drop(st);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn incidents_filter_page_newest_first() {
        let (dir, st) = store();
        let all = IncidentFilter {
            limit: 1000,
            ..IncidentFilter::default()
        };
        assert_eq!(st.incidents(&all).unwrap().len(), 30);
        let f = IncidentFilter {
            network: Some("web".into()),
            family: Some("syn_flood".into()),
            ..all.clone()
        };
        assert_eq!(ids(&st.incidents(&f).unwrap()), [30, 20, 10]);
        let f = IncidentFilter {
            open: Some(true),
            since_us: Some(10_000_000),
            until_us: Some(21_000_000),
            ..all.clone()
        };
        assert_eq!(ids(&st.incidents(&f).unwrap()), [20, 16, 12]);
        let f = IncidentFilter {
            victim: Some("192.0.2.0".into()),
            limit: 3,
            ..all.clone()
        };
        let page = st.incidents(&f).unwrap();
        assert_eq!(ids(&page), [30, 27, 24]);
        let next = IncidentFilter {
            before: Some(24),
            ..f.clone()
        };
        assert_eq!(ids(&st.incidents(&next).unwrap()), [21, 18, 15]);
        // Hostile text is a value, never SQL; huge numbers are clamped.
        let f = IncidentFilter {
            network: Some("web' OR '1'='1".into()),
            ..all.clone()
        };
        assert!(st.incidents(&f).unwrap().is_empty());
        let f = IncidentFilter {
            since_us: Some(u64::MAX),
            limit: u32::MAX,
            ..IncidentFilter::default()
        };
        assert!(st.incidents(&f).unwrap().is_empty());
        let (row, ms) = st.incident_detail(7).unwrap().unwrap();
        assert_eq!((row.id, row.network.as_str(), ms.len()), (7, "dns", 0));
        assert!(st.incident_detail(u64::MAX).unwrap().is_none());
        drop(st);
        let _ = std::fs::remove_dir_all(dir);
    }
}
