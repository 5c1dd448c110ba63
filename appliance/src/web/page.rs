//! The web page: a single-page app written by hand (no node toolchain, no external
//! resources) in `appliance/assets/web/`, embedded in the binary with `include_bytes!`
//! and served at `/` (the HTML) and `/assets/{name}` (its CSS, JS and icon).
//!
//! The page reads only the public `/api/v1` endpoints, which check the caller; the page
//! itself needs no role. Every answer carries a strict Content-Security-Policy (no
//! inline script or style, nothing from another origin), `X-Content-Type-Options:
//! nosniff` and `Referrer-Policy: no-referrer`; assets carry an `ETag` (a hash of their
//! bytes, computed once) and `Cache-Control: no-cache`, so a browser revalidates and
//! gets `304 Not Modified` when nothing changed. An unknown asset is a JSON 404.

use super::error::ApiError;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// The page's Content-Security-Policy.
pub const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
                       script-src 'self'; connect-src 'self'; frame-ancestors 'none'; \
                       base-uri 'none'; form-action 'self'";

/// One embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Its name (under `/assets/`, except `index.html`, served at `/`).
    pub name: &'static str,
    /// Its Content-Type.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
}

/// The HTML page's name among [`ASSETS`].
pub const INDEX: &str = "index.html";

/// Every embedded file.
pub const ASSETS: &[Asset] = &[
    Asset {
        name: INDEX,
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("../../assets/web/index.html"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/web/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/web/app.js"),
    },
    Asset {
        name: "overview.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/web/overview.js"),
    },
    Asset {
        name: "incidents.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/web/incidents.js"),
    },
    Asset {
        name: "views.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/web/views.js"),
    },
    Asset {
        name: "levee-chart.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/web/levee-chart.js"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../../assets/web/icon.svg"),
    },
];

/// The routes: `/` and `/assets/{name}` (no state: the page needs none).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    use axum::routing::get;
    Router::new()
        .route("/", get(index))
        .route("/assets/{name}", get(asset))
}

/// The ETag of each of [`ASSETS`], in order: a quoted prefix of the SHA-256 of the
/// bytes, computed once.
fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let d = Sha256::digest(a.bytes);
                let hex: String = d.iter().take(12).map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    })
}

/// The ETag of the asset `name`, if there is one.
pub fn etag(name: &str) -> Option<&'static str> {
    let i = ASSETS.iter().position(|a| a.name == name)?;
    etags().get(i).map(String::as_str)
}

/// Whether `If-None-Match` names `tag` (or is `*`); weak tags compare equal.
fn matches(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag)
}

/// Adds the security headers every answer of the page carries.
fn secure(r: Response) -> Response {
    super::secure(r, CSP)
}

/// The answer for the asset `name` to a request with `headers`: the bytes, a 304 if
/// the caller has them, or a JSON 404.
pub fn respond(name: &str, headers: &HeaderMap) -> Response {
    let found = ASSETS.iter().zip(etags()).find(|(a, _)| a.name == name);
    let Some((a, tag)) = found else {
        let shown: String = name.chars().take(60).collect();
        return secure(ApiError::not_found(format!("no asset {shown:?}")).into_response());
    };
    let tag_value = HeaderValue::from_str(tag).unwrap_or_else(|_| HeaderValue::from_static(""));
    let no_cache = HeaderValue::from_static("no-cache");
    let r = if matches(headers, tag) {
        (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, tag_value), (header::CACHE_CONTROL, no_cache)],
        )
            .into_response()
    } else {
        (
            StatusCode::OK,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(a.content_type),
                ),
                (header::ETAG, tag_value),
                (header::CACHE_CONTROL, no_cache),
            ],
            a.bytes,
        )
            .into_response()
    };
    secure(r)
}

async fn index(headers: HeaderMap) -> Response {
    respond(INDEX, &headers)
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    if name == INDEX {
        // The page lives at `/` only, so that relative links resolve one way.
        return respond("", &headers);
    }
    respond(&name, &headers)
}

