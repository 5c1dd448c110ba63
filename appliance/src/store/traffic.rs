//! Traffic history in the store: one row per protected network and minute (packets and
//! bytes per protocol towards it, packets and bytes out of it, the busiest second's
//! rates each way, the seconds covered), kept for the
//! history's retention and pruned by it; and each incident's per-second series, stored
//! with the incident (see `history`, which computes both, for the bounds).
//!
//! Disk: a minute row holds the network's name, the minute and fifteen integers, stored
//! `WITHOUT ROWID` under its primary key, plus an index on the minute for pruning: under
//! 200 KB per network per day (measured by `minute_rows_size_per_network_day`, and in
//! docs/PERFORMANCE.md: 182 KB), so 30 days of 10 networks take about 55 MB.
//!
//! The outbound columns ([`TRAFFIC_COLUMNS`]) came after the table's first version: a
//! store from an older levee gets them at open, as 0 for the minutes it holds; a
//! reader of a store not yet upgraded reads them as 0.

use super::{Store, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS traffic_minutes (
    network TEXT NOT NULL,
    minute INTEGER NOT NULL,
    seconds INTEGER NOT NULL,
    tcp_packets INTEGER NOT NULL,
    tcp_bytes INTEGER NOT NULL,
    udp_packets INTEGER NOT NULL,
    udp_bytes INTEGER NOT NULL,
    icmp_packets INTEGER NOT NULL,
    icmp_bytes INTEGER NOT NULL,
    other_packets INTEGER NOT NULL,
    other_bytes INTEGER NOT NULL,
    peak_pps INTEGER NOT NULL,
    peak_bps INTEGER NOT NULL,
    out_packets INTEGER NOT NULL DEFAULT 0,
    out_bytes INTEGER NOT NULL DEFAULT 0,
    peak_out_pps INTEGER NOT NULL DEFAULT 0,
    peak_out_bps INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (network, minute)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS traffic_minutes_minute ON traffic_minutes(minute);
CREATE TABLE IF NOT EXISTS incident_series (
    incident INTEGER PRIMARY KEY,
    victim TEXT NOT NULL,
    network TEXT NOT NULL,
    start_s INTEGER NOT NULL,
    step_s INTEGER NOT NULL,
    points TEXT NOT NULL,
    updated_us INTEGER NOT NULL
);
";

/// Columns added to the minutes table since its first version (added at open).
pub(super) const TRAFFIC_COLUMNS: [(&str, &str); 4] = [
    ("out_packets", "INTEGER NOT NULL DEFAULT 0"),
    ("out_bytes", "INTEGER NOT NULL DEFAULT 0"),
    ("peak_out_pps", "INTEGER NOT NULL DEFAULT 0"),
    ("peak_out_bps", "INTEGER NOT NULL DEFAULT 0"),
];

fn minutes_columns(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut q = conn.prepare("SELECT name FROM pragma_table_info('traffic_minutes')")?;
    let have = q.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(have)
}

/// Adds the minutes columns a database from an older levee lacks (their values: 0);
/// true when it did.
pub(super) fn add_traffic_columns(conn: &Connection) -> Result<bool, StoreError> {
    let have = minutes_columns(conn)?;
    let mut added = false;
    for (name, decl) in TRAFFIC_COLUMNS {
        if !have.iter().any(|h| h == name) {
            conn.execute_batch(&format!(
                "ALTER TABLE traffic_minutes ADD COLUMN {name} {decl}"
            ))?;
            added = true;
        }
    }
    Ok(added)
}

/// One network's minute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MinuteRow {
    /// The protected network.
    pub network: String,
    /// The minute's start, Unix seconds (a multiple of 60).
    pub minute_s: u64,
    /// Seconds of data it holds (60, fewer when levee started or stopped within it;
    /// rows written for the same minute by two runs add up).
    pub seconds: u32,
    /// (packets, bytes) per protocol: TCP, UDP, ICMP, other.
    pub protocols: [(u64, u64); 4],
    /// The busiest second's packets per second (all protocols).
    pub peak_pps: u64,
    /// The busiest second's bits per second (all protocols).
    pub peak_bps: u64,
    /// (packets, bytes) out of the network, all protocols.
    pub out: (u64, u64),
    /// The busiest second's outbound packets per second.
    pub peak_out_pps: u64,
    /// The busiest second's outbound bits per second.
    pub peak_out_bps: u64,
}

/// An incident's series: rates from `start_s`, one point per `step_s` seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeriesRow {
    /// The incident's id.
    pub incident: u64,
    /// Its victim (an address, or a network's name).
    pub victim: String,
    /// Its protected network.
    pub network: String,
    /// The first point's start, Unix seconds.
    pub start_s: u64,
    /// Seconds per point (1, doubled each time the series is halved to stay bounded).
    pub step_s: u32,
    /// (packets per second, bits per second), averaged over each point's step.
    pub points: Vec<(u64, u64)>,
}

