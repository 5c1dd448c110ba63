//! The `history:` section: how long the traffic history's per-minute rollups are kept.
//!
//! ```yaml
//! history:
//!   retention: 30d   # per-minute rollups older than this are deleted (1h to 366d)
//! ```

use super::units::Duration;
use crate::history::Settings;
use crate::yaml::Ctx;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// The raw section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHistory {
    retention: Option<Spanned<Duration>>,
}

/// The shortest retention: the last hour is in memory anyway.
const MIN_RETENTION_S: u64 = 3600;
/// The longest: what a query may span.
const MAX_RETENTION_S: u64 = crate::history::query::MAX_RANGE_S;

/// The history's settings from its section.
pub(super) fn convert(raw: RawHistory, ctx: &mut Ctx<'_>) -> Settings {
    let d = Settings::default();
    match raw.retention {
        Some(r) if !(MIN_RETENTION_S..=MAX_RETENTION_S).contains(&r.value.secs()) => {
            ctx.err(&r, "a retention from 1h to 366d");
            d
        }
        Some(r) => Settings {
            retention_s: r.value.secs(),
        },
        None => d,
    }
}
