//! The webhook adapter: each announcement and withdrawal is POSTed as JSON to an HTTP(S)
//! endpoint, signed with HMAC-SHA256, for scrubbing providers that divert on an API
//! call (L4) and for custom automation.
//!
//! One request per route change:
//!
//! ```text
//! POST /levee HTTP/1.1
//! Content-Type: application/json
//! X-Levee-Event: announce
//! X-Levee-Timestamp: 1763770000
//! X-Levee-Signature: sha256=<hex HMAC-SHA256(secret, "1763770000." + body)>
//!
//! {"version":1,"event":"announce","mitigation":42,"levels":["l4"],
//!  "route":"route 198.51.100.0/24 community 64500:999","family":"ipv4-unicast",
//!  "prefix":"198.51.100.0/24","blackhole":false,"timestamp":1763770000}
//! ```
//!
//! The signature covers the timestamp, so a receiver can refuse replays (the README
//! shows a verifier). A 2xx answer is success. Connection failures, timeouts, 408, 429
//! and 5xx are retried within the batch (`attempts`, 250 ms doubling, or the
//! `Retry-After` the endpoint asks for, up to 10 s); a refusal (another 4xx, or a
//! redirect) fails the batch at once. A failed batch stays pending in the adapter
//! task, which retries it with its own backoff, so no change is lost; delivery is at
//! least once, and receivers should treat a repeated event as a no-op.
//!
//! The endpoint's state cannot be read back: reconciling sends the stale withdrawals
//! and the desired routes not yet delivered by this process (at start: all of them).

use super::{AdapterError, Backend, Change, Handle, Report};
use crate::yaml::{Ctx, LevelList, units};
use hmac::{Hmac, KeyInit, Mac};
use levee_bgp::flowspec::Component;
use levee_bgp::rib::{Attrs, Nlri, RouteText};
use levee_mitigate::Levels;
use serde::Deserialize;
use serde_json::{Value, json};
use serde_saphyr::Spanned;
use sha2::Sha256;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// Longest `Retry-After` waited for within a batch; beyond it the batch fails and the
/// adapter task's backoff takes over.
const MAX_INLINE_WAIT: Duration = Duration::from_secs(10);
/// First pause between attempts (doubling).
const FIRST_PAUSE: Duration = Duration::from_millis(250);
/// Longest part of an error answer's body quoted in the error.
const BODY_EXCERPT: usize = 200;

/// The shared secret (never printed).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// Where and how the webhook posts.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// The endpoint (http or https).
    pub url: reqwest::Url,
    /// The HMAC-SHA256 key.
    pub secret: Secret,
    /// Per-request timeout (connect and answer).
    pub timeout: Duration,
    /// Attempts per change within a batch (at least 1).
    pub attempts: u32,
    /// PEM certificates to trust instead of the system's roots (a private CA).
    pub ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for Settings {
    /// The URL masked ([`crate::redact`]), the secret and CA by size.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("url", &crate::redact::url(&self.url))
            .field("secret", &self.secret)
            .field("timeout", &self.timeout)
            .field("attempts", &self.attempts)
            .field("ca_pem", &self.ca_pem.as_ref().map(Vec::len))
            .finish()
    }
}

impl Settings {
    /// Defaults for everything but the endpoint and the secret.
    pub fn new(url: reqwest::Url, secret: Secret) -> Settings {
        Settings {
            url,
            secret,
            timeout: Duration::from_secs(5),
            attempts: 3,
            ca_pem: None,
        }
    }
}

/// Shortest secret accepted (an HMAC-SHA256 key should have 32 random bytes).
const MIN_SECRET: usize = 16;

/// The `mitigation.webhook` section, as read: `webhook: {url: "https://scrub.example.net/levee",
/// secret_file: /etc/levee/webhook.secret, timeout: 5s, attempts: 3,
/// ca_file: /etc/levee/provider-ca.pem, levels: [l4]}` (`secret:` inline instead of
/// `secret_file:`). An endpoint whose URL carries a token (in its query string or
/// userinfo) may be given as `url_file:`, a file whose first line is the URL. Either
/// way the URL is printed masked (`?token=***`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Raw {
    url: Option<Spanned<String>>,
    url_file: Option<Spanned<PathBuf>>,
    secret: Option<Spanned<String>>,
    secret_file: Option<Spanned<PathBuf>>,
    timeout: Option<Spanned<units::Duration>>,
    attempts: Option<Spanned<u32>>,
    ca_file: Option<Spanned<PathBuf>>,
    #[serde(default)]
    pub(super) levels: LevelList,
}

