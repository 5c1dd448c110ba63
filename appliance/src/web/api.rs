//! The `/api/v1` handlers. Each asks the gate ([`super::auth`]) for the role it needs
//! first; the roles per route are in [`super::openapi::ENDPOINTS`], and the router is
//! built from the same list's order by [`routes`], which records every (method, path)
//! it routes so a test can compare the two.

use super::error::{ApiError, body, json, json_with};
use super::{App, admin, ask, incidents, mitigation_status};
use crate::auth::Role;
use crate::mitigation::service::Request;
use crate::mitigation::status::{Answer, Status};
use crate::store::Store;
use crate::store::audit::Actor;
use crate::store::queries::MAX_PAGE;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use serde_json::{Value, json};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// Rows per page when `limit` is not given.
pub const DEFAULT_PAGE: u32 = 100;

/// The router of every API route, and the (method, path) pairs it routes.
pub(super) fn routes() -> Router<App> {
    routed().0
}

/// [`routes`], with what it routes.
pub(super) fn routed() -> (Router<App>, Vec<(Method, &'static str)>) {
    use axum::routing::{delete, get, patch, post};
    let table: Vec<(&'static str, Vec<Method>, MethodRouter<App>)> = vec![
        ("/api/v1/openapi.json", vec![Method::GET], get(openapi)),
        ("/api/v1/session", vec![Method::GET], get(session)),
        ("/api/v1/login", vec![Method::POST], post(login)),
        ("/api/v1/logout", vec![Method::POST], post(logout)),
        ("/api/v1/status", vec![Method::GET], get(status)),
        (
            "/api/v1/mitigations",
            vec![Method::GET, Method::POST],
            get(mitigations).post(add_mitigation),
        ),
        (
            "/api/v1/mitigations/{id}",
            vec![Method::DELETE, Method::PATCH],
            delete(withdraw_mitigation).patch(extend_mitigation),
        ),
        ("/api/v1/peers", vec![Method::GET], get(peers)),
        ("/api/v1/exporters", vec![Method::GET], get(exporters)),
        ("/api/v1/audit", vec![Method::GET], get(audit)),
        (
            "/api/v1/incidents",
            vec![Method::GET],
            get(incidents::incidents),
        ),
        (
            "/api/v1/incidents/{id}",
            vec![Method::GET],
            get(incidents::incident),
        ),
        (
            "/api/v1/incidents/{id}/notes",
            vec![Method::POST],
            post(incidents::add_note),
        ),
        (
            "/api/v1/users",
            vec![Method::GET, Method::POST],
            get(admin::users).post(admin::add_user),
        ),
        (
            "/api/v1/users/{name}",
            vec![Method::PATCH, Method::DELETE],
            patch(admin::set_user_role).delete(admin::remove_user),
        ),
        (
            "/api/v1/tokens",
            vec![Method::GET, Method::POST],
            get(admin::tokens).post(admin::create_token),
        ),
        (
            "/api/v1/tokens/{name}",
            vec![Method::DELETE],
            delete(admin::revoke_token),
        ),
        (
            "/api/v1/traffic",
            vec![Method::GET],
            get(super::live::traffic),
        ),
        (
            "/api/v1/events",
            vec![Method::GET],
            get(super::live::events),
        ),
        (
            "/api/v1/public",
            vec![Method::GET],
            get(super::public::public_json),
        ),
    ];
    let mut router = Router::new();
    let mut seen = Vec::new();
    for (path, methods, mr) in table {
        seen.extend(methods.into_iter().map(|m| (m, path)));
        router = router.route(path, mr);
    }
    let router = router
        .fallback(|| async { ApiError::not_found("no such endpoint: see /api/v1/openapi.json") });
    (router, seen)
}

/// The query string's pairs; a key given twice is refused.
pub(super) fn query(uri: &Uri, allowed: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if !allowed.contains(&k.as_ref()) {
            return Err(ApiError::bad(format!(
                "unknown parameter {:?} (expected one of: {})",
                k.chars().take(40).collect::<String>(),
                allowed.join(", ")
            )));
        }
        if out.iter().any(|(o, _)| *o == k) {
            return Err(ApiError::bad(format!("parameter {k} given twice")));
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}

pub(super) fn number<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, ApiError> {
    v.parse().map_err(|_| {
        ApiError::bad(format!(
            "{key}: expected a whole number, not {:?}",
            short(v)
        ))
    })
}

pub(super) fn short(v: &str) -> String {
    v.chars().take(40).collect()
}

pub(super) fn limit(v: &str) -> Result<u32, ApiError> {
    let n: u32 = number("limit", v)?;
    if n == 0 || n > MAX_PAGE {
        return Err(ApiError::bad(format!("limit: expected 1 to {MAX_PAGE}")));
    }
    Ok(n)
}

/// A name as stored (network, family): letters, digits and `._-:/`, up to 128.
pub(super) fn name(key: &str, v: &str) -> Result<String, ApiError> {
    let ok = (1..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:/".contains(&b));
    if ok {
        Ok(v.to_string())
    } else {
        Err(ApiError::bad(format!(
            "{key}: not a valid name: {:?}",
            short(v)
        )))
    }
}

/// The caller, if `role` allows it, and the JSON body it sent.
pub(super) async fn caller_and_body<T: serde::de::DeserializeOwned>(
    app: &App,
    headers: &HeaderMap,
    method: &Method,
    role: Role,
    bytes: &Bytes,
) -> Result<(super::auth::Caller, T), ApiError> {
    let caller = app.gate.authorize(headers, method, role).await?;
    Ok((caller, body(headers, bytes)?))
}

/// Runs `f` on the store, opened read-only, off the async runtime.
pub(super) async fn read_store<T: Send + 'static>(
    app: &App,
    f: impl FnOnce(&Store) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let path = app.sources.store.clone();
    let r = tokio::task::spawn_blocking(move || f(&Store::open_read(&path)?)).await;
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "web: store read");
            Err(ApiError::unavailable("the store cannot be read"))
        }
        Err(_) => Err(ApiError::unavailable("the store cannot be read")),
    }
}

