//! Who is calling, and may they: every API handler asks [`Gate::authorize`] for the
//! role it needs.
//!
//! - `Authorization: Bearer levee_...`: an API token from the auth database
//!   ([`crate::auth`]); no CSRF token (a browser never sends it on its own).
//! - Cookie `levee_session`: a browser session (HttpOnly, SameSite=Strict, Secure when
//!   served over TLS). Every request that is not GET or HEAD must also carry the
//!   session's CSRF token in `X-CSRF-Token`.
//! - Neither: on a loopback endpoint the caller is `anonymous` with the viewer role
//!   (anyone on the host may read, as with `/metrics`; mutations need a user, a token
//!   or the control socket); elsewhere, 401.
//!
//! Refusals are JSON: 401 `unauthenticated`, `bad_token`, `session_expired`; 403
//! `csrf`, `forbidden`; 429 `rate_limited`. Logins are limited per source
//! ([`super::limiter`]) and at most [`MAX_VERIFYING`] argon2 checks run at once, off the
//! async runtime, each waited for at most [`VERIFY_WAIT`]; an unknown user costs the
//! same check as a wrong password. Anonymous reading (loopback, no credentials) needs a
//! `Host` that is an address or `localhost`, so a page elsewhere cannot read through
//! DNS rebinding (421 `host`).

use super::error::{ApiError, json};
use super::limiter::Limiter;
use crate::auth::{AuthDb, AuthError, Principal, Role, secret};
use crate::clock::now_us;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// The session cookie's name.
pub const COOKIE: &str = "levee_session";
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a browser session lasts.
pub const SESSION_TTL_US: u64 = 12 * 3600 * 1_000_000;
/// argon2 checks running at once (each takes ~19 MiB and tens of milliseconds).
pub const MAX_VERIFYING: usize = 2;
/// How long a login waits for its turn at argon2 before it is refused (503).
pub const VERIFY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Login and refusal counters, for /metrics.
#[derive(Debug, Default)]
pub struct AuthCounters {
    /// Logins that opened a session.
    pub logins: AtomicU64,
    /// Logins with a wrong name or password.
    pub login_failures: AtomicU64,
    /// Logins refused by the per-source limit.
    pub login_limited: AtomicU64,
    /// Requests refused with 401.
    pub unauthenticated: AtomicU64,
    /// Requests refused with 403 (role or CSRF).
    pub forbidden: AtomicU64,
}

/// The web endpoint's view of the auth database.
#[derive(Debug)]
pub struct Gate {
    path: PathBuf,
    /// Opened at first use (the endpoint serves /metrics even if it cannot be).
    db: Arc<Mutex<Option<AuthDb>>>,
    /// Anonymous callers may read (the endpoint is on loopback).
    loopback: AtomicBool,
    /// Cookies are marked Secure (the endpoint serves TLS).
    tls: AtomicBool,
    limiter: Mutex<Limiter>,
    verifying: Arc<tokio::sync::Semaphore>,
    /// Counters.
    pub counters: AuthCounters,
}

/// Who called, as [`Gate::authorize`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The principal (`anonymous` for an unauthenticated loopback caller).
    pub principal: Principal,
    /// The session's CSRF token, for a cookie session.
    pub csrf: Option<String>,
    /// The session id, for a cookie session.
    session: Option<String>,
}

/// 503: the auth database cannot be used (logged with why).
fn unavailable<T>(why: &str) -> Result<T, ApiError> {
    tracing::warn!(error = %why, "web: auth database");
    Err(ApiError::unavailable("the auth database cannot be read"))
}

/// The values of cookie `name` in the request's `Cookie` headers (a sibling site can
/// plant one of the same name: each is tried), at most [`MAX_SESSION_COOKIES`].
fn cookies(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
        .take(MAX_SESSION_COOKIES)
        .collect()
}

/// Session cookies of one request looked up at most.
const MAX_SESSION_COOKIES: usize = 4;

/// Whether `Host` names this machine by address or as `localhost` (with any port).
/// Anonymous reading on loopback needs it: a page elsewhere that rebinds its own name
/// to 127.0.0.1 (DNS rebinding) sends its own name, and is refused.
fn local_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        // HTTP/1.0 without Host: no browser sends that.
        return true;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        }),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

