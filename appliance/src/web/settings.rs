//! The web endpoint's settings (the `web:` section, filled by `config`), and the rule
//! for where it may listen: beyond loopback only with TLS and at least one admin user,
//! since a non-loopback endpoint has no anonymous readers and its logins and tokens
//! must not cross the network in clear.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// `web:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSettings {
    /// `web.listen`.
    pub listen: SocketAddr,
    /// `web.tls`: serve HTTPS with these files.
    pub tls: Option<TlsFiles>,
    /// `web.public`: serve the public status page (`/status`, `/api/v1/public`), which
    /// needs no login and names no address.
    pub public: bool,
}

/// `web.tls`: PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why the endpoint may not listen where it was asked to.
#[derive(Debug, thiserror::Error)]
pub enum BindRefused {
    /// Beyond loopback without TLS.
    #[error(
        "web.listen {0} is beyond loopback: that needs TLS (web.tls: {{cert: FILE, key: FILE}}) \
         and at least one admin user (levee users add NAME --role admin); or listen on \
         127.0.0.1"
    )]
    NoTls(SocketAddr),
    /// Beyond loopback with no admin user.
    #[error(
        "web.listen {0} is beyond loopback: that needs at least one admin user; add one with \
         levee users add NAME --role admin (auth database {1})"
    )]
    NoAdmin(SocketAddr, PathBuf),
    /// The auth database cannot be read to tell.
    #[error("web.listen {0}: cannot read the auth database to find an admin user: {1}")]
    Auth(SocketAddr, crate::auth::AuthError),
}

/// Whether the endpoint may listen as `s` asks, given the auth database at `auth`.
pub fn check_binding(s: &WebSettings, auth: &Path) -> Result<(), BindRefused> {
    if s.listen.ip().is_loopback() {
        return Ok(());
    }
    if s.tls.is_none() {
        return Err(BindRefused::NoTls(s.listen));
    }
    let admin = crate::auth::AuthDb::open(auth)
        .and_then(|db| db.has_admin())
        .map_err(|e| BindRefused::Auth(s.listen, e))?;
    if !admin {
        return Err(BindRefused::NoAdmin(s.listen, auth.to_path_buf()));
    }
    Ok(())
}
