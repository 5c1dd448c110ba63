//! The adapter registry: [`Kind`] has one variant per adapter, carrying its settings,
//! and is the one place that maps an adapter's name (`mitigation.adapters`) and section
//! (`mitigation.exabgp`, ...) to its module.
//!
//! Adding an adapter: its module (backend, `Raw` section, `Settings`,
//! `Settings::from_raw`, `start`) and one line in the `registry!` list below, plus its
//! section's key in config's `RawMitigation` (serde's `flatten` cannot carry located
//! values under `deny_unknown_fields`, so that struct names every key itself).

use super::{Handle, Report, bird, exabgp, frr, gobgp, null_route, webhook};
use crate::yaml::{Ctx, LevelList};
use levee_mitigate::Levels;
use serde_saphyr::Spanned;
use tokio::sync::mpsc;

/// An adapter and the levels whose routes it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adapter {
    /// Which adapter, with its settings.
    pub kind: Kind,
    /// Its `levels` (the native adapter's: every level its peers take).
    pub levels: Levels,
}

/// Declares the adapters once: each line gives the name in `mitigation.adapters` (and
/// of its section), the [`Kind`] variant, the module (its `Raw` section, `Settings`
/// and `start`), what it is, and how its section becomes settings. From that list come
/// [`Kind`], its names and start, and [`RawSections`] with the section handling.
macro_rules! registry {
    ($( $name:literal => $variant:ident($module:ident), $doc:literal, $convert:expr; )*) => {
        /// Where mitigations go.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Kind {
            /// levee's own BGP speaker (the `bgp` section).
            Native,
            $( #[doc = $doc] $variant($module::Settings), )*
        }

        impl Kind {
            /// The names `mitigation.adapters` accepts.
            pub const NAMES: &'static str = concat!("native", $(", ", $name),*);

            /// The adapter's name, as in `mitigation.adapters`.
            pub fn name(&self) -> &'static str {
                match self {
                    Kind::Native => "native",
                    $( Kind::$variant(_) => $name, )*
                }
            }

            /// Starts the adapter's task for the routes of `levels`, reporting to
            /// `reports`; `None` for the native adapter, which starts with the BGP
            /// speaker ([`super::native::start`]).
            pub fn start(
                &self,
                levels: Levels,
                reports: mpsc::UnboundedSender<Report>,
            ) -> Option<Handle> {
                match self {
                    Kind::Native => None,
                    $( Kind::$variant(s) => Some($module::start(s, levels, reports)), )*
                }
            }
        }

        /// The per-adapter sections under `mitigation`, as read.
        #[derive(Debug, Default)]
        pub(crate) struct RawSections {
            $( pub(crate) $module: Option<Spanned<$module::Raw>>, )*
        }

        impl RawSections {
            /// The adapter `listed` (an entry of `mitigation.adapters`) names, built
            /// from its section, with the section's `levels` as read; `None`, with the
            /// error reported, for an unknown name or a section that yields no
            /// settings.
            pub(crate) fn take(
                &mut self,
                listed: &Spanned<String>,
                ctx: &mut Ctx<'_>,
            ) -> Option<(Kind, LevelList)> {
                match listed.value.as_str() {
                    "native" => Some((Kind::Native, None)),
                    $( $name => {
                        let mut raw = section(&mut self.$module);
                        let levels = raw.levels.take();
                        let convert: Convert<$module::Raw, $module::Settings> = $convert;
                        Some((Kind::$variant(convert(raw, listed, ctx)?), levels))
                    } )*
                    _ => {
                        ctx.err(listed, &format!("an adapter: {}", Kind::NAMES));
                        None
                    }
                }
            }

            /// Reports each section left over: its adapter is not in
            /// `mitigation.adapters`.
            pub(crate) fn unused(self, ctx: &mut Ctx<'_>) {
                $( leftover(self.$module, $name, ctx); )*
            }
        }
    };
}

/// How a section becomes settings: the section, the adapter's entry in
/// `mitigation.adapters` (where an error about a missing section points), the error
/// context; `None` when the section yields no usable settings (errors reported).
type Convert<R, S> = fn(R, &Spanned<String>, &mut Ctx<'_>) -> Option<S>;

registry! {
    "exabgp" => Exabgp(exabgp), "ExaBGP through its named pipe.",
        |r, _, ctx| Some(exabgp::Settings::from_raw(r, ctx));
    "gobgp" => Gobgp(gobgp), "gobgpd through its CLI.",
        |r, _, _| Some(gobgp::Settings::from_raw(r));
    "bird" => Bird(bird), "BIRD 2 through an include file and birdc.",
        |r, _, _| Some(bird::Settings::from_raw(r));
    "frr" => Frr(frr), "FRR through vtysh (RTBH only).",
        |r, _, ctx| Some(frr::Settings::from_raw(r, ctx));
    "null_route" => NullRoute(null_route), "Linux blackhole routes through rtnetlink (RTBH only).",
        |r, _, ctx| Some(null_route::Settings::from_raw(r, ctx));
    "webhook" => Webhook(webhook), "Signed JSON to an HTTP endpoint.",
        webhook::Settings::from_raw;
}

impl Kind {
    /// Whether it is the same adapter as `other` (whatever the settings).
    pub fn same_adapter(&self, other: &Kind) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }

    /// Whether it can carry FlowSpec rules.
    pub fn carries_flowspec(&self) -> bool {
        !matches!(self, Kind::Frr(_) | Kind::NullRoute(_))
    }
}

/// A section's value, taken (so a second listing of its adapter finds the defaults
/// and a section left over at the end is one whose adapter was not listed).
fn section<T: Default>(s: &mut Option<Spanned<T>>) -> T {
    s.take().map(|s| s.value).unwrap_or_default()
}

/// Reports `section`, if there is one: the adapter `name` is not listed.
fn leftover<T>(section: Option<Spanned<T>>, name: &str, ctx: &mut Ctx<'_>) {
    let Some(s) = section else { return };
    let a = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    ctx.err(
        &s,
        &format!("{a} {name} section, but {name} is not in mitigation.adapters"),
    );
}
