//! The mitigation stage as a task of the daemon: incident events and operator requests
//! in through bounded channels; the [`Engine`] decides; every decision is written by the
//! [`Store`]'s own thread ([`Writer`], with its audit entries), and committed before it
//! goes to the adapters, so no SQLite call runs on the runtime and a crash never leaves
//! a route on a router that the store does not know; each adapter's results are kept
//! here too, so a status query reads nothing from the store. At start, the
//! mitigations active at the last stop are restored and re-sent, and those that expired
//! meanwhile are withdrawn, so an adapter that kept state holds exactly what should be.

use super::reconfigure::Running;
pub use super::reconfigure::{Reload, Starter};
use super::status::{Answer, Counters, MitigationView, Reply, Status};
use crate::adapters::{Change, Report};
use crate::clock::now_us;
use crate::store::audit::{Action, Actor};
use crate::store::writer::Writer;
use crate::store::{AdapterResult, Note, Store, StoreError, Write};
use levee_bgp::rib::RouteText;
use levee_detect::{Event, EventKind};
use levee_mitigate::engine::{Engine, Mitigation, Output, destination};
use levee_mitigate::settings::{Level, Levels, Settings};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

/// What the store holds of an open incident: its classification and peak as last
/// written.
#[derive(Debug)]
struct Stored {
    class: (&'static str, String),
    peak: (u64, u64),
}

impl Stored {
    /// Whether an update is worth storing: its classification changed, or its peak
    /// grew by a tenth or more (so the stored peak follows a ramping attack within
    /// 10% with a handful of writes, not one a second).
    fn differs(&self, class: &(&'static str, String), peak: (u64, u64)) -> bool {
        let grew = |was: u64, now: u64| now > was.saturating_add(was / 10);
        self.class != *class || grew(self.peak.0, peak.0) || grew(self.peak.1, peak.1)
    }
}

/// Incident events buffered between detection and mitigation.
pub const EVENT_QUEUE: usize = 4096;

/// An operator's request (from the control socket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Announce a route given as text.
    AddRoute {
        /// Route text.
        route: String,
        /// Lifetime (`None`: the configured TTL).
        ttl: Option<Duration>,
    },
    /// Announce a level's routes for a host.
    AddLevel {
        /// The victim.
        victim: IpAddr,
        /// 1 to 4.
        level: u8,
        /// Lifetime.
        ttl: Option<Duration>,
    },
    /// Withdraw a mitigation.
    Withdraw {
        /// Its id.
        id: u64,
    },
    /// Hold an active mitigation's route until `ttl` from now: the route is added
    /// again as the operator's (so the safelist, caps and RPKI gate are asked again),
    /// and an active route with the same match keeps the later expiry.
    Extend {
        /// Its id.
        id: u64,
        /// The new lifetime, from now.
        ttl: Duration,
    },
    /// A note on a stored incident, written to the store with an audit entry by the
    /// caller (the web API checks the text and that the incident exists).
    Note {
        /// The incident.
        incident: u64,
        /// The note.
        text: String,
    },
    /// Active mitigations, adapters and counters.
    List,
    /// The mitigation part of a reloaded config (SIGHUP, `levee reload`): new settings
    /// (active mitigations stay; the new ladders, caps and safelist apply to what comes
    /// next; a dry-run flip applies to the active routes at once) and the adapters
    /// (added, removed, changed).
    Reconfigure(Box<Reload>),
}

/// A request with where its answer goes.
#[derive(Debug)]
pub struct Command {
    /// The request.
    pub request: Request,
    /// Who asks, as audited ([`Actor::Operator`] for the control socket and reloads,
    /// [`Actor::Named`] for the web API).
    pub actor: Actor,
    /// The answer, or why the request was refused.
    pub reply: oneshot::Sender<Reply>,
}

/// The daemon's handle on the mitigation task.
#[derive(Debug)]
pub struct Service {
    /// Incident events in.
    pub events: mpsc::Sender<Event>,
    /// Operator requests in.
    pub commands: mpsc::Sender<Command>,
    /// Writes of other stages (the traffic history) to the store's thread, queued with
    /// the service's own; it does not keep the thread alive past [`Service::stop`].
    pub store: crate::store::writer::Sender,
    task: tokio::task::JoinHandle<()>,
}

impl Service {
    /// Opens nothing itself: takes the opened store, starts the adapters through
    /// `starter` (which a reload uses again), restores the last stop's mitigations and
    /// starts the task.
    pub fn start(
        settings: Settings,
        mut store: Store,
        adapters: &[crate::adapters::Adapter],
        mut starter: Starter,
        rpki: Option<crate::rpki::Rpki>,
        feed: crate::live::Feed,
    ) -> Result<Service, StoreError> {
        let networks = settings.networks.clone();
        let mut results = HashMap::new();
        let restored = store.active(|name| {
            networks
                .iter()
                .find(|n| n.name == name)
                .map(|n| n.prefixes.clone())
                .unwrap_or_default()
        })?;
        let mut engine = Engine::new(settings, store.next_id()?);
        engine.set_gate(rpki.as_ref().and_then(crate::rpki::Rpki::gate));
        let n = restored.len();
        for m in &restored {
            let r: BTreeMap<String, AdapterResult> = store
                .adapter_results(m.id)?
                .into_iter()
                .map(|r| (r.adapter.clone(), r))
                .collect();
            results.insert(m.id, r);
        }
        engine.restore(restored);
        store.audit(
            now_us(),
            &[Note::new(
                Actor::Levee,
                Action::Start,
                "mitigations",
                format!("{n} restored"),
            )],
        )?;
        let (events, ev_rx) = mpsc::channel(EVENT_QUEUE);
        let (commands, cmd_rx) = mpsc::channel(64);
        let store = Writer::start(store).map_err(|e| StoreError::Open {
            path: "the store thread".into(),
            dir: String::new(),
            source: Box::new(e),
        })?;
        let (adapters, reports) = starter.start_all(adapters);
        let sender = store.sender();
        let st = State {
            engine,
            store,
            adapters,
            starter,
            reports,
            rpki,
            results,
            feed,
            classified: HashMap::new(),
        };
        let task = tokio::spawn(run(st, ev_rx, cmd_rx));
        Ok(Service {
            events,
            commands,
            store: sender,
            task,
        })
    }

