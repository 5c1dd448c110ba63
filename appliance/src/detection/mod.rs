//! The detection stage of the appliance: builds the `levee-detect` engine from its
//! settings (loading threat-intelligence files), runs it live over the record batches
//! of the flows stage on its own thread ([`live`]), takes new settings while running
//! ([`Update`]), saves and restores its baselines for warm restarts ([`snapshot`]),
//! renders its events ([`events`]), and replays captures through it (`levee replay`,
//! [`replay`]).

pub mod events;
pub mod live;
pub mod replay;
pub mod snapshot;

use levee_detect::engine::{ReconfigureError, Reconfigured, ThreatIntel};
use levee_detect::prefixset::PrefixSet;
use levee_detect::{Engine, threatintel};
use tracing::{info, warn};

/// New settings for the running engine (a config reload): protected networks,
/// policies, thresholds, limits and threat intel. Sent on the channel given to the live
/// loop ([`live::Outlet::updates`]), applied between two batches with
/// [`Engine::reconfigure`] (baselines and incidents of what stays protected are kept),
/// and answered on `reply`: what was kept and dropped, or why the settings were refused
/// (the running ones are then kept).
#[derive(Debug)]
pub struct Update {
    /// The new engine settings.
    pub config: levee_detect::EngineConfig,
    /// The new threat-intelligence lists (from [`load_threat_intel`]).
    pub intel: Option<ThreatIntel>,
    /// Where the result goes.
    pub reply: tokio::sync::oneshot::Sender<Result<Reconfigured, ReconfigureError>>,
}

/// A threat-intelligence file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("threat intel list {name:?}: cannot read {path}: {source}")]
pub struct IntelError {
    name: String,
    path: String,
    source: std::io::Error,
}

/// Loads the threat-intelligence lists, each a name and a file (none: `None`). Bad
/// lines are reported and skipped; an unreadable file is an error.
pub fn load_threat_intel(
    lists: &[(String, std::path::PathBuf)],
) -> Result<Option<ThreatIntel>, IntelError> {
    if lists.is_empty() {
        return Ok(None);
    }
    let mut intel = ThreatIntel {
        set: PrefixSet::default(),
        names: Vec::new(),
    };
    for (i, (name, path)) in lists.iter().enumerate() {
        let text = std::fs::read_to_string(path).map_err(|source| IntelError {
            name: name.clone(),
            path: path.display().to_string(),
            source,
        })?;
        let report = threatintel::load(&text, i as u16, &mut intel.set);
        info!(list = %name, entries = report.entries, bad_lines = report.bad_lines, "threat intel loaded");
        for (line, text) in &report.examples {
            warn!(list = %name, line, text = %text, "threat intel line is not an address or prefix; skipped");
        }
        intel.names.push(name.clone());
    }
    Ok(Some(intel))
}

/// The engine for its settings with its threat intel (from [`load_threat_intel`]),
/// starting at `now_us`.
pub fn engine(
    settings: levee_detect::EngineConfig,
    intel: Option<ThreatIntel>,
    now_us: u64,
    seed: u64,
    first_id: u64,
) -> Engine {
    let mut e = Engine::new(settings, now_us, seed, first_id);
    e.set_threat_intel(intel);
    e
}