async fn service_status(app: &App) -> Result<Status, ApiError> {
    mitigation_status(&app.sources.commands)
        .await
        .ok_or_else(|| ApiError::unavailable("the mitigation service did not answer"))
}

pub(super) fn rfc(us: u64) -> String {
    crate::clock::rfc3339(us)
}

async fn openapi(State(app): State<App>, headers: HeaderMap, method: Method) -> Response {
    match app.gate.authorize(&headers, &method, Role::Viewer).await {
        Ok(_) => json(&super::openapi::document()),
        Err(e) => e.into_response(),
    }
}

async fn session(State(app): State<App>, headers: HeaderMap, method: Method) -> Response {
    match app.gate.authorize(&headers, &method, Role::Viewer).await {
        Ok(c) => json(&json!({
            "actor": c.principal.actor,
            "role": c.principal.role,
            "csrf": c.csrf,
        })),
        Err(e) => e.into_response(),
    }
}

async fn login(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<super::Peer>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    app.gate.login(peer.0.ip(), &headers, &bytes).await
}

async fn logout(State(app): State<App>, headers: HeaderMap, method: Method) -> Response {
    match app.gate.authorize(&headers, &method, Role::Viewer).await {
        Ok(c) => app.gate.logout(&c).await,
        Err(e) => e.into_response(),
    }
}

