//! levee's configuration: YAML at /etc/levee/levee.yaml (or `--config FILE`), parsed with
//! serde-saphyr into raw structs that reject unknown keys, then turned into the typed
//! [`Config`]. Every error names the file, line, column and key path, and what was
//! expected.
//!
//! Dependencies run one way: each stage owns its settings types (`flows::settings`,
//! `rpki::Settings`, `levee_mitigate::Settings`, each adapter's `Settings`), and this
//! module fills them from the YAML. It imports stages' settings and raw-section types,
//! never their running parts, and no stage imports it (`appliance/tests/architecture.rs`
//! checks that no stage does and that there is no cycle).

mod adapters;
pub mod bgp;
mod bytesize;
mod convert;
mod detection;
mod error;
mod exporters;
mod history;
pub mod mitigation;
mod raw;
mod rpki;
mod summary;
pub(crate) use crate::yaml::units;

pub use detection::Detection;
pub use error::{ConfigError, ConfigErrors};

use ipnet::IpNet;
use raw::RawConfig;
use std::path::Path;

/// The default config path.
pub const DEFAULT_PATH: &str = "/etc/levee/levee.yaml";
/// Where `scripts/install.sh` puts the documented example config.
pub const EXAMPLE_PATH: &str = "/etc/levee/levee.yaml.example";

// The settings types of the flows stage, which this module fills from the YAML.
pub use crate::flows::settings::{Exporter, IngestBounds, Listener, ListenerKind, Mirror};

/// The document levee runs on when no config file exists: every listener on its
/// standard port, no mirror ports, no protected networks yet.
pub const EMBEDDED_DEFAULTS: &str = include_str!("defaults.yaml");

/// The most YAML nodes (scalars, lists, maps) a config may hold: room for a safelist of
/// [`mitigation::MAX_SAFELIST`] entries and the rest, where serde-saphyr's default
/// (250,000) refused a 250k-entry safelist.
pub const MAX_YAML_NODES: usize = 4_000_000;

/// serde-saphyr's options: its default budget, with [`MAX_YAML_NODES`] nodes (and
/// parser events to match). Aliases, anchors, depth and string sizes keep their
/// defaults, which bound what a hostile file can make the parser do.
fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = MAX_YAML_NODES;
    budget.max_events = 2 * MAX_YAML_NODES;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

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
    pub ingest: IngestBounds,
    /// The allowed exporters; `None` (no section) accepts every source.
    pub exporters: Option<Vec<Exporter>>,
    /// Detection settings.
    pub detection: Detection,
    /// levee's BGP speaker, if configured.
    pub bgp: Option<bgp::Bgp>,
    /// Mitigation settings (with every protected network's ladder), adapters, store
    /// and control socket.
    pub mitigation: mitigation::Mitigation,
    /// The RPKI gate, if configured.
    pub rpki: Option<crate::rpki::Settings>,
    /// The web endpoint (/metrics, /api/v1), if configured.
    pub web: Option<crate::web::settings::WebSettings>,
    /// The traffic history (retention of the per-minute rollups).
    pub history: crate::history::Settings,
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

impl Config {
    /// The flows stage's settings: listeners, mirror ports and bounds.
    pub fn flows(&self) -> crate::flows::settings::Settings {
        crate::flows::settings::Settings {
            listeners: self.listeners.clone(),
            mirror: self.mirror.clone(),
            bounds: self.ingest,
            exporters: self.exporters.clone(),
        }
    }

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
        let raw: RawConfig = serde_saphyr::from_str_with_options(src, yaml_options())
            .map_err(|e| ConfigErrors::single(ConfigError::from_yaml(origin, src, &e)))?;
        convert::convert(raw, src, origin)
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
}

#[cfg(test)]
mod tests;
