//! Command dispatch: what `main` does with the parsed command line.

use crate::cli::{Cli, Command, FlowsCommand};
use crate::config::Config;
use crate::{daemon, detection, flows, speaker};
use anyhow::Context;
use clap::Parser;
use std::process::ExitCode;

/// Parses the command line, runs the command, and returns the process exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    match dispatch(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("levee: {}", chain(&e));
            ExitCode::from(1)
        }
    }
}

fn dispatch(cli: &Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Check => {
            // The same file `run` would use: the one given, else the default path, else
            // the embedded defaults.
            match Config::load_default_or(cli.config.as_deref()) {
                Ok(cfg) => {
                    // What `run` reads besides the file: the threat-intel lists.
                    if let Err(e) = detection::load_threat_intel(&cfg.detection.threat_intel) {
                        eprintln!("{}: detection.threat_intel: {e}", cfg.origin);
                        return Ok(ExitCode::from(1));
                    }
                    print!("{}", cfg.summary());
                    Ok(ExitCode::SUCCESS)
                }
                Err(errors) => {
                    eprintln!("{errors}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Run(args) => {
            let cfg = load(cli)?;
            let rt = runtime()?;
            let r = rt.block_on(daemon::run(cfg, args));
            // Peer and control tasks may still be winding down: do not wait for them.
            rt.shutdown_background();
            r?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Flows(FlowsCommand::Listen(args)) => {
            let cfg = load(cli)?;
            runtime()?.block_on(daemon::listen(cfg, args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay(args) => replay(cli, args),
        Command::Mitigate(cmd) => {
            // With --socket the config is not needed (it may be the broken one the
            // daemon refused to reload).
            let socket = match cmd.socket() {
                Some(s) => s.clone(),
                None => load(cli)?.mitigation.control_socket,
            };
            runtime()?.block_on(crate::operator::mitigate(&socket, cmd))
        }
        Command::Users(cmd) => crate::accounts::users(&load(cli)?, cmd),
        Command::Tokens(cmd) => crate::accounts::tokens(&load(cli)?, cmd),
        Command::Audit(cmd) => crate::operator::audit(&load(cli)?, cmd),
        Command::Traffic(args) => crate::traffic::run(&load(cli)?, args),
        Command::Reload { json, socket } => {
            // With --socket the config is not read here: the daemon reads it and
            // answers with its errors.
            let socket = match &socket.socket {
                Some(s) => s.clone(),
                None => load(cli)?.mitigation.control_socket,
            };
            runtime()?.block_on(crate::operator::reload(&socket, *json))
        }
        Command::Bgp(args) => {
            let cfg = load(cli)?;
            let rt = runtime()?;
            let r = rt.block_on(speaker::run(cfg, args));
            // A blocking read of stdin may still be pending: do not wait for it.
            rt.shutdown_background();
            r?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Flows(FlowsCommand::Decode(args)) => {
            let limits = match &cli.config {
                Some(_) => load(cli)?.ingest.limits,
                None => levee_flow::Limits::default(),
            };
            let opts = decode_options(&args.capture, limits, args.exporters);
            let failed =
                flows::decode::run(&opts, &mut std::io::stdout().lock(), &mut std::io::stderr())
                    .or_else(|e| {
                        if e.kind() == std::io::ErrorKind::BrokenPipe {
                            Ok(Vec::new())
                        } else {
                            Err(e)
                        }
                    })
                    .context("writing output")?;
            Ok(if failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// An error and its causes, each said once: a cause whose text its parent's message
/// already includes (errors that print their source) is not repeated.
fn chain(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !out.contains(&c) {
            out += ": ";
            out += &c;
        }
    }
    out
}

fn replay(cli: &Cli, args: &crate::cli::ReplayArgs) -> anyhow::Result<ExitCode> {
    let cfg = load(cli)?;
    if cfg.protected_networks.is_empty() {
        anyhow::bail!(
            "{} has no protected networks, so nothing can be detected: give --config FILE \
             with a protected_networks section",
            cfg.origin
        );
    }
    // Fail on an unreadable threat-intel list before reading any capture.
    let intel = detection::load_threat_intel(&cfg.detection.threat_intel)?;
    let opts = decode_options(&args.capture, cfg.ingest.limits, false);
    let mut make =
        |now_us, seed| detection::engine(cfg.engine_config(), intel.clone(), now_us, seed, 1);
    let outcome = detection::replay::run(
        &opts,
        args.summary,
        &mut make,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr(),
    )
    .or_else(|e| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Ok(detection::replay::Outcome {
                failed: Vec::new(),
                incidents: 0,
            })
        } else {
            Err(e)
        }
    })
    .context("writing output")?;
    Ok(if outcome.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// How to read the captures a command was given.
fn decode_options(
    c: &crate::cli::CaptureArgs,
    limits: levee_flow::Limits,
    exporters: bool,
) -> flows::decode::DecodeOptions {
    flows::decode::DecodeOptions {
        files: c.files.clone(),
        mirror: c.mirror,
        mirror_sampling: c.mirror_sampling,
        limits,
        exporters,
    }
}

fn load(cli: &Cli) -> anyhow::Result<Config> {
    Config::load_default_or(cli.config.as_deref())
        .map_err(|e| anyhow::anyhow!("invalid config:\n{e}"))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("levee")
        .build()
        .context("starting the async runtime")
}

fn init_logging(cli: &Cli) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&cli.log).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: logs going to a file or journald stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if cli.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
}
