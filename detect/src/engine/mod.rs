//! The engine: per-destination accounting, threshold checks on every record, and a
//! 100 ms tick that drives incidents and, once a second, the baselines.
//!
//! Sans-IO: [`Engine::ingest`] takes records (their `time_us` is the clock), and
//! [`Engine::tick`] takes the current time and returns the events due. Live, the caller
//! ticks every 100 ms of wall-clock time; offline (replay), it ticks every 100 ms of
//! capture time before feeding the records that follow.
//!
//! Hot path per record: one binary search for the protected network, one hash lookup for
//! the host, a window update, and one comparison against the lowest
//! threshold that could fire. Only records for victims under attack do more. Records
//! for destinations outside every protected network cost one more binary search, for
//! their source: a protected network's outbound traffic ([`history`]).

mod busiest;
pub mod history;
mod host;
mod incident;
mod reconfigure;
#[cfg(test)]
mod state_tests;
mod sweep;
#[cfg(test)]
mod tests;

pub use incident::{Event, EventKind, ThreatIntel, Top, Victim};
pub use reconfigure::{ReconfigureError, Reconfigured};

use crate::breakdown::Breakdown;
use crate::netmatch::NetMatcher;
use crate::policy::{Compiled, Current, Policy, Reason, Trigger};
use crate::window::SLOT_US;
use foldhash::fast::FixedState;
use history::Second;
use host::{Host, NONE, Network, estimate};
use incident::{EventContext, Incident};
use ipnet::IpNet;
use levee_flow::FlowRecord;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// Records whose lookups are issued together (see [`Engine::ingest`]).
const LOOKAHEAD: usize = 16;
/// Not in a protected network.
const NO_NET: u16 = u16::MAX;

/// Suspects (victims past half their threshold, gathering evidence) held at most.
const MAX_SUSPECTS: u32 = 4096;
/// Tracked IPs sampled when the table is full and a new IP needs a slot: the least
/// active of them (`Host::activity`) that is not under an incident makes room.
const EVICTION_SAMPLES: usize = 8;

/// The tick period: rates are judged and incidents advanced this often.
pub const TICK_US: u64 = SLOT_US;
const SECOND_US: u64 = 1_000_000;

/// One protected network (a hostgroup) and its policy.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkConfig {
    /// Name in events.
    pub name: String,
    /// Its prefixes.
    pub prefixes: Vec<IpNet>,
    /// Its detection policy.
    pub policy: Policy,
}

/// Engine settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// The protected networks. Traffic to anything else is counted and ignored.
    pub networks: Vec<NetworkConfig>,
    /// Tracked IPs at most. When the table is full, a new IP takes the slot of the least
    /// active (fewest seconds with traffic in its baseline, then shortest baseline, then
    /// lowest rate) of a few sampled IPs, never one under an incident or suspected; only when all the sampled ones are is the new IP counted
    /// per network only (untracked).
    pub max_tracked: usize,
    /// Seconds without traffic after which a tracked IP is dropped.
    pub idle_timeout_s: u32,
    /// An incident ends after this long below its threshold.
    pub quiet_period_us: u64,
    /// "Below" means below threshold × this (0 to 1), so an attack hovering around
    /// its threshold does not end and restart.
    pub hysteresis: f64,
    /// Distinct sources from which an incident is flagged as a botnet.
    pub botnet_sources: u64,
    /// Distinct sources an HTTP flood needs.
    pub http_min_sources: u64,
    /// Heavy hitters listed per kind.
    pub top_n: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            networks: Vec::new(),
            max_tracked: 1_000_000,
            idle_timeout_s: 600,
            quiet_period_us: 10 * SECOND_US,
            hysteresis: 0.8,
            botnet_sources: 300,
            http_min_sources: 50,
            top_n: 5,
        }
    }
}

