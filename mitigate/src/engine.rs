//! The mitigation engine, sans-IO: incident events, operator requests and time in;
//! route announcements and withdrawals out. It never reads a clock and does no I/O, so
//! tests drive it with explicit time and the daemon with the wall clock.

pub use super::model::{
    Counters, Gate, GateVerdict, Holder, Id, Mitigation, Origin, Output, Refusal, WithdrawReason,
};
use super::safelist::{self, Safelist};
use super::settings::{Ladder, Level, Network, Settings};
use super::signature::{Signature, Target, applies, routes};
use ipnet::IpNet;
use levee_bgp::flowspec::Component;
use levee_bgp::rib::{Nlri, RouteText};
use levee_detect::{Event, EventKind};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

/// Who asks for a route, for what, and until when.
#[derive(Debug)]
struct Ask<'a> {
    holder: Holder,
    level: Option<Level>,
    incident: u64,
    victim: &'a str,
    network: &'a str,
    expires_us: u64,
}

/// Escalation state of one attacked target.
#[derive(Debug, Clone)]
struct Victim {
    network: String,
    sig: Signature,
    incident: u64,
    /// The incident is going on (its routes are extended).
    active: bool,
    level: Option<Level>,
    /// Per level: since when the rate has been above its trigger.
    above_since: [Option<u64>; 4],
    /// Since when the rate has been below the current level's trigger.
    below_since: Option<u64>,
    /// The routes held at the current level.
    routes: Vec<Nlri>,
}

impl Victim {
    /// A target first seen in `incident`, not mitigated yet.
    fn new(network: String, sig: Signature, incident: u64) -> Victim {
        Victim {
            network,
            sig,
            incident,
            active: true,
            level: None,
            above_since: [None; 4],
            below_since: None,
            routes: Vec::new(),
        }
    }

    /// Notes, per level, since when the rate (`pps`, `bps`) has been above its trigger.
    fn observe(&mut self, now: u64, ladder: &Ladder, pps: u64, bps: u64) {
        for l in Level::ALL {
            let fires = ladder.level(l).trigger.fires(pps, bps);
            let since = &mut self.above_since[l.index()];
            *since = if fires { since.or(Some(now)) } else { None };
        }
    }

    /// The level the target should be at: the escalation decision. Up at once to the
    /// highest enabled level whose rate has held long enough; down only once the rate
    /// has stayed below the current level for `deescalate_after_us`.
    fn next_level(
        &mut self,
        now: u64,
        ladder: &Ladder,
        key: &Target,
        deescalate_after_us: u64,
    ) -> Option<Level> {
        // The highest enabled level whose rate has held long enough.
        let target = Level::ALL.into_iter().rev().find(|&l| {
            let ls = ladder.level(l);
            ls.enabled
                && applies(l, key)
                && self.above_since[l.index()].is_some_and(|t| now.saturating_sub(t) >= ls.hold_us)
        });
        match (self.level, target) {
            (None, t) => t,
            (Some(c), Some(t)) if t > c => {
                self.below_since = None;
                Some(t)
            }
            (Some(c), t) if t < Some(c) => {
                let to = t.or_else(|| lowest(ladder, key));
                self.deescalate(now, c, to, deescalate_after_us)
            }
            (c, _) => {
                self.below_since = None;
                c
            }
        }
    }

    /// De-escalation from `current` to `to`: only once the rate has been below
    /// `current` for `after_us`; until then the target stays where it is.
    fn deescalate(
        &mut self,
        now: u64,
        current: Level,
        to: Option<Level>,
        after_us: u64,
    ) -> Option<Level> {
        let since = *self.below_since.get_or_insert(now);
        if now.saturating_sub(since) >= after_us {
            self.below_since = None;
            to
        } else {
            Some(current)
        }
    }
}

/// The lowest enabled level of `ladder` that applies to the target.
fn lowest(ladder: &Ladder, key: &Target) -> Option<Level> {
    Level::ALL
        .into_iter()
        .find(|&l| ladder.level(l).enabled && applies(l, key))
}

/// The protected prefixes of `net` that cover the target (what the gate checks).
fn covering(net: &Network, key: &Target) -> Vec<IpNet> {
    match key {
        Target::Host(ip) => net
            .prefixes
            .iter()
            .filter(|p| p.contains(ip))
            .copied()
            .collect(),
        Target::Network(_, p) => p.clone(),
    }
}

