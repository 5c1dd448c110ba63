//! The operator's commands: `levee mitigate add|withdraw|list` and `levee reload`
//! (clients of the running daemon's control socket) and `levee audit verify|show`
//! (readers of the store).

use crate::adapters::AdapterStatus;
use crate::cli::{AuditCommand, MitigateCommand};
use crate::clock::Timestamp;
use crate::clock::rfc3339;
use crate::config::Config;
use crate::config::units::Duration;
use crate::control;
use crate::mitigation::status::{MitigationView, Status};
use crate::store::Store;
use crate::store::audit::Verdict;
use anyhow::{Context, bail};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

/// `levee reload`: prints what the daemon applied, what needs a restart and what
/// failed; exit 1 when the config was refused or a change failed.
pub async fn reload(socket: &std::path::Path, json_out: bool) -> anyhow::Result<ExitCode> {
    let answer = control::call(socket, json!({"op": "reload"})).await?;
    if json_out {
        println!("{answer}");
    }
    if answer["ok"] != json!(true) {
        if !json_out {
            eprintln!("levee: {}", answer["error"].as_str().unwrap_or("refused"));
        }
        return Ok(ExitCode::from(1));
    }
    let report: control::ReloadReport = serde_json::from_value(answer)
        .context("the daemon's reload answer is not what this levee expects")?;
    if !json_out {
        print!("{}", reload_text(&report));
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A reload's report for people.
fn reload_text(r: &control::ReloadReport) -> String {
    let mut out = format!("reloaded {}\n", r.origin);
    if r.applied.is_empty() && r.restart.is_empty() && r.failed.is_empty() {
        out.push_str("no change\n");
    }
    for (head, lines) in [
        ("applied", &r.applied),
        ("needs a restart", &r.restart),
        ("failed", &r.failed),
    ] {
        for l in lines {
            out.push_str(&format!("  {head}: {l}\n"));
        }
    }
    out
}

/// `levee mitigate ...`: prints the answer; exit 1 when the daemon refuses.
pub async fn mitigate(socket: &std::path::Path, cmd: &MitigateCommand) -> anyhow::Result<ExitCode> {
    let (path, request, json_out) = match cmd {
        MitigateCommand::Add(a) => {
            let mut req = json!({"op": "add"});
            if let Some(level) = a.level {
                let ip: std::net::IpAddr = a
                    .target
                    .parse()
                    .with_context(|| format!("{:?}: --level needs an address", a.target))?;
                req["victim"] = json!(ip);
                req["level"] = json!(level);
            } else {
                req["route"] = json!(a.target);
            }
            if let Some(t) = &a.ttl {
                let Some(us) =
                    Duration::parse(t).filter(|us| levee_mitigate::settings::valid_ttl_us(*us))
                else {
                    bail!(
                        "--ttl {t:?}: expected a duration from 1s to 30 days, such as 600, 10m \
                         or 1h"
                    );
                };
                req["ttl"] = json!(us / 1_000_000);
            }
            (socket.to_path_buf(), req, false)
        }
        MitigateCommand::Withdraw { id, .. } => (
            socket.to_path_buf(),
            json!({"op": "withdraw", "id": id}),
            false,
        ),
        MitigateCommand::List { json, .. } => (socket.to_path_buf(), json!({"op": "list"}), *json),
    };
    let answer = control::call(&path, request).await?;
    if answer["ok"] != json!(true) {
        eprintln!("levee: {}", answer["error"].as_str().unwrap_or("refused"));
        return Ok(ExitCode::from(1));
    }
    if json_out {
        println!("{answer}");
    } else if matches!(cmd, MitigateCommand::List { .. }) {
        let status: Status = serde_json::from_value(answer)
            .context("the daemon's list is not what this levee expects")?;
        print!("{}", table(&status));
    } else {
        let ids: Vec<String> = answer["ids"]
            .as_array()
            .map(|a| a.iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        let verb = if matches!(cmd, MitigateCommand::Withdraw { .. }) {
            "withdrawn"
        } else {
            "active"
        };
        println!("mitigation {} {verb}", ids.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

/// `levee mitigate list` as a table, followed by what `--json` also carries: each
/// adapter's state, the engine's counters and the RPKI gate.
fn table(st: &Status) -> String {
    let now = Timestamp::now();
    let mut s = String::new();
    if st.dry_run {
        s += "dry run: nothing is announced\n";
    }
    s += &format!(
        "{:<6} {:<5} {:<7} {:<20} {:>8}  {:<18} ROUTE\n",
        "ID", "LEVEL", "ORIGIN", "VICTIM", "EXPIRES", "ADAPTERS"
    );
    for m in &st.mitigations {
        s += &mitigation_row(m, now);
    }
    for a in &st.adapters {
        s += &adapter_line(a);
    }
    let counters: Vec<String> = st
        .counters
        .named()
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    s += &format!("counters: {}\n", counters.join(", "));
    s += &format!(
        "audit: {} entries, head {}{}\n",
        st.audit.entries,
        st.audit.head,
        if st.audit.keyed { " (HMAC)" } else { "" }
    );
    if let Some(r) = &st.rpki {
        s += &format!(
            "rpki: {}, cache {}, {} VRPs, {} updates, {} failures{}\n",
            r.state.as_str(),
            r.cache.as_deref().unwrap_or("-"),
            r.vrps,
            r.updates,
            r.failures,
            r.last_error
                .as_deref()
                .map(|e| format!(", last error: {e}"))
                .unwrap_or_default(),
        );
    }
    s
}

/// One mitigation: its levels (a route given as text shows the levels its kind counts
/// as: L1/L2 for FlowSpec, L3 for a blackhole, L4 otherwise).
fn mitigation_row(m: &MitigationView, now: Timestamp) -> String {
    let left = Timestamp::from_micros(m.expires_us).since(now).as_secs();
    let adapters: Vec<String> = m
        .adapters
        .iter()
        .map(|a| format!("{}:{}", a.adapter, a.state))
        .collect();
    let levels: Vec<String> = m.levels.iter().map(|l| l.to_uppercase()).collect();
    let or_dash = |v: Vec<String>, sep: &str| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(sep)
        }
    };
    format!(
        "{:<6} {:<5} {:<7} {:<20} {:>7}s  {:<18} {}\n",
        m.id,
        or_dash(levels, "/"),
        m.origin.as_str(),
        m.victim,
        left,
        or_dash(adapters, ","),
        m.route,
    )
}

/// One adapter, with its state.
fn adapter_line(a: &AdapterStatus) -> String {
    format!(
        "adapter {} ({}): {}, {} routes, {} applied, {} pending, {} failures, \
         {} reconciliations, {} daemon restarts{} ({})\n",
        a.name,
        a.levels,
        a.state(),
        a.desired,
        a.applied,
        a.pending,
        a.failures,
        a.reconciled,
        a.restarts,
        a.last_error
            .as_deref()
            .map(|e| format!(", last error: {e}"))
            .unwrap_or_default(),
        a.backend,
    )
}

/// `levee audit ...`.
pub fn audit(cfg: &Config, cmd: &AuditCommand) -> anyhow::Result<ExitCode> {
    let db = |d: &Option<PathBuf>| d.clone().unwrap_or_else(|| cfg.mitigation.store.clone());
    match cmd {
        AuditCommand::Verify {
            db: d,
            expect_head,
            expect_entries,
            hmac_key_file,
        } => {
            let path = db(d);
            if !path.exists() {
                bail!("store {}: no such file", path.display());
            }
            let key = match hmac_key_file {
                Some(f) => Some(
                    crate::config::mitigation::read_key(f)
                        .map_err(|why| anyhow::anyhow!("--hmac-key-file: expected {why}"))?,
                ),
                None => cfg.mitigation.audit_key.clone(),
            };
            let store = Store::open_read(&path)?.with_key(key);
            let verdict = store.verify()?;
            let shown = path.display();
            if !matches!(verdict, Verdict::Intact { .. }) {
                println!("audit log {shown}: {}", verdict.describe());
                return Ok(ExitCode::from(1));
            }
            if let Some(why) = store.check_anchor(expect_head.as_deref(), *expect_entries)? {
                println!("audit log {shown}: BROKEN: does not hold the anchor: {why}");
                return Ok(ExitCode::from(1));
            }
            let anchored = if expect_head.is_some() || expect_entries.is_some() {
                ", holds the anchor"
            } else {
                ""
            };
            println!("audit log {shown}: {}{anchored}", verdict.describe());
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Show { last, db: d } => {
            let path = db(d);
            if !path.exists() {
                bail!("store {}: no such file", path.display());
            }
            for e in Store::open_read(&path)?.audit_tail(*last)? {
                println!(
                    "{:>6} {} {:<9} {:<16} {:<14} {}",
                    e.seq,
                    rfc3339(e.time_us),
                    e.actor,
                    e.action,
                    e.subject,
                    e.detail
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
