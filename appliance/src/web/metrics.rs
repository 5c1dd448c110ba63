//! Prometheus `/metrics`: every scrape reads the running stages' own counters (ingest
//! and exporters, detection, the mitigation engine and adapters, BGP peers, RTR),
//! records them through the `metrics` facade and renders them with
//! `metrics-exporter-prometheus`.
//!
//! Per-exporter series are rendered here, not through the recorder, which would keep
//! every label set it ever saw: each scrape shows every configured exporter and the
//! [`MAX_EXPORTER_SERIES`] unconfigured ones seen most recently; the rest are left out
//! and counted in `levee_exporter_series_omitted` (their traffic is still in the
//! `levee_flow_*` totals). Foreign sources show as the listeners' bounded top-N.

use super::{App, mitigation_status};
use crate::mitigation::status::Status;
use crate::rpki::RtrState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use metrics::{counter, gauge};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

pub(super) async fn scrape(
    State(app): State<App>,
    headers: axum::http::HeaderMap,
    method: axum::http::Method,
) -> axum::response::Response {
    // Beyond loopback, a viewer's token (Prometheus: `authorization: {credentials: ...}`).
    if let Err(e) = app
        .gate
        .authorize(&headers, &method, crate::auth::Role::Viewer)
        .await
    {
        return e.into_response();
    }
    let s = &app.sources;
    let i = &s.ingest;
    for (name, v) in [
        ("levee_flow_datagrams_total", &i.datagrams),
        ("levee_flow_records_total", &i.records),
        ("levee_flow_decode_errors_total", &i.decode_errors),
        ("levee_flow_receive_errors_total", &i.receive_errors),
        ("levee_flow_dropped_records_total", &i.dropped_records),
        ("levee_flow_dropped_batches_total", &i.dropped_batches),
        ("levee_mirror_packets_total", &i.mirror_packets),
        ("levee_flow_foreign_datagrams_total", &i.foreign_datagrams),
        ("levee_flow_discarded_records_total", &i.discarded_records),
    ] {
        counter!(name).absolute(v.load(Relaxed));
    }
    let exporters = exporter_metrics(&s.exporters);
    if let Ok(d) = s.detection.lock() {
        counter!("levee_detection_records_total").absolute(d.records);
        counter!("levee_detection_outside_records_total").absolute(d.outside);
        counter!("levee_detection_untracked_records_total").absolute(d.untracked);
        gauge!("levee_detection_tracked_hosts").set(d.tracked as f64);
        counter!("levee_detection_evicted_hosts_total").absolute(d.evicted);
        counter!("levee_detection_displaced_hosts_total").absolute(d.displaced);
        counter!("levee_incidents_started_total").absolute(d.incidents_started);
        counter!("levee_incidents_ended_total").absolute(d.incidents_ended);
        gauge!("levee_incidents_active").set(d.incidents_active as f64);
    }
    let h = &s.history;
    for (name, v) in [
        ("levee_history_seconds_total", &h.seconds),
        ("levee_history_dropped_seconds_total", &*h.dropped_seconds),
        ("levee_history_minutes_written_total", &h.minutes_written),
        ("levee_history_series_written_total", &h.series_written),
        ("levee_history_victims_refused_total", &h.victims_refused),
        ("levee_history_series_refused_total", &h.series_refused),
    ] {
        counter!(name).absolute(v.load(Relaxed));
    }
    gauge!("levee_history_victims").set(h.victims.load(Relaxed) as f64);
    gauge!("levee_history_memory_bytes").set(h.memory_bytes.load(Relaxed) as f64);
    for (result, n) in [
        ("applied", &s.reloads.applied),
        ("refused", &s.reloads.refused),
        ("partial", &s.reloads.partial),
    ] {
        counter!("levee_config_reloads_total", "result" => result).absolute(n.load(Relaxed));
    }
    let a = &app.gate.counters;
    for (result, n) in [
        ("ok", &a.logins),
        ("failed", &a.login_failures),
        ("limited", &a.login_limited),
    ] {
        counter!("levee_web_logins_total", "result" => result).absolute(n.load(Relaxed));
    }
    gauge!("levee_web_event_streams").set(app.streams.open() as f64);
    for (result, n) in [
        ("refused", &app.conns.refused),
        ("timed_out", &app.conns.timed_out),
    ] {
        counter!("levee_web_connections_closed_total", "reason" => result)
            .absolute(n.load(Relaxed));
    }
    for (status, n) in [("401", &a.unauthenticated), ("403", &a.forbidden)] {
        counter!("levee_web_refused_total", "status" => status).absolute(n.load(Relaxed));
    }
    for (result, n) in [("failed", &app.tls.failed), ("refused", &app.tls.refused)] {
        counter!("levee_web_tls_handshakes_total", "result" => result).absolute(n.load(Relaxed));
    }
    let status = mitigation_status(&s.commands).await;
    if let Some(status) = &status {
        mitigation_metrics(status);
    }
    if let Some(sp) = s.speaker.as_ref().and_then(std::sync::Weak::upgrade) {
        for p in sp.status() {
            let l = [("peer", p.name.clone()), ("address", p.address.to_string())];
            let up = p.state == levee_bgp::session::State::Established;
            gauge!("levee_bgp_peer_up", &l).set(if up { 1.0 } else { 0.0 });
            counter!("levee_bgp_peer_established_total", &l).absolute(p.established_count);
            counter!("levee_bgp_peer_updates_in_total", &l).absolute(p.updates_in);
            counter!("levee_bgp_peer_updates_out_total", &l).absolute(p.updates_out);
            gauge!("levee_bgp_peer_routes_sent", &l).set(p.routes_sent as f64);
            gauge!("levee_bgp_peer_routes_pending", &l).set(p.routes_pending as f64);
            gauge!("levee_bgp_peer_routes_received", &l).set(p.routes_received as f64);
            counter!("levee_bgp_peer_routes_unencodable_total", &l).absolute(p.routes_unencodable);
        }
    }
    let mut body = app.prometheus.render() + &exporters;
    if let Some(status) = &status {
        body += &audit_head(&status.audit);
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        body,
    )
        .into_response()
}

