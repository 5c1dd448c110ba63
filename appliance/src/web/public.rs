//! The public status page (`web.public: true`): `GET /status` (HTML, no script, its
//! style at `/status.css`) and `GET /api/v1/public` (JSON), for a hosting company's customers. No login; per
//! protected network it says only whether it is under attack and whether a
//! mitigation is announced for it. It names no address, route, rate or source.
//!
//! Strangers can call it as often as they like: the summary is built at most once per
//! [`REFRESH`] (from the live feed's open incidents and the mitigation service's list)
//! and served from that cache otherwise. With `web.public` off, both paths answer
//! 404, as if they did not exist.

use super::App;
use super::error::{ApiError, json};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a summary is served before it is built again.
pub const REFRESH: Duration = Duration::from_secs(2);

/// One network's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkState {
    /// Its name, as configured.
    pub name: String,
    /// An incident is open in it.
    pub under_attack: bool,
    /// A mitigation is announced for it (dry runs are not).
    pub mitigated: bool,
}

/// The summary.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Every protected network, by name.
    pub networks: Vec<NetworkState>,
    /// When it was built (RFC 3339).
    pub updated: String,
}

/// The last summary built, shared by every endpoint a reload starts; one caller at a
/// time builds it (the others wait for that one and take its summary).
#[derive(Debug, Default)]
pub struct Cache(tokio::sync::Mutex<Option<(Instant, Arc<Summary>)>>);

async fn summary(app: &App) -> Result<Arc<Summary>, ApiError> {
    let mut cache = app.public_cache.0.lock().await;
    if let Some((at, s)) = cache.as_ref()
        && at.elapsed() < REFRESH
    {
        return Ok(s.clone());
    }
    let status = super::mitigation_status(&app.sources.commands)
        .await
        .ok_or_else(|| ApiError::unavailable("levee is starting or stopping"))?;
    let open = app.sources.feed.open_per_network();
    let mut names: Vec<String> = match app.sources.ring.read() {
        Ok(r) => r.networks().map(str::to_string).collect(),
        Err(_) => Vec::new(),
    };
    for n in open.keys() {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    let networks = names
        .into_iter()
        .map(|name| NetworkState {
            under_attack: open.get(&name).is_some_and(|n| *n > 0),
            mitigated: status
                .mitigations
                .iter()
                .any(|m| m.network == name && !m.dry_run),
            name,
        })
        .collect();
    let s = Arc::new(Summary {
        networks,
        updated: crate::clock::rfc3339(crate::clock::now_us()),
    });
    *cache = Some((Instant::now(), s.clone()));
    Ok(s)
}

fn off() -> Response {
    ApiError::not_found("no such endpoint: see /api/v1/openapi.json").into_response()
}

/// `GET /api/v1/public`.
pub(super) async fn public_json(State(app): State<App>) -> Response {
    if !app.public() {
        return off();
    }
    match summary(&app).await {
        Ok(s) => json(&serde_json::to_value(&*s).unwrap_or_default()),
        Err(e) => e.into_response(),
    }
}

const STYLE: &str = "body{font:16px/1.4 system-ui,sans-serif;margin:0 auto;max-width:40em;\
padding:1em;color:#1b1f24;background:#fff}table{border-collapse:collapse;width:100%}\
td,th{text-align:left;padding:.5em;border-bottom:1px solid #ccd}.bad{color:#b00020;\
font-weight:600}.ok{color:#1a7f37}.muted{color:#667}@media (prefers-color-scheme:dark)\
{body{color:#e6e8eb;background:#0f1216}td,th{border-color:#2a3038}.bad{color:#ff6b6b}\
.ok{color:#56d364}.muted{color:#8b949e}}";

/// `GET /status`.
pub(super) async fn public_html(State(app): State<App>) -> Response {
    if !app.public() {
        return off();
    }
    let s = match summary(&app).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let mut rows = String::new();
    for n in &s.networks {
        let (state, class) = if n.under_attack {
            ("Under attack", "bad")
        } else {
            ("Normal", "ok")
        };
        let mitigated = if n.mitigated {
            "Mitigation active"
        } else {
            "None"
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td class=\"{class}\">{state}</td><td>{mitigated}</td></tr>",
            escape(&n.name)
        ));
    }
    if s.networks.is_empty() {
        rows.push_str("<tr><td colspan=\"3\" class=\"muted\">No networks yet.</td></tr>");
    }
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"10\"><title>Network status</title>\
         <link rel=\"stylesheet\" href=\"/status.css\"></head><body><h1>Network status</h1><table>\
         <thead><tr><th>Network</th><th>State</th><th>Mitigation</th></tr></thead>\
         <tbody>{rows}</tbody></table><p class=\"muted\">Updated {}; refreshes every 10 s.\
         </p></body></html>",
        escape(&s.updated)
    );
    let mut r = html.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    super::secure(r, CSP)
}

/// The page's policy: nothing but its own stylesheet, no script, no framing.
const CSP: &str = "default-src 'none'; style-src 'self'; frame-ancestors 'none'; \
base-uri 'none'; form-action 'none'";

/// `GET /status.css`: the page's style.
pub(super) async fn public_css(State(app): State<App>) -> Response {
    if !app.public() {
        return off();
    }
    let mut r = STYLE.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    super::secure(r, CSP)
}

/// HTML-escapes text.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped() {
        assert_eq!(
            escape("<a href='x'>&\""),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
        );
    }
}
