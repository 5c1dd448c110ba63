//! The live feed: what the page's charts and lists hear as it happens, sent to every
//! open `GET /api/v1/events` stream (served by the `web` module).
//!
//! Three producers, none of which ever waits on a reader:
//! - the history recorder (the `history` module) sends a `traffic` frame per closed
//!   second: each protected network's rates per protocol towards it and its rate out
//!   of it, the busiest destinations (the victims of open incidents first, then the
//!   busiest of all tracked IPs and the suspects), the top sources of the open
//!   incidents, and the counts of open incidents and active mitigations;
//! - the mitigation service sends `incident` frames (start, end, and at most one
//!   update a second per incident, as detection sends them) and `mitigation` frames
//!   (announce, withdraw).
//!
//! A frame is serialized once, when sent, and only if someone listens; readers share
//! it. The busiest of all tracked IPs are only picked by detection while someone
//! listens ([`Feed::listening`]): with no page open, that costs nothing. The channel is a bounded broadcast ring ([`CAPACITY`] frames): a reader that
//! falls behind loses the oldest frames and is told how many (`lagged`), so a slow or
//! stalled browser costs the producers nothing and holds no memory.

use levee_detect::engine::history::Second;
use levee_detect::{Event, EventKind};
use levee_mitigate::model::{Mitigation, WithdrawReason};
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Frames buffered per reader before the oldest are dropped for it.
pub const CAPACITY: usize = 256;
/// Destinations and sources listed per `traffic` frame.
pub const TOP: usize = 10;
/// Open incidents whose top sources are kept for the `traffic` frame (the newest
/// replace none: beyond this, incidents are left out of the sources list).
pub const MAX_TRACKED_INCIDENTS: usize = 1024;

/// The protocols' names, in [`levee_detect::engine::history::PROTOCOLS`] order (as
/// `GET /api/v1/traffic` names them).
const PROTOCOL_NAMES: [&str; 4] = ["tcp", "udp", "icmp", "other"];

/// One server-sent event, serialized.
#[derive(Debug)]
pub struct Frame {
    /// The SSE event name: `traffic`, `incident` or `mitigation`.
    pub name: &'static str,
    /// Its JSON data (one line).
    pub data: String,
}

/// Open incidents by id: their network, packets per second and top sources (with
/// shares).
type OpenIncidents = HashMap<u64, (String, u64, Vec<(IpAddr, f64)>)>;

/// What the `traffic` frame adds from the incidents: their top sources, and counts.
#[derive(Debug, Default)]
struct Open {
    /// Open incidents' top sources, for the first [`MAX_TRACKED_INCIDENTS`].
    incidents: OpenIncidents,
    /// Every open incident's network, by id (as many as detection keeps open).
    networks: HashMap<u64, String>,
    /// Active mitigations (not dry runs included).
    mitigations: u64,
}

/// The feed: cheap to clone, shared by its producers and the web endpoint.
#[derive(Debug, Clone)]
pub struct Feed {
    tx: broadcast::Sender<Arc<Frame>>,
    open: Arc<Mutex<Open>>,
    /// Whether anyone listens: set by a new reader, cleared by the next second once
    /// the last one has gone. Detection reads it to pick the busiest destinations.
    listening: Arc<AtomicBool>,
}

impl Default for Feed {
    fn default() -> Feed {
        Feed::new()
    }
}

/// Rates in a frame.
#[derive(Debug, Clone, Copy, Serialize)]
struct Rates {
    pps: u64,
    bps: u64,
}

impl From<levee_detect::engine::history::Rate> for Rates {
    fn from(r: levee_detect::engine::history::Rate) -> Rates {
        Rates {
            pps: r.packets,
            bps: r.bytes.saturating_mul(8),
        }
    }
}

#[derive(Serialize)]
struct NetworkRates<'a> {
    network: &'a str,
    pps: u64,
    bps: u64,
    protocols: HashMap<&'static str, Rates>,
    /// Out of the network, to outside every protected network.
    out: Rates,
}

