//! Per-second traffic history, as the engine closes each second: what each protected
//! network received, by protocol (TCP, UDP, ICMP, other), and what each victim received
//! while it is a suspect or under an incident.
//!
//! Nothing is added to the per-record path: a network's [`Breakdown`] is halved once a
//! second, so what arrived during the second is its counters at the close minus the
//! halved copy kept at the previous close (exact, unless a counter saturated); a
//! victim's second is its window's sums at the close. The records carry no direction:
//! `protocols` is the traffic towards a protected network (a record's destination is
//! in it), `out` the traffic from it (a record whose destination is outside every
//! protected network and whose source is inside this one). Traffic between two
//! protected networks counts once, as inbound to the destination's network: `out` only
//! looks at the records the engine would otherwise drop, so the records towards the
//! protected networks cost nothing more.
//!
//! The busiest tracked destinations ([`Second::busiest`]) are picked during the sweep
//! the engine does anyway (one comparison per tracked IP against a heap of at most
//! [`MAX_BUSIEST`]), and only while asked
//! ([`Engine::record_busiest`](super::Engine::record_busiest)).
//!
//! Opt in with [`Engine::record_history`](super::Engine::record_history); the seconds
//! wait in a queue of at most [`PENDING_SECONDS`] (the oldest is dropped and counted
//! when nobody drains it) until [`Engine::take_history`](super::Engine::take_history).

use super::incident::Victim;
use crate::breakdown::{Breakdown, Class, Protocol};

/// Closed seconds held until taken; past this, the oldest is dropped (and counted).
pub const PENDING_SECONDS: usize = 120;
/// Busiest destinations listed per second at most.
pub const MAX_BUSIEST: usize = 64;

/// The protocols kept apart, in [`NetworkSecond::protocols`] order.
pub const PROTOCOLS: [Protocol; 4] = [
    Protocol::Tcp,
    Protocol::Udp,
    Protocol::Icmp,
    Protocol::Other,
];

/// Packets and bytes over one second (scaled by sampling).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rate {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

impl Rate {
    /// Both sums, saturating.
    pub fn plus(self, o: Rate) -> Rate {
        Rate {
            packets: self.packets.saturating_add(o.packets),
            bytes: self.bytes.saturating_add(o.bytes),
        }
    }
}

/// One protected network's second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSecond {
    /// Its name.
    pub network: String,
    /// Towards it, per protocol, in [`PROTOCOLS`] order.
    pub protocols: [Rate; 4],
    /// From it to outside every protected network, all protocols.
    pub out: Rate,
}

impl NetworkSecond {
    /// Towards it, all protocols together.
    pub fn total(&self) -> Rate {
        self.protocols
            .iter()
            .fold(Rate::default(), |a, &r| a.plus(r))
    }
}

/// One victim's second (a suspect, or under an incident), or one of the busiest
/// destinations' ([`Second::busiest`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VictimSecond {
    /// The victim.
    pub victim: Victim,
    /// The protected network it is in.
    pub network: String,
    /// The incident's id once started; `None` while it is a suspect.
    pub incident: Option<u64>,
    /// What it received.
    pub rate: Rate,
}

/// One closed second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Second {
    /// Its start, µs since the Unix epoch on the engine's clock (a whole second).
    pub start_us: u64,
    /// Every protected network, in configuration order.
    pub networks: Vec<NetworkSecond>,
    /// Every victim tracked as a suspect or under an incident.
    pub victims: Vec<VictimSecond>,
    /// The busiest tracked destination IPs over the second, by packets, busiest
    /// first: empty unless asked for
    /// ([`Engine::record_busiest`](super::Engine::record_busiest)). Each with its
    /// incident's id when it is under a started one.
    pub busiest: Vec<VictimSecond>,
}

