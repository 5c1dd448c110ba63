//! The local web endpoint (axum): Prometheus `/metrics` ([`metrics`]) and the JSON API
//! under `/api/v1` ([`api`]), with users, tokens and sessions checked by [`auth`]
//! against the auth database beside the store. The API's routes, the roles they need
//! and their parameters are listed in [`openapi`], which serves the OpenAPI document
//! at `/api/v1/openapi.json`; a test checks it against the router.
//!
//! Reads come from the running stages' snapshots (the mitigation service's
//! `Request::List`, the speaker, the listeners' exporter tables) and from the store,
//! opened read-only off the async runtime; mutations go to the mitigation service as
//! `Command`s, the path `levee mitigate` takes, audited with the caller's name.
//! Errors are JSON (`{"code", "message"}`), 4xx for anything the caller got wrong;
//! nothing a caller sends panics. Request bodies are capped at [`MAX_BODY`].
//!
//! Beyond loopback the endpoint serves only HTTPS ([`tls`]) and only with an admin
//! user in the auth database ([`settings::check_binding`]); it refuses to start
//! otherwise.
//!
//! `/api/v1/traffic` and the live feed's server-sent events (`/api/v1/events`) are in
//! [`live`]; the public status page (`web.public`) in [`public`]. The HTML page
//! ([`page`]) is served at `/` and `/assets/{name}`; it reads the same `/api/v1`
//! endpoints as any other client.
//!
//! Incidents (list, detail with evidence and timeline, notes) are in [`incidents`];
//! users and tokens for admins in [`admin`].

pub mod admin;
pub mod api;
pub mod auth;
pub mod conn;
pub mod error;
pub mod incidents;
pub mod limiter;
pub mod live;
mod metrics;
pub mod openapi;
pub mod page;
pub mod public;
pub mod settings;
pub mod tls;

pub use metrics::MAX_EXPORTER_SERIES;

use crate::flows::IngestCounters;
use crate::mitigation::service::{Command, Request};
use crate::mitigation::status::{Answer, Status};
use crate::store::audit::Actor;
use levee_bgp::speaker::Speaker;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use settings::WebSettings;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 << 10;

/// What a scrape and the API read.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Ingest counters over all inputs.
    pub ingest: Arc<IngestCounters>,
    /// Per-exporter tables, one per listener (with the listener's kind).
    pub exporters: Vec<(&'static str, crate::flows::listen::ExporterTable)>,
    /// The detection engine's latest counters.
    pub detection: Arc<Mutex<levee_detect::engine::EngineStats>>,
    /// The mitigation task (asked for its list: counters, adapters, RTR).
    pub commands: mpsc::Sender<Command>,
    /// The BGP speaker (weak: the daemon unwraps it at shutdown).
    pub speaker: Option<std::sync::Weak<Speaker>>,
    /// Config reloads by outcome.
    pub reloads: Arc<crate::control::ReloadCounters>,
    /// The traffic history's counters.
    pub history: Arc<crate::history::Counters>,
    /// The traffic history's last hour (for `/api/v1/traffic`).
    pub ring: Arc<std::sync::RwLock<crate::history::ring::Ring>>,
    /// The live feed (for `/api/v1/events`).
    pub feed: crate::live::Feed,
    /// The store (read-only here: incidents, audit).
    pub store: PathBuf,
    /// The auth database (users, tokens, sessions).
    pub auth: PathBuf,
    /// Where the config came from, for `/api/v1/status`.
    pub origin: String,
    /// The audit chain's HMAC key, if it is keyed (to verify it for `/api/v1/audit`).
    pub audit_key: Option<crate::store::audit::Key>,
}

