//! The OpenAPI 3.1 document of `/api/v1`, written by hand from [`ENDPOINTS`] (a
//! generator such as utoipa would add a proc-macro dependency tree to a two-core
//! build for a score of routes). The router is built beside this list, and a test checks
//! that they route and document the same (method, path) pairs.

use crate::auth::Role;
use serde_json::{Value, json};

/// One documented operation.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    /// `get`, `post`, `patch`, `delete`.
    pub method: &'static str,
    /// The path, with `{id}` parameters.
    pub path: &'static str,
    /// The role it needs (`None`: anyone, e.g. login).
    pub role: Option<Role>,
    /// What it does.
    pub summary: &'static str,
    /// Query parameters: (name, description).
    pub query: &'static [(&'static str, &'static str)],
    /// The JSON body it takes, described.
    pub body: Option<&'static str>,
}

const fn ep(
    method: &'static str,
    path: &'static str,
    role: Option<Role>,
    summary: &'static str,
) -> Endpoint {
    Endpoint {
        method,
        path,
        role,
        summary,
        query: &[],
        body: None,
    }
}

/// Every operation of `/api/v1`.
pub const ENDPOINTS: &[Endpoint] = &[
    ep(
        "get",
        "/api/v1/openapi.json",
        Some(Role::Viewer),
        "This document.",
    ),
    ep(
        "get",
        "/api/v1/session",
        Some(Role::Viewer),
        "Who the caller is: actor, role, and a session's CSRF token.",
    ),
    Endpoint {
        body: Some(r#"{"user": "alice", "password": "..."}"#),
        ..ep(
            "post",
            "/api/v1/login",
            None,
            "Opens a browser session: sets the levee_session cookie (HttpOnly, \
             SameSite=Strict) and answers the CSRF token. Limited per source address.",
        )
    },
    ep(
        "post",
        "/api/v1/logout",
        Some(Role::Viewer),
        "Ends the caller's browser session (X-CSRF-Token required).",
    ),
    ep(
        "get",
        "/api/v1/status",
        Some(Role::Viewer),
        "Version, uptime, config origin and the health of every stage.",
    ),
    ep(
        "get",
        "/api/v1/mitigations",
        Some(Role::Viewer),
        "Active mitigations with each adapter's result.",
    ),
    Endpoint {
        body: Some(
            r#"{"route": "flow destination 192.0.2.1/32 then discard", "ttl": "60s"} or {"address": "203.0.113.9", "level": 2, "ttl": "5m"}"#,
        ),
        ..ep(
            "post",
            "/api/v1/mitigations",
            Some(Role::Operator),
            "Announces a route, or a level's routes for an address, through the same \
             engine path as levee mitigate add (safelist, caps, RPKI gate).",
        )
    },
    ep(
        "delete",
        "/api/v1/mitigations/{id}",
        Some(Role::Operator),
        "Withdraws an active mitigation.",
    ),
    Endpoint {
        body: Some(r#"{"ttl": "10m"}"#),
        ..ep(
            "patch",
            "/api/v1/mitigations/{id}",
            Some(Role::Operator),
            "Holds an active mitigation until ttl from now.",
        )
    },
    ep(
        "get",
        "/api/v1/peers",
        Some(Role::Viewer),
        "BGP sessions and the RTR cache.",
    ),
    ep(
        "get",
        "/api/v1/exporters",
        Some(Role::Viewer),
        "Per flow exporter: datagrams, records, errors, losses, sampling rate, last seen.",
    ),
    Endpoint {
        query: &[
            ("after", "Entries after this sequence number (default 0)."),
            ("limit", "At most this many, 1 to 1000 (default 100)."),
        ],
        ..ep(
            "get",
            "/api/v1/audit",
            Some(Role::Viewer),
            "The audit log, oldest first, with the chain's head and its verification \
             (intact, broken or row_edited; walked once per head, with the chain's key).",
        )
    },
    Endpoint {
        query: &[
            ("network", "The protected network's name."),
            ("victim", "The victim's address (or network name)."),
            ("family", "The attack family, e.g. udp_flood."),
            ("since", "Started at or after (Unix seconds)."),
            ("until", "Started before (Unix seconds)."),
            ("open", "true: still open; false: ended."),
            (
                "before",
                "Ids below this one (the previous page's next_before).",
            ),
            ("limit", "At most this many, 1 to 1000 (default 100)."),
            ("format", "json (default) or csv (the analyst role)."),
        ],
        ..ep(
            "get",
            "/api/v1/incidents",
            Some(Role::Viewer),
            "Incidents, newest first.",
        )
    },
    ep(
        "get",
        "/api/v1/incidents/{id}",
        Some(Role::Viewer),
        "One incident: its row; its evidence (family, vector, confidence, the trigger \
         and its threshold, rates, top sources, ports and packet lengths, botnet, \
         spoofing and threat-intelligence findings; null for incidents stored before \
         evidence was); the mitigations it caused, each with its adapters' results \
         (adapter, state, attempts, error); its timeline (the stored per-second series: \
         time in Unix seconds, pps, bps); and its notes (time, author, text).",
    ),
    Endpoint {
        body: Some(r#"{"text": "same botnet as incident 41"}"#),
        ..ep(
            "post",
            "/api/v1/incidents/{id}/notes",
            Some(Role::Analyst),
            "Adds a note to an incident: 1 to 4096 bytes, no control characters but \
             newlines; stored and audited with the caller's name.",
        )
    },
    ep(
        "get",
        "/api/v1/users",
        Some(Role::Admin),
        "The users: name, role, created, open sessions (never password hashes).",
    ),
    Endpoint {
        body: Some(
            r#"{"name": "alice", "role": "operator", "password": "..."} or {"name": "alice", "role": "operator", "generate": true}"#,
        ),
        ..ep(
            "post",
            "/api/v1/users",
            Some(Role::Admin),
            "Adds a user; with generate, answers the generated password (shown once).",
        )
    },
    Endpoint {
        body: Some(r#"{"role": "analyst"}"#),
        ..ep(
            "patch",
            "/api/v1/users/{name}",
            Some(Role::Admin),
            "Sets a user's role (their sessions take it at once). Demoting the last \
             admin is refused with 409 last_admin.",
        )
    },
    ep(
        "delete",
        "/api/v1/users/{name}",
        Some(Role::Admin),
        "Removes a user and ends their sessions. Removing the last admin is refused \
         with 409 last_admin.",
    ),
    ep(
        "get",
        "/api/v1/tokens",
        Some(Role::Admin),
        "The API tokens: name, role, created, expires (never the tokens or digests).",
    ),
    Endpoint {
        body: Some(r#"{"name": "ci", "role": "operator", "expires": "30d"}"#),
        ..ep(
            "post",
            "/api/v1/tokens",
            Some(Role::Admin),
            "Creates a token (expires: 1s to ten years, or never without it); answers \
             the token once (only its hash is kept).",
        )
    },
    ep(
        "delete",
        "/api/v1/tokens/{name}",
        Some(Role::Admin),
        "Revokes a token.",
    ),
    Endpoint {
        query: &[
            (
                "network",
                "A protected network's name (default: every network, one series each).",
            ),
            (
                "from",
                "Start, Unix seconds (default: an hour before `to`).",
            ),
            ("to", "End, Unix seconds, exclusive (default: now)."),
            (
                "step",
                "Seconds per point, or a duration such as 1s, 5m, 1h (rounded up to \
                 the resolution: one second within the last hour in memory, else one \
                 minute; raised so at most 1440 points come back).",
            ),
        ],
        ..ep(
            "get",
            "/api/v1/traffic",
            Some(Role::Viewer),
            "Traffic history of each protected network: towards it, pps and bps \
             per protocol, averaged per step, with the busiest second (`peak_pps`, \
             `peak_bps`); out of it (records from its prefixes to outside every \
             protected network; traffic between two protected networks counts as \
             inbound to the destination's), `out: {pps, bps}` averaged per step \
             with the busiest second (`peak_out_pps`, `peak_out_bps`); 0 for \
             minutes stored before levee counted outbound traffic.",
        )
    },
    ep(
        "get",
        "/api/v1/events",
        Some(Role::Viewer),
        "Server-sent events: `traffic` every second (rates per network and \
         protocol towards it, `out: {pps, bps}` per network, the top destinations \
         (incidents' victims first, then the busiest tracked IPs) and sources, open \
         incidents, active mitigations), \
         `incident` (start, update, end), `mitigation` (announce, withdraw), and \
         `lagged` when the reader fell behind. At most 64 streams at once.",
    ),
    ep(
        "get",
        "/api/v1/public",
        None,
        "With web.public on (else 404): per protected network, whether it is under \
         attack and whether a mitigation is announced; no addresses. No login.",
    ),
];

/// The document.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for e in ENDPOINTS {
        let mut params: Vec<Value> = e
            .query
            .iter()
            .map(|(n, d)| {
                json!({"name": n, "in": "query", "description": d,
                                 "schema": {"type": "string"}})
            })
            .collect();
        if e.path.contains("{id}") {
            params.push(json!({"name": "id", "in": "path", "required": true,
                               "schema": {"type": "integer", "minimum": 0}}));
        }
        if e.path.contains("{name}") {
            params.push(json!({"name": "name", "in": "path", "required": true,
                               "schema": {"type": "string",
                                          "pattern": "^[A-Za-z0-9._-]{1,64}$"}}));
        }
        let role = e.role.map_or("anyone", Role::as_str);
        let mut op = json!({
            "summary": e.summary,
            "description": format!("Role: {role}."),
            "x-levee-role": role,
            "parameters": params,
            "responses": {
                "200": {"description": "OK"},
                "4XX": {"description": "The caller's error",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        });
        if let Some(b) = e.body {
            op["requestBody"] = json!({"required": true, "description": b,
                                       "content": {"application/json": {"schema": {"type": "object"}}}});
        }
        let entry = paths.entry(e.path).or_insert_with(|| json!({}));
        entry[e.method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "levee", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "levee_session"},
            },
            "schemas": {
                "Error": {"type": "object", "required": ["code", "message"],
                          "properties": {"code": {"type": "string"}, "message": {"type": "string"}}},
            },
        },
        "security": [{"bearer": []}, {"session": []}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_exactly_what_the_router_routes() {
        let (_, routed) = super::super::api::routed();
        let mut routed: Vec<(String, String)> = routed
            .into_iter()
            .map(|(m, p)| (m.as_str().to_ascii_lowercase(), p.to_string()))
            .collect();
        let mut documented: Vec<(String, String)> = ENDPOINTS
            .iter()
            .map(|e| (e.method.to_string(), e.path.to_string()))
            .collect();
        routed.sort();
        documented.sort();
        assert_eq!(routed, documented);
        let doc = document();
        let n: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum();
        assert_eq!(n, ENDPOINTS.len());
        assert_eq!(
            doc["paths"]["/api/v1/mitigations"]["post"]["x-levee-role"],
            "operator"
        );
        assert_eq!(
            doc["paths"]["/api/v1/incidents/{id}/notes"]["post"]["x-levee-role"],
            "analyst"
        );
        assert_eq!(
            doc["paths"]["/api/v1/users/{name}"]["delete"]["parameters"][0]["name"],
            "name"
        );
    }
}
