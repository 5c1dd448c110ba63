//! `levee bgp`: the BGP speaker alone, for labs and interop tests. Peers come from the
//! config's `bgp` section, routes from `--announce` and from commands on standard
//! input; events and answers go to standard output as JSON lines.
//!
//! Commands (one per line):
//! ```text
//! announce ROUTE      e.g. announce flow destination 192.0.2.1/32 protocol udp then discard
//! withdraw ROUTE      the same route text (attributes may be left out)
//! status              every peer's state and counters
//! routes              what levee announces (the Loc-RIB)
//! reset PEER          drop the session with a Cease and let it come back
//! ```
//! SIGINT or SIGTERM (or `--duration`) ends the sessions as the config's
//! `bgp.shutdown` policy says (or `--shutdown`).

use crate::cli::BgpArgs;
use crate::config::Config;
use crate::config::bgp::shutdown_policy;
use anyhow::Context;
use levee_bgp::message::Notification;
use levee_bgp::rib::{Nlri, RouteText};
use levee_bgp::speaker::{Event, PeerStatus, Speaker};
use serde_json::{Value, json};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

/// How long shutdown waits for peers to take the withdrawals.
pub(crate) const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

fn print(v: &Value) {
    let mut out = std::io::stdout().lock();
    // A closed stdout only loses the report; the speaker keeps running.
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn notification(n: &Option<Notification>) -> Value {
    match n {
        None => Value::Null,
        Some(n) => json!({
            "code": n.code,
            "subcode": n.subcode,
            "text": n.to_string(),
            "message": n.shutdown_message(),
        }),
    }
}

/// A peer's status as JSON.
pub fn status_json(s: &PeerStatus) -> Value {
    json!({
        "peer": s.name,
        "address": s.address.to_string(),
        "port": s.port,
        "remote_as": s.remote_as,
        "state": format!("{:?}", s.state),
        "uptime_s": s.uptime().map(|d| d.as_secs()),
        "established_count": s.established_count,
        "families": s.families.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
        "messages_in": s.messages_in,
        "messages_out": s.messages_out,
        "updates_in": s.updates_in,
        "updates_out": s.updates_out,
        "routes_sent": s.routes_sent,
        "routes_pending": s.routes_pending,
        "routes_received": s.routes_received,
        "routes_rejected": s.routes_rejected,
        "routes_unencodable": s.routes_unencodable,
        "last_error": s.last_error,
        "last_notification_sent": notification(&s.last_notification_sent),
        "last_notification_received": notification(&s.last_notification_received),
    })
}

fn event_json(e: &Event) -> Value {
    match e {
        Event::State { peer, state } => {
            json!({"event": "state", "peer": peer, "state": format!("{state:?}")})
        }
        Event::Established {
            peer,
            families,
            routes,
        } => json!({
            "event": "established",
            "peer": peer,
            "families": families.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
            "routes": routes,
        }),
        Event::Down { peer, reason } => json!({"event": "down", "peer": peer, "reason": reason}),
        Event::Sent {
            peer,
            announced,
            withdrawn,
        } => json!({"event": "sent", "peer": peer, "announced": announced, "withdrawn": withdrawn}),
        Event::UnknownPeer { from } => json!({"event": "unknown_peer", "from": from.to_string()}),
    }
}

/// Parses a route given on the command line or standard input.
fn route(text: &str) -> Result<RouteText, String> {
    text.parse::<RouteText>().map_err(|e| e.to_string())
}

/// Runs one command line from standard input; returns the answer.
async fn command(speaker: &Speaker, line: &str) -> Value {
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    let rest = rest.trim();
    let answer = |r: Result<Value, String>| match r {
        Ok(v) => json!({"event": "ok", "command": line, "result": v}),
        Err(e) => json!({"event": "error", "command": line, "error": e}),
    };
    match verb {
        "announce" => match route(rest) {
            Ok(r) => {
                let text = r.to_string();
                speaker.announce(r.nlri, r.attrs).await;
                answer(Ok(json!(text)))
            }
            Err(e) => answer(Err(e)),
        },
        "withdraw" => match route(rest) {
            Ok(r) => {
                let text = r.nlri.to_string();
                speaker.withdraw(r.nlri).await;
                answer(Ok(json!(text)))
            }
            Err(e) => answer(Err(e)),
        },
        "status" => answer(Ok(Value::Array(
            speaker.status().iter().map(status_json).collect(),
        ))),
        "routes" => answer(Ok(Value::Array(
            speaker
                .routes()
                .into_iter()
                .map(|(n, a)| {
                    json!(
                        RouteText {
                            nlri: n,
                            attrs: Arc::unwrap_or_clone(a)
                        }
                        .to_string()
                    )
                })
                .collect(),
        ))),
        "reset" if !rest.is_empty() => {
            if speaker.reset(rest, "reset by operator").await {
                answer(Ok(json!(rest)))
            } else {
                answer(Err(format!("no peer named {rest:?}")))
            }
        }
        "" => Value::Null,
        _ => answer(Err(
            "commands: announce ROUTE, withdraw ROUTE, status, routes, reset PEER".into(),
        )),
    }
}

/// `levee bgp`.
pub async fn run(cfg: Config, args: &BgpArgs) -> anyhow::Result<()> {
    let Some(mut bgp) = cfg.bgp.clone() else {
        anyhow::bail!(
            "{} has no bgp section: add bgp.local_as, bgp.router_id and bgp.peers",
            cfg.origin
        );
    };
    if !args.peer.is_empty() {
        for name in &args.peer {
            if !bgp.speaker.peers.iter().any(|p| &p.name == name) {
                anyhow::bail!("no peer named {name:?} in {}", cfg.origin);
            }
        }
        bgp.speaker.peers.retain(|p| args.peer.contains(&p.name));
    }
    if bgp.speaker.peers.is_empty() {
        anyhow::bail!("{} has no BGP peers", cfg.origin);
    }
    if let Some(l) = args.listen {
        bgp.speaker.listen = Some(l);
    }
    // Parse every route before starting anything.
    let mut initial: Vec<(Nlri, Arc<levee_bgp::rib::Attrs>)> = Vec::new();
    for text in &args.announce {
        let r = route(text).map_err(|e| anyhow::anyhow!("--announce {text:?}: {e}"))?;
        initial.push((r.nlri, Arc::new(r.attrs)));
    }
    let policy = match args.shutdown.as_deref() {
        None => bgp.shutdown.clone(),
        Some(name) => shutdown_policy(name, &bgp.shutdown_message).ok_or_else(|| {
            anyhow::anyhow!("--shutdown {name:?}: expected withdraw, cease or keep")
        })?,
    };
    let speaker = Speaker::start(bgp.speaker)
        .await
        .context("starting the BGP speaker")?;
    let mut events = speaker.subscribe();
    if let Some(a) = speaker.listen_addr() {
        print(&json!({"event": "listening", "address": a.to_string()}));
    }
    speaker
        .apply(initial.into_iter().map(|(n, a)| (n, Some(a))).collect())
        .await;
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    let stop = crate::signals::shutdown_signal();
    tokio::pin!(stop);
    let deadline = args
        .duration
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    loop {
        tokio::select! {
            e = events.recv() => match e {
                Ok(e) => print(&event_json(&e)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    print(&json!({"event": "lagged", "missed": n}))
                }
                Err(_) => break,
            },
            line = stdin.next_line(), if stdin_open => match line {
                Ok(Some(l)) => {
                    let v = command(&speaker, l.trim()).await;
                    if !v.is_null() {
                        print(&v);
                    }
                }
                // End of input: keep the sessions until a signal.
                _ => stdin_open = false,
            },
            _ = &mut stop => break,
            _ = crate::signals::sleep_until(deadline) => break,
        }
    }
    tracing::info!("stopping the BGP speaker");
    let status: Vec<Value> = speaker.status().iter().map(status_json).collect();
    speaker.shutdown(policy, SHUTDOWN_WAIT).await;
    print(&json!({"event": "stopped", "status": status}));
    Ok(())
}
