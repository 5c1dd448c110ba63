//! The local null-route adapter: each RTBH route (a unicast route carrying BLACKHOLE,
//! 65535:666, RFC 7999) becomes a Linux `blackhole` route on this host, through
//! rtnetlink (`RTM_NEWROUTE`/`RTM_DELROUTE`, RFC 3549). For a host that forwards the
//! traffic itself (a Linux router, or levee on the edge box), or as a last resort when
//! no router is reachable.
//!
//! levee marks its routes with its own route protocol number (`protocol`, default 240;
//! `ip route show proto 240`) in the configured table, so it can tell them apart from
//! everything else there. Reconciling dumps that table: levee's blackhole routes that
//! no mitigation holds are deleted, missing ones added. FlowSpec rules and unicast
//! routes without BLACKHOLE (the L4 diversion of a whole prefix) are not this
//! adapter's: it passes over them and counts them in its status.

use super::{AdapterError, Backend, Change, Report};
use crate::yaml::{Ctx, LevelList};
use futures_util::StreamExt;
use ipnet::IpNet;
use levee_bgp::rib::Nlri;
use levee_mitigate::Levels;
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteType,
};
use rtnetlink::{Handle, RouteMessageBuilder};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use tokio::sync::mpsc::UnboundedSender;

/// BLACKHOLE (RFC 7999).
const BLACKHOLE: u32 = 0xFFFF_029A;

/// Where levee's null routes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The routing table (254: main).
    pub table: u32,
    /// The route protocol number that marks levee's routes.
    pub protocol: u8,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            table: 254,
            protocol: 240,
        }
    }
}

/// The `mitigation.null_route` section, as read:
/// `null_route: {table: 254, protocol: 240, levels: [l3, l4]}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Raw {
    table: Option<Spanned<u32>>,
    protocol: Option<Spanned<u8>>,
    #[serde(default)]
    pub(super) levels: LevelList,
}

impl Settings {
    /// The settings of a section (defaults for the keys it leaves out).
    pub(crate) fn from_raw(r: Raw, ctx: &mut Ctx<'_>) -> Settings {
        let d = Settings::default();
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
        Settings { table, protocol }
    }
}

/// Starts the adapter's task for the routes of `levels`, reporting to `reports`.
pub fn start(
    settings: &Settings,
    levels: Levels,
    reports: UnboundedSender<Report>,
) -> super::Handle {
    super::Handle::spawn(NullRoute::new(*settings), levels, reports)
}

/// The adapter.
#[derive(Debug)]
pub struct NullRoute {
    settings: Settings,
    handle: Option<Handle>,
    /// The null routes levee holds in the kernel (as of the last apply or reconcile).
    held: BTreeSet<IpNet>,
    passed: u64,
    last: String,
}

impl NullRoute {
    /// An adapter writing to `settings.table`.
    pub fn new(settings: Settings) -> NullRoute {
        NullRoute {
            settings,
            handle: None,
            held: BTreeSet::new(),
            passed: 0,
            last: "not connected yet".into(),
        }
    }

    /// The rtnetlink handle, connecting on first use.
    fn handle(&mut self) -> Result<Handle, AdapterError> {
        if let Some(h) = &self.handle {
            return Ok(h.clone());
        }
        let (conn, handle, _) = rtnetlink::new_connection()
            .map_err(|e| AdapterError(format!("netlink socket: {e}")))?;
        tokio::spawn(conn);
        self.handle = Some(handle.clone());
        Ok(handle)
    }

    fn message(&self, p: IpNet) -> RouteMessage {
        match p {
            IpNet::V4(n) => self.owned(
                RouteMessageBuilder::<Ipv4Addr>::new()
                    .destination_prefix(n.network(), n.prefix_len()),
            ),
            IpNet::V6(n) => self.owned(
                RouteMessageBuilder::<Ipv6Addr>::new()
                    .destination_prefix(n.network(), n.prefix_len()),
            ),
        }
    }

    /// A blackhole route in levee's table with levee's protocol.
    fn owned<T>(&self, b: RouteMessageBuilder<T>) -> RouteMessage {
        b.table_id(self.settings.table)
            .protocol(RouteProtocol::from(self.settings.protocol))
            .kind(RouteType::BlackHole)
            .build()
    }

    async fn add(&mut self, p: IpNet) -> Result<(), AdapterError> {
        let h = self.handle()?;
        h.route()
            .add(self.message(p))
            .replace()
            .execute()
            .await
            .map_err(|e| netlink_error("adding blackhole", p, &e))
    }

    async fn del(&mut self, p: IpNet) -> Result<(), AdapterError> {
        let h = self.handle()?;
        match h.route().del(self.message(p)).execute().await {
            Ok(()) => Ok(()),
            // Already gone: a withdrawal is idempotent.
            Err(rtnetlink::Error::NetlinkError(m)) if m.raw_code() == -libc::ESRCH => Ok(()),
            Err(e) => Err(netlink_error("deleting blackhole", p, &e)),
        }
    }

    /// levee's blackhole routes in its table now.
    async fn dump(&mut self) -> Result<BTreeSet<IpNet>, AdapterError> {
        let h = self.handle()?;
        let mut out = BTreeSet::new();
        for family in [
            RouteMessageBuilder::<Ipv4Addr>::new().build(),
            RouteMessageBuilder::<Ipv6Addr>::new().build(),
        ] {
            let mut routes = h.route().get(family).execute();
            while let Some(r) = routes.next().await {
                let r = r.map_err(|e| AdapterError(format!("netlink route dump: {e}")))?;
                if let Some(p) = self.ours(&r) {
                    out.insert(p);
                }
            }
        }
        Ok(out)
    }