#[derive(Serialize)]
struct Destination<'a> {
    address: String,
    network: &'a str,
    incident: Option<u64>,
    pps: u64,
    bps: u64,
}

#[derive(Serialize)]
struct Source {
    address: IpAddr,
    /// Estimated packets per second from it, over the open incidents.
    pps: u64,
}

#[derive(Serialize)]
struct Traffic<'a> {
    time: u64,
    networks: Vec<NetworkRates<'a>>,
    top_destinations: Vec<Destination<'a>>,
    top_sources: Vec<Source>,
    incidents_open: usize,
    mitigations_active: u64,
}

#[derive(Serialize)]
struct IncidentFrame<'a> {
    kind: &'static str,
    id: u64,
    victim: String,
    network: &'a str,
    family: &'static str,
    vector: &'a str,
    confidence: u8,
    pps: u64,
    bps: u64,
    peak_pps: u64,
    peak_bps: u64,
    time: String,
}

#[derive(Serialize)]
struct MitigationFrame<'a> {
    kind: &'static str,
    id: u64,
    route: String,
    victim: &'a str,
    network: &'a str,
    level: Option<u8>,
    incident: Option<u64>,
    dry_run: bool,
    reason: Option<&'static str>,
}

impl Feed {
    /// A feed nobody listens to yet.
    pub fn new() -> Feed {
        Feed {
            tx: broadcast::channel(CAPACITY).0,
            open: Arc::default(),
            listening: Arc::default(),
        }
    }

    /// A new reader, from the next frame on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Frame>> {
        let rx = self.tx.subscribe();
        self.listening.store(true, Relaxed);
        rx
    }

    /// True while someone reads the feed (shared: the detection thread checks it to
    /// pick the busiest destinations only then). A reader that leaves is noticed at
    /// the next second.
    pub fn listening(&self) -> Arc<AtomicBool> {
        self.listening.clone()
    }

    /// Readers now.
    pub fn readers(&self) -> usize {
        self.tx.receiver_count()
    }

    fn send(&self, name: &'static str, data: &impl Serialize) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        match serde_json::to_string(data) {
            Ok(data) => {
                let _ = self.tx.send(Arc::new(Frame { name, data }));
            }
            Err(e) => tracing::warn!(error = %e, name, "live feed: frame not serialized"),
        }
    }

    /// Open incidents per network (those detection reported since this start).
    pub fn open_per_network(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        if let Ok(o) = self.open.lock() {
            for net in o.networks.values() {
                *out.entry(net.clone()).or_default() += 1;
            }
        }
        out
    }

    /// A closed second of traffic history.
    pub fn second(&self, sec: &Second) {
        if self.tx.receiver_count() == 0 {
            self.listening.store(false, Relaxed);
            return;
        }
        let (incidents_open, mitigations_active, top_sources) = match self.open.lock() {
            Ok(o) => (o.networks.len(), o.mitigations, top_sources(&o.incidents)),
            Err(_) => return,
        };
        let networks = sec
            .networks
            .iter()
            .map(|n| {
                let total = Rates::from(n.total());
                NetworkRates {
                    network: &n.network,
                    pps: total.pps,
                    bps: total.bps,
                    protocols: PROTOCOL_NAMES
                        .iter()
                        .zip(n.protocols)
                        .map(|(p, r)| (*p, Rates::from(r)))
                        .collect(),
                    out: Rates::from(n.out),
                }
            })
            .collect();
        let top_destinations = top_destinations(sec);
        self.send(
            "traffic",
            &Traffic {
                time: sec.start_us / 1_000_000,
                networks,
                top_destinations,
                top_sources,
                incidents_open,
                mitigations_active,
            },
        );
    }

    /// An incident event from detection.
    pub fn incident(&self, e: &Event) {
        if let Ok(mut o) = self.open.lock() {
            if e.kind == EventKind::End {
                o.incidents.remove(&e.id);
                o.networks.remove(&e.id);
            } else {
                o.networks.insert(e.id, e.network.clone());
                if o.incidents.len() < MAX_TRACKED_INCIDENTS || o.incidents.contains_key(&e.id) {
                    let top = e.top_sources.iter().take(TOP).copied().collect();
                    o.incidents
                        .insert(e.id, (e.network.clone(), e.rate.pps, top));
                }
            }
        }
        self.send(
            "incident",
            &IncidentFrame {
                kind: match e.kind {
                    EventKind::Start => "start",
                    EventKind::Update => "update",
                    EventKind::End => "end",
                },
                id: e.id,
                victim: e.victim.to_string(),
                network: &e.network,
                family: e.family.as_str(),
                vector: &e.vector,
                confidence: e.confidence,
                pps: e.rate.pps,
                bps: e.rate.bps,
                peak_pps: e.peak.pps,
                peak_bps: e.peak.bps,
                time: crate::clock::rfc3339(e.time_us),
            },
        );
    }

    /// A route announced (`withdrawn`: `None`) or withdrawn, and the count of active
    /// mitigations after it.
    pub fn mitigation(&self, m: &Mitigation, withdrawn: Option<WithdrawReason>, active: usize) {
        if let Ok(mut o) = self.open.lock() {
            o.mitigations = active as u64;
        }
        self.send(
            "mitigation",
            &MitigationFrame {
                kind: if withdrawn.is_some() {
                    "withdraw"
                } else {
                    "announce"
                },
                id: m.id,
                route: m.route.to_string(),
                victim: &m.victim,
                network: &m.network,
                level: m.level.map(|l| l.number()),
                incident: m.incident,
                dry_run: m.dry_run,
                reason: withdrawn.map(WithdrawReason::as_str),
            },
        );
    }
}

