//! Helpers shared by the integration tests: running `levee` as an operator would. They
//! need the levee binary (`CARGO_BIN_EXE_levee`, which only integration tests have);
//! everything else (daemon launchers, datagram builders, the seeded RNG, the webhook
//! endpoint) is in the test kit, `levee_testkit`.

#![allow(dead_code)] // each test crate uses a subset

pub(crate) mod api;
pub(crate) mod bgplab;
pub(crate) mod scenario;

use levee_testkit::daemon::sigterm;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Records, packets and bytes per destination address.
pub(crate) type Totals = BTreeMap<IpAddr, (u64, u64, u64)>;

/// tests/fixtures/flows.
pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/flows")
}

/// `levee --config CFG ARGS...`: (success, stdout + stderr).
pub(crate) fn levee_with(cfg: &Path, args: &[&str]) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_levee"))
        .args(["--config", cfg.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

/// Sums JSON lines as `flows decode` and `flows listen` print them.
pub(crate) fn totals(json_lines: &str) -> Totals {
    let mut t = Totals::new();
    for line in json_lines.lines() {
        let v: Value = serde_json::from_str(line).expect("levee prints JSON lines");
        let e = t
            .entry(v["dst_addr"].as_str().unwrap().parse().unwrap())
            .or_default();
        e.0 += 1;
        e.1 += v["packets"].as_u64().unwrap();
        e.2 += v["bytes"].as_u64().unwrap();
    }
    t
}

/// A running `levee flows listen`.
pub(crate) struct Levee {
    child: Child,
    stderr: std::thread::JoinHandle<String>,
}

/// Starts `levee flows listen ARGS` and waits until stderr shows `ready`.
pub(crate) fn listen(args: &[&str], ready: &str) -> Levee {
    let mut child = Command::new(env!("CARGO_BIN_EXE_levee"))
        .args(["flows", "listen", "--log", "warn"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start levee");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 && !line.contains(ready) {
        line.clear();
    }
    assert!(
        line.contains(ready),
        "levee exited before printing {ready:?}"
    );
    // Keep draining stderr so levee never blocks on it; keep it for the summary.
    let stderr = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = err.read_to_string(&mut rest);
        rest
    });
    Levee { child, stderr }
}

impl Levee {
    /// Waits `settle`, stops levee with SIGTERM (failing if it takes over 10 s), checks it
    /// exited cleanly, and returns its stdout and the rest of its stderr.
    pub(crate) fn stop(mut self, settle: Duration) -> (String, String) {
        let mut out = self.child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            out.read_to_string(&mut s).unwrap();
            s
        });
        std::thread::sleep(settle);
        let status = sigterm(&mut self.child, Duration::from_secs(10))
            .expect("levee did not stop within 10 s of SIGTERM");
        assert!(status.success());
        (reader.join().unwrap(), self.stderr.join().unwrap())
    }
}

/// A running `levee run`, its log in a file; killed on drop.
pub(crate) struct Running {
    child: Child,
    log: PathBuf,
}

impl Running {
    /// `levee --log info --config CFG run`, logging to `log`.
    pub(crate) fn start(cfg: &Path, log: PathBuf) -> Running {
        Running::start_via(&[], cfg, log)
    }

    /// The same through `wrapper` (such as `ip netns exec NS`), which must exec levee
    /// so that signals reach it.
    pub(crate) fn start_via(wrapper: &[&str], cfg: &Path, log: PathBuf) -> Running {
        let f = std::fs::File::create(&log).unwrap();
        let levee = env!("CARGO_BIN_EXE_levee");
        let (program, pre) = match wrapper.split_first() {
            Some((p, rest)) => (*p, [rest, &[levee]].concat()),
            None => (levee, Vec::new()),
        };
        let child = Command::new(program)
            .args(pre)
            .args(["--log", "info", "--config", cfg.to_str().unwrap(), "run"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(f)
            .spawn()
            .unwrap();
        Running { child, log }
    }

    /// Its log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, and a clean exit within 10 s; the log.
    pub(crate) fn stop(mut self) -> String {
        let status = sigterm(&mut self.child, Duration::from_secs(10));
        assert!(
            status.is_some_and(|s| s.success()),
            "levee did not stop cleanly: {}",
            self.log()
        );
        self.log()
    }

    /// SIGKILL: a crash, nothing withdrawn; the log.
    pub(crate) fn crash(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `levee mitigate list --json` against the running daemon of `cfg`.
pub(crate) fn list(cfg: &Path) -> Value {
    let (ok, out) = levee_with(cfg, &["mitigate", "list", "--json"]);
    assert!(ok, "{out}");
    serde_json::from_str(&out).unwrap()
}

/// `GET path` over HTTP/1.1 to `addr`: (status line, body).
pub(crate) fn http_get(addr: &str, path: &str) -> (String, String) {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).unwrap();
    let (head, body) = r.split_once("\r\n\r\n").unwrap_or((&r, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

/// The value of a metric line `name{labels} value` (labels as written, may be empty).
pub(crate) fn metric(body: &str, name_and_labels: &str) -> Option<f64> {
    body.lines().find_map(|l| {
        l.strip_prefix(name_and_labels)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// Reads the server-sent events of `GET path` at `addr` for `secs` seconds, in a
/// thread: each (event name, data) in order.
pub(crate) fn sse(
    addr: &str,
    path: &str,
    secs: u64,
) -> std::thread::JoinHandle<Vec<(String, Value)>> {
    use std::io::Write;
    let (addr, path) = (addr.to_string(), path.to_string());
    std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        let mut raw = Vec::new();
        let mut buf = [0u8; 65536];
        while std::time::Instant::now() < deadline {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
        }
        let text = String::from_utf8_lossy(&raw).to_string();
        let mut out = Vec::new();
        let mut name = String::new();
        for line in text.lines() {
            if let Some(n) = line.strip_prefix("event: ") {
                name = n.trim().to_string();
            } else if let Some(d) = line.strip_prefix("data: ")
                && let Ok(v) = serde_json::from_str(d.trim())
            {
                out.push((std::mem::take(&mut name), v));
            }
        }
        out
    })
}