    /// Stops the task: the adapters try what is queued, then end.
    pub async fn stop(self) {
        drop(self.events);
        drop(self.commands);
        let _ = self.task.await;
    }
}

pub(super) struct State {
    pub(super) engine: Engine,
    pub(super) store: Writer,
    pub(super) adapters: Vec<Running>,
    pub(super) starter: Starter,
    pub(super) reports: mpsc::UnboundedReceiver<Report>,
    /// The RTR client behind the engine's gate (replaced by a reload).
    pub(super) rpki: Option<crate::rpki::Rpki>,
    /// Each active mitigation's adapter results (as stored).
    results: HashMap<u64, BTreeMap<String, AdapterResult>>,
    /// The live feed (incident and mitigation frames for the page).
    feed: crate::live::Feed,
    /// Each open incident's classification (family, vector) as last stored.
    classified: HashMap<u64, Stored>,
}

async fn run(mut st: State, events: mpsc::Receiver<Event>, commands: mpsc::Receiver<Command>) {
    // Routes the config no longer allows (safelisted or unprotected since the last
    // stop, or of the other dry-run mode) are put right first, then what expired while
    // levee was down is withdrawn (both stored so).
    let out = st.engine.revalidate(now_us());
    st.handle(Actor::Levee, out).await;
    let out = st.engine.tick(now_us());
    st.handle(Actor::Expiry, out).await;
    st.reconcile().await;
    st.serve(events, commands).await;
    st.finish().await;
}

impl State {
    /// Reconciles at start: each adapter is told the whole desired set, and the routes
    /// the store says it may still hold though their mitigation ended (a withdrawal it
    /// never confirmed). Adapters that keep state drop those; everything desired goes
    /// out.
    async fn reconcile(&mut self) {
        let again = self.desired();
        if !again.is_empty() {
            info!(
                routes = again.len(),
                "re-announcing the mitigations active at the last stop"
            );
        }
        for i in 0..self.adapters.len() {
            self.reconcile_one(i, &again).await;
        }
    }

