//! The web API's lab: a `levee run` on loopback with users and tokens of every role,
//! its store optionally filled first ([`seed_incidents`]), and a minimal HTTP/1.1
//! client.

use levee::auth::{AuthDb, Role, secret};
use levee::store::traffic::SeriesRow;
use levee::store::{Store, Write};
use levee_testkit::daemon::sigterm;
use levee_testkit::lab::{free_port, free_udp_port, poll, scratch};
use serde_json::Value;
use std::io::{Read, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One HTTP/1.1 exchange (Connection: close): the status, the headers (lower-case
/// names) and the body.
pub(crate) struct Reply {
    /// The status.
    pub(crate) status: u16,
    /// The headers, names in lower case.
    pub(crate) headers: Vec<(String, String)>,
    /// The body.
    pub(crate) body: String,
}

impl Reply {
    /// The body as JSON.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// A header's value.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The error code of a JSON error.
    pub(crate) fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or("").to_string()
    }
}

pub(crate) fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    // Host: 127.0.0.1 unless the caller gives its own.
    let host = if headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        ""
    } else {
        "Host: 127.0.0.1\r\n"
    };
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\n{host}Connection: close\r\n\
         Content-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

/// A daemon on loopback with users and tokens of every role.
pub(crate) struct Lab {
    /// Its directory (config, store, auth database).
    pub(crate) dir: PathBuf,
    child: Child,
    /// The web endpoint's port.
    pub(crate) port: u16,
    /// The sFlow listener's port (loopback).
    pub(crate) sflow: u16,
    /// Bearer tokens by role.
    tokens: Vec<(Role, String)>,
}

pub(crate) const PW: &str = "correct horse battery staple";

impl Lab {
    /// A daemon with an empty store.
    pub(crate) fn start(name: &str) -> Lab {
        Lab::start_with(name, |_| {})
    }

    /// A daemon whose store `seed` filled first (given the store's path).
    pub(crate) fn start_with(name: &str, seed: impl FnOnce(&Path)) -> Lab {
        let dir = scratch(&format!("api-{name}"));
        seed(&dir.join("levee.db"));
        let port = free_port();
        let udp = free_udp_port();
        let cfg = dir.join("levee.yaml");
        std::fs::write(
            &cfg,
            format!(
                "listeners:\n  sflow: {{bind: 127.0.0.1:{udp}}}\n  netflow: {{enabled: false}}\n  \
                 ipfix: {{enabled: false}}\nprotected_networks:\n  - name: lab\n    \
                 prefixes: [192.0.2.0/24, '2001:db8::/32']\n\
                 ingest: {{max_exporter_rate: 100Tbps}}\nmitigation:\n  adapters: [webhook]\n  webhook:\n    \
                 url: http://127.0.0.1:9/levee\n    secret: 0123456789abcdef0123\n    \
                 attempts: 1\n    timeout: 1s\n\
                 store: {{path: {d}/levee.db}}\ncontrol: {{socket: {d}/control.sock}}\n\
                 web: {{listen: '127.0.0.1:{port}'}}\n",
                d = dir.display()
            ),
        )
        .unwrap();
        let mut db = AuthDb::open(&dir.join("levee.auth.db")).unwrap();
        let hash = secret::hash_password(PW).unwrap();
        let mut tokens = Vec::new();
        for r in Role::ALL {
            db.add_user(1, "test", r.as_str(), r, &hash).unwrap();
            let t = db.create_token(1, "test", r.as_str(), r, None).unwrap();
            tokens.push((r, t));
        }
        let child = Command::new(env!("CARGO_BIN_EXE_levee"))
            .arg("--config")
            .arg(&cfg)
            .arg("run")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lab = Lab {
            dir,
            child,
            port,
            sflow: udp,
            tokens,
        };
        poll("the API to answer", 120, |last| {
            let r = TcpStream::connect(("127.0.0.1", port))
                .ok()
                .map(|_| http(port, "GET", "/api/v1/status", &[], ""));
            *last = r.as_ref().map(|r| r.body.clone()).unwrap_or_default();
            r.filter(|r| r.status == 200 && r.json()["mitigation"]["up"] == true)
        });
        lab
    }

    /// `role`'s bearer token.
    pub(crate) fn token(&self, role: Role) -> String {
        self.tokens.iter().find(|t| t.0 == role).unwrap().1.clone()
    }

