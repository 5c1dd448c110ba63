//! The `/api/v1` endpoints of a running `levee run` on loopback: every endpoint by
//! every role (each allowed exactly what it should, 403 otherwise), bearer tokens
//! (use, expiry, revocation while the daemon runs), browser sessions (login, CSRF,
//! logout, rate limit), mutations through the mitigation engine audited with the
//! caller's name, and hostile filters and bodies answered with 4xx JSON.

mod common;

use common::api::{Lab, PW, http, roles};
use levee::auth::{AuthDb, Role};
use levee_testkit::lab::poll;
use serde_json::json;
use std::path::Path;

#[test]
fn every_endpoint_by_every_role() {
    let lab = Lab::start("roles");
    // Reads: anyone on the host (anonymous on loopback is a viewer).
    for path in [
        "/api/v1/status",
        "/api/v1/mitigations",
        "/api/v1/peers",
        "/api/v1/exporters",
        "/api/v1/audit?after=0&limit=5",
        "/api/v1/incidents?open=true",
        "/api/v1/openapi.json",
        "/api/v1/session",
        "/api/v1/traffic",
        "/api/v1/traffic?from=0&to=86400&step=1h",
    ] {
        for role in roles() {
            let r = lab.call(role, "GET", path, None);
            assert_eq!(r.status, 200, "{path} as {role:?}: {}", r.body);
            assert!(
                r.header("content-type")
                    .unwrap()
                    .starts_with("application/json")
            );
        }
    }
    // The audit page carries the chain's verification (walked once per head).
    let a = lab.call(None, "GET", "/api/v1/audit?limit=5", None).json();
    assert_eq!(a["verification"]["state"], "intact", "{a}");
    assert_eq!(a["verification"]["head"], a["head"]["head"], "{a}");
    // The public status page is off unless web.public says so: as if it did not exist.
    for path in ["/api/v1/public", "/status", "/status.css"] {
        let r = lab.call(None, "GET", path, None);
        assert_eq!(r.status, 404, "{path}: {}", r.body);
    }
    // The CSV export: analysts and up.
    for role in roles() {
        let r = lab.call(role, "GET", "/api/v1/incidents?format=csv", None);
        if role >= Some(Role::Analyst) {
            assert_eq!(r.status, 200, "{role:?}: {}", r.body);
            assert!(r.body.starts_with("id,victim,network,"), "{}", r.body);
        } else {
            assert_eq!((r.status, r.code()), (403, "forbidden".into()), "{role:?}");
        }
    }
    // Mutations: operators and admins; the rest are refused before anything happens.
    let add =
        json!({"route": "flow destination 192.0.2.10/32 protocol udp then discard", "ttl": "60s"});
    for role in roles() {
        let r = lab.call(role, "POST", "/api/v1/mitigations", Some(&add));
        if role >= Some(Role::Operator) {
            assert_eq!(r.status, 201, "{role:?}: {}", r.body);
        } else {
            assert_eq!(
                (r.status, r.code()),
                (403, "forbidden".into()),
                "{role:?}: {}",
                r.body
            );
        }
    }
    let list = lab.call(None, "GET", "/api/v1/mitigations", None).json();
    let ms = list["mitigations"].as_array().unwrap();
    assert_eq!(
        ms.len(),
        1,
        "the same route twice is one mitigation: {list}"
    );
    let id = ms[0]["id"].as_u64().unwrap();
    let expires = ms[0]["expires_us"].as_u64().unwrap();
    for role in roles() {
        let path = format!("/api/v1/mitigations/{id}");
        let r = lab.call(role, "PATCH", &path, Some(&json!({"ttl": "10m"})));
        if role >= Some(Role::Operator) {
            assert_eq!(r.status, 200, "{role:?}: {}", r.body);
        } else {
            assert_eq!(r.status, 403, "{role:?}");
        }
        if role < Some(Role::Operator) {
            let r = lab.call(role, "DELETE", &path, None);
            assert_eq!(r.status, 403, "{role:?}");
        }
    }
    let list = lab.call(None, "GET", "/api/v1/mitigations", None).json();
    let later = list["mitigations"][0]["expires_us"].as_u64().unwrap();
    assert!(
        later >= expires + 500_000_000,
        "extended to 10 minutes: {expires} {later}"
    );
    let r = lab.call(
        Some(Role::Operator),
        "DELETE",
        &format!("/api/v1/mitigations/{id}"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = lab.call(
        Some(Role::Operator),
        "DELETE",
        &format!("/api/v1/mitigations/{id}"),
        None,
    );
    assert_eq!((r.status, r.code()), (404, "not_found".into()));
    // A level for an address.
    let r = lab.call(
        Some(Role::Admin),
        "POST",
        "/api/v1/mitigations",
        Some(&json!({"address": "192.0.2.77", "level": 2, "ttl": "5m"})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(!r.json()["ids"].as_array().unwrap().is_empty());
    // Audited with the callers' names, on a chain that verifies.
    let audit = lab
        .call(None, "GET", "/api/v1/audit?limit=1000", None)
        .json();
    let actors: Vec<String> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["actor"].as_str().unwrap(),
                e["action"].as_str().unwrap()
            )
        })
        .collect();
    for want in [
        "token:operator announce",
        "token:operator withdraw",
        "token:admin announce",
    ] {
        assert!(actors.iter().any(|a| a == want), "{want} in {actors:?}");
    }
    let v = lab.levee(&["audit", "verify"]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}

#[test]
fn sessions_csrf_logout_and_the_login_limit() {
    let lab = Lab::start("sessions");
    let login = |user: &str, pw: &str| {
        http(
            lab.port,
            "POST",
            "/api/v1/login",
            &[("Content-Type", "application/json")],
            &json!({"user": user, "password": pw}).to_string(),
        )
    };
    let r = login("operator", "not the password at all");
    assert_eq!((r.status, r.code()), (401, "bad_login".into()));
    let r = login("nobody", PW);
    assert_eq!((r.status, r.code()), (401, "bad_login".into()));
    let r = login("operator", PW);
    assert_eq!(r.status, 200, "{}", r.body);
    let set = r.header("set-cookie").unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "no TLS here: {set}");
    let cookie = set.split(';').next().unwrap().to_string();
    let csrf = r.json()["csrf"].as_str().unwrap().to_string();
    let who = http(
        lab.port,
        "GET",
        "/api/v1/session",
        &[("Cookie", &cookie)],
        "",
    )
    .json();
    assert_eq!(who["actor"], "user:operator");
    assert_eq!(who["csrf"], csrf.as_str());
    let add = json!({"route": "route 192.0.2.20/32 blackhole", "ttl": "60s"}).to_string();
    let json_ct = ("Content-Type", "application/json");
    // A state change with the cookie alone (a cross-site request) is refused.
    let r = http(
        lab.port,
        "POST",
        "/api/v1/mitigations",
        &[("Cookie", &cookie), json_ct],
        &add,
    );
    assert_eq!((r.status, r.code()), (403, "csrf".into()), "{}", r.body);
    let r = http(
        lab.port,
        "POST",
        "/api/v1/mitigations",
        &[
            ("Cookie", &cookie),
            json_ct,
            ("X-CSRF-Token", "0".repeat(64).as_str()),
        ],
        &add,
    );
    assert_eq!((r.status, r.code()), (403, "csrf".into()));
    let r = http(
        lab.port,
        "POST",
        "/api/v1/mitigations",
        &[("Cookie", &cookie), json_ct, ("X-CSRF-Token", &csrf)],
        &add,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // A form post (not JSON) is refused even with the token.
    let r = http(
        lab.port,
        "POST",
        "/api/v1/mitigations",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-CSRF-Token", &csrf),
        ],
        "route=x",
    );
    assert_eq!(r.status, 415);
    // Logout needs the CSRF token too; then the cookie is worthless.
    let r = http(
        lab.port,
        "POST",
        "/api/v1/logout",
        &[("Cookie", &cookie)],
        "",
    );
    assert_eq!(r.status, 403);
    let r = http(
        lab.port,
        "POST",
        "/api/v1/logout",
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        "",
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    let r = http(
        lab.port,
        "GET",
        "/api/v1/session",
        &[("Cookie", &cookie)],
        "",
    );
    // Ended: on loopback the cookie's holder reads on as anonymous, and cannot act.
    assert_eq!(r.json()["actor"], "anonymous", "{}", r.body);
    let r = http(
        lab.port,
        "POST",
        "/api/v1/logout",
        &[("Cookie", &cookie)],
        "",
    );
    assert_eq!((r.status, r.code()), (401, "session_expired".into()));
    // A viewer's session may read, not act.
    let r = login("viewer", PW);
    assert_eq!(r.status, 200, "{}", r.body);
    let vcookie = r
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let vcsrf = r.json()["csrf"].as_str().unwrap().to_string();
    let r = http(
        lab.port,
        "POST",
        "/api/v1/mitigations",
        &[("Cookie", &vcookie), json_ct, ("X-CSRF-Token", &vcsrf)],
        &add,
    );
    assert_eq!((r.status, r.code()), (403, "forbidden".into()));
    // Five attempts per source, then 429 (four were spent above).
    let mut codes = Vec::new();
    for _ in 0..3 {
        codes.push(login("operator", "still not the password").status);
    }
    assert_eq!(codes, [401, 429, 429], "{codes:?}");
    let r = login("operator", PW);
    assert_eq!((r.status, r.code()), (429, "rate_limited".into()));
    // Counted for /metrics.
    let m = http(lab.port, "GET", "/metrics", &[], "").body;
    for line in [
        "levee_web_logins_total{result=\"ok\"} 2",
        "levee_web_logins_total{result=\"failed\"} 3",
        "levee_web_logins_total{result=\"limited\"} 3",
    ] {
        assert!(m.contains(line), "{line} in\n{m}");
    }
    assert!(m.contains("levee_web_refused_total{status=\"403\"}"), "{m}");
}

#[test]
fn token_lifecycle_and_hostile_requests() {
    let lab = Lab::start("tokens");
    // Created while the daemon runs (through the CLI), used, revoked.
    let out = lab.levee(&[
        "tokens",
        "create",
        "ci",
        "--role",
        "operator",
        "--expires",
        "1h",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ci = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap()
        .to_string();
    let bearer = format!("Bearer {ci}");
    let r = http(
        lab.port,
        "GET",
        "/api/v1/session",
        &[("Authorization", &bearer)],
        "",
    );
    assert_eq!(r.json()["actor"], "token:ci");
    let out = lab.levee(&["tokens", "revoke", "ci"]);
    assert!(out.status.success());
    let r = http(
        lab.port,
        "GET",
        "/api/v1/session",
        &[("Authorization", &bearer)],
        "",
    );
    assert_eq!((r.status, r.code()), (401, "bad_token".into()));
    // An expiring token stops working when it expires.
    let short = {
        let mut db = AuthDb::open(&lab.dir.join("levee.auth.db")).unwrap();
        let now = levee::clock::now_us();
        db.create_token(now, "test", "short", Role::Admin, Some(now + 2_000_000))
            .unwrap()
    };
    let sb = format!("Bearer {short}");
    let first = http(
        lab.port,
        "GET",
        "/api/v1/session",
        &[("Authorization", &sb)],
        "",
    );
    assert!(first.status == 200 || first.status == 401, "{}", first.body);
    poll("the short token to expire", 60, |last| {
        let r = http(
            lab.port,
            "GET",
            "/api/v1/session",
            &[("Authorization", &sb)],
            "",
        );
        *last = r.body.clone();
        (r.status == 401).then_some(())
    });
    // Bad credentials.
    for auth in [
        "Basic YTpi",
        "Bearer",
        "Bearer levee_0000",
        "bearer levee_x",
    ] {
        let r = http(
            lab.port,
            "GET",
            "/api/v1/status",
            &[("Authorization", auth)],
            "",
        );
        assert_eq!(r.status, 401, "{auth}: {}", r.body);
    }
    let r = http(
        lab.port,
        "POST",
        "/api/v1/logout",
        &[("Cookie", "levee_session=abc")],
        "",
    );
    assert_eq!((r.status, r.code()), (401, "session_expired".into()));
    // Hostile filters, ids and bodies: 4xx JSON, and the daemon goes on.
    let op = Some(Role::Operator);
    for (path, want) in [
        (
            "/api/v1/incidents?network=%27%3BDROP%20TABLE%20incidents",
            400,
        ),
        ("/api/v1/incidents?limit=100000", 400),
        ("/api/v1/incidents?since=-1", 400),
        ("/api/v1/incidents?open=maybe", 400),
        ("/api/v1/incidents?format=xml", 400),
        ("/api/v1/incidents?x=1", 400),
        ("/api/v1/incidents/99999", 404),
        ("/api/v1/incidents/abc", 400),
        ("/api/v1/incidents/99999999999999999999999", 400),
        ("/api/v1/audit?after=abc", 400),
        ("/api/v1/audit?limit=0", 400),
        ("/api/v1/nothing", 404),
    ] {
        let r = lab.call(op, "GET", path, None);
        assert_eq!(r.status, want, "{path}: {}", r.body);
        assert!(!r.code().is_empty(), "{path}: {}", r.body);
    }
    for (body, want) in [
        (json!({"route": "not a route"}), 400),
        (
            json!({"route": "route 192.0.2.1/32 blackhole", "ttl": "forever"}),
            400,
        ),
        (
            json!({"route": "route 192.0.2.1/32 blackhole", "ttl": "31d"}),
            400,
        ),
        (
            json!({"route": "route 192.0.2.1/32 blackhole", "extra": 1}),
            400,
        ),
        (json!({"address": "192.0.2.1", "level": 9}), 400),
        (json!({"address": "not an ip", "level": 1}), 400),
        (json!({"address": "192.0.2.1"}), 400),
        (
            json!({"route": "route 192.0.2.1/32 blackhole", "address": "192.0.2.1", "level": 1}),
            400,
        ),
        (json!([1, 2, 3]), 400),
        (json!({"route": "route 198.51.100.1/32 blackhole"}), 422),
    ] {
        let r = lab.call(op, "POST", "/api/v1/mitigations", Some(&body));
        assert_eq!(r.status, want, "{body}: {}", r.body);
    }
    let huge = "x".repeat(200_000);
    let bearer_op = format!("Bearer {}", lab.token(Role::Operator));
    let r = http(
        lab.port,
        "POST",
        "/api/v1/mitigations",
        &[
            ("Authorization", &bearer_op),
            ("Content-Type", "application/json"),
        ],
        &huge,
    );
    assert_eq!(r.status, 413);
    let r = http(
        lab.port,
        "POST",
        "/api/v1/mitigations",
        &[
            ("Authorization", &bearer_op),
            ("Content-Type", "application/json"),
        ],
        "{not json",
    );
    assert_eq!((r.status, r.code()), (400, "bad_request".into()));
    for (method, path, body) in [
        ("DELETE", "/api/v1/mitigations/abc", None),
        ("DELETE", "/api/v1/mitigations/424242", None),
        (
            "PATCH",
            "/api/v1/mitigations/424242",
            Some(json!({"ttl": "5m"})),
        ),
        ("PATCH", "/api/v1/mitigations/1", Some(json!({"ttl": "0s"}))),
    ] {
        let r = lab.call(op, method, path, body.as_ref());
        assert!(matches!(r.status, 400 | 404), "{method} {path}: {}", r.body);
    }
    let r = lab.call(None, "GET", "/api/v1/status", None);
    assert_eq!(r.status, 200, "still serving");
    assert!(Path::new(&lab.dir.join("levee.auth.db")).exists());
}

/// Logs `user` in: the session cookie and its CSRF token.
fn login(lab: &Lab, user: &str, pw: &str) -> (String, String) {
    let r = http(
        lab.port,
        "POST",
        "/api/v1/login",
        &[("Content-Type", "application/json")],
        &json!({"user": user, "password": pw}).to_string(),
    );
    assert_eq!(r.status, 200, "{user}: {}", r.body);
    let cookie = r.header("set-cookie").unwrap().split(';').next().unwrap();
    (
        cookie.to_string(),
        r.json()["csrf"].as_str().unwrap().to_string(),
    )
}

#[test]
fn users_and_tokens_for_admins_only_audited_keeping_an_admin() {
    let lab = Lab::start("admin");
    // Reads and changes: admins only; everyone else is refused before anything happens.
    let new_user = json!({"name": "dave", "role": "viewer", "generate": true});
    let new_token = json!({"name": "ci", "role": "operator", "expires": "30d"});
    for role in roles() {
        let calls: [(&str, &str, Option<&serde_json::Value>); 7] = [
            ("GET", "/api/v1/users", None),
            ("GET", "/api/v1/tokens", None),
            ("POST", "/api/v1/users", Some(&new_user)),
            (
                "PATCH",
                "/api/v1/users/viewer",
                Some(&json!({"role": "analyst"})),
            ),
            ("POST", "/api/v1/tokens", Some(&new_token)),
            ("DELETE", "/api/v1/tokens/viewer", None),
            ("DELETE", "/api/v1/users/viewer", None),
        ];
        if role == Some(Role::Admin) {
            continue;
        }
        for (method, path, body) in calls {
            let r = lab.call(role, method, path, body);
            assert_eq!(
                (r.status, r.code()),
                (403, "forbidden".into()),
                "{method} {path} as {role:?}"
            );
        }
    }
    let admin = Some(Role::Admin);
    let users = lab.call(admin, "GET", "/api/v1/users", None);
    assert_eq!(users.status, 200, "{}", users.body);
    let names: Vec<String> = users.json()["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["admin", "analyst", "operator", "viewer"]);
    assert!(!users.body.contains("argon2"), "{}", users.body);
    // A generated password is answered once, and works.
    let r = lab.call(admin, "POST", "/api/v1/users", Some(&new_user));
    assert_eq!(r.status, 201, "{}", r.body);
    let pw = r.json()["password"].as_str().unwrap().to_string();
    assert_eq!(pw.len(), 40);
    login(&lab, "dave", &pw);
    let r = lab.call(
        admin,
        "POST",
        "/api/v1/users",
        Some(&json!({"name": "erin", "role": "admin", "password": "a long enough password"})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json(), json!({"name": "erin", "role": "admin"}));
    for (method, path, body, want) in [
        (
            "POST",
            "/api/v1/users",
            json!({"name": "dave", "role": "viewer", "generate": true}),
            409,
        ),
        (
            "POST",
            "/api/v1/users",
            json!({"name": "f", "role": "root", "generate": true}),
            400,
        ),
        (
            "POST",
            "/api/v1/users",
            json!({"name": "../f", "role": "viewer", "generate": true}),
            400,
        ),
        (
            "POST",
            "/api/v1/users",
            json!({"name": "f", "role": "viewer", "password": "short"}),
            400,
        ),
        (
            "POST",
            "/api/v1/users",
            json!({"name": "f", "role": "viewer"}),
            400,
        ),
        (
            "POST",
            "/api/v1/users",
            json!({"name": "f", "role": "viewer", "password": "a long enough password", "generate": true}),
            400,
        ),
        (
            "POST",
            "/api/v1/users",
            json!({"name": "f", "role": "viewer", "hash": "x"}),
            400,
        ),
        (
            "PATCH",
            "/api/v1/users/nobody",
            json!({"role": "viewer"}),
            404,
        ),
        ("PATCH", "/api/v1/users/dave", json!({"role": "god"}), 400),
        (
            "PATCH",
            "/api/v1/users/a%20b",
            json!({"role": "viewer"}),
            400,
        ),
        (
            "POST",
            "/api/v1/tokens",
            json!({"name": "t", "role": "viewer", "expires": "forever"}),
            400,
        ),
        (
            "POST",
            "/api/v1/tokens",
            json!({"name": "t", "role": "viewer", "expires": "11y"}),
            400,
        ),
        (
            "POST",
            "/api/v1/tokens",
            json!({"name": "viewer", "role": "viewer"}),
            409,
        ),
    ] {
        let r = lab.call(admin, method, path, Some(&body));
        assert_eq!(r.status, want, "{method} {path} {body}: {}", r.body);
        assert!(!r.code().is_empty());
    }
    for path in ["/api/v1/users/nobody", "/api/v1/tokens/nobody"] {
        assert_eq!(lab.call(admin, "DELETE", path, None).status, 404, "{path}");
    }
    // The last admin: the users admin and erin are; erin goes, then admin stays.
    let r = lab.call(admin, "DELETE", "/api/v1/users/erin", None);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = lab.call(admin, "DELETE", "/api/v1/users/admin", None);
    assert_eq!(
        (r.status, r.code()),
        (409, "last_admin".into()),
        "{}",
        r.body
    );
    assert!(r.json()["message"].as_str().unwrap().contains("last admin"));
    let r = lab.call(
        admin,
        "PATCH",
        "/api/v1/users/admin",
        Some(&json!({"role": "operator"})),
    );
    assert_eq!((r.status, r.code()), (409, "last_admin".into()));
    let r = lab.call(
        admin,
        "PATCH",
        "/api/v1/users/dave",
        Some(&json!({"role": "analyst"})),
    );
    assert_eq!(r.json(), json!({"name": "dave", "role": "analyst"}));
    // A token is answered once, listed without it, works until revoked.
    let r = lab.call(admin, "POST", "/api/v1/tokens", Some(&new_token));
    assert_eq!(r.status, 201, "{}", r.body);
    let token = r.json()["token"].as_str().unwrap().to_string();
    assert!(r.json()["expires"].as_str().unwrap().ends_with('Z'));
    let bearer = format!("Bearer {token}");
    let who = http(
        lab.port,
        "GET",
        "/api/v1/session",
        &[("Authorization", &bearer)],
        "",
    );
    assert_eq!(
        (who.json()["actor"].as_str(), who.json()["role"].as_str()),
        (Some("token:ci"), Some("operator"))
    );
    let list = lab.call(admin, "GET", "/api/v1/tokens", None);
    assert!(
        list.body.contains("\"ci\"") && !list.body.contains(&token[6..]),
        "{}",
        list.body
    );
    assert_eq!(
        lab.call(admin, "DELETE", "/api/v1/tokens/ci", None).status,
        200
    );
    let who = http(
        lab.port,
        "GET",
        "/api/v1/session",
        &[("Authorization", &bearer)],
        "",
    );
    assert_eq!(who.status, 401);
    // With a session, every change needs the CSRF token; removing a user ends theirs.
    let (cookie, csrf) = login(&lab, "admin", PW);
    let (op_cookie, _) = login(&lab, "operator", PW);
    let ct = ("Content-Type", "application/json");
    let r = http(
        lab.port,
        "DELETE",
        "/api/v1/users/operator",
        &[("Cookie", &cookie)],
        "",
    );
    assert_eq!((r.status, r.code()), (403, "csrf".into()));
    let body = json!({"name": "s", "role": "viewer", "generate": true}).to_string();
    let r = http(
        lab.port,
        "POST",
        "/api/v1/users",
        &[("Cookie", &cookie), ct],
        &body,
    );
    assert_eq!((r.status, r.code()), (403, "csrf".into()));
    let r = http(
        lab.port,
        "POST",
        "/api/v1/tokens",
        &[("Cookie", &cookie), ct],
        &new_token.to_string(),
    );
    assert_eq!((r.status, r.code()), (403, "csrf".into()));
    let r = http(
        lab.port,
        "GET",
        "/api/v1/session",
        &[("Cookie", &op_cookie)],
        "",
    );
    assert_eq!(r.status, 200);
    let r = http(
        lab.port,
        "DELETE",
        "/api/v1/users/operator",
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = http(
        lab.port,
        "GET",
        "/api/v1/session",
        &[("Cookie", &op_cookie)],
        "",
    );
    assert_eq!(r.json()["actor"], "anonymous", "{}", r.body);
    // Audited in the auth database's chain with the callers' names.
    let db = AuthDb::open(&lab.dir.join("levee.auth.db")).unwrap();
    let log: Vec<String> = db
        .audit_tail(100)
        .unwrap()
        .iter()
        .map(|e| format!("{} {} {}", e.actor, e.action, e.subject))
        .collect();
    for want in [
        "token:admin user_add dave",
        "token:admin user_add erin",
        "token:admin user_remove erin",
        "token:admin user_role dave",
        "token:admin token_create ci",
        "token:admin token_revoke ci",
        "user:admin user_remove operator",
    ] {
        assert!(log.iter().any(|l| l == want), "{want} in {log:?}");
    }
    assert!(
        !log.iter().any(|l| l.contains("user_remove admin")),
        "{log:?}"
    );
    assert_eq!(db.verify().unwrap(), None);
}

/// What a stranger can hold or reach: anonymous reading needs a local Host (no DNS
/// rebinding), a stale session cookie leaves a loopback reader anonymous, a planted
/// cookie does not hide the real one, event streams are capped per caller, and
/// connections per source.
#[test]
fn rebinding_stale_cookies_stream_and_connection_caps() {
    let lab = Lab::start("bounds");
    let p = lab.port;
    // DNS rebinding: a page at attacker.example resolved to 127.0.0.1.
    let r = http(
        p,
        "GET",
        "/api/v1/audit",
        &[("Host", "attacker.example:9750")],
        "",
    );
    assert_eq!((r.status, r.code()), (421, "host".into()), "{}", r.body);
    let r = http(p, "GET", "/metrics", &[("Host", "attacker.example")], "");
    assert_eq!(r.status, 421, "{}", r.body);
    for host in ["localhost:9750", "127.0.0.1", "[::1]:9750"] {
        let r = http(p, "GET", "/api/v1/status", &[("Host", host)], "");
        assert_eq!(r.status, 200, "{host}: {}", r.body);
    }
    // With a token the name does not matter (a rebinding page has none).
    let bearer = format!("Bearer {}", lab.token(Role::Viewer));
    let r = http(
        p,
        "GET",
        "/api/v1/status",
        &[("Host", "levee.example.net"), ("Authorization", &bearer)],
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // A stale cookie on loopback: still an anonymous reader.
    let r = http(
        p,
        "GET",
        "/api/v1/status",
        &[("Cookie", "levee_session=stale")],
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // A planted cookie in front of a real session does not hide it.
    let login = http(
        p,
        "POST",
        "/api/v1/login",
        &[("Content-Type", "application/json")],
        &json!({"user": "operator", "password": PW}).to_string(),
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let real = login
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let both = format!("levee_session=planted; {real}");
    let r = http(p, "GET", "/api/v1/session", &[("Cookie", &both)], "");
    assert_eq!(r.json()["role"], "operator", "{}", r.body);

    // Event streams: 8 for one token, the 9th refused; others still get theirs.
    let open = |auth: Option<&str>| {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", p)).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        use std::io::{Read, Write};
        write!(
            s,
            "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n"
        )
        .unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).unwrap();
        (String::from_utf8_lossy(&head).to_string(), s)
    };
    let mut held = Vec::new();
    for _ in 0..8 {
        let (status, s) = open(Some(&bearer));
        assert!(status.contains("200"), "{status}");
        held.push(s);
    }
    let (status, _) = open(Some(&bearer));
    assert!(status.contains("503"), "{status}");
    let (status, s) = open(None);
    assert!(status.contains("200"), "{status}");
    held.push(s);
    drop(held);
    // Their connections close on the server's side first.
    poll("the streams to close", 20, |last| {
        *last = http(p, "GET", "/metrics", &[], "").body;
        last.lines()
            .any(|l| l == "levee_web_event_streams 0")
            .then_some(())
    });

    // Connections: 128 from one address; the next is closed at once.
    let idle: Vec<_> = (0..128)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", p)).unwrap())
        .collect();
    let mut extra = std::net::TcpStream::connect(("127.0.0.1", p)).unwrap();
    extra
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    use std::io::{Read, Write};
    let _ = extra.write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let mut buf = [0u8; 64];
    assert!(
        matches!(extra.read(&mut buf), Ok(0) | Err(_)),
        "the 129th connection was served"
    );
    drop(idle);
    // Served again once the server has seen them close (until then, refused).
    poll("a connection once the idle ones closed", 10, |last| {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", p)).ok()?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .ok()?;
        s.write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut r = String::new();
        s.read_to_string(&mut r).ok()?;
        *last = r.chars().take(40).collect();
        r.starts_with("HTTP/1.1 200").then_some(())
    });
    let m = http(p, "GET", "/metrics", &[], "").body;
    assert!(
        m.lines().any(
            |l| l.starts_with("levee_web_connections_closed_total{reason=\"refused\"}")
                && !l.ends_with(" 0")
        ),
        "{m}"
    );
}
