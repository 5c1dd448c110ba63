//! HTTPS for the web endpoint (rustls on the ring provider, as the webhook client):
//! the certificate chain and key are read from PEM files at start and at every
//! reload that moves or restarts the endpoint.
//!
//! TLS handshakes run in tasks of their own, at most [`MAX_HANDSHAKES`] at once and
//! each for at most [`HANDSHAKE_TIMEOUT`], so a client that opens connections and
//! never finishes its handshake neither stalls the accept loop nor holds memory
//! without bound; connections beyond the bound are closed at once and counted.

use super::settings::TlsFiles;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Handshakes in progress at once.
pub const MAX_HANDSHAKES: usize = 256;
/// Longest a handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("web.tls.{which} {path}: {why}")]
    File {
        /// `cert` or `key`.
        which: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        why: String,
    },
    /// rustls refused the pair (a key that does not match the certificate, say).
    #[error("web.tls: {0}")]
    Config(#[from] rustls::Error),
}

/// Failed or refused handshakes, for /metrics.
#[derive(Debug, Default)]
pub struct TlsCounters {
    /// Handshakes that failed or timed out.
    pub failed: AtomicU64,
    /// Connections closed because [`MAX_HANDSHAKES`] were in progress.
    pub refused: AtomicU64,
}

/// The server config from the PEM files.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let bad = |which, path: &std::path::Path, why: String| TlsError::File {
        which,
        path: path.to_path_buf(),
        why,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| bad("cert", &files.cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad("cert", &files.cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("cert", &files.cert, "no CERTIFICATE in it".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| bad("key", &files.key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}

/// A TCP listener whose connections come out as finished TLS streams.
#[derive(Debug)]
pub struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsListener {
    /// Accepts on `tcp`, handshaking with `config`.
    pub fn new(
        tcp: TcpListener,
        config: Arc<rustls::ServerConfig>,
        counters: Arc<TlsCounters>,
    ) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (tx, rx) = mpsc::channel(64);
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
        let task = tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "web: accept failed");
                        tokio::time::sleep(Duration::from_millis(250)).await;
                        continue;
                    }
                };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    counters.refused.fetch_add(1, Relaxed);
                    continue;
                };
                let (acceptor, tx, counters) = (acceptor.clone(), tx.clone(), counters.clone());
                tokio::spawn(async move {
                    let _slot = slot;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        _ => {
                            counters.failed.fetch_add(1, Relaxed);
                        }
                    }
                });
            }
        });
        Ok(TlsListener { rx, local, task })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept task ended (it never does on its own): wait for the abort.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
