//! The local web endpoint (axum): Prometheus `/metrics` for now; the status page comes
//! later. Every scrape reads the running stages' own counters (ingest and exporters,
//! detection, the mitigation engine and adapters, BGP peers, RTR), records them through
//! the `metrics` facade and renders them with `metrics-exporter-prometheus`.
//!
//! Bad requests get axum's 404/405; nothing here writes anything.

use crate::flows::IngestCounters;
use crate::mitigation::service::{Command, Request};
use crate::mitigation::status::{Answer, Status};
use crate::rpki::RtrState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use levee_bgp::speaker::Speaker;
use metrics::{counter, gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// What a scrape reads.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Ingest counters over all inputs.
    pub ingest: Arc<IngestCounters>,
    /// Per-exporter tables, one per listener (with the listener's kind).
    pub exporters: Vec<(&'static str, crate::flows::listen::ExporterTable)>,
    /// The detection engine's latest counters.
    pub detection: Arc<Mutex<levee_detect::engine::EngineStats>>,
    /// The mitigation task (asked for its list: counters, adapters, RTR).
    pub commands: mpsc::Sender<Command>,
    /// The BGP speaker (weak: the daemon unwraps it at shutdown).
    pub speaker: Option<std::sync::Weak<Speaker>>,
}

#[derive(Clone)]
struct App {
    sources: Sources,
    prometheus: PrometheusHandle,
}

/// The running endpoint.
#[derive(Debug)]
pub struct Web {
    /// The bound address.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Web {
    /// Binds `listen` and serves. The `metrics` recorder is process-wide: one endpoint
    /// per process.
    pub async fn start(listen: SocketAddr, sources: Sources) -> anyhow::Result<Web> {
        let recorder = PrometheusBuilder::new().build_recorder();
        let prometheus = recorder.handle();
        metrics::set_global_recorder(recorder)
            .map_err(|e| anyhow::anyhow!("metrics recorder: {e}"))?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen} (web): {e}"))?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new()
            .route("/metrics", axum::routing::get(scrape))
            .with_state(App {
                sources,
                prometheus,
            });
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "web endpoint stopped");
            }
        });
        Ok(Web { addr, task })
    }

    /// Stops serving.
    pub fn stop(self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("App")
    }
}

async fn scrape(State(app): State<App>) -> impl IntoResponse {
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
    ] {
        counter!(name).absolute(v.load(Relaxed));
    }
    for (kind, table) in &s.exporters {
        let Ok(t) = table.lock() else { continue };
        for (ip, e) in t.iter() {
            let l = [("listener", kind.to_string()), ("exporter", ip.to_string())];
            counter!("levee_exporter_datagrams_total", &l).absolute(e.datagrams);
            counter!("levee_exporter_records_total", &l).absolute(e.records);
            counter!("levee_exporter_lost_datagrams_total", &l).absolute(e.lost_datagrams);
            counter!("levee_exporter_sequence_resets_total", &l).absolute(e.sequence_resets);
            counter!("levee_exporter_template_misses_total", &l).absolute(e.template_misses);
            gauge!("levee_exporter_last_seen_seconds", &l)
                .set(Duration::from_micros(e.last_seen_us).as_secs_f64());
            for (kind_, n) in &e.errors {
                let mut le = l.to_vec();
                le.push(("kind", kind_.to_string()));
                counter!("levee_exporter_decode_errors_total", &le).absolute(*n);
            }
        }
    }
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
    if let Some(status) = mitigation_status(&s.commands).await {
        mitigation_metrics(&status);
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
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.prometheus.render(),
    )
}

/// The mitigation service's state.
async fn mitigation_status(commands: &mpsc::Sender<Command>) -> Option<Status> {
    let (reply, rx) = oneshot::channel();
    commands
        .send(Command {
            request: Request::List,
            reply,
        })
        .await
        .ok()?;
    match tokio::time::timeout(std::time::Duration::from_secs(5), rx).await {
        Ok(Ok(Ok(Answer::Status(s)))) => Some(*s),
        _ => None,
    }
}

fn mitigation_metrics(s: &Status) {
    gauge!("levee_mitigations_active").set(s.mitigations.len() as f64);
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