impl Settings {
    /// The settings of a section; `None` (the errors reported) without a usable URL
    /// and secret. `listed` is the adapter's entry in `mitigation.adapters`, where an
    /// error about a missing section points.
    pub(crate) fn from_raw(
        r: Raw,
        listed: &Spanned<String>,
        ctx: &mut Ctx<'_>,
    ) -> Option<Settings> {
        let (parsed, at) = match (r.url, r.url_file) {
            (Some(u), None) => (
                endpoint(&u.value, ctx, &u),
                Spanned::new((), u.referenced, u.defined),
            ),
            (None, Some(f)) => {
                let url = match std::fs::read_to_string(&f.value) {
                    Ok(text) => endpoint(text.lines().next().unwrap_or("").trim(), ctx, &f),
                    Err(e) => {
                        ctx.err(&f, &format!("a readable file ({}: {e})", f.value.display()));
                        None
                    }
                };
                (url, Spanned::new((), f.referenced, f.defined))
            }
            (Some(u), Some(_)) => {
                ctx.err(&u, "url or url_file, not both");
                return None;
            }
            (None, None) => {
                ctx.err(
                    listed,
                    "a webhook section with url (or url_file) and secret_file (or secret)",
                );
                return None;
            }
        };
        let secret = secret(r.secret, r.secret_file, &at, ctx);
        let (parsed, secret) = (parsed?, secret?);
        let mut st = Settings::new(parsed, secret);
        if let Some(t) = r.timeout {
            if t.value.0 == 0 {
                ctx.err(&t, "a timeout above zero");
            } else {
                st.timeout = Duration::from_micros(t.value.0);
            }
        }
        if let Some(a) = r.attempts {
            if a.value == 0 || a.value > 10 {
                ctx.err(&a, "1 to 10 attempts");
            } else {
                st.attempts = a.value;
            }
        }
        if let Some(f) = r.ca_file {
            st.ca_pem = ca_file(&f, ctx);
        }
        Some(st)
    }
}

/// The URL (of `url`, or `url_file`'s first line, located at `at`): http or https,
/// with a host. Errors never quote it.
fn endpoint<T>(url: &str, ctx: &mut Ctx<'_>, at: &Spanned<T>) -> Option<reqwest::Url> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
        Ok(_) => {
            ctx.err(at, "an http:// or https:// URL with a host");
            None
        }
        Err(e) => {
            ctx.err(at, &format!("a URL ({e})"));
            None
        }
    }
}

/// The `secret` or the `secret_file`'s content (trailing whitespace dropped), one of
/// them, at least [`MIN_SECRET`] bytes.
fn secret(
    inline: Option<Spanned<String>>,
    file: Option<Spanned<PathBuf>>,
    url: &Spanned<()>,
    ctx: &mut Ctx<'_>,
) -> Option<Secret> {
    let short =
        format!("a secret of at least {MIN_SECRET} bytes (for example `openssl rand -hex 32`)");
    let bytes = match (inline, file) {
        (Some(s), None) if s.value.len() < MIN_SECRET => {
            ctx.err(&s, &short);
            return None;
        }
        (Some(s), None) => s.value.into_bytes(),
        (None, Some(f)) => match std::fs::read(&f.value) {
            Ok(mut b) => {
                while b.last().is_some_and(u8::is_ascii_whitespace) {
                    b.pop();
                }
                if b.len() < MIN_SECRET {
                    ctx.err(&f, &short);
                    return None;
                }
                b
            }
            Err(e) => {
                ctx.err(&f, &format!("a readable secret file ({e})"));
                return None;
            }
        },
        (Some(s), Some(_)) => {
            ctx.err(&s, "secret or secret_file, not both");
            return None;
        }
        (None, None) => {
            ctx.err(
                url,
                "a secret_file (or secret) next to the url (or url_file)",
            );
            return None;
        }
    };
    Some(Secret(bytes))
}

/// The `ca_file`'s PEM certificates.
fn ca_file(f: &Spanned<PathBuf>, ctx: &mut Ctx<'_>) -> Option<Vec<u8>> {
    match std::fs::read(&f.value) {
        Ok(pem) if reqwest::Certificate::from_pem_bundle(&pem).is_ok_and(|c| !c.is_empty()) => {
            Some(pem)
        }
        Ok(_) => {
            ctx.err(f, "a file of PEM certificates");
            None
        }
        Err(e) => {
            ctx.err(f, &format!("a readable CA file ({e})"));
            None
        }
    }
}

