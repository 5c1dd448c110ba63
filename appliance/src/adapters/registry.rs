//! The adapter registry: [`Kind`] has one variant per adapter, carrying its settings,
//! and is the one place that maps an adapter's name (`mitigation.adapters`) and section
//! (`mitigation.exabgp`, ...) to its module.
//!
//! Adding an adapter: its module (backend, `Raw` section, `Settings`,
//! `Settings::from_raw`, `start`), its variant here with its arms (name, FlowSpec,
//! start, its section in [`RawSections`]), and its section's key in config's
//! `RawMitigation`.

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

/// Where mitigations go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// levee's own BGP speaker (the `bgp` section).
    Native,
    /// ExaBGP through its named pipe.
    Exabgp(exabgp::Settings),
    /// gobgpd through its CLI.
    Gobgp(gobgp::Settings),
    /// BIRD 2 through an include file and birdc.
    Bird(bird::Settings),
    /// FRR through vtysh (RTBH only).
    Frr(frr::Settings),
    /// Linux blackhole routes through rtnetlink (RTBH only).
    NullRoute(null_route::Settings),
    /// Signed JSON to an HTTP endpoint.
    Webhook(webhook::Settings),
}

impl Kind {
    /// The names `mitigation.adapters` accepts.
    pub const NAMES: &'static str = "native, exabgp, gobgp, bird, frr, null_route, webhook";

    /// The adapter's name, as in `mitigation.adapters`.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Native => "native",
            Kind::Exabgp(_) => "exabgp",
            Kind::Gobgp(_) => "gobgp",
            Kind::Bird(_) => "bird",
            Kind::Frr(_) => "frr",
            Kind::NullRoute(_) => "null_route",
            Kind::Webhook(_) => "webhook",
        }
    }

    /// Whether it is the same adapter as `other` (whatever the settings).
    pub fn same_adapter(&self, other: &Kind) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }

    /// Whether it can carry FlowSpec rules.
    pub fn carries_flowspec(&self) -> bool {
        !matches!(self, Kind::Frr(_) | Kind::NullRoute(_))
    }

    /// Starts the adapter's task for the routes of `levels`, reporting to `reports`;
    /// `None` for the native adapter, which starts with the BGP speaker
    /// ([`super::native::start`]).
    pub fn start(&self, levels: Levels, reports: mpsc::UnboundedSender<Report>) -> Option<Handle> {
        Some(match self {
            Kind::Native => return None,
            Kind::Exabgp(s) => exabgp::start(s, levels, reports),
            Kind::Gobgp(s) => gobgp::start(s, levels, reports),
            Kind::Bird(s) => bird::start(s, levels, reports),
            Kind::Frr(s) => frr::start(s, levels, reports),
            Kind::NullRoute(s) => null_route::start(s, levels, reports),
            Kind::Webhook(s) => webhook::start(s, levels, reports),
        })
    }
}

/// The per-adapter sections under `mitigation`, as read.
#[derive(Debug, Default)]
pub(crate) struct RawSections {
    pub(crate) exabgp: Option<Spanned<exabgp::Raw>>,
    pub(crate) gobgp: Option<Spanned<gobgp::Raw>>,
    pub(crate) bird: Option<Spanned<bird::Raw>>,
    pub(crate) frr: Option<Spanned<frr::Raw>>,
    pub(crate) null_route: Option<Spanned<null_route::Raw>>,
    pub(crate) webhook: Option<Spanned<webhook::Raw>>,
}

/// A section's value, taken (so a second listing of its adapter finds the defaults
/// and a section left over at the end is one whose adapter was not listed).
fn section<T: Default>(s: &mut Option<Spanned<T>>) -> T {
    s.take().map(|s| s.value).unwrap_or_default()
}

impl RawSections {
    /// The adapter `listed` (an entry of `mitigation.adapters`) names, built from its
    /// section, with the section's `levels` as read; `None`, with the error reported,
    /// for an unknown name or a section that yields no settings.
    pub(crate) fn take(
        &mut self,
        listed: &Spanned<String>,
        ctx: &mut Ctx<'_>,
    ) -> Option<(Kind, LevelList)> {
        Some(match listed.value.as_str() {
            "native" => (Kind::Native, None),
            "exabgp" => {
                let mut r = section(&mut self.exabgp);
                let levels = r.levels.take();
                (Kind::Exabgp(exabgp::Settings::from_raw(r, ctx)), levels)
            }
            "gobgp" => {
                let mut r = section(&mut self.gobgp);
                let levels = r.levels.take();
                (Kind::Gobgp(gobgp::Settings::from_raw(r)), levels)
            }
            "bird" => {
                let mut r = section(&mut self.bird);
                let levels = r.levels.take();
                (Kind::Bird(bird::Settings::from_raw(r)), levels)
            }
            "frr" => {
                let mut r = section(&mut self.frr);
                let levels = r.levels.take();
                (Kind::Frr(frr::Settings::from_raw(r, ctx)), levels)
            }
            "null_route" => {
                let mut r = section(&mut self.null_route);
                let levels = r.levels.take();
                (
                    Kind::NullRoute(null_route::Settings::from_raw(r, ctx)),
                    levels,
                )
            }
            "webhook" => {
                let mut r = section(&mut self.webhook);
                let levels = r.levels.take();
                let s = webhook::Settings::from_raw(r, listed, ctx)?;
                (Kind::Webhook(s), levels)
            }
            _ => {
                ctx.err(listed, &format!("an adapter: {}", Kind::NAMES));
                return None;
            }
        })
    }

    /// Reports each section left over: its adapter is not in `mitigation.adapters`.
    pub(crate) fn unused(self, ctx: &mut Ctx<'_>) {
        let RawSections {
            exabgp,
            gobgp,
            bird,
            frr,
            null_route,
            webhook,
        } = self;
        leftover(exabgp, "exabgp", ctx);
        leftover(gobgp, "gobgp", ctx);
        leftover(bird, "bird", ctx);
        leftover(frr, "frr", ctx);
        leftover(null_route, "null_route", ctx);
        leftover(webhook, "webhook", ctx);
    }
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
