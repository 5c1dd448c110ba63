//! The local control channel: `levee mitigate add|withdraw|list` talk to the running
//! daemon over a Unix socket (default /run/levee/control.sock, mode 0600).
//!
//! Authentication is twofold: the kernel's peer credentials (`SO_PEERCRED`) must show
//! root or the user the daemon runs as, and each request carries the token the daemon
//! wrote next to the socket (`control.sock.token`, mode 0600, new at every start).
//! One JSON request per connection, one JSON answer:
//!
//! ```text
//! {"token": "...", "op": "add", "route": "flow destination 192.0.2.1/32 then discard", "ttl": 600}
//! {"token": "...", "op": "add", "victim": "192.0.2.1", "level": 3}
//! {"token": "...", "op": "withdraw", "id": 17}
//! {"token": "...", "op": "list"}
//! {"token": "...", "op": "reload"}
//! ```
//!
//! `reload` goes to the daemon's reloader ([`ReloadRequest`]), the others to the
//! mitigation service.

use crate::mitigation::service::{Command, Request};
use crate::mitigation::status::Reply;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::io::Read;
use std::net::IpAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

/// What a reload did, as `levee reload` prints it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReloadReport {
    /// The config that was read.
    pub origin: String,
    /// What changed and was applied, one line each.
    pub applied: Vec<String>,
    /// Sections that changed and take effect at the next restart.
    pub restart: Vec<String>,
    /// Changes that could not be applied (the running state is kept for them).
    pub failed: Vec<String>,
}

/// Reloads by outcome, for /metrics.
#[derive(Debug, Default)]
pub struct ReloadCounters {
    /// Applied in full.
    pub applied: std::sync::atomic::AtomicU64,
    /// Refused: the config did not validate (the running one was kept).
    pub refused: std::sync::atomic::AtomicU64,
    /// Applied, but some change failed (and kept its running value).
    pub partial: std::sync::atomic::AtomicU64,
}

/// A reload asked for over the socket: the answer is the report, or why the config
/// was refused (the running one is kept).
pub type ReloadRequest = oneshot::Sender<Result<ReloadReport, String>>;

/// The longest request accepted.
const MAX_REQUEST: u64 = 64 << 10;
/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the control channel could not be set up or used.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Socket or token file trouble.
    #[error("control socket {path}: {what}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// Why it failed.
        source: std::io::Error,
    },
    /// No daemon is running on this socket.
    #[error(
        "no levee daemon is running with control socket {socket} ({why}): start one with \
         `levee run`, or give the running one's socket with --socket"
    )]
    NotRunning {
        /// The socket.
        socket: PathBuf,
        /// What showed it.
        why: &'static str,
    },
    /// The daemon answered something that is not JSON.
    #[error("control socket: the daemon's answer is not JSON: {0}")]
    Answer(serde_json::Error),
}

fn io<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(std::io::Error) -> ControlError + 'a {
    move |source| ControlError::Io {
        path: path.to_path_buf(),
        what,
        source,
    }
}

/// The token file for a socket.
pub fn token_path(socket: &Path) -> PathBuf {
    let mut p = socket.as_os_str().to_owned();
    p.push(".token");
    PathBuf::from(p)
}

/// 32 random bytes from the kernel, as hex.
fn new_token() -> std::io::Result<String> {
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(crate::human::hex(&b))
}

/// Compares without an early exit, so timing does not tell how much matched.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The listening side, owned by the daemon.
#[derive(Debug)]
pub struct Server {
    socket: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    token: String,
    op: String,
    route: Option<String>,
    victim: Option<IpAddr>,
    level: Option<u8>,
    ttl: Option<u64>,
    id: Option<u64>,
}

fn request(w: Wire) -> Result<Request, String> {
    // From 1 s to 30 days: no expiry may wrap or overflow (a raw request is checked as
    // the command line is).
    if let Some(t) = w.ttl
        && !t
            .checked_mul(1_000_000)
            .is_some_and(levee_mitigate::settings::valid_ttl_us)
    {
        let max_s = levee_mitigate::settings::MAX_TTL_US / 1_000_000;
        return Err(format!("ttl {t}: expected 1 to {max_s} seconds (30 days)"));
    }
    let ttl = w.ttl.map(Duration::from_secs);
    match (w.op.as_str(), w.route, w.victim, w.level, w.id) {
        ("add", Some(route), None, None, None) => Ok(Request::AddRoute { route, ttl }),
        ("add", None, Some(victim), Some(level), None) => {
            Ok(Request::AddLevel { victim, level, ttl })
        }
        ("add", ..) => Err("add takes a route, or a victim and a level".into()),
        ("withdraw", None, None, None, Some(id)) => Ok(Request::Withdraw { id }),
        ("withdraw", ..) => Err("withdraw takes an id".into()),
        ("list", None, None, None, None) => Ok(Request::List),
        (op, ..) => Err(format!(
            "unknown or malformed request {op:?} (add, withdraw, list, reload)"
        )),
    }
}

