//! The incident endpoints: `GET /api/v1/incidents` (filters, paging by id, CSV for
//! analysts), `GET /api/v1/incidents/{id}` (the row, its stored evidence, its
//! mitigations with each adapter's result, its per-second traffic series and its
//! notes) and `POST /api/v1/incidents/{id}/notes` (analysts and up; written by the
//! mitigation service's store thread and audited with the caller's name).

use super::App;
use super::api::{
    DEFAULT_PAGE, caller_and_body, limit, mutation_answer, name, number, query, read_store, rfc,
};
use super::ask;
use super::error::{ApiError, json};
use crate::auth::Role;
use crate::mitigation::service::Request;
use crate::store::MAX_NOTE;
use crate::store::audit::Actor;
use crate::store::queries::{IncidentFilter, IncidentRow};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::net::IpAddr;

pub(super) fn incident_json(r: &IncidentRow) -> Value {
    json!({
        "id": r.id,
        "victim": r.victim,
        "network": r.network,
        "family": r.family,
        "vector": r.vector,
        "start": rfc(r.start_us),
        "end": r.end_us.map(rfc),
        "open": r.end_us.is_none(),
        "peak_pps": r.peak_pps,
        "peak_bps": r.peak_bps,
        "confidence": r.confidence,
    })
}

/// A CSV field: quoted, quotes doubled, and a leading `=`, `+`, `-` or `@` defused so
/// a spreadsheet does not run it as a formula.
fn csv_field(v: &str) -> String {
    let defused = if v.starts_with(['=', '+', '-', '@']) {
        format!("'{v}")
    } else {
        v.to_string()
    };
    format!("\"{}\"", defused.replace('"', "\"\""))
}

fn incidents_csv(rows: &[IncidentRow]) -> String {
    let mut out =
        String::from("id,victim,network,family,vector,start,end,peak_pps,peak_bps,confidence\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            r.id,
            csv_field(&r.victim),
            csv_field(&r.network),
            csv_field(&r.family),
            csv_field(&r.vector),
            rfc(r.start_us),
            r.end_us.map(rfc).unwrap_or_default(),
            r.peak_pps,
            r.peak_bps,
            r.confidence
        ));
    }
    out
}

/// Unix seconds as µs.
fn seconds(key: &str, v: &str) -> Result<u64, ApiError> {
    let s: u64 = number(key, v)?;
    s.checked_mul(1_000_000)
        .ok_or_else(|| ApiError::bad(format!("{key}: too large")))
}

/// The filter and format of `GET /api/v1/incidents`.
fn incident_filter(uri: &Uri) -> Result<(IncidentFilter, bool), ApiError> {
    let mut f = IncidentFilter {
        limit: DEFAULT_PAGE,
        ..IncidentFilter::default()
    };
    let mut csv = false;
    let keys = [
        "network", "victim", "family", "since", "until", "open", "before", "limit", "format",
    ];
    for (k, v) in query(uri, &keys)? {
        match k.as_str() {
            "network" => f.network = Some(name("network", &v)?),
            "victim" => {
                f.victim = Some(match v.parse::<IpAddr>() {
                    Ok(ip) => ip.to_string(),
                    Err(_) => name("victim", &v)?,
                })
            }
            "family" => f.family = Some(name("family", &v)?),
            "since" => f.since_us = Some(seconds("since", &v)?),
            "until" => f.until_us = Some(seconds("until", &v)?),
            "open" => {
                f.open = Some(match v.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(ApiError::bad("open: expected true or false")),
                })
            }
            "before" => f.before = Some(number("before", &v)?),
            "limit" => f.limit = limit(&v)?,
            _ => {
                csv = match v.as_str() {
                    "json" => false,
                    "csv" => true,
                    _ => return Err(ApiError::bad("format: expected json or csv")),
                }
            }
        }
    }
    Ok((f, csv))
}

