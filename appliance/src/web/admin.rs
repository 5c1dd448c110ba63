//! The admin endpoints: users and API tokens in the auth database, as `levee users`
//! and `levee tokens` manage them, each change audited in that database's chain with
//! the caller's name (`user:<name>`, `token:<name>`). Password hashes and token
//! digests are never answered; a generated password and a new token are answered
//! once. Removing or demoting the last admin is refused (409 `last_admin`); removing a
//! user ends their sessions.

use super::App;
use super::api::short;
use super::error::{ApiError, body, json, json_with};
use crate::auth::db::valid_name;
use crate::auth::{Role, secret};
use crate::clock::now_us;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

fn rfc(us: u64) -> String {
    crate::clock::rfc3339(us)
}

fn role(v: &str) -> Result<Role, ApiError> {
    v.parse::<Role>().map_err(|_| {
        ApiError::bad(format!(
            "role {:?}: expected viewer, analyst, operator or admin",
            short(v)
        ))
    })
}

/// The user or token name in the path.
fn path_name(v: &str) -> Result<String, ApiError> {
    if valid_name(v) {
        Ok(v.to_string())
    } else {
        Err(ApiError::bad(format!(
            "bad name {:?}: use 1 to 64 letters, digits, '.', '_' or '-'",
            short(v)
        )))
    }
}

/// The caller's audited name, if it is an admin.
async fn admin(app: &App, headers: &HeaderMap, method: &Method) -> Result<String, ApiError> {
    Ok(app
        .gate
        .authorize(headers, method, Role::Admin)
        .await?
        .principal
        .actor)
}

fn answer(r: Result<Response, ApiError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

pub(super) async fn users(State(app): State<App>, headers: HeaderMap, method: Method) -> Response {
    answer(
        async {
            admin(&app, &headers, &method).await?;
            let users = app.gate.accounts(|db| db.users()).await?;
            let list: Vec<_> = users
                .iter()
                .map(|u| {
                    json!({"name": u.name, "role": u.role, "created": rfc(u.created_us),
                       "sessions": u.sessions})
                })
                .collect();
            Ok(json(&json!({"users": list})))
        }
        .await,
    )
}

pub(super) async fn add_user(
    State(app): State<App>,
    headers: HeaderMap,
    method: Method,
    bytes: Bytes,
) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Add {
        name: String,
        role: String,
        password: Option<String>,
        #[serde(default)]
        generate: bool,
    }
    answer(
        async {
            let actor = admin(&app, &headers, &method).await?;
            let add: Add = body(&headers, &bytes)?;
            let r = role(&add.role)?;
            let name = path_name(&add.name)?;
            let (password, generated) = match (add.password, add.generate) {
                (Some(p), false) => (p, false),
                (None, true) => (
                    secret::new_password()
                        .map_err(|e| ApiError::unavailable(format!("no password made: {e}")))?,
                    true,
                ),
                _ => {
                    return Err(ApiError::bad(
                        "give a password, or \"generate\": true (not both)",
                    ));
                }
            };
            let hash = app.gate.hash_password(password.clone()).await?;
            let n = name.clone();
            app.gate
                .accounts(move |db| db.add_user(now_us(), &actor, &n, r, &hash))
                .await?;
            let mut v = json!({"name": name, "role": r});
            if generated {
                v["password"] = json!(password);
            }
            Ok(json_with(StatusCode::CREATED, &v))
        }
        .await,
    )
}

pub(super) async fn set_user_role(
    State(app): State<App>,
    headers: HeaderMap,
    method: Method,
    Path(name): Path<String>,
    bytes: Bytes,
) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Set {
        role: String,
    }
    answer(
        async {
            let actor = admin(&app, &headers, &method).await?;
            let set: Set = body(&headers, &bytes)?;
            let r = role(&set.role)?;
            let name = path_name(&name)?;
            let n = name.clone();
            app.gate
                .accounts(move |db| db.set_role(now_us(), &actor, &n, r))
                .await?;
            Ok(json(&json!({"name": name, "role": r})))
        }
        .await,
    )
}

pub(super) async fn remove_user(
    State(app): State<App>,
    headers: HeaderMap,
    method: Method,
    Path(name): Path<String>,
) -> Response {
    answer(
        async {
            let actor = admin(&app, &headers, &method).await?;
            let name = path_name(&name)?;
            let n = name.clone();
            app.gate
                .accounts(move |db| db.remove_user(now_us(), &actor, &n))
                .await?;
            Ok(json(&json!({"removed": name})))
        }
        .await,
    )
}

pub(super) async fn tokens(State(app): State<App>, headers: HeaderMap, method: Method) -> Response {
    answer(
        async {
            admin(&app, &headers, &method).await?;
            let tokens = app.gate.accounts(|db| db.tokens()).await?;
            let now = now_us();
            let list: Vec<_> = tokens
                .iter()
                .map(|t| {
                    json!({"name": t.name, "role": t.role, "created": rfc(t.created_us),
                       "expires": t.expires_us.map(rfc),
                       "expired": t.expires_us.is_some_and(|e| e <= now)})
                })
                .collect();
            Ok(json(&json!({"tokens": list})))
        }
        .await,
    )
}

pub(super) async fn create_token(
    State(app): State<App>,
    headers: HeaderMap,
    method: Method,
    bytes: Bytes,
) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Create {
        name: String,
        role: String,
        expires: Option<String>,
    }
    answer(
        async {
            let actor = admin(&app, &headers, &method).await?;
            let c: Create = body(&headers, &bytes)?;
            let r = role(&c.role)?;
            let name = path_name(&c.name)?;
            let now = now_us();
            let expires_us = match c.expires.as_deref() {
                None => None,
                Some(e) => Some(crate::auth::expiry(now, e).ok_or_else(|| {
                    ApiError::bad(format!(
                        "expires {:?}: {}",
                        short(e),
                        crate::auth::EXPIRES_RANGE
                    ))
                })?),
            };
            let n = name.clone();
            let token = app
                .gate
                .accounts(move |db| db.create_token(now, &actor, &n, r, expires_us))
                .await?;
            Ok(json_with(
                StatusCode::CREATED,
                &json!({"name": name, "role": r, "expires": expires_us.map(rfc), "token": token}),
            ))
        }
        .await,
    )
}

pub(super) async fn revoke_token(
    State(app): State<App>,
    headers: HeaderMap,
    method: Method,
    Path(name): Path<String>,
) -> Response {
    answer(
        async {
            let actor = admin(&app, &headers, &method).await?;
            let name = path_name(&name)?;
            let n = name.clone();
            app.gate
                .accounts(move |db| db.revoke_token(now_us(), &actor, &n))
                .await?;
            Ok(json(&json!({"revoked": name})))
        }
        .await,
    )
}