    /// Reconciles adapter `i` with `desired` (see [`State::reconcile`]).
    pub(super) async fn reconcile_one(&mut self, i: usize, desired: &[Change]) {
        let stale = self.stale(i, desired).await;
        self.adapters[i].handle.sync(desired.to_vec(), stale).await;
    }

    /// What every adapter should hold: the active routes that are not in dry run.
    pub(super) fn desired(&self) -> Vec<Change> {
        self.engine
            .active()
            .filter(|m| !m.dry_run)
            .map(|m| Change::announce(m.id, &m.route, levels(m)))
            .collect()
    }

    /// What adapter `i` may hold and should not: routes of ended mitigations, and
    /// active ones of levels it no longer carries (its `levels` changed).
    async fn stale(&mut self, i: usize, again: &[Change]) -> Vec<Change> {
        let name = self.adapters[i].handle.status().name;
        let held = self.store.held(&name).await;
        let handle = &self.adapters[i].handle;
        let stale: Vec<Change> = match held {
            Ok(v) => v
                .iter()
                .filter(|(id, _)| {
                    !again
                        .iter()
                        .any(|c| c.id == *id && handle.carries(c.levels))
                })
                .map(|(id, r)| Change::withdraw(*id, r, Levels::ALL))
                .collect(),
            // Counted and logged by the store's thread.
            Err(_) => Vec::new(),
        };
        if !stale.is_empty() {
            info!(adapter = %name, routes = stale.len(), "withdrawing routes whose withdrawal the adapter never confirmed");
        }
        stale
    }

    /// Serves events, commands, adapter reports and the expiry tick until both input
    /// channels close.
    async fn serve(
        &mut self,
        mut events: mpsc::Receiver<Event>,
        mut commands: mpsc::Receiver<Command>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let (mut events_open, mut commands_open) = (true, true);
        while events_open || commands_open {
            tokio::select! {
                e = events.recv(), if events_open => match e {
                    Some(e) => self.event(&e).await,
                    None => events_open = false,
                },
                c = commands.recv(), if commands_open => match c {
                    Some(c) => {
                        let answer = self.request(c.actor, c.request).await;
                        let _ = c.reply.send(answer);
                    }
                    None => commands_open = false,
                },
                Some(r) = self.reports.recv() => self.report(r).await,
                _ = tick.tick() => {
                    let now = now_us();
                    let out = self.engine.tick(now);
                    self.handle(Actor::Expiry, out).await;
                    self.store.write(Write::Tick { now }).await;
                }
            }
        }
    }

    /// An incident event: decided on, and stored with its evidence at its start and
    /// end, and on an update (at most one a second) that changes its classification or
    /// its mitigation level, or raises its peak by a tenth or more.
    async fn event(&mut self, e: &Event) {
        let out = self.engine.on_event(now_us(), e);
        let class = (e.family.as_str(), e.vector.clone());
        let peak = (e.peak.pps, e.peak.bps);
        let store = match e.kind {
            EventKind::Start => {
                self.classified.insert(e.id, Stored { class, peak });
                true
            }
            EventKind::End => {
                self.classified.remove(&e.id);
                true
            }
            EventKind::Update => {
                let leveled = out
                    .iter()
                    .any(|o| matches!(o, Output::Level { incident, .. } if *incident == e.id));
                let changed = self
                    .classified
                    .get(&e.id)
                    .is_none_or(|s| s.differs(&class, peak));
                if changed {
                    self.classified.insert(e.id, Stored { class, peak });
                }
                changed || leveled
            }
        };
        if store {
            self.store.write(Write::Incident(Box::new(e.clone()))).await;
        }
        self.feed.incident(e);
        self.handle(Actor::Detector, out).await;
    }

    /// Stops the adapters (they try what is queued), stores their last reports,
    /// audits the stop and stops the store's thread once everything is written.
    async fn finish(mut self) {
        for a in self.adapters.drain(..) {
            a.handle.stop().await;
        }
        self.drain_reports().await;
        if let Some(r) = self.rpki.take() {
            r.stop();
        }
        let active = format!("{} active", self.engine.active().count());
        let now = now_us();
        self.audit(
            now,
            Note::new(Actor::Levee, Action::Stop, "mitigations", active),
        )
        .await;
        self.store.stop(now).await;
    }
}

/// The levels a mitigation's route belongs to, for the adapters' and peers' `levels`.
pub(super) fn levels(m: &Mitigation) -> Levels {
    Levels::of_route(m.level, &m.route)
}

impl State {
    /// Queues an audit entry.
    pub(super) async fn audit(&self, now: u64, note: Note) {
        self.store
            .write(Write::Audit {
                now,
                notes: vec![note],
            })
            .await;
    }

