//! Command-line interface.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// levee: DDoS detection and mitigation for the network edge.
///
/// Exit status: 0 success; 1 an error (invalid config, unreadable file, cannot bind);
/// 2 a usage error.
#[derive(Debug, Parser)]
#[command(name = "levee", version, about, long_about = None)]
pub struct Cli {
    /// Config file [default: /etc/levee/levee.yaml, or the embedded defaults if it is absent]
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log filter (tracing EnvFilter syntax), e.g. "info" or "levee=debug"
    #[arg(long, global = true, default_value = "info", env = "LEVEE_LOG")]
    pub log: String,
    /// Log as JSON lines
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the appliance: listeners and mirror captures from the config
    Run(RunArgs),
    /// Validate the config and print a summary
    Check,
    /// Flow tools: decode captures, or listen live
    #[command(subcommand)]
    Flows(FlowsCommand),
    /// Run the detection engine over captures; one JSON object per incident event on stdout
    Replay(ReplayArgs),
    /// Run the BGP speaker alone with the config's peers: routes from --announce and from
    /// commands on stdin (announce ROUTE, withdraw ROUTE, status, routes, reset PEER);
    /// JSON lines on stdout
    Bgp(BgpArgs),
    /// Manual mitigations on the running daemon, over its control socket
    #[command(subcommand)]
    Mitigate(MitigateCommand),
    /// The audit log in the store
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Traffic history from the store (per-minute rates towards each protected network,
    /// per protocol, with the busiest second); works with the daemon stopped
    Traffic(TrafficArgs),
    /// Web and API users (in the auth database beside the store; the daemon need not run)
    #[command(subcommand)]
    Users(UsersCommand),
    /// API bearer tokens (in the auth database beside the store; the daemon need not run)
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Make the running daemon read its config again (as SIGHUP does) and print what
    /// changed; exit 1 if the config was refused or a change could not be applied
    Reload {
        /// Print the daemon's JSON answer
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        socket: SocketArg,
    },
}

#[derive(Debug, Args)]
pub struct TrafficArgs {
    /// Only this protected network [default: every one stored or configured]
    #[arg(long, value_name = "NAME")]
    pub network: Option<String>,
    /// How far back, e.g. 30m, 6h, 7d
    #[arg(long, default_value = "1h", value_name = "DURATION")]
    pub since: String,
    /// Seconds per point, rounded up to whole minutes and raised to keep at most 1,440
    /// points [default: 1m]
    #[arg(long, value_name = "DURATION")]
    pub step: Option<String>,
    /// Print this incident's stored per-second series instead (pps and bps per point)
    #[arg(long, value_name = "ID", conflicts_with_all = ["network", "since", "step"])]
    pub incident: Option<u64>,
    /// Print JSON: {"networks": [{network, from, to, step, resolution, points: [...]}]},
    /// or with --incident {incident, victim, network, start, step, points: [[pps, bps], ...]}
    #[arg(long)]
    pub json: bool,
    /// The store [default: store.path from the config]
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
}

#[derive(Debug, Default, Args)]
pub struct RunArgs {
    /// Start even if the audit log (or a mitigation row it anchors) fails verification;
    /// the break is logged and audited, and stays in the log
    #[arg(long)]
    pub accept_broken_audit: bool,
}

#[derive(Debug, Subcommand)]
pub enum MitigateCommand {
    /// Announce a route, or a level's routes for an address (with --level)
    Add(MitigateAddArgs),
    /// Withdraw a mitigation by id (automatic ones too; the victim then cools down)
    Withdraw {
        /// The mitigation's id (from `levee mitigate list`)
        id: u64,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Active mitigations, adapters and counters
    List {
        /// Print the daemon's JSON answer
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        socket: SocketArg,
    },
}

impl MitigateCommand {
    /// The socket given on the command line, if any.
    pub fn socket(&self) -> Option<&PathBuf> {
        match self {
            MitigateCommand::Add(a) => a.socket.socket.as_ref(),
            MitigateCommand::Withdraw { socket, .. } | MitigateCommand::List { socket, .. } => {
                socket.socket.as_ref()
            }
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user: the password is prompted for on a terminal, else read from the first
    /// line of stdin
    Add {
        /// The name (letters, digits, '.', '_', '-'; up to 64)
        name: String,
        /// viewer, analyst, operator or admin
        #[arg(long)]
        role: String,
        /// Generate a password and print it (alone on the last line)
        #[arg(long)]
        generate: bool,
    },
    /// List the users and their roles
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Remove a user (their sessions end)
    Remove {
        /// The name
        name: String,
    },
    /// Change a user's role (their sessions take it at their next request)
    SetRole {
        /// The name
        name: String,
        /// viewer, analyst, operator or admin
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a token; it is printed once, alone on the last line, and only its hash is
    /// kept
    Create {
        /// The name (letters, digits, '.', '_', '-'; up to 64)
        name: String,
        /// viewer, analyst, operator or admin
        #[arg(long)]
        role: String,
        /// Lifetime, e.g. 30m, 24h, 2160h [default: never expires]
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
    },
    /// List the tokens (names, roles, expiry; never the tokens)
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token
    Revoke {
        /// The name
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct SocketArg {
    /// The daemon's control socket [default: control.socket from the config]
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MitigateAddArgs {
    /// A route ("flow destination 192.0.2.1/32 protocol udp then discard",
    /// "route 192.0.2.1/32 community 65535:666"), or an address with --level
    pub target: String,
    /// Announce this escalation level's routes (1-4) for the address
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=4))]
    pub level: Option<u8>,
    /// Lifetime, e.g. 600, 10m, 1h [default: mitigation.ttl]
    #[arg(long, value_name = "DURATION")]
    pub ttl: Option<String>,
    #[command(flatten)]
    pub socket: SocketArg,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit log's hash chain and the mitigation rows it anchors (read-only);
    /// exit 1 if it is broken or does not hold the anchor given
    Verify {
        /// The database [default: store.path from the config]
        #[arg(long, value_name = "FILE")]
        db: Option<PathBuf>,
        /// An anchor taken earlier (the head the daemon logged, or `levee audit verify`
        /// printed): the log must still contain an entry with this hash
        #[arg(long, value_name = "HASH")]
        expect_head: Option<String>,
        /// The entry count of that anchor: entry N must have the --expect-head hash,
        /// and the log at least N entries
        #[arg(long, value_name = "N")]
        expect_entries: Option<u64>,
        /// The chain's HMAC key [default: store.audit_hmac_key_file from the config]
        #[arg(long, value_name = "FILE")]
        hmac_key_file: Option<PathBuf>,
    },
    /// Print the last entries
    Show {
        /// How many
        #[arg(long, default_value_t = 20)]
        last: u64,
        /// The database [default: store.path from the config]
        #[arg(long, value_name = "FILE")]
        db: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct BgpArgs {
    /// Announce this route, e.g. "flow destination 192.0.2.1/32 protocol udp then discard"
    /// or "route 192.0.2.1/32 blackhole"; may be repeated
    #[arg(long, short, value_name = "ROUTE")]
    pub announce: Vec<String>,
    /// Only these peers of the config (by name); may be repeated
    #[arg(long, value_name = "NAME")]
    pub peer: Vec<String>,
    /// Listen for incoming sessions here instead of the config's bgp.listen
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// What to do with the routes on exit: withdraw, cease or keep [default: bgp.shutdown]
    #[arg(long, value_name = "POLICY")]
    pub shutdown: Option<String>,
    /// Stop after SECS seconds
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub capture: CaptureArgs,
    /// Print one line per incident when it ends instead of every event
    #[arg(long)]
    pub summary: bool,
}

#[derive(Debug, Subcommand)]
pub enum FlowsCommand {
    /// Decode pcap/pcapng captures of flow exports; one JSON object per record on stdout
    Decode(DecodeArgs),
    /// Listen for flow exports and print one JSON object per record on stdout
    Listen(ListenArgs),
}

/// Capture files and how to read them (`flows decode`, `replay`).
#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// Capture files (flow exports, or mirror traffic with --mirror), read in order;
    /// NetFlow v9/IPFIX templates carry across files
    #[arg(required = true, value_name = "CAPTURE.pcap")]
    pub files: Vec<PathBuf>,
    /// Treat the captures as mirror-port traffic: one record per packet
    #[arg(long)]
    pub mirror: bool,
    /// With --mirror: the capture holds 1 packet in N
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub mirror_sampling: u32,
}

#[derive(Debug, Args)]
pub struct DecodeArgs {
    #[command(flatten)]
    pub capture: CaptureArgs,
    /// Also print per-exporter counters to stderr
    #[arg(long)]
    pub exporters: bool,
}

#[derive(Debug, Args)]
pub struct ListenArgs {
    /// sFlow listen address (without any address or --mirror flag, the config's
    /// listeners and mirror ports are used)
    #[arg(long, value_name = "ADDR")]
    pub sflow: Option<SocketAddr>,
    /// NetFlow listen address
    #[arg(long, value_name = "ADDR")]
    pub netflow: Option<SocketAddr>,
    /// IPFIX listen address
    #[arg(long, value_name = "ADDR")]
    pub ipfix: Option<SocketAddr>,
    /// Capture on this interface as a mirror (SPAN) port; may be repeated
    #[arg(long, value_name = "IFACE")]
    pub mirror: Vec<String>,
    /// With --mirror: keep 1 packet in N
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub mirror_sampling: u32,
    /// With --mirror: BPF filter (tcpdump syntax)
    #[arg(long, value_name = "FILTER")]
    pub bpf: Option<String>,
    /// Do not print records; only count them
    #[arg(long, short)]
    pub quiet: bool,
    /// Print counters to stderr every SECS seconds (0: only at exit)
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    pub stats_every: u64,
    /// Stop after SECS seconds
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
}
