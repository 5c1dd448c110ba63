//! `GET /api/v1/traffic` (the traffic history: the daemon's last hour at one-second
//! resolution, older ranges from the store's per-minute rollups, through
//! [`crate::history::query`]) and `GET /api/v1/events` (the live feed,
//! [`crate::live`], as server-sent events).
//!
//! Event streams are bounded: at most [`MAX_STREAMS`] at once, [`MAX_STREAMS_PER_CALLER`]
//! per user or token and [`MAX_ANONYMOUS_STREAMS`] for anonymous readers together
//! (more get 503, so no caller can hold every place), each with the
//! feed's fixed ring; a reader that falls behind is sent `lagged` with the number of
//! frames it missed, and a comment every [`KEEP_ALIVE`] keeps idle proxies from
//! closing it.

use super::App;
use super::api::{number, query, read_store, short};
use super::error::{ApiError, json};
use crate::auth::Role;
use crate::history::query::{MAX_RANGE_S, QueryError, Sources};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// Event streams served at once.
pub const MAX_STREAMS: usize = 64;
/// Event streams of loopback's anonymous readers together.
pub const MAX_ANONYMOUS_STREAMS: usize = 32;
/// Event streams of one user or token.
pub const MAX_STREAMS_PER_CALLER: usize = 8;
/// How often an idle stream gets a comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The default range of `GET /api/v1/traffic`: the last hour.
pub const DEFAULT_RANGE_S: u64 = 3600;

/// Traffic queries running at once; more wait (up to [`TRAFFIC_WAIT`], then 503). A
/// query over months of minutes reads the store for a while, and holds the last
/// hour's read lock meanwhile, so only this many.
pub const MAX_TRAFFIC_QUERIES: usize = 2;
/// How long a traffic query waits for its turn.
pub const TRAFFIC_WAIT: Duration = Duration::from_secs(10);

/// Turns at traffic queries (shared by every endpoint a reload starts).
#[derive(Debug)]
pub struct TrafficTurns(Arc<tokio::sync::Semaphore>);

impl Default for TrafficTurns {
    fn default() -> TrafficTurns {
        TrafficTurns(Arc::new(tokio::sync::Semaphore::new(MAX_TRAFFIC_QUERIES)))
    }
}

/// Open event streams (shared by every endpoint a reload starts): in all, and per
/// caller (a user, a token, or `anonymous` for all of loopback's anonymous readers).
#[derive(Debug, Default)]
pub struct Streams(std::sync::Mutex<(usize, std::collections::HashMap<String, usize>)>);

impl Streams {
    /// Open now.
    pub fn open(&self) -> usize {
        self.0.lock().map_or(0, |s| s.0)
    }
}

/// Counts a stream while it lives.
struct Held(Arc<Streams>, String);

impl Held {
    /// A place for `actor`'s stream: at most [`MAX_STREAMS`] in all,
    /// [`MAX_ANONYMOUS_STREAMS`] for anonymous readers together, and
    /// [`MAX_STREAMS_PER_CALLER`] for each user or token, so that no one caller can
    /// take every place from the operators.
    fn take(s: &Arc<Streams>, actor: &str) -> Option<Held> {
        let mut g = s.0.lock().ok()?;
        let cap = if actor == "anonymous" {
            MAX_ANONYMOUS_STREAMS
        } else {
            MAX_STREAMS_PER_CALLER
        };
        let mine = g.1.get(actor).copied().unwrap_or(0);
        if g.0 >= MAX_STREAMS || mine >= cap {
            return None;
        }
        g.0 += 1;
        *g.1.entry(actor.to_string()).or_default() += 1;
        Some(Held(s.clone(), actor.to_string()))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Ok(mut g) = self.0.0.lock() {
            g.0 = g.0.saturating_sub(1);
            if let Some(n) = g.1.get_mut(&self.1) {
                *n -= 1;
                if *n == 0 {
                    g.1.remove(&self.1);
                }
            }
        }
    }
}

/// A step: seconds, or a duration such as `1s`, `60s`, `5m`, `1h`, `1d`.
fn step(v: &str) -> Result<u64, ApiError> {
    let bad = || {
        ApiError::bad(format!(
            "step: expected seconds or a duration such as 1s, 5m, 1h, not {:?}",
            short(v)
        ))
    };
    let (digits, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v, "s"),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(mult)
        .filter(|s| (1..=MAX_RANGE_S).contains(s))
        .ok_or_else(bad)
}

/// The parsed query of `GET /api/v1/traffic`.
#[derive(Debug, PartialEq, Eq)]
struct TrafficQuery {
    network: Option<String>,
    from: u64,
    to: u64,
    step: Option<u64>,
}

fn traffic_query(uri: &Uri, now_s: u64) -> Result<TrafficQuery, ApiError> {
    let mut q = TrafficQuery {
        network: None,
        from: 0,
        to: now_s + 1,
        step: None,
    };
    let mut from = None;
    for (k, v) in query(uri, &["network", "from", "to", "step"])? {
        match k.as_str() {
            "network" => q.network = Some(super::api::name("network", &v)?),
            "from" => from = Some(number::<u64>("from", &v)?),
            "to" => {
                q.to = number("to", &v)?;
                if q.to > now_s + 86_400 {
                    return Err(ApiError::bad("to: more than a day ahead"));
                }
            }
            "step" => q.step = Some(step(&v)?),
            _ => {}
        }
    }
    q.from = from.unwrap_or(q.to.saturating_sub(DEFAULT_RANGE_S));
    Ok(q)
}