/// Starts the adapter's task for the routes of `levels`, reporting to `reports`.
pub fn start(settings: &Settings, levels: Levels, reports: UnboundedSender<Report>) -> Handle {
    Handle::spawn(Webhook::new(settings.clone()), levels, reports)
}

/// The adapter.
#[derive(Debug)]
pub struct Webhook {
    settings: Settings,
    /// The URL masked ([`crate::redact`]), for logs, status and errors.
    shown: String,
    client: Option<reqwest::Client>,
    /// What this process delivered per route (announced attributes), so a retried
    /// batch and a periodic reconciliation skip what the endpoint already has.
    delivered: BTreeMap<Nlri, Attrs>,
    deliveries: u64,
    failed_attempts: u64,
    last: String,
}

/// The result of one request.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    /// 2xx.
    Delivered,
    /// Worth another try (after the endpoint's `Retry-After`, if it gave one).
    Again(String, Option<Duration>),
    /// Refused: trying again now would get the same answer.
    Refused(String),
}

impl Webhook {
    /// An adapter posting to `settings.url`.
    pub fn new(settings: Settings) -> Webhook {
        Webhook {
            shown: crate::redact::url(&settings.url),
            settings,
            client: None,
            delivered: BTreeMap::new(),
            deliveries: 0,
            failed_attempts: 0,
            last: "nothing sent yet".into(),
        }
    }

    fn client(&mut self) -> Result<reqwest::Client, AdapterError> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        // reqwest's rustls takes the process-wide provider: ring (already installed
        // is fine).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = reqwest::Client::builder()
            .timeout(self.settings.timeout)
            .connect_timeout(self.settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("levee/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &self.settings.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| AdapterError(format!("ca_file: {}", chain(&e))))?;
            b = b.tls_certs_only(certs);
        }
        let c = b
            .build()
            .map_err(|e| AdapterError(format!("cannot set up the HTTP client: {}", chain(&e))))?;
        self.client = Some(c.clone());
        Ok(c)
    }

    /// Delivers one change, retrying as the module overview says.
    async fn deliver(&mut self, c: &Change) -> Result<(), AdapterError> {
        let client = self.client()?;
        let event = if c.attrs.is_some() {
            "announce"
        } else {
            "withdraw"
        };
        let mut pause = FIRST_PAUSE;
        let attempts = self.settings.attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let now = crate::clock::Timestamp::now().as_secs();
            let body = body(c, now).to_string();
            let signature = sign(&self.settings.secret.0, now, body.as_bytes())?;
            let sent = client
                .post(self.settings.url.clone())
                .header("content-type", "application/json")
                .header("x-levee-event", event)
                .header("x-levee-timestamp", now.to_string())
                .header("x-levee-signature", signature)
                .body(body)
                .send()
                .await;
            let outcome = match sent {
                Ok(r) => judge(r).await,
                Err(e) => Attempt::Again(chain(&e), None),
            };
            let why = match outcome {
                Attempt::Delivered => {
                    self.deliveries += 1;
                    self.last = format!("{event} of mitigation {} delivered", c.id);
                    return Ok(());
                }
                Attempt::Refused(why) => {
                    self.failed_attempts += 1;
                    return Err(self.failure(event, c, &why));
                }
                Attempt::Again(why, after) => {
                    self.failed_attempts += 1;
                    match after {
                        Some(a) if a > MAX_INLINE_WAIT => {
                            let why = format!("{why} (asks to retry after {} s)", a.as_secs());
                            return Err(self.failure(event, c, &why));
                        }
                        Some(a) => pause = a,
                        None => {}
                    }
                    why
                }
            };
            if attempt >= attempts {
                let why = format!("{why} ({attempts} attempts)");
                return Err(self.failure(event, c, &why));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_INLINE_WAIT);
        }
    }

    fn failure(&mut self, event: &str, c: &Change, why: &str) -> AdapterError {
        self.last = format!("{event} of mitigation {} failed", c.id);
        AdapterError(format!("POST {}: {}", self.shown, crate::redact::text(why)))
    }
}

