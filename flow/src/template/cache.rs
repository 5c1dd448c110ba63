//! Per-exporter template and sampler state, bounded per exporter and in total.
//!
//! NetFlow v9 keys templates by (exporter address, source id) (RFC 3954 §5.1), IPFIX by
//! (exporter address, observation domain) (RFC 7011 §8). A hostile exporter can announce
//! tens of thousands of templates, or spoof many source addresses; the limits below refuse
//! what is over them (counted as [`DecodeError::Limit`]) instead of growing without bound.

use super::Template;
use crate::error::DecodeError;
use crate::record::FlowType;
use crate::sequence::SequenceTracker;
use std::collections::HashMap;
use std::net::IpAddr;

/// Bounds on decoder state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Exporter streams (exporter, format, domain) tracked at once.
    pub max_domains: usize,
    /// Templates per stream.
    pub max_templates_per_domain: usize,
    /// Templates across all streams.
    pub max_templates_total: usize,
    /// Samplers (IE 48 / 302 ids) per stream.
    pub max_samplers_per_domain: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_domains: 16_384,
            max_templates_per_domain: 1_024,
            max_templates_total: 65_536,
            max_samplers_per_domain: 256,
        }
    }
}

/// Identifies one export stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct DomainKey {
    pub(crate) flow_type: FlowType,
    pub(crate) exporter: IpAddr,
    pub(crate) domain: u32,
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
}

/// All export streams a decoder knows.
#[derive(Debug, Default)]
pub(crate) struct TemplateCache {
    pub(crate) domains: HashMap<DomainKey, DomainState>,
    templates_total: usize,
    pub(crate) limits: Limits,
}

impl TemplateCache {
    pub(crate) fn new(limits: Limits) -> Self {
        TemplateCache {
            limits,
            ..Default::default()
        }
    }

    /// The stream's state, created on first sight within `max_domains`.
    pub(crate) fn domain(&mut self, key: DomainKey) -> Result<&mut DomainState, DecodeError> {
        let full = self.domains.len() >= self.limits.max_domains;
        if full && !self.domains.contains_key(&key) {
            return Err(DecodeError::Limit("exporter streams"));
        }
        Ok(self.domains.entry(key).or_default())
    }

    /// Adds or replaces a template.
    pub(crate) fn insert(
        &mut self,
        key: DomainKey,
        id: u16,
        t: Template,
    ) -> Result<(), DecodeError> {
        let limits = self.limits;
        let total = self.templates_total;
        let d = self.domain(key)?;
        let replacing = d.templates.contains_key(&id);
        if !replacing {
            if d.templates.len() >= limits.max_templates_per_domain {
                return Err(DecodeError::Limit("templates per exporter"));
            }
            if total >= limits.max_templates_total {
                return Err(DecodeError::Limit("templates in total"));
            }
        }
        d.templates.insert(id, t);
        if !replacing {
            self.templates_total += 1;
        }
        Ok(())
    }

    /// Withdraws one template (RFC 7011 §8.1).
    pub(crate) fn withdraw(&mut self, key: DomainKey, id: u16) {
        if let Some(d) = self.domains.get_mut(&key)
            && d.templates.remove(&id).is_some()
        {
            self.templates_total -= 1;
        }
    }

    /// Withdraws all templates of a stream, data or options (RFC 7011 §8.1, ids 2 and 3).
    pub(crate) fn withdraw_all(&mut self, key: DomainKey, options: bool) {
        if let Some(d) = self.domains.get_mut(&key) {
            let before = d.templates.len();
            d.templates.retain(|_, t| t.options != options);
            self.templates_total -= before - d.templates.len();
        }
    }

    /// Templates held across all streams.
    pub(crate) fn templates_total(&self) -> usize {
        self.templates_total
    }
}
