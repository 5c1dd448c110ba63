//! The last hour in memory at one-second resolution: per protected network, packets
//! and bytes per protocol towards it and in all out of it, in a ring of [`SECONDS`]
//! slots; per victim (a suspect or
//! under an incident) its own series of at most [`SECONDS`] seconds, at most
//! [`MAX_VICTIMS`] of them.
//!
//! Memory: a network's ring is 3,600 × (4 protocols in + 1 out) × 16 bytes = 288,000
//! bytes (the outbound rate added 57,600), allocated when the network is first seen
//! (so 10 networks: 2.9 MB); a victim's series
//! grows one 16-byte point a second up to 57,600 bytes, so the victims hold at most
//! 256 × 57,600 = 14.7 MB. A network no longer reported (removed by a reload) keeps its
//! ring until its last second is an hour old.
//!
//! Victims beyond the cap: a newcomer takes the place of, in order, a victim that is
//! no longer reported (the longest gone first), then a suspect (the quietest over its
//! last second), and only an incident takes the place of an incident (the one with the
//! lowest peak, when the newcomer's rate is higher). Otherwise it is not kept, and
//! counted ([`Ring::victims_refused`]). Addresses a stranger can make suspect therefore
//! never push out an attack under way.

use levee_detect::Victim;
use levee_detect::engine::history::{Rate, Second};
use std::collections::{HashMap, VecDeque};

/// Seconds kept: one hour.
pub const SECONDS: usize = 3600;
/// Victims whose series are kept.
pub const MAX_VICTIMS: usize = 256;

/// One network's second in the ring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Slot {
    /// Towards the network, per protocol (`levee_detect::engine::history::PROTOCOLS`
    /// order).
    pub protocols: [Rate; 4],
    /// Out of the network, all protocols.
    pub out: Rate,
}

/// One network's last hour.
#[derive(Debug)]
pub struct NetworkRing {
    slots: Vec<Slot>,
    /// The newest second written (Unix seconds).
    newest_s: u64,
    /// The oldest second written since the ring was made (older slots are empty).
    first_s: u64,
}

impl NetworkRing {
    fn new(start_s: u64) -> Self {
        NetworkRing {
            slots: vec![Slot::default(); SECONDS],
            newest_s: start_s,
            first_s: start_s,
        }
    }

    fn put(&mut self, s: u64, slot: Slot) {
        if s > self.newest_s {
            // Seconds skipped (no second closed for them) are cleared.
            let gap = (s - self.newest_s).min(SECONDS as u64);
            for k in 1..gap {
                self.slots[((s - k) % SECONDS as u64) as usize] = Slot::default();
            }
            self.newest_s = s;
        } else if s + (SECONDS as u64) <= self.newest_s {
            return;
        }
        self.first_s = self.first_s.min(s);
        self.slots[(s % SECONDS as u64) as usize] = slot;
    }

    /// The seconds held in `[from_s, to_s)`, oldest first.
    pub fn range(&self, from_s: u64, to_s: u64) -> impl Iterator<Item = (u64, Slot)> + '_ {
        let lo = from_s.max(self.oldest_s());
        let hi = to_s.min(self.newest_s + 1);
        (lo..hi).map(|s| (s, self.slots[(s % SECONDS as u64) as usize]))
    }

    /// The oldest second held.
    pub fn oldest_s(&self) -> u64 {
        self.first_s
            .max((self.newest_s + 1).saturating_sub(SECONDS as u64))
    }

    /// The oldest second the ring can hold now (an hour before the newest), whether or
    /// not it was running then.
    pub fn window_s(&self) -> u64 {
        (self.newest_s + 1).saturating_sub(SECONDS as u64)
    }

    /// The newest second held.
    pub fn newest_s(&self) -> u64 {
        self.newest_s
    }
}

/// One victim's recent seconds.
#[derive(Debug, Clone)]
pub struct VictimSeries {
    /// Its protected network.
    pub network: String,
    /// Its incident's id, once started.
    pub incident: Option<u64>,
    /// The first point's second.
    pub start_s: u64,
    /// One point a second from `start_s` (at most [`SECONDS`]; the oldest go first).
    pub points: VecDeque<Rate>,
    /// The last second it was reported.
    pub last_s: u64,
    /// The highest packets per second seen.
    pub peak_pps: u64,
}

impl VictimSeries {
    fn push(&mut self, s: u64, r: Rate) {
        let next = self.start_s + self.points.len() as u64;
        if s < next {
            return;
        }
        for _ in next..s {
            self.points.push_back(Rate::default());
        }
        self.points.push_back(r);
        while self.points.len() > SECONDS {
            self.points.pop_front();
            self.start_s += 1;
        }
        self.last_s = s;
        self.peak_pps = self.peak_pps.max(r.packets);
    }
}

