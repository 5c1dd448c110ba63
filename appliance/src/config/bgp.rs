//! The `bgp` section: levee's own BGP speaker and its peers (the routers that take the
//! FlowSpec and RTBH routes), turned into [`levee_bgp::speaker::SpeakerConfig`].
//!
//! ```yaml
//! bgp:
//!   local_as: 64500
//!   router_id: 192.0.2.10
//!   listen: 0.0.0.0:179          # only needed for passive peers
//!   hold_time: 90s
//!   connect_retry: 5s
//!   shutdown: withdraw           # withdraw | cease | keep
//!   shutdown_message: levee is shutting down
//!   peers:
//!     - name: edge1
//!       address: 192.0.2.1
//!       remote_as: 64500
//!       families: [ipv4-flowspec, ipv6-flowspec, ipv4-unicast, ipv6-unicast]
//!       md5_password: s3cret
//!       ttl_security: 1
//!       levels: [l1, l2, l3]     # the escalation levels this router is sent (default all)
//!     - name: scrubbing          # a scrubbing provider's session takes the L4 diversion
//!       address: 203.0.113.1
//!       remote_as: 64511
//!       families: [ipv4-unicast, ipv6-unicast]
//!       levels: [l4]
//! ```

use super::detection::Ctx;
use super::units::Duration;
use levee_bgp::message::Family;
use levee_bgp::speaker::{Groups, PeerConfig, ShutdownPolicy, SpeakerConfig};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The speaker, and how it ends its sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bgp {
    /// Our AS (peers may override it per session).
    pub local_as: u32,
    /// Listener and peers.
    pub speaker: SpeakerConfig,
    /// What `levee` does with its routes when it stops.
    pub shutdown: ShutdownPolicy,
    /// The shutdown communication (RFC 9003), for a policy chosen on the command line.
    pub shutdown_message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBgp {
    local_as: Spanned<u32>,
    router_id: Ipv4Addr,
    listen: Option<SocketAddr>,
    hold_time: Option<Spanned<Duration>>,
    connect_retry: Option<Spanned<Duration>>,
    shutdown: Option<Spanned<String>>,
    shutdown_message: Option<String>,
    #[serde(default)]
    peers: Vec<RawPeer>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPeer {
    name: Spanned<String>,
    address: Spanned<IpAddr>,
    port: Option<u16>,
    remote_as: Spanned<u32>,
    local_as: Option<u32>,
    local_address: Option<IpAddr>,
    #[serde(default)]
    passive: bool,
    families: Option<Spanned<Vec<Spanned<String>>>>,
    md5_password: Option<Spanned<String>>,
    md5_password_file: Option<Spanned<std::path::PathBuf>>,
    ttl_security: Option<Spanned<u8>>,
    hold_time: Option<Spanned<Duration>>,
    connect_retry: Option<Spanned<Duration>>,
    graceful_restart: Option<Spanned<Duration>>,
    max_prefixes: Option<usize>,
    next_hop: Option<IpAddr>,
    levels: Option<Spanned<Vec<Spanned<String>>>>,
}

const DEFAULT_HOLD: std::time::Duration = std::time::Duration::from_secs(90);
const DEFAULT_RETRY: std::time::Duration = std::time::Duration::from_secs(5);
/// The shutdown communication when `bgp.shutdown_message` is not set.
pub const DEFAULT_SHUTDOWN_MESSAGE: &str = "levee is shutting down";

/// A shutdown policy by name (`withdraw`, `cease`, `keep`), with its message.
pub fn shutdown_policy(name: &str, message: &str) -> Option<ShutdownPolicy> {
    Some(match name {
        "withdraw" => ShutdownPolicy::Withdraw(message.into()),
        "cease" => ShutdownPolicy::Cease(message.into()),
        "keep" => ShutdownPolicy::Keep,
        _ => return None,
    })
}
const DEFAULT_MAX_PREFIXES: usize = 10_000;

/// The `bgp` section turned into the speaker's config; errors go to `ctx`.
pub(super) fn convert(raw: RawBgp, ctx: &mut Ctx<'_>) -> Option<Bgp> {
    check_local_as(&raw.local_as, ctx);
    let hold_time = hold(raw.hold_time.as_ref(), ctx, DEFAULT_HOLD);
    let connect_retry = retry(raw.connect_retry.as_ref(), ctx, DEFAULT_RETRY);
    let shutdown_message = raw
        .shutdown_message
        .unwrap_or_else(|| DEFAULT_SHUTDOWN_MESSAGE.into());
    let shutdown = shutdown(raw.shutdown.as_ref(), &shutdown_message, ctx);
    let inherited = Inherited {
        local_as: raw.local_as.value,
        router_id: raw.router_id,
        hold_time,
        connect_retry,
    };
    let mut peers: Vec<PeerConfig> = Vec::new();
    for p in raw.peers {
        let peer = peer(p, &inherited, &peers, ctx);
        peers.push(peer);
    }
    let listen = listen(raw.listen, &peers);
    Some(Bgp {
        local_as: raw.local_as.value,
        speaker: SpeakerConfig { listen, peers },
        shutdown,
        shutdown_message,
    })
}

/// What a peer takes from the `bgp` section unless it sets its own.
#[derive(Debug)]
struct Inherited {
    local_as: u32,
    router_id: Ipv4Addr,
    hold_time: std::time::Duration,
    connect_retry: std::time::Duration,
}

/// Refuses AS 0 and AS_TRANS as levee's own AS.
fn check_local_as(local_as: &Spanned<u32>, ctx: &mut Ctx<'_>) {
    if local_as.value == 0 || local_as.value == 23456 {
        ctx.err(
            local_as,
            "AS 0 and AS_TRANS (23456) cannot be used as levee's AS",
        );
    }
}

/// A hold time key (if given; `dflt` when not): 0, or 3 s to 65535 s.
fn hold(
    d: Option<&Spanned<Duration>>,
    ctx: &mut Ctx<'_>,
    dflt: std::time::Duration,
) -> std::time::Duration {
    let Some(d) = d else { return dflt };
    let s = d.value.secs();
    if s != 0 && s < 3 || s > 65535 {
        ctx.err(
            d,
            "a hold time is 0 (no keepalives) or 3 s to 65535 s (RFC 4271 §4.2)",
        );
    }
    std::time::Duration::from_secs(s)
}

/// A connect-retry key (if given; `dflt` when not): at least 100 ms.
fn retry(
    d: Option<&Spanned<Duration>>,
    ctx: &mut Ctx<'_>,
    dflt: std::time::Duration,
) -> std::time::Duration {
    let Some(d) = d else { return dflt };
    if d.value.0 < 100_000 {
        ctx.err(d, "a connect-retry interval of at least 100ms");
    }
    std::time::Duration::from_micros(d.value.0)
}

/// The `shutdown` key with its message (`withdraw` when not given or not known).
fn shutdown(s: Option<&Spanned<String>>, message: &str, ctx: &mut Ctx<'_>) -> ShutdownPolicy {
    match s {
        None => ShutdownPolicy::Withdraw(message.into()),
        Some(s) => shutdown_policy(&s.value, message).unwrap_or_else(|| {
            ctx.err(s, "one of withdraw, cease or keep");
            ShutdownPolicy::Withdraw(message.into())
        }),
    }
}

/// One peer, checked against the peers converted before it (`earlier`).
fn peer(
    p: RawPeer,
    inherited: &Inherited,
    earlier: &[PeerConfig],
    ctx: &mut Ctx<'_>,
) -> PeerConfig {
    let name = p.name.value.trim().to_string();
    check_unique(&p, &name, earlier, ctx);
    let families = families(p.families.as_ref(), ctx);
    check_session(&p, ctx);
    let md5_password = md5_password(&p, ctx);
    let (next_hop_v4, next_hop_v6) = next_hops(p.next_hop);
    let export = export(p.levels.as_ref(), ctx);
    PeerConfig {
        name,
        address: p.address.value,
        port: p.port.unwrap_or(179),
        local_address: p.local_address,
        local_as: p.local_as.unwrap_or(inherited.local_as),
        remote_as: p.remote_as.value,
        router_id: inherited.router_id,
        hold_time: hold(p.hold_time.as_ref(), ctx, inherited.hold_time),
        connect_retry: retry(p.connect_retry.as_ref(), ctx, inherited.connect_retry),
        families,
        passive: p.passive,
        md5_password,
        ttl_security: p.ttl_security.map(|t| t.value),
        graceful_restart: p
            .graceful_restart
            .map(|g| std::time::Duration::from_secs(g.value.secs().min(4095))),
        max_prefixes: p.max_prefixes.unwrap_or(DEFAULT_MAX_PREFIXES),
        next_hop_v4,
        next_hop_v6,
        export,
    }
}

/// A peer's name (trimmed: `name`) is given and used once; its address is listed once.
fn check_unique(p: &RawPeer, name: &str, earlier: &[PeerConfig], ctx: &mut Ctx<'_>) {
    if name.is_empty() {
        ctx.err(&p.name, "a peer needs a name");
    } else if earlier.iter().any(|o| o.name == name) {
        ctx.err(&p.name, &format!("peer name {name:?} is used twice"));
    }
    if earlier.iter().any(|o| o.address == p.address.value) {
        ctx.err(
            &p.address,
            &format!("peer {} is listed twice", p.address.value),
        );
    }
}

/// A peer's `families` (all four when not given), each known and listed once.
fn families(list: Option<&Spanned<Vec<Spanned<String>>>>, ctx: &mut Ctx<'_>) -> Vec<Family> {
    let Some(list) = list else {
        return vec![
            Family::IPV4_FLOWSPEC,
            Family::IPV6_FLOWSPEC,
            Family::IPV4_UNICAST,
            Family::IPV6_UNICAST,
        ];
    };
    if list.value.is_empty() {
        ctx.err(list, "at least one family");
    }
    let mut families = Vec::new();
    for f in &list.value {
        match Family::from_name(&f.value) {
            Some(x) if !families.contains(&x) => families.push(x),
            Some(_) => ctx.err(f, "a family listed once"),
            None => ctx.err(
                f,
                "ipv4-flowspec, ipv6-flowspec, ipv4-unicast or ipv6-unicast",
            ),
        }
    }
    families
}

/// A peer's TCP MD5 password, TTL security hops and remote AS.
fn check_session(p: &RawPeer, ctx: &mut Ctx<'_>) {
    if let Some(k) = &p.md5_password
        && (k.value.is_empty() || k.value.len() > levee_bgp::speaker::sys::MD5_MAX_KEY)
    {
        ctx.err(k, "a TCP MD5 password of 1 to 80 characters");
    }
    if let Some(t) = &p.ttl_security
        && t.value == 0
    {
        ctx.err(
            t,
            "the number of hops to the peer (1 for a direct neighbour)",
        );
    }
    if p.remote_as.value == 0 {
        ctx.err(&p.remote_as, "the peer's AS number");
    }
}

/// The TCP MD5 key: `md5_password`, or the first line of `md5_password_file` (so the
/// key need not sit in the config), never both.
fn md5_password(p: &RawPeer, ctx: &mut Ctx<'_>) -> Option<String> {
    let Some(f) = &p.md5_password_file else {
        return p.md5_password.as_ref().map(|k| k.value.clone());
    };
    if p.md5_password.is_some() {
        ctx.err(f, "md5_password or md5_password_file, not both");
        return None;
    }
    match std::fs::read_to_string(&f.value) {
        Ok(text) => {
            let key = text.lines().next().unwrap_or("").trim_end().to_string();
            if key.is_empty() || key.len() > levee_bgp::speaker::sys::MD5_MAX_KEY {
                ctx.err(
                    f,
                    "a file whose first line is a TCP MD5 password of 1 to 80 characters",
                );
                return None;
            }
            Some(key)
        }
        Err(e) => {
            ctx.err(f, &format!("a readable file ({}: {e})", f.value.display()));
            None
        }
    }
}

/// A peer's `next_hop`, as the IPv4 or the IPv6 next hop.
fn next_hops(next_hop: Option<IpAddr>) -> (Option<Ipv4Addr>, Option<Ipv6Addr>) {
    match next_hop {
        Some(IpAddr::V4(a)) => (Some(a), None),
        Some(IpAddr::V6(a)) => (None, Some(a)),
        None => (None, None),
    }
}

/// The export groups of a peer's `levels` (all levels when not given).
fn export(levels: Option<&Spanned<Vec<Spanned<String>>>>, ctx: &mut Ctx<'_>) -> Groups {
    let levels = match levels {
        Some(l) => crate::yaml::levels(l, ctx),
        None => levee_mitigate::Levels::ALL,
    };
    Groups(u32::from(levels.bits()))
}

/// The `listen` address; a passive peer needs one, so it defaults to `[::]:179` then.
fn listen(listen: Option<SocketAddr>, peers: &[PeerConfig]) -> Option<SocketAddr> {
    listen.or_else(|| {
        peers
            .iter()
            .any(|p| p.passive)
            .then(|| SocketAddr::from(([0u16; 8], 179)))
    })
}
