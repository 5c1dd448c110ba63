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
//!
//! Each section's raw form, settings and conversion are its adapter's (in
//! [`crate::adapters`], through [`RawSections`]); this module reads the list.

use crate::adapters::{Adapter, Kind, RawSections};
use crate::yaml::{Ctx, levels};
use levee_mitigate::Levels;
use serde_saphyr::Spanned;

/// The `adapters` list with each adapter's section. Without a list, the native
/// adapter is used when there is a `bgp` section.
pub(super) fn convert(
    list: Option<Vec<Spanned<String>>>,
    mut sections: RawSections,
    has_bgp: bool,
    ctx: &mut Ctx<'_>,
) -> Vec<Adapter> {
    let mut out: Vec<Adapter> = Vec::new();
    let list = list.unwrap_or_else(|| {
        if has_bgp {
            out.push(Adapter {
                kind: Kind::Native,
                levels: Levels::ALL,
            });
        }
        Vec::new()
    });
    for a in list {
        let Some((kind, levels_raw)) = sections.take(&a, ctx) else {
            continue;
        };
        if kind == Kind::Native && !has_bgp {
            ctx.err(&a, "the native adapter needs a bgp section");
            continue;
        }
        if out.iter().any(|o| o.kind.same_adapter(&kind)) {
            ctx.err(&a, "an adapter listed once");
            continue;
        }
        let levels = levels_raw.map_or(Levels::ALL, |l| levels(&l, ctx));
        out.push(Adapter { kind, levels });
    }
    sections.unused(ctx);
    out
}