/// The last hour: networks and victims.
#[derive(Debug, Default)]
pub struct Ring {
    networks: HashMap<String, NetworkRing>,
    victims: HashMap<Victim, VictimSeries>,
    newest_s: u64,
    refused: u64,
}

impl Ring {
    /// Takes one closed second.
    pub fn push(&mut self, sec: &Second) {
        let s = sec.start_us / 1_000_000;
        self.newest_s = self.newest_s.max(s);
        for n in &sec.networks {
            let slot = Slot {
                protocols: n.protocols,
                out: n.out,
            };
            if let Some(r) = self.networks.get_mut(&n.network) {
                r.put(s, slot);
            } else {
                let mut r = NetworkRing::new(s);
                r.put(s, slot);
                self.networks.insert(n.network.clone(), r);
            }
        }
        let hour = self.newest_s.saturating_sub(SECONDS as u64);
        self.networks.retain(|_, r| r.newest_s > hour);
        self.victims.retain(|_, v| v.last_s > hour);
        for v in &sec.victims {
            if let Some(series) = self.victims.get_mut(&v.victim) {
                series.incident = series.incident.or(v.incident);
                series.push(s, v.rate);
                continue;
            }
            if self.victims.len() >= MAX_VICTIMS && !self.make_room(s, v.incident, v.rate) {
                self.refused += 1;
                continue;
            }
            let mut series = VictimSeries {
                network: v.network.clone(),
                incident: v.incident,
                start_s: s,
                points: VecDeque::new(),
                last_s: s,
                peak_pps: 0,
            };
            series.push(s, v.rate);
            self.victims.insert(v.victim.clone(), series);
        }
    }

    /// Frees a victim's place for a newcomer (see the module overview). False when
    /// none may go.
    fn make_room(&mut self, now_s: u64, incident: Option<u64>, rate: Rate) -> bool {
        let gone = self
            .victims
            .iter()
            .filter(|(_, v)| v.last_s < now_s)
            .min_by_key(|(_, v)| v.last_s);
        let suspect = || {
            self.victims
                .iter()
                .filter(|(_, v)| v.incident.is_none())
                .min_by_key(|(_, v)| v.points.back().map_or(0, |r| r.packets))
        };
        let weakest = || {
            self.victims
                .iter()
                .filter(|(_, v)| incident.is_some() && v.peak_pps < rate.packets)
                .min_by_key(|(_, v)| v.peak_pps)
        };
        let pick = gone
            .or_else(suspect)
            .or_else(weakest)
            .map(|(k, _)| k.clone());
        match pick {
            Some(k) => {
                self.victims.remove(&k);
                true
            }
            None => false,
        }
    }

    /// A network's last hour, if it is known.
    pub fn network(&self, name: &str) -> Option<&NetworkRing> {
        self.networks.get(name)
    }

    /// The networks known, by name.
    pub fn networks(&self) -> impl Iterator<Item = &str> {
        self.networks.keys().map(String::as_str)
    }

    /// A victim's recent seconds.
    pub fn victim(&self, v: &Victim) -> Option<&VictimSeries> {
        self.victims.get(v)
    }

    /// Victims held now.
    pub fn victims(&self) -> usize {
        self.victims.len()
    }

    /// Victims not kept because the cap was reached and none could make room.
    pub fn victims_refused(&self) -> u64 {
        self.refused
    }

