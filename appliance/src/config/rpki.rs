//! The `rpki` section: the RTR caches and the gate's policy.
//!
//! ```yaml
//! rpki:
//!   caches: ["192.0.2.10:3323", "[2001:db8::10]:323"]   # tried in order
//!   policy: enforce          # enforce | warn | off
//!   fail: open               # no data from any cache: open (announce) | closed (refuse)
//!   origin_asns: [64500]     # default: bgp.local_as
//!   connect_timeout: 5s
//! ```
//!
//! Without the section there is no gate.

use super::detection::Ctx;
use super::units::Duration;
use crate::rpki::{Fail, Policy, Settings};
use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRpki {
    caches: Spanned<Vec<Spanned<String>>>,
    policy: Option<Spanned<String>>,
    fail: Option<Spanned<String>>,
    origin_asns: Option<Spanned<Vec<u32>>>,
    connect_timeout: Option<Duration>,
}

/// Checks and types the section; `local_as` is the default origin.
pub(super) fn convert(raw: RawRpki, local_as: Option<u32>, ctx: &mut Ctx<'_>) -> Settings {
    if raw.caches.value.is_empty() {
        ctx.err(&raw.caches, "at least one RTR cache (host:port)");
    }
    let mut caches = Vec::new();
    for c in &raw.caches.value {
        // host:port, [v6]:port; names are resolved when connecting.
        let ok = c
            .value
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !ok {
            ctx.err(c, "an RTR cache as host:port (IPv6: [address]:port)");
        }
        caches.push(c.value.clone());
    }
    let policy = match &raw.policy {
        None => Policy::Enforce,
        Some(p) => match p.value.as_str() {
            "enforce" => Policy::Enforce,
            "warn" => Policy::Warn,
            "off" => Policy::Off,
            _ => {
                ctx.err(p, "enforce, warn or off");
                Policy::Enforce
            }
        },
    };
    let fail = match &raw.fail {
        None => Fail::Open,
        Some(f) => match f.value.as_str() {
            "open" => Fail::Open,
            "closed" => Fail::Closed,
            _ => {
                ctx.err(f, "open or closed");
                Fail::Open
            }
        },
    };
    let origins = match raw.origin_asns {
        Some(o) if o.value.is_empty() || o.value.contains(&0) => {
            ctx.err(&o, "one or more origin ASNs (not 0)");
            Vec::new()
        }
        Some(o) => o.value,
        None => match local_as {
            Some(a) => vec![a],
            None => {
                ctx.err(
                    &raw.caches,
                    "origin_asns (there is no bgp.local_as to default to)",
                );
                Vec::new()
            }
        },
    };
    Settings {
        caches,
        policy,
        fail,
        origins,
        connect_timeout: std::time::Duration::from_micros(
            raw.connect_timeout.map_or(5_000_000, |d| d.0),
        ),
    }
}
