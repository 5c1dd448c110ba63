//! levee's configuration: YAML at /etc/levee/levee.yaml (or `--config FILE`), parsed with
//! serde-saphyr into raw structs that reject unknown keys, then turned into the typed
//! [`Config`]. Every error names the file, line, column and key path, and what was
//! expected.

mod adapters;
pub mod bgp;
pub mod bytesize;
mod detection;
mod error;
pub mod mitigation;
mod raw;
mod rpki;
pub(crate) use crate::yaml::units;

pub use detection::Detection;
pub use error::{ConfigError, ConfigErrors};

use ipnet::IpNet;
use levee_mitigate::{Level, Levels};
use raw::RawConfig;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::Path;

/// The default config path.
pub const DEFAULT_PATH: &str = "/etc/levee/levee.yaml";
/// Where `scripts/install.sh` puts the documented example config.
pub const EXAMPLE_PATH: &str = "/etc/levee/levee.yaml.example";

/// The document levee runs on when no config file exists: every listener on its
/// standard port, no mirror ports, no protected networks yet.
pub const EMBEDDED_DEFAULTS: &str = include_str!("defaults.yaml");

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where it came from (a path, or "<embedded defaults>").
    pub origin: String,
    /// Flow-export listeners that are enabled.
    pub listeners: Vec<Listener>,
    /// Mirror (SPAN) interfaces to capture on.
    pub mirror: Vec<Mirror>,
    /// The networks levee protects.
    pub protected_networks: Vec<ProtectedNetwork>,
    /// Ingest pipeline bounds.
    pub ingest: Ingest,
    /// Detection settings.
    pub detection: Detection,
    /// levee's BGP speaker, if configured.
    pub bgp: Option<bgp::Bgp>,
    /// Mitigation settings (with every protected network's ladder), adapters, store
    /// and control socket.
    pub mitigation: mitigation::Mitigation,
    /// The RPKI gate, if configured.
    pub rpki: Option<crate::rpki::Settings>,
    /// Where the web endpoint (/metrics) listens, if configured.
    pub web: Option<std::net::SocketAddr>,
}

/// One UDP listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Which protocol the operator meant it for (each accepts any format).
    pub kind: ListenerKind,
    /// Address and port to bind.
    pub bind: SocketAddr,
    /// SO_RCVBUF to request, in bytes.
    pub receive_buffer: u64,
}

/// The protocol a listener is configured for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    /// sFlow v5, default port 6343.
    Sflow,
    /// NetFlow v5/v9, default port 2055.
    Netflow,
    /// IPFIX, default port 4739.
    Ipfix,
}

impl ListenerKind {
    /// Name used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ListenerKind::Sflow => "sflow",
            ListenerKind::Netflow => "netflow",
            ListenerKind::Ipfix => "ipfix",
        }
    }

    /// The standard port: 6343 (sFlow), 2055 (NetFlow), 4739 (IPFIX, RFC 7011).
    pub fn default_port(self) -> u16 {
        match self {
            ListenerKind::Sflow => 6343,
            ListenerKind::Netflow => 2055,
            ListenerKind::Ipfix => 4739,
        }
    }
}

/// A mirror-port capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// Interface name.
    pub interface: String,
    /// Optional BPF filter expression.
    pub bpf: Option<String>,
    /// Keep 1 packet in N.
    pub sampling: NonZeroU32,
}

/// A named set of prefixes levee protects.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtectedNetwork {
    /// Name (unique).
    pub name: String,
    /// IPv4 and IPv6 prefixes.
    pub prefixes: Vec<IpNet>,
    /// Its detection policy: the global one with this network's overrides.
    pub policy: levee_detect::policy::Policy,
    /// Its mitigation ladder: the global one with this network's overrides.
    pub ladder: levee_mitigate::Ladder,
}

/// Bounds on the ingest pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ingest {
    /// Record batches buffered between the listeners and their consumer.
    pub channel_batches: usize,
    /// Decoder state bounds.
    pub limits: levee_flow::Limits,
}