/// The audit chain's head as an info-style gauge, written here rather than through the
/// recorder so that only the current head is exposed (the recorder would keep every
/// head it was ever given as a series of its own).
fn audit_head(a: &crate::store::Anchor) -> String {
    format!(
        "# HELP levee_audit_head_info The audit chain's head (the last entry's hash).\n\
         # TYPE levee_audit_head_info gauge\n\
         levee_audit_head_info{{head=\"{}\",entries=\"{}\",keyed=\"{}\"}} 1\n",
        a.head, a.entries, a.keyed
    )
}

/// Unconfigured exporters shown per scrape, most recently seen first.
pub const MAX_EXPORTER_SERIES: usize = 64;

/// One metric family in the Prometheus text format.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    lines: String,
}

impl Family {
    fn new(name: &'static str, kind: &'static str, help: &'static str) -> Family {
        Family {
            name,
            kind,
            help,
            lines: String::new(),
        }
    }

    fn sample(&mut self, labels: &str, v: impl std::fmt::Display) {
        use std::fmt::Write;
        let _ = writeln!(self.lines, "{}{{{labels}}} {v}", self.name);
    }

    fn render(&self, out: &mut String) {
        use std::fmt::Write;
        if self.lines.is_empty() {
            return;
        }
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} {}", self.name, self.kind);
        out.push_str(&self.lines);
        out.push('\n');
    }
}