/// Counters an operator asks "is it working?" about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Records taken.
    pub records: u64,
    /// Records for destinations outside every protected network.
    pub outside: u64,
    /// Records for IPs not tracked because the table was full of IPs under incidents
    /// (counted per network).
    pub untracked: u64,
    /// IPs tracked now.
    pub tracked: u64,
    /// IPs dropped after the idle timeout.
    pub evicted: u64,
    /// IPs dropped from a full table to make room for a new one (the least active of a
    /// random sample).
    pub displaced: u64,
    /// Incidents started and ended.
    pub incidents_started: u64,
    /// Incidents ended.
    pub incidents_ended: u64,
    /// Incidents open now.
    pub incidents_active: u64,
}

/// The detection engine.
#[derive(Debug)]
pub struct Engine {
    cfg: EngineConfig,
    policies: Vec<Compiled>,
    matcher: NetMatcher,
    nets: Vec<Network>,
    index: HashMap<IpAddr, u32, FixedState>,
    hosts: Vec<Host>,
    incidents: Vec<Option<Box<Incident>>>,
    free: Vec<u32>,
    events: Vec<Event>,
    intel: Option<ThreatIntel>,
    /// Latest time seen (records or ticks).
    now_us: u64,
    start_us: u64,
    /// End of the second the next sweep closes.
    next_second_us: u64,
    next_id: u64,
    seed: u64,
    /// State of the xorshift generator that picks eviction candidates (seeded, so an
    /// attacker cannot predict which slots are sampled).
    rng: u64,
    /// Set when a host slot is reused inside an [`Engine::ingest`] chunk: the hints of
    /// pass 1 may then point at the new occupant, so pass 2 looks them up again.
    hints_stale: bool,
    suspects: u32,
    /// Closed seconds not yet taken, when history is recorded ([`history`]).
    history: Option<VecDeque<Second>>,
    /// Closed seconds dropped because nobody took them.
    history_dropped: u64,
    /// Busiest destinations listed per closed second (0: none; see
    /// [`Engine::record_busiest`]).
    busiest: usize,
    /// Where the prefetching loads of [`Engine::ingest`] go, so they are not optimized out.
    sink: u64,
    stats: EngineStats,
}

impl Engine {
    /// An engine starting at `now_us`. `seed` keys its hashes (sources and the host
    /// table are attacker-chosen): random when live, fixed for reproducible replays.
    /// Incident ids count up from `first_id`.
    pub fn new(cfg: EngineConfig, now_us: u64, seed: u64, first_id: u64) -> Self {
        let mut prefixes = Vec::new();
        for (i, n) in cfg.networks.iter().enumerate() {
            prefixes.extend(n.prefixes.iter().map(|p| (*p, i as u16)));
        }
        Engine {
            policies: cfg
                .networks
                .iter()
                .map(|n| Compiled::new(n.policy.clone()))
                .collect(),
            matcher: NetMatcher::new(&prefixes),
            nets: cfg
                .networks
                .iter()
                .map(|n| Network::new(n.name.clone()))
                .collect(),
            index: HashMap::with_hasher(FixedState::with_seed(seed)),
            hosts: Vec::new(),
            incidents: Vec::new(),
            free: Vec::new(),
            events: Vec::new(),
            intel: None,
            now_us,
            start_us: now_us,
            next_second_us: (now_us / SECOND_US + 1) * SECOND_US,
            next_id: first_id,
            seed,
            rng: seed | 1,
            hints_stale: false,
            suspects: 0,
            history: None,
            history_dropped: 0,
            busiest: 0,
            sink: 0,
            stats: EngineStats::default(),
            cfg,
        }
    }

    /// Starts (or stops) keeping each closed second's traffic per network, protocol and
    /// victim ([`history`]), to be taken with [`Engine::take_history`]. Costs nothing
    /// per record; once a second, one entry per network and per victim.
    pub fn record_history(&mut self, on: bool) {
        self.history = on.then(VecDeque::new);
    }

    /// The closed seconds recorded since the last call, oldest first (at most
    /// [`history::PENDING_SECONDS`]; older ones were dropped, see
    /// [`Engine::history_dropped`]).
    pub fn take_history(&mut self) -> Vec<Second> {
        self.history
            .as_mut()
            .map(|q| q.drain(..).collect())
            .unwrap_or_default()
    }

