//! The stateful decoder: detects the format of each datagram, keeps templates, sampling
//! and sequence state per exporter stream, applies what its source is trusted with
//! ([`SourcePolicy`]) to the records, and counts what happened per exporter (UDP source
//! address).
//!
//! The per-exporter table is bounded by `max_domains`: when full, the eighth least
//! recently seen exporters that are not configured are evicted (counted); configured
//! exporters never are. Exporters unseen for the idle timeout are dropped. A source left
//! out because configured exporters fill the table (a spoofed listed prefix) shares one
//! per-second budget with the others left out.

use crate::error::DecodeError;
use crate::ipfix::Ipfix;
use crate::netflow5;
use crate::netflow9::Netflow9;
use crate::record::{FlowRecord, FlowType, InterfaceCounters};
use crate::sflow;
use crate::source::{Budget, Discards, SourcePolicy};
use crate::template::{self, CacheStats, Dialect, DomainKey, Limits, StreamSummary, TemplateCache};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

/// Records and counters decoded from one or more datagrams.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    /// Flow records, in datagram order.
    pub records: Vec<FlowRecord>,
    /// sFlow interface counters.
    pub counters: Vec<InterfaceCounters>,
}

impl Batch {
    /// Empties the batch, keeping its allocations.
    pub fn clear(&mut self) {
        self.records.clear();
        self.counters.clear();
    }
}

/// What one datagram yielded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DatagramResult {
    /// The detected format, when recognized.
    pub flow_type: Option<FlowType>,
    /// Flow records appended to the batch.
    pub records: usize,
    /// Data sets / flowsets skipped because their template was not (yet) known.
    pub template_misses: u32,
    /// Datagrams the sequence numbers say were lost just before this one.
    pub lost_datagrams: u64,
    /// The sequence number jumped too far to be loss (a restart, or a forged number).
    pub sequence_reset: bool,
    /// The error that cut decoding short; records before it were kept.
    pub error: Option<DecodeError>,
    /// Records the source's policy discarded (not in `records`).
    pub discarded: u64,
    /// Of those, records beyond the source's per-second budget (`max_rate`).
    pub discarded_rate: u64,
}

/// Counters for one exporter (UDP source address), or for all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExporterStats {
    /// Datagrams received.
    pub datagrams: u64,
    /// Flow records decoded.
    pub records: u64,
    /// sFlow counter records decoded.
    pub counter_records: u64,
    /// Decode errors by [`DecodeError::kind`].
    pub errors: BTreeMap<&'static str, u64>,
    /// Data sets skipped for want of a template.
    pub template_misses: u64,
    /// Datagrams lost in transit, from sequence numbers.
    pub lost_datagrams: u64,
    /// Sequence jumps too large to be loss: restarts, or forged numbers.
    pub sequence_resets: u64,
    /// Receive time of the last datagram, microseconds since the Unix epoch.
    pub last_seen_us: u64,
    /// The format of the last datagram.
    pub last_format: Option<FlowType>,
    /// The configured exporter's name; `None` when the source is not configured.
    pub name: Option<Arc<str>>,
    /// The sampling rate (1:N) of the last record kept (0 before any).
    pub last_sampling: u32,
    /// Records discarded by the source's policy, by reason.
    pub discarded: Discards,
}

impl ExporterStats {
    fn add(&mut self, r: &DatagramResult, counters: usize, time_us: u64) {
        self.datagrams += 1;
        self.records += r.records as u64;
        self.counter_records += counters as u64;
        self.template_misses += u64::from(r.template_misses);
        self.lost_datagrams += r.lost_datagrams;
        self.sequence_resets += u64::from(r.sequence_reset);
        self.last_seen_us = self.last_seen_us.max(time_us);
        self.last_format = r.flow_type.or(self.last_format);
        if let Some(e) = &r.error {
            *self.errors.entry(e.kind()).or_default() += 1;
        }
    }

