//! The adapter sections under `mitigation`: which adapters get routes, and how each
//! reaches its daemon.
//!
//! ```yaml
//! mitigation:
//!   adapters: [native, exabgp, gobgp, bird, frr]
//!   exabgp: {pipe_dir: /run/exabgp, pipe_name: exabgp}
//!   gobgp: {cli: gobgp, host: 127.0.0.1, port: 50051}
//!   bird: {include: /etc/bird/levee.conf, birdc: birdc, socket: /run/bird/bird.ctl,
//!          flow4_table: flowtab4, flow6_table: flowtab6, ipv4_table: master4,
//!          ipv6_table: master6}
//!   frr: {vtysh: vtysh, vty_socket: /var/run/frr, tag: 6660, route_map: LEVEE-RTBH,
//!         asn: 64500}
//!   null_route: {table: 254, protocol: 240}
//!   webhook: {url: "https://scrub.example.net/levee", secret_file: /etc/levee/webhook.secret,
//!             timeout: 5s, attempts: 3, ca_file: /etc/levee/provider-ca.pem, levels: [l4]}
//! ```
//!
//! Every section but native's takes `levels: [l1, l2, l3, l4]`, the escalation levels
//! whose routes the adapter is sent (default: all); the native adapter's levels are its
//! BGP peers' (`bgp.peers[].levels`).

use super::detection::Ctx;
use super::units::Duration;
use crate::adapters::{bird, exabgp, frr, gobgp, null_route, webhook};
use levee_mitigate::{Level, Levels};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::path::PathBuf;

/// An adapter and the levels whose routes it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adapter {
    /// Which adapter, with its settings.
    pub kind: AdapterKind,
    /// Its `levels` (the native adapter's: every level its peers take).
    pub levels: Levels,
}

/// Where mitigations go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdapterKind {
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

impl AdapterKind {
    /// The adapter's name, as in `mitigation.adapters`.
    pub fn name(&self) -> &'static str {
        match self {
            AdapterKind::Native => "native",
            AdapterKind::Exabgp(_) => "exabgp",
            AdapterKind::Gobgp(_) => "gobgp",
            AdapterKind::Bird(_) => "bird",
            AdapterKind::Frr(_) => "frr",
            AdapterKind::NullRoute(_) => "null_route",
            AdapterKind::Webhook(_) => "webhook",
        }
    }

    /// Whether it can carry FlowSpec rules.
    pub fn carries_flowspec(&self) -> bool {
        !matches!(self, AdapterKind::Frr(_) | AdapterKind::NullRoute(_))
    }
}

/// The names `mitigation.adapters` accepts.
const NAMES: &str = "native, exabgp, gobgp, bird, frr, null_route, webhook";

