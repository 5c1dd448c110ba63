//! The `mitigation`, `store` and `control` sections, turned into
//! [`levee_mitigate::Settings`] and paths.
//!
//! ```yaml
//! mitigation:
//!   dry_run: false              # monitor mode: decide and log, announce nothing
//!   ttl: 300s                   # a rule lives this long after the attack was last seen
//!   cooldown: 60s               # after a withdrawal, automatic mitigation of the victim waits
//!   deescalate_after: 60s       # below the level's trigger this long: step down
//!   max_active: 1000
//!   max_active_per_network: 200
//!   safelist: [192.0.2.53/32]
//!   adapters: [native]          # where routes go (native: the bgp section's peers)
//!   levels:
//!     l1: {trigger: 100Mbps, rate_limit: 10Mbps}
//!     l2: {trigger: 500Mbps}
//!     l3: {trigger: 2Gbps, hold: 5s, communities: ["64500:666"], no_export: true,
//!          next_hop: [192.0.2.254]}
//!     l4: {enabled: false, trigger: 5Gbps, hold: 10s, prefix_length_v4: 24}
//! store:
//!   path: /var/lib/levee/levee.db
//!   audit_hmac_key_file: /etc/levee/audit.key   # optional: HMAC-SHA256 the audit chain
//! control:
//!   socket: /run/levee/control.sock
//! ```
//!
//! A protected network may carry its own `mitigation: {levels: ...}`; its keys override
//! the global ladder's, level by level.

use super::detection::Ctx;
use super::units::{BitRate, Count, Duration};
use crate::adapters::{Adapter, RawSections, bird, exabgp, frr, gobgp, null_route, webhook};
use ipnet::IpNet;
use levee_mitigate::settings::{Ladder, LevelSettings, Metric, Trigger, UnicastAttrs};
use levee_mitigate::{Level, Settings};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::net::IpAddr;
use std::path::PathBuf;

/// The typed `mitigation` section with the store and control paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mitigation {
    /// Engine settings (networks filled in by the caller).
    pub settings: Settings,
    /// Adapters to send routes to.
    pub adapters: Vec<Adapter>,
    /// The global ladder.
    pub ladder: Ladder,
    /// The SQLite database.
    pub store: PathBuf,
    /// The audit chain's HMAC key (`store.audit_hmac_key_file`).
    pub audit_key: Option<crate::store::audit::Key>,
    /// The control socket.
    pub control_socket: PathBuf,
}

/// The default control socket.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/levee/control.sock";
/// The default store (`store.path`).
pub const DEFAULT_STORE: &str = "/var/lib/levee/levee.db";

/// The most entries `mitigation.safelist` may hold. The engine indexes them as sorted
/// ranges (a lookup is a binary search), so the bound is memory and load time
/// (about 40 bytes and a microsecond per entry), not lookup speed.
pub const MAX_SAFELIST: usize = 1_000_000;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMitigation {
    #[serde(default)]
    dry_run: bool,
    ttl: Option<Spanned<Duration>>,
    cooldown: Option<Duration>,
    deescalate_after: Option<Duration>,
    max_active: Option<Spanned<usize>>,
    max_active_per_network: Option<Spanned<usize>>,
    #[serde(default)]
    safelist: Vec<Spanned<IpNet>>,
    adapters: Option<Vec<Spanned<String>>>,
    exabgp: Option<Spanned<exabgp::Raw>>,
    gobgp: Option<Spanned<gobgp::Raw>>,
    bird: Option<Spanned<bird::Raw>>,
    frr: Option<Spanned<frr::Raw>>,
    null_route: Option<Spanned<null_route::Raw>>,
    webhook: Option<Spanned<webhook::Raw>>,
    #[serde(default)]
    levels: RawLevels,
}