/// The `src=` and `href=` values in `html` (quoted with `"`), `src` first, leaving
/// out in-page links (`#/...`, the page's views).
pub fn references(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for attr in [" src=\"", " href=\""] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            if let Some(end) = rest.find('"')
                && !rest.starts_with('#')
            {
                out.push(&rest[..end]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(r: &Response, name: header::HeaderName) -> &str {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn asset_of(name: &str) -> &'static Asset {
        ASSETS.iter().find(|a| a.name == name).unwrap()
    }

    fn index_html() -> &'static str {
        std::str::from_utf8(asset_of(INDEX).bytes).unwrap()
    }

    #[test]
    fn every_answer_carries_the_security_headers() {
        for name in ["index.html", "app.js", "no-such.js"] {
            let r = respond(name, &HeaderMap::new());
            assert_eq!(header(&r, header::CONTENT_SECURITY_POLICY), CSP, "{name}");
            assert_eq!(header(&r, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
            assert_eq!(header(&r, header::REFERRER_POLICY), "no-referrer");
        }
        assert!(CSP.contains("script-src 'self';") && CSP.contains("frame-ancestors 'none'"));
    }

    #[test]
    fn assets_have_their_type_and_a_distinct_etag() {
        let want = [
            ("index.html", "text/html; charset=utf-8"),
            ("app.css", "text/css; charset=utf-8"),
            ("app.js", "text/javascript; charset=utf-8"),
            ("levee-chart.js", "text/javascript; charset=utf-8"),
            ("icon.svg", "image/svg+xml"),
        ];
        for (name, ct) in want {
            let r = respond(name, &HeaderMap::new());
            assert_eq!(r.status(), StatusCode::OK, "{name}");
            assert_eq!(header(&r, header::CONTENT_TYPE), ct, "{name}");
            assert_eq!(header(&r, header::CACHE_CONTROL), "no-cache");
            assert_eq!(Some(header(&r, header::ETAG)), etag(name));
        }
        let mut tags: Vec<&str> = ASSETS.iter().filter_map(|a| etag(a.name)).collect();
        assert_eq!(tags.len(), ASSETS.len());
        tags.sort();
        tags.dedup();
        assert_eq!(tags.len(), ASSETS.len(), "distinct files, distinct tags");
        assert!(tags.iter().all(|t| t.len() == 26 && t.starts_with('"')));
    }

    #[test]
    fn a_matching_if_none_match_gives_304_and_a_stale_one_the_bytes() {
        let tag = etag("app.css").unwrap();
        for sent in [
            tag.to_string(),
            format!("W/{tag}"),
            format!("\"old\", {tag}"),
            "*".into(),
        ] {
            let mut h = HeaderMap::new();
            h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&sent).unwrap());
            let r = respond("app.css", &h);
            assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{sent}");
            assert_eq!(header(&r, header::ETAG), tag);
            assert_eq!(header(&r, header::CONTENT_SECURITY_POLICY), CSP);
        }
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"old\""));
        assert_eq!(respond("app.css", &h).status(), StatusCode::OK);
    }

    #[test]
    fn an_unknown_asset_is_a_json_404() {
        for name in ["nope.js", "", "../Cargo.toml", "app.js.map"] {
            let r = respond(name, &HeaderMap::new());
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{name}");
            assert_eq!(header(&r, header::CONTENT_TYPE), "application/json");
        }
    }

    #[test]
    fn the_page_references_only_assets_that_exist() {
        let refs = references(index_html());
        assert!(refs.len() >= 4, "{refs:?}");
        for r in &refs {
            let name = r
                .strip_prefix("/assets/")
                .unwrap_or_else(|| panic!("{r}: not an /assets/ path"));
            assert!(
                ASSETS.iter().any(|a| a.name == name && name != INDEX),
                "{r}"
            );
        }
        for js in [
            "levee-chart.js",
            "app.js",
            "overview.js",
            "incidents.js",
            "views.js",
        ] {
            assert!(refs.contains(&format!("/assets/{js}").as_str()), "{js}");
        }
    }

    #[test]
    fn the_overview_weighs_under_300_kb() {
        let refs = references(index_html());
        let total: usize = asset_of(INDEX).bytes.len()
            + refs
                .iter()
                .filter_map(|r| r.strip_prefix("/assets/"))
                .map(|n| asset_of(n).bytes.len())
                .sum::<usize>();
        assert!(total < 300 * 1024, "{total} bytes");
    }

    #[test]
    fn the_page_has_no_inline_script_style_or_external_resource() {
        for a in ASSETS {
            let text = std::str::from_utf8(a.bytes).unwrap();
            for bad in ["http://", "https://", "innerHTML", "eval("] {
                let ok = bad.starts_with("http") && a.name == "icon.svg";
                assert!(ok || !text.contains(bad), "{} has {bad}", a.name);
            }
        }
        let html = index_html();
        assert!(!html.contains(" style="), "inline style attribute");
        assert!(!html.contains("<style"), "inline style element");
        for (i, _) in html.match_indices(" on") {
            let name: String = html[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            assert!(
                !html[i + 1 + name.len()..].starts_with('='),
                "inline event handler {name}"
            );
        }
        for (i, _) in html.match_indices("<script") {
            let tag = &html[i..i + html[i..].find('>').unwrap()];
            assert!(tag.contains(" src=\"/assets/"), "inline script: {tag}");
        }
    }

    #[test]
    fn references_are_found_in_order() {
        let html = r##"<link href="/a.css"><script src="/b.js"></script><a href="#/x">"##;
        assert_eq!(references(html), vec!["/b.js", "/a.css"]);
    }
}