impl Config {
    /// Loads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let src = std::fs::read_to_string(path)
            .map_err(|e| ConfigErrors::single(ConfigError::io(path, &e)))?;
        Config::parse(&src, &path.display().to_string())
    }

    /// The explicit file if given; else the default path if it exists; else the embedded
    /// defaults.
    pub fn load_default_or(path: Option<&Path>) -> Result<Config, ConfigErrors> {
        match path {
            Some(p) => Config::load(p),
            None if Path::new(DEFAULT_PATH).exists() => Config::load(Path::new(DEFAULT_PATH)),
            None => Config::parse(EMBEDDED_DEFAULTS, "<embedded defaults>"),
        }
    }

    /// Parses and validates YAML; `origin` names the source in errors.
    pub fn parse(src: &str, origin: &str) -> Result<Config, ConfigErrors> {
        let raw: RawConfig = serde_saphyr::from_str(src)
            .map_err(|e| ConfigErrors::single(ConfigError::from_yaml(origin, src, &e)))?;
        convert(raw, src, origin)
    }

    /// The detection engine's settings.
    pub fn engine_config(&self) -> levee_detect::EngineConfig {
        let d = &self.detection;
        levee_detect::EngineConfig {
            networks: self
                .protected_networks
                .iter()
                .map(|n| levee_detect::NetworkConfig {
                    name: n.name.clone(),
                    prefixes: n.prefixes.clone(),
                    policy: n.policy.clone(),
                })
                .collect(),
            max_tracked: d.max_tracked_ips,
            idle_timeout_s: d.idle_timeout_s,
            quiet_period_us: d.quiet_period_us,
            hysteresis: d.hysteresis,
            botnet_sources: d.botnet_sources,
            http_min_sources: d.http_min_sources,
            top_n: d.top,
        }
    }

    /// A few lines describing what this config will do.
    pub fn summary(&self) -> String {
        let mut s = format!("config {} is valid\n", self.origin);
        for l in &self.listeners {
            s += &format!(
                "  listener {:<7} {} (receive buffer {})\n",
                l.kind.as_str(),
                l.bind,
                bytesize::ByteSize(l.receive_buffer)
            );
        }
        let most = self.listeners.iter().map(|l| l.receive_buffer).max();
        if let (Some(max), Some(want)) = (rmem_max(), most)
            && max < want
        {
            s += &format!(
                "  warning: the kernel grants a receive buffer of at most {} \
                 (net.core.rmem_max): raise it with sysctl -w net.core.rmem_max={want}, \
                 or ask for less\n",
                bytesize::ByteSize(max),
            );
        }
        for m in &self.mirror {
            s += &format!(
                "  mirror   {} sampling 1:{}{}\n",
                m.interface,
                m.sampling,
                m.bpf
                    .as_ref()
                    .map(|f| format!(" filter {f:?}"))
                    .unwrap_or_default()
            );
        }
        let prefixes: usize = self
            .protected_networks
            .iter()
            .map(|n| n.prefixes.len())
            .sum();
        s += &format!(
            "  protected networks: {} ({})\n",
            self.protected_networks.len(),
            plural(prefixes, "prefix", "prefixes")
        );
        if let Some(b) = &self.bgp {
            for p in &b.speaker.peers {
                let families: Vec<String> = p.families.iter().map(|f| f.to_string()).collect();
                s += &format!(
                    "  bgp peer {} {}:{} AS{} ({}{}{}{})\n",
                    p.name,
                    p.address,
                    p.port,
                    p.remote_as,
                    if p.remote_as == p.local_as {
                        "iBGP"
                    } else {
                        "eBGP"
                    },
                    if p.passive { ", passive" } else { "" },
                    if p.md5_password.is_some() {
                        ", MD5"
                    } else {
                        ""
                    },
                    if p.ttl_security.is_some() {
                        ", GTSM"
                    } else {
                        ""
                    },
                );
                s += &format!("    families {}\n", families.join(" "));
            }
        }
        let m = &self.mitigation;
        let adapters: Vec<String> = m
            .adapters
            .iter()
            .map(|a| {
                if a.levels == levee_mitigate::Levels::ALL {
                    a.kind.name().to_string()
                } else {
                    format!("{} ({})", a.kind.name(), a.levels)
                }
            })
            .collect();
        s += &format!(
            "  mitigation via {} (ttl {}s, caps {} total / {} per network){}\n",
            if adapters.is_empty() {
                "no adapter: recorded only".to_string()
            } else {
                adapters.join(", ")
            },
            m.settings.ttl_us / 1_000_000,
            m.settings.max_active,
            m.settings.max_active_per_network,
            if m.settings.dry_run { ", dry run" } else { "" },
        );
        if let Some(r) = &self.rpki {
            let asns: Vec<String> = r.origins.iter().map(|a| format!("AS{a}")).collect();
            s += &format!(
                "  rpki gate {:?}, fail {:?}, origins {}, caches {}\n",
                r.policy,
                r.fail,
                asns.join(" "),
                r.caches.join(" ")
            )
            .to_lowercase();
        }
        for n in &self.protected_networks {
            let levels: Vec<String> = levee_mitigate::Level::ALL
                .iter()
                .filter(|l| n.ladder.level(**l).enabled)
                .map(|l| {
                    let ls = n.ladder.level(*l);
                    let t = match ls.trigger.metric {
                        levee_mitigate::settings::Metric::Bps => {
                            format!("{}bps", crate::detection::events::si(ls.trigger.value))
                        }
                        levee_mitigate::settings::Metric::Pps => {
                            format!("{}pps", crate::detection::events::si(ls.trigger.value))
                        }
                    };
                    let hold = if ls.hold_us > 0 {
                        format!(" for {}s", ls.hold_us as f64 / 1e6)
                    } else {
                        String::new()
                    };
                    format!("{l} >{t}{hold}")
                })
                .collect();
            s += &format!(
                "    {}: {}\n",
                n.name,
                if levels.is_empty() {
                    "no level enabled".into()
                } else {
                    levels.join(", ")
                }
            );
        }
        s
    }
}