/// A section's `levels` key.
type RawLevelList = Option<Spanned<Vec<Spanned<String>>>>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExabgp {
    #[serde(default)]
    pipe_dir: Option<PathBuf>,
    #[serde(default)]
    pipe_name: Option<Spanned<String>>,
    #[serde(default)]
    levels: RawLevelList,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGobgp {
    #[serde(default)]
    cli: Option<String>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    levels: RawLevelList,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBird {
    #[serde(default)]
    include: Option<PathBuf>,
    #[serde(default)]
    birdc: Option<String>,
    #[serde(default)]
    socket: Option<PathBuf>,
    #[serde(default)]
    flow4_table: Option<String>,
    #[serde(default)]
    flow6_table: Option<String>,
    #[serde(default)]
    ipv4_table: Option<String>,
    #[serde(default)]
    ipv6_table: Option<String>,
    #[serde(default)]
    levels: RawLevelList,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFrr {
    #[serde(default)]
    vtysh: Option<String>,
    #[serde(default)]
    vty_socket: Option<PathBuf>,
    #[serde(default)]
    tag: Option<Spanned<u32>>,
    #[serde(default)]
    route_map: Option<Spanned<String>>,
    #[serde(default)]
    asn: Option<u32>,
    #[serde(default)]
    levels: RawLevelList,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNullRoute {
    #[serde(default)]
    table: Option<Spanned<u32>>,
    #[serde(default)]
    protocol: Option<Spanned<u8>>,
    #[serde(default)]
    levels: RawLevelList,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhook {
    #[serde(default)]
    url: Option<Spanned<String>>,
    #[serde(default)]
    secret: Option<Spanned<String>>,
    #[serde(default)]
    secret_file: Option<Spanned<PathBuf>>,
    #[serde(default)]
    timeout: Option<Spanned<Duration>>,
    #[serde(default)]
    attempts: Option<Spanned<u32>>,
    #[serde(default)]
    ca_file: Option<Spanned<PathBuf>>,
    #[serde(default)]
    levels: RawLevelList,
}

/// The per-adapter sections, as read.
#[derive(Debug, Default)]
pub(super) struct RawSections {
    pub(super) exabgp: Option<Spanned<RawExabgp>>,
    pub(super) gobgp: Option<Spanned<RawGobgp>>,
    pub(super) bird: Option<Spanned<RawBird>>,
    pub(super) frr: Option<Spanned<RawFrr>>,
    pub(super) null_route: Option<Spanned<RawNullRoute>>,
    pub(super) webhook: Option<Spanned<RawWebhook>>,
}

fn exabgp_settings(r: RawExabgp, ctx: &mut Ctx<'_>) -> exabgp::Settings {
    let d = exabgp::Settings::default();
    let pipe_name = match r.pipe_name {
        Some(n) if n.value.is_empty() || n.value.contains(['/', ' ']) => {
            ctx.err(
                &n,
                "a pipe name without '/' or spaces (ExaBGP's exabgp.api.pipename)",
            );
            d.pipe_name
        }
        Some(n) => n.value,
        None => d.pipe_name,
    };
    exabgp::Settings {
        pipe_dir: r.pipe_dir.unwrap_or(d.pipe_dir),
        pipe_name,
    }
}

fn gobgp_settings(r: RawGobgp) -> gobgp::Settings {
    let d = gobgp::Settings::default();
    gobgp::Settings {
        cli: r.cli.unwrap_or(d.cli),
        host: r.host.unwrap_or(d.host),
        port: r.port.unwrap_or(d.port),
    }
}

fn bird_settings(r: RawBird) -> bird::Settings {
    let d = bird::Settings::default();
    let [f4, f6, u4, u6] = d.tables;
    bird::Settings {
        include: r.include.unwrap_or(d.include),
        birdc: r.birdc.unwrap_or(d.birdc),
        socket: r.socket,
        tables: [
            r.flow4_table.unwrap_or(f4),
            r.flow6_table.unwrap_or(f6),
            r.ipv4_table.unwrap_or(u4),
            r.ipv6_table.unwrap_or(u6),
        ],
    }
}

fn frr_settings(r: RawFrr, ctx: &mut Ctx<'_>) -> frr::Settings {
    let d = frr::Settings::default();
    let tag = match r.tag {
        Some(t) if t.value == 0 || t.value > u32::MAX - frr::TAGS => {
            ctx.err(&t, &format!("a tag from 1 to {}", u32::MAX - frr::TAGS));
            d.tag
        }
        Some(t) => t.value,
        None => d.tag,
    };
    let route_map = match r.route_map {
        Some(m) if m.value.is_empty() || m.value.contains(char::is_whitespace) => {
            ctx.err(&m, "a route-map name without spaces");
            d.route_map
        }
        Some(m) => m.value,
        None => d.route_map,
    };
    frr::Settings {
        vtysh: r.vtysh.unwrap_or(d.vtysh),
        vty_socket: r.vty_socket,
        tag,
        route_map,
        asn: r.asn,
    }
}

fn null_route_settings(r: RawNullRoute, ctx: &mut Ctx<'_>) -> null_route::Settings {
    let d = null_route::Settings::default();
    let table = match r.table {
        // 0 is "unspecified"; 253-255 are default, main and local; 252 is compat.
        Some(t) if t.value == 0 || t.value == 255 => {
            ctx.err(
                &t,
                "a routing table from 1 to 4294967295 other than 255 (local)",
            );
            d.table
        }
        Some(t) => t.value,
        None => d.table,
    };
    let protocol = match r.protocol {
        // Below 5 are the kernel's own (RTPROT_KERNEL, RTPROT_BOOT, RTPROT_STATIC...).
        Some(p) if p.value < 5 => {
            ctx.err(
                &p,
                "a route protocol number from 5 to 255 (below 5 are the kernel's)",
            );
            d.protocol
        }
        Some(p) => p.value,
        None => d.protocol,
    };
    null_route::Settings { table, protocol }
}

/// Shortest secret accepted (an HMAC-SHA256 key should have 32 random bytes).
const MIN_SECRET: usize = 16;

fn webhook_settings(
    r: RawWebhook,
    listed: &Spanned<String>,
    ctx: &mut Ctx<'_>,
) -> Option<webhook::Settings> {
    let Some(url) = r.url else {
        ctx.err(
            listed,
            "a webhook section with url and secret_file (or secret)",
        );
        return None;
    };
    let parsed = match reqwest::Url::parse(&url.value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
        Ok(_) => {
            ctx.err(&url, "an http:// or https:// URL with a host");
            return None;
        }
        Err(e) => {
            ctx.err(&url, &format!("a URL ({e})"));
            return None;
        }
    };
    let short =
        format!("a secret of at least {MIN_SECRET} bytes (for example `openssl rand -hex 32`)");
    let secret = match (r.secret, r.secret_file) {
        (Some(s), None) if s.value.len() < MIN_SECRET => {
            ctx.err(&s, &short);
            return None;
        }
        (Some(s), None) => s.value.into_bytes(),
        (None, Some(f)) => match std::fs::read(&f.value) {
            Ok(mut b) => {
                while b.last().is_some_and(u8::is_ascii_whitespace) {
                    b.pop();
                }
                if b.len() < MIN_SECRET {
                    ctx.err(&f, &short);
                    return None;
                }
                b
            }
            Err(e) => {
                ctx.err(&f, &format!("a readable secret file ({e})"));
                return None;
            }
        },
        (Some(s), Some(_)) => {
            ctx.err(&s, "secret or secret_file, not both");
            return None;
        }
        (None, None) => {
            ctx.err(&url, "a secret_file (or secret) next to the url");
            return None;
        }
    };
    let mut st = webhook::Settings::new(parsed, webhook::Secret(secret));
    if let Some(t) = r.timeout {
        if t.value.0 == 0 {
            ctx.err(&t, "a timeout above zero");
        } else {
            st.timeout = std::time::Duration::from_micros(t.value.0);
        }
    }
    if let Some(a) = r.attempts {
        if a.value == 0 || a.value > 10 {
            ctx.err(&a, "1 to 10 attempts");
        } else {
            st.attempts = a.value;
        }
    }
    if let Some(f) = r.ca_file {
        match std::fs::read(&f.value) {
            Ok(pem) if reqwest::Certificate::from_pem_bundle(&pem).is_ok_and(|c| !c.is_empty()) => {
                st.ca_pem = Some(pem)
            }
            Ok(_) => ctx.err(&f, "a file of PEM certificates"),
            Err(e) => ctx.err(&f, &format!("a readable CA file ({e})")),
        }
    }
    Some(st)
}

/// A `levels:` list (`[l1, l2, l3, l4]`): the routes an adapter or a BGP peer carries.
pub(super) fn levels(list: &Spanned<Vec<Spanned<String>>>, ctx: &mut Ctx<'_>) -> Levels {
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

/// The `adapters` list with each adapter's section. Without a list, the native
/// adapter is used when there is a `bgp` section.
pub(super) fn convert(
    list: Option<Vec<Spanned<String>>>,
    sections: RawSections,
    has_bgp: bool,
    ctx: &mut Ctx<'_>,
) -> Vec<Adapter> {
    let RawSections {
        mut exabgp,
        mut gobgp,
        mut bird,
        mut frr,
        mut null_route,
        mut webhook,
    } = sections;
    let mut out: Vec<Adapter> = Vec::new();
    let list = list.unwrap_or_else(|| {
        if has_bgp {
            out.push(Adapter {
                kind: AdapterKind::Native,
                levels: Levels::ALL,
            });
        }
        Vec::new()
    });
    fn take<T: Default>(s: &mut Option<Spanned<T>>) -> T {
        s.take().map(|s| s.value).unwrap_or_default()
    }
    for a in list {
        let mut levels_raw: RawLevelList = None;
        let kind = match a.value.as_str() {
            "native" if !has_bgp => {
                ctx.err(&a, "the native adapter needs a bgp section");
                continue;
            }
            "native" => AdapterKind::Native,
            "exabgp" => {
                let mut r = take(&mut exabgp);
                levels_raw = r.levels.take();
                AdapterKind::Exabgp(exabgp_settings(r, ctx))
            }
            "gobgp" => {
                let mut r = take(&mut gobgp);
                levels_raw = r.levels.take();
                AdapterKind::Gobgp(gobgp_settings(r))
            }
            "bird" => {
                let mut r = take(&mut bird);
                levels_raw = r.levels.take();
                AdapterKind::Bird(bird_settings(r))
            }
            "frr" => {
                let mut r = take(&mut frr);
                levels_raw = r.levels.take();
                AdapterKind::Frr(frr_settings(r, ctx))
            }
            "null_route" => {
                let mut r = take(&mut null_route);
                levels_raw = r.levels.take();
                AdapterKind::NullRoute(null_route_settings(r, ctx))
            }
            "webhook" => {
                let mut r = take(&mut webhook);
                levels_raw = r.levels.take();
                match webhook_settings(r, &a, ctx) {
                    Some(s) => AdapterKind::Webhook(s),
                    None => continue,
                }
            }
            _ => {
                ctx.err(&a, &format!("an adapter: {NAMES}"));
                continue;
            }
        };
        if out.iter().any(|k| k.kind.name() == kind.name()) {
            ctx.err(&a, "an adapter listed once");
            continue;
        }
        let levels = levels_raw.map_or(Levels::ALL, |l| levels(&l, ctx));
        out.push(Adapter { kind, levels });
    }
    let unused = |name: &str| {
        let a = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        format!("{a} {name} section, but {name} is not in mitigation.adapters")
    };
    if let Some(s) = exabgp {
        ctx.err(&s, &unused("exabgp"));
    }
    if let Some(s) = gobgp {
        ctx.err(&s, &unused("gobgp"));
    }
    if let Some(s) = bird {
        ctx.err(&s, &unused("bird"));
    }
    if let Some(s) = frr {
        ctx.err(&s, &unused("frr"));
    }
    if let Some(s) = null_route {
        ctx.err(&s, &unused("null_route"));
    }
    if let Some(s) = webhook {
        ctx.err(&s, &unused("webhook"));
    }
    out
}
