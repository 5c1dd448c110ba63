//! Per-exporter template, sampler and sequence state, bounded per source and in total.
//!
//! NetFlow v9 keys templates by (exporter address, source id) (RFC 3954 §5.1), IPFIX by
//! (exporter address, observation domain) (RFC 7011 §8), sFlow its sequence numbers by
//! (agent, sub-agent id). Every stream also remembers the UDP source address that feeds
//! it, because that is what a hostile sender cannot hide behind a forged payload.
//!
//! Anyone who can reach a flow port can announce tens of thousands of templates or
//! sub-agents, or spoof many source addresses, including a listed exporter's. The cache
//! defends itself so that the next real exporter still gets a stream:
//! - **a quota per owner** (streams and templates). A stream's owner is the
//!   `exporters:` entry its UDP source falls in (a configured exporter), else its source
//!   address. An unconfigured source over its quota is refused ([`DecodeError::Limit`]);
//!   a configured exporter over its (larger) quota evicts its *own* least useful
//!   streams, so whoever spoofs it churns only its streams, never another exporter's;
//! - **ageing**: any stream, configured or not, that has seen nothing for
//!   `idle_timeout_us` is dropped (a router re-sends its templates);
//! - **eviction when full**, never refusal while something can go: the least useful
//!   eighth of the unconfigured streams, those that never carried a data record first
//!   (oldest first), then the least recently used by data. Strangers never evict a
//!   configured exporter's streams; a configured exporter, when only configured streams
//!   remain, evicts from the owner holding the most (fair share);
//! - **ownership is re-read per datagram** from the datagram's current policy, and
//!   [`TemplateCache::reclassify`] re-reads it for every stream when the allowlist
//!   changes, so an exporter removed by a reload loses its protection at once.

use super::Template;
use crate::error::DecodeError;
use crate::record::FlowType;
use crate::sequence::SequenceTracker;
use std::collections::HashMap;
use std::net::IpAddr;

/// Bounds on decoder state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Exporter streams (exporter, format, domain) tracked at once; also the number of
    /// exporters (source addresses) counted at once.
    pub max_domains: usize,
    /// Templates per stream.
    pub max_templates_per_domain: usize,
    /// Templates across all streams.
    pub max_templates_total: usize,
    /// Samplers (IE 48 / 302 ids) per stream.
    pub max_samplers_per_domain: usize,
    /// Streams one unconfigured UDP source address may hold.
    pub max_domains_per_source: usize,
    /// Templates one unconfigured UDP source address may hold.
    pub max_templates_per_source: usize,
    /// Streams one configured exporter (`exporters:` entry, all its addresses) may hold;
    /// beyond it, its own least useful streams are evicted.
    pub max_domains_per_exporter: usize,
    /// Templates one configured exporter may hold; beyond it, its own least useful
    /// streams are evicted.
    pub max_templates_per_exporter: usize,
    /// A stream (or an exporter's counters) unseen this long is dropped, in µs.
    pub idle_timeout_us: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_domains: 16_384,
            max_templates_per_domain: 1_024,
            max_templates_total: 65_536,
            max_samplers_per_domain: 256,
            max_domains_per_source: 256,
            max_templates_per_source: 4_096,
            max_domains_per_exporter: 1_024,
            max_templates_per_exporter: 16_384,
            idle_timeout_us: 3_600_000_000,
        }
    }
}

/// What the cache let go of, since the decoder started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Streams held now.
    pub streams: u64,
    /// Templates held now.
    pub templates: u64,
    /// Streams evicted to make room.
    pub streams_evicted: u64,
    /// Streams dropped after the idle timeout.
    pub streams_expired: u64,
    /// Exporters' counters evicted to make room (or expired).
    pub exporters_evicted: u64,
}

/// Identifies one export stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct DomainKey {
    pub(crate) flow_type: FlowType,
    /// The exporter the payload names (sFlow agent), or the UDP source (NetFlow, IPFIX).
    pub(crate) exporter: IpAddr,
    pub(crate) domain: u32,
    /// The UDP source address of the datagrams.
    pub(crate) source: IpAddr,
}

/// Whose quota a stream counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Owner {
    /// An unconfigured UDP source address.
    Source(IpAddr),
    /// A configured exporter (`exporters:` entry), by name.
    Exporter(std::sync::Arc<str>),
}

impl Owner {
    fn configured(&self) -> bool {
        matches!(self, Owner::Exporter(_))
    }