    /// The destination of `r` if it is one of levee's null routes.
    fn ours(&self, r: &RouteMessage) -> Option<IpNet> {
        let table = r
            .attributes
            .iter()
            .find_map(|a| match a {
                RouteAttribute::Table(t) => Some(*t),
                _ => None,
            })
            .unwrap_or(u32::from(r.header.table));
        if r.header.protocol != RouteProtocol::from(self.settings.protocol)
            || r.header.kind != RouteType::BlackHole
            || table != self.settings.table
        {
            return None;
        }
        let len = r.header.destination_prefix_length;
        let addr: IpAddr = r.attributes.iter().find_map(|a| match a {
            RouteAttribute::Destination(RouteAddress::Inet(a)) => Some(IpAddr::V4(*a)),
            RouteAttribute::Destination(RouteAddress::Inet6(a)) => Some(IpAddr::V6(*a)),
            _ => None,
        })?;
        IpNet::new(addr, len).ok()
    }

    fn note(&mut self, r: &Result<(), AdapterError>) {
        self.last = match r {
            Ok(()) => {
                let mut s = format!(
                    "{} blackhole routes in table {} (proto {})",
                    self.held.len(),
                    self.settings.table,
                    self.settings.protocol
                );
                if self.passed > 0 {
                    s.push_str(&format!(
                        "; {} changes that are not RTBH passed over",
                        self.passed
                    ));
                }
                s
            }
            Err(e) => e.0.clone(),
        };
    }
}

/// The prefix of an RTBH change, or `None` for what this adapter does not carry.
fn rtbh(c: &Change) -> Option<IpNet> {
    let Nlri::Unicast(p) = &c.nlri else {
        return None;
    };
    let blackhole = match &c.attrs {
        Some(a) => a.communities.contains(&BLACKHOLE),
        // Withdrawals carry no attributes: a host route may be levee's null route.
        None => p.len == if p.addr.is_ipv4() { 32 } else { 128 },
    };
    blackhole.then(|| IpNet::new(p.addr, p.len).ok()).flatten()
}

fn netlink_error(what: &str, p: IpNet, e: &rtnetlink::Error) -> AdapterError {
    let why = match e {
        rtnetlink::Error::NetlinkError(m) if m.raw_code() == -libc::EPERM => {
            "operation not permitted (levee needs CAP_NET_ADMIN)".to_string()
        }
        rtnetlink::Error::NetlinkError(m) => m.to_io().to_string(),
        other => other.to_string(),
    };
    AdapterError(format!("{what} {p}: {why}"))
}

impl Backend for NullRoute {
    fn name(&self) -> String {
        "null_route".into()
    }

    async fn apply(&mut self, changes: &[Change]) -> Result<(), AdapterError> {
        let mut r = Ok(());
        for c in changes {
            let Some(p) = rtbh(c) else {
                self.passed += 1;
                continue;
            };
            r = if c.attrs.is_some() {
                self.add(p).await.map(|()| {
                    self.held.insert(p);
                })
            } else {
                self.del(p).await.map(|()| {
                    self.held.remove(&p);
                })
            };
            if r.is_err() {
                break;
            }
        }
        self.note(&r);
        r
    }

    async fn reconcile(
        &mut self,
        desired: &[Change],
        _stale: &[Change],
    ) -> Result<(), AdapterError> {
        let want: BTreeSet<IpNet> = desired.iter().filter_map(rtbh).collect();
        let r = async {
            let have = self.dump().await?;
            for p in have.difference(&want) {
                self.del(*p).await?;
            }
            for p in want.difference(&have) {
                self.add(*p).await?;
            }
            Ok(())
        }
        .await;
        if r.is_ok() {
            self.held = want;
        }
        self.note(&r);
        r
    }

    fn describe(&self) -> String {
        self.last.clone()
    }

    async fn stop(self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use levee_bgp::rib::RouteText;
    use levee_mitigate::Levels;

    fn change(text: &str, announce: bool) -> Change {
        let r: RouteText = text.parse().unwrap();
        if announce {
            Change::announce(1, &r, Levels::ALL)
        } else {
            Change::withdraw(1, &r, Levels::ALL)
        }
    }

    #[test]
    fn only_rtbh_routes_are_null_routed() {
        let p = |s: &str| Some(s.parse::<IpNet>().unwrap());
        assert_eq!(
            rtbh(&change("route 192.0.2.7/32 community 65535:666", true)),
            p("192.0.2.7/32")
        );
        assert_eq!(
            rtbh(&change("route 2001:db8::7/128 blackhole", true)),
            p("2001:db8::7/128")
        );
        // The L4 diversion of a /24 is not a blackhole; FlowSpec is not this adapter's.
        assert_eq!(
            rtbh(&change("route 192.0.2.0/24 community 64500:1", true)),
            None
        );
        assert_eq!(
            rtbh(&change("flow destination 192.0.2.7/32 then discard", true)),
            None
        );
        assert_eq!(
            rtbh(&change("route 192.0.2.7/32 blackhole", false)),
            p("192.0.2.7/32")
        );
        assert_eq!(rtbh(&change("route 192.0.2.0/24", false)), None);
    }
}