/// SQLite integers are signed: counts past i64::MAX (only a hostile exporter's) are
/// stored as i64::MAX.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn uint(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Adds minute rows (a minute already stored, from an earlier run, adds up).
pub(super) fn write_minutes(tx: &Connection, rows: &[MinuteRow]) -> Result<(), StoreError> {
    let mut q = tx.prepare(
        "INSERT INTO traffic_minutes (network, minute, seconds, tcp_packets, tcp_bytes,
            udp_packets, udp_bytes, icmp_packets, icmp_bytes, other_packets, other_bytes,
            peak_pps, peak_bps, out_packets, out_bytes, peak_out_pps, peak_out_bps)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
            ?17)
         ON CONFLICT(network, minute) DO UPDATE SET
            seconds = seconds + excluded.seconds,
            tcp_packets = tcp_packets + excluded.tcp_packets,
            tcp_bytes = tcp_bytes + excluded.tcp_bytes,
            udp_packets = udp_packets + excluded.udp_packets,
            udp_bytes = udp_bytes + excluded.udp_bytes,
            icmp_packets = icmp_packets + excluded.icmp_packets,
            icmp_bytes = icmp_bytes + excluded.icmp_bytes,
            other_packets = other_packets + excluded.other_packets,
            other_bytes = other_bytes + excluded.other_bytes,
            peak_pps = max(peak_pps, excluded.peak_pps),
            peak_bps = max(peak_bps, excluded.peak_bps),
            out_packets = out_packets + excluded.out_packets,
            out_bytes = out_bytes + excluded.out_bytes,
            peak_out_pps = max(peak_out_pps, excluded.peak_out_pps),
            peak_out_bps = max(peak_out_bps, excluded.peak_out_bps)",
    )?;
    for r in rows {
        let p = &r.protocols;
        q.execute(params![
            r.network,
            int(r.minute_s),
            r.seconds,
            int(p[0].0),
            int(p[0].1),
            int(p[1].0),
            int(p[1].1),
            int(p[2].0),
            int(p[2].1),
            int(p[3].0),
            int(p[3].1),
            int(r.peak_pps),
            int(r.peak_bps),
            int(r.out.0),
            int(r.out.1),
            int(r.peak_out_pps),
            int(r.peak_out_bps),
        ])?;
    }
    Ok(())
}

/// Deletes the minutes before `before_s`.
pub(super) fn prune(tx: &Connection, before_s: u64) -> Result<usize, StoreError> {
    Ok(tx.execute(
        "DELETE FROM traffic_minutes WHERE minute < ?1",
        params![int(before_s)],
    )?)
}

/// Stores (replacing) an incident's series.
pub(super) fn write_series(tx: &Connection, s: &SeriesRow, now: u64) -> Result<(), StoreError> {
    let points = serde_json::to_string(&s.points).unwrap_or_else(|_| "[]".into());
    tx.execute(
        "INSERT INTO incident_series (incident, victim, network, start_s, step_s, points,
                                      updated_us)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(incident) DO UPDATE SET victim = ?2, network = ?3, start_s = ?4,
            step_s = ?5, points = ?6, updated_us = ?7",
        params![
            int(s.incident),
            s.victim,
            s.network,
            int(s.start_s),
            s.step_s,
            points,
            int(now)
        ],
    )?;
    Ok(())
}