    fn of(name: Option<&std::sync::Arc<str>>, source: IpAddr) -> Owner {
        name.map_or(Owner::Source(source), |n| Owner::Exporter(n.clone()))
    }
}

/// State of one export stream.
#[derive(Debug)]
pub(crate) struct DomainState {
    pub(crate) templates: HashMap<u16, Template>,
    /// Sampling rate per sampler / selector id, from options data.
    pub(crate) samplers: HashMap<u64, u32>,
    /// Exporter-wide sampling rate, from options data without a sampler id.
    pub(crate) default_rate: Option<u32>,
    pub(crate) sequence: SequenceTracker,
    /// Last datagram, µs.
    last_seen: u64,
    /// Last datagram that yielded a flow record, µs; 0 for never.
    last_data: u64,
    /// Whose quota it counts against, as of its last datagram (or reclassification).
    owner: Owner,
}

impl DomainState {
    /// The rate for a data record: its own sampling fields, then its sampler's rate, then
    /// the exporter-wide rate, then 1.
    pub(crate) fn rate_for(&self, raw: &super::RawFields) -> u32 {
        raw.sampling_rate()
            .or_else(|| {
                raw.sampler_id
                    .and_then(|id| self.samplers.get(&id).copied())
            })
            .or(self.default_rate)
            .unwrap_or(1)
    }

    /// Learns sampling from an options data record.
    pub(crate) fn learn_sampling(&mut self, raw: &super::RawFields, limits: &Limits) {
        let Some(rate) = raw.sampling_rate() else {
            return;
        };
        match raw.sampler_id {
            Some(id) => {
                if self.samplers.len() < limits.max_samplers_per_domain
                    || self.samplers.contains_key(&id)
                {
                    self.samplers.insert(id, rate);
                }
            }
            None => self.default_rate = Some(rate),
        }
    }

    /// The eviction order: streams that never carried data first, then by last data use;
    /// older first.
    fn usefulness(&self) -> (bool, u64) {
        if self.last_data == 0 {
            (false, self.last_seen)
        } else {
            (true, self.last_data)
        }
    }
}

/// What one owner holds.
#[derive(Debug, Default, Clone, Copy)]
struct Usage {
    domains: usize,
    templates: usize,
}

/// Which count an eviction is meant to lower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Streams,
    Templates,
}

/// All export streams a decoder knows.
#[derive(Debug, Default)]
pub(crate) struct TemplateCache {
    pub(crate) domains: HashMap<DomainKey, DomainState>,
    owners: HashMap<Owner, Usage>,
    templates_total: usize,
    pub(crate) limits: Limits,
    /// The datagram being decoded: its receive time and its source's exporter name.
    now_us: u64,
    exporter: Option<std::sync::Arc<str>>,
    last_sweep_us: u64,
    pub(crate) stats: CacheStats,
}

impl TemplateCache {
    pub(crate) fn new(limits: Limits) -> Self {
        TemplateCache {
            limits,
            ..Default::default()
        }
    }

    /// Starts a datagram received at `now_us` from a source that is the configured
    /// exporter `exporter` (or none); drops idle streams now and then.
    pub(crate) fn begin(&mut self, now_us: u64, exporter: Option<&std::sync::Arc<str>>) {
        self.now_us = now_us;
        if self.exporter.as_ref() != exporter {
            self.exporter = exporter.cloned();
        }
        let every = (self.limits.idle_timeout_us / 8).max(1_000_000);
        if now_us.saturating_sub(self.last_sweep_us) >= every {
            self.last_sweep_us = now_us;
            self.expire();
        }
    }

    /// The owner of `key` under the datagram being decoded.
    fn owner_now(&self, key: &DomainKey) -> Owner {
        Owner::of(self.exporter.as_ref(), key.source)
    }

    /// The quotas of an owner: (streams, templates).
    fn quota(&self, owner: &Owner) -> (usize, usize) {
        if owner.configured() {
            (
                self.limits.max_domains_per_exporter,
                self.limits.max_templates_per_exporter,
            )
        } else {
            (
                self.limits.max_domains_per_source,
                self.limits.max_templates_per_source,
            )
        }
    }

    fn usage(&self, owner: &Owner) -> Usage {
        self.owners.get(owner).copied().unwrap_or_default()
    }