    /// Total decode errors of all kinds.
    pub fn error_total(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// One exporter's counters and its spending in the current second.
#[derive(Debug, Default)]
struct Exporter {
    stats: ExporterStats,
    budget: Budget,
}

/// Decodes datagrams of any supported format from any number of exporters.
#[derive(Debug, Default)]
pub struct Decoder {
    cache: TemplateCache,
    exporters: HashMap<IpAddr, Exporter>,
    totals: ExporterStats,
    last_sweep_us: u64,
    /// The per-second budget shared by the sources the full exporter table left out.
    overflow: Budget,
}

impl Decoder {
    /// A decoder with the given bounds on its state.
    pub fn new(limits: Limits) -> Self {
        Decoder {
            cache: TemplateCache::new(limits),
            ..Default::default()
        }
    }

    /// Decodes one datagram received from `source` at `time_us`, appending to `out`,
    /// believing everything it says (offline decoding). Never panics; malformed input is
    /// reported in the result and counted.
    pub fn decode(
        &mut self,
        source: IpAddr,
        time_us: u64,
        data: &[u8],
        out: &mut Batch,
    ) -> DatagramResult {
        self.decode_from(source, &SourcePolicy::trusting(), time_us, data, out)
    }

    /// Decodes one datagram from `source`, which is trusted with `policy`: records it
    /// discards are counted per exporter and not appended. `DatagramResult::records`
    /// counts the records kept.
    pub fn decode_from(
        &mut self,
        source: IpAddr,
        policy: &SourcePolicy,
        time_us: u64,
        data: &[u8],
        out: &mut Batch,
    ) -> DatagramResult {
        let before = out.records.len();
        let counters_before = out.counters.len();
        let mut r = DatagramResult {
            flow_type: detect(data),
            ..Default::default()
        };
        self.cache.begin(time_us, policy.name.as_ref());
        let res = match r.flow_type {
            Some(FlowType::Sflow) => self.sflow(source, data, time_us, out, &mut r),
            Some(FlowType::Netflow5) => self.netflow5(source, data, time_us, out, &mut r),
            Some(FlowType::Netflow9) => {
                self.templated::<Netflow9>(source, data, time_us, out, &mut r)
            }
            Some(FlowType::Ipfix) => self.templated::<Ipfix>(source, data, time_us, out, &mut r),
            Some(FlowType::Mirror) | None => Err(DecodeError::UnknownFormat(first_word(data))),
        };
        r.error = res.err();
        let counters = out.counters.len() - counters_before;
        self.expire_exporters(time_us);
        self.exporter(source, time_us);
        // A source the full table could not take shares one budget with the others
        // left out, rather than getting a fresh one per datagram.
        let budget = match self.exporters.get_mut(&source) {
            Some(e) => &mut e.budget,
            None => &mut self.overflow,
        };
        let discarded = screen(&mut out.records, before, policy, budget);
        r.records = out.records.len() - before;
        r.discarded = discarded.total();
        r.discarded_rate = discarded.rate;
        if let Some(e) = self.exporters.get_mut(&source) {
            e.stats.add(&r, counters, time_us);
            if let Some(last) = out.records[before..].last() {
                e.stats.last_sampling = last.sampling_rate;
            }
            e.stats.name.clone_from(&policy.name);
            add_discards(&mut e.stats.discarded, &discarded);
        }
        self.totals.add(&r, counters, time_us);
        add_discards(&mut self.totals.discarded, &discarded);
        r
    }

    /// Makes the source's entry, making room when the table is full; leaves it out when
    /// only configured exporters fill it.
    fn exporter(&mut self, source: IpAddr, now_us: u64) {
        let limit = self.cache.limits.max_domains;
        if !self.exporters.contains_key(&source) && self.exporters.len() >= limit {
            let mut old: Vec<(u64, IpAddr)> = self
                .exporters
                .iter()
                .filter(|(_, e)| e.stats.name.is_none())
                .map(|(a, e)| (e.stats.last_seen_us, *a))
                .collect();
            let n = (limit / 8).clamp(1, old.len().max(1));
            if n < old.len() {
                old.select_nth_unstable(n - 1);
            }
            for (_, a) in old.iter().take(n) {
                self.exporters.remove(a);
                self.cache.stats.exporters_evicted += 1;
            }
            if self.exporters.len() >= limit {
                return;
            }
        }
        let e = self.exporters.entry(source).or_default();
        if e.stats.last_seen_us == 0 {
            e.stats.last_seen_us = now_us;
        }
    }

    /// Drops exporters (not configured) unseen for the idle timeout, now and then.
    fn expire_exporters(&mut self, now_us: u64) {
        let idle = self.cache.limits.idle_timeout_us;
        if now_us.saturating_sub(self.last_sweep_us) < (idle / 8).max(1_000_000) {
            return;
        }
        self.last_sweep_us = now_us;
        let before = self.exporters.len();
        self.exporters.retain(|_, e| {
            e.stats.name.is_some() || now_us.saturating_sub(e.stats.last_seen_us) <= idle
        });
        self.cache.stats.exporters_evicted += (before - self.exporters.len()) as u64;
    }

    /// Re-reads which configured exporter (if any) every known source belongs to, from
    /// `exporter_of` (the current allowlist): call it when the allowlist changes, so an
    /// exporter a reload removed loses its protection from eviction and ageing at once,
    /// and one it added gains it.
    pub fn reclassify(&mut self, exporter_of: impl Fn(IpAddr) -> Option<Arc<str>>) {
        self.cache.reclassify(&exporter_of);
        for (a, e) in &mut self.exporters {
            e.stats.name = exporter_of(*a);
        }
    }

    /// What the stream cache holds and let go of.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// Counters per exporter (UDP source address).
    pub fn exporters(&self) -> impl Iterator<Item = (&IpAddr, &ExporterStats)> {
        self.exporters.iter().map(|(a, e)| (a, &e.stats))
    }

    /// Counters over all exporters.
    pub fn totals(&self) -> &ExporterStats {
        &self.totals
    }

    /// Templates held across all exporters.
    pub fn templates(&self) -> usize {
        self.cache.templates_total()
    }

    fn sflow(
        &mut self,
        source: IpAddr,
        data: &[u8],
        time_us: u64,
        out: &mut Batch,
        r: &mut DatagramResult,
    ) -> Result<(), DecodeError> {
        let outcome = sflow::decode(data, time_us, &mut out.records, &mut out.counters);
        if let Some(h) = outcome.header {
            let key = DomainKey {
                flow_type: FlowType::Sflow,
                exporter: h.agent,
                domain: h.sub_agent,
                source,
            };
            let gap = self.cache.domain(key)?.sequence.datagrams(h.sequence);
            (r.lost_datagrams, r.sequence_reset) = (gap.lost, gap.reset);
            if h.samples > 0 {
                self.cache.used(&key);
            }
        }
        outcome.error.map_or(Ok(()), Err)
    }

    fn netflow5(
        &mut self,
        source: IpAddr,
        data: &[u8],
        time_us: u64,
        out: &mut Batch,
        r: &mut DatagramResult,
    ) -> Result<(), DecodeError> {
        let h = netflow5::decode(data, source, time_us, &mut out.records)?;
        let key = DomainKey {
            flow_type: FlowType::Netflow5,
            exporter: source,
            domain: h.engine.into(),
            source,
        };
        self.cache.domain(key)?;
        self.cache.used(&key);
        // v5 sequence numbers count flows: turn lost flows into datagrams of this size.
        let gap = self
            .cache
            .domain(key)?
            .sequence
            .records(h.flow_sequence, h.count.into());
        r.lost_datagrams = gap.lost.div_ceil(u64::from(h.count.max(1)));
        r.sequence_reset = gap.reset;
        Ok(())
    }

    /// NetFlow v9 and IPFIX: decodes against the template cache, then reads losses from
    /// the stream's sequence numbers.
    fn templated<D: Dialect>(
        &mut self,
        source: IpAddr,
        data: &[u8],
        time_us: u64,
        out: &mut Batch,
        r: &mut DatagramResult,
    ) -> Result<(), DecodeError> {
        let mut s = StreamSummary::default();
        let res = template::decode::<D>(
            data,
            source,
            time_us,
            &mut self.cache,
            &mut out.records,
            &mut s,
        );
        r.template_misses = s.template_misses;
        let Some(key) = s.key else {
            return res;
        };
        let Some(d) = self.cache.domains.get_mut(&key) else {
            return res;
        };
        if !D::COUNTS_RECORDS {
            let gap = d.sequence.datagrams(s.sequence);
            (r.lost_datagrams, r.sequence_reset) = (gap.lost, gap.reset);
        } else if res.is_ok() && s.template_misses == 0 {
            // IPFIX sequence numbers count data records; a message with unknown sets cannot
            // say how many it held, so it does not advance the tracker.
            let gap = d.sequence.records(s.sequence, s.data_records);
            r.lost_datagrams = gap.lost.div_ceil(u64::from(s.data_records.max(1)));
            r.sequence_reset = gap.reset;
        }
        res
    }
}

/// Applies `policy` to the records from `from` on, keeping those it accepts in order;
/// returns what it discarded.
fn screen(
    records: &mut Vec<FlowRecord>,
    from: usize,
    policy: &SourcePolicy,
    budget: &mut Budget,
) -> Discards {
    let mut discarded = Discards::default();
    let mut keep = from;
    for i in from..records.len() {
        let mut r = records[i];
        match policy.check(&mut r, budget) {
            Some(reason) => discarded.count(reason),
            None => {
                records[keep] = r;
                keep += 1;
            }
        }
    }
    records.truncate(keep);
    discarded
}

fn add_discards(to: &mut Discards, d: &Discards) {
    to.interface += d.interface;
    to.sampling += d.sampling;
    to.rate += d.rate;
}

fn first_word(data: &[u8]) -> u32 {
    let mut w = [0u8; 4];
    let n = data.len().min(4);
    w[..n].copy_from_slice(&data[..n]);
    u32::from_be_bytes(w)
}

/// Recognizes the export format from the first bytes of a datagram.
pub fn detect(data: &[u8]) -> Option<FlowType> {
    match data.get(..2)? {
        [0, 5] => Some(FlowType::Netflow5),
        [0, 9] => Some(FlowType::Netflow9),
        [0, 10] => Some(FlowType::Ipfix),
        [0, 0] if data.get(2..4)? == [0, 5] => Some(FlowType::Sflow),
        _ => None,
    }
}