/// The engine.
#[derive(Debug)]
pub struct Engine {
    s: Settings,
    /// `s.safelist`, indexed.
    safelist: Safelist,
    routes: BTreeMap<Nlri, Mitigation>,
    victims: HashMap<Target, Victim>,
    cooldown: HashMap<Target, u64>,
    /// Refusals reported per incident (so a refused incident does not log every second).
    reported: HashMap<u64, Refusal>,
    next_id: Id,
    counters: Counters,
    gate: Option<std::sync::Arc<dyn Gate>>,
    /// Incidents the gate warned about.
    warned: std::collections::HashSet<u64>,
    /// The gate's warnings not handed out yet (they go first in the next outputs).
    warnings: Vec<Output>,
    /// The time of the call being handled (for the gate).
    now: u64,
}

impl Engine {
    /// An engine handing out ids from `first_id`.
    pub fn new(s: Settings, first_id: Id) -> Engine {
        Engine {
            safelist: Safelist::new(&s.safelist),
            s,
            routes: BTreeMap::new(),
            victims: HashMap::new(),
            cooldown: HashMap::new(),
            reported: HashMap::new(),
            next_id: first_id.max(1),
            counters: Counters::default(),
            gate: None,
            warned: std::collections::HashSet::new(),
            warnings: Vec::new(),
            now: 0,
        }
    }

    /// Installs the gate every announcement passes first (`None`: none).
    pub fn set_gate(&mut self, gate: Option<std::sync::Arc<dyn Gate>>) {
        self.gate = gate;
    }

    /// Asks the gate about a destination in `net`: `Err` to refuse. A warning is
    /// counted and queued as an [`Output::GateWarning`] once per `incident` (0: a
    /// manual request, always).
    fn gate_check(&mut self, dst: &str, covering: &[IpNet], incident: u64) -> Result<(), Refusal> {
        let Some(g) = &self.gate else { return Ok(()) };
        match g.check(self.now, covering) {
            GateVerdict::Allow => Ok(()),
            GateVerdict::Warn(why) => {
                if incident == 0 || !self.warned.contains(&incident) {
                    self.warned.insert(incident);
                    self.counters.rpki_warned += 1;
                    self.warnings.push(Output::GateWarning {
                        victim: dst.to_string(),
                        incident,
                        why,
                    });
                }
                Ok(())
            }
            GateVerdict::Refuse(why) => Err(Refusal::Rpki(why)),
        }
    }

    /// `out`, after the gate's warnings not handed out yet (they came first: a warning
    /// from a call that returns no outputs goes out with the next call's).
    fn with_warnings(&mut self, out: Vec<Output>) -> Vec<Output> {
        if self.warnings.is_empty() {
            return out;
        }
        let mut all = std::mem::take(&mut self.warnings);
        all.extend(out);
        all
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.s
    }

    /// Replaces the settings (a config reload). Active mitigations stay; the new
    /// ladders apply from the next event; then [`Engine::revalidate`] brings the active
    /// routes in line with the new safelist, protected networks and dry-run flag.
    #[must_use = "a reload's outputs must reach the adapters"]
    pub fn set_settings(&mut self, s: Settings, now: u64) -> Vec<Output> {
        self.safelist = Safelist::new(&s.safelist);
        self.s = s;
        self.revalidate(now)
    }