/// Every enabled level must reach an adapter (or a BGP peer) that carries it; FRR and
/// the null route carry RTBH only, so FlowSpec levels need another adapter.
fn uncarried_levels(
    mitigation: &mitigation::Mitigation,
    networks: &[ProtectedNetwork],
) -> Option<String> {
    if mitigation.adapters.is_empty() {
        return None; // recorded only: `levee run` says so
    }
    let enabled = std::iter::once(&mitigation.ladder)
        .chain(networks.iter().map(|n| &n.ladder))
        .flat_map(|l| Level::ALL.into_iter().filter(|x| l.level(*x).enabled))
        .fold(Levels::NONE, Levels::with);
    let flowspec = Levels::of(Level::L1).with(Level::L2);
    let carried = mitigation.adapters.iter().fold(Levels::NONE, |acc, a| {
        let can = if a.kind.carries_flowspec() {
            Levels::ALL
        } else {
            Levels::of(Level::L3).with(Level::L4)
        };
        acc.or(a.levels.and(can))
    });
    let missing = Level::ALL
        .into_iter()
        .filter(|l| enabled.contains(*l) && !carried.contains(*l))
        .fold(Levels::NONE, Levels::with);
    if missing == Levels::NONE {
        return None;
    }
    if missing.intersects(flowspec)
        && !mitigation
            .adapters
            .iter()
            .any(|a| a.kind.carries_flowspec())
    {
        let names: Vec<&str> = mitigation.adapters.iter().map(|a| a.kind.name()).collect();
        let frr = |a: &crate::adapters::Adapter| matches!(a.kind, crate::adapters::Kind::Frr(_));
        let why = if mitigation.adapters.iter().any(frr) {
            "the frr adapter carries RTBH only (FRR cannot originate FlowSpec)".to_string()
        } else {
            format!("the {} adapter carries RTBH only", names.join(" and "))
        };
        return Some(format!(
            "{why}: disable levels l1 and l2, or add an adapter that carries FlowSpec \
             (native, exabgp, gobgp, bird, webhook)"
        ));
    }
    let (level, it, their) = if missing.bits().count_ones() == 1 {
        ("level", "it", "its")
    } else {
        ("levels", "them", "their")
    };
    let is = if it == "it" { "is" } else { "are" };
    Some(format!(
        "{level} {missing} {is} enabled, but no adapter or BGP peer is sent {their} routes: add \
         {it} to the levels of an adapter section or a bgp peer, or disable {it}"
    ))
}