    /// Stores the reports the adapters have sent so far.
    pub(super) async fn drain_reports(&mut self) {
        while let Ok(r) = self.reports.try_recv() {
            self.report(r).await;
        }
    }

    async fn report(&mut self, r: Report) {
        let now = now_us();
        let state = r.state;
        for id in &r.ids {
            if let Some(results) = self.results.get_mut(id) {
                let e = results
                    .entry(r.adapter.clone())
                    .or_insert_with(|| AdapterResult {
                        adapter: r.adapter.clone(),
                        state,
                        attempts: 0,
                        error: None,
                    });
                e.state = state;
                e.attempts += 1;
                e.error.clone_from(&r.error);
            }
            self.store
                .write(Write::AdapterResult {
                    now,
                    id: *id,
                    adapter: r.adapter.clone(),
                    state,
                    error: r.error.clone(),
                })
                .await;
        }
    }

    /// Logs, stores and dispatches the engine's outputs.
    pub(super) async fn handle(&mut self, actor: Actor, out: Vec<Output>) {
        if out.is_empty() {
            return;
        }
        let mut changes = Vec::new();
        for o in &out {
            match o {
                Output::Announce(m) => {
                    self.results.entry(m.id).or_default();
                    self.feed.mitigation(m, None, self.results.len());
                    info!(id = m.id, victim = %m.victim, level = m.level.map_or(0, Level::number), dry_run = m.dry_run, route = %m.route, "{}", if m.dry_run { "would announce (dry run)" } else { "announce" });
                    if !m.dry_run {
                        changes.push(Change::announce(m.id, &m.route, levels(m)));
                    }
                }
                Output::Withdraw(m, reason) => {
                    self.results.remove(&m.id);
                    self.feed.mitigation(m, Some(*reason), self.results.len());
                    info!(id = m.id, victim = %m.victim, reason = reason.as_str(), route = %m.route, "{}", if m.dry_run { "would withdraw (dry run)" } else { "withdraw" });
                    if !m.dry_run {
                        changes.push(Change::withdraw(m.id, &m.route, levels(m)));
                    }
                }
                Output::Level {
                    victim,
                    network,
                    incident,
                    from,
                    to,
                } => {
                    warn!(%victim, network, incident, from = ?from.map(Level::number), to = to.number(), "mitigation level");
                }
                Output::Skip {
                    victim,
                    incident,
                    reason,
                } => {
                    warn!(%victim, incident, %reason, "not mitigated");
                }
                Output::GateWarning { victim, why, .. } => {
                    warn!(victim = %victim, "RPKI gate: {why}; announcing anyway");
                }
                Output::DryRun(m) => {
                    info!(id = m.id, victim = %m.victim, route = %m.route, "{}", if m.dry_run { "dry run on: withdraw, kept recorded" } else { "dry run off: announce" });
                    changes.push(if m.dry_run {
                        Change::withdraw(m.id, &m.route, levels(m))
                    } else {
                        Change::announce(m.id, &m.route, levels(m))
                    });
                }
                Output::Extend { .. } | Output::Holders(_) => {}
            }
        }
        self.store
            .write(Write::Apply {
                now: now_us(),
                actor,
                outputs: out,
            })
            .await;
        if changes.is_empty() {
            return;
        }
        // Stored before any router hears of it: after a crash, the store knows every
        // route an adapter may hold, so the next start withdraws what has ended.
        self.store.sync().await;
        for a in &self.adapters {
            a.handle.send(changes.clone()).await;
        }
    }

    async fn request(&mut self, actor: Actor, r: Request) -> Reply {
        let now = now_us();
        let result = self.answer(now, actor.clone(), r).await;
        if let Err(e) = &result {
            self.audit(now, Note::new(actor, Action::Refused, "request", e))
                .await;
        }
        result
    }