/// A hash no password matches, checked for unknown users so that they cost the same.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| {
        secret::hash_password(&secret::new_password().unwrap_or_else(|_| "x".repeat(40)))
            .unwrap_or_default()
    })
}

impl Gate {
    /// The gate on the auth database at `path`, for an endpoint on a loopback address
    /// or not, with TLS or not.
    pub fn new(path: PathBuf, loopback: bool, tls: bool) -> Gate {
        Gate {
            path,
            db: Arc::new(Mutex::new(None)),
            loopback: AtomicBool::new(loopback),
            tls: AtomicBool::new(tls),
            limiter: Mutex::new(Limiter::new()),
            verifying: Arc::new(tokio::sync::Semaphore::new(MAX_VERIFYING)),
            counters: AuthCounters::default(),
        }
    }

    /// The endpoint moved: on loopback or not, with TLS or not (sessions, the login
    /// limiter and the counters stay).
    pub fn set_binding(&self, loopback: bool, tls: bool) {
        self.loopback.store(loopback, Relaxed);
        self.tls.store(tls, Relaxed);
    }

    /// Runs `f` on the database, off the async runtime: its result, or why the
    /// database could not be opened (or the task ran).
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut AuthDb) -> Result<T, AuthError> + Send + 'static,
    ) -> Result<Result<T, AuthError>, String> {
        let (db, path) = (self.db.clone(), self.path.clone());
        let r = tokio::task::spawn_blocking(move || {
            let mut g = db.lock().map_err(|_| "poisoned".to_string())?;
            if g.is_none() {
                *g = Some(AuthDb::open(&path).map_err(|e| e.to_string())?);
            }
            let Some(db) = g.as_mut() else {
                return Err("not open".to_string());
            };
            Ok(f(db))
        })
        .await;
        r.unwrap_or_else(|_| Err("the task failed".to_string()))
    }

    /// Runs `f` on the database, off the async runtime; any failure is 503.
    async fn with_db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut AuthDb) -> Result<T, AuthError> + Send + 'static,
    ) -> Result<T, ApiError> {
        match self.run(f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => unavailable(&e.to_string()),
            Err(e) => unavailable(&e),
        }
    }

    /// Runs an account read or change on the database, off the async runtime, with
    /// its refusals as the caller's errors: 400 a bad name or password, 404 no such
    /// user or token, 409 one that exists already or the last admin.
    pub async fn accounts<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut AuthDb) -> Result<T, AuthError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let e = match self.run(f).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => e,
            Err(e) => return unavailable(&e),
        };
        let conflict = |m: String| ApiError::new(StatusCode::CONFLICT, "conflict", m);
        Err(match e {
            AuthError::BadName(_) | AuthError::Secret(_) => ApiError::bad(e.to_string()),
            AuthError::Unknown { .. } => ApiError::not_found(e.to_string()),
            AuthError::Exists { .. } => conflict(e.to_string()),
            AuthError::LastAdmin { .. } => {
                ApiError::new(StatusCode::CONFLICT, "last_admin", e.to_string())
            }
            e => return unavailable(&e.to_string()),
        })
    }

    /// An argon2id hash of `password` (bounded like logins: at most
    /// [`MAX_VERIFYING`] at once, off the async runtime); 400 for a password of the
    /// wrong length.
    pub async fn hash_password(&self, password: String) -> Result<String, ApiError> {
        let Some(_permit) = self.verifying_permit().await else {
            return Err(ApiError::unavailable(
                "too many password checks queued: try again",
            ));
        };
        match tokio::task::spawn_blocking(move || secret::hash_password(&password)).await {
            Ok(Ok(h)) => Ok(h),
            Ok(Err(e)) => Err(ApiError::bad(e.to_string())),
            Err(_) => Err(ApiError::unavailable("the password could not be hashed")),
        }
    }

    fn refuse(&self, e: ApiError) -> ApiError {
        let c = if e.status == StatusCode::UNAUTHORIZED {
            &self.counters.unauthenticated
        } else {
            &self.counters.forbidden
        };
        c.fetch_add(1, Relaxed);
        e
    }

    /// The caller of a request, if it may do what needs `role`.
    pub async fn authorize(
        &self,
        headers: &HeaderMap,
        method: &Method,
        role: Role,
    ) -> Result<Caller, ApiError> {
        let caller = self
            .identify(headers, method)
            .await
            .map_err(|e| self.refuse(e))?;
        if caller.principal.role < role {
            return Err(self.refuse(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "this needs the {role} role; {} has {}",
                    caller.principal.actor, caller.principal.role
                ),
            )));
        }
        Ok(caller)
    }

    async fn identify(&self, headers: &HeaderMap, method: &Method) -> Result<Caller, ApiError> {
        let unauth = |code, m: &str| ApiError::new(StatusCode::UNAUTHORIZED, code, m);
        if let Some(auth) = headers.get(header::AUTHORIZATION) {
            let token = auth
                .to_str()
                .ok()
                .and_then(|a| a.strip_prefix("Bearer "))
                .map(|t| t.trim().to_string())
                .ok_or_else(|| unauth("bad_token", "Authorization must be: Bearer <token>"))?;
            let now = now_us();
            let p = self.with_db(move |db| db.token(now, &token)).await?;
            return match p {
                Some(principal) => Ok(Caller {
                    principal,
                    csrf: None,
                    session: None,
                }),
                None => Err(unauth("bad_token", "unknown, expired or revoked token")),
            };
        }
        let ids = cookies(headers, COOKIE);
        let mut found = None;
        for id in ids.iter() {
            let now = now_us();
            let sid = id.clone();
            if let Some(s) = self.with_db(move |db| db.session(now, &sid)).await? {
                found = Some((id.clone(), s));
                break;
            }
        }
        // On loopback a stale cookie leaves a reader anonymous; a change still needs
        // a live session (401: log in again).
        let reading = matches!(*method, Method::GET | Method::HEAD);
        if found.is_none()
            && !ids.is_empty()
            && !(reading && self.loopback.load(Relaxed) && local_host(headers))
        {
            return Err(unauth("session_expired", "the session has ended: log in"));
        }
        if let Some((id, (principal, csrf))) = found {
            if !matches!(*method, Method::GET | Method::HEAD) {
                let sent = headers
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !secret::same(sent, &csrf) {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "csrf",
                        "a state change with a session needs its X-CSRF-Token header",
                    ));
                }
            }
            return Ok(Caller {
                principal,
                csrf: Some(csrf),
                session: Some(id),
            });
        }
        if self.loopback.load(Relaxed) {
            if !local_host(headers) {
                return Err(ApiError::new(
                    StatusCode::MISDIRECTED_REQUEST,
                    "host",
                    "anonymous reading needs Host to be this machine's address or localhost",
                ));
            }
            return Ok(Caller {
                principal: Principal {
                    actor: "anonymous".into(),
                    role: Role::Viewer,
                },
                csrf: None,
                session: None,
            });
        }
        Err(unauth(
            "unauthenticated",
            "log in, or send Authorization: Bearer <token>",
        ))
    }

    /// A turn at argon2 (at most [`MAX_VERIFYING`] at once), waited for at most
    /// [`VERIFY_WAIT`]: a flood of logins is refused with 503, not queued without end
    /// in front of the operator's own.
    async fn verifying_permit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        tokio::time::timeout(VERIFY_WAIT, self.verifying.clone().acquire_owned())
            .await
            .ok()?
            .ok()
    }

    fn cookie_header(&self, value: &str, max_age_s: u64) -> HeaderValue {
        let secure = if self.tls.load(Relaxed) {
            "; Secure"
        } else {
            ""
        };
        HeaderValue::from_str(&format!(
            "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// `POST /api/v1/login` `{"user": ..., "password": ...}`: a session cookie and the
    /// session's CSRF token.
    pub async fn login(&self, source: IpAddr, headers: &HeaderMap, body: &[u8]) -> Response {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Login {
            user: String,
            password: String,
        }
        let allowed = self
            .limiter
            .lock()
            .map(|mut l| l.allow(now_us(), source))
            .unwrap_or(false);
        if !allowed {
            self.counters.login_limited.fetch_add(1, Relaxed);
            return ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many logins from this address: wait a minute",
            )
            .into_response();
        }
        let l: Login = match super::error::body(headers, body) {
            Ok(l) => l,
            Err(e) => return e.into_response(),
        };
        let Some(_permit) = self.verifying_permit().await else {
            return ApiError::unavailable("too many logins queued: try again").into_response();
        };
        let user = l.user.clone();
        let row = match self.with_db(move |db| db.password_of(&user)).await {
            Ok(r) => r,
            Err(e) => return e.into_response(),
        };
        let password = l.password;
        let ok = tokio::task::spawn_blocking(move || match row {
            Some((role, hash)) => secret::verify_password(&password, &hash).then_some(role),
            None => {
                let _ = secret::verify_password(&password, dummy_hash());
                None
            }
        })
        .await
        .ok()
        .flatten();
        let Some(role) = ok else {
            self.counters.login_failures.fetch_add(1, Relaxed);
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad_login",
                "wrong user name or password",
            )
            .into_response();
        };
        let user = l.user;
        let u = user.clone();
        let session = match self
            .with_db(move |db| db.open_session(now_us(), &u, SESSION_TTL_US))
            .await
        {
            Ok(s) => s,
            Err(e) => return e.into_response(),
        };
        self.counters.logins.fetch_add(1, Relaxed);
        let mut r = json(&json!({
            "actor": format!("user:{user}"),
            "role": role,
            "csrf": session.csrf,
            "expires": crate::clock::rfc3339(session.expires_us),
        }));
        r.headers_mut().insert(
            header::SET_COOKIE,
            self.cookie_header(&session.id, SESSION_TTL_US / 1_000_000),
        );
        r
    }

    /// `POST /api/v1/logout`: ends the caller's session (which [`Gate::authorize`]
    /// checked, CSRF token included).
    pub async fn logout(&self, caller: &Caller) -> Response {
        let Some(id) = caller.session.clone() else {
            return ApiError::bad("logout ends a browser session; this request has none")
                .into_response();
        };
        if let Err(e) = self
            .with_db(move |db| db.close_session(now_us(), &id))
            .await
        {
            return e.into_response();
        }
        let mut r = StatusCode::NO_CONTENT.into_response();
        r.headers_mut()
            .insert(header::SET_COOKIE, self.cookie_header("", 0));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; levee_session=abc"),
        );
        assert_eq!(cookies(&h, COOKIE), ["abc"]);
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("xlevee_session=abc"),
        );
        assert!(cookies(&h, COOKIE).is_empty());
        // A planted cookie of the same name does not hide the real one.
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("levee_session=planted; levee_session=real"),
        );
        assert_eq!(cookies(&h, COOKIE), ["planted", "real"]);
    }

    #[test]
    fn anonymous_reading_needs_a_local_host_name() {
        let with = |host: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
            local_host(&h)
        };
        for ok in [
            "127.0.0.1:9750",
            "localhost:9750",
            "LOCALHOST",
            "[::1]:9750",
            "192.0.2.7",
        ] {
            assert!(with(ok), "{ok}");
        }
        for bad in [
            "attacker.example:9750",
            "attacker.example",
            "localhost.attacker.example",
            "127.0.0.1.nip.io",
        ] {
            assert!(!with(bad), "{bad}");
        }
    }

    #[test]
    fn cookies_are_httponly_strict_and_secure_on_tls() {
        let g = Gate::new(PathBuf::from("/nonexistent"), true, false);
        let c = g.cookie_header("abc", 60);
        assert_eq!(
            c.to_str().unwrap(),
            "levee_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60"
        );
        let g = Gate::new(PathBuf::from("/nonexistent"), false, true);
        assert!(
            g.cookie_header("abc", 60)
                .to_str()
                .unwrap()
                .ends_with("; Secure")
        );
    }
}