impl Server {
    /// Binds the socket (replacing a stale one), writes a fresh token, and serves
    /// requests by passing them to `commands`.
    pub fn start(
        socket: &Path,
        commands: mpsc::Sender<Command>,
        reload: mpsc::Sender<ReloadRequest>,
    ) -> Result<Server, ControlError> {
        if let Some(dir) = socket.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io(socket, "creating its directory"))?;
        }
        if std::os::unix::net::UnixStream::connect(socket).is_ok() {
            return Err(ControlError::Io {
                path: socket.to_path_buf(),
                what: "in use",
                source: std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    "another levee is running",
                ),
            });
        }
        let _ = std::fs::remove_file(socket);
        let listener = UnixListener::bind(socket).map_err(io(socket, "binding"))?;
        std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))
            .map_err(io(socket, "setting its mode"))?;
        let token = new_token().map_err(io(socket, "reading /dev/urandom"))?;
        let tpath = token_path(socket);
        let _ = std::fs::remove_file(&tpath);
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tpath)
                .map_err(io(&tpath, "writing the token"))?;
            f.write_all(token.as_bytes())
                .map_err(io(&tpath, "writing the token"))?;
        }
        // The daemon's user owns the token file: the uid peers must match (or root).
        let owner = std::fs::metadata(&tpath)
            .map_err(io(&tpath, "reading the token"))?
            .uid();
        let task = tokio::spawn(async move {
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of descriptors, say: wait instead of spinning.
                        warn!(error = %e, "control socket: accept failed");
                        tokio::time::sleep(Duration::from_millis(250)).await;
                        continue;
                    }
                };
                let (token, commands, reload) = (token.clone(), commands.clone(), reload.clone());
                tokio::spawn(async move {
                    if let Err(e) = serve(stream, &token, owner, commands, reload).await {
                        debug!(error = %e, "control connection ended");
                    }
                });
            }
        });
        Ok(Server {
            socket: socket.to_path_buf(),
            task,
        })
    }

    /// Stops listening and removes the socket and token.
    pub fn stop(self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_file(token_path(&self.socket));
    }
}

async fn serve(
    stream: UnixStream,
    token: &str,
    owner: u32,
    commands: mpsc::Sender<Command>,
    reload: mpsc::Sender<ReloadRequest>,
) -> std::io::Result<()> {
    let uid = stream.peer_cred()?.uid();
    let (rd, mut wr) = stream.into_split();
    let answer = if uid != 0 && uid != owner {
        warn!(
            uid,
            "control request from a user that is neither root nor levee's; refused"
        );
        json!({"ok": false, "error": "permission denied"})
    } else {
        let mut line = String::new();
        let mut rd = BufReader::new(rd).take(MAX_REQUEST);
        match tokio::time::timeout(READ_TIMEOUT, rd.read_line(&mut line)).await {
            Err(_) => json!({"ok": false, "error": "timed out waiting for the request"}),
            Ok(r) => {
                r?;
                match serde_json::from_str::<Wire>(&line) {
                    Err(e) => json!({"ok": false, "error": format!("bad request: {e}")}),
                    Ok(w) if !same(&w.token, token) => {
                        warn!(uid, "control request with a wrong token; refused");
                        json!({"ok": false, "error": "bad token"})
                    }
                    Ok(w) if w.op == "reload" => reload_json(&w, &reload).await,
                    Ok(w) => match request(w) {
                        Err(e) => json!({"ok": false, "error": e}),
                        Ok(request) => {
                            let (reply, rx) = oneshot::channel();
                            if commands
                                .send(Command {
                                    request,
                                    reply,
                                    actor: crate::store::audit::Actor::Operator,
                                })
                                .await
                                .is_err()
                            {
                                json!({"ok": false, "error": "levee is stopping"})
                            } else {
                                rx.await.map_or_else(
                                    |_| json!({"ok": false, "error": "levee is stopping"}),
                                    reply_json,
                                )
                            }
                        }
                    },
                }
            }
        }
    };
    let mut out = answer.to_string();
    out.push('\n');
    wr.write_all(out.as_bytes()).await?;
    wr.shutdown().await
}

/// Asks the reloader and answers with its report (or its refusal).
async fn reload_json(w: &Wire, reload: &mpsc::Sender<ReloadRequest>) -> Value {
    if w.route.is_some()
        || w.victim.is_some()
        || w.level.is_some()
        || w.ttl.is_some()
        || w.id.is_some()
    {
        return json!({"ok": false, "error": "reload takes no arguments"});
    }
    let (tx, rx) = oneshot::channel();
    if reload.send(tx).await.is_err() {
        return json!({"ok": false, "error": "levee is stopping"});
    }
    match rx.await {
        Err(_) => json!({"ok": false, "error": "levee is stopping"}),
        Ok(Err(e)) => json!({"ok": false, "error": e}),
        Ok(Ok(report)) => {
            let mut v = serde_json::to_value(report).unwrap_or_else(|_| json!({}));
            v["ok"] = json!(true);
            v
        }
    }
}