    /// Closed seconds dropped because they were not taken in time.
    pub fn history_dropped(&self) -> u64 {
        self.history_dropped
    }

    /// Replaces the threat-intelligence lists.
    pub fn set_threat_intel(&mut self, intel: Option<ThreatIntel>) {
        self.intel = intel;
    }

    /// Bytes the host table and its index hold (their allocated capacity), the bound a
    /// spray of destinations cannot push past: at `max_tracked` = 1M, under 1 GiB.
    pub fn table_bytes(&self) -> usize {
        use std::mem::size_of;
        // hashbrown: buckets are a power of two at most 7/8 full, one control byte each.
        let buckets = (self.index.capacity() * 8 / 7).next_power_of_two();
        self.hosts.capacity() * size_of::<Host>() + buckets * (size_of::<(IpAddr, u32)>() + 1)
    }

    /// Counters.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            tracked: self.hosts.len() as u64,
            ..self.stats
        }
    }

    fn now_s(&self) -> u32 {
        ((self.now_us.saturating_sub(self.start_us)) / SECOND_US) as u32
    }

    /// Accounts records. Threshold crossings open incidents here; their start events
    /// come out of the next [`Engine::tick`].
    pub fn ingest(&mut self, records: &[FlowRecord]) {
        for chunk in records.chunks(LOOKAHEAD) {
            // Pass 1: find each record's network and host and load the host's hot cache
            // lines. The lookups are independent, so their cache misses overlap instead
            // of queueing one behind the other (what the per-record cost is made of
            // once the tracked IPs outgrow the cache). A new IP meeting a full table
            // draws its eviction candidates here too, and loads them the same way.
            let mut found = [(NO_NET, NONE, 0u64); LOOKAHEAD];
            let full = self.hosts.len() >= self.cfg.max_tracked && !self.hosts.is_empty();
            let mut sink = 0u64;
            for (slot, r) in found.iter_mut().zip(chunk) {
                if let Some(net) = self.matcher.get(r.dst_addr) {
                    let i = self.index.get(&r.dst_addr).copied().unwrap_or(NONE);
                    let mut draw = 0;
                    if let Some(h) = self.hosts.get(i as usize) {
                        sink = sink.wrapping_add(h.touch());
                    } else if full {
                        // The generator's state, from which pass 2 draws the same slots.
                        draw = self.next_draw();
                        let mut g = draw;
                        for _ in 0..EVICTION_SAMPLES {
                            let c = self.slot_of(&mut g);
                            sink = sink.wrapping_add(self.hosts[c].activity());
                        }
                    }
                    *slot = (net, i, draw);
                }
            }
            self.sink = self.sink.wrapping_add(sink);
            // Pass 2: account.
            self.hints_stale = false;
            for (&(net, i, draw), r) in found.iter().zip(chunk) {
                let hint = if self.hints_stale { NONE } else { i };
                self.account(r, net, hint, draw);
            }
        }
    }

    /// Accounts one record whose network and host pass 1 of [`Engine::ingest`] found
    /// (`hint` is [`NONE`] when the host was not tracked then; `draw`, the eviction
    /// candidates drawn for it then, if any).
    #[inline]
    fn account(&mut self, r: &FlowRecord, net: u16, hint: u32, draw: u64) {
        self.stats.records += 1;
        if net == NO_NET {
            self.stats.outside += 1;
            self.account_outbound(r);
            return;
        }
        // Late records (reordered input) count in the current slot.
        let t = r.time_us.max(self.now_us);
        self.now_us = t;
        self.account_network(net, t, r);
        let now_s = self.now_s();
        let Some(i) = self.host_slot(r, hint, now_s, draw) else {
            return;
        };
        if self.account_host(i, net, t, now_s, r) {
            self.judge_host(i, net, t, r);
        }
    }

    /// The slot of the record's destination host: the one pass 1 found (`hint`), else
    /// looked up again (an earlier record of the same chunk may have created it), else a
    /// new one while fewer than `max_tracked` are, else the slot of an evicted host
    /// ([`Engine::eviction_candidate`]). `None` when no host could make room, counted
    /// untracked.
    #[inline]
    fn host_slot(&mut self, r: &FlowRecord, hint: u32, now_s: u32, draw: u64) -> Option<usize> {
        let found = if hint == NONE {
            // Perhaps created by an earlier record of the same chunk.
            self.index.get(&r.dst_addr).copied()
        } else {
            Some(hint)
        };
        match found {
            Some(i) => Some(i as usize),
            None if self.hosts.len() < self.cfg.max_tracked => {
                self.hosts.push(Host::new(r.dst_addr, now_s));
                self.index.insert(r.dst_addr, (self.hosts.len() - 1) as u32);
                Some(self.hosts.len() - 1)
            }
            None => match self.eviction_candidate(draw) {
                Some(i) => {
                    self.index.remove(&self.hosts[i].ip);
                    self.hosts[i].reset(r.dst_addr, now_s);
                    self.index.insert(r.dst_addr, i as u32);
                    self.hints_stale = true;
                    self.stats.displaced += 1;
                    Some(i)
                }
                None => {
                    self.stats.untracked += 1;
                    None
                }
            },
        }
    }

    /// A fresh generator state for one record's eviction candidates (never 0).
    #[inline]
    fn next_draw(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// The next random slot of the host table from generator state `g` (xorshift64,
    /// then a multiply-shift into range: no division).
    #[inline]
    fn slot_of(&self, g: &mut u64) -> usize {
        *g ^= *g << 13;
        *g ^= *g >> 7;
        *g ^= *g << 17;
        (((*g >> 32) * self.hosts.len() as u64) >> 32) as usize
    }

    /// The host to evict from a full table: of [`EVICTION_SAMPLES`] slots drawn at
    /// random, the least active (fewest seconds with traffic in its baseline, then the
    /// shortest baseline, then the lowest rate: `Host::activity`) that is neither
    /// under an incident nor a suspect. Sampling keeps this O(1) per new IP (no ordered
    /// structure to maintain on the per-record path); a host with more traffic than
    /// nearly all the table (a real server among sprayed addresses) is almost never the
    /// least active of its sample, and a spray cannot displace a victim under attack.
    fn eviction_candidate(&mut self, draw: u64) -> Option<usize> {
        if self.hosts.is_empty() {
            return None;
        }
        // Drawn in pass 1 unless the table filled up within this chunk.
        let mut g = if draw == 0 { self.next_draw() } else { draw };
        let mut best: Option<(u64, usize)> = None;
        for _ in 0..EVICTION_SAMPLES {
            let k = self.slot_of(&mut g);
            let h = &self.hosts[k];
            if h.incident != NONE {
                continue;
            }
            let score = h.activity();
            if best.is_none_or(|(s, _)| score < s) {
                best = Some((score, k));
            }
        }
        best.map(|(_, i)| i)
    }

    /// Adds the record to host `i`'s window, and to its incident's evidence when it has
    /// one. True when the host may be near a threshold and is not yet under a started
    /// incident, so [`Engine::judge_host`] must look closer (rarely).
    #[inline]
    fn account_host(&mut self, i: usize, net: u16, t: u64, now_s: u32, r: &FlowRecord) -> bool {
        let h = &mut self.hosts[i];
        h.window.add(t, r.packets, r.bytes);
        h.last_seen = now_s;
        if h.incident != NONE
            && let Some(inc) = &mut self.incidents[h.incident as usize]
        {
            inc.observe(r, self.intel.as_ref());
            if inc.started {
                return false;
            }
        }
        // The half-second view is at most twice the one-second sums: when even that
        // is not near a threshold (nearly always), skip computing it.
        let bound = Current::from_totals(h.window.totals(), 5);
        self.policies[usize::from(net)].near(bound)
    }

    /// Looks closer at host `i`, whose rate's upper bound is near a threshold: when its
    /// half-second view is too, the host becomes a suspect (gathering evidence), and when
    /// the policy judges it attacked, its incident starts with record `r`.
    fn judge_host(&mut self, i: usize, net: u16, t: u64, r: &FlowRecord) {
        let cur = estimate(&self.hosts[i].window);
        if !self.policies[usize::from(net)].near(cur) {
            return;
        }
        if self.hosts[i].incident == NONE && self.suspects < MAX_SUSPECTS {
            self.suspects += 1;
            self.open_for_host(i, net, t, r);
        }
        if let Some((trigger, hold)) = self.host_trigger(i, net, cur, r) {
            let slot = match self.hosts[i].incident {
                NONE => self.open_for_host(i, net, t, r),
                s => {
                    self.suspects -= 1;
                    s
                }
            };
            self.begin(slot, t, trigger, hold, cur);
        }
    }

    /// What the policy makes of host `i` at rate `cur`: when it is attacked, why and the
    /// thresholds its incident holds to.
    fn host_trigger(
        &self,
        i: usize,
        net: u16,
        cur: Current,
        r: &FlowRecord,
    ) -> Option<(Trigger, (u64, u64))> {
        let h = &self.hosts[i];
        let policy = &self.policies[usize::from(net)];
        if policy.quiet(cur) {
            return None;
        }
        let (p99, samples) = (h.baseline.p99(), h.baseline.samples());
        // What the traffic is made of (for per-protocol thresholds): the suspect's
        // breakdown, or with no suspect (the cap was reached), this record's.
        let one;
        let b = match self
            .incidents
            .get(h.incident as usize)
            .and_then(|x| x.as_deref())
        {
            Some(inc) => &inc.breakdown,
            None => {
                one = Breakdown::of(r);
                &one
            }
        };
        let trigger = policy.judge(cur, b, p99, samples)?;
        let hold = policy.hold_thresholds(&trigger, p99, samples);
        Some((trigger, hold))
    }

    /// A record whose destination is outside every protected network: when its source
    /// is inside one, that network's outbound traffic for the current second (a record
    /// between two protected networks was counted inbound to its destination's).
    #[inline(never)]
    fn account_outbound(&mut self, r: &FlowRecord) {
        if let Some(net) = self.matcher.get(r.src_addr) {
            let out = &mut self.nets[usize::from(net)].out;
            out.packets = out.packets.saturating_add(r.packets);
            out.bytes = out.bytes.saturating_add(r.bytes);
        }
    }

    fn account_network(&mut self, net: u16, t: u64, r: &FlowRecord) {
        let n = &mut self.nets[usize::from(net)];
        n.window.add(t, r.packets, r.bytes);
        n.breakdown.add(r);
        if n.incident != NONE {
            if let Some(inc) = &mut self.incidents[n.incident as usize] {
                inc.observe(r, self.intel.as_ref());
            }
        } else if n.host_incidents == 0
            && let Some(ttl) = r.ttl
        {
            n.ttl_usual.add(ttl);
        }
    }

    /// Allocates an incident slot for a suspect.
    fn create(&mut self, victim: Victim, net: u16, t: u64, seen: Breakdown) -> u32 {
        let seed = self.seed ^ t.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let inc = Box::new(Incident::suspect(victim, net, t, seed, seen));
        match self.free.pop() {
            Some(s) => {
                self.incidents[s as usize] = Some(inc);
                s
            }
            None => {
                self.incidents.push(Some(inc));
                (self.incidents.len() - 1) as u32
            }
        }
    }

    /// Allocates a (suspect) incident for host `i`, which starts with record `r`.
    fn open_for_host(&mut self, i: usize, net: u16, t: u64, r: &FlowRecord) -> u32 {
        let slot = self.create(Victim::Host(r.dst_addr), net, t, Breakdown::default());
        self.hosts[i].incident = slot;
        if let Some(inc) = &mut self.incidents[slot as usize] {
            inc.observe(r, self.intel.as_ref());
        }
        slot
    }

    /// Starts the incident in `slot`: it gets its id and counts.
    fn begin(&mut self, slot: u32, t: u64, trigger: Trigger, hold: (u64, u64), rate: Current) {
        let id = self.next_id;
        self.next_id += 1;
        self.stats.incidents_started += 1;
        self.stats.incidents_active += 1;
        let Some(inc) = self.incidents[slot as usize].as_mut() else {
            return;
        };
        inc.start(id, t, trigger, hold, rate);
        if matches!(inc.victim, Victim::Host(_)) {
            self.nets[usize::from(inc.net)].host_incidents += 1;
        }
    }

    /// Frees a suspect's slot.
    fn drop_suspect(&mut self, slot: u32) {
        self.incidents[slot as usize] = None;
        self.free.push(slot);
        self.suspects -= 1;
    }

    /// Advances the clock to `now_us`: closes finished seconds (baselines learn, idle IPs
    /// are evicted), announces new incidents, updates open ones once a second, ends
    /// quiet ones, and checks the protected networks as a whole. Returns the events due,
    /// in order.
    pub fn tick(&mut self, now_us: u64) -> Vec<Event> {
        let now_us = now_us.max(self.now_us);
        while self.next_second_us <= now_us {
            let end = self.next_second_us;
            self.sweep(end);
            self.next_second_us += SECOND_US;
        }
        self.now_us = now_us;
        self.check_networks(now_us);
        for slot in 0..self.incidents.len() {
            self.advance_incident(slot, now_us);
        }
        std::mem::take(&mut self.events)
    }

    /// Ends every open incident now (shutdown, or the end of a replay).
    pub fn finish(&mut self, now_us: u64) -> Vec<Event> {
        let mut out = self.tick(now_us);
        for slot in 0..self.incidents.len() {
            if self.incidents[slot].as_ref().is_some_and(|i| i.started) {
                self.end(slot, now_us);
            }
        }
        out.append(&mut self.events);
        out
    }

    fn evict(&mut self, i: usize) {
        let h = self.hosts.swap_remove(i);
        self.index.remove(&h.ip);
        if let Some(moved) = self.hosts.get(i) {
            self.index.insert(moved.ip, i as u32);
        }
        self.stats.evicted += 1;
    }

    /// Network-wide detection: a network whose total crosses its baseline threshold
    /// while the host incidents inside it carry less than half of its traffic is under a
    /// spread-out (carpet-bombing) attack. Only baselines apply here (the static
    /// thresholds are sized for one IP, not a network).
    fn check_networks(&mut self, now_us: u64) {
        for n in 0..self.nets.len() {
            let net = &mut self.nets[n];
            net.window.advance(now_us - 1);
            if net.incident != NONE {
                continue;
            }
            let policy = &self.policies[n];
            let samples = net.baseline.samples();
            if samples < policy.policy.warmup as usize {
                continue;
            }
            let cur = estimate(&net.window);
            let (p99, breakdown) = (net.baseline.p99(), net.breakdown);
            let (tp, tb) = policy.baseline_thresholds(p99);
            let trigger = if cur.pps > tp {
                Trigger {
                    reason: Reason::Baseline,
                    metric: crate::policy::Metric::Pps,
                    value: cur.pps,
                    threshold: tp,
                }
            } else if cur.bps > tb {
                Trigger {
                    reason: Reason::Baseline,
                    metric: crate::policy::Metric::Bps,
                    value: cur.bps,
                    threshold: tb,
                }
            } else {
                continue;
            };
            if net.host_incidents > 0 {
                // What the attacked hosts inside receive, on the same half-second view.
                let mut in_hosts = 0u64;
                for inc in self.incidents.iter().flatten() {
                    if let (true, true, Victim::Host(ip)) =
                        (inc.started, usize::from(inc.net) == n, &inc.victim)
                        && let Some(&i) = self.index.get(ip)
                    {
                        in_hosts += estimate(&self.hosts[i as usize].window).pps;
                    }
                }
                if in_hosts * 2 >= cur.pps {
                    continue;
                }
            }
            let victim = Victim::Network(self.nets[n].name.clone());
            let slot = self.create(victim, n as u16, now_us, breakdown);
            self.nets[n].incident = slot;
            self.begin(slot, now_us, trigger, (tp, tb), cur);
        }
    }

    /// Rates of an incident's victim over the last second, as of `now_us`.
    fn victim_rate(&mut self, victim: &incident::Victim, net: u16, now_us: u64) -> Current {
        let w = match victim {
            Victim::Host(ip) => match self.index.get(ip) {
                Some(&i) => &mut self.hosts[i as usize].window,
                None => return Current::default(),
            },
            Victim::Network(_) => &mut self.nets[usize::from(net)].window,
        };
        w.advance(now_us - 1);
        Current::from_totals(w.totals(), 10)
    }

    fn advance_incident(&mut self, slot: usize, now_us: u64) {
        let Some(inc) = self.incidents[slot].as_ref().filter(|i| i.started) else {
            return;
        };
        let (victim, net) = (inc.victim.clone(), inc.net);
        let rate = self.victim_rate(&victim, net, now_us);
        let (hyst, quiet) = (self.cfg.hysteresis, self.cfg.quiet_period_us);
        let Some(inc) = self.incidents[slot].as_mut() else {
            return;
        };
        if !inc.announced {
            // The start event reports the detection-time estimate (which may use the
            // half-second view); later ones the last full second.
            inc.rate = inc.rate.max(rate);
        } else {
            inc.rate = rate;
        }
        if now_us >= inc.start_us + SECOND_US || inc.announced {
            inc.peak = inc.peak.max(rate);
        }
        let above = |v: u64, t: u64| t != u64::MAX && v as f64 > t as f64 * hyst;
        if above(rate.pps, inc.hold.0) || above(rate.bps, inc.hold.1) {
            inc.below_since = None;
        } else if inc.below_since.is_none() {
            inc.below_since = Some(now_us);
        }
        inc.frozen = inc.announced && inc.below_since.is_some();
        if !inc.announced {
            inc.announced = true;
            inc.next_update_us = inc.start_us + SECOND_US;
            inc.peak = inc.peak.max(inc.rate);
            self.emit(slot, EventKind::Start, now_us);
            return;
        }
        let inc = self.incidents[slot].as_mut().expect("checked above");
        if inc.below_since.is_some_and(|b| now_us - b >= quiet) {
            self.end(slot, now_us);
        } else if now_us >= inc.next_update_us {
            while inc.next_update_us <= now_us {
                inc.next_update_us += SECOND_US;
            }
            self.emit(slot, EventKind::Update, now_us);
        }
    }

    fn emit(&mut self, slot: usize, kind: EventKind, now_us: u64) {
        let Some(inc) = self.incidents[slot].as_ref() else {
            return;
        };
        let net = &self.nets[usize::from(inc.net)];
        let ctx = EventContext {
            network: &net.name,
            usual_ttl: Some(&net.ttl_usual),
            botnet_sources: self.cfg.botnet_sources,
            http_min_sources: self.cfg.http_min_sources,
            top_n: self.cfg.top_n,
            intel_names: self.intel.as_ref().map_or(&[], |i| &i.names),
        };
        self.events.push(inc.event(kind, now_us, &ctx));
    }

    fn end(&mut self, slot: usize, now_us: u64) {
        if self.incidents[slot].as_ref().is_some_and(|i| i.announced) {
            self.emit(slot, EventKind::End, now_us);
        }
        let Some(inc) = self.incidents[slot].take() else {
            return;
        };
        self.free.push(slot as u32);
        self.stats.incidents_ended += 1;
        self.stats.incidents_active -= 1;
        let net = &mut self.nets[usize::from(inc.net)];
        match inc.victim {
            Victim::Host(ip) => {
                net.host_incidents -= 1;
                if let Some(&i) = self.index.get(&ip) {
                    self.hosts[i as usize].incident = NONE;
                }
            }
            Victim::Network(_) => net.incident = NONE,
        }
    }
}