    /// Brings the active routes in line with the settings, after a reload or a restart
    /// (the config may have changed while levee was down):
    /// - a route that covers a safelisted address is withdrawn
    ///   ([`WithdrawReason::Safelisted`]): the safelist holds on every path, including
    ///   routes made before it;
    /// - a route whose destination is outside every protected network is withdrawn
    ///   ([`WithdrawReason::Unprotected`]);
    /// - a route whose dry-run flag differs from the settings' comes out as an
    ///   [`Output::DryRun`] with the new flag (live: announce it now; dry run: withdraw
    ///   it from the routers, keep it recorded), so an attack mitigated in dry run is
    ///   announced the moment dry run ends.
    #[must_use = "the outputs must reach the adapters"]
    pub fn revalidate(&mut self, now: u64) -> Vec<Output> {
        let mut out = Vec::new();
        let mut gone: Vec<(Nlri, WithdrawReason)> = Vec::new();
        for n in self.routes.keys() {
            let Some(d) = destination(n) else { continue };
            if self.safelist.overlaps(&d) {
                gone.push((n.clone(), WithdrawReason::Safelisted));
            } else if !self
                .s
                .networks
                .iter()
                .any(|net| net.prefixes.iter().any(|p| p.contains(&d)))
            {
                gone.push((n.clone(), WithdrawReason::Unprotected));
            }
        }
        for (n, why) in gone {
            self.remove(now, &n, why, &mut out);
        }
        let dry_run = self.s.dry_run;
        out.extend(
            self.routes
                .values_mut()
                .filter(|m| m.dry_run != dry_run)
                .map(|m| {
                    m.dry_run = dry_run;
                    Output::DryRun(m.clone())
                }),
        );
        out
    }

    /// The counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Active mitigations, by route.
    pub fn active(&self) -> impl Iterator<Item = &Mitigation> {
        self.routes.values()
    }

    /// The current level of a victim (`None`: not mitigated).
    pub fn level_of(&self, t: &Target) -> Option<Level> {
        self.victims.get(t).and_then(|v| v.level)
    }

    fn network(&self, name: &str) -> Option<&Network> {
        self.s.networks.iter().find(|n| n.name == name)
    }

    /// The protected networks, for a refusal: `name prefix, prefix; name ...`, at
    /// most eight prefixes named.
    fn protected_summary(&self) -> String {
        const SHOWN: usize = 8;
        let total: usize = self.s.networks.iter().map(|n| n.prefixes.len()).sum();
        if total == 0 {
            return "none are configured".into();
        }
        let mut shown = 0;
        let mut parts = Vec::new();
        for n in &self.s.networks {
            let ps: Vec<String> = n
                .prefixes
                .iter()
                .take(SHOWN - shown)
                .map(ToString::to_string)
                .collect();
            if ps.is_empty() {
                break;
            }
            shown += ps.len();
            parts.push(format!("{} {}", n.name, ps.join(", ")));
        }
        let mut s = parts.join("; ");
        if total > shown {
            s.push_str(&format!(" and {} more", total - shown));
        }
        s
    }

    /// Why `target` may not be mitigated: outside every protected network.
    fn outside(&self, target: String) -> Refusal {
        Refusal::OutsideProtected {
            target,
            protected: self.protected_summary(),
        }
    }

    /// Why a destination may not be mitigated because of the safelist, if it may not:
    /// it is safelisted, or it covers a safelisted prefix.
    fn safelist_refusal(&self, p: &IpNet) -> Option<Refusal> {
        if self.safelist.covers(p) {
            return Some(Refusal::Safelisted(p.to_string()));
        }
        let s = self.safelist.overlap_example(p)?;
        Some(Refusal::CoversSafelisted {
            target: p.to_string(),
            safelisted: s,
        })
    }

    /// Takes an incident event at `now` (µs).
    pub fn on_event(&mut self, now: u64, e: &Event) -> Vec<Output> {
        self.now = now;
        let mut out = Vec::new();
        let Some(net) = self.network(&e.network).cloned() else {
            let r = self.outside(e.victim.to_string());
            self.refuse(&mut out, e.id, e.victim.to_string(), r);
            return self.with_warnings(out);
        };
        let sig = Signature::from_event(e, &net.prefixes);
        if e.kind == EventKind::End {
            self.end(e.id, &sig.target);
        } else if let Err((victim, r)) = self.admit_event(now, e, &net, &sig.target) {
            self.refuse(&mut out, e.id, victim, r);
        } else {
            self.update(now, e, &net, sig, &mut out);
        }
        self.with_warnings(out)
    }

    /// An incident ended: its refusals and warnings may be reported again, and its
    /// target's routes are no longer extended (they go when their TTL runs out).
    fn end(&mut self, incident: u64, key: &Target) {
        self.reported.remove(&incident);
        self.warned.remove(&incident);
        if let Some(v) = self.victims.get_mut(key) {
            v.active = false;
            v.above_since = [None; 4];
            v.below_since = None;
            // One that never reached a level holds nothing: forget it now, so
            // incidents that stay below every trigger cannot grow the map.
            if v.routes.is_empty() {
                self.victims.remove(key);
            }
        }
    }