    /// The stream's state, created on first sight: within its owner's quota, and
    /// making room by eviction when the cache is full. Its owner follows the datagram.
    pub(crate) fn domain(&mut self, key: DomainKey) -> Result<&mut DomainState, DecodeError> {
        let owner = self.owner_now(&key);
        match self.domains.get(&key).map(|d| d.owner == owner) {
            None => self.admit_domain(key, owner)?,
            Some(false) => self.set_owner(&key, owner),
            Some(true) => {}
        }
        let now = self.now_us;
        let d = self
            .domains
            .get_mut(&key)
            .ok_or(DecodeError::Limit("exporter streams"))?;
        d.last_seen = d.last_seen.max(now);
        Ok(d)
    }

    /// Marks the stream as having just yielded flow records.
    pub(crate) fn used(&mut self, key: &DomainKey) {
        if let Some(d) = self.domains.get_mut(key) {
            d.last_data = d.last_data.max(self.now_us).max(1);
        }
    }

    /// Re-reads every stream's owner from `exporter_of` (the exporter name of a UDP
    /// source under the current allowlist): a reload's changes apply to the streams it
    /// already holds. Quotas are not enforced retroactively; they bind new streams.
    pub(crate) fn reclassify(
        &mut self,
        exporter_of: impl Fn(IpAddr) -> Option<std::sync::Arc<str>>,
    ) {
        let moves: Vec<(DomainKey, Owner)> = self
            .domains
            .iter()
            .filter_map(|(k, d)| {
                let owner = Owner::of(exporter_of(k.source).as_ref(), k.source);
                (owner != d.owner).then_some((*k, owner))
            })
            .collect();
        for (k, owner) in moves {
            self.set_owner(&k, owner);
        }
    }

    /// Moves a stream's counts to `owner`.
    fn set_owner(&mut self, key: &DomainKey, owner: Owner) {
        let Some(d) = self.domains.get_mut(key) else {
            return;
        };
        let old = std::mem::replace(&mut d.owner, owner.clone());
        let n = d.templates.len();
        self.release(&old, n);
        let u = self.owners.entry(owner).or_default();
        u.domains += 1;
        u.templates += n;
    }

    /// Takes one stream holding `templates` off `owner`'s usage.
    fn release(&mut self, owner: &Owner, templates: usize) {
        if let Some(u) = self.owners.get_mut(owner) {
            u.domains -= 1;
            u.templates -= templates;
            if u.domains == 0 {
                self.owners.remove(owner);
            }
        }
    }

    fn admit_domain(&mut self, key: DomainKey, owner: Owner) -> Result<(), DecodeError> {
        let (quota, _) = self.quota(&owner);
        if self.usage(&owner).domains >= quota {
            if !owner.configured() {
                return Err(DecodeError::Limit("exporter streams per source address"));
            }
            // A configured exporter over its quota makes room among its own streams.
            self.evict_owner(&owner, None, quota);
            if self.usage(&owner).domains >= quota {
                return Err(DecodeError::Limit(
                    "exporter streams per configured exporter",
                ));
            }
        }
        if self.domains.len() >= self.limits.max_domains {
            self.make_room(None, owner.configured(), Need::Streams);
            if self.domains.len() >= self.limits.max_domains {
                return Err(DecodeError::Limit("exporter streams"));
            }
        }
        self.domains.insert(
            key,
            DomainState {
                templates: HashMap::new(),
                samplers: HashMap::new(),
                default_rate: None,
                sequence: SequenceTracker::default(),
                last_seen: self.now_us,
                last_data: 0,
                owner: owner.clone(),
            },
        );
        self.owners.entry(owner).or_default().domains += 1;
        Ok(())
    }

    /// The cache is full: evicts unconfigured streams (not `keep`); when there are none
    /// and the requester is a configured exporter, evicts from the configured exporter
    /// holding the most of what is needed, so a spoofed exporter that fills the cache
    /// pays, not the others.
    fn make_room(&mut self, keep: Option<DomainKey>, configured: bool, need: Need) {
        if self.evict_where(keep, self.domains.len(), |d| !d.owner.configured()) > 0 || !configured
        {
            return;
        }
        let biggest = self
            .owners
            .iter()
            .filter(|(o, _)| o.configured())
            .max_by_key(|(_, u)| match need {
                Need::Streams => u.domains,
                Need::Templates => u.templates,
            })
            .map(|(o, u)| (o.clone(), u.domains));
        if let Some((owner, held)) = biggest {
            self.evict_owner(&owner, keep, held);
        }
    }

    /// Evicts an eighth of `of` (at least one) of `owner`'s least useful streams.
    fn evict_owner(&mut self, owner: &Owner, keep: Option<DomainKey>, of: usize) {
        self.evict_where(keep, of, |d| d.owner == *owner);
    }

