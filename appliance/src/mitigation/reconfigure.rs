//! A reload, as the mitigation task carries it out: the new settings go to the engine
//! (a dry-run flip reaches the active routes at once), and the adapters are matched by
//! name against the running ones:
//!
//! - an adapter no longer listed has every route it may hold withdrawn, then stops;
//! - a changed one (settings or `levels`) is restarted and reconciled like at start,
//!   so routes of levels it no longer carries are withdrawn from it and the rest stay;
//! - an added one is started and given the active routes.
//!
//! A changed `rpki` section starts a new RTR client and gives the engine its gate (the
//! old session ends); like at start, the new one has no data until its first End of
//! Data, and the gate's `fail` policy decides meanwhile.

use super::service::{State, levels};
use super::status::Answer;
use crate::adapters::{Adapter, Change, Handle, Kind, Report, native};
use crate::store::Note;
use crate::store::audit::{Action, Actor};
use levee_bgp::speaker::Speaker;
use levee_mitigate::engine::{Output, WithdrawReason};
use levee_mitigate::settings::{Levels, Settings};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{info, warn};

/// The mitigation part of a reloaded config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reload {
    /// The engine's settings.
    pub settings: Settings,
    /// The adapters, as `mitigation.adapters` lists them.
    pub adapters: Vec<Adapter>,
    /// The RPKI gate's settings (`None`: no gate).
    pub rpki: Option<crate::rpki::Settings>,
}

/// Starts adapters, at start and at a reload: their reports go to the service, and the
/// native one runs over the BGP speaker.
#[derive(Debug)]
pub struct Starter {
    /// Where every adapter reports.
    reports: mpsc::UnboundedSender<Report>,
    reports_rx: Option<mpsc::UnboundedReceiver<Report>>,
    /// levee's speaker, for the native adapter.
    speaker: Option<Arc<Speaker>>,
}

/// An adapter running, with the settings it was started with.
#[derive(Debug)]
pub(super) struct Running {
    pub(super) adapter: Adapter,
    pub(super) handle: Handle,
}

impl Starter {
    /// A starter for adapters over `speaker` (the native adapter needs it).
    pub fn new(speaker: Option<Arc<Speaker>>) -> Starter {
        let (reports, rx) = mpsc::unbounded_channel();
        Starter {
            reports,
            reports_rx: Some(rx),
            speaker,
        }
    }

    /// Starts `a`; `None` for the native adapter without a speaker (no `bgp` section).
    fn start(&self, a: &Adapter) -> Option<Handle> {
        let h = match (&a.kind, &self.speaker) {
            (Kind::Native, Some(s)) => native::start(s.clone(), a.levels, self.reports.clone()),
            (Kind::Native, None) => {
                warn!("the native adapter needs the bgp section: not started");
                return None;
            }
            (k, _) => k.start(a.levels, self.reports.clone())?,
        };
        info!(adapter = a.kind.name(), levels = %a.levels, "mitigation adapter started");
        Some(h)
    }

    /// Starts every adapter of the config, and hands out where they report.
    pub(super) fn start_all(
        &mut self,
        adapters: &[Adapter],
    ) -> (Vec<Running>, mpsc::UnboundedReceiver<Report>) {
        let running: Vec<Running> = adapters
            .iter()
            .filter_map(|a| {
                self.start(a).map(|handle| Running {
                    adapter: a.clone(),
                    handle,
                })
            })
            .collect();
        if running.is_empty() {
            warn!("no mitigation adapters: decisions are recorded, nothing is announced");
        }
        let rx = self.reports_rx.take().unwrap_or_else(|| {
            // Started twice: a fresh channel (the first one's reports stay with it).
            let (tx, rx) = mpsc::unbounded_channel();
            self.reports = tx;
            rx
        });
        (running, rx)
    }
}