    /// Targets the engine keeps state for (mitigated, or under an ongoing incident).
    pub fn tracked_targets(&self) -> usize {
        self.victims.len()
    }

    /// Whether a start or update may be acted on: the target is not safelisted, passes
    /// the gate (when it is not mitigated yet) and is out of its cooldown. `Err`: the
    /// victim's name and the refusal.
    fn admit_event(
        &mut self,
        now: u64,
        e: &Event,
        net: &Network,
        key: &Target,
    ) -> Result<(), (String, Refusal)> {
        if let Target::Host(ip) = key
            && self.safelist.covers(&IpNet::from(*ip))
        {
            return Err((ip.to_string(), Refusal::Safelisted(ip.to_string())));
        }
        let victim = e.victim.to_string();
        if !self.victims.contains_key(key)
            && let Err(r) = self.gate_check(&victim, &covering(net, key), e.id)
        {
            return Err((victim, r));
        }
        if self.cooldown.get(key).is_some_and(|&until| until > now) {
            return Err((victim.clone(), Refusal::Cooldown(victim)));
        }
        Ok(())
    }

    /// An incident starts or goes on: the target's level follows the rate (escalation,
    /// de-escalation, or new routes for a new classification), and its routes live on.
    fn update(
        &mut self,
        now: u64,
        e: &Event,
        net: &Network,
        sig: Signature,
        out: &mut Vec<Output>,
    ) {
        let key = sig.target.clone();
        let deescalate_after_us = self.s.deescalate_after_us;
        let v = self
            .victims
            .entry(key.clone())
            .or_insert_with(|| Victim::new(net.name.clone(), sig.clone(), e.id));
        v.active = true;
        v.incident = e.id;
        v.observe(now, &net.ladder, e.rate.pps, e.rate.bps);
        let next = v.next_level(now, &net.ladder, &key, deescalate_after_us);
        let reclassified = v.sig.vectors != sig.vectors || v.sig.target != sig.target;
        let changed = next != v.level;
        if changed || reclassified {
            // The newest evidence shapes the routes of a new level.
            v.sig = sig;
        }
        if let Some(level) = next
            && (changed || (reclassified && v.level.is_some()))
        {
            self.transition(now, &key, level, out);
        }
        self.extend(now, &key, out);
    }

    /// The attack goes on: the target's routes live on, to `ttl_us` from `now`.
    fn extend(&mut self, now: u64, key: &Target, out: &mut Vec<Output>) {
        let expires_us = now.saturating_add(self.s.ttl_us);
        let Some(v) = self.victims.get(key) else {
            return;
        };
        for n in &v.routes {
            if let Some(m) = self.routes.get_mut(n)
                && m.expires_us < expires_us
            {
                m.expires_us = expires_us;
                out.push(Output::Extend {
                    id: m.id,
                    expires_us,
                });
            }
        }
    }

    /// Records a refusal; reports it once per incident.
    fn refuse(&mut self, out: &mut Vec<Output>, incident: u64, victim: String, r: Refusal) {
        if self.reported.get(&incident) == Some(&r) {
            return;
        }
        match r {
            Refusal::Safelisted(_) | Refusal::CoversSafelisted { .. } => {
                self.counters.safelisted += 1
            }
            Refusal::Cooldown(_) => self.counters.cooldown += 1,
            Refusal::Cap { .. } => self.counters.capped += 1,
            Refusal::OutsideProtected { .. } => self.counters.not_protected += 1,
            Refusal::Rpki(_) => self.counters.rpki_refused += 1,
            _ => {}
        }
        self.reported.insert(incident, r.clone());
        out.push(Output::Skip {
            victim,
            incident,
            reason: r,
        });
    }

