//! Changing a running engine without losing what it learned: new settings and threat
//! intel ([`Engine::reconfigure`], for a config reload), and baselines saved and put
//! back ([`Engine::host_baselines`], [`Engine::restore_host`] and their network
//! counterparts, for warm restarts).
//!
//! What a reconfiguration keeps: every tracked IP still inside a protected network,
//! with its baseline (whichever network it now belongs to); every network whose name
//! and prefixes are unchanged, with its baseline and incident; the incidents of both.
//! What it ends: incidents on IPs or networks no longer protected (their end events come
//! out of the next tick). A lower `max_tracked` evicts the least active IPs first.

use super::host::{Host, NONE, Network};
use super::{Engine, EngineConfig, NO_NET, Victim};
use crate::baseline::Baseline;
use crate::netmatch::NetMatcher;
use crate::policy::Compiled;
use std::net::IpAddr;

/// Why a configuration was refused (the engine keeps the one it had).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconfigureError {
    /// Network indices are 16-bit, one value reserved.
    #[error("{0} protected networks; at most 65,534 are supported")]
    TooManyNetworks(usize),
    /// No IP could be tracked.
    #[error("max_tracked is 0; at least one IP must be trackable")]
    NothingTracked,
}

/// What a reconfiguration kept and dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconfigured {
    /// Tracked IPs kept, with their baselines.
    pub hosts_kept: u64,
    /// Tracked IPs dropped: no longer protected, or over a lower `max_tracked`.
    pub hosts_dropped: u64,
    /// Networks kept with their baselines (same name and prefixes).
    pub networks_kept: u64,
    /// Open incidents (and suspects) ended because their victim is no longer protected.
    pub incidents_ended: u64,
}

impl Engine {
    /// Applies new settings and threat intel at `now_us`, keeping the baselines and
    /// incidents of what is still protected (see the module overview). On error nothing
    /// changes.
    pub fn reconfigure(
        &mut self,
        cfg: EngineConfig,
        intel: Option<super::ThreatIntel>,
        now_us: u64,
    ) -> Result<Reconfigured, ReconfigureError> {
        if cfg.networks.len() >= usize::from(NO_NET) {
            return Err(ReconfigureError::TooManyNetworks(cfg.networks.len()));
        }
        if cfg.max_tracked == 0 {
            return Err(ReconfigureError::NothingTracked);
        }
        let now_us = now_us.max(self.now_us);
        let mut prefixes = Vec::new();
        for (i, n) in cfg.networks.iter().enumerate() {
            prefixes.extend(n.prefixes.iter().map(|p| (*p, i as u16)));
        }
        let matcher = NetMatcher::new(&prefixes);
        // Old network index → new index, for networks with the same name and prefixes.
        let remap: Vec<Option<u16>> = self
            .cfg
            .networks
            .iter()
            .map(|old| {
                cfg.networks
                    .iter()
                    .position(|n| n.name == old.name && n.prefixes == old.prefixes)
                    .map(|i| i as u16)
            })
            .collect();
        let mut done = Reconfigured::default();

        // Incidents whose victim is no longer protected end (under the old indices).
        for slot in 0..self.incidents.len() {
            let Some(inc) = self.incidents[slot].as_deref() else {
                continue;
            };
            let keep = match &inc.victim {
                Victim::Network(_) => remap[usize::from(inc.net)].is_some(),
                Victim::Host(ip) => matcher.get(*ip).is_some(),
            };
            if keep {
                continue;
            }
            done.incidents_ended += 1;
            if inc.started {
                self.end(slot, now_us);
            } else if let Victim::Host(ip) = inc.victim {
                if let Some(&i) = self.index.get(&ip) {
                    self.hosts[i as usize].incident = NONE;
                }
                self.drop_suspect(slot as u32);
            }
        }
        // The surviving incidents move to their new network indices.
        for inc in self.incidents.iter_mut().flatten() {
            inc.net = match &inc.victim {
                Victim::Network(_) => remap[usize::from(inc.net)].unwrap_or(inc.net),
                Victim::Host(ip) => matcher.get(*ip).unwrap_or(inc.net),
            };
        }
        // Networks: kept ones carry their state over; host incidents are recounted.
        let mut old: Vec<Option<Network>> = std::mem::take(&mut self.nets)
            .into_iter()
            .map(Some)
            .collect();
        let mut nets: Vec<Network> = Vec::with_capacity(cfg.networks.len());
        for (i, n) in cfg.networks.iter().enumerate() {
            let from = remap.iter().position(|m| *m == Some(i as u16));
            match from.and_then(|j| old[j].take()) {
                Some(mut net) => {
                    net.host_incidents = 0;
                    done.networks_kept += 1;
                    nets.push(net);
                }
                None => nets.push(Network::new(n.name.clone())),
            }
        }
        for inc in self.incidents.iter().flatten() {
            if inc.started && matches!(inc.victim, Victim::Host(_)) {
                nets[usize::from(inc.net)].host_incidents += 1;
            }
        }
        self.nets = nets;

        // Hosts: those still protected stay; then the least active go, past the cap.
        let before = self.hosts.len();
        self.hosts.retain(|h| matcher.get(h.ip).is_some());
        let excess = self.hosts.len().saturating_sub(cfg.max_tracked);
        if excess > 0 {
            let mut order: Vec<(u64, u32)> = (0..self.hosts.len())
                .filter(|&i| self.hosts[i].incident == NONE)
                .map(|i| (self.hosts[i].activity(), i as u32))
                .collect();
            order.sort_unstable();
            let mut gone = vec![false; self.hosts.len()];
            for &(_, i) in order.iter().take(excess) {
                gone[i as usize] = true;
            }
            let mut k = 0;
            self.hosts.retain(|_| {
                k += 1;
                !gone[k - 1]
            });
        }
        done.hosts_kept = self.hosts.len() as u64;
        done.hosts_dropped = (before - self.hosts.len()) as u64;
        self.index.clear();
        for (i, h) in self.hosts.iter().enumerate() {
            self.index.insert(h.ip, i as u32);
        }

        self.policies = cfg
            .networks
            .iter()
            .map(|n| Compiled::new(n.policy.clone()))
            .collect();
        self.matcher = matcher;
        self.intel = intel;
        self.cfg = cfg;
        Ok(done)
    }

