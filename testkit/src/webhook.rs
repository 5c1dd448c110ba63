//! A webhook endpoint for the tests of levee's webhook adapter (its unit tests and the
//! appliance's integration tests): HTTP or HTTPS on loopback, in a thread of its own.
//! It checks each request's signature (`X-Levee-Signature`: `sha256=HEX`, HMAC-SHA256
//! over `TIMESTAMP.BODY`, RFC 2104 with FIPS 180-4) and timestamp
//! (`X-Levee-Timestamp`, within 5 minutes), keeps the routes announced to it as a
//! receiver would, and answers as scripted (a queue of answers, or one answer while
//! "down"). HTTPS uses the throwaway certificates of `testkit/fixtures/tls`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as Extract;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// The secret the tests configure.
pub const SECRET: &str = "levee-test-secret-0123456789abcdef";

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    /// Headers, names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: String,
    /// Whether the signature matched and the timestamp was within 5 minutes.
    pub verified: bool,
}

/// A scripted answer: status and extra headers.
pub type Answer = (u16, Vec<(&'static str, String)>);

#[derive(Debug, Default)]
struct State {
    script: VecDeque<Answer>,
    down: Option<u16>,
    seen: Vec<Request>,
    /// Route key (prefix, or the FlowSpec match) to the announced route's text.
    routes: BTreeMap<String, String>,
}

/// A running endpoint.
#[derive(Debug)]
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// A test certificate or key (see testkit/fixtures/tls/README.md): `ca.pem`,
/// `server.pem`, `server.key`.
pub fn fixture(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/tls")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `sha256=HEX` over `TIMESTAMP.BODY`, as the receiver's own check.
pub fn expected_signature(timestamp: &str, body: &[u8]) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    m.update(timestamp.as_bytes());
    m.update(b".");
    m.update(body);
    let hex: String = m
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn key(route: &str) -> String {
    match route.split_once(" then ") {
        _ if route.starts_with("route ") => route.split(' ').take(2).collect::<Vec<_>>().join(" "),
        Some((m, _)) => m.to_string(),
        None => route.to_string(),
    }
}

async fn hook(
    Extract(st): Extract<Arc<Mutex<State>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let h: BTreeMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let ts = h.get("x-levee-timestamp").cloned().unwrap_or_default();
    let fresh = ts.parse::<u64>().is_ok_and(|t| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        now.abs_diff(t) <= 300
    });
    let verified = fresh && h.get("x-levee-signature") == Some(&expected_signature(&ts, &body));
    let text = String::from_utf8_lossy(&body).to_string();
    let mut s = st.lock().unwrap();
    s.seen.push(Request {
        headers: h,
        body: text.clone(),
        verified,
    });
    if !verified {
        return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
    }
    let answer = s
        .down
        .map(|d| (d, Vec::new()))
        .or_else(|| s.script.pop_front());
    if let Some((status, extra)) = answer {
        let status = StatusCode::from_u16(status).unwrap();
        let mut r = (status, format!("scripted {status}")).into_response();
        for (k, v) in extra {
            r.headers_mut().insert(k, v.parse().unwrap());
        }
        if !status.is_success() {
            return r;
        }
    }
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) else {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    let route = doc["route"].as_str().unwrap_or_default().to_string();
    match doc["event"].as_str() {
        Some("announce") => {
            s.routes.insert(key(&route), route);
        }
        Some("withdraw") => {
            s.routes.remove(&key(&route));
        }
        _ => return (StatusCode::BAD_REQUEST, "unknown event").into_response(),
    }
    StatusCode::NO_CONTENT.into_response()
}

/// TLS on top of a TCP listener; failed handshakes are skipped.
struct Tls {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for Tls {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((s, a)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(t) = self.acceptor.accept(s).await {
                return (t, a);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

fn acceptor() -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&fixture("server.pem"))
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_slice(&fixture("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
}

impl Receiver {
    /// Starts an endpoint at `http://ADDR/levee` (`https://` with `tls`).
    pub fn start(tls: bool) -> Receiver {
        let state: Arc<Mutex<State>> = Arc::default();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let app = Router::new()
                    .route("/levee", axum::routing::post(hook))
                    .with_state(st);
                let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(tcp.local_addr().unwrap()).unwrap();
                let stopped = async {
                    let _ = stopped.await;
                };
                if tls {
                    let l = Tls {
                        tcp,
                        acceptor: acceptor(),
                    };
                    axum::serve(l, app)
                        .with_graceful_shutdown(stopped)
                        .await
                        .unwrap();
                } else {
                    axum::serve(tcp, app)
                        .with_graceful_shutdown(stopped)
                        .await
                        .unwrap();
                }
            });
        });
        Receiver {
            addr: addr_rx.recv().unwrap(),
            state,
            stop: Some(stop),
        }
    }

    /// The endpoint's URL.
    pub fn url(&self, tls: bool) -> String {
        format!(
            "{}://{}/levee",
            if tls { "https" } else { "http" },
            self.addr
        )
    }

    /// Queues answers for the next requests (after them: 204, and the route is kept).
    pub fn script(&self, answers: Vec<Answer>) {
        self.state.lock().unwrap().script.extend(answers);
    }

    /// Answers every request with `status` while `Some`.
    pub fn down(&self, status: Option<u16>) {
        self.state.lock().unwrap().down = status;
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().seen.clone()
    }

    /// The routes announced and not withdrawn, as their texts.
    pub fn routes(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .routes
            .values()
            .cloned()
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}