/// Per-network overrides.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNetworkMitigation {
    #[serde(default)]
    levels: RawLevels,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevels {
    #[serde(default)]
    l1: RawLevel,
    #[serde(default)]
    l2: RawLevel,
    #[serde(default)]
    l3: RawLevel,
    #[serde(default)]
    l4: RawLevel,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevel {
    enabled: Option<bool>,
    trigger: Option<Spanned<String>>,
    hold: Option<Duration>,
    rate_limit: Option<Spanned<String>>,
    communities: Option<Spanned<Vec<Spanned<String>>>>,
    large_communities: Option<Spanned<Vec<Spanned<String>>>>,
    no_export: Option<Spanned<bool>>,
    next_hop: Option<Spanned<Vec<IpAddr>>>,
    prefix_length_v4: Option<Spanned<u8>>,
    prefix_length_v6: Option<Spanned<u8>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    path: Option<PathBuf>,
    audit_hmac_key_file: Option<Spanned<PathBuf>>,
}

/// The audit chain's key: the `audit_hmac_key_file`'s content (trailing whitespace
/// dropped), at least [`crate::store::audit::MIN_KEY`] bytes.
fn audit_key(f: &Spanned<PathBuf>, ctx: &mut Ctx<'_>) -> Option<crate::store::audit::Key> {
    match read_key(&f.value) {
        Ok(k) => Some(k),
        Err(why) => {
            ctx.err(f, &why);
            None
        }
    }
}

/// Reads an audit key file; the error says what was expected.
pub fn read_key(path: &std::path::Path) -> Result<crate::store::audit::Key, String> {
    use crate::store::audit::{Key, MIN_KEY};
    match std::fs::read(path) {
        Ok(mut b) => {
            while b.last().is_some_and(u8::is_ascii_whitespace) {
                b.pop();
            }
            if b.len() < MIN_KEY {
                return Err(format!(
                    "a key file of at least {MIN_KEY} bytes (for example `openssl rand -hex 32`)"
                ));
            }
            Ok(Key(b))
        }
        Err(e) => Err(format!("a readable key file ({}: {e})", path.display())),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawControl {
    socket: Option<PathBuf>,
}

/// "100Mbps", "2Gbps" (bits) or "50kpps", "1Mpps" (packets).
fn trigger(s: &str) -> Option<Trigger> {
    let t = s.trim();
    if let Some(n) = t.strip_suffix("pps").or_else(|| t.strip_suffix("PPS")) {
        return Count::parse(n).map(|value| Trigger {
            metric: Metric::Pps,
            value,
        });
    }
    BitRate::parse(t).map(|value| Trigger {
        metric: Metric::Bps,
        value,
    })
}

/// "64500:666" into a community.
fn community(s: &str) -> Option<u32> {
    let (a, b) = s.trim().split_once(':')?;
    Some((a.parse::<u16>().ok()? as u32) << 16 | b.parse::<u16>().ok()? as u32)
}

/// "64500:666:0" into a large community.
fn large_community(s: &str) -> Option<[u32; 3]> {
    let mut it = s.trim().split(':').map(str::parse::<u32>);
    let v = [it.next()?.ok()?, it.next()?.ok()?, it.next()?.ok()?];
    it.next().is_none().then_some(v)
}

/// Applies one level's keys over the ladder's.
fn level(raw: &RawLevel, l: Level, ladder: &mut Ladder, ctx: &mut Ctx<'_>) {
    let s: &mut LevelSettings = &mut ladder.levels[l.index()];
    if let Some(e) = raw.enabled {
        s.enabled = e;
    }
    if let Some(t) = &raw.trigger {
        match trigger(&t.value) {
            Some(x) if x.value > 0 => s.trigger = x,
            _ => ctx.err(t, "a rate such as 100Mbps, 2Gbps or 50kpps"),
        }
    }
    if let Some(h) = raw.hold {
        s.hold_us = h.0;
    }
    rate_limit(raw, l, ladder, ctx);
    prefix_lengths(raw, l, ladder, ctx);
    if matches!(l, Level::L3 | Level::L4) {
        unicast_attrs(raw, l, ladder, ctx);
    } else {
        no_unicast_attrs(raw, ctx);
    }
}

/// `rate_limit`: L1's FlowSpec rate.
fn rate_limit(raw: &RawLevel, l: Level, ladder: &mut Ladder, ctx: &mut Ctx<'_>) {
    if let Some(r) = &raw.rate_limit {
        if l != Level::L1 {
            ctx.err(r, "rate_limit belongs to l1 (l2 discards)");
        }
        match BitRate::parse(&r.value) {
            Some(v) if v >= 8 => ladder.rate_limit_bps = v,
            _ => ctx.err(r, "a bit rate such as 10Mbps"),
        }
    }
}

/// `prefix_length_v4`/`_v6`: L4's covering prefix.
fn prefix_lengths(raw: &RawLevel, l: Level, ladder: &mut Ladder, ctx: &mut Ctx<'_>) {
    for (v, max, v4) in [
        (&raw.prefix_length_v4, 32, true),
        (&raw.prefix_length_v6, 128, false),
    ] {
        let Some(v) = v else { continue };
        if l != Level::L4 || v.value == 0 || v.value > max {
            ctx.err(
                v,
                "an l4 covering prefix length (1-32 for IPv4, 1-128 for IPv6)",
            );
        } else if v4 {
            ladder.scrub_len_v4 = v.value;
        } else {
            ladder.scrub_len_v6 = v.value;
        }
    }
}

/// L1 and L2 announce FlowSpec: the unicast attributes are refused there.
fn no_unicast_attrs(raw: &RawLevel, ctx: &mut Ctx<'_>) {
    let what = "belongs to l3 (RTBH) and l4 (scrubbing)";
    if let Some(c) = &raw.communities {
        ctx.err(c, &format!("communities {what}"));
    }
    if let Some(c) = &raw.large_communities {
        ctx.err(c, &format!("large_communities {what}"));
    }
    if let Some(c) = &raw.no_export {
        ctx.err(c, &format!("no_export {what}"));
    }
    if let Some(c) = &raw.next_hop {
        ctx.err(c, &format!("next_hop {what}"));
    }
}

/// L3's RTBH and L4's scrubbing route attributes.
fn unicast_attrs(raw: &RawLevel, l: Level, ladder: &mut Ladder, ctx: &mut Ctx<'_>) {
    let attrs: &mut UnicastAttrs = if l == Level::L4 {
        &mut ladder.scrubbing
    } else {
        &mut ladder.rtbh
    };
    if let Some(cs) = &raw.communities {
        attrs.communities.clear();
        for c in &cs.value {
            match community(&c.value) {
                Some(v) => attrs.communities.push(v),
                None => ctx.err(c, "a community such as 64500:666"),
            }
        }
    }
    if let Some(cs) = &raw.large_communities {
        attrs.large_communities.clear();
        for c in &cs.value {
            match large_community(&c.value) {
                Some(v) => attrs.large_communities.push(v),
                None => ctx.err(c, "a large community such as 64500:666:0"),
            }
        }
    }
    if let Some(n) = &raw.no_export {
        attrs.no_export = n.value;
    }
    if let Some(hops) = &raw.next_hop {
        for h in &hops.value {
            match h {
                IpAddr::V4(a) => attrs.next_hop_v4 = Some(*a),
                IpAddr::V6(a) => attrs.next_hop_v6 = Some(*a),
            }
        }
    }
}

fn ladder(raw: &RawLevels, base: &Ladder, ctx: &mut Ctx<'_>) -> Ladder {
    let mut l = base.clone();
    for (r, lv) in [
        (&raw.l1, Level::L1),
        (&raw.l2, Level::L2),
        (&raw.l3, Level::L3),
        (&raw.l4, Level::L4),
    ] {
        level(r, lv, &mut l, ctx);
    }
    l
}

/// A network's ladder: the global one with its overrides.
pub(super) fn network_ladder(
    raw: &RawNetworkMitigation,
    global: &Ladder,
    ctx: &mut Ctx<'_>,
) -> Ladder {
    ladder(&raw.levels, global, ctx)
}

pub(super) fn convert(
    raw: RawMitigation,
    store: RawStore,
    control: RawControl,
    has_bgp: bool,
    ctx: &mut Ctx<'_>,
) -> Mitigation {
    let d = Settings::default();
    let ttl_us = match &raw.ttl {
        Some(t) if t.value.0 < 1_000_000 => {
            ctx.err(t, "a TTL of at least 1s");
            d.ttl_us
        }
        Some(t) if t.value.0 > levee_mitigate::settings::MAX_TTL_US => {
            ctx.err(t, "a TTL of at most 30 days");
            d.ttl_us
        }
        Some(t) => t.value.0,
        None => d.ttl_us,
    };
    let positive = |v: &Option<Spanned<usize>>, dflt: usize, ctx: &mut Ctx<'_>| match v {
        Some(x) if x.value == 0 => {
            ctx.err(x, "a positive number of mitigations");
            dflt
        }
        Some(x) => x.value,
        None => dflt,
    };
    let max_active = positive(&raw.max_active, d.max_active, ctx);
    let max_active_per_network =
        positive(&raw.max_active_per_network, d.max_active_per_network, ctx);
    if let Some(over) = raw.safelist.get(MAX_SAFELIST) {
        ctx.err(
            over,
            &format!(
                "at most {MAX_SAFELIST} safelist entries (this list has {}); \
                 aggregate adjacent prefixes",
                raw.safelist.len()
            ),
        );
    }
    let mut safelist = Vec::with_capacity(raw.safelist.len().min(MAX_SAFELIST));
    for p in raw.safelist.into_iter().take(MAX_SAFELIST) {
        if p.value != p.value.trunc() {
            ctx.err(
                &p,
                &format!(
                    "{} has host bits set; did you mean {}?",
                    p.value,
                    p.value.trunc()
                ),
            );
        }
        safelist.push(p.value.trunc());
    }
    let adapters = super::adapters::convert(
        raw.adapters,
        RawSections {
            exabgp: raw.exabgp,
            gobgp: raw.gobgp,
            bird: raw.bird,
            frr: raw.frr,
            null_route: raw.null_route,
            webhook: raw.webhook,
        },
        has_bgp,
        ctx,
    );
    let global = ladder(&raw.levels, &Ladder::default(), ctx);
    Mitigation {
        settings: Settings {
            dry_run: raw.dry_run,
            ttl_us,
            cooldown_us: raw.cooldown.map_or(d.cooldown_us, |c| c.0),
            deescalate_after_us: raw.deescalate_after.map_or(d.deescalate_after_us, |c| c.0),
            max_active,
            max_active_per_network,
            safelist,
            networks: Vec::new(),
        },
        adapters,
        ladder: global,
        audit_key: store.audit_hmac_key_file.and_then(|f| audit_key(&f, ctx)),
        store: store.path.unwrap_or_else(|| DEFAULT_STORE.into()),
        control_socket: control
            .socket
            .unwrap_or_else(|| DEFAULT_CONTROL_SOCKET.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_and_communities() {
        assert_eq!(
            trigger("100Mbps"),
            Some(Trigger {
                metric: Metric::Bps,
                value: 100_000_000
            })
        );
        assert_eq!(
            trigger("50kpps"),
            Some(Trigger {
                metric: Metric::Pps,
                value: 50_000
            })
        );
        assert_eq!(trigger("1.5 Gbps").map(|t| t.value), Some(1_500_000_000));
        assert_eq!(trigger("fast"), None);
        assert_eq!(community("65535:666"), Some(0xffff_029a));
        assert_eq!(community("65536:1"), None);
        assert_eq!(large_community("64500:1:2"), Some([64500, 1, 2]));
        assert_eq!(large_community("64500:1"), None);
        assert_eq!(large_community("1:2:3:4"), None);
    }
}
