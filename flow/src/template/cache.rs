//! Per-exporter template, sampler and sequence state, bounded per source and in total.
//!
//! NetFlow v9 keys templates by (exporter address, source id) (RFC 3954 §5.1), IPFIX by
//! (exporter address, observation domain) (RFC 7011 §8), sFlow its sequence numbers by
//! (agent, sub-agent id). Every stream also remembers the UDP source address that feeds
//! it, because that is what a hostile sender cannot hide behind a forged payload.
//!
//! Anyone who can reach a flow port can announce tens of thousands of templates or
//! sub-agents, or spoof many source addresses. The cache defends itself so that the next
//! real exporter still gets a stream:
//! - **a quota per source address** (streams and templates): one host cannot fill it;
//!   what is over its own quota is refused and counted as [`DecodeError::Limit`];
//! - **ageing**: a stream that has seen nothing for `stream_idle_timeout_us` is dropped;
//! - **eviction when full**, never refusal: the least useful eighth goes, streams that
//!   never carried a data record first (oldest first), then the least recently used by
//!   data;
//! - streams of **configured exporters** are neither evicted nor aged, nor bound by the
//!   per-source quota (only by the totals).

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
    /// Streams one UDP source address may hold (configured exporters excepted).
    pub max_domains_per_source: usize,
    /// Templates one UDP source address may hold (configured exporters excepted).
    pub max_templates_per_source: usize,
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

/// State of one export stream.
#[derive(Debug, Default)]
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
    /// Fed by a configured exporter: never evicted or aged.
    configured: bool,
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

/// What one source address holds.
#[derive(Debug, Default, Clone, Copy)]
struct SourceUse {
    domains: usize,
    templates: usize,
}

/// All export streams a decoder knows.
#[derive(Debug, Default)]
pub(crate) struct TemplateCache {
    pub(crate) domains: HashMap<DomainKey, DomainState>,
    sources: HashMap<IpAddr, SourceUse>,
    templates_total: usize,
    pub(crate) limits: Limits,
    /// The datagram being decoded: its receive time and whether its source is configured.
    now_us: u64,
    configured: bool,
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

    /// Starts a datagram received at `now_us` from a source that is (or is not) a
    /// configured exporter; drops idle streams now and then.
    pub(crate) fn begin(&mut self, now_us: u64, configured: bool) {
        self.now_us = now_us;
        self.configured = configured;
        let every = (self.limits.idle_timeout_us / 8).max(1_000_000);
        if now_us.saturating_sub(self.last_sweep_us) >= every {
            self.last_sweep_us = now_us;
            self.expire();
        }
    }

    /// The stream's state, created on first sight: within its source's quota, and
    /// making room by eviction when the cache is full.
    pub(crate) fn domain(&mut self, key: DomainKey) -> Result<&mut DomainState, DecodeError> {
        if !self.domains.contains_key(&key) {
            self.admit_domain(key)?;
        }
        let (now, configured) = (self.now_us, self.configured);
        let d = self.domains.entry(key).or_default();
        d.last_seen = d.last_seen.max(now);
        d.configured |= configured;
        Ok(d)
    }

    /// Marks the stream as having just yielded flow records.
    pub(crate) fn used(&mut self, key: &DomainKey) {
        if let Some(d) = self.domains.get_mut(key) {
            d.last_data = d.last_data.max(self.now_us).max(1);
        }
    }

    fn admit_domain(&mut self, key: DomainKey) -> Result<(), DecodeError> {
        let held = self.sources.get(&key.source).map_or(0, |u| u.domains);
        if !self.configured && held >= self.limits.max_domains_per_source {
            return Err(DecodeError::Limit("exporter streams per source address"));
        }
        if self.domains.len() >= self.limits.max_domains {
            self.evict(None);
            if self.domains.len() >= self.limits.max_domains {
                return Err(DecodeError::Limit("exporter streams"));
            }
        }
        self.domains.insert(
            key,
            DomainState {
                last_seen: self.now_us,
                configured: self.configured,
                ..Default::default()
            },
        );
        self.sources.entry(key.source).or_default().domains += 1;
        Ok(())
    }

    /// Evicts the least useful eighth of the streams that are not configured exporters'
    /// (and not `keep`).
    fn evict(&mut self, keep: Option<DomainKey>) {
        let mut candidates: Vec<((bool, u64), DomainKey)> = self
            .domains
            .iter()
            .filter(|(k, d)| !d.configured && Some(**k) != keep)
            .map(|(k, d)| (d.usefulness(), *k))
            .collect();
        if candidates.is_empty() {
            return;
        }
        let n = (self.domains.len() / 8).clamp(1, candidates.len());
        if n < candidates.len() {
            candidates.select_nth_unstable_by_key(n - 1, |(u, _)| *u);
        }
        for (_, k) in &candidates[..n] {
            self.remove(k);
            self.stats.streams_evicted += 1;
        }
    }

    /// Drops streams idle longer than the timeout (configured exporters' excepted).
    fn expire(&mut self) {
        let (now, idle) = (self.now_us, self.limits.idle_timeout_us);
        let old: Vec<DomainKey> = self
            .domains
            .iter()
            .filter(|(_, d)| !d.configured && now.saturating_sub(d.last_seen) > idle)
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
        if let Some(u) = self.sources.get_mut(&key.source) {
            u.domains -= 1;
            u.templates -= d.templates.len();
            if u.domains == 0 {
                self.sources.remove(&key.source);
            }
        }
    }

    /// Adds or replaces a template.
    pub(crate) fn insert(
        &mut self,
        key: DomainKey,
        id: u16,
        t: Template,
    ) -> Result<(), DecodeError> {
        let limits = self.limits;
        let replacing = self.domain(key)?.templates.contains_key(&id);
        if !replacing {
            let held = self.sources.get(&key.source).map_or(0, |u| u.templates);
            if !self.configured && held >= limits.max_templates_per_source {
                return Err(DecodeError::Limit("templates per source address"));
            }
            if self.domain(key)?.templates.len() >= limits.max_templates_per_domain {
                return Err(DecodeError::Limit("templates per exporter"));
            }
            if self.templates_total >= limits.max_templates_total {
                self.evict(Some(key));
                if self.templates_total >= limits.max_templates_total {
                    return Err(DecodeError::Limit("templates in total"));
                }
            }
            self.templates_total += 1;
            self.sources.entry(key.source).or_default().templates += 1;
        }
        self.domain(key)?.templates.insert(id, t);
        Ok(())
    }

    /// Withdraws one template (RFC 7011 §8.1).
    pub(crate) fn withdraw(&mut self, key: DomainKey, id: u16) {
        if let Some(d) = self.domains.get_mut(&key)
            && d.templates.remove(&id).is_some()
        {
            self.forget_templates(&key, 1);
        }
    }

    /// Withdraws all templates of a stream, data or options (RFC 7011 §8.1, ids 2 and 3).
    pub(crate) fn withdraw_all(&mut self, key: DomainKey, options: bool) {
        if let Some(d) = self.domains.get_mut(&key) {
            let before = d.templates.len();
            d.templates.retain(|_, t| t.options != options);
            let gone = before - d.templates.len();
            self.forget_templates(&key, gone);
        }
    }

    fn forget_templates(&mut self, key: &DomainKey, n: usize) {
        self.templates_total -= n;
        if let Some(u) = self.sources.get_mut(&key.source) {
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