pub(super) async fn incidents(
    State(app): State<App>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
) -> Response {
    let (f, csv) = match incident_filter(&uri) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    // A CSV export is an analyst's.
    let role = if csv { Role::Analyst } else { Role::Viewer };
    if let Err(e) = app.gate.authorize(&headers, &method, role).await {
        return e.into_response();
    }
    let lim = f.limit;
    let rows = match read_store(&app, move |s| s.incidents(&f)).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    if csv {
        return (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"incidents.csv\"",
                ),
            ],
            incidents_csv(&rows),
        )
            .into_response();
    }
    let next = (rows.len() == lim as usize)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let list: Vec<Value> = rows.iter().map(incident_json).collect();
    json(&json!({"incidents": list, "next_before": next}))
}

/// The seconds before an incident's start its timeline shows, from memory.
const PRE_ATTACK_S: u64 = 300;

/// Everything `GET /api/v1/incidents/{id}` answers, read in one go; the timeline is
/// the stored series joined with the last hour in memory (`ring`), which holds the
/// victim's seconds before the incident (as a suspect) and those not stored yet.
fn detail(
    s: &crate::store::Store,
    ring: &std::sync::RwLock<crate::history::ring::Ring>,
    id: u64,
) -> Result<Option<Value>, crate::store::StoreError> {
    let Some((row, ms)) = s.incident_detail(id)? else {
        return Ok(None);
    };
    let mut v = incident_json(&row);
    let mut mitigations = Vec::with_capacity(ms.len());
    for m in &ms {
        let adapters: Vec<Value> = s
            .adapter_results(m.id)?
            .into_iter()
            .map(|a| {
                json!({"adapter": a.adapter, "state": a.state.as_str(),
                       "attempts": a.attempts, "error": a.error})
            })
            .collect();
        mitigations.push(json!({
            "id": m.id,
            "route": m.route,
            "level": m.level,
            "state": m.state,
            "announced": rfc(m.created_us),
            "expires": rfc(m.expires_us),
            "withdrawn": m.withdrawn_us.map(rfc),
            "reason": m.reason,
            "adapters": adapters,
        }));
    }
    v["mitigations"] = Value::Array(mitigations);
    v["evidence"] = s.incident_evidence(id)?.unwrap_or(Value::Null);
    let mut timeline: std::collections::BTreeMap<u64, (u64, u64)> = match s.incident_series(id)? {
        Some(series) => series
            .points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let time = series
                    .start_s
                    .saturating_add((i as u64).saturating_mul(u64::from(series.step_s)));
                (time, *p)
            })
            .collect(),
        None => std::collections::BTreeMap::new(),
    };
    let victim = match row.victim.parse::<IpAddr>() {
        Ok(ip) => levee_detect::Victim::Host(ip),
        Err(_) => levee_detect::Victim::Network(row.victim.clone()),
    };
    if let Ok(r) = ring.read()
        && let Some(vs) = r.victim(&victim)
        && vs.incident.is_none_or(|i| i == id)
    {
        // Seconds the store has (a coarser step once a long series was halved) win.
        let step = timeline
            .keys()
            .zip(timeline.keys().skip(1))
            .map(|(a, b)| b - a)
            .min()
            .unwrap_or(1);
        let (first, last) = (
            timeline.keys().next().copied(),
            timeline.keys().next_back().copied(),
        );
        for (k, rate) in vs.points.iter().enumerate() {
            let t = vs.start_s + k as u64;
            let covered = matches!((first, last), (Some(f), Some(l)) if t >= f && t < l + step);
            // Up to five minutes before the start, and nothing after the end.
            let within = t + PRE_ATTACK_S >= row.start_us / 1_000_000
                && row.end_us.is_none_or(|e| t <= e / 1_000_000);
            if !covered && within {
                timeline.insert(t, (rate.packets, rate.bytes.saturating_mul(8)));
            }
        }
    }
    v["timeline"] = timeline
        .into_iter()
        .map(|(time, (pps, bps))| json!({"time": time, "pps": pps, "bps": bps}))
        .collect();
    v["notes"] = s
        .incident_notes(id)?
        .into_iter()
        .map(|n| json!({"time": rfc(n.time_us), "author": n.author, "text": n.text}))
        .collect();
    Ok(Some(v))
}