async fn status(State(app): State<App>, headers: HeaderMap, method: Method) -> Response {
    if let Err(e) = app.gate.authorize(&headers, &method, Role::Viewer).await {
        return e.into_response();
    }
    let s = &app.sources;
    let now = crate::clock::now_us();
    let mitigation = mitigation_status(&s.commands).await;
    let detection = s.detection.lock().map(|d| *d).ok();
    let peers = s
        .speaker
        .as_ref()
        .and_then(std::sync::Weak::upgrade)
        .map(|sp| sp.status());
    let exporters: usize = s
        .exporters
        .iter()
        .filter_map(|(_, t)| t.lock().ok().map(|t| t.exporters.len()))
        .sum();
    let i = &s.ingest;
    json(&json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": now.saturating_sub(app.started_us) / 1_000_000,
        "config": s.origin,
        "flows": {
            "datagrams": i.datagrams.load(Relaxed),
            "records": i.records.load(Relaxed),
            "decode_errors": i.decode_errors.load(Relaxed),
            "dropped_batches": i.dropped_batches.load(Relaxed),
            "exporters": exporters,
        },
        "detection": detection.map(|d| json!({
            "tracked_hosts": d.tracked,
            "incidents_active": d.incidents_active,
            "incidents_started": d.incidents_started,
        })),
        "mitigation": mitigation.as_ref().map(|m| json!({
            "up": true,
            "active": m.mitigations.len(),
            "dry_run": m.dry_run,
            "adapters": m.adapters.iter().map(|a| json!({
                "name": a.name,
                "healthy": a.last_error.is_none(),
                "pending": a.pending,
            })).collect::<Vec<_>>(),
            "rpki": m.rpki.as_ref().map(|r| json!({"state": r.state.as_str(), "vrps": r.vrps})),
            "audit": m.audit,
        })).unwrap_or_else(|| json!({"up": false})),
        "bgp": peers.map(|ps| json!({
            "peers": ps.len(),
            "established": ps.iter()
                .filter(|p| p.state == levee_bgp::session::State::Established).count(),
        })),
    }))
}

async fn mitigations(State(app): State<App>, headers: HeaderMap, method: Method) -> Response {
    if let Err(e) = app.gate.authorize(&headers, &method, Role::Viewer).await {
        return e.into_response();
    }
    match service_status(&app).await {
        Ok(s) => json(&json!({"mitigations": s.mitigations, "dry_run": s.dry_run})),
        Err(e) => e.into_response(),
    }
}

/// A TTL as the API takes it: "60s", "5m", "1h" or seconds, from 1 s to 30 days.
fn ttl(v: &str) -> Result<Duration, ApiError> {
    crate::yaml::units::Duration::parse(v)
        .filter(|us| levee_mitigate::settings::valid_ttl_us(*us))
        .map(Duration::from_micros)
        .ok_or_else(|| {
            ApiError::bad(format!(
                "ttl {:?}: expected a duration from 1s to 30 days, such as 60s, 5m, 1h",
                short(v)
            ))
        })
}

/// What the service answered a mutation with.
pub(super) fn mutation_answer(
    answer: Option<crate::mitigation::status::Reply>,
    ok: StatusCode,
) -> Response {
    match answer {
        None => ApiError::unavailable("the mitigation service did not answer").into_response(),
        Some(Ok(Answer::Ids { ids })) => json_with(ok, &json!({"ids": ids})),
        Some(Ok(_)) => json_with(ok, &json!({})),
        Some(Err(e)) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "refused", e).into_response()
        }
    }
}

async fn add_mitigation(
    State(app): State<App>,
    headers: HeaderMap,
    method: Method,
    bytes: Bytes,
) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Add {
        route: Option<String>,
        address: Option<IpAddr>,
        level: Option<u8>,
        ttl: Option<String>,
    }
    let (caller, add): (_, Add) =
        match caller_and_body(&app, &headers, &method, Role::Operator, &bytes).await {
            Ok(x) => x,
            Err(e) => return e.into_response(),
        };
    let ttl = match add.ttl.as_deref().map(ttl).transpose() {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let request = match (add.route, add.address, add.level) {
        (Some(route), None, None) => {
            if let Err(e) = route.parse::<levee_bgp::rib::RouteText>() {
                return ApiError::bad(format!("route: {e}")).into_response();
            }
            Request::AddRoute { route, ttl }
        }
        (None, Some(victim), Some(level @ 1..=4)) => Request::AddLevel { victim, level, ttl },
        (None, Some(_), Some(level)) => {
            return ApiError::bad(format!("level {level}: expected 1 to 4")).into_response();
        }
        _ => {
            return ApiError::bad("give a route, or an address and a level (with an optional ttl)")
                .into_response();
        }
    };
    let actor = Actor::Named(caller.principal.actor.into());
    mutation_answer(
        ask(&app.sources.commands, actor, request).await,
        StatusCode::CREATED,
    )
}