/// What arrived between the previous close (`prev`: the breakdown as halved then) and
/// this one (`now`: before halving), per protocol.
pub(super) fn arrived(now: &Breakdown, prev: &Breakdown) -> [Rate; 4] {
    let mut out = [Rate::default(); 4];
    for c in Class::ALL {
        let p = c.protocol() as usize;
        let d = now.packets[c as usize].saturating_sub(prev.packets[c as usize]);
        out[p].packets += u64::from(d);
    }
    for (p, o) in out.iter_mut().enumerate() {
        o.bytes = now.bytes[p].saturating_sub(prev.bytes[p]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use levee_flow::{FlowRecord, FlowType};

    fn rec(protocol: u8, packets: u64, bytes: u64) -> FlowRecord {
        let mut r = FlowRecord::blank(0, "192.0.2.1".parse().unwrap(), FlowType::Sflow);
        r.protocol = protocol;
        r.packets = packets;
        r.bytes = bytes;
        r
    }

    /// Over many seconds of random traffic, the difference with the halved copy gives
    /// exactly what was added during each second, per protocol.
    #[test]
    fn arrived_is_exact_across_decays() {
        let mut rnd = levee_testkit::Rng::new(7);
        let mut b = Breakdown::default();
        let mut prev = Breakdown::default();
        for _ in 0..200 {
            let mut want = [Rate::default(); 4];
            for _ in 0..(rnd.next_u64() % 50) {
                let proto = [6u8, 17, 1, 47][(rnd.next_u64() % 4) as usize];
                let (p, by) = (1 + rnd.next_u64() % 10_000, rnd.next_u64() % 10_000_000);
                b.add(&rec(proto, p, by));
                let i = match proto {
                    6 => 0,
                    17 => 1,
                    1 => 2,
                    _ => 3,
                };
                want[i].packets += p;
                want[i].bytes += by;
            }
            assert_eq!(arrived(&b, &prev), want);
            b.decay();
            prev = b;
        }
    }
}

#[cfg(test)]
mod engine_tests {
    use super::super::tests::{T0, UDP, drive, engine, stream};
    use super::*;
    use crate::engine::{EventKind, SECOND_US};

    /// A 100k pps UDP flood for 4 s over 1k pps of TCP: every closed second is recorded
    /// once, in order; the network's seconds add up to what was sent, per protocol; the
    /// victim appears while suspect or attacked, with its incident's id once started.
    #[test]
    fn seconds_per_network_protocol_and_victim() {
        let mut e = engine();
        e.record_history(true);
        let mut recs = stream(
            "203.0.113.5",
            1_000.0,
            0.0,
            10.0,
            super::super::tests::shape(6, 443, 50000, 0x18),
        );
        recs.extend(stream("203.0.113.9", 100_000.0, 3.0, 4.0, UDP));
        let sent_udp: u64 = recs
            .iter()
            .filter(|r| r.protocol == 17)
            .map(|r| r.packets)
            .sum();
        let sent_tcp: u64 = recs
            .iter()
            .filter(|r| r.protocol == 6)
            .map(|r| r.packets)
            .sum();
        let ev = drive(&mut e, recs, 20.0);
        let id = ev.iter().find(|e| e.kind == EventKind::Start).unwrap().id;
        let h = e.take_history();
        assert!(e.take_history().is_empty(), "taken once");
        let starts: Vec<u64> = h.iter().map(|s| s.start_us).collect();
        let want: Vec<u64> = (0..starts.len() as u64)
            .map(|k| T0 + k * SECOND_US)
            .collect();
        assert_eq!(starts, want);
        let udp: u64 = h.iter().map(|s| s.networks[0].protocols[1].packets).sum();
        let tcp: u64 = h.iter().map(|s| s.networks[0].protocols[0].packets).sum();
        assert_eq!((udp, tcp), (sent_udp, sent_tcp));
        assert!(h.iter().all(|s| s.networks[0].network == "customers"));
        // Full flood seconds: 100k pps, 512-byte packets.
        let s4 = &h[4].networks[0];
        assert_eq!(s4.protocols[1].packets, 100_000);
        assert_eq!(s4.protocols[1].bytes, 100_000 * 512);
        assert_eq!(s4.total().packets, 101_000);
        let victim = Victim::Host("203.0.113.9".parse().unwrap());
        let mine: Vec<&VictimSecond> = h
            .iter()
            .flat_map(|s| &s.victims)
            .filter(|v| v.victim == victim)
            .collect();
        assert!(
            mine.iter()
                .any(|v| v.incident == Some(id) && v.rate.packets == 100_000)
        );
        // Ended after the quiet period: no longer listed at the end.
        assert!(h.last().unwrap().victims.is_empty());
        assert!(
            h.iter()
                .all(|s| s.victims.iter().all(|v| v.victim == victim))
        );
    }

    /// Two protected networks. Records leaving "customers" for outside count as its
    /// outbound traffic; records from outside to outside count nowhere; records from
    /// "customers" to "office" count inbound to "office" only; inbound is unchanged by
    /// all this, and no outside destination gets tracked.
    #[test]
    fn outbound_only_from_protected_sources_to_outside() {
        let cfg = crate::engine::EngineConfig {
            networks: vec![
                crate::engine::NetworkConfig {
                    name: "customers".into(),
                    prefixes: vec!["203.0.113.0/24".parse().unwrap()],
                    policy: crate::policy::Policy::default(),
                },
                crate::engine::NetworkConfig {
                    name: "office".into(),
                    prefixes: vec!["198.51.100.0/24".parse().unwrap()],
                    policy: crate::policy::Policy::default(),
                },
            ],
            ..crate::engine::EngineConfig::default()
        };
        let mut e = crate::engine::Engine::new(cfg, T0, 42, 1);
        e.record_history(true);
        let from = |src: &str, mut v: Vec<levee_flow::FlowRecord>| {
            let src: std::net::IpAddr = src.parse().unwrap();
            v.iter_mut().for_each(|r| r.src_addr = src);
            v
        };
        let inbound = stream("203.0.113.5", 3_000.0, 0.0, 5.0, UDP);
        let out = from("203.0.113.10", stream("192.0.2.77", 8_000.0, 0.0, 5.0, UDP));
        let elsewhere = from("100.64.0.1", stream("192.0.2.78", 5_000.0, 0.0, 5.0, UDP));
        let between = from(
            "203.0.113.20",
            stream("198.51.100.1", 2_000.0, 0.0, 5.0, UDP),
        );
        let sum = |v: &[levee_flow::FlowRecord]| -> Rate {
            v.iter().fold(Rate::default(), |a, r| {
                a.plus(Rate {
                    packets: r.packets,
                    bytes: r.bytes,
                })
            })
        };
        let (sent_in, sent_out, sent_between) = (sum(&inbound), sum(&out), sum(&between));
        let outside = (out.len() + elsewhere.len()) as u64;
        let mut recs = inbound;
        recs.extend(out);
        recs.extend(elsewhere);
        recs.extend(between);
        drive(&mut e, recs, 2.0);
        let h = e.take_history();
        let total = |net: usize, f: fn(&NetworkSecond) -> Rate| {
            h.iter()
                .map(|s| f(&s.networks[net]))
                .fold(Rate::default(), Rate::plus)
        };
        assert_eq!(total(0, |n| n.out), sent_out);
        assert_eq!(total(0, NetworkSecond::total), sent_in);
        assert_eq!(total(1, |n| n.out), Rate::default());
        assert_eq!(total(1, NetworkSecond::total), sent_between);
        // A full second: 8k pps of 512-byte packets out, 3k in.
        assert_eq!(
            h[2].networks[0].out,
            Rate {
                packets: 8_000,
                bytes: 8_000 * 512
            }
        );
        assert_eq!(h[2].networks[0].total().packets, 3_000);
        let st = e.stats();
        assert_eq!(st.outside, outside);
        assert_eq!(st.tracked, 2, "only the two protected destinations");
    }

    /// The busiest destinations come only while asked for: busiest first, with the
    /// incident's id on the one attacked; none before, none after switching off.
    #[test]
    fn busiest_destinations_only_when_asked() {
        let mut e = engine();
        e.record_history(true);
        let mut recs = stream("203.0.113.1", 3_000.0, 0.0, 10.0, UDP);
        recs.extend(stream("203.0.113.2", 9_000.0, 0.0, 10.0, UDP));
        recs.extend(stream("203.0.113.3", 6_000.0, 0.0, 10.0, UDP));
        recs.extend(stream("203.0.113.9", 100_000.0, 4.0, 3.0, UDP));
        recs.sort_by_key(|r| r.time_us);
        let split = recs.partition_point(|r| r.time_us < T0 + 2 * SECOND_US);
        let later = recs.split_off(split);
        drive(&mut e, recs, 0.0);
        let before = e.take_history();
        assert!(!before.is_empty());
        assert!(before.iter().all(|s| s.busiest.is_empty()));
        e.record_busiest(2);
        let ev = drive(&mut e, later, 0.5);
        let id = ev.iter().find(|e| e.kind == EventKind::Start).unwrap().id;
        let h = e.take_history();
        let at = |k: u64| {
            h.iter()
                .find(|s| s.start_us == T0 + k * SECOND_US)
                .unwrap()
                .busiest
                .iter()
                .map(|v| (v.victim.to_string(), v.incident, v.rate.packets))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            at(2),
            [
                ("203.0.113.2".to_string(), None, 9_000),
                ("203.0.113.3".to_string(), None, 6_000)
            ]
        );
        assert_eq!(
            at(5),
            [
                ("203.0.113.9".to_string(), Some(id), 100_000),
                ("203.0.113.2".to_string(), None, 9_000)
            ]
        );
        assert!(
            h.iter()
                .all(|s| s.busiest.iter().all(|v| v.network == "customers"))
        );
        e.record_busiest(0);
        let end = e.now_us + 3 * SECOND_US;
        e.tick(end);
        let off = e.take_history();
        assert!(!off.is_empty());
        assert!(off.iter().all(|s| s.busiest.is_empty()));
    }

    /// Nobody taking the seconds: at most PENDING_SECONDS are kept, the rest counted.
    #[test]
    fn untaken_seconds_are_bounded_and_counted() {
        let mut e = engine();
        e.record_history(true);
        let n = PENDING_SECONDS as u64 + 30;
        e.tick(T0 + n * SECOND_US);
        assert_eq!(e.history_dropped(), 30);
        let h = e.take_history();
        assert_eq!(h.len(), PENDING_SECONDS);
        assert_eq!(h[0].start_us, T0 + 30 * SECOND_US);
        // Off by default and when switched off.
        e.record_history(false);
        e.tick(T0 + (n + 5) * SECOND_US);
        assert!(e.take_history().is_empty());
    }
}
