//! `levee users add|list|remove|set-role` and `levee tokens create|list|revoke`: they
//! write the auth database beside the store ([`crate::auth`]) directly, whether the
//! daemon runs or not (why that is safe is in the auth module's overview). Each change
//! is audited in that database's chain as `cli:<unix user>`.
//!
//! Passwords are prompted for (twice, without echo) on a terminal, or read from the
//! first line of stdin otherwise (for scripts); `--generate` makes one and prints it
//! alone on the last line, as `tokens create` prints its token.

use crate::auth::{AuthDb, Role, secret};
use crate::cli::{TokensCommand, UsersCommand};
use crate::clock::{now_us, rfc3339};
use crate::config::Config;
use anyhow::{Context, bail};
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

fn open(cfg: &Config) -> anyhow::Result<AuthDb> {
    Ok(AuthDb::open(&crate::auth::path_beside(
        &cfg.mitigation.store,
    ))?)
}

fn role(s: &str) -> anyhow::Result<Role> {
    Ok(s.parse::<Role>()?)
}

/// The audited name of whoever runs this command: `cli:<unix user>`.
pub fn cli_actor() -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return "cli:unknown".into();
    };
    let name = std::fs::read_to_string("/etc/passwd").ok().and_then(|p| {
        p.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
        })
    });
    format!("cli:{}", name.unwrap_or_else(|| format!("uid{uid}")))
}

/// Turns terminal echo off (or back on) with stty on /dev/tty.
fn echo(on: bool) {
    if let Ok(tty) = std::fs::File::open("/dev/tty") {
        let _ = std::process::Command::new("stty")
            .arg(if on { "echo" } else { "-echo" })
            .stdin(tty)
            .status();
    }
}

fn prompt(what: &str) -> anyhow::Result<String> {
    eprint!("{what}: ");
    std::io::stderr().flush()?;
    echo(false);
    let mut line = String::new();
    let r = std::io::stdin().lock().read_line(&mut line);
    echo(true);
    eprintln!();
    r?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// The new user's password: generated, prompted for twice, or stdin's first line.
fn password(generate: bool) -> anyhow::Result<(String, bool)> {
    if generate {
        return Ok((secret::new_password()?, true));
    }
    if std::io::stdin().is_terminal() {
        let a = prompt("password")?;
        let b = prompt("again")?;
        if a != b {
            bail!("the passwords differ");
        }
        return Ok((a, false));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    Ok((line.trim_end_matches(['\r', '\n']).to_string(), false))
}

/// `levee users ...`.
pub fn users(cfg: &Config, cmd: &UsersCommand) -> anyhow::Result<ExitCode> {
    let mut db = open(cfg)?;
    let actor = cli_actor();
    match cmd {
        UsersCommand::Add {
            name,
            role: r,
            generate,
        } => {
            let r = role(r)?;
            if !crate::auth::db::valid_name(name) {
                bail!("bad name {name:?}: use 1 to 64 letters, digits, '.', '_' or '-'");
            }
            let (pw, generated) = password(*generate)?;
            let hash = secret::hash_password(&pw)?;
            db.add_user(now_us(), &actor, name, r, &hash)?;
            println!("added user {name} ({r})");
            if generated {
                println!("password (shown once):");
                println!("{pw}");
            }
        }
        UsersCommand::List { json } => {
            let users = db.users()?;
            if *json {
                println!("{}", serde_json::to_string(&users)?);
            } else {
                for u in users {
                    println!(
                        "{:<24} {:<8} sessions {:<3} created {}",
                        u.name,
                        u.role,
                        u.sessions,
                        rfc3339(u.created_us)
                    );
                }
            }
        }
        UsersCommand::Remove { name } => {
            db.remove_user(now_us(), &actor, name)?;
            println!("removed user {name}");
        }
        UsersCommand::SetRole { name, role: r } => {
            let r = role(r)?;
            db.set_role(now_us(), &actor, name, r)?;
            println!("user {name} is now {r}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `levee tokens ...`.
pub fn tokens(cfg: &Config, cmd: &TokensCommand) -> anyhow::Result<ExitCode> {
    let mut db = open(cfg)?;
    let actor = cli_actor();
    match cmd {
        TokensCommand::Create {
            name,
            role: r,
            expires,
        } => {
            let r = role(r)?;
            let now = now_us();
            let expires_us = match expires {
                None => None,
                Some(e) => match crate::auth::expiry(now, e) {
                    Some(us) => Some(us),
                    None => bail!("--expires {e:?}: {}", crate::auth::EXPIRES_RANGE),
                },
            };
            let token = db.create_token(now, &actor, name, r, expires_us)?;
            match expires_us {
                Some(e) => println!("token {name} ({r}), expires {}", rfc3339(e)),
                None => println!("token {name} ({r}), never expires"),
            }
            println!("shown once; only its hash is kept:");
            println!("{token}");
        }
        TokensCommand::List { json } => {
            let tokens = db.tokens()?;
            if *json {
                println!("{}", serde_json::to_string(&tokens)?);
            } else {
                let now = now_us();
                for t in tokens {
                    let exp = match t.expires_us {
                        None => "never expires".to_string(),
                        Some(e) if e <= now => format!("expired {}", rfc3339(e)),
                        Some(e) => format!("expires {}", rfc3339(e)),
                    };
                    println!("{:<24} {:<8} {exp}", t.name, t.role);
                }
            }
        }
        TokensCommand::Revoke { name } => {
            db.revoke_token(now_us(), &actor, name)?;
            println!("revoked token {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
