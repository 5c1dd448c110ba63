//! Operator requests (`levee mitigate add|withdraw`, the API) and the restore at
//! start: admission of a destination (protected network, RPKI gate), manual routes and
//! levels, and the mitigations of the last run taken back in.

use super::*;

impl Engine {
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
