//! The web endpoint beyond loopback: refused without TLS, refused without an admin
//! user, and with both served over HTTPS only, with no anonymous readers and Secure
//! session cookies. It listens on 0.0.0.0 (no address is added anywhere) and the test
//! connects over loopback with a rustls client trusting a certificate made here with
//! openssl (required in CI, skipped with a message elsewhere).

use levee::auth::{AuthDb, Role, secret};
use levee_testkit::daemon::sigterm;
use levee_testkit::lab::{free_port, free_udp_port, poll, scratch};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

fn have_openssl() -> bool {
    if Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "CI installs openssl");
    println!("SKIPPED: the TLS test needs the openssl command");
    false
}

/// A self-signed certificate for 127.0.0.1: (cert, key).
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("web.crt"), dir.join("web.key"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=levee-test"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

fn config(dir: &Path, port: u16, tls: Option<(&Path, &Path)>) -> PathBuf {
    let cfg = dir.join("levee.yaml");
    let tls = tls
        .map(|(c, k)| format!(", tls: {{cert: {}, key: {}}}", c.display(), k.display()))
        .unwrap_or_default();
    std::fs::write(
        &cfg,
        format!(
            "listeners:\n  sflow: {{bind: 127.0.0.1:{udp}}}\n  netflow: {{enabled: false}}\n  \
             ipfix: {{enabled: false}}\nprotected_networks:\n  - name: lab\n    \
             prefixes: [192.0.2.0/24]\n\
             store: {{path: {d}/levee.db}}\ncontrol: {{socket: {d}/control.sock}}\n\
             web: {{listen: '0.0.0.0:{port}'{tls}}}\n",
            udp = free_udp_port(),
            d = dir.display()
        ),
    )
    .unwrap();
    cfg
}

fn run_once(cfg: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_levee"))
        .arg("--config")
        .arg(cfg)
        .arg("run")
        .output()
        .unwrap()
}

/// One HTTPS exchange: (status, raw head, body).
fn https(
    port: u16,
    ca: &Path,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> Option<(u16, String, String)> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_file(ca).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    tcp.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Length: {}\r\n{headers}\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, head.to_string(), body.to_string()))
}

#[test]
fn beyond_loopback_needs_tls_and_an_admin_then_serves_https_only() {
    if !have_openssl() {
        return;
    }
    let dir = scratch("api-tls");
    let port = free_port();
    // No TLS: refused before anything starts.
    let out = run_once(&config(&dir, port, None));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("beyond loopback") && err.contains("web.tls"),
        "{err}"
    );
    // TLS but no admin user.
    let (cert, key) = certificate(&dir);
    let cfg = config(&dir, port, Some((&cert, &key)));
    let out = run_once(&cfg);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("admin user"), "{err}");
    // A key that is not PEM.
    let bad = config(&dir, port, Some((&cert, &cfg)));
    let mut db = AuthDb::open(&dir.join("levee.auth.db")).unwrap();
    let hash = secret::hash_password("correct horse battery staple").unwrap();
    db.add_user(1, "test", "root", Role::Admin, &hash).unwrap();
    let token = db
        .create_token(1, "test", "ops", Role::Admin, None)
        .unwrap();
    let out = run_once(&bad);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("web.tls.key"), "{err}");
    // Both: HTTPS.
    let cfg = config(&dir, port, Some((&cert, &key)));
    let mut daemon = Daemon(
        Command::new(env!("CARGO_BIN_EXE_levee"))
            .arg("--config")
            .arg(&cfg)
            .arg("run")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        dir.clone(),
    );
    let auth = format!("Authorization: Bearer {token}\r\n");
    poll("the HTTPS API to answer", 120, |last| {
        let r = https(port, &cert, "GET", "/api/v1/status", &auth, "");
        *last = format!("{r:?}");
        r.filter(|r| r.0 == 200)
    });
    // No anonymous readers beyond loopback.
    let (status, _, body) = https(port, &cert, "GET", "/api/v1/status", "", "").unwrap();
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("unauthenticated"), "{body}");
    let login = r#"{"user": "root", "password": "correct horse battery staple"}"#;
    let (status, head, body) = https(
        port,
        &cert,
        "POST",
        "/api/v1/login",
        "Content-Type: application/json\r\n",
        login,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let cookie = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    // Plain HTTP gets no answer.
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    plain
        .write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let _ = plain.read_to_end(&mut buf);
    assert!(!String::from_utf8_lossy(&buf).contains("HTTP/1.1 200"));
    assert!(sigterm(&mut daemon.0, Duration::from_secs(30)).is_some());
}

/// The daemon, stopped (and its directory removed) however the test ends.
struct Daemon(std::process::Child, PathBuf);

impl Drop for Daemon {
    fn drop(&mut self) {
        sigterm(&mut self.0, Duration::from_secs(30));
        let _ = std::fs::remove_dir_all(&self.1);
    }
}