    /// Would `new` routes, replacing `freed` ones, stay within the caps?
    fn check_caps(&self, network: &str, new: &[&RouteText], freed: &[Nlri]) -> Result<(), Refusal> {
        let added: Vec<&&RouteText> = new
            .iter()
            .filter(|r| !self.routes.contains_key(&r.nlri))
            .collect();
        let total = self.routes.len() + added.len();
        let in_net = self
            .routes
            .values()
            .filter(|m| m.network == network)
            .count()
            + added.len();
        let freed_n = freed.len();
        if !added.is_empty() && total - freed_n > self.s.max_active {
            return Err(Refusal::Cap {
                limit: self.s.max_active,
                scope: "in total".into(),
            });
        }
        if !added.is_empty() && in_net - freed_n > self.s.max_active_per_network {
            return Err(Refusal::Cap {
                limit: self.s.max_active_per_network,
                scope: format!("in network {network}"),
            });
        }
        Ok(())
    }

    /// Moves a target to `level`: the new routes first, then the old ones go
    /// (make-before-break).
    fn transition(&mut self, now: u64, key: &Target, level: Level, out: &mut Vec<Output>) {
        let Some(v) = self.victims.get(key) else {
            return;
        };
        let Some(net) = self.network(&v.network).cloned() else {
            return;
        };
        let (incident, from, victim) = (v.incident, v.level, key_name(key));
        let old = v.routes.clone();
        let wanted = routes(&v.sig, level, &net.ladder, &net.prefixes);
        let Some(wanted) = self.outside_safelist(wanted, incident, &victim, out) else {
            // Nothing of this level can be announced: stay where it is.
            return;
        };
        let holder = Holder::Auto(key.clone());
        let freed: Vec<Nlri> = old
            .iter()
            .filter(|n| !wanted.iter().any(|w| &w.nlri == *n))
            .filter(|n| {
                self.routes
                    .get(*n)
                    .is_some_and(|m| m.holders.len() == 1 && m.holders.contains(&holder))
            })
            .cloned()
            .collect();
        let refs: Vec<&RouteText> = wanted.iter().collect();
        if let Err(r) = self.check_caps(&net.name, &refs, &freed) {
            self.refuse(out, incident, victim, r);
            return;
        }
        let mut held = Vec::new();
        for r in wanted {
            held.push(r.nlri.clone());
            let ask = Ask {
                holder: holder.clone(),
                level: Some(level),
                incident,
                victim: &victim,
                network: &net.name,
                expires_us: now.saturating_add(self.s.ttl_us),
            };
            self.hold(now, r, ask, out);
        }
        let reason = match from {
            Some(f) if level > f => WithdrawReason::Escalated,
            Some(f) if level < f => WithdrawReason::Deescalated,
            _ => WithdrawReason::Reclassified,
        };
        for n in old.iter().filter(|n| !held.contains(n)) {
            self.release(n, &holder, reason, out);
        }
        match from {
            Some(f) if level > f => self.counters.escalations += 1,
            Some(f) if level < f => self.counters.deescalations += 1,
            _ => {}
        }
        if let Some(v) = self.victims.get_mut(key) {
            v.routes = held;
            v.level = Some(level);
        }
        if from != Some(level) {
            out.push(Output::Level {
                victim,
                network: net.name,
                incident,
                from,
                to: level,
            });
        }
    }

    /// A level's routes made to spare the safelist ([`safelist::narrow`]); what cannot
    /// be narrowed is refused (reported once per incident). `None` when nothing is
    /// left to announce.
    fn outside_safelist(
        &mut self,
        wanted: Vec<RouteText>,
        incident: u64,
        victim: &str,
        out: &mut Vec<Output>,
    ) -> Option<Vec<RouteText>> {
        let mut kept = Vec::new();
        let mut refused = None;
        for r in wanted {
            let dst = destination(&r.nlri);
            match safelist::narrow(r, &self.safelist) {
                Ok(rs) => kept.extend(rs),
                Err(s) => refused = Some((dst, s)),
            }
        }
        if let Some((dst, s)) = refused {
            let r = Refusal::CoversSafelisted {
                target: dst.map_or_else(|| victim.to_string(), |d| d.to_string()),
                safelisted: s,
            };
            self.refuse(out, incident, victim.to_string(), r);
        }
        (!kept.is_empty()).then_some(kept)
    }