    /// Bytes the ring holds (its allocations): the bound the overview documents.
    pub fn bytes(&self) -> usize {
        use std::mem::size_of;
        let nets = self.networks.len() * SECONDS * size_of::<Slot>();
        let victims: usize = self
            .victims
            .values()
            .map(|v| v.points.capacity() * size_of::<Rate>())
            .sum();
        nets + victims
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use levee_detect::engine::history::{NetworkSecond, VictimSecond};
    use std::net::IpAddr;

    const T0: u64 = 1_800_000_000;

    fn rate(p: u64) -> Rate {
        Rate {
            packets: p,
            bytes: p * 100,
        }
    }

    fn second(s: u64, nets: &[(&str, u64)], victims: &[(IpAddr, Option<u64>, u64)]) -> Second {
        Second {
            start_us: s * 1_000_000,
            networks: nets
                .iter()
                .map(|(n, p)| NetworkSecond {
                    network: (*n).into(),
                    protocols: [rate(*p), rate(1), Rate::default(), Rate::default()],
                    out: rate(p / 2),
                })
                .collect(),
            victims: victims
                .iter()
                .map(|(ip, id, p)| VictimSecond {
                    victim: Victim::Host(*ip),
                    network: "a".into(),
                    incident: *id,
                    rate: rate(*p),
                })
                .collect(),
            busiest: Vec::new(),
        }
    }

    fn ip(k: u32) -> IpAddr {
        IpAddr::V4((0xcb00_7100 + k).into())
    }

    /// Two hours of seconds with gaps: the ring holds exactly the last hour, skipped
    /// seconds read as zero, and a naive oracle agrees on every range.
    #[test]
    fn holds_the_last_hour_and_matches_an_oracle() {
        let mut ring = Ring::default();
        let mut all: Vec<(u64, u64)> = Vec::new();
        let mut rnd = levee_testkit::Rng::new(3);
        let mut s = T0;
        for _ in 0..7000 {
            s += if rnd.next_u64().is_multiple_of(100) {
                1 + rnd.next_u64() % 30
            } else {
                1
            };
            let p = rnd.next_u64() % 1_000_000;
            ring.push(&second(s, &[("a", p)], &[]));
            all.push((s, p));
        }
        let r = ring.network("a").unwrap();
        assert_eq!(r.newest_s(), s);
        assert_eq!(r.oldest_s(), s + 1 - SECONDS as u64);
        for (from, to) in [(0, u64::MAX), (s - 100, s - 50), (s - 4000, s - 3000)] {
            let got: Vec<(u64, u64)> = r
                .range(from, to)
                .filter(|(_, p)| p.protocols[0].packets > 0)
                .map(|(t, p)| (t, p.protocols[0].packets))
                .collect();
            // The outbound rate rides in the same slot.
            assert!(
                r.range(from, to)
                    .all(|(_, p)| p.out.packets == p.protocols[0].packets / 2)
            );
            let want: Vec<(u64, u64)> = all
                .iter()
                .filter(|(t, p)| *t >= from.max(r.oldest_s()) && *t < to && *p > 0)
                .copied()
                .collect();
            assert_eq!(got, want, "{from}..{to}");
        }
        assert_eq!(r.range(0, u64::MAX).count(), SECONDS);
        assert_eq!(ring.bytes(), SECONDS * 80);
        assert_eq!(ring.bytes(), 288_000, "the overview's figure");
    }

    /// A victim's series follows it, fills missed seconds with zero, keeps an hour, and
    /// is dropped an hour after it was last reported; networks too.
    #[test]
    fn victims_series_bounded_and_expire() {
        let mut ring = Ring::default();
        ring.push(&second(T0, &[("a", 1)], &[(ip(1), None, 10)]));
        ring.push(&second(T0 + 2, &[("a", 1)], &[(ip(1), Some(5), 20)]));
        let v = ring.victim(&Victim::Host(ip(1))).unwrap();
        assert_eq!(v.incident, Some(5));
        let pts: Vec<u64> = v.points.iter().map(|r| r.packets).collect();
        assert_eq!(pts, [10, 0, 20]);
        for k in 3..5000 {
            ring.push(&second(T0 + k, &[("a", 1)], &[(ip(1), Some(5), k)]));
        }
        let v = ring.victim(&Victim::Host(ip(1))).unwrap();
        assert_eq!(v.points.len(), SECONDS);
        assert_eq!(v.start_s, T0 + 5000 - SECONDS as u64);
        assert_eq!(v.peak_pps, 4999);
        ring.push(&second(T0 + 5000 + SECONDS as u64, &[("b", 1)], &[]));
        assert!(ring.victim(&Victim::Host(ip(1))).is_none());
        assert!(ring.network("a").is_none());
        assert!(ring.network("b").is_some());
    }

    /// At the cap: gone victims make room first, then suspects; incidents are only
    /// displaced by a stronger incident; a suspect meeting a table of incidents is
    /// refused and counted.
    #[test]
    fn victim_cap_evicts_gone_then_suspects_never_attacks_for_suspects() {
        let mut ring = Ring::default();
        let attacks: Vec<_> = (0..MAX_VICTIMS as u32)
            .map(|k| (ip(k), Some(u64::from(k)), 1000 + u64::from(k)))
            .collect();
        ring.push(&second(T0, &[], &attacks));
        assert_eq!(ring.victims(), MAX_VICTIMS);
        // Same second: a stranger's suspect is refused.
        let mut next = attacks.clone();
        next.push((ip(9999), None, 1_000_000));
        ring.push(&second(T0 + 1, &[], &next));
        assert_eq!(ring.victims_refused(), 1);
        assert!(ring.victim(&Victim::Host(ip(9999))).is_none());
        // A stronger incident displaces the weakest incident.
        next.pop();
        next.push((ip(7777), Some(9999), 5000));
        ring.push(&second(T0 + 2, &[], &next));
        assert!(ring.victim(&Victim::Host(ip(7777))).is_some());
        assert!(ring.victim(&Victim::Host(ip(0))).is_none());
        // One attack ends (not reported): a suspect takes its place.
        let mut later: Vec<_> = next[2..].to_vec();
        later.push((ip(8888), None, 10));
        ring.push(&second(T0 + 3, &[], &later));
        assert!(ring.victim(&Victim::Host(ip(8888))).is_some());
        assert!(ring.victim(&Victim::Host(ip(1))).is_none());
        assert_eq!(ring.victims(), MAX_VICTIMS);
    }
}
