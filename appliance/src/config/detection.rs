//! The `detection` section and the per-network `detection` overrides, turned into the
//! engine's typed settings.

use super::raw::{RawDetection, RawHard, RawLimits, RawPolicy};
/// The conversion context, shared with the other sections' conversions.
pub(super) use crate::yaml::Ctx;
use levee_detect::policy::{Limits, Policy};
use serde_saphyr::Spanned;
use std::path::PathBuf;

/// Engine settings from the `detection` section.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The global policy (networks override parts of it).
    pub policy: Policy,
    /// An incident ends after this long under threshold (µs).
    pub quiet_period_us: u64,
    /// Fraction of the threshold an incident must stay above to count as ongoing.
    pub hysteresis: f64,
    /// Distinct sources that make a botnet.
    pub botnet_sources: u64,
    /// Distinct sources an HTTP flood needs.
    pub http_min_sources: u64,
    /// Heavy hitters listed per kind.
    pub top: usize,
    /// Tracked IPs at most.
    pub max_tracked_ips: usize,
    /// Idle seconds before a tracked IP is dropped.
    pub idle_timeout_s: u32,
    /// Threat-intelligence lists: (name, path).
    pub threat_intel: Vec<(String, PathBuf)>,
}

fn merge(base: Limits, raw: Option<RawLimits>) -> Limits {
    let Some(r) = raw else { return base };
    Limits {
        pps: r.pps.map(|c| c.0).or(base.pps),
        bps: r.bps.map(|b| b.0).or(base.bps),
        flows: r.flows.map(|c| c.0).or(base.flows),
    }
}

/// Applies the keys present in `raw` over `base`.
pub(super) fn policy(base: &Policy, raw: RawPolicy, cx: &mut Ctx<'_>) -> Policy {
    let mut p = base.clone();
    if let Some(m) = raw.multiplier {
        if m.value.is_finite() && (1.0..=1000.0).contains(&m.value) {
            p.multiplier = m.value;
        } else {
            cx.err(&m, "expected a multiplier from 1 to 1000, such as 3");
        }
    }
    p.floor = merge(p.floor, raw.floor);
    if let Some(d) = raw.warmup.duration {
        let secs = d.value.secs();
        if secs > levee_detect::baseline::SAMPLES as u64 {
            cx.err(
                &d,
                "warm-up can be at most 300s: the baseline holds 300 one-second samples",
            );
        } else {
            p.warmup = secs as u32;
        }
    }
    p.warmup_thresholds = merge(p.warmup_thresholds, raw.warmup.thresholds);
    let RawHard {
        total,
        tcp,
        syn,
        udp,
        icmp,
    } = raw.thresholds;
    for (i, r) in [total, tcp, syn, udp, icmp].into_iter().enumerate() {
        p.hard[i] = merge(p.hard[i], r);
    }
    p
}

/// `incident.quiet_period` and `incident.hysteresis`.
fn incident(raw: &RawDetection, d: &mut Detection, cx: &mut Ctx<'_>) {
    if let Some(q) = &raw.incident.quiet_period {
        if q.value.0 < 100_000 {
            cx.err(q, "expected at least 100ms (the engine ticks every 100 ms)");
        } else {
            d.quiet_period_us = q.value.0;
        }
    }
    if let Some(h) = &raw.incident.hysteresis {
        if h.value > 0.0 && h.value <= 1.0 {
            d.hysteresis = h.value;
        } else {
            cx.err(
                h,
                "expected a fraction of the threshold above 0 and at most 1, such as 0.8",
            );
        }
    }
}

/// The engine's bounds: botnet and HTTP source counts, heavy hitters, tracked IPs,
/// idle timeout.
fn limits(raw: &RawDetection, d: &mut Detection, cx: &mut Ctx<'_>) {
    let positive = |v: &Spanned<u64>, cx: &mut Ctx<'_>| {
        if v.value == 0 {
            cx.err(v, "expected a positive integer");
            None
        } else {
            Some(v.value)
        }
    };
    if let Some(v) = raw.botnet_sources.as_ref().and_then(|v| positive(v, cx)) {
        d.botnet_sources = v;
    }
    if let Some(v) = raw.http_min_sources.as_ref().and_then(|v| positive(v, cx)) {
        d.http_min_sources = v;
    }
    if let Some(t) = &raw.top {
        if (1..=32).contains(&t.value) {
            d.top = t.value;
        } else {
            cx.err(t, "expected from 1 to 32 heavy hitters");
        }
    }
    if let Some(m) = &raw.max_tracked_ips {
        if m.value == 0 || m.value > 100_000_000 {
            cx.err(
                m,
                "expected from 1 to 100000000 tracked IPs (each costs about 1 KiB)",
            );
        } else {
            d.max_tracked_ips = m.value;
        }
    }
    if let Some(t) = &raw.idle_timeout {
        if t.value.secs() < 1 || t.value.secs() > u64::from(u32::MAX) {
            cx.err(t, "expected a duration of at least 1s");
        } else {
            d.idle_timeout_s = t.value.secs() as u32;
        }
    }
}

/// Converts the `detection` section.
pub(super) fn detection(mut raw: RawDetection, cx: &mut Ctx<'_>) -> Detection {
    let policy = policy(&Policy::default(), raw.policy(), cx);
    let defaults = levee_detect::EngineConfig::default();
    let mut d = Detection {
        policy,
        quiet_period_us: defaults.quiet_period_us,
        hysteresis: defaults.hysteresis,
        botnet_sources: defaults.botnet_sources,
        http_min_sources: defaults.http_min_sources,
        top: defaults.top_n,
        max_tracked_ips: defaults.max_tracked,
        idle_timeout_s: defaults.idle_timeout_s,
        threat_intel: Vec::new(),
    };
    incident(&raw, &mut d, cx);
    limits(&raw, &mut d, cx);
    for (i, l) in raw.threat_intel.into_iter().enumerate() {
        let name = l.name.value.trim().to_string();
        if name.is_empty() || d.threat_intel.iter().any(|(n, _)| *n == name) {
            cx.err(&l.name, "expected a unique, non-empty list name");
        }
        if l.path.trim().is_empty() {
            cx.err_path(
                &format!("detection.threat_intel.{i}.path"),
                "expected a file path",
            );
        }
        d.threat_intel.push((name, PathBuf::from(l.path)));
    }
    d
}