    /// Evicts the least useful eighth of `of` (at least one) of the streams `pick`
    /// chooses, never `keep`; returns how many went.
    fn evict_where(
        &mut self,
        keep: Option<DomainKey>,
        of: usize,
        pick: impl Fn(&DomainState) -> bool,
    ) -> usize {
        let mut candidates: Vec<((bool, u64), DomainKey)> = self
            .domains
            .iter()
            .filter(|(k, d)| pick(d) && Some(**k) != keep)
            .map(|(k, d)| (d.usefulness(), *k))
            .collect();
        if candidates.is_empty() {
            return 0;
        }
        let n = (of / 8).clamp(1, candidates.len());
        if n < candidates.len() {
            candidates.select_nth_unstable_by_key(n - 1, |(u, _)| *u);
        }
        for (_, k) in &candidates[..n] {
            self.remove(k);
            self.stats.streams_evicted += 1;
        }
        n
    }

    /// Drops streams idle longer than the timeout, configured exporters' too.
    fn expire(&mut self) {
        let (now, idle) = (self.now_us, self.limits.idle_timeout_us);
        let old: Vec<DomainKey> = self
            .domains
            .iter()
            .filter(|(_, d)| now.saturating_sub(d.last_seen) > idle)
            .map(|(k, _)| *k)
            .collect();
        for k in &old {
            self.remove(k);
            self.stats.streams_expired += 1;
        }
    }

    fn remove(&mut self, key: &DomainKey) {
        let Some(d) = self.domains.remove(key) else {
            return;
        };
        self.templates_total -= d.templates.len();
        self.release(&d.owner, d.templates.len());
    }

    /// Adds or replaces a template.
    pub(crate) fn insert(
        &mut self,
        key: DomainKey,
        id: u16,
        t: Template,
    ) -> Result<(), DecodeError> {
        let limits = self.limits;
        let d = self.domain(key)?;
        let replacing = d.templates.contains_key(&id);
        let owner = d.owner.clone();
        if !replacing {
            let (_, quota) = self.quota(&owner);
            if self.usage(&owner).templates >= quota {
                if !owner.configured() {
                    return Err(DecodeError::Limit("templates per source address"));
                }
                let held = self.usage(&owner).domains;
                self.evict_owner(&owner, Some(key), held);
                if self.usage(&owner).templates >= quota {
                    return Err(DecodeError::Limit("templates per configured exporter"));
                }
            }
            if self.domain(key)?.templates.len() >= limits.max_templates_per_domain {
                return Err(DecodeError::Limit("templates per exporter"));
            }
            if self.templates_total >= limits.max_templates_total {
                self.make_room(Some(key), owner.configured(), Need::Templates);
                if self.templates_total >= limits.max_templates_total {
                    return Err(DecodeError::Limit("templates in total"));
                }
            }
            self.templates_total += 1;
            self.owners.entry(owner).or_default().templates += 1;
        }
        self.domain(key)?.templates.insert(id, t);
        Ok(())
    }

    /// Withdraws one template (RFC 7011 §8.1).
    pub(crate) fn withdraw(&mut self, key: DomainKey, id: u16) {
        if let Some(d) = self.domains.get_mut(&key)
            && d.templates.remove(&id).is_some()
        {
            let owner = d.owner.clone();
            self.forget_templates(&owner, 1);
        }
    }

    /// Withdraws all templates of a stream, data or options (RFC 7011 §8.1, ids 2 and 3).
    pub(crate) fn withdraw_all(&mut self, key: DomainKey, options: bool) {
        if let Some(d) = self.domains.get_mut(&key) {
            let before = d.templates.len();
            d.templates.retain(|_, t| t.options != options);
            let gone = before - d.templates.len();
            let owner = d.owner.clone();
            self.forget_templates(&owner, gone);
        }
    }

    fn forget_templates(&mut self, owner: &Owner, n: usize) {
        self.templates_total -= n;
        if let Some(u) = self.owners.get_mut(owner) {
            u.templates -= n;
        }
    }

    /// Templates held across all streams.
    pub(crate) fn templates_total(&self) -> usize {
        self.templates_total
    }

    /// Counters of what the cache holds and let go of.
    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            streams: self.domains.len() as u64,
            templates: self.templates_total as u64,
            ..self.stats
        }
    }
}

#[cfg(test)]
mod tests;