fn convert(mut raw: RawConfig, src: &str, origin: &str) -> Result<Config, ConfigErrors> {
    let mut errors = Vec::new();
    let raw_detection = std::mem::take(&mut raw.detection);
    let detection = detection::detection(
        raw_detection,
        &mut detection::Ctx {
            origin,
            src,
            errors: &mut errors,
        },
    );
    let bgp = raw.bgp.take().and_then(|b| {
        bgp::convert(
            b,
            &mut detection::Ctx {
                origin,
                src,
                errors: &mut errors,
            },
        )
    });
    let mut mitigation = mitigation::convert(
        std::mem::take(&mut raw.mitigation),
        std::mem::take(&mut raw.store),
        std::mem::take(&mut raw.control),
        bgp.is_some(),
        &mut detection::Ctx {
            origin,
            src,
            errors: &mut errors,
        },
    );
    let rpki = raw.rpki.take().map(|r| {
        rpki::convert(
            r,
            bgp.as_ref().map(|b| b.local_as),
            &mut detection::Ctx {
                origin,
                src,
                errors: &mut errors,
            },
        )
    });
    let mut listeners = Vec::new();
    for (kind, l) in [
        (ListenerKind::Sflow, raw.listeners.sflow),
        (ListenerKind::Netflow, raw.listeners.netflow),
        (ListenerKind::Ipfix, raw.listeners.ipfix),
    ] {
        if !l.enabled {
            continue;
        }
        let path = format!("listeners.{}.bind", kind.as_str());
        // A section that names no address keeps the standard port on every interface.
        let bind = l
            .bind
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], kind.default_port())));
        if let Some(other) = listeners.iter().find(|o: &&Listener| o.bind == bind) {
            errors.push(ConfigError::at_path(
                origin,
                src,
                &path,
                &format!(
                    "{bind} is already used by the {} listener",
                    other.kind.as_str()
                ),
            ));
        }
        listeners.push(Listener {
            kind,
            bind,
            receive_buffer: l.receive_buffer.0,
        });
    }
    let mut mirror: Vec<Mirror> = Vec::new();
    for m in raw.mirror {
        let name = m.interface.value.trim().to_string();
        if name.is_empty() || name.len() > 15 || name.contains(['/', ' ']) {
            errors.push(ConfigError::at(
                origin,
                &m.interface.referenced,
                src,
                "not a Linux interface name (1-15 characters, no '/' or spaces)",
            ));
        } else if mirror.iter().any(|o| o.interface == name) {
            errors.push(ConfigError::at(
                origin,
                &m.interface.referenced,
                src,
                &format!("interface {name} is listed twice"),
            ));
        }
        mirror.push(Mirror {
            interface: name,
            bpf: m.bpf.filter(|f| !f.trim().is_empty()),
            sampling: m.sampling,
        });
    }
    let mut protected_networks: Vec<ProtectedNetwork> = Vec::new();
    for n in raw.protected_networks {
        let name = n.name.value.trim().to_string();
        if name.is_empty() {
            errors.push(ConfigError::at(
                origin,
                &n.name.referenced,
                src,
                "a protected network needs a name",
            ));
        } else if protected_networks.iter().any(|o| o.name == name) {
            errors.push(ConfigError::at(
                origin,
                &n.name.referenced,
                src,
                &format!("protected network name {name:?} is used twice"),
            ));
        }
        if n.prefixes.value.is_empty() {
            errors.push(ConfigError::at(
                origin,
                &n.prefixes.referenced,
                src,
                "expected at least one prefix such as 192.0.2.0/24",
            ));
        }
        let mut prefixes = Vec::new();
        for p in n.prefixes.value {
            if p.value != p.value.trunc() {
                errors.push(ConfigError::at(
                    origin,
                    &p.referenced,
                    src,
                    &format!(
                        "{} has host bits set; did you mean {}?",
                        p.value,
                        p.value.trunc()
                    ),
                ));
            }
            prefixes.push(p.value);
        }
        let policy = detection::policy(
            &detection.policy,
            n.detection,
            &mut detection::Ctx {
                origin,
                src,
                errors: &mut errors,
            },
        );
        let ladder = mitigation::network_ladder(
            &n.mitigation,
            &mitigation.ladder,
            &mut detection::Ctx {
                origin,
                src,
                errors: &mut errors,
            },
        );
        protected_networks.push(ProtectedNetwork {
            name,
            prefixes,
            policy,
            ladder,
        });
    }
    let i = raw.ingest;
    for (key, v) in [
        ("channel_batches", i.channel_batches),
        ("max_exporter_streams", i.max_exporter_streams),
        ("max_templates_per_exporter", i.max_templates_per_exporter),
        ("max_templates_total", i.max_templates_total),
    ] {
        if v == 0 {
            errors.push(ConfigError::at_path(
                origin,
                src,
                &format!("ingest.{key}"),
                "expected a positive integer",
            ));
        }
    }
    // The native adapter carries what its peers take.
    if let Some(b) = &bgp {
        let peers = b.speaker.peers.iter().fold(Levels::NONE, |acc, p| {
            acc.or(Levels::from_bits(p.export.0 as u8))
        });
        for a in &mut mitigation.adapters {
            if a.kind == crate::adapters::Kind::Native {
                a.levels = a.levels.and(peers);
            }
        }
    }
    if let Some(e) = uncarried_levels(&mitigation, &protected_networks) {
        errors.push(ConfigError::at_path(origin, src, "mitigation.adapters", &e));
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    mitigation.settings.networks = protected_networks
        .iter()
        .map(|n| levee_mitigate::settings::Network {
            name: n.name.clone(),
            prefixes: n.prefixes.clone(),
            ladder: n.ladder.clone(),
        })
        .collect();
    Ok(Config {
        origin: origin.to_string(),
        listeners,
        mirror,
        protected_networks,
        ingest: Ingest {
            channel_batches: i.channel_batches,
            limits: levee_flow::Limits {
                max_domains: i.max_exporter_streams,
                max_templates_per_domain: i.max_templates_per_exporter,
                max_templates_total: i.max_templates_total,
                ..levee_flow::Limits::default()
            },
        },
        detection,
        bgp,
        mitigation,
        rpki,
        web: raw.web.take().map(|w| w.listen),
    })
}

/// `1 prefix`, `2 prefixes`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The largest receive buffer the kernel grants an unprivileged `SO_RCVBUF`.
fn rmem_max() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/net/core/rmem_max")
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests;