#[derive(Clone)]
struct App {
    sources: Sources,
    prometheus: PrometheusHandle,
    gate: Arc<auth::Gate>,
    tls: Arc<tls::TlsCounters>,
    started_us: u64,
    /// Event streams open.
    streams: Arc<live::Streams>,
    /// `web.public` (a reload may turn it on or off).
    public: Arc<std::sync::atomic::AtomicBool>,
    /// The public page's last summary.
    public_cache: Arc<public::Cache>,
    /// The audit chain's last verification, by the head it verified.
    audit_verdict: Arc<api::VerdictCache>,
    /// Turns at `/api/v1/traffic`.
    traffic_turns: Arc<live::TrafficTurns>,
    /// Connections refused or timed out by the bounds.
    conns: Arc<conn::ConnCounters>,
}

impl App {
    /// Whether the public status page is served.
    fn public(&self) -> bool {
        self.public.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The running endpoint.
#[derive(Debug)]
pub struct Web {
    /// The bound address.
    pub addr: SocketAddr,
    app: App,
    task: tokio::task::JoinHandle<()>,
}

/// The process-wide `metrics` recorder, installed by the first endpoint started (a
/// reload that moves or restarts the endpoint keeps it).
fn prometheus() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    ::metrics::set_global_recorder(recorder)
        .map_err(|e| anyhow::anyhow!("metrics recorder: {e}"))?;
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// Binds `listen` (the web endpoint's address).
async fn bind(listen: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen} (web): {e}"))
}

/// The caller's address, for the login limiter.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl<L> axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, conn::Capped<L>>>
    for Peer
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    L::Io: Unpin,
{
    fn connect_info(s: axum::serve::IncomingStream<'_, conn::Capped<L>>) -> Peer {
        Peer(*s.remote_addr())
    }
}

/// The routes.
fn router(app: App) -> axum::Router {
    api::routes()
        .merge(page::routes())
        .route("/metrics", axum::routing::get(metrics::scrape))
        .route("/status", axum::routing::get(public::public_html))
        .route("/status.css", axum::routing::get(public::public_css))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::map_response(nosniff))
        .with_state(app)
}

/// No answer is sniffed into another type (JSON read as HTML).
async fn nosniff(mut r: axum::response::Response) -> axum::response::Response {
    r.headers_mut().insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    r
}

/// A bound endpoint, plain or TLS.
enum Bound {
    Plain(tokio::net::TcpListener),
    Tls(tls::TlsListener),
}

/// The binding rule and the TLS files, checked (`levee run` does so before any stage
/// starts); the TLS server config if there is one.
pub fn preflight(
    s: &WebSettings,
    auth: &std::path::Path,
) -> anyhow::Result<Option<Arc<rustls::ServerConfig>>> {
    settings::check_binding(s, auth)?;
    Ok(s.tls.as_ref().map(tls::server_config).transpose()?)
}

/// Checks the binding rule, reads the TLS files and binds.
async fn open(
    s: &WebSettings,
    auth: &std::path::Path,
    counters: Arc<tls::TlsCounters>,
) -> anyhow::Result<(Bound, SocketAddr)> {
    let config = preflight(s, auth)?;
    let tcp = bind(s.listen).await?;
    let addr = tcp.local_addr()?;
    Ok(match config {
        None => (Bound::Plain(tcp), addr),
        Some(c) => (Bound::Tls(tls::TlsListener::new(tcp, c, counters)?), addr),
    })
}

/// Serves `app` until aborted.
fn serve(bound: Bound, app: App) -> tokio::task::JoinHandle<()> {
    let counters = app.conns.clone();
    let router = router(app);
    tokio::spawn(async move {
        let r = match bound {
            Bound::Plain(l) => {
                let l = conn::Capped::new(l, counters);
                axum::serve(l, router.into_make_service_with_connect_info::<Peer>()).await
            }
            Bound::Tls(l) => {
                let l = conn::Capped::new(l, counters);
                axum::serve(l, router.into_make_service_with_connect_info::<Peer>()).await
            }
        };
        if let Err(e) = r {
            tracing::warn!(error = %e, "web endpoint stopped");
        }
    })
}

fn gate(s: &WebSettings, sources: &Sources) -> Arc<auth::Gate> {
    Arc::new(auth::Gate::new(
        sources.auth.clone(),
        s.listen.ip().is_loopback(),
        s.tls.is_some(),
    ))
}

