//! Reloading the config while levee runs: on SIGHUP, and on `levee reload` over the
//! control socket (which gets the [`ReloadReport`] back). The config is read again off
//! the runtime; one that does not validate is refused, with its errors, and the running
//! config kept. A valid one is compared with the running config section by section:
//!
//! - `mitigation` (settings and adapters) and `rpki`: handed to the mitigation
//!   service, which applies the settings (a dry-run flip reaches the active routes),
//!   adds, removes or restarts adapters, and restarts the RTR client behind its gate;
//! - `bgp.peers`: the speaker's peers added, removed or reset ([`Speaker::set_peers`]);
//! - `listeners`: each whose address changed is moved (the new address bound before
//!   the old one is closed; see [`crate::flows::Rebinder`]), a changed receive buffer
//!   alone set in place;
//! - `exporters`: the allowlist the listeners read replaced; each listener re-reads
//!   which of its streams are configured exporters';
//! - `web`: the endpoint moved (the new address bound before the old one is closed),
//!   started or stopped;
//! - detection (protected networks, policy, thresholds, threat intel): handed to the
//!   detection thread, which reconfigures the engine between two batches, keeping the
//!   baselines and incidents of what stays protected ([`Reloader::detection`]);
//! - what cannot change in a running process (a listener turned on or off, mirror
//!   ports, ingest bounds, the BGP listener and shutdown policy, the store and the
//!   control socket) is reported as needing a restart.
//!
//! A change that fails (an address that cannot be bound) is reported as failed and
//! that section keeps its running value, so the next reload tries it again.

use crate::config::Config;
use crate::control::{ReloadReport, ReloadRequest};
use crate::mitigation::service::{Command, Reload, Request};
use crate::mitigation::status::Answer;
use levee_bgp::speaker::Speaker;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

/// The running parts a reload may change.
pub(super) struct Reloader {
    /// The config in force.
    pub(super) running: Config,
    /// The mitigation service.
    pub(super) commands: mpsc::Sender<Command>,
    /// levee's BGP speaker, if the config has a `bgp` section.
    pub(super) speaker: Option<Arc<Speaker>>,
    /// The running listeners.
    pub(super) listeners: crate::flows::Rebinder,
    /// The web endpoint, and what it reads (to start it if a reload turns it on).
    pub(super) web: Option<crate::web::Web>,
    pub(super) web_sources: crate::web::Sources,
    /// The detection thread's updates ([`crate::detection::Update`]).
    pub(super) detection: mpsc::Sender<crate::detection::Update>,
}

