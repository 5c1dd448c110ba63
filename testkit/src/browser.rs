//! A real browser for page tests: Debian's `chromium`, headless, driven through
//! `chromedriver` over the W3C WebDriver protocol (JSON over HTTP on loopback).
//!
//! The protocol needs a dozen commands here, so they are spoken directly over a
//! `TcpStream` rather than through a WebDriver crate and its HTTP stack. Each
//! [`Browser`] has its own chromedriver on a free port and its own profile directory,
//! both removed when it is dropped. Nothing is downloaded: the browser is the system's.

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The W3C element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium session.
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    profile: PathBuf,
}

/// An element of the page.
#[derive(Debug, Clone)]
pub struct Element(String);

/// A WebDriver error: the command and what the driver said.
#[derive(Debug)]
pub struct DriverError(pub String);

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a `width`×`height` window.
    pub fn start(width: u32, height: u32) -> Browser {
        let port = crate::lab::free_port();
        let profile = crate::lab::scratch("chromium-profile");
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut b = Browser {
            driver,
            port,
            session: String::new(),
            profile,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while b.call("GET", "/status", None).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not answer");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
                    "--disable-background-networking", "--disable-sync",
                    "--hide-scrollbars",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", b.profile.display()),
                ],
            },
        }}});
        let v = b
            .call("POST", "/session", Some(&caps))
            .unwrap_or_else(|e| panic!("no browser session: {e}"));
        b.session = v["sessionId"].as_str().expect("a session id").to_string();
        b
    }

    /// One command: method, path (after the driver's root), JSON body; its `value`.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, DriverError> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut s = TcpStream::connect(("127.0.0.1", self.port))
            .map_err(|e| DriverError(format!("{method} {path}: {e}")))?;
        s.set_read_timeout(Some(Duration::from_secs(60))).ok();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .map_err(|e| DriverError(format!("{method} {path}: {e}")))?;
        let payload =
            read_response(&mut s).map_err(|e| DriverError(format!("{method} {path}: {e}")))?;
        let v: Value = serde_json::from_str(&payload)
            .map_err(|e| DriverError(format!("{method} {path}: {e}: {payload}")))?;
        if let Some(err) = v["value"]["error"].as_str() {
            return Err(DriverError(format!(
                "{method} {path}: {err}: {}",
                v["value"]["message"].as_str().unwrap_or("")
            )));
        }
        Ok(v["value"].clone())
    }

    fn session_call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, DriverError> {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    /// Opens `url`.
    pub fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(&json!({ "url": url })))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// The elements `css` matches now.
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        self.session_call(
            "POST",
            "/elements",
            Some(&json!({"using": "css selector", "value": css})),
        )
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e[ELEMENT].as_str().map(|s| Element(s.to_string())))
        .collect()
    }

    /// The first element `css` matches now.
    pub fn find(&self, css: &str) -> Option<Element> {
        self.find_all(css).into_iter().next()
    }

    /// Waits up to `secs` for `css` to match; panics with `what` if it never does.
    pub fn wait_for(&self, css: &str, secs: u64) -> Element {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(e) = self.find(css) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "{css} did not appear within {secs} s; the page is: {}",
                self.session_call(
                    "POST",
                    "/execute/sync",
                    Some(&json!({"script": "return location.href + '\\n' + \
                        document.documentElement.outerHTML.slice(0, 4000);", "args": []})),
                )
                .map(|v| v.to_string())
                .unwrap_or_else(|e| e.to_string())
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// An element's attribute (`None` if it has none).
    pub fn attribute(&self, e: &Element, name: &str) -> Option<String> {
        self.session_call("GET", &format!("/element/{}/attribute/{name}", e.0), None)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
    }

    /// The visible text of the first element `css` matches (empty if none).
    pub fn text(&self, css: &str) -> String {
        self.find(css)
            .and_then(|e| {
                self.session_call("GET", &format!("/element/{}/text", e.0), None)
                    .ok()
            })
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Clicks an element.
    pub fn click(&self, e: &Element) {
        self.session_call("POST", &format!("/element/{}/click", e.0), Some(&json!({})))
            .unwrap_or_else(|err| panic!("{err}"));
    }

    /// Types into an element.
    pub fn type_into(&self, e: &Element, text: &str) {
        self.session_call(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(&json!({ "text": text })),
        )
        .unwrap_or_else(|err| panic!("{err}"));
    }

    /// Runs `script` in the page (a function body; `arguments` holds `args`).
    pub fn execute(&self, script: &str, args: &[Value]) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(&json!({"script": script, "args": args})),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Accepts the open `confirm()` or `alert()` dialog, if any.
    pub fn accept_dialog(&self) -> bool {
        self.session_call("POST", "/alert/accept", Some(&json!({})))
            .is_ok()
    }

    /// Resizes the window.
    pub fn resize(&self, width: u32, height: u32) {
        let _ = self.session_call(
            "POST",
            "/window/rect",
            Some(&json!({"width": width, "height": height})),
        );
    }

    /// Saves a PNG screenshot of the whole page (the window made as tall as the page,
    /// up to 4,000 px, then put back) to `path`.
    pub fn screenshot_page(&self, path: &Path, width: u32, height: u32) {
        let tall = self
            .execute("return document.documentElement.scrollHeight;", &[])
            .as_u64()
            .unwrap_or(u64::from(height))
            .clamp(u64::from(height), 4000) as u32;
        self.resize(width, tall);
        std::thread::sleep(Duration::from_millis(300));
        self.screenshot(path);
        self.resize(width, height);
    }

    /// Saves a PNG screenshot of the window to `path`.
    pub fn screenshot(&self, path: &Path) {
        let v = self
            .session_call("GET", "/screenshot", None)
            .unwrap_or_else(|e| panic!("{e}"));
        let png = base64_decode(v.as_str().unwrap_or_default());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Reads one response's body: by its Content-Length (chromedriver keeps connections
/// open whatever the request asks), chunked, or to the end.
fn read_response(s: &mut TcpStream) -> std::io::Result<String> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok(String::new());
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
    let length = head.lines().find_map(|l| {
        l.strip_prefix("content-length:")
            .and_then(|v| v.trim().parse::<usize>().ok())
    });
    let chunked = head.contains("transfer-encoding: chunked");
    loop {
        let body = &raw[head_end..];
        let done = match length {
            Some(n) => body.len() >= n,
            None if chunked => body.windows(5).any(|w| w == b"0\r\n\r\n"),
            None => false,
        };
        if done {
            break;
        }
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&raw[head_end..]).to_string();
    Ok(if chunked { dechunk(&body) } else { body })
}

/// A chunked HTTP body, joined.
fn dechunk(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].strip_prefix("\r\n").unwrap_or(&tail[n..]);
    }
    out
}

/// Standard base64 (padding optional; other characters skipped).
pub fn base64_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_chunks_decode() {
        assert_eq!(base64_decode("aGVsbG8gd29ybGQ="), b"hello world");
        assert_eq!(base64_decode("iVBORw0KGgo="), b"\x89PNG\r\n\x1a\n");
        assert_eq!(
            dechunk("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
            "hello world"
        );
    }
}
