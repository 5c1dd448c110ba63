//! `levee run` and `levee flows listen`: start ingestion and consume its batches until a
//! signal (or the requested duration) ends it.

use crate::cli::ListenArgs;
use crate::config::{Config, Listener, ListenerKind};
use crate::flows::json::write_record;
use crate::flows::{FlowBatch, Ingest};
use levee_flow::InterfaceCounters;
use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::info;

/// Interfaces whose counters are kept (bounded: agents are not trusted).
const MAX_INTERFACES: usize = 65_536;

/// How the consumer treats records until the detection engine takes them over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sink {
    /// Count only.
    Count,
    /// Print JSON lines to stdout.
    Json,
}

/// `levee run`.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    info!(origin = %cfg.origin, "levee starting");
    let (ingest, rx) = Ingest::start(&cfg)?;
    for (kind, addr) in &ingest.bound {
        info!(kind, %addr, "listener bound");
    }
    consume(ingest, rx, Sink::Count, Duration::from_secs(60), None).await
}

/// `levee flows listen`.
pub async fn listen(mut cfg: Config, args: &ListenArgs) -> anyhow::Result<()> {
    let explicit = [
        (ListenerKind::Sflow, args.sflow),
        (ListenerKind::Netflow, args.netflow),
        (ListenerKind::Ipfix, args.ipfix),
    ];
    if explicit.iter().any(|(_, a)| a.is_some()) {
        let rcvbuf = cfg.listeners.first().map_or(32 << 20, |l| l.receive_buffer);
        cfg.listeners = explicit
            .iter()
            .filter_map(|(kind, a)| {
                a.map(|bind| Listener {
                    kind: *kind,
                    bind,
                    receive_buffer: rcvbuf,
                })
            })
            .collect();
    }
    cfg.mirror.clear();
    let (ingest, rx) = Ingest::start(&cfg)?;
    for (kind, addr) in &ingest.bound {
        eprintln!("levee: listening for {kind} on {addr}");
    }
    let sink = if args.quiet { Sink::Count } else { Sink::Json };
    let every = Duration::from_secs(args.stats_every);
    consume(
        ingest,
        rx,
        sink,
        every,
        args.duration.map(Duration::from_secs),
    )
    .await
}

async fn consume(
    ingest: Ingest,
    mut rx: mpsc::Receiver<FlowBatch>,
    sink: Sink,
    stats_every: Duration,
    duration: Option<Duration>,
) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    let mut line = String::with_capacity(1 << 16);
    let deadline = duration.map(|d| tokio::time::Instant::now() + d);
    let period = if stats_every.is_zero() {
        Duration::from_secs(3600 * 24)
    } else {
        stats_every
    };
    let mut stats = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let mut consumed: u64 = 0;
    // Latest sFlow interface counters per (agent, ifIndex), for the status page to come.
    let mut interfaces: HashMap<(IpAddr, u32), InterfaceCounters> = HashMap::new();
    loop {
        tokio::select! {
            b = rx.recv() => {
                let Some(b) = b else { break };
                consumed += b.records.len() as u64;
                for c in b.counters {
                    if interfaces.len() < MAX_INTERFACES || interfaces.contains_key(&(c.agent, c.if_index)) {
                        interfaces.insert((c.agent, c.if_index), c);
                    }
                }
                if sink == Sink::Json {
                    for r in &b.records {
                        write_record(&mut line, r);
                    }
                    // A closed stdout (`| head`) ends the run quietly.
                    if stdout.write_all(line.as_bytes()).is_err() {
                        break;
                    }
                    line.clear();
                }
            }
            _ = stats.tick(), if !stats_every.is_zero() => {
                eprintln!("levee: consumed {consumed} {}", ingest.counters.render());
            }
            _ = sleep_until(deadline) => break,
            _ = shutdown_signal() => {
                info!("signal received, stopping");
                break;
            }
        }
    }
    let _ = stdout.flush();
    eprintln!("levee: consumed {consumed} {}", ingest.counters.render());
    eprintln!(
        "levee: interface counters known for {} interfaces",
        interfaces.len()
    );
    eprint!("{}", ingest.render_exporters());
    let dropped = ingest.counters.dropped_records.load(Relaxed);
    if dropped > 0 {
        eprintln!("levee: {dropped} records were dropped because the consumer lagged");
    }
    ingest.shutdown().await;
    Ok(())
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