impl State {
    /// Applies a reload; the answer lists what changed. Audited as one entry.
    pub(super) async fn reconfigure(&mut self, now: u64, r: Reload) -> Answer {
        let (mut changes, mut restart) = (Vec::new(), Vec::new());
        if r.settings != *self.engine.settings() {
            let s = &r.settings;
            changes.push(format!(
                "mitigation settings: {} networks, ttl {}s, dry run {}",
                s.networks.len(),
                Duration::from_micros(s.ttl_us).as_secs(),
                if s.dry_run { "on" } else { "off" }
            ));
            let dry_run = s.dry_run;
            let out = self.engine.set_settings(r.settings, now);
            let withdrawn = |why: WithdrawReason| {
                out.iter()
                    .filter(|o| matches!(o, Output::Withdraw(_, r) if *r == why))
                    .count()
            };
            let flipped = out
                .iter()
                .filter(|o| matches!(o, Output::DryRun(..)))
                .count();
            for (why, what) in [
                (
                    WithdrawReason::Safelisted,
                    "that cover a safelisted address",
                ),
                (
                    WithdrawReason::Unprotected,
                    "outside the protected networks",
                ),
            ] {
                let n = withdrawn(why);
                if n > 0 {
                    changes.push(format!("{n} active routes {what} withdrawn"));
                }
            }
            if flipped > 0 {
                changes.push(if dry_run {
                    format!(
                        "dry run on: {flipped} active routes withdrawn from the adapters, kept recorded"
                    )
                } else {
                    format!("dry run off: {flipped} active routes announced to the adapters")
                });
            }
            self.handle(Actor::Operator, out).await;
        }
        self.set_adapters(&r.adapters, &mut changes, &mut restart)
            .await;
        self.set_rpki(r.rpki, &mut changes);
        let note = if changes.is_empty() {
            "no change to mitigation".to_string()
        } else {
            changes.join("; ")
        };
        info!(%note, "mitigation reloaded");
        self.audit(
            now,
            Note::new(Actor::Operator, Action::Reload, "config", note),
        )
        .await;
        Answer::Changes { changes, restart }
    }

    /// Matches the running adapters with `wanted` by name: removes, restarts and
    /// starts as needed.
    async fn set_adapters(
        &mut self,
        wanted: &[Adapter],
        changes: &mut Vec<String>,
        restart: &mut Vec<String>,
    ) {
        let mut restarted = Vec::new();
        let mut i = 0;
        while i < self.adapters.len() {
            let name = self.adapters[i].adapter.kind.name();
            match wanted.iter().find(|a| a.kind.name() == name) {
                Some(a) if *a == self.adapters[i].adapter => i += 1,
                Some(_) => {
                    // The new one reconciles: what the old one held and the new one
                    // must not is withdrawn then.
                    let old = self.adapters.remove(i);
                    old.handle.stop().await;
                    restarted.push(name);
                }
                None => {
                    let old = self.adapters.remove(i);
                    let stale = self.held_by(&old).await;
                    let n = stale.len();
                    old.handle.sync(Vec::new(), stale).await;
                    old.handle.stop().await;
                    changes.push(format!(
                        "adapter {name} removed: {n} routes withdrawn from it"
                    ));
                }
            }
        }
        self.drain_reports().await;
        let desired = self.desired();
        for a in wanted {
            let name = a.kind.name();
            if self.adapters.iter().any(|r| r.adapter.kind.name() == name) {
                continue;
            }
            let Some(handle) = self.starter.start(a) else {
                restart.push(format!(
                    "adapter {name} (it runs over the BGP speaker, which starts with levee)"
                ));
                continue;
            };
            self.adapters.push(Running {
                adapter: a.clone(),
                handle,
            });
            let i = self.adapters.len() - 1;
            self.reconcile_one(i, &desired).await;
            let n = desired
                .iter()
                .filter(|c| a.levels.intersects(c.levels))
                .count();
            changes.push(if restarted.contains(&name) {
                format!(
                    "adapter {name} changed (levels {}): restarted, {n} routes reconciled",
                    a.levels
                )
            } else {
                format!(
                    "adapter {name} added (levels {}): {n} active routes sent",
                    a.levels
                )
            });
        }
    }

    /// Replaces the RTR client and the engine's gate if the `rpki` section changed.
    fn set_rpki(&mut self, wanted: Option<crate::rpki::Settings>, changes: &mut Vec<String>) {
        if self.rpki.as_ref().map(crate::rpki::Rpki::settings) == wanted.as_ref() {
            return;
        }
        if let Some(old) = self.rpki.take() {
            old.stop();
        }
        let new = wanted.map(|s| {
            changes.push(format!(
                "rpki: RTR session restarted (caches {}, policy {:?}, fail {:?})",
                s.caches.join(", "),
                s.policy,
                s.fail
            ));
            crate::rpki::Rpki::start(s)
        });
        if new.is_none() {
            changes.push("rpki: gate off".into());
        }
        self.engine
            .set_gate(new.as_ref().and_then(crate::rpki::Rpki::gate));
        self.rpki = new;
    }

    /// Every route a running adapter may hold: what the store says it holds, and the
    /// active routes it carries (sent, maybe not reported yet); as withdrawals.
    async fn held_by(&mut self, r: &Running) -> Vec<Change> {
        let name = r.handle.status().name;
        let mut stale: Vec<Change> = self
            .engine
            .active()
            .filter(|m| !m.dry_run && r.handle.carries(levels(m)))
            .map(|m| Change::withdraw(m.id, &m.route, levels(m)))
            .collect();
        // An error is counted and logged by the store's thread.
        if let Ok(v) = self.store.held(&name).await {
            for (id, route) in v {
                if !stale.iter().any(|c| c.nlri == route.nlri) {
                    stale.push(Change::withdraw(id, &route, Levels::ALL));
                }
            }
        }
        stale
    }
}