impl Reloader {
    /// Reloads on SIGHUP and on each request from the control socket until `stop`
    /// fires; gives itself back (the daemon stops the web endpoint it holds).
    pub(super) async fn serve(
        mut self,
        mut requests: mpsc::Receiver<ReloadRequest>,
        mut stop: oneshot::Receiver<()>,
    ) -> Reloader {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = signal(SignalKind::hangup())
            .inspect_err(
                |e| warn!(error = %e, "cannot listen for SIGHUP: reload with `levee reload`"),
            )
            .ok();
        loop {
            let signalled = async {
                match hup.as_mut() {
                    Some(h) => h.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = &mut stop => return self,
                Some(_) = signalled => {
                    let _ = self.reload().await;
                }
                Some(reply) = requests.recv() => {
                    let _ = reply.send(self.reload().await);
                }
            }
        }
    }

    /// Reads the config again and applies what changed; counts the outcome.
    async fn reload(&mut self) -> Result<ReloadReport, String> {
        use std::sync::atomic::Ordering::Relaxed;
        let r = self.apply().await;
        let c = &self.web_sources.reloads;
        match &r {
            Ok(report) if report.failed.is_empty() => c.applied.fetch_add(1, Relaxed),
            Ok(_) => c.partial.fetch_add(1, Relaxed),
            Err(_) => c.refused.fetch_add(1, Relaxed),
        };
        r
    }

    /// Reads the config again and applies what changed.
    async fn apply(&mut self) -> Result<ReloadReport, String> {
        let origin = self.running.origin.clone();
        let read = origin.clone();
        // Reading and checking the config touches the disk (threat intel too): off the
        // runtime.
        let fresh = tokio::task::spawn_blocking(move || {
            if read == "<embedded defaults>" {
                Config::parse(crate::config::EMBEDDED_DEFAULTS, &read)
            } else {
                Config::load(std::path::Path::new(&read))
            }
        })
        .await;
        let mut new = match fresh {
            Ok(Ok(c)) => c,
            Ok(Err(errors)) => {
                warn!(%origin, %errors, "config reload failed; keeping the running config");
                return Err(format!(
                    "config reload failed; keeping the running config:\n{errors}"
                ));
            }
            Err(e) => return Err(format!("config reload failed: {e}")),
        };
        let mut report = ReloadReport {
            origin: origin.clone(),
            ..ReloadReport::default()
        };
        self.restart_only(&new, &mut report);
        self.detection(&mut new, &mut report).await;
        self.listeners(&mut new, &mut report).await;
        self.bgp(&mut new, &mut report).await;
        self.web(&mut new, &mut report).await;
        if !self.mitigation(&new, &mut report).await {
            return Err("levee is stopping".into());
        }
        for line in &report.applied {
            info!(%origin, "reload: {line}");
        }
        for line in &report.failed {
            warn!(%origin, "reload: {line}");
        }
        if !report.restart.is_empty() {
            warn!(sections = %report.restart.join(", "), "changed in the config; they take effect at the next restart");
        }
        info!(%origin, applied = report.applied.len(), failed = report.failed.len(), "config reloaded");
        self.running = new;
        Ok(report)
    }

    /// Sections a running process cannot change: named as needing a restart.
    fn restart_only(&self, new: &Config, report: &mut ReloadReport) {
        let old = &self.running;
        let mut restart = |changed: bool, what: &str| {
            if changed {
                report.restart.push(what.to_string());
            }
        };
        restart(
            new.mirror != old.mirror || new.ingest != old.ingest,
            "mirror ports and ingest bounds",
        );
        restart(new.mitigation.store != old.mitigation.store, "store");
        restart(new.history != old.history, "history");
        restart(
            new.mitigation.audit_key != old.mitigation.audit_key,
            "store.audit_hmac_key_file",
        );
        restart(
            new.mitigation.control_socket != old.mitigation.control_socket,
            "control socket",
        );
        let bgp_frame = |c: &Config| {
            c.bgp.as_ref().map(|b| {
                (
                    b.speaker.listen,
                    b.shutdown.clone(),
                    b.shutdown_message.clone(),
                )
            })
        };
        restart(
            bgp_frame(new) != bgp_frame(old),
            "bgp (its listener, shutdown policy, or the section itself)",
        );
    }

    /// The listeners: moved where their address changed. A failure keeps the running
    /// ones (and their config).
    async fn listeners(&self, new: &mut Config, report: &mut ReloadReport) {
        if new.exporters != self.running.exporters {
            self.listeners.set_exporters(new.exporters.as_deref());
            report.applied.push(match &new.exporters {
                Some(list) => format!(
                    "exporters: {} allowed, datagrams from other sources dropped",
                    list.len()
                ),
                None => {
                    warn!("{}", crate::flows::open_listeners(&new.ingest));
                    "exporters: section removed, every source accepted".into()
                }
            });
        }
        if new.listeners == self.running.listeners {
            return;
        }
        let r = self.listeners.rebind(&new.listeners).await;
        report.applied.extend(r.moved);
        if r.restart {
            report
                .restart
                .push("listeners (one turned on or off)".into());
        }
        if r.restart || !r.failed.is_empty() {
            report.failed.extend(r.failed);
            new.listeners = self.running.listeners.clone();
        }
    }

    /// The speaker's peers. A failure keeps the running peers (and their config).
    async fn bgp(&self, new: &mut Config, report: &mut ReloadReport) {
        let (Some(speaker), Some(old), Some(bgp)) =
            (&self.speaker, &self.running.bgp, new.bgp.as_mut())
        else {
            return;
        };
        if bgp.speaker.peers == old.speaker.peers {
            return;
        }
        match speaker
            .set_peers(bgp.speaker.peers.clone(), crate::speaker::SHUTDOWN_WAIT)
            .await
        {
            Ok(c) => {
                for p in &c.added {
                    report.applied.push(format!("bgp peer {p} added"));
                }
                for p in &c.removed {
                    report.applied.push(format!(
                        "bgp peer {p} removed (Cease, administrative shutdown)"
                    ));
                }
                for p in &c.changed {
                    report.applied.push(format!(
                        "bgp peer {p} changed: reset (Cease, administrative reset) with its new settings"
                    ));
                }
            }
            Err(e) => {
                report
                    .failed
                    .push(format!("bgp peers: {e}; the running peers stay"));
                bgp.speaker.peers = old.speaker.peers.clone();
            }
        }
    }

    /// The web endpoint: moved, started or stopped. A failure keeps it as it runs.
    async fn web(&mut self, new: &mut Config, report: &mut ReloadReport) {
        if new.web == self.running.web {
            return;
        }
        let result = match (&new.web, self.web.as_mut()) {
            (None, _) => {
                if let Some(w) = self.web.take() {
                    w.stop();
                }
                Ok("web endpoint stopped".to_string())
            }
            (Some(a), Some(w)) => w
                .rebind(a)
                .await
                .map(|()| format!("web endpoint moved to {}", w.addr)),
            (Some(a), None) => crate::web::Web::start(a, self.web_sources.clone())
                .await
                .map(|w| {
                    let line = format!("web endpoint started on {}", w.addr);
                    self.web = Some(w);
                    line
                }),
        };
        match result {
            Ok(line) => report.applied.push(line),
            Err(e) => {
                report
                    .failed
                    .push(format!("web: {e}; it stays where it was"));
                new.web = self.running.web.clone();
            }
        }
    }

    /// The mitigation service's part: settings and adapters. False if the service is
    /// gone (levee is stopping).
    async fn mitigation(&self, new: &Config, report: &mut ReloadReport) -> bool {
        let reload = Reload {
            settings: new.mitigation.settings.clone(),
            adapters: new.mitigation.adapters.clone(),
            rpki: new.rpki.clone(),
        };
        let (reply, rx) = oneshot::channel();
        let request = Request::Reconfigure(Box::new(reload));
        if self
            .commands
            .send(Command {
                request,
                reply,
                actor: crate::store::audit::Actor::Operator,
            })
            .await
            .is_err()
        {
            return false;
        }
        match rx.await {
            Ok(Ok(Answer::Changes { changes, restart })) => {
                report.applied.extend(changes);
                report.restart.extend(restart);
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => report.failed.push(format!("mitigation: {e}")),
            Err(_) => return false,
        }
        true
    }
}

impl Reloader {
    /// Detection: protected networks, detection policy, thresholds and threat intel.
    /// The lists are read off the runtime, then the new engine settings go to the
    /// detection thread, which applies them between two batches and answers what it
    /// kept. A failure (an unreadable list, settings the engine refuses, a stopping
    /// loop) keeps the running detection settings, so the next reload tries again.
    /// (The mitigation side of the protected networks, their ladders and the safelist,
    /// is applied through [`Reloader::mitigation`].)
    async fn detection(&mut self, new: &mut Config, report: &mut ReloadReport) {
        let nets = |c: &Config| {
            c.protected_networks
                .iter()
                .map(|n| (n.name.clone(), n.prefixes.clone(), n.policy.clone()))
                .collect::<Vec<_>>()
        };
        let old = &self.running;
        if new.detection == old.detection && nets(new) == nets(old) {
            return;
        }
        let lists = new.detection.threat_intel.clone();
        let intel =
            tokio::task::spawn_blocking(move || crate::detection::load_threat_intel(&lists)).await;
        let result = match intel {
            Ok(Ok(intel)) => {
                let (reply, answer) = oneshot::channel();
                let update = crate::detection::Update {
                    config: new.engine_config(),
                    intel,
                    reply,
                };
                match self.detection.send(update).await {
                    Ok(()) => match answer.await {
                        Ok(Ok(done)) => Ok(done),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => Err("the detection loop is stopping".to_string()),
                    },
                    Err(_) => Err("the detection loop is stopping".to_string()),
                }
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(done) => report.applied.push(format!(
                "detection: {} tracked IPs kept with their baselines, {} dropped, {} networks kept, {} incidents ended",
                done.hosts_kept, done.hosts_dropped, done.networks_kept, done.incidents_ended
            )),
            Err(e) => {
                // Neither side takes the new networks: detection and mitigation keep
                // agreeing on what is protected, and the next reload tries again.
                report.failed.push(format!(
                    "detection: {e}; the protected networks and detection settings stay as they were"
                ));
                new.detection = old.detection.clone();
                new.protected_networks = old.protected_networks.clone();
                new.mitigation.settings.networks = old.mitigation.settings.networks.clone();
            }
        }
    }
}