/// The `traffic` frame's destinations: the victims of started incidents first (by
/// rate), then the busiest tracked IPs and the suspects together (by rate), each
/// address once, at most [`TOP`].
fn top_destinations(sec: &Second) -> Vec<Destination<'_>> {
    use std::cmp::Reverse;
    let mut all: Vec<_> = sec.victims.iter().chain(&sec.busiest).collect();
    all.sort_by_key(|v| (v.incident.is_none(), Reverse(v.rate.packets)));
    let mut seen = std::collections::HashSet::new();
    all.into_iter()
        .filter(|v| seen.insert(&v.victim))
        .take(TOP)
        .map(|v| Destination {
            address: v.victim.to_string(),
            network: &v.network,
            incident: v.incident,
            pps: v.rate.packets,
            bps: v.rate.bytes.saturating_mul(8),
        })
        .collect()
}

/// The open incidents' sources, ranked by the packets per second each is estimated to
/// send (its share of its incident's rate, summed over incidents).
fn top_sources(incidents: &OpenIncidents) -> Vec<Source> {
    let mut by: HashMap<IpAddr, f64> = HashMap::new();
    for (_, pps, top) in incidents.values() {
        for (ip, share) in top {
            *by.entry(*ip).or_default() += *pps as f64 * share.clamp(0.0, 1.0);
        }
    }
    let mut v: Vec<_> = by.into_iter().collect();
    v.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v.into_iter()
        .take(TOP)
        .map(|(address, pps)| Source {
            address,
            pps: pps as u64,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_serialized_without_readers_and_a_slow_reader_is_told_what_it_missed() {
        let feed = Feed::new();
        // No reader: the frame is not even built.
        feed.second(&Second {
            start_us: 1_000_000,
            networks: vec![],
            victims: vec![],
            busiest: vec![],
        });
        let mut rx = feed.subscribe();
        for i in 0..(CAPACITY as u64 + 5) {
            feed.second(&Second {
                start_us: i * 1_000_000,
                networks: vec![],
                victims: vec![],
                busiest: vec![],
            });
        }
        match rx.try_recv() {
            Err(broadcast::error::TryRecvError::Lagged(n)) => assert_eq!(n, 5),
            other => panic!("expected a lag, got {other:?}"),
        }
        let f = rx.try_recv().unwrap();
        assert_eq!(f.name, "traffic");
        let v: serde_json::Value = serde_json::from_str(&f.data).unwrap();
        assert_eq!(v["time"], 5);
    }

    /// Listening: false with no reader, true from the first subscription, false again
    /// at the first second after the last reader left.
    #[test]
    fn listening_follows_the_readers() {
        let feed = Feed::new();
        let flag = feed.listening();
        let empty = |s: u64| Second {
            start_us: s * 1_000_000,
            networks: vec![],
            victims: vec![],
            busiest: vec![],
        };
        assert!(!flag.load(Relaxed));
        let rx = feed.subscribe();
        assert!(flag.load(Relaxed));
        feed.second(&empty(1));
        assert!(flag.load(Relaxed), "still read");
        drop(rx);
        feed.second(&empty(2));
        assert!(!flag.load(Relaxed));
    }

    /// Incidents first, then the busiest and suspects by rate, each address once; the
    /// outbound rate per network in the frame.
    #[test]
    fn destinations_merge_incidents_busiest_and_suspects() {
        use levee_detect::Victim;
        use levee_detect::engine::history::{NetworkSecond, Rate, VictimSecond};
        let v = |a: &str, incident: Option<u64>, packets: u64| VictimSecond {
            victim: Victim::Host(a.parse().unwrap()),
            network: "lab".into(),
            incident,
            rate: Rate {
                packets,
                bytes: packets * 100,
            },
        };
        let mut busiest: Vec<_> = (0..12)
            .map(|k| v(&format!("203.0.113.{}", 100 + k), None, 50_000 - k))
            .collect();
        busiest.insert(0, v("203.0.113.9", Some(4), 90_000));
        let sec = Second {
            start_us: 7_000_000,
            networks: vec![NetworkSecond {
                network: "lab".into(),
                protocols: [Rate::default(); 4],
                out: Rate {
                    packets: 10,
                    bytes: 1000,
                },
            }],
            victims: vec![
                v("203.0.113.8", Some(3), 1_000),
                v("203.0.113.9", Some(4), 90_000),
                v("203.0.113.7", None, 49_995),
            ],
            busiest,
        };
        let feed = Feed::new();
        let mut rx = feed.subscribe();
        feed.second(&sec);
        let f = rx.try_recv().unwrap();
        let j: serde_json::Value = serde_json::from_str(&f.data).unwrap();
        assert_eq!(j["networks"][0]["out"]["pps"], 10);
        assert_eq!(j["networks"][0]["out"]["bps"], 8000);
        let d: Vec<(String, Option<u64>)> = j["top_destinations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["address"].as_str().unwrap().to_string(),
                    d["incident"].as_u64(),
                )
            })
            .collect();
        assert_eq!(d.len(), TOP);
        assert_eq!(d[0], ("203.0.113.9".to_string(), Some(4)));
        assert_eq!(d[1], ("203.0.113.8".to_string(), Some(3)));
        assert_eq!(d[2].0, "203.0.113.100");
        // The suspect ranks among the busiest by its rate.
        assert_eq!(d[7].0, "203.0.113.7");
    }

    #[test]
    fn sources_are_ranked_by_estimated_rate_over_incidents() {
        let a: IpAddr = "198.51.100.1".parse().unwrap();
        let b: IpAddr = "198.51.100.2".parse().unwrap();
        let mut m = HashMap::new();
        m.insert(1, ("a".into(), 1000, vec![(a, 0.5), (b, 0.1)]));
        m.insert(2, ("b".into(), 10_000, vec![(b, 0.2)]));
        let top = top_sources(&m);
        assert_eq!(top[0].address, b);
        assert_eq!(top[0].pps, 2100);
        assert_eq!(top[1].address, a);
        assert_eq!(top[1].pps, 500);
    }
}