/// `GET /api/v1/traffic`.
pub(super) async fn traffic(
    State(app): State<App>,
    headers: HeaderMap,
    method: Method,
    uri: Uri,
) -> Response {
    if let Err(e) = app.gate.authorize(&headers, &method, Role::Viewer).await {
        return e.into_response();
    }
    let q = match traffic_query(&uri, crate::clock::now_us() / 1_000_000) {
        Ok(q) => q,
        Err(e) => return e.into_response(),
    };
    let turn = match tokio::time::timeout(TRAFFIC_WAIT, app.traffic_turns.0.clone().acquire_owned())
        .await
    {
        Ok(Ok(p)) => p,
        _ => {
            return ApiError::unavailable("too many traffic queries at once: try again")
                .into_response();
        }
    };
    let ring = app.sources.ring.clone();
    let networks: Vec<String> = match &q.network {
        Some(n) => vec![n.clone()],
        None => match ring.read() {
            Ok(r) => r.networks().map(str::to_string).collect(),
            Err(_) => {
                return ApiError::unavailable("the traffic history is unavailable").into_response();
            }
        },
    };
    // The store is read only when the range reaches past the last hour.
    let r = read_store(&app, move |store| {
        let ring = ring.read().map_err(|_| crate::store::StoreError::Row {
            id: 0,
            why: "the traffic history's lock is poisoned".into(),
        })?;
        let src = Sources {
            ring: Some(&ring),
            store: Some(store),
        };
        let mut out = Vec::new();
        for n in &networks {
            out.push(crate::history::query::query(src, n, q.from, q.to, q.step));
        }
        Ok(out)
    })
    .await;
    drop(turn);
    let results = match r {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let mut series = Vec::new();
    for r in results {
        match r {
            Ok(s) => series.push(s),
            Err(QueryError::Store(e)) => {
                tracing::warn!(error = %e, "web: traffic history read");
                return ApiError::unavailable("the store cannot be read").into_response();
            }
            Err(QueryError::UnknownNetwork(n)) => {
                return ApiError::not_found(format!("no traffic history for network {n:?}"))
                    .into_response();
            }
            Err(e) => return ApiError::bad(e.to_string()).into_response(),
        }
    }
    json(&json!({ "series": series }))
}

/// `GET /api/v1/events`.
pub(super) async fn events(State(app): State<App>, headers: HeaderMap, method: Method) -> Response {
    let caller = match app.gate.authorize(&headers, &method, Role::Viewer).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let Some(held) = Held::take(&app.streams, &caller.principal.actor) else {
        return ApiError::unavailable(format!(
            "too many event streams open (at most {MAX_STREAMS}; {MAX_STREAMS_PER_CALLER} a \
             user or token, {MAX_ANONYMOUS_STREAMS} for anonymous readers)"
        ))
        .into_response();
    };
    let rx = app.sources.feed.subscribe();
    let stream = futures_util::stream::unfold((rx, held), |(mut rx, held)| async move {
        let ev = match rx.recv().await {
            Ok(f) => Event::default().event(f.name).data(&f.data),
            Err(RecvError::Lagged(n)) => Event::default()
                .event("lagged")
                .data(json!({ "missed": n }).to_string()),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok::<_, Infallible>(ev), (rx, held)))
    });
    let mut r = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    // No proxy buffering: the page wants each second as it closes.
    r.headers_mut().insert(
        "x-accel-buffering",
        axum::http::HeaderValue::from_static("no"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse_and_hostile_ones_are_refused() {
        assert_eq!(step("1s").unwrap(), 1);
        assert_eq!(step("60").unwrap(), 60);
        assert_eq!(step("5m").unwrap(), 300);
        assert_eq!(step("1d").unwrap(), 86_400);
        for bad in [
            "",
            "0",
            "0s",
            "-1",
            "1w",
            "s",
            "99999999999999999999",
            "400d",
            "1.5m",
        ] {
            assert!(step(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_range_defaults_to_the_last_hour() {
        let q = |s: &str| traffic_query(&format!("/api/v1/traffic?{s}").parse().unwrap(), 10_000);
        assert_eq!(
            q("").unwrap(),
            TrafficQuery {
                network: None,
                from: 10_001 - 3600,
                to: 10_001,
                step: None
            }
        );
        let t = q("network=web&from=100&to=200&step=10s").unwrap();
        assert_eq!(
            (t.network.as_deref(), t.from, t.to, t.step),
            (Some("web"), 100, 200, Some(10))
        );
        for bad in [
            "network=a%20b",
            "from=x",
            "from=1&from=2",
            "nope=1",
            "to=-5",
            "to=18446744073709551615",
            "to=96401",
        ] {
            assert!(q(bad).is_err(), "{bad:?} accepted");
        }
    }
}
