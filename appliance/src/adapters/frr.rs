//! The FRR adapter: RTBH only. Each unicast mitigation route becomes a static route in
//! FRR's staticd, `ip route 192.0.2.7/32 blackhole tag T` (`ipv6 route` for IPv6),
//! configured through vtysh. A route-map, `LEVEE-RTBH` by default, matches each tag
//! and sets that route's communities, large communities and next hop, and
//! `redistribute static route-map LEVEE-RTBH` in `router bgp` sends the routes to the
//! peers. Routes with the same attributes share a tag; tags come from a range levee
//! owns (`tag` to `tag + 999`), which is how reconciliation tells levee's static routes
//! from the operator's.
//!
//! FRR cannot originate FlowSpec: the config check refuses an FRR-only setup whose
//! ladder has FlowSpec levels, and with other adapters present FlowSpec rules are left
//! to them.

use super::{AdapterError, Backend, Change, Handle, Report, process};
use crate::yaml::{Ctx, LevelList};
use levee_bgp::rib::{Attrs, IpPrefix, Nlri};
use levee_mitigate::Levels;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use tokio::sync::mpsc::UnboundedSender;

/// How many tags levee may use, from [`Settings::tag`].
pub const TAGS: u32 = 1000;

/// How to reach FRR and what to call things.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The `vtysh` program.
    pub vtysh: String,
    /// vtysh's socket directory (`None`: FRR's default).
    pub vty_socket: Option<PathBuf>,
    /// The first tag of levee's range.
    pub tag: u32,
    /// The route-map levee maintains.
    pub route_map: String,
    /// The BGP AS of `router bgp` (`None`: read from the running config).
    pub asn: Option<u32>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            vtysh: "vtysh".into(),
            vty_socket: None,
            tag: 6660,
            route_map: "LEVEE-RTBH".into(),
            asn: None,
        }
    }
}

/// The `mitigation.frr` section, as read: `frr: {vtysh: vtysh, vty_socket: /var/run/frr,
/// tag: 6660, route_map: LEVEE-RTBH, asn: 64500, levels: [l3, l4]}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Raw {
    vtysh: Option<String>,
    vty_socket: Option<PathBuf>,
    tag: Option<Spanned<u32>>,
    route_map: Option<Spanned<String>>,
    asn: Option<u32>,
    #[serde(default)]
    pub(super) levels: LevelList,
}

