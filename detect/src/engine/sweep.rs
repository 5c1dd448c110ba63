//! Closing a second: every tracked IP's window moves to the close, hosts that are not
//! attacked teach their baselines, idle ones are dropped; each network's baseline
//! learns; and, when history is recorded ([`super::history`]), the second's traffic
//! per network (towards it, per protocol, and out of it), per victim, and (when asked)
//! the busiest destinations are queued for [`Engine::take_history`].

use super::busiest::Busiest;
use super::history::{self, NetworkSecond, Rate, Second, VictimSecond};
use super::host::{NONE, learn_second};
use super::{Engine, SECOND_US, Victim};
use crate::policy::Current;

impl Engine {
    /// Starts (or stops, with 0) listing the `n` busiest tracked destinations of each
    /// closed second in [`Second::busiest`] (at most [`history::MAX_BUSIEST`]), when
    /// history is recorded. The pick rides on the once-a-second sweep over the tracked
    /// IPs (one comparison each against the smallest of the `n` kept so far); nothing
    /// is added per record, and nothing at all while off.
    pub fn record_busiest(&mut self, n: usize) {
        self.busiest = n.min(history::MAX_BUSIEST);
    }

    /// Closes the second ending at `end_us`.
    pub(super) fn sweep(&mut self, end_us: u64) {
        let last = end_us - 1;
        let now_s = ((end_us.saturating_sub(self.start_us)) / SECOND_US) as u32;
        let victims = self.victim_seconds(last);
        let mut busiest =
            (self.history.is_some() && self.busiest > 0).then(|| Busiest::new(self.busiest));
        let mut i = 0;
        while i < self.hosts.len() {
            let h = &mut self.hosts[i];
            h.window.advance(last);
            let t = h.window.totals();
            if let Some(b) = busiest.as_mut() {
                b.offer(t.packets, t.bytes, h.ip, h.incident);
            }
            let slot = h.incident;
            let inc = (slot != NONE)
                .then(|| self.incidents[slot as usize].as_deref())
                .flatten();
            if inc.is_some_and(|inc| inc.started) {
                i += 1;
                continue;
            }
            // Neither attacked nor (any more) suspect: this second is normal traffic.
            learn_second(&mut h.baseline, t);
            h.note_history();
            if let Some(inc) = inc
                && !self.policies[usize::from(inc.net)].near(Current::from_totals(t, 10))
            {
                h.incident = NONE;
                self.drop_suspect(slot);
            }
            let h = &self.hosts[i];
            if h.incident == NONE && now_s.saturating_sub(h.last_seen) > self.cfg.idle_timeout_s {
                self.evict(i);
                continue;
            }
            i += 1;
        }
        let mut networks = Vec::new();
        for n in &mut self.nets {
            n.window.advance(last);
            if n.incident == NONE && n.host_incidents == 0 {
                learn_second(&mut n.baseline, n.window.totals());
            }
            if self.history.is_some() {
                networks.push(NetworkSecond {
                    network: n.name.clone(),
                    protocols: history::arrived(&n.breakdown, &n.halved),
                    out: n.out,
                });
            }
            n.out = Rate::default();
            n.breakdown.decay();
            n.halved = n.breakdown;
            if now_s.is_multiple_of(60) && n.ttl_usual.samples() > 100_000 {
                n.ttl_usual.decay();
            }
        }
        for inc in self.incidents.iter_mut().flatten() {
            inc.decay();
        }
        let busiest = busiest.map(|b| self.busiest_seconds(b)).unwrap_or_default();
        if let Some(q) = self.history.as_mut() {
            let mut victims = victims;
            for v in &mut victims {
                if let Victim::Network(name) = &v.victim
                    && let Some(n) = networks.iter().find(|n| &n.network == name)
                {
                    v.rate = n.total();
                }
            }
            if q.len() >= history::PENDING_SECONDS {
                q.pop_front();
                self.history_dropped += 1;
            }
            q.push_back(Second {
                start_us: end_us - SECOND_US,
                networks,
                victims,
                busiest,
            });
        }
    }

    /// The busiest destinations picked during a sweep, busiest first, with their
    /// network and their incident's id when it has started.
    fn busiest_seconds(&self, picked: Busiest) -> Vec<VictimSecond> {
        picked
            .into_sorted()
            .into_iter()
            .filter_map(|e| {
                let net = self.matcher.get(e.ip)?;
                let incident = self
                    .incidents
                    .get(e.slot as usize)
                    .and_then(|x| x.as_deref())
                    .filter(|inc| inc.started)
                    .map(|inc| inc.id);
                Some(VictimSecond {
                    victim: Victim::Host(e.ip),
                    network: self.nets[usize::from(net)].name.clone(),
                    incident,
                    rate: Rate {
                        packets: e.packets,
                        bytes: e.bytes,
                    },
                })
            })
            .collect()
    }

    /// Each suspect's and incident's victim over the second ending at `last` (µs), when
    /// history is recorded: a host's window sums (the window is moved to the close); a
    /// network victim's total is filled in from the network's second by the caller.
    fn victim_seconds(&mut self, last: u64) -> Vec<VictimSecond> {
        if self.history.is_none() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for inc in self.incidents.iter().flatten() {
            let rate = match &inc.victim {
                Victim::Host(ip) => match self.index.get(ip) {
                    Some(&i) => {
                        let w = &mut self.hosts[i as usize].window;
                        w.advance(last);
                        let t = w.totals();
                        Rate {
                            packets: t.packets,
                            bytes: t.bytes,
                        }
                    }
                    None => Rate::default(),
                },
                Victim::Network(_) => Rate::default(),
            };
            out.push(VictimSecond {
                victim: inc.victim.clone(),
                network: self.nets[usize::from(inc.net)].name.clone(),
                incident: inc.started.then_some(inc.id),
                rate,
            });
        }
        out
    }
}