/// A label value, escaped as the text format asks.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The per-exporter, foreign-source and stream-cache metrics of every listener, capped.
fn exporter_metrics(tables: &[(&'static str, crate::flows::listen::ExporterTable)]) -> String {
    let mut rows = Vec::new();
    let mut foreign = Family::new(
        "levee_flow_foreign_source_datagrams",
        "gauge",
        "Datagrams dropped from a source no exporters: entry covers (top sources per listener; upper bounds).",
    );
    for (kind, table) in tables {
        let Ok(t) = table.lock() else { continue };
        rows.extend(t.exporters.iter().map(|(ip, e)| (*kind, *ip, e.clone())));
        for (ip, n) in &t.foreign_top {
            foreign.sample(&format!("listener=\"{kind}\",source=\"{ip}\""), n);
        }
        let c = t.cache;
        let l = [("listener", kind.to_string())];
        gauge!("levee_flow_streams", &l).set(c.streams as f64);
        gauge!("levee_flow_templates", &l).set(c.templates as f64);
        counter!("levee_flow_streams_evicted_total", &l).absolute(c.streams_evicted);
        counter!("levee_flow_streams_expired_total", &l).absolute(c.streams_expired);
        counter!("levee_flow_exporters_evicted_total", &l).absolute(c.exporters_evicted);
    }
    // Configured exporters first, then the most recently seen.
    rows.sort_by(|a, b| {
        (b.2.name.is_some(), b.2.last_seen_us).cmp(&(a.2.name.is_some(), a.2.last_seen_us))
    });
    let configured = rows.iter().filter(|r| r.2.name.is_some()).count();
    let shown = rows.len().min(configured + MAX_EXPORTER_SERIES);
    let omitted = rows.len() - shown;
    let mut f = [
        Family::new(
            "levee_exporter_datagrams_total",
            "counter",
            "Datagrams received from the exporter.",
        ),
        Family::new(
            "levee_exporter_records_total",
            "counter",
            "Flow records kept from the exporter.",
        ),
        Family::new(
            "levee_exporter_lost_datagrams_total",
            "counter",
            "Datagrams lost in transit, from sequence numbers.",
        ),
        Family::new(
            "levee_exporter_sequence_resets_total",
            "counter",
            "Sequence jumps too large to be loss.",
        ),
        Family::new(
            "levee_exporter_template_misses_total",
            "counter",
            "Data sets skipped for want of a template.",
        ),
        Family::new(
            "levee_exporter_last_seen_seconds",
            "gauge",
            "Receive time of the last datagram (Unix seconds).",
        ),
        Family::new(
            "levee_exporter_decode_errors_total",
            "counter",
            "Decode errors by kind.",
        ),
        Family::new(
            "levee_exporter_discarded_records_total",
            "counter",
            "Records discarded by the exporter's policy, by reason.",
        ),
    ];
    for (kind, ip, e) in &rows[..shown] {
        let mut l = format!("listener=\"{kind}\",exporter=\"{ip}\"");
        if let Some(n) = &e.name {
            l += &format!(",name=\"{}\"", label(n));
        }
        f[0].sample(&l, e.datagrams);
        f[1].sample(&l, e.records);
        f[2].sample(&l, e.lost_datagrams);
        f[3].sample(&l, e.sequence_resets);
        f[4].sample(&l, e.template_misses);
        f[5].sample(&l, Duration::from_micros(e.last_seen_us).as_secs_f64());
        for (k, n) in &e.errors {
            f[6].sample(&format!("{l},kind=\"{k}\""), n);
        }
        for (reason, n) in e.discarded.named() {
            f[7].sample(&format!("{l},reason=\"{reason}\""), n);
        }
    }
    let mut out = String::new();
    for fam in &f {
        fam.render(&mut out);
    }
    foreign.render(&mut out);
    let mut o = Family::new(
        "levee_exporter_series_omitted",
        "gauge",
        "Unconfigured exporters left out of the per-exporter series (beyond the most recent 64).",
    );
    o.lines = format!("levee_exporter_series_omitted {omitted}\n");
    o.render(&mut out);
    out
}

fn mitigation_metrics(s: &Status) {
    gauge!("levee_mitigations_active").set(s.mitigations.len() as f64);
    counter!("levee_audit_entries_total").absolute(s.audit.entries);
    for (kind, n) in s.counters.named() {
        counter!("levee_mitigation_events_total", "kind" => kind).absolute(n);
    }
    for a in &s.adapters {
        let l = [("adapter", a.name.clone())];
        gauge!("levee_adapter_desired_routes", &l).set(a.desired as f64);
        gauge!("levee_adapter_pending_changes", &l).set(a.pending as f64);
        counter!("levee_adapter_applied_total", &l).absolute(a.applied);
        counter!("levee_adapter_failures_total", &l).absolute(a.failures);
        counter!("levee_adapter_reconciliations_total", &l).absolute(a.reconciled);
        counter!("levee_adapter_daemon_restarts_total", &l).absolute(a.restarts);
        gauge!("levee_adapter_failing", &l).set(if a.last_error.is_none() { 0.0 } else { 1.0 });
    }
    if let Some(r) = &s.rpki {
        for state in RtrState::ALL {
            let on = r.state == state;
            gauge!("levee_rtr_state", "state" => state.as_str()).set(if on { 1.0 } else { 0.0 });
        }
        gauge!("levee_rtr_vrps").set(r.vrps as f64);
        counter!("levee_rtr_updates_total").absolute(r.updates);
        counter!("levee_rtr_failures_total").absolute(r.failures);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::listen::{ExporterTable, ListenerStatus};
    use levee_flow::ExporterStats;
    use std::net::IpAddr;
    use std::sync::{Arc, Mutex};

    #[test]
    fn per_exporter_series_are_capped_configured_ones_always_shown() {
        let mut status = ListenerStatus::default();
        for i in 0..200u32 {
            let stats = ExporterStats {
                datagrams: 1,
                last_seen_us: u64::from(i) + 1,
                // The two oldest are configured: shown however stale.
                name: (i < 2).then(|| Arc::from(format!("edge{i}").as_str())),
                ..ExporterStats::default()
            };
            status.exporters.insert(
                IpAddr::from(std::net::Ipv4Addr::from(0xc633_6400 + i)),
                stats,
            );
        }
        let table: ExporterTable = Arc::new(Mutex::new(status));
        let text = exporter_metrics(&[("netflow", table)]);
        let series = text
            .lines()
            .filter(|l| l.starts_with("levee_exporter_datagrams_total{"))
            .count();
        assert_eq!(series, 2 + MAX_EXPORTER_SERIES);
        assert!(text.contains("exporter=\"198.51.100.0\",name=\"edge0\""));
        assert!(text.contains("exporter=\"198.51.100.199\""), "most recent");
        assert!(
            !text.contains("exporter=\"198.51.100.2\""),
            "stale, unconfigured"
        );
        assert!(text.contains("levee_exporter_series_omitted 134\n"));
        assert!(text.contains("# TYPE levee_exporter_datagrams_total counter\n"));
    }
}