pub(super) async fn incident(
    State(app): State<App>,
    headers: HeaderMap,
    method: Method,
    Path(id): Path<String>,
) -> Response {
    if let Err(e) = app.gate.authorize(&headers, &method, Role::Viewer).await {
        return e.into_response();
    }
    let id: u64 = match number("id", &id) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let ring = app.sources.ring.clone();
    match read_store(&app, move |s| detail(s, &ring, id)).await {
        Ok(Some(v)) => json(&v),
        Ok(None) => ApiError::not_found(format!("no incident {id}")).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A note's text: 1 to [`MAX_NOTE`] bytes, no control characters but newlines.
fn note_text(text: &str) -> Result<(), ApiError> {
    if text.is_empty() || text.len() > MAX_NOTE {
        return Err(ApiError::bad(format!(
            "text: expected 1 to {MAX_NOTE} bytes, not {}",
            text.len()
        )));
    }
    if let Some(c) = text.chars().find(|&c| c.is_control() && c != '\n') {
        return Err(ApiError::bad(format!(
            "text: control character U+{:04X} (only newlines are allowed)",
            u32::from(c)
        )));
    }
    Ok(())
}

pub(super) async fn add_note(
    State(app): State<App>,
    headers: HeaderMap,
    method: Method,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Add {
        text: String,
    }
    let (caller, add): (_, Add) =
        match caller_and_body(&app, &headers, &method, Role::Analyst, &bytes).await {
            Ok(x) => x,
            Err(e) => return e.into_response(),
        };
    if let Err(e) = note_text(&add.text) {
        return e.into_response();
    }
    let id: u64 = match number("id", &id) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    match read_store(&app, move |s| s.has_incident(id)).await {
        Ok(true) => {}
        Ok(false) => return ApiError::not_found(format!("no incident {id}")).into_response(),
        Err(e) => return e.into_response(),
    }
    let author = caller.principal.actor;
    let request = Request::Note {
        incident: id,
        text: add.text.clone(),
    };
    let answer = ask(
        &app.sources.commands,
        Actor::Named(author.as_str().into()),
        request,
    )
    .await;
    let r = mutation_answer(answer, StatusCode::CREATED);
    if r.status() != StatusCode::CREATED {
        return r;
    }
    super::error::json_with(
        StatusCode::CREATED,
        &json!({"incident": id, "author": author, "text": add.text}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd|' /C calc'!A0"), "\"'=cmd|' /C calc'!A0\"");
        assert_eq!(csv_field("-1"), "\"'-1\"");
    }

    #[test]
    fn hostile_filters_are_refused_with_a_reason() {
        let f = |q: &str| incident_filter(&format!("/api/v1/incidents?{q}").parse().unwrap());
        assert!(f("network=web&open=true&limit=10&format=csv").unwrap().1);
        for bad in [
            "network=%27%3B%20DROP%20TABLE%20incidents%3B--",
            "victim=192.0.2.1%00",
            "limit=0",
            "limit=1001",
            "limit=-1",
            "since=99999999999999999999",
            "since=18446744073709551",
            "open=yes",
            "format=xml",
            "color=blue",
            "limit=5&limit=6",
            "before=abc",
        ] {
            let e = f(bad).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}");
        }
        let (filter, _) = f("victim=2001:0db8::0001").unwrap();
        assert_eq!(filter.victim.as_deref(), Some("2001:db8::1"), "canonical");
    }

    #[test]
    fn note_texts_are_bounded_and_plain() {
        assert!(note_text("seen before\nsame botnet").is_ok());
        assert!(note_text(&"x".repeat(MAX_NOTE)).is_ok());
        for bad in [
            String::new(),
            "x".repeat(MAX_NOTE + 1),
            "a\tb".into(),
            "a\rb".into(),
            "a\u{1b}[31m".into(),
            "a\u{85}b".into(),
        ] {
            assert_eq!(
                note_text(&bad).unwrap_err().status,
                StatusCode::BAD_REQUEST,
                "{bad:?}"
            );
        }
    }
}
