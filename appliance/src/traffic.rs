//! `levee traffic`: a protected network's traffic history from the store, with the
//! daemon running or not: per-minute rates (averages, the busiest second, per
//! protocol) over the last hour by default, as a table or as JSON.
//!
//! The last hour at one-second resolution lives in the daemon's memory; this command
//! reads what the daemon wrote: a minute is written when it is over and at every stop.
//! `--incident ID` prints the per-second series stored with an incident instead.

use crate::cli::TrafficArgs;
use crate::clock::{now_us, rfc3339};
use crate::config::Config;
use crate::history::{Series, Sources, query};
use crate::human::si;
use crate::store::Store;
use crate::yaml::units::Duration;
use anyhow::{anyhow, bail};
use std::process::ExitCode;

/// `levee traffic ...`.
pub fn run(cfg: &Config, args: &TrafficArgs) -> anyhow::Result<ExitCode> {
    let path = args
        .db
        .clone()
        .unwrap_or_else(|| cfg.mitigation.store.clone());
    if !path.exists() {
        bail!(
            "store {}: no such file (has levee run written it yet?)",
            path.display()
        );
    }
    if let Some(id) = args.incident {
        return incident(&Store::open_read(&path)?, id, args.json);
    }
    let since = duration("--since", &args.since)?;
    let step = args
        .step
        .as_deref()
        .map(|s| duration("--step", s))
        .transpose()?
        .map(|us| us / 1_000_000);
    let store = Store::open_read(&path)?;
    let to_s = now_us() / 1_000_000 + 1;
    let from_s = to_s.saturating_sub(since / 1_000_000).min(to_s - 1);
    let networks = match &args.network {
        Some(n) => vec![n.clone()],
        None => {
            let mut known = store.traffic_networks()?;
            for n in &cfg.protected_networks {
                if !known.contains(&n.name) {
                    known.push(n.name.clone());
                }
            }
            known
        }
    };
    let src = Sources {
        ring: None,
        store: Some(&store),
    };
    let mut all = Vec::new();
    for n in &networks {
        match query(src, n, from_s, to_s, step) {
            Ok(s) => all.push(s),
            // Configured but nothing stored yet: an empty series, unless asked by name.
            Err(crate::history::QueryError::UnknownNetwork(_)) if args.network.is_none() => all
                .push(Series {
                    network: n.clone(),
                    from: from_s,
                    to: to_s,
                    step: step.unwrap_or(60).max(60),
                    resolution: crate::history::query::Resolution::Minute,
                    points: Vec::new(),
                }),
            Err(e) => bail!("{e}"),
        }
    }
    if args.json {
        let doc = serde_json::json!({ "networks": all });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else if all.is_empty() {
        println!("no traffic history: no protected networks configured or stored");
    } else {
        for s in &all {
            print_table(s);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `levee traffic --incident ID`: the series stored with the incident.
fn incident(store: &Store, id: u64, json: bool) -> anyhow::Result<ExitCode> {
    let Some(s) = store.incident_series(id)? else {
        bail!("no traffic series stored for incident {id}");
    };
    if json {
        let doc = serde_json::json!({
            "incident": s.incident,
            "victim": s.victim,
            "network": s.network,
            "start": s.start_s,
            "step": s.step_s,
            "points": s.points,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "incident {id}: {} in {}, {} points of {} s",
        s.victim,
        s.network,
        s.points.len(),
        s.step_s
    );
    println!("  {:<20} {:>9} {:>9}", "time", "pps", "bps");
    for (k, (pps, bps)) in s.points.iter().enumerate() {
        let t = rfc3339((s.start_s + k as u64 * u64::from(s.step_s)) * 1_000_000);
        println!(
            "  {:<20} {:>9} {:>9}",
            t.get(..19).unwrap_or(&t),
            si(*pps),
            si(*bps)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn duration(flag: &str, s: &str) -> anyhow::Result<u64> {
    match Duration::parse(s) {
        Some(us) if us >= 1_000_000 => Ok(us),
        _ => Err(anyhow!(
            "{flag} {s:?}: expected a duration of at least 1s, such as 90s, 10m, 6h or 7d"
        )),
    }
}

fn print_table(s: &Series) {
    println!(
        "{}: towards its prefixes (out: from them to outside every protected network), \
         {} points of {} s ({} resolution)",
        s.network,
        s.points.len(),
        s.step,
        match s.resolution {
            crate::history::query::Resolution::Second => "second",
            crate::history::query::Resolution::Minute => "minute",
        }
    );
    if s.points.is_empty() {
        println!("  no traffic stored in this range");
        return;
    }
    println!(
        "  {:<20} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "time",
        "pps",
        "bps",
        "peak pps",
        "peak bps",
        "tcp pps",
        "udp pps",
        "icmp pps",
        "other pps",
        "out pps",
        "out bps"
    );
    for p in &s.points {
        let t = rfc3339(p.time * 1_000_000);
        println!(
            "  {:<20} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            t.get(..19).unwrap_or(&t),
            si(p.pps),
            si(p.bps),
            si(p.peak_pps),
            si(p.peak_bps),
            si(p.protocols.tcp.pps),
            si(p.protocols.udp.pps),
            si(p.protocols.icmp.pps),
            si(p.protocols.other.pps),
            si(p.out.pps),
            si(p.out.bps),
        );
    }
}
