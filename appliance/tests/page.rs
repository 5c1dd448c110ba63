//! The web page as a running `levee run` on loopback serves it: `/` and every asset
//! it references with the security headers, their content types and ETags, `304` on
//! `If-None-Match`, a JSON 404 for an unknown asset, and `/api/v1` and `/metrics`
//! still answered by their own handlers beside the page's routes.

mod common;

use common::api::{Reply, http};
use levee_testkit::daemon::sigterm;
use levee_testkit::lab::{free_port, free_udp_port, poll, scratch};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
                   script-src 'self'; connect-src 'self'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'self'";

struct Lab {
    dir: PathBuf,
    child: Child,
    port: u16,
}

impl Lab {
    fn start() -> Lab {
        let dir = scratch("page");
        let port = free_port();
        let cfg = dir.join("levee.yaml");
        std::fs::write(
            &cfg,
            format!(
                "listeners:\n  sflow: {{bind: 127.0.0.1:{udp}}}\n  netflow: {{enabled: false}}\n  \
                 ipfix: {{enabled: false}}\nprotected_networks:\n  - name: lab\n    \
                 prefixes: [192.0.2.0/24]\n\
                 store: {{path: {d}/levee.db}}\ncontrol: {{socket: {d}/control.sock}}\n\
                 web: {{listen: '127.0.0.1:{port}'}}\n",
                udp = free_udp_port(),
                d = dir.display()
            ),
        )
        .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_levee"))
            .arg("--config")
            .arg(&cfg)
            .arg("run")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        poll("the page to be served", 120, |last| {
            let r = TcpStream::connect(("127.0.0.1", port))
                .ok()
                .map(|_| http(port, "GET", "/", &[], ""));
            *last = r.as_ref().map(|r| r.body.clone()).unwrap_or_default();
            r.filter(|r| r.status == 200)
        });
        Lab { dir, child, port }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        sigterm(&mut self.child, Duration::from_secs(30));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn secured(r: &Reply, what: &str) {
    assert_eq!(
        r.header("content-security-policy").unwrap_or(""),
        CSP,
        "{what}"
    );
    assert_eq!(
        r.header("x-content-type-options").unwrap_or(""),
        "nosniff",
        "{what}"
    );
    assert_eq!(
        r.header("referrer-policy").unwrap_or(""),
        "no-referrer",
        "{what}"
    );
}

/// The `src="..."` and `href="..."` values of the page that are not in-page links.
fn references(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in [" src=\"", " href=\""] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            let v = &rest[..rest.find('"').unwrap()];
            if !v.starts_with('#') {
                out.push(v.to_string());
            }
        }
    }
    out
}

#[test]
fn the_page_and_its_assets_are_served_beside_the_api() {
    let lab = Lab::start();
    let page = http(lab.port, "GET", "/", &[], "");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type").unwrap_or(""),
        "text/html; charset=utf-8"
    );
    assert_eq!(page.header("cache-control").unwrap_or(""), "no-cache");
    secured(&page, "/");
    assert!(page.body.contains("id=\"main\""), "{}", page.body);

    let refs = references(&page.body);
    assert!(refs.iter().any(|r| r == "/assets/app.css"), "{refs:?}");
    let mut total = page.body.len();
    for r in &refs {
        let a = http(lab.port, "GET", r, &[], "");
        assert_eq!(a.status, 200, "{r}");
        secured(&a, r);
        let want = match r.rsplit('.').next() {
            Some("css") => "text/css; charset=utf-8",
            Some("js") => "text/javascript; charset=utf-8",
            Some("svg") => "image/svg+xml",
            other => panic!("{r}: unexpected kind {other:?}"),
        };
        assert_eq!(a.header("content-type").unwrap_or(""), want, "{r}");
        let tag = a.header("etag").unwrap_or("").to_string();
        assert!(tag.starts_with('"') && tag.len() > 8, "{r}: {tag}");
        total += a.body.len();

        let again = http(lab.port, "GET", r, &[("If-None-Match", &tag)], "");
        assert_eq!(again.status, 304, "{r}");
        assert!(again.body.is_empty(), "{r}");
        assert_eq!(again.header("etag").unwrap_or(""), tag);
        secured(&again, r);
        let stale = http(lab.port, "GET", r, &[("If-None-Match", "\"stale\"")], "");
        assert_eq!(stale.status, 200, "{r}");
    }
    assert!(total < 300 * 1024, "{total} bytes");

    let tag = page.header("etag").unwrap_or("").to_string();
    assert_eq!(
        http(lab.port, "GET", "/", &[("If-None-Match", &tag)], "").status,
        304
    );
    assert_eq!(http(lab.port, "HEAD", "/", &[], "").status, 200);

    for missing in [
        "/assets/nope.js",
        "/assets/index.html",
        "/assets/..%2fCargo.toml",
    ] {
        let r = http(lab.port, "GET", missing, &[], "");
        assert_eq!(r.status, 404, "{missing}");
        assert_eq!(
            r.header("content-type").unwrap_or(""),
            "application/json",
            "{missing}"
        );
        assert!(r.body.contains("\"not_found\""), "{missing}: {}", r.body);
        secured(&r, missing);
    }

    // The API and the metrics keep their own handlers.
    let status = http(lab.port, "GET", "/api/v1/status", &[], "");
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(
        status.header("content-type").unwrap_or(""),
        "application/json"
    );
    assert!(status.body.contains("\"version\""), "{}", status.body);
    let nothing = http(lab.port, "GET", "/api/v1/nothing", &[], "");
    assert_eq!(nothing.status, 404);
    assert!(nothing.body.contains("openapi.json"), "{}", nothing.body);
    let metrics = http(lab.port, "GET", "/metrics", &[], "");
    assert_eq!(metrics.status, 200);
    assert!(
        !metrics
            .header("content-type")
            .unwrap_or("")
            .starts_with("text/html")
    );
}