/// The id in the path, and whether it is an active mitigation.
async fn active_id(app: &App, id: &str) -> Result<u64, ApiError> {
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::bad(format!("id: expected a whole number, not {:?}", short(id))))?;
    let s = service_status(app).await?;
    if !s.mitigations.iter().any(|m| m.id == id) {
        return Err(ApiError::not_found(format!("no active mitigation {id}")));
    }
    Ok(id)
}

async fn withdraw_mitigation(
    State(app): State<App>,
    headers: HeaderMap,
    method: Method,
    Path(id): Path<String>,
) -> Response {
    let caller = match app.gate.authorize(&headers, &method, Role::Operator).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let id = match active_id(&app, &id).await {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let actor = Actor::Named(caller.principal.actor.into());
    mutation_answer(
        ask(&app.sources.commands, actor, Request::Withdraw { id }).await,
        StatusCode::OK,
    )
}

async fn extend_mitigation(
    State(app): State<App>,
    headers: HeaderMap,
    method: Method,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Extend {
        ttl: String,
    }
    let (caller, ext): (_, Extend) =
        match caller_and_body(&app, &headers, &method, Role::Operator, &bytes).await {
            Ok(x) => x,
            Err(e) => return e.into_response(),
        };
    let ttl = match ttl(&ext.ttl) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let id = match active_id(&app, &id).await {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let actor = Actor::Named(caller.principal.actor.into());
    mutation_answer(
        ask(&app.sources.commands, actor, Request::Extend { id, ttl }).await,
        StatusCode::OK,
    )
}

async fn peers(State(app): State<App>, headers: HeaderMap, method: Method) -> Response {
    if let Err(e) = app.gate.authorize(&headers, &method, Role::Viewer).await {
        return e.into_response();
    }
    let peers = app
        .sources
        .speaker
        .as_ref()
        .and_then(std::sync::Weak::upgrade)
        .map(|sp| sp.status())
        .unwrap_or_default();
    let rtr = mitigation_status(&app.sources.commands)
        .await
        .and_then(|s| s.rpki)
        .map(|r| {
            json!({"state": r.state.as_str(), "vrps": r.vrps, "updates": r.updates,
                        "failures": r.failures})
        });
    let list: Vec<Value> = peers
        .iter()
        .map(|p| {
            let since = p
                .established_at
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| rfc(d.as_micros() as u64));
            json!({
                "name": p.name,
                "address": p.address.to_string(),
                "port": p.port,
                "remote_as": p.remote_as,
                "state": format!("{:?}", p.state),
                "established_at": since,
                "established_count": p.established_count,
                "updates_in": p.updates_in,
                "updates_out": p.updates_out,
                "routes_sent": p.routes_sent,
                "routes_pending": p.routes_pending,
                "routes_received": p.routes_received,
                "routes_rejected": p.routes_rejected,
            })
        })
        .collect();
    json(&json!({"peers": list, "rtr": rtr}))
}

async fn exporters(State(app): State<App>, headers: HeaderMap, method: Method) -> Response {
    if let Err(e) = app.gate.authorize(&headers, &method, Role::Viewer).await {
        return e.into_response();
    }
    let mut rows = Vec::new();
    for (kind, table) in &app.sources.exporters {
        let Ok(t) = table.lock() else { continue };
        for (ip, e) in &t.exporters {
            rows.push((
                e.last_seen_us,
                json!({
                    "listener": kind,
                    "address": ip.to_string(),
                    "name": e.name.as_deref(),
                    "datagrams": e.datagrams,
                    "records": e.records,
                    "decode_errors": e.errors.values().sum::<u64>(),
                    "template_misses": e.template_misses,
                    "lost_datagrams": e.lost_datagrams,
                    "sequence_resets": e.sequence_resets,
                    "sampling": (e.last_sampling > 0).then_some(e.last_sampling),
                    "last_seen": rfc(e.last_seen_us),
                }),
            ));
        }
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    let list: Vec<Value> = rows.into_iter().map(|r| r.1).collect();
    json(&json!({"exporters": list}))
}

async fn audit(State(app): State<App>, headers: HeaderMap, method: Method, uri: Uri) -> Response {
    if let Err(e) = app.gate.authorize(&headers, &method, Role::Viewer).await {
        return e.into_response();
    }
    let (mut after, mut lim) = (0u64, DEFAULT_PAGE);
    let parsed = query(&uri, &["after", "limit"]).and_then(|q| {
        for (k, v) in q {
            match k.as_str() {
                "after" => after = number("after", &v)?,
                _ => lim = limit(&v)?,
            }
        }
        Ok(())
    });
    if let Err(e) = parsed {
        return e.into_response();
    }
    let entries = match read_store(&app, move |s| s.audit_after(after, lim)).await {
        Ok(e) => e,
        Err(e) => return e.into_response(),
    };
    let head = mitigation_status(&app.sources.commands)
        .await
        .map(|s| s.audit);
    let verification = match &head {
        Some(h) => verification(&app, h.entries, &h.head).await,
        None => Value::Null,
    };
    let next = (entries.len() == lim as usize).then(|| entries.last().map(|e| e.seq));
    let list: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({"seq": e.seq, "time": rfc(e.time_us), "actor": e.actor, "action": e.action,
                   "subject": e.subject, "detail": e.detail})
        })
        .collect();
    json(
        &json!({"entries": list, "next_after": next.flatten(), "head": head,
                 "verification": verification}),
    )
}