impl Settings {
    /// The settings of a section (defaults for the keys it leaves out).
    pub(crate) fn from_raw(r: Raw, ctx: &mut Ctx<'_>) -> Settings {
        let d = Settings::default();
        let tag = match r.tag {
            Some(t) if t.value == 0 || t.value > u32::MAX - TAGS => {
                ctx.err(&t, &format!("a tag from 1 to {}", u32::MAX - TAGS));
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
        Settings {
            vtysh: r.vtysh.unwrap_or(d.vtysh),
            vty_socket: r.vty_socket,
            tag,
            route_map,
            asn: r.asn,
        }
    }
}

/// Starts the adapter's task for the routes of `levels`, reporting to `reports`.
pub fn start(settings: &Settings, levels: Levels, reports: UnboundedSender<Report>) -> Handle {
    Handle::spawn(Frr::new(settings.clone()), levels, reports)
}

/// The adapter.
#[derive(Debug)]
pub struct Frr {
    settings: Settings,
    /// Attribute sets and their tags, as configured in the route-map.
    tags: BTreeMap<Attrs, u32>,
    /// Whether the `redistribute` lines are in place.
    redistributing: bool,
    skipped_flowspec: u64,
    last: String,
}

impl Frr {
    /// An adapter for the FRR that vtysh reaches.
    pub fn new(settings: Settings) -> Frr {
        Frr {
            settings,
            tags: BTreeMap::new(),
            redistributing: false,
            skipped_flowspec: 0,
            last: "not contacted yet".into(),
        }
    }

    async fn vtysh(&mut self, lines: &[String]) -> Result<String, AdapterError> {
        let mut args = Vec::new();
        if let Some(d) = &self.settings.vty_socket {
            args.extend(["--vty_socket".to_string(), d.display().to_string()]);
        }
        for l in lines {
            args.extend(["-c".to_string(), l.clone()]);
        }
        let r = process::run(&self.settings.vtysh, &args)
            .await
            .and_then(|out| {
                // vtysh reports a rejected line on stdout and may still exit 0.
                match out.lines().find(|l| {
                    let l = l.trim_start();
                    l.starts_with('%') || l.contains("Unknown command")
                }) {
                    Some(bad) => Err(AdapterError(format!("vtysh: {}", bad.trim()))),
                    None => Ok(out),
                }
            });
        if let Err(e) = &r {
            self.last = e.0.clone();
        }
        r
    }

    /// The AS of `router bgp`, from the settings or the running config.
    async fn asn(&mut self) -> Result<u32, AdapterError> {
        if let Some(a) = self.settings.asn {
            return Ok(a);
        }
        let conf = self.vtysh(&["show running-config".into()]).await?;
        let asn = bgp_asn(&conf)
            .ok_or_else(|| AdapterError("FRR has no `router bgp` to redistribute into".into()))?;
        self.settings.asn = Some(asn);
        Ok(asn)
    }

    /// The tag for an attribute set, adding its route-map entry if new. A set's tag
    /// is a hash of its route-map lines within levee's range (the next free one on a
    /// collision), so the same attributes get the same tag after a restart.
    fn tag_for(&mut self, a: &Attrs, config: &mut Vec<String>) -> Result<u32, AdapterError> {
        if let Some(t) = self.tags.get(a) {
            return Ok(*t);
        }
        let used: BTreeSet<u32> = self.tags.values().copied().collect();
        let start = fnv1a(&set_lines(a).join("\n")) % TAGS;
        let t = (0..TAGS)
            .map(|i| self.settings.tag + (start + i) % TAGS)
            .find(|t| !used.contains(t))
            .ok_or_else(|| {
                AdapterError(format!("more than {TAGS} distinct RTBH attribute sets"))
            })?;
        config.extend(route_map_entry(&self.settings, t, a));
        self.tags.insert(a.clone(), t);
        Ok(t)
    }

    /// `router bgp ASN` with `redistribute static route-map` for both families.
    async fn redistribute(&mut self, config: &mut Vec<String>) -> Result<(), AdapterError> {
        let asn = self.asn().await?;
        config.push(format!("router bgp {asn}"));
        for af in ["ipv4", "ipv6"] {
            config.push(format!("address-family {af} unicast"));
            config.push(format!(
                "redistribute static route-map {}",
                self.settings.route_map
            ));
            config.push("exit-address-family".into());
        }
        config.push("exit".into());
        Ok(())
    }

    /// Applies static-route changes in one vtysh call.
    async fn configure(
        &mut self,
        changes: &[(IpPrefix, Option<Attrs>)],
    ) -> Result<(), AdapterError> {
        let mut config = vec!["configure terminal".to_string()];
        if !self.redistributing {
            self.redistribute(&mut config).await?;
        }
        for (p, a) in changes {
            let line = match a {
                Some(a) => format!("{} tag {}", static_route(p), self.tag_for(a, &mut config)?),
                None => format!("no {}", static_route(p)),
            };
            config.push(line);
        }
        self.vtysh(&config).await?;
        self.redistributing = true;
        self.last = format!("{} RTBH attribute sets configured in FRR", self.tags.len());
        Ok(())
    }
}

/// The AS of the default VRF's `router bgp` in a running config.
fn bgp_asn(conf: &str) -> Option<u32> {
    conf.lines()
        .filter_map(|l| l.strip_prefix("router bgp "))
        .find(|rest| !rest.contains("vrf"))
        .and_then(|rest| rest.trim().parse().ok())
}

/// `ip route P blackhole` / `ipv6 route P blackhole`.
fn static_route(p: &IpPrefix) -> String {
    let ip = if p.addr.is_ipv4() { "ip" } else { "ipv6" };
    format!("{ip} route {p} blackhole")
}

/// The route-map entry that gives tag `t` the attributes `a`.
fn route_map_entry(s: &Settings, t: u32, a: &Attrs) -> Vec<String> {
    let mut v = vec![
        format!("route-map {} permit {}", s.route_map, t - s.tag + 1),
        format!("match tag {t}"),
    ];
    v.extend(set_lines(a));
    v.push("exit".into());
    v
}

/// FNV-1a, 32 bits: a hash that is the same in every build.
fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The `set` lines that give a route the attributes `a`.
fn set_lines(a: &Attrs) -> Vec<String> {
    let mut v = Vec::new();
    if !a.communities.is_empty() {
        let cs: Vec<String> = a
            .communities
            .iter()
            .map(|c| match *c {
                0xffff_ff01 => "no-export".into(),
                c => format!("{}:{}", c >> 16, c & 0xffff),
            })
            .collect();
        v.push(format!("set community {}", cs.join(" ")));
    }
    if !a.large_communities.is_empty() {
        let cs: Vec<String> = a
            .large_communities
            .iter()
            .map(|[x, y, z]| format!("{x}:{y}:{z}"))
            .collect();
        v.push(format!("set large-community {}", cs.join(" ")));
    }
    match a.next_hop {
        Some(std::net::IpAddr::V4(nh)) => v.push(format!("set ip next-hop {nh}")),
        Some(std::net::IpAddr::V6(nh)) => v.push(format!("set ipv6 next-hop global {nh}")),
        None => {}
    }
    if let Some(m) = a.med {
        v.push(format!("set metric {m}"));
    }
    if let Some(l) = a.local_pref {
        v.push(format!("set local-preference {l}"));
    }
    v
}

/// The sequence numbers of `route-map NAME permit N` entries in a running config.
fn route_map_entries(conf: &str, name: &str) -> BTreeSet<u32> {
    conf.lines()
        .filter_map(|l| {
            l.strip_prefix("route-map ")?
                .strip_prefix(name)?
                .strip_prefix(" permit ")
        })
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

/// levee's static routes in a running config: prefix and tag, for tags in its range.
pub(crate) fn owned_routes(conf: &str, s: &Settings) -> BTreeMap<IpPrefix, u32> {
    let mut out = BTreeMap::new();
    for l in conf.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        let (["ip", "route", p, "blackhole", rest @ ..]
        | ["ipv6", "route", p, "blackhole", rest @ ..]) = w.as_slice()
        else {
            continue;
        };
        let tag = rest
            .windows(2)
            .find(|x| x[0] == "tag")
            .and_then(|x| x[1].parse::<u32>().ok());
        let Some(tag) = tag.filter(|t| (s.tag..s.tag + TAGS).contains(t)) else {
            continue;
        };
        if let Ok(net) = p.parse::<ipnet::IpNet>()
            && let Some(p) = IpPrefix::new(net.addr(), net.prefix_len())
        {
            out.insert(p, tag);
        }
    }
    out
}

impl Backend for Frr {
    fn name(&self) -> String {
        "frr".into()
    }

    async fn apply(&mut self, changes: &[Change]) -> Result<(), AdapterError> {
        let mut todo = Vec::new();
        for c in changes {
            match &c.nlri {
                Nlri::Unicast(p) => todo.push((*p, c.attrs.clone())),
                Nlri::Flow(_) => self.skipped_flowspec += 1,
            }
        }
        if todo.is_empty() {
            return Ok(());
        }
        self.configure(&todo).await
    }

    async fn reconcile(
        &mut self,
        desired: &[Change],
        _stale: &[Change],
    ) -> Result<(), AdapterError> {
        let conf = self.vtysh(&["show running-config".into()]).await?;
        let held = owned_routes(&conf, &self.settings);
        // The config just read also names the AS, so `redistribute` need not read it again.
        if self.settings.asn.is_none() {
            self.settings.asn = bgp_asn(&conf);
        }
        let entries = route_map_entries(&conf, &self.settings.route_map);
        // Route-map entries are (re)written first, routes move to their tags, then what
        // nothing uses goes: no route is without its attributes in between.
        let mut config = vec!["configure terminal".to_string()];
        self.tags.clear();
        let mut wanted = BTreeMap::new();
        for c in desired {
            if let (Nlri::Unicast(p), Some(a)) = (&c.nlri, &c.attrs) {
                wanted.insert(*p, self.tag_for(a, &mut config)?);
            }
        }
        self.redistribute(&mut config).await?;
        for (p, t) in &wanted {
            if held.get(p) != Some(t) {
                config.push(format!("{} tag {t}", static_route(p)));
            }
        }
        let orphans: Vec<&IpPrefix> = held.keys().filter(|p| !wanted.contains_key(p)).collect();
        if !orphans.is_empty() {
            tracing::info!(
                routes = orphans.len(),
                "frr: removing static routes no mitigation holds"
            );
        }
        for p in orphans {
            config.push(format!("no {}", static_route(p)));
        }
        let in_use: BTreeSet<u32> = self
            .tags
            .values()
            .map(|t| t - self.settings.tag + 1)
            .collect();
        for seq in entries.difference(&in_use) {
            config.push(format!(
                "no route-map {} permit {seq}",
                self.settings.route_map
            ));
        }
        self.vtysh(&config).await?;
        self.redistributing = true;
        self.last = format!("{} RTBH routes reconciled in FRR", wanted.len());
        Ok(())
    }

    /// Static routes live in FRR's running config, which a restart without a saved
    /// config loses: the running config is read back and every confirmed RTBH route
    /// looked up in it.
    async fn probe(&mut self, applied: &[Change]) -> Result<Option<String>, AdapterError> {
        let wanted: Vec<&IpPrefix> = applied
            .iter()
            .filter_map(|c| match &c.nlri {
                Nlri::Unicast(p) => Some(p),
                Nlri::Flow(_) => None,
            })
            .collect();
        if wanted.is_empty() {
            return Ok(None);
        }
        let conf = self.vtysh(&["show running-config".into()]).await?;
        let held = owned_routes(&conf, &self.settings);
        let missing = wanted.iter().filter(|p| !held.contains_key(p)).count();
        Ok((missing > 0).then(|| {
            format!(
                "FRR's running config lacks {missing} of the {} routes levee gave it (FRR restarted?)",
                wanted.len()
            )
        }))
    }

    fn describe(&self) -> String {
        if self.skipped_flowspec > 0 {
            format!(
                "{}; {} FlowSpec changes left to other adapters",
                self.last, self.skipped_flowspec
            )
        } else {
            self.last.clone()
        }
    }

    async fn stop(self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_routes_are_those_in_the_tag_range() {
        let conf = "ip route 192.0.2.7/32 blackhole tag 6660\n\
                    ip route 192.0.2.8/32 blackhole tag 100\n\
                    ip route 192.0.2.9/32 192.0.2.1 tag 6661\n\
                    ipv6 route 2001:db8::7/128 blackhole tag 6661\n\
                    ip route 192.0.2.10/32 blackhole\n";
        let held = owned_routes(conf, &Settings::default());
        let got: Vec<String> = held.iter().map(|(p, t)| format!("{p} {t}")).collect();
        assert_eq!(got, ["192.0.2.7/32 6660", "2001:db8::7/128 6661"]);
    }

    #[test]
    fn route_map_entries_carry_the_attributes() {
        let a = Attrs {
            next_hop: Some("192.0.2.66".parse().unwrap()),
            communities: vec![0xffff_029a, 0xffff_ff01],
            large_communities: vec![[64500, 666, 1]],
            ..Attrs::default()
        };
        let s = Settings::default();
        assert_eq!(
            route_map_entries(
                "route-map LEVEE-RTBH permit 2\n match tag 6661\nexit\nroute-map OTHER permit 3\n",
                "LEVEE-RTBH"
            ),
            BTreeSet::from([2])
        );
        assert_eq!(
            route_map_entry(&s, 6661, &a),
            [
                "route-map LEVEE-RTBH permit 2",
                "match tag 6661",
                "set community 65535:666 no-export",
                "set large-community 64500:666:1",
                "set ip next-hop 192.0.2.66",
                "exit"
            ]
        );
    }
}
