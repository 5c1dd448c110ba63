//! One incident: what is known about an attack on one victim, from the moment its rate
//! crosses a threshold until it has been quiet for the quiet period, and the events it
//! emits.

use crate::breakdown::Breakdown;
use crate::classify::{Classification, Evidence, Family, Signals, classify, confidence};
use crate::heavy::SpaceSaving;
use crate::hll::HyperLogLog;
use crate::policy::{Current, Metric, Trigger};
use crate::prefixset::PrefixSet;
use crate::ttl::TtlHistogram;
use levee_flow::FlowRecord;
use std::net::IpAddr;

/// Keys each heavy-hitter summary holds.
const HITTER_CAPACITY: usize = 32;
/// Threat-intelligence matches listed per incident (all are counted).
const INTEL_LISTED: usize = 32;

/// Who is attacked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Victim {
    /// One address.
    Host(IpAddr),
    /// A protected network as a whole (a carpet-bombing attack spread over its
    /// addresses), by name.
    Network(String),
}

impl std::fmt::Display for Victim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Victim::Host(ip) => ip.fmt(f),
            Victim::Network(n) => f.write_str(n),
        }
    }
}

/// Event kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The threshold was crossed.
    Start,
    /// Once a second while it lasts.
    Update,
    /// Quiet for the quiet period.
    End,
}

impl EventKind {
    /// Name in output.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Start => "incident_start",
            EventKind::Update => "incident_update",
            EventKind::End => "incident_end",
        }
    }
}

/// A heavy hitter as reported: key and share of the victim's recent packets.
pub type Top<K> = Vec<(K, f64)>;

/// What the engine tells the world about an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Start, update or end.
    pub kind: EventKind,
    /// Incident id.
    pub id: u64,
    /// When (µs since the Unix epoch, on the engine's clock).
    pub time_us: u64,
    /// When the threshold was crossed.
    pub start_us: u64,
    /// The victim.
    pub victim: Victim,
    /// The protected network it is in.
    pub network: String,
    /// Family.
    pub family: Family,
    /// Vector(s).
    pub vector: String,
    /// 0 to 100.
    pub confidence: u8,
    /// What fired.
    pub trigger: Trigger,
    /// Current rates (over the last second).
    pub rate: Current,
    /// Highest one-second rates seen.
    pub peak: Current,
    /// Estimated distinct sources since the start.
    pub distinct_sources: u64,
    /// At least the configured number of distinct sources.
    pub botnet: bool,
    /// TTL spread says the sources are spoofed.
    pub spoofed: bool,
    /// Top sources.
    pub top_sources: Top<IpAddr>,
    /// Top source ports.
    pub top_src_ports: Top<u16>,
    /// Top destination ports.
    pub top_dst_ports: Top<u16>,
    /// Top packet lengths (bytes).
    pub top_packet_lengths: Top<u16>,
    /// Sources found in threat-intelligence lists, with the list's name.
    pub threat_intel: Vec<(IpAddr, String)>,
    /// Packets from threat-listed sources (scaled), since the start.
    pub threat_intel_packets: u64,
}

/// Threat-intelligence lists as the engine holds them.
#[derive(Debug, Clone, Default)]
pub struct ThreatIntel {
    /// The entries, valued by list index.
    pub set: PrefixSet<u16>,
    /// List names, by index.
    pub names: Vec<String>,
}

/// The live state of one incident.
#[derive(Debug)]
pub(super) struct Incident {
    pub(super) id: u64,
    pub(super) victim: Victim,
    pub(super) net: u16,
    pub(super) start_us: u64,
    /// False while only a suspect.
    pub(super) started: bool,
    pub(super) announced: bool,
    pub(super) trigger: Trigger,
    /// (pps, bps) it must stay above (times the hysteresis factor) to be ongoing.
    pub(super) hold: (u64, u64),
    pub(super) below_since: Option<u64>,
    /// While below threshold the evidence is frozen, so that what the incident reports
    /// (and ends with) describes the attack, not the traffic left when it stopped.
    pub(super) frozen: bool,
    pub(super) next_update_us: u64,
    pub(super) rate: Current,
    pub(super) peak: Current,
    pub(super) breakdown: Breakdown,
    sources: HyperLogLog,
    top_src: SpaceSaving<IpAddr>,
    top_sport: SpaceSaving<u16>,
    top_dport: SpaceSaving<u16>,
    top_len: SpaceSaving<u16>,
    pub(super) ttl: TtlHistogram,
    intel: Vec<(IpAddr, u16)>,
    intel_packets: u64,
    records: u64,
}

impl Incident {
    /// A suspect: a victim whose rate is past half its threshold. It gathers evidence
    /// (sources, ports, TTLs) so that the start event, if one comes, is well informed.
    pub(super) fn suspect(
        victim: Victim,
        net: u16,
        now_us: u64,
        seed: u64,
        seen: Breakdown,
    ) -> Self {
        Incident {
            id: 0,
            victim,
            net,
            start_us: now_us,
            started: false,
            announced: false,
            trigger: Trigger {
                reason: crate::policy::Reason::Baseline,
                metric: crate::policy::Metric::Pps,
                value: 0,
                threshold: 0,
            },
            hold: (u64::MAX, u64::MAX),
            below_since: None,
            frozen: false,
            next_update_us: now_us,
            rate: Current::default(),
            peak: Current::default(),
            breakdown: seen,
            sources: HyperLogLog::new(seed),
            top_src: SpaceSaving::new(HITTER_CAPACITY),
            top_sport: SpaceSaving::new(HITTER_CAPACITY),
            top_dport: SpaceSaving::new(HITTER_CAPACITY),
            top_len: SpaceSaving::new(HITTER_CAPACITY),
            ttl: TtlHistogram::default(),
            intel: Vec::new(),
            intel_packets: 0,
            records: 0,
        }
    }