    /// Adds a holder to a route, announcing it if it is new or its attributes changed;
    /// its expiry becomes the later of the two.
    fn hold(&mut self, now: u64, r: RouteText, ask: Ask<'_>, out: &mut Vec<Output>) -> Id {
        let Ask {
            holder,
            level,
            incident,
            victim,
            network,
            expires_us,
        } = ask;
        if let Some(m) = self.routes.get_mut(&r.nlri) {
            self.counters.deduplicated += 1;
            let added = m.holders.insert(holder);
            m.expires_us = m.expires_us.max(expires_us);
            if m.route.attrs != r.attrs {
                m.route.attrs = r.attrs;
                self.counters.announced += 1;
                out.push(Output::Announce(m.clone()));
            } else if added {
                out.push(Output::Holders(m.clone()));
            } else {
                out.push(Output::Extend {
                    id: m.id,
                    expires_us: m.expires_us,
                });
            }
            return m.id;
        }
        let id = self.next_id;
        self.next_id += 1;
        let origin = if holder == Holder::Manual {
            Origin::Manual
        } else {
            Origin::Auto
        };
        let m = Mitigation {
            id,
            route: r.clone(),
            victim: victim.to_string(),
            network: network.to_string(),
            level,
            origin,
            incident: (origin == Origin::Auto).then_some(incident),
            created_us: now,
            expires_us,
            dry_run: self.s.dry_run,
            holders: BTreeSet::from([holder]),
        };
        self.counters.announced += 1;
        out.push(Output::Announce(m.clone()));
        self.routes.insert(r.nlri, m);
        id
    }

    /// Removes a holder from a route; withdraws it once no one holds it.
    fn release(
        &mut self,
        n: &Nlri,
        holder: &Holder,
        reason: WithdrawReason,
        out: &mut Vec<Output>,
    ) {
        let Some(m) = self.routes.get_mut(n) else {
            return;
        };
        if !m.holders.remove(holder) {
            return;
        }
        if !m.holders.is_empty() {
            out.push(Output::Holders(m.clone()));
        } else if let Some(m) = self.routes.remove(n) {
            self.counters.withdrawn += 1;
            out.push(Output::Withdraw(m, reason));
        }
    }

    /// Withdraws a route outright and lets its holders go; targets that hold nothing
    /// any more enter their cooldown.
    fn remove(&mut self, now: u64, n: &Nlri, reason: WithdrawReason, out: &mut Vec<Output>) {
        let Some(m) = self.routes.remove(n) else {
            return;
        };
        self.counters.withdrawn += 1;
        if reason == WithdrawReason::Expired {
            self.counters.expired += 1;
        }
        for h in &m.holders {
            let Holder::Auto(t) = h else { continue };
            let Some(v) = self.victims.get_mut(t) else {
                continue;
            };
            v.routes.retain(|x| x != n);
            if v.routes.is_empty() && (!v.active || reason == WithdrawReason::Manual) {
                self.victims.remove(t);
                self.cooldown
                    .insert(t.clone(), now.saturating_add(self.s.cooldown_us));
            }
        }
        out.push(Output::Withdraw(m, reason));
    }

    /// Advances time: withdraws expired routes.
    pub fn tick(&mut self, now: u64) -> Vec<Output> {
        let mut out = Vec::new();
        let expired: Vec<Nlri> = self
            .routes
            .iter()
            .filter(|(_, m)| m.expires_us <= now)
            .map(|(n, _)| n.clone())
            .collect();
        for n in expired {
            self.remove(now, &n, WithdrawReason::Expired, &mut out);
        }
        self.cooldown.retain(|_, until| *until > now);
        self.with_warnings(out)
    }

    /// The protected network a destination is in, or why it may not be mitigated.
    /// Passes the RPKI gate too (through the prefixes that cover the destination).
    fn admit(&mut self, dst: IpNet) -> Result<String, Refusal> {
        let (name, covering) = self
            .s
            .networks
            .iter()
            .find(|n| n.prefixes.iter().any(|p| p.contains(&dst)))
            .map(|n| {
                let c: Vec<IpNet> = n
                    .prefixes
                    .iter()
                    .filter(|p| p.contains(&dst))
                    .copied()
                    .collect();
                (n.name.clone(), c)
            })
            .ok_or_else(|| self.outside(dst.to_string()))?;
        if let Some(r) = self.safelist_refusal(&dst) {
            return Err(r);
        }
        if let Err(r) = self.gate_check(&dst.to_string(), &covering, 0) {
            self.counters.rpki_refused += 1;
            return Err(r);
        }
        Ok(name)
    }