    /// Carries out a request; the error is the operator's answer.
    async fn answer(&mut self, now: u64, actor: Actor, r: Request) -> Reply {
        let ttl_us =
            |t: Option<Duration>, s: &Settings| t.map_or(s.ttl_us, |d| d.as_micros() as u64);
        match r {
            Request::AddRoute { route, ttl } => {
                let rt: RouteText = route.parse().map_err(|e| format!("route: {e}"))?;
                let ttl = ttl_us(ttl, self.engine.settings());
                let (id, out) = self
                    .engine
                    .manual_add(now, rt, ttl, None)
                    .map_err(|e| e.to_string())?;
                self.handle(actor.clone(), out).await;
                Ok(Answer::Ids { ids: vec![id] })
            }
            Request::AddLevel { victim, level, ttl } => {
                let ttl = ttl_us(ttl, self.engine.settings());
                let l = Level::from_number(level)
                    .ok_or_else(|| format!("level {level}: expected 1 to 4"))?;
                let routes = self
                    .engine
                    .level_routes(now_us(), victim, l)
                    .map_err(|e| e.to_string())?;
                let (mut ids, mut err) = (Vec::new(), None);
                for rt in routes {
                    match self.engine.manual_add(now, rt, ttl, Some(l)) {
                        Ok((id, out)) => {
                            ids.push(id);
                            self.handle(actor.clone(), out).await;
                        }
                        Err(e) => err = Some(e.to_string()),
                    }
                }
                match err {
                    Some(e) if ids.is_empty() => Err(e),
                    _ => Ok(Answer::Ids { ids }),
                }
            }
            Request::Withdraw { id } => {
                let out = self
                    .engine
                    .manual_withdraw(now, id)
                    .map_err(|e| e.to_string())?;
                self.handle(actor.clone(), out).await;
                Ok(Answer::Ids { ids: vec![id] })
            }
            Request::Extend { id, ttl } => {
                let (route, level) = self
                    .engine
                    .active()
                    .find(|m| m.id == id)
                    .map(|m| (m.route.clone(), m.level))
                    .ok_or_else(|| format!("no active mitigation {id}"))?;
                let (id, out) = self
                    .engine
                    .manual_add(now, route, ttl.as_micros() as u64, level)
                    .map_err(|e| e.to_string())?;
                self.handle(actor, out).await;
                Ok(Answer::Ids { ids: vec![id] })
            }
            Request::Note { incident, text } => {
                let errors = self.store.errors();
                self.store
                    .write(Write::IncidentNote {
                        now,
                        incident,
                        author: actor,
                        text,
                    })
                    .await;
                self.store.sync().await;
                if self.store.errors() != errors {
                    return Err(format!(
                        "the note on incident {incident} could not be stored"
                    ));
                }
                Ok(Answer::Ids {
                    ids: vec![incident],
                })
            }
            Request::List => Ok(Answer::Status(Box::new(self.status()))),
            Request::Reconfigure(reload) => Ok(self.reconfigure(now, *reload).await),
        }
    }

    fn status(&self) -> Status {
        Status {
            mitigations: self.engine.active().map(|m| self.view(m)).collect(),
            adapters: self.adapters.iter().map(|a| a.handle.status()).collect(),
            dry_run: self.engine.settings().dry_run,
            counters: Counters {
                engine: self.engine.counters(),
                store_errors: self.store.errors(),
            },
            rpki: self.rpki.as_ref().map(|r| r.status().get()),
            audit: self.store.anchor(),
        }
    }

    fn view(&self, m: &Mitigation) -> MitigationView {
        let adapters = self
            .results
            .get(&m.id)
            .map(|r| r.values().cloned().collect())
            .unwrap_or_default();
        MitigationView {
            id: m.id,
            route: m.route.to_string(),
            victim: m.victim.clone(),
            destination: destination(&m.route.nlri).map(|d| d.to_string()),
            network: m.network.clone(),
            level: m.level.map(Level::number),
            levels: levels(m).names(),
            origin: m.origin,
            incident: m.incident,
            created_us: m.created_us,
            expires_us: m.expires_us,
            dry_run: m.dry_run,
            adapters,
        }
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