    /// The threshold was crossed at `t_us`: the suspect becomes an incident.
    pub(super) fn start(
        &mut self,
        id: u64,
        t_us: u64,
        trigger: Trigger,
        hold: (u64, u64),
        rate: Current,
    ) {
        self.id = id;
        self.started = true;
        self.start_us = t_us;
        self.next_update_us = t_us;
        self.trigger = trigger;
        self.hold = hold;
        self.rate = rate;
    }

    /// Takes one record addressed to the victim.
    pub(super) fn observe(&mut self, r: &FlowRecord, intel: Option<&ThreatIntel>) {
        if self.frozen {
            return;
        }
        let p = r.packets;
        self.records += 1;
        self.breakdown.add(r);
        self.sources.insert(r.src_addr);
        self.top_src.add(r.src_addr, p);
        // Non-first fragments carry no ports: counting them as port 0 would mislead the rules.
        if matches!(r.protocol, 6 | 17) && (r.src_port != 0 || r.dst_port != 0) {
            self.top_sport.add(r.src_port, p);
            self.top_dport.add(r.dst_port, p);
        }
        let len = r
            .packet_length
            .or_else(|| (p > 0).then(|| u16::try_from(r.bytes / p).unwrap_or(u16::MAX)));
        if let Some(len) = len.filter(|&l| l > 0) {
            self.top_len.add(len, p);
        }
        if let Some(ttl) = r.ttl {
            self.ttl.add(ttl);
        }
        if let Some(intel) = intel
            && let Some((_, &list)) = intel.set.longest_match(r.src_addr)
        {
            self.intel_packets = self.intel_packets.saturating_add(p);
            if self.intel.len() < INTEL_LISTED && !self.intel.iter().any(|(a, _)| *a == r.src_addr)
            {
                self.intel.push((r.src_addr, list));
            }
        }
    }

    /// Once a second: recent-traffic summaries age.
    pub(super) fn decay(&mut self) {
        if self.frozen {
            return;
        }
        self.breakdown.decay();
        self.top_src.decay();
        self.top_sport.decay();
        self.top_dport.decay();
        self.top_len.decay();
    }

    /// Builds an event.
    pub(super) fn event(&self, kind: EventKind, now_us: u64, ctx: &EventContext<'_>) -> Event {
        let distinct = self.sources.estimate();
        let evidence = Evidence {
            distinct_sources: distinct,
            http_min_sources: ctx.http_min_sources,
            records: self.records,
        };
        let Classification {
            family,
            vector,
            dominance,
        } = classify(&self.breakdown, &evidence);
        // How far over: at the start, what fired; later, the current rate against the
        // threshold it must stay above (flows have no such threshold: what fired).
        let ratio = |v: u64, t: u64| v as f64 / t.max(1) as f64;
        let over = match (kind, self.trigger.metric) {
            (EventKind::Start, _) | (_, Metric::Flows) => {
                ratio(self.trigger.value, self.trigger.threshold)
            }
            (_, Metric::Pps) => ratio(self.rate.pps, self.hold.0),
            (_, Metric::Bps) => ratio(self.rate.bps, self.hold.1),
        };
        let confidence = confidence(&Signals {
            over,
            seconds: now_us.saturating_sub(self.start_us) / 1_000_000,
            dominance,
            distinct_sources: distinct,
            botnet_sources: ctx.botnet_sources,
            intel_matches: self.intel.len(),
        });
        fn shares<K: Copy + Ord>(s: &SpaceSaving<K>, n: usize) -> Top<K> {
            let total = s.total().max(1) as f64;
            s.top(n)
                .into_iter()
                .filter(|h| h.count > 0)
                .map(|h| (h.key, (h.count as f64 / total * 1000.0).round() / 1000.0))
                .collect()
        }
        Event {
            kind,
            id: self.id,
            time_us: now_us,
            start_us: self.start_us,
            victim: self.victim.clone(),
            network: ctx.network.to_string(),
            family,
            vector,
            confidence,
            trigger: self.trigger,
            rate: self.rate,
            peak: self.peak,
            distinct_sources: distinct,
            botnet: distinct >= ctx.botnet_sources,
            spoofed: self.ttl.spoofed(ctx.usual_ttl),
            top_sources: shares(&self.top_src, ctx.top_n),
            top_src_ports: shares(&self.top_sport, ctx.top_n),
            top_dst_ports: shares(&self.top_dport, ctx.top_n),
            top_packet_lengths: shares(&self.top_len, ctx.top_n),
            threat_intel: self
                .intel
                .iter()
                .map(|(a, l)| {
                    let name = ctx
                        .intel_names
                        .get(usize::from(*l))
                        .cloned()
                        .unwrap_or_default();
                    (*a, name)
                })
                .collect(),
            threat_intel_packets: self.intel_packets,
        }
    }
}

/// What an event needs from the engine.
#[derive(Debug)]
pub(super) struct EventContext<'a> {
    pub(super) network: &'a str,
    pub(super) usual_ttl: Option<&'a TtlHistogram>,
    pub(super) botnet_sources: u64,
    pub(super) http_min_sources: u64,
    pub(super) top_n: usize,
    pub(super) intel_names: &'a [String],
}