    /// The baselines of the tracked IPs, for a snapshot.
    pub fn host_baselines(&self) -> impl Iterator<Item = (IpAddr, &Baseline)> {
        self.hosts.iter().map(|h| (h.ip, &h.baseline))
    }

    /// The baselines of the tracked IPs from table slot `start` on, for a snapshot taken
    /// in steps between batches (slots shift as IPs come and go, so a step-wise
    /// snapshot may miss or repeat an IP that moved meanwhile).
    pub fn host_baselines_from(&self, start: usize) -> impl Iterator<Item = (IpAddr, &Baseline)> {
        self.hosts[start.min(self.hosts.len())..]
            .iter()
            .map(|h| (h.ip, &h.baseline))
    }

    /// The baselines of the protected networks as a whole, by name, for a snapshot.
    pub fn network_baselines(&self) -> impl Iterator<Item = (&str, &Baseline)> {
        self.nets.iter().map(|n| (n.name.as_str(), &n.baseline))
    }

    /// Puts back a saved baseline for `ip`: tracked from now on with it (replacing the
    /// baseline of an IP already tracked), and ranked for eviction by it, as if it had
    /// been tracked all along. False when the IP is not in a protected network or the
    /// table is full (a restore never evicts).
    pub fn restore_host(&mut self, ip: IpAddr, baseline: Baseline) -> bool {
        if self.matcher.get(ip).is_none() {
            return false;
        }
        if let Some(&i) = self.index.get(&ip) {
            let h = &mut self.hosts[i as usize];
            h.baseline = baseline;
            h.note_history();
            return true;
        }
        if self.hosts.len() >= self.cfg.max_tracked {
            return false;
        }
        let mut h = Host::new(ip, self.now_s());
        h.baseline = baseline;
        h.note_history();
        self.hosts.push(h);
        self.index.insert(ip, (self.hosts.len() - 1) as u32);
        true
    }

    /// Puts back a protected network's saved baseline, by name. False for a name no
    /// longer configured.
    pub fn restore_network(&mut self, name: &str, baseline: Baseline) -> bool {
        match self.nets.iter_mut().find(|n| n.name == name) {
            Some(n) => {
                n.baseline = baseline;
                true
            }
            None => false,
        }
    }
}