pub(super) fn has_table(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        params![name],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

fn minute_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MinuteRow> {
    let g = |i: usize| -> rusqlite::Result<u64> { Ok(uint(r.get::<_, i64>(i)?)) };
    Ok(MinuteRow {
        network: r.get(0)?,
        minute_s: g(1)?,
        seconds: u32::try_from(g(2)?).unwrap_or(u32::MAX),
        protocols: [
            (g(3)?, g(4)?),
            (g(5)?, g(6)?),
            (g(7)?, g(8)?),
            (g(9)?, g(10)?),
        ],
        peak_pps: g(11)?,
        peak_bps: g(12)?,
        out: (g(13)?, g(14)?),
        peak_out_pps: g(15)?,
        peak_out_bps: g(16)?,
    })
}

impl Store {
    /// `network`'s minute rows from `from_s` (inclusive) to `to_s` (exclusive), oldest
    /// first, at most `limit`. A store no levee with traffic history has written yet
    /// has none.
    pub fn minutes(
        &self,
        network: &str,
        from_s: u64,
        to_s: u64,
        limit: usize,
    ) -> Result<Vec<MinuteRow>, StoreError> {
        if !has_table(&self.conn, "traffic_minutes")? {
            return Ok(Vec::new());
        }
        // A reader beside an older levee's store (not upgraded yet): no outbound.
        let have = minutes_columns(&self.conn)?;
        let out = if TRAFFIC_COLUMNS
            .iter()
            .all(|(n, _)| have.iter().any(|h| h == n))
        {
            "out_packets, out_bytes, peak_out_pps, peak_out_bps"
        } else {
            "0, 0, 0, 0"
        };
        let mut q = self.conn.prepare(&format!(
            "SELECT network, minute, seconds, tcp_packets, tcp_bytes, udp_packets, udp_bytes,
                    icmp_packets, icmp_bytes, other_packets, other_bytes, peak_pps, peak_bps,
                    {out}
             FROM traffic_minutes WHERE network = ?1 AND minute >= ?2 AND minute < ?3
             ORDER BY minute LIMIT ?4"
        ))?;
        let rows = q.query_map(
            params![network, int(from_s), int(to_s), int(limit as u64)],
            minute_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The networks with stored minutes, by name.
    pub fn traffic_networks(&self) -> Result<Vec<String>, StoreError> {
        if !has_table(&self.conn, "traffic_minutes")? {
            return Ok(Vec::new());
        }
        // One probe per network along the primary key (skipping each network's rows).
        let mut out: Vec<String> = Vec::new();
        loop {
            let next: Option<String> = match out.last() {
                None => {
                    self.conn
                        .query_row("SELECT MIN(network) FROM traffic_minutes", [], |r| r.get(0))?
                }
                Some(last) => self.conn.query_row(
                    "SELECT MIN(network) FROM traffic_minutes WHERE network > ?1",
                    params![last],
                    |r| r.get(0),
                )?,
            };
            match next {
                Some(n) => out.push(n),
                None => return Ok(out),
            }
        }
    }

    /// An incident's stored series, if any.
    pub fn incident_series(&self, incident: u64) -> Result<Option<SeriesRow>, StoreError> {
        if !has_table(&self.conn, "incident_series")? {
            return Ok(None);
        }
        let row = self
            .conn
            .query_row(
                "SELECT victim, network, start_s, step_s, points FROM incident_series
                 WHERE incident = ?1",
                params![int(incident)],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()?;
        let Some((victim, network, start_s, step_s, points)) = row else {
            return Ok(None);
        };
        let points = serde_json::from_str(&points).map_err(|e| StoreError::Series {
            incident,
            why: e.to_string(),
        })?;
        Ok(Some(SeriesRow {
            incident,
            victim,
            network,
            start_s: uint(start_s),
            step_s: u32::try_from(step_s).unwrap_or(1),
            points,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::Write;
    use super::super::tests::fresh;
    use super::*;

    fn row(network: &str, minute_s: u64, packets: u64) -> MinuteRow {
        MinuteRow {
            network: network.into(),
            minute_s,
            seconds: 60,
            protocols: [(packets, packets * 100), (1, 2), (3, 4), (5, 6)],
            peak_pps: packets / 30,
            peak_bps: packets * 8,
            out: (packets / 2, packets * 50),
            peak_out_pps: packets / 60,
            peak_out_bps: packets * 4,
        }
    }

    /// Minutes are written, read back by network and range, add up when written twice
    /// (a restart within a minute), and are pruned by retention.
    #[test]
    fn minutes_written_added_and_pruned() {
        let (_d, path, mut st) = fresh("traffic");
        let t0 = 1_800_000_000 / 60 * 60;
        let rows: Vec<MinuteRow> = (0..10)
            .flat_map(|k| [row("a", t0 + k * 60, 6000), row("b", t0 + k * 60, 60)])
            .collect();
        let w = Write::Traffic {
            minutes: rows,
            prune_before_s: None,
        };
        assert!(st.write(&[w]).is_empty());
        let a = st.minutes("a", t0 + 60, t0 + 180, 100).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[0], row("a", t0 + 60, 6000));
        let again = Write::Traffic {
            minutes: vec![MinuteRow {
                seconds: 10,
                peak_pps: 1,
                ..row("a", t0 + 60, 6000)
            }],
            prune_before_s: Some(t0 + 5 * 60),
        };
        assert!(st.write(&[again]).is_empty());
        // Pruned: the minutes before t0 + 5 min are gone, for every network.
        assert!(st.minutes("a", 0, t0 + 5 * 60, 100).unwrap().is_empty());
        assert_eq!(st.minutes("b", 0, u64::MAX >> 2, 100).unwrap().len(), 5);
        assert_eq!(st.minutes("a", 0, u64::MAX >> 2, 3).unwrap().len(), 3);
        assert_eq!(st.traffic_networks().unwrap(), ["a", "b"]);
        // Adding up: written again before pruning would have doubled; check on a kept one.
        let w = Write::Traffic {
            minutes: vec![row("a", t0 + 9 * 60, 6000)],
            prune_before_s: None,
        };
        assert!(st.write(&[w]).is_empty());
        let m = &st.minutes("a", t0 + 9 * 60, t0 + 10 * 60, 10).unwrap()[0];
        assert_eq!(
            (m.seconds, m.protocols[0].0, m.peak_pps),
            (120, 12_000, 200)
        );
        assert_eq!((m.out, m.peak_out_pps), ((6000, 600_000), 100));
        // A reader sees the same.
        drop(st);
        let r = Store::open_read(&path).unwrap();
        assert_eq!(r.minutes("b", 0, u64::MAX >> 2, 100).unwrap().len(), 5);
    }

    /// A series is stored with its incident, replaced by a later write, and absent
    /// for another incident; a store written before history existed reads as empty.
    #[test]
    fn series_stored_and_replaced() {
        let (_d, _path, mut st) = fresh("series");
        let s = SeriesRow {
            incident: 7,
            victim: "203.0.113.9".into(),
            network: "customers".into(),
            start_s: 1_800_000_000,
            step_s: 1,
            points: vec![(100_000, 409_600_000), (99_000, 400_000_000)],
        };
        let w = |s: &SeriesRow| Write::Series {
            now: 1,
            series: Box::new(s.clone()),
        };
        assert!(st.write(&[w(&s)]).is_empty());
        assert_eq!(st.incident_series(7).unwrap().as_ref(), Some(&s));
        let longer = SeriesRow {
            step_s: 2,
            points: vec![(1, 8); 5],
            ..s.clone()
        };
        assert!(st.write(&[w(&longer)]).is_empty());
        assert_eq!(st.incident_series(7).unwrap(), Some(longer));
        assert_eq!(st.incident_series(8).unwrap(), None);
        let old = Connection::open_in_memory().unwrap();
        old.execute_batch("CREATE TABLE audit (seq INTEGER PRIMARY KEY, hash TEXT)")
            .unwrap();
        assert!(!has_table(&old, "traffic_minutes").unwrap());
    }

    /// A store written before the outbound columns: a reader reads them as 0; opened
    /// for writing, the table gets them (its minutes keep their rates, out 0), and new
    /// minutes carry them.
    #[test]
    fn old_minutes_table_upgrades_with_zero_outbound() {
        let t0 = 1_800_000_000 / 60 * 60;
        let (_d, path, st) = fresh("oldmin");
        drop(st);
        {
            let c = Connection::open(&path).unwrap();
            // The table as the first version made it, with a minute in it.
            c.execute_batch(
                "DROP TABLE traffic_minutes;
                 CREATE TABLE traffic_minutes (network TEXT NOT NULL, minute INTEGER NOT NULL,
                    seconds INTEGER NOT NULL, tcp_packets INTEGER NOT NULL,
                    tcp_bytes INTEGER NOT NULL, udp_packets INTEGER NOT NULL,
                    udp_bytes INTEGER NOT NULL, icmp_packets INTEGER NOT NULL,
                    icmp_bytes INTEGER NOT NULL, other_packets INTEGER NOT NULL,
                    other_bytes INTEGER NOT NULL, peak_pps INTEGER NOT NULL,
                    peak_bps INTEGER NOT NULL, PRIMARY KEY (network, minute)) WITHOUT ROWID;",
            )
            .unwrap();
            c.execute(
                "INSERT INTO traffic_minutes VALUES ('a', ?1, 60, 600, 60000, 0, 0, 0, 0, 0, 0,
                    10, 8000)",
                params![t0 as i64],
            )
            .unwrap();
        }
        let r = Store::open_read(&path).unwrap();
        let old = r.minutes("a", 0, u64::MAX >> 2, 10).unwrap();
        assert_eq!(old.len(), 1);
        assert_eq!((old[0].protocols[0], old[0].out), ((600, 60_000), (0, 0)));
        drop(r);
        let mut st = Store::open(&path).unwrap();
        let have = minutes_columns(&st.conn).unwrap();
        assert!(
            TRAFFIC_COLUMNS
                .iter()
                .all(|(n, _)| have.iter().any(|h| h == n))
        );
        let w = Write::Traffic {
            minutes: vec![row("a", t0 + 60, 6000)],
            prune_before_s: None,
        };
        assert!(st.write(&[w]).is_empty());
        let all = st.minutes("a", 0, u64::MAX >> 2, 10).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            (all[0].peak_pps, all[0].out, all[0].peak_out_pps),
            (10, (0, 0), 0)
        );
        assert_eq!(all[1], row("a", t0 + 60, 6000));
        drop(st);
        // Opening again changes nothing.
        let st = Store::open(&path).unwrap();
        assert!(!add_traffic_columns(&st.conn).unwrap());
    }

    /// Disk per network per day: a day of minutes for 10 networks, checkpointed, less
    /// the empty store; printed for docs/PERFORMANCE.md and held under 200 KB.
    #[test]
    fn minute_rows_size_per_network_day() {
        let (_d, path, mut st) = fresh("size");
        let size = |st: &Store| {
            st.conn
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
                .unwrap();
            std::fs::metadata(&path).unwrap().len()
        };
        let empty = size(&st);
        let t0 = 1_800_000_000 / 86_400 * 86_400;
        for n in 0..10 {
            let minutes = (0..1440)
                .map(|k| MinuteRow {
                    network: format!("customers-{n:02}"),
                    minute_s: t0 + k * 60,
                    seconds: 60,
                    protocols: [
                        (12_345_678, 9_876_543_210),
                        (1_234_567, 987_654_321),
                        (12_345, 9_876_543),
                        (1_234, 987_654),
                    ],
                    peak_pps: 250_000,
                    peak_bps: 2_000_000_000,
                    out: (7_654_321, 6_543_210_987),
                    peak_out_pps: 150_000,
                    peak_out_bps: 1_000_000_000,
                })
                .collect();
            let w = Write::Traffic {
                minutes,
                prune_before_s: None,
            };
            assert!(st.write(&[w]).is_empty());
        }
        let per = (size(&st) - empty) / 10;
        println!("traffic minutes: {per} bytes per network per day");
        assert!(per < 200_000, "{per} bytes per network per day");
    }
}