/// The audit chain's last verification: for which head, and its verdict as JSON.
#[derive(Debug, Default)]
pub struct VerdictCache(Arc<tokio::sync::Mutex<Option<Verified>>>);

/// A verdict as JSON, with the head (entries, hash) it was walked to.
type Verified = ((u64, String), Value);

/// The chain verified up to `head` (`entries` long): walked once per head, by one
/// task at a time, with the chain's key if it is keyed. The walk is a task of its own
/// that fills the cache whether or not its caller is still there, so callers who hang
/// up cannot start walks side by side; a verdict is filed under the head it walked to.
async fn verification(app: &App, entries: u64, head: &str) -> Value {
    let cache = app.audit_verdict.0.clone();
    let (key, path) = (app.sources.audit_key.clone(), app.sources.store.clone());
    let want = (entries, head.to_string());
    let task = tokio::spawn(async move {
        let mut c = cache.lock().await;
        if let Some((k, v)) = c.as_ref()
            && *k == want
        {
            return v.clone();
        }
        let walked = tokio::task::spawn_blocking(move || {
            Store::open_read(&path).and_then(|s| s.with_key(key).verify())
        })
        .await;
        let at = rfc(crate::clock::now_us());
        use crate::store::audit::Verdict;
        let (v, walked_to) = match walked.map_err(|_| ()).and_then(|r| r.map_err(|_| ())) {
            Ok(Verdict::Intact { entries, head }) => (
                json!({"state": "intact", "entries": entries, "head": head, "checked": at}),
                Some((entries, head)),
            ),
            Ok(Verdict::Broken { seq, why }) => (
                json!({"state": "broken", "seq": seq, "why": why, "checked": at}),
                Some(want),
            ),
            Ok(Verdict::RowEdited { id, why }) => (
                json!({"state": "row_edited", "mitigation": id, "why": why, "checked": at}),
                Some(want),
            ),
            Err(()) => (
                json!({"state": "unknown", "why": "the store cannot be read", "checked": at}),
                None,
            ),
        };
        if let Some(k) = walked_to {
            *c = Some((k, v.clone()));
        }
        v
    });
    task.await.unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_are_bounded() {
        assert_eq!(ttl("60s").unwrap(), Duration::from_secs(60));
        assert_eq!(ttl("5m").unwrap(), Duration::from_secs(300));
        for bad in ["0", "-5s", "31d", "9999999h", "soon", ""] {
            assert!(ttl(bad).is_err(), "{bad}");
        }
    }
}