/// An endpoint bound but not serving yet: `levee run` binds it before any stage
/// starts (so a busy port stops levee at once, like the flow ports), and serves once
/// the stages it reads exist.
pub struct Opened {
    bound: Bound,
    addr: SocketAddr,
    counters: Arc<tls::TlsCounters>,
    settings: WebSettings,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Opened({})", self.addr)
    }
}

impl Opened {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves what `sources` hold. The `metrics` recorder is process-wide and
    /// installed once.
    pub fn serve(self, sources: Sources) -> anyhow::Result<Web> {
        let app = App {
            gate: gate(&self.settings, &sources),
            tls: self.counters,
            sources,
            prometheus: prometheus()?,
            started_us: crate::clock::now_us(),
            streams: Arc::default(),
            public: Arc::new(self.settings.public.into()),
            public_cache: Arc::default(),
            audit_verdict: Arc::default(),
            traffic_turns: Arc::default(),
            conns: Arc::default(),
        };
        let task = serve(self.bound, app.clone());
        Ok(Web {
            addr: self.addr,
            app,
            task,
        })
    }
}

impl Web {
    /// Checks the binding rule (against the auth database at `auth`), reads the TLS
    /// files and binds; serving starts with [`Opened::serve`].
    pub async fn open(s: &WebSettings, auth: &std::path::Path) -> anyhow::Result<Opened> {
        let counters = Arc::new(tls::TlsCounters::default());
        let (bound, addr) = open(s, auth, counters.clone()).await?;
        Ok(Opened {
            bound,
            addr,
            counters,
            settings: s.clone(),
        })
    }

    /// Checks the binding rule, binds and serves.
    pub async fn start(s: &WebSettings, sources: Sources) -> anyhow::Result<Web> {
        Web::open(s, &sources.auth.clone()).await?.serve(sources)
    }

    /// Moves the endpoint as `s` says: the new address is bound first, and only then
    /// is the old one closed; if the bind (or the binding rule, or TLS) fails, the
    /// endpoint stays where it is.
    pub async fn rebind(&mut self, s: &WebSettings) -> anyhow::Result<()> {
        let (bound, addr) = open(s, &self.app.sources.auth, self.app.tls.clone()).await?;
        self.app
            .gate
            .set_binding(s.listen.ip().is_loopback(), s.tls.is_some());
        self.app
            .public
            .store(s.public, std::sync::atomic::Ordering::Relaxed);
        let task = serve(bound, self.app.clone());
        std::mem::replace(&mut self.task, task).abort();
        self.addr = addr;
        Ok(())
    }

    /// Whether it serves HTTPS.
    pub fn scheme(s: &WebSettings) -> &'static str {
        if s.tls.is_some() { "https" } else { "http" }
    }

    /// Stops serving.
    pub fn stop(self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("App")
    }
}

/// Adds the headers every HTML, CSS or script answer carries: its Content-Security-
/// Policy `csp`, no MIME sniffing, no referrer.
fn secure(mut r: axum::response::Response, csp: &'static str) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

/// Asks the mitigation service, as `actor`: `None` if it did not answer in time (it
/// is stopping, or stuck), else its reply.
async fn ask(
    commands: &mpsc::Sender<Command>,
    actor: Actor,
    request: Request,
) -> Option<crate::mitigation::status::Reply> {
    let (reply, rx) = oneshot::channel();
    commands
        .send(Command {
            request,
            reply,
            actor,
        })
        .await
        .ok()?;
    tokio::time::timeout(std::time::Duration::from_secs(5), rx)
        .await
        .ok()?
        .ok()
}

/// The mitigation service's state.
async fn mitigation_status(commands: &mpsc::Sender<Command>) -> Option<Status> {
    match ask(commands, Actor::Levee, Request::List).await {
        Some(Ok(Answer::Status(s))) => Some(*s),
        _ => None,
    }
}
