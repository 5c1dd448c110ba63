//! Reading the store: adapter results, the routes an adapter may hold, the
//! mitigations to restore, the audit log's tail, and checking the chain and the rows
//! it anchors (`levee audit verify`, the start check).

use super::*;

impl Store {
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
        let mut q = self.conn.prepare(&format!(
            "SELECT seq, time_us, actor, action, subject, detail, {} FROM
               (SELECT * FROM audit ORDER BY seq DESC LIMIT ?1) ORDER BY seq",
            self.state_columns()
        ))?;
        let rows = q.query_map([n as i64], entry)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Walks the audit chain (with the store's key), then checks every mitigation row
    /// against the state its last entry recorded.
    pub fn verify(&self) -> Result<Verdict, StoreError> {
        let verdict = self.verify_chain()?;
        // Rows are checked once they are chained (a writer adopts them at its start).
        if !matches!(verdict, Verdict::Intact { .. }) || !self.chained {
            return Ok(verdict);
        }
        Ok(match rows::check(&self.conn)? {
            Some((id, why)) => Verdict::RowEdited { id, why },
            None => verdict,
        })
    }

    /// Walks the audit chain alone (with the store's key).
    pub(super) fn verify_chain(&self) -> Result<Verdict, StoreError> {
        let mut q = self.conn.prepare(&format!(
            "SELECT seq, time_us, actor, action, subject, detail, {}, prev, hash
             FROM audit ORDER BY seq",
            self.state_columns()
        ))?;
        let rows = q.query_map([], |r| {
            Ok((entry(r)?, r.get::<_, String>(8)?, r.get::<_, String>(9)?))
        })?;
        let rows: Vec<_> = rows.collect::<Result<_, _>>()?;
        Ok(audit::verify(rows, self.key.as_ref()))
    }

    /// Checks an anchor taken earlier: entry `entries` (or, without it, some entry)
    /// has the hash `head`. `None` when it holds, else what is wrong. Meaningful after
    /// [`Store::verify`] found the chain intact.
    pub fn check_anchor(
        &self,
        head: Option<&str>,
        entries: Option<u64>,
    ) -> Result<Option<String>, StoreError> {
        let count = self.head.0;
        if let Some(n) = entries
            && n > count
        {
            return Ok(Some(format!(
                "the anchor counts {n} entries, the log has {count}: entries were cut off"
            )));
        }
        let Some(want) = head else {
            return Ok(None);
        };
        let want = want.trim().to_ascii_lowercase();
        Ok(match entries {
            Some(0) => (want != GENESIS).then(|| "entry 0 has no hash but the genesis".into()),
            Some(n) => {
                let found: Option<String> = self
                    .conn
                    .query_row("SELECT hash FROM audit WHERE seq = ?1", [n as i64], |r| {
                        r.get(0)
                    })
                    .optional()?;
                match found {
                    Some(h) if h == want => None,
                    _ => Some(format!(
                        "entry {n} does not have the anchored hash: the log was rewritten"
                    )),
                }
            }
            None => {
                let found: Option<i64> = self
                    .conn
                    .query_row("SELECT seq FROM audit WHERE hash = ?1", [&want], |r| {
                        r.get(0)
                    })
                    .optional()?;
                found.is_none().then(|| {
                    "no entry has the anchored hash: the log was rewritten or cut off".into()
                })
            }
        })
    }
}

/// An audit entry from the first eight columns of a row (seq, time_us, actor,
/// action, subject, detail, state, keyed), as `audit verify` reads it.
pub fn entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        seq: r.get::<_, i64>(0)? as u64,
        time_us: r.get::<_, i64>(1)? as u64,
        actor: r.get(2)?,
        action: r.get(3)?,
        subject: r.get(4)?,
        detail: r.get(5)?,
        state: r.get(6)?,
        keyed: r.get(7)?,
    })
}

impl Store {
    /// The state and keyed columns, or their values for entries written before they
    /// existed.
    pub(super) fn state_columns(&self) -> &'static str {
        if self.chained {
            "state, keyed"
        } else {
            "'' AS state, 0 AS keyed"
        }
    }
}