    /// An operator's route, held until withdrawn or `ttl_us` from `now`. An active route
    /// with the same match takes the new attributes and the later expiry.
    pub fn manual_add(
        &mut self,
        now: u64,
        route: RouteText,
        ttl_us: u64,
        level: Option<Level>,
    ) -> Result<(Id, Vec<Output>), Refusal> {
        self.now = now;
        let dst = destination(&route.nlri).ok_or(Refusal::NoDestination)?;
        let network = self.admit(dst)?;
        self.check_caps(&network, &[&route], &[])?;
        let mut out = Vec::new();
        let victim = dst.to_string();
        // An operator's TTL is what they asked for, also on a route that existed.
        let ask = Ask {
            holder: Holder::Manual,
            level,
            incident: 0,
            victim: &victim,
            network: &network,
            expires_us: now.saturating_add(ttl_us),
        };
        let id = self.hold(now, route, ask, &mut out);
        Ok((id, self.with_warnings(out)))
    }

    /// The routes a level would announce for a host with no evidence (`levee mitigate
    /// add ADDRESS --level N`).
    /// A gate warning goes out first in the next call's outputs.
    pub fn level_routes(
        &mut self,
        now: u64,
        ip: IpAddr,
        level: Level,
    ) -> Result<Vec<RouteText>, Refusal> {
        self.now = now;
        let network = self.admit(IpNet::from(ip))?;
        let net = self
            .network(&network)
            .ok_or_else(|| self.outside(ip.to_string()))?;
        let r = routes(
            &Signature::bare(Target::Host(ip)),
            level,
            &net.ladder,
            &net.prefixes,
        );
        if r.is_empty() {
            return Err(Refusal::NoRoute(level, ip.to_string()));
        }
        Ok(r)
    }

    /// Withdraws a mitigation by id, whoever holds it. Targets it protected enter their
    /// cooldown, so the operator's decision is not undone by the next update.
    pub fn manual_withdraw(&mut self, now: u64, id: Id) -> Result<Vec<Output>, Refusal> {
        let n = self
            .routes
            .iter()
            .find(|(_, m)| m.id == id)
            .map(|(n, _)| n.clone())
            .ok_or(Refusal::Unknown(id))?;
        let mut out = Vec::new();
        self.remove(now, &n, WithdrawReason::Manual, &mut out);
        Ok(self.with_warnings(out))
    }

    /// Takes back the mitigations the store held at the last stop. Expired ones go at
    /// the next [`Engine::tick`]; the others are held by their target until their TTL,
    /// and an attack that goes on picks them up again.
    pub fn restore(&mut self, ms: Vec<Mitigation>) {
        for m in ms {
            self.next_id = self.next_id.max(m.id + 1);
            for h in &m.holders {
                let Holder::Auto(t) = h else { continue };
                let v = self.victims.entry(t.clone()).or_insert_with(|| Victim {
                    network: m.network.clone(),
                    sig: Signature::bare(t.clone()),
                    incident: m.incident.unwrap_or(0),
                    active: false,
                    level: m.level,
                    above_since: [None; 4],
                    below_since: None,
                    routes: Vec::new(),
                });
                v.level = v.level.max(m.level);
                v.routes.push(m.route.nlri.clone());
            }
            self.routes.insert(m.route.nlri.clone(), m);
        }
    }
}

/// The target's name in outputs.
fn key_name(t: &Target) -> String {
    match t {
        Target::Host(ip) => ip.to_string(),
        Target::Network(name, _) => name.clone(),
    }
}

/// The destination a route protects: a FlowSpec rule's destination prefix, or a
/// unicast prefix.
pub fn destination(n: &Nlri) -> Option<IpNet> {
    match n {
        Nlri::Unicast(p) => IpNet::new(p.addr, p.len).ok(),
        Nlri::Flow(f) => f.components.iter().find_map(|c| match c {
            Component::DestinationPrefix(p) if p.offset == 0 => IpNet::new(p.addr, p.len).ok(),
            _ => None,
        }),
    }
}