/// Turns an answer into an [`Attempt`].
async fn judge(mut r: reqwest::Response) -> Attempt {
    let status = r.status();
    if status.is_success() {
        return Attempt::Delivered;
    }
    let after = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // The start of the answer's body only: an endpoint may answer with a whole page.
    let mut head = Vec::new();
    while head.len() < 4 * BODY_EXCERPT {
        match r.chunk().await {
            Ok(Some(c)) => head.extend_from_slice(&c),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&head);
    let excerpt: String = text.trim().chars().take(BODY_EXCERPT).collect();
    let mut why = status.to_string();
    if !excerpt.is_empty() {
        why = format!("{why}: {excerpt}");
    }
    if status.is_redirection() {
        let to = location.unwrap_or_else(|| "elsewhere".into());
        return Attempt::Refused(format!(
            "{why} (redirected to {to}; set url to the final address)"
        ));
    }
    let again = status.is_server_error()
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
    if again {
        Attempt::Again(why, after)
    } else {
        Attempt::Refused(why)
    }
}

/// An error with its causes, `a: b: c` (reqwest's own message hides the cause).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        let m = c.to_string();
        if !s.contains(&m) {
            s = format!("{s}: {m}");
        }
        source = c.source();
    }
    s
}

/// `sha256=` and the hex HMAC-SHA256 of `TIMESTAMP.BODY` under `secret`.
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> Result<String, AdapterError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret)
        .map_err(|e| AdapterError(format!("webhook secret: {e}")))?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "sha256={}",
        crate::human::hex(&mac.finalize().into_bytes())
    ))
}

/// The JSON document for a change (see the module overview).
pub fn body(c: &Change, timestamp: u64) -> Value {
    let route = match &c.attrs {
        Some(a) => RouteText {
            nlri: c.nlri.clone(),
            attrs: a.clone(),
        },
        None => RouteText {
            nlri: c.nlri.clone(),
            attrs: Attrs::default(),
        },
    };
    let prefix = match &c.nlri {
        Nlri::Unicast(p) => Some(p.to_string()),
        Nlri::Flow(f) => f.components.iter().find_map(|x| match x {
            Component::DestinationPrefix(p) => Some(format!("{}/{}", p.addr, p.len)),
            _ => None,
        }),
    };
    let blackhole = matches!(c.nlri, Nlri::Unicast(_))
        && c.attrs.as_ref().is_some_and(|a| {
            a.communities
                .contains(&levee_bgp::update::attr::community::BLACKHOLE)
        });
    json!({
        "version": 1,
        "event": if c.attrs.is_some() { "announce" } else { "withdraw" },
        "mitigation": c.id,
        "levels": c.levels.names(),
        "route": route.to_string(),
        "family": c.nlri.family().to_string(),
        "prefix": prefix,
        "blackhole": blackhole,
        "timestamp": timestamp,
    })
}

impl Backend for Webhook {
    fn name(&self) -> String {
        "webhook".into()
    }

    async fn apply(&mut self, changes: &[Change]) -> Result<(), AdapterError> {
        for c in changes {
            let already = match &c.attrs {
                Some(a) => self.delivered.get(&c.nlri) == Some(a),
                None => false,
            };
            if already {
                continue;
            }
            self.deliver(c).await?;
            match &c.attrs {
                Some(a) => self.delivered.insert(c.nlri.clone(), a.clone()),
                None => self.delivered.remove(&c.nlri),
            };
        }
        Ok(())
    }

    async fn reconcile(
        &mut self,
        desired: &[Change],
        stale: &[Change],
    ) -> Result<(), AdapterError> {
        let wanted = |n: &Nlri| desired.iter().any(|d| &d.nlri == n);
        let mut all: Vec<Change> = stale.iter().filter(|s| !wanted(&s.nlri)).cloned().collect();
        // Delivered by this process, no longer desired (a withdrawal superseded by a
        // resynchronisation).
        for n in self.delivered.keys() {
            if !wanted(n) && !all.iter().any(|c| &c.nlri == n) {
                all.push(Change {
                    id: 0,
                    nlri: n.clone(),
                    attrs: None,
                    levels: levee_mitigate::Levels::ALL,
                });
            }
        }
        all.extend_from_slice(desired);
        self.apply(&all).await
    }

    fn describe(&self) -> String {
        format!(
            "POST {}: {} delivered, {} failed attempts; {}",
            self.shown, self.deliveries, self.failed_attempts, self.last
        )
    }

    async fn stop(self) {}
}

#[cfg(test)]
mod tests;