/// A reply on the wire: the answer's fields beside `"ok": true`, or `"ok": false`
/// with the error.
fn reply_json(r: Reply) -> Value {
    match r {
        Ok(answer) => {
            let mut v = serde_json::to_value(answer).unwrap_or_else(|_| json!({}));
            v["ok"] = json!(true);
            v
        }
        Err(e) => json!({"ok": false, "error": e}),
    }
}

/// The client side: sends one request (the token is read from next to the socket) and
/// returns the daemon's answer.
pub async fn call(socket: &Path, mut request: Value) -> Result<Value, ControlError> {
    let tpath = token_path(socket);
    let not_running = |why| ControlError::NotRunning {
        socket: socket.to_path_buf(),
        why,
    };
    let token = std::fs::read_to_string(&tpath).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => not_running("it wrote no token"),
        _ => io(
            &tpath,
            "reading the token (run as root or as the user levee runs as)",
        )(e),
    })?;
    request["token"] = json!(token.trim());
    let mut s = UnixStream::connect(socket)
        .await
        .map_err(|e| match e.kind() {
            // A token left by a daemon that was killed: nothing listens.
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                not_running("nothing listens: a daemon that was killed left its token")
            }
            _ => io(socket, "connecting")(e),
        })?;
    let mut line = request.to_string();
    line.push('\n');
    s.write_all(line.as_bytes())
        .await
        .map_err(io(socket, "sending"))?;
    let mut answer = String::new();
    BufReader::new(s)
        .take(16 << 20)
        .read_line(&mut answer)
        .await
        .map_err(io(socket, "reading the answer"))?;
    serde_json::from_str(&answer).map_err(ControlError::Answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(s: &str) -> Result<Request, String> {
        request(serde_json::from_str(s).unwrap())
    }

    #[tokio::test]
    async fn reload_takes_no_arguments_and_answers_with_the_report_or_the_refusal() {
        let (tx, mut rx) = mpsc::channel::<ReloadRequest>(1);
        let w = |s: &str| serde_json::from_str::<Wire>(s).unwrap();
        let v = reload_json(&w(r#"{"token":"t","op":"reload","id":3}"#), &tx).await;
        assert_eq!(
            v,
            json!({"ok": false, "error": "reload takes no arguments"})
        );
        let daemon = tokio::spawn(async move {
            let report = ReloadReport {
                applied: vec!["web endpoint moved".into()],
                ..ReloadReport::default()
            };
            rx.recv().await.unwrap().send(Ok(report)).unwrap();
            rx.recv()
                .await
                .unwrap()
                .send(Err("bad config".into()))
                .unwrap();
        });
        let v = reload_json(&w(r#"{"token":"t","op":"reload"}"#), &tx).await;
        assert_eq!(v["ok"], true);
        assert_eq!(v["applied"], json!(["web endpoint moved"]));
        let v = reload_json(&w(r#"{"token":"t","op":"reload"}"#), &tx).await;
        assert_eq!(v, json!({"ok": false, "error": "bad config"}));
        daemon.await.unwrap();
    }

    #[test]
    fn requests() {
        assert_eq!(
            wire(r#"{"token":"t","op":"add","route":"route 192.0.2.1/32","ttl":60}"#),
            Ok(Request::AddRoute {
                route: "route 192.0.2.1/32".into(),
                ttl: Some(Duration::from_secs(60))
            })
        );
        assert_eq!(
            wire(r#"{"token":"t","op":"add","victim":"192.0.2.1","level":3}"#),
            Ok(Request::AddLevel {
                victim: "192.0.2.1".parse().unwrap(),
                level: 3,
                ttl: None
            })
        );
        assert_eq!(
            wire(r#"{"token":"t","op":"withdraw","id":4}"#),
            Ok(Request::Withdraw { id: 4 })
        );
        assert!(wire(r#"{"token":"t","op":"add","route":"x","victim":"192.0.2.1"}"#).is_err());
        assert!(wire(r#"{"token":"t","op":"withdraw"}"#).is_err());
        assert!(wire(r#"{"token":"t","op":"reboot"}"#).is_err());
        for ttl in ["0", "2592001", "18446744073709551615"] {
            let req =
                format!(r#"{{"token":"t","op":"add","route":"route 192.0.2.1/32","ttl":{ttl}}}"#);
            assert!(
                wire(&req)
                    .unwrap_err()
                    .contains("expected 1 to 2592000 seconds")
            );
        }
        assert!(serde_json::from_str::<Wire>(r#"{"op":"list"}"#).is_err());
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
        assert_eq!(
            token_path(Path::new("/run/levee/c.sock")),
            Path::new("/run/levee/c.sock.token")
        );
    }
}
