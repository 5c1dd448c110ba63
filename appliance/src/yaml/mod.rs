//! Located settings: what every conversion of a raw YAML section into typed settings
//! shares, so that `config` and the stages that own a section's types (the adapters)
//! use one machinery without the stages importing `config`. A leaf: it depends on
//! serde, serde-saphyr and the engines' value types only.
//!
//! - [`ConfigError`] and [`ConfigErrors`]: a problem named by file, line, column and key
//!   path (`mitigation.webhook.url`), found from serde-saphyr's locations by `keypath`;
//! - [`Ctx`]: collects those errors while a section is converted, so one run reports
//!   every problem;
//! - `units`: rates, bit rates and durations as operators write them;
//! - `levels`: a `levels: [l1, l2, l3, l4]` list of escalation levels.

mod error;
pub(crate) mod keypath;
pub(crate) mod units;

pub use error::{ConfigError, ConfigErrors};

use levee_mitigate::{Level, Levels};
use serde_saphyr::Spanned;

/// Converts with errors collected into `errors`.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The file (or origin name) errors name.
    pub(crate) origin: &'a str,
    /// The document, to find key paths in.
    pub(crate) src: &'a str,
    /// Where the errors go.
    pub(crate) errors: &'a mut Vec<ConfigError>,
}

impl Ctx<'_> {
    /// A problem with the value `v`: `message` says what was expected.
    pub(crate) fn err<T>(&mut self, v: &Spanned<T>, message: &str) {
        self.errors.push(ConfigError::at(
            self.origin,
            &v.referenced,
            self.src,
            message,
        ));
    }

    /// A problem with the key at `path` (for values that carry no location).
    pub(crate) fn err_path(&mut self, path: &str, message: &str) {
        self.errors
            .push(ConfigError::at_path(self.origin, self.src, path, message));
    }
}

/// A section's optional `levels` key, as read.
pub(crate) type LevelList = Option<Spanned<Vec<Spanned<String>>>>;

/// A `levels:` list (`[l1, l2, l3, l4]`): the routes an adapter or a BGP peer carries.
pub(crate) fn levels(list: &Spanned<Vec<Spanned<String>>>, ctx: &mut Ctx<'_>) -> Levels {
    let mut out = Levels::NONE;
    for l in &list.value {
        let level = l
            .value
            .strip_prefix('l')
            .and_then(|n| n.parse().ok())
            .and_then(Level::from_number);
        match level {
            Some(level) if out.contains(level) => ctx.err(l, "a level listed once"),
            Some(level) => out = out.with(level),
            None => ctx.err(l, "a level: l1, l2, l3 or l4"),
        }
    }
    if list.value.is_empty() {
        ctx.err(list, "at least one level (l1, l2, l3, l4)");
    }
    out
}
