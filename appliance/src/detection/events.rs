//! Incident events as JSON lines and as one-line summaries.

use crate::clock::{Timestamp, rfc3339};
use crate::human::si;
use levee_detect::policy::Reason;
use levee_detect::{Event, Victim};
use serde_json::{Value, json};

/// What fired, as events and logs name it: `baseline`, `warmup` or `hard_<scope>`.
pub fn reason(r: Reason) -> String {
    match r {
        Reason::Baseline => "baseline".to_string(),
        Reason::Warmup => "warmup".to_string(),
        Reason::Hard(s) => format!("hard_{}", s.as_str()),
    }
}

/// The event as one JSON object.
pub fn to_json(e: &Event) -> Value {
    let (victim, scope) = match &e.victim {
        Victim::Host(ip) => (ip.to_string(), "host"),
        Victim::Network(n) => (n.clone(), "network"),
    };
    let reason = reason(e.trigger.reason);
    let top = |v: Vec<Value>| Value::Array(v);
    json!({
        "event": e.kind.as_str(),
        "id": e.id,
        "time": rfc3339(e.time_us),
        "start": rfc3339(e.start_us),
        "victim": victim,
        "scope": scope,
        "network": e.network,
        "family": e.family.as_str(),
        "vector": e.vector,
        "confidence": e.confidence,
        "trigger": {
            "reason": reason,
            "metric": e.trigger.metric.as_str(),
            "value": e.trigger.value,
            "threshold": e.trigger.threshold,
        },
        "pps": e.rate.pps,
        "bps": e.rate.bps,
        "flows": e.rate.flows,
        "peak_pps": e.peak.pps,
        "peak_bps": e.peak.bps,
        "distinct_sources": e.distinct_sources,
        "botnet": e.botnet,
        "spoofed": e.spoofed,
        "top_sources": top(e.top_sources.iter().map(|(k, s)| json!({"ip": k.to_string(), "share": s})).collect()),
        "top_src_ports": top(e.top_src_ports.iter().map(|(k, s)| json!({"port": k, "share": s})).collect()),
        "top_dst_ports": top(e.top_dst_ports.iter().map(|(k, s)| json!({"port": k, "share": s})).collect()),
        "top_packet_lengths": top(e.top_packet_lengths.iter().map(|(k, s)| json!({"length": k, "share": s})).collect()),
        "threat_intel": top(e.threat_intel.iter().map(|(ip, list)| json!({"ip": ip.to_string(), "list": list})).collect()),
        "threat_intel_packets": e.threat_intel_packets,
    })
}

/// Entries kept of each list in an incident's stored evidence.
pub const EVIDENCE_LIST: usize = 20;

/// What an incident's event says about the attack, as stored with the incident and
/// answered by `GET /api/v1/incidents/{id}`: classification, the trigger, rates, and the
/// top sources, ports, lengths and threat-intelligence matches (each list capped at
/// [`EVIDENCE_LIST`]).
pub fn evidence(e: &Event) -> Value {
    fn list<T>(v: &[T], f: impl Fn(&T) -> Value) -> Value {
        Value::Array(v.iter().take(EVIDENCE_LIST).map(f).collect())
    }
    json!({
        "family": e.family.as_str(),
        "vector": e.vector,
        "confidence": e.confidence,
        "trigger": {
            "reason": reason(e.trigger.reason),
            "metric": e.trigger.metric.as_str(),
            "value": e.trigger.value,
            "threshold": e.trigger.threshold,
        },
        "as_of": rfc3339(e.time_us),
        "rate": {"pps": e.rate.pps, "bps": e.rate.bps, "flows": e.rate.flows},
        "peak": {"pps": e.peak.pps, "bps": e.peak.bps, "flows": e.peak.flows},
        "distinct_sources": e.distinct_sources,
        "botnet": e.botnet,
        "spoofed": e.spoofed,
        "top_sources": list(&e.top_sources, |(k, s)| json!({"address": k.to_string(), "share": s})),
        "top_src_ports": list(&e.top_src_ports, |(k, s)| json!({"port": k, "share": s})),
        "top_dst_ports": list(&e.top_dst_ports, |(k, s)| json!({"port": k, "share": s})),
        "top_packet_lengths": list(&e.top_packet_lengths, |(k, s)| json!({"length": k, "share": s})),
        "threat_intel": list(&e.threat_intel, |(ip, l)| json!({"address": ip.to_string(), "list": l})),
        "threat_intel_matches": e.threat_intel.len(),
        "threat_intel_packets": e.threat_intel_packets,
    })
}

/// One line for a finished incident (`levee replay --summary`): the end event carries
/// the final classification and the peaks.
pub fn summary_line(end: &Event) -> String {
    let secs = Timestamp::from_micros(end.time_us)
        .since(Timestamp::from_micros(end.start_us))
        .as_secs_f64();
    let sources: Vec<String> = end
        .top_sources
        .iter()
        .take(3)
        .map(|(ip, s)| format!("{ip} {:.0}%", s * 100.0))
        .collect();
    format!(
        "#{id} {start} {victim} {family}/{vector} confidence {conf} peak {pps}pps {bps}bps \
         for {secs:.1}s, {src} sources{botnet}{spoofed}; top: {top}",
        id = end.id,
        start = rfc3339(end.start_us),
        victim = end.victim,
        family = end.family.as_str(),
        vector = end.vector,
        conf = end.confidence,
        pps = si(end.peak.pps),
        bps = si(end.peak.bps),
        src = end.distinct_sources,
        botnet = if end.botnet { " (botnet)" } else { "" },
        spoofed = if end.spoofed { " (spoofed)" } else { "" },
        top = sources.join(", "),
    )
}