    /// A request with `role`'s bearer token (none: anonymous).
    pub(crate) fn call(
        &self,
        role: Option<Role>,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Reply {
        let bearer = role.map(|r| format!("Bearer {}", self.token(r)));
        let mut h: Vec<(&str, &str)> = Vec::new();
        if let Some(b) = &bearer {
            h.push(("Authorization", b));
        }
        let text = body.map(Value::to_string).unwrap_or_default();
        if body.is_some() {
            h.push(("Content-Type", "application/json"));
        }
        http(self.port, method, path, &h, &text)
    }

    /// Runs `levee` with the lab's config.
    pub(crate) fn levee(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_levee"))
            .arg("--config")
            .arg(self.dir.join("levee.yaml"))
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        sigterm(&mut self.child, Duration::from_secs(30));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// No role (anonymous), then every role, lowest first.
pub(crate) fn roles() -> Vec<Option<Role>> {
    std::iter::once(None).chain(Role::ALL.map(Some)).collect()
}

/// When the seeded incidents start: incident `i` at `SEED_START_US + i` minutes.
pub(crate) const SEED_START_US: u64 = 1_800_000_000_000_000;

/// A seeded incident's victim: one of 250 addresses.
pub(crate) fn seed_victim(i: u64) -> String {
    format!("192.0.2.{}", i % 250 + 1)
}

/// A seeded incident's network: `lab` for even ids, `edge` for odd.
pub(crate) fn seed_network(i: u64) -> &'static str {
    if i.is_multiple_of(2) { "lab" } else { "edge" }
}

/// A seeded incident's family: a SYN flood every fifth, UDP floods otherwise.
pub(crate) fn seed_family(i: u64) -> levee_detect::classify::Family {
    use levee_detect::classify::Family;
    if i.is_multiple_of(5) {
        Family::SynFlood
    } else {
        Family::UdpFlood
    }
}

/// Whether a seeded incident is still open: every hundredth.
pub(crate) fn seed_open(i: u64) -> bool {
    i.is_multiple_of(100)
}

/// Seeded incident `i`'s event (30 top sources, so the stored list's cap shows).
pub(crate) fn seed_event(i: u64) -> levee_detect::Event {
    use levee_detect::policy::{Current, Metric, Reason, Trigger};
    use levee_detect::{EventKind, Victim};
    let start_us = SEED_START_US + i * 60_000_000;
    let ip =
        |k: u64| -> std::net::IpAddr { format!("198.51.100.{}", k % 250 + 1).parse().unwrap() };
    levee_detect::Event {
        kind: if seed_open(i) {
            EventKind::Start
        } else {
            EventKind::End
        },
        id: i,
        time_us: start_us + 30_000_000,
        start_us,
        victim: Victim::Host(seed_victim(i).parse().unwrap()),
        network: seed_network(i).into(),
        family: seed_family(i),
        vector: "udp/53".into(),
        confidence: 90,
        trigger: Trigger {
            reason: Reason::Baseline,
            metric: Metric::Pps,
            value: 50_000 + i,
            threshold: 10_000,
        },
        rate: Current {
            pps: 40_000,
            bps: 320_000_000,
            flows: 900,
        },
        peak: Current {
            pps: 50_000 + i,
            bps: 400_000_000,
            flows: 1_000,
        },
        distinct_sources: 1_234,
        botnet: true,
        spoofed: false,
        top_sources: (0..30).map(|k| (ip(k), 0.02)).collect(),
        top_src_ports: vec![(53, 0.9)],
        top_dst_ports: vec![(4444, 0.5), (80, 0.1)],
        top_packet_lengths: vec![(512, 0.8)],
        threat_intel: vec![(ip(0), "blocklist".into())],
        threat_intel_packets: 77,
    }
}

/// Fills the store at `path` with incidents 1 to `n` ([`seed_event`]), each with a
/// withdrawn mitigation (the webhook adapter applied and withdrew it) when
/// `mitigations`, and a 60-point traffic series every thousandth incident.
pub(crate) fn seed_incidents(path: &Path, n: u64, mitigations: bool) {
    use levee::adapters::Outcome;
    use levee::store::audit::Actor;
    use levee_mitigate::{Holder, Mitigation, Origin, Output, Target, WithdrawReason};
    let mut store = Store::open(path).unwrap();
    let mut batch = Vec::new();
    for i in 1..=n {
        let e = seed_event(i);
        batch.push(Write::Incident(Box::new(e.clone())));
        if i.is_multiple_of(1000) {
            batch.push(Write::Series {
                now: e.time_us,
                series: Box::new(SeriesRow {
                    incident: i,
                    victim: seed_victim(i),
                    network: seed_network(i).into(),
                    start_s: e.start_us / 1_000_000,
                    step_s: 1,
                    points: (0..60).map(|s| (1_000 * s, 8_000 * s)).collect(),
                }),
            });
        }
        if mitigations {
            let victim = seed_victim(i);
            let m = Mitigation {
                id: i,
                route: format!("route {victim}/32 blackhole").parse().unwrap(),
                victim: victim.clone(),
                network: seed_network(i).into(),
                level: None,
                origin: Origin::Auto,
                incident: Some(i),
                created_us: e.start_us,
                expires_us: e.start_us + 600_000_000,
                dry_run: false,
                holders: [Holder::Auto(Target::Host(victim.parse().unwrap()))].into(),
            };
            batch.push(Write::Apply {
                now: e.start_us,
                actor: Actor::Detector,
                outputs: vec![
                    Output::Announce(m.clone()),
                    Output::Withdraw(m, WithdrawReason::Expired),
                ],
            });
            for state in [Outcome::Applied, Outcome::Withdrawn] {
                batch.push(Write::AdapterResult {
                    now: e.start_us,
                    id: i,
                    adapter: "webhook".into(),
                    state,
                    error: None,
                });
            }
        }
        if batch.len() >= 4096 {
            assert!(store.write(&batch).is_empty());
            batch.clear();
        }
    }
    assert!(store.write(&batch).is_empty());
}
