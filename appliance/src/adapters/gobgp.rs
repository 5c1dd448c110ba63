//! The GoBGP adapter: routes go into a running gobgpd's global RIB through the `gobgp`
//! CLI (`gobgp global rib -a ipv4-flowspec add match ... then ...`), and gobgpd sends
//! them to its peers. The CLI reads the same notation levee's route text uses, so a
//! rule looks the same in `levee mitigate list` and in `gobgp global rib`.
//!
//! Reconciliation reads the RIB back (`gobgp global rib -a FAMILY -j`): desired routes
//! missing there (gobgpd restarted) are added again, stale ones still there are deleted.
//! The probe between reconciliations reads the same RIB: a confirmed route missing from
//! it means gobgpd restarted (or someone deleted it), and the task reconciles at once.

use super::{AdapterError, Backend, Change, Handle, Report, process};
use crate::yaml::LevelList;
use levee_bgp::codes::Afi;
use levee_bgp::flowspec::action::Action;
use levee_bgp::rib::{Attrs, Nlri, RouteText};
use levee_mitigate::Levels;
use serde::Deserialize;
use std::collections::BTreeSet;
use tokio::sync::mpsc::UnboundedSender;

/// Where gobgpd's API is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The `gobgp` program.
    pub cli: String,
    /// The API host.
    pub host: String,
    /// The API port.
    pub port: u16,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            cli: "gobgp".into(),
            host: "127.0.0.1".into(),
            port: 50051,
        }
    }
}

/// The `mitigation.gobgp` section, as read:
/// `gobgp: {cli: gobgp, host: 127.0.0.1, port: 50051, levels: [l1, l2, l3, l4]}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Raw {
    cli: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    #[serde(default)]
    pub(super) levels: LevelList,
}

impl Settings {
    /// The settings of a section (defaults for the keys it leaves out).
    pub(crate) fn from_raw(r: Raw) -> Settings {
        let d = Settings::default();
        Settings {
            cli: r.cli.unwrap_or(d.cli),
            host: r.host.unwrap_or(d.host),
            port: r.port.unwrap_or(d.port),
        }
    }
}

/// Starts the adapter's task for the routes of `levels`, reporting to `reports`.
pub fn start(settings: &Settings, levels: Levels, reports: UnboundedSender<Report>) -> Handle {
    Handle::spawn(Gobgp::new(settings.clone()), levels, reports)
}

/// The adapter.
#[derive(Debug)]
pub struct Gobgp {
    settings: Settings,
    last: String,
}

impl Gobgp {
    /// An adapter for the gobgpd at `settings`.
    pub fn new(settings: Settings) -> Gobgp {
        Gobgp {
            settings,
            last: "not contacted yet".into(),
        }
    }

    async fn gobgp(&mut self, args: Vec<String>) -> Result<String, AdapterError> {
        let mut all = vec![
            "-u".to_string(),
            self.settings.host.clone(),
            "-p".into(),
            self.settings.port.to_string(),
        ];
        all.extend(args);
        let r = process::run(&self.settings.cli, &all).await;
        self.last = match &r {
            Ok(_) => format!(
                "gobgpd at {}:{} answering",
                self.settings.host, self.settings.port
            ),
            Err(e) => e.0.clone(),
        };
        r
    }

    /// The routes of `family` in gobgpd's global RIB, as their keys.
    async fn held(&mut self, family: &str) -> Result<BTreeSet<String>, AdapterError> {
        let out = self
            .gobgp(vec![
                "global".into(),
                "rib".into(),
                "-a".into(),
                family.into(),
                "-j".into(),
            ])
            .await?;
        let out = out.trim();
        if out.is_empty() || out == "null" {
            return Ok(BTreeSet::new());
        }
        let v: serde_json::Value = serde_json::from_str(out)
            .map_err(|e| AdapterError(format!("gobgp -j output for {family}: {e}")))?;
        Ok(v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default())
    }
}

impl Gobgp {
    /// The routes gobgpd holds in the families of `changes`, as (family, key).
    async fn held_all(
        &mut self,
        changes: impl Iterator<Item = &Change>,
    ) -> Result<BTreeSet<(&'static str, String)>, AdapterError> {
        let families: BTreeSet<&'static str> = changes.map(|c| family(&c.nlri)).collect();
        let mut held = BTreeSet::new();
        for f in families {
            for k in self.held(f).await? {
                held.insert((f, k));
            }
        }
        Ok(held)
    }
}

/// gobgp's family name for a route.
fn family(n: &Nlri) -> &'static str {
    match n {
        Nlri::Flow(f) if f.afi == Afi::IPV4 => "ipv4-flowspec",
        Nlri::Flow(_) => "ipv6-flowspec",
        Nlri::Unicast(p) if p.addr.is_ipv4() => "ipv4",
        Nlri::Unicast(_) => "ipv6",
    }
}

/// The key gobgp's JSON output files a route under.
fn key(n: &Nlri) -> String {
    n.to_string()
}

/// `gobgp global rib -a FAMILY add|del ...` for one change.
pub(crate) fn command(c: &Change) -> Result<Vec<String>, AdapterError> {
    let mut args: Vec<String> = ["global", "rib", "-a", family(&c.nlri)]
        .map(String::from)
        .to_vec();
    args.push(if c.attrs.is_some() { "add" } else { "del" }.into());
    let attrs = c.attrs.clone().unwrap_or_default();
    match &c.nlri {
        Nlri::Flow(_) => {
            // "flow [ipv6] COMPONENT VALUE..." without attributes: the match part.
            let text = RouteText {
                nlri: c.nlri.clone(),
                attrs: Attrs::default(),
            }
            .to_string();
            args.push("match".into());
            args.extend(
                text.split_whitespace()
                    .skip(1)
                    .skip_while(|w| *w == "ipv6")
                    .map(String::from),
            );
            if c.attrs.is_some() {
                args.push("then".into());
                args.extend(flow_actions(&attrs)?);
            }
        }
        Nlri::Unicast(p) => {
            args.push(p.to_string());
            if c.attrs.is_some() {
                if let Some(nh) = attrs.next_hop {
                    args.extend(["nexthop".into(), nh.to_string()]);
                }
                if !attrs.communities.is_empty() {
                    let cs: Vec<String> = attrs
                        .communities
                        .iter()
                        .map(|c| format!("{}:{}", c >> 16, c & 0xffff))
                        .collect();
                    args.extend(["community".into(), cs.join(",")]);
                }
                if !attrs.large_communities.is_empty() {
                    let cs: Vec<String> = attrs
                        .large_communities
                        .iter()
                        .map(|[a, b, c]| format!("{a}:{b}:{c}"))
                        .collect();
                    args.extend(["large-community".into(), cs.join(",")]);
                }
                if let Some(m) = attrs.med {
                    args.extend(["med".into(), m.to_string()]);
                }
                if let Some(l) = attrs.local_pref {
                    args.extend(["local-pref".into(), l.to_string()]);
                }
                if !attrs.extended_communities.is_empty() {
                    return Err(AdapterError(format!(
                        "{p}: the gobgp adapter does not carry extended communities on unicast routes"
                    )));
                }
            }
        }
    }
    Ok(args)
}

/// The `then` words of a FlowSpec rule in gobgp's CLI grammar.
fn flow_actions(a: &Attrs) -> Result<Vec<String>, AdapterError> {
    if !a.communities.is_empty() || !a.large_communities.is_empty() {
        return Err(AdapterError(
            "the gobgp CLI takes no communities on FlowSpec rules".into(),
        ));
    }
    let mut out = Vec::new();
    for x in &a.extended_communities {
        let words = match Action::from_bytes(*x) {
            Some(Action::RateBytes { rate: 0.0, .. }) => vec!["discard".into()],
            Some(Action::RateBytes { rate, .. }) => vec!["rate-limit".into(), rate.to_string()],
            Some(Action::TrafficAction { sample, terminal }) if sample || terminal => {
                let w = match (sample, terminal) {
                    (true, true) => "sample-terminal",
                    (true, false) => "sample",
                    _ => "terminal",
                };
                vec!["action".into(), w.into()]
            }
            Some(Action::RedirectAs2 { asn, local }) => {
                vec!["redirect".into(), format!("{asn}:{local}")]
            }
            Some(Action::RedirectIpv4 { addr, local }) => {
                vec!["redirect".into(), format!("{addr}:{local}")]
            }
            Some(Action::RedirectAs4 { asn, local }) => {
                vec![
                    "redirect".into(),
                    format!("{}.{}:{local}", asn >> 16, asn & 0xffff),
                ]
            }
            Some(Action::Mark { dscp }) => vec!["mark".into(), dscp.to_string()],
            other => {
                return Err(AdapterError(format!(
                    "the gobgp CLI cannot express the FlowSpec action {}",
                    other.map_or_else(
                        || format!("0x{:016x}", u64::from_be_bytes(*x)),
                        |a| format!("{a:?}")
                    )
                )));
            }
        };
        out.extend(words);
    }
    if out.is_empty() {
        out.push("accept".into());
    }
    Ok(out)
}

impl Backend for Gobgp {
    fn name(&self) -> String {
        "gobgp".into()
    }

    async fn apply(&mut self, changes: &[Change]) -> Result<(), AdapterError> {
        for c in changes {
            let args = command(c)?;
            self.gobgp(args).await?;
        }
        Ok(())
    }

    async fn reconcile(
        &mut self,
        desired: &[Change],
        stale: &[Change],
    ) -> Result<(), AdapterError> {
        let held = self.held_all(desired.iter().chain(stale)).await?;
        let wanted: BTreeSet<&Nlri> = desired.iter().map(|c| &c.nlri).collect();
        let mut todo = Vec::new();
        for s in stale {
            if !wanted.contains(&s.nlri) && held.contains(&(family(&s.nlri), key(&s.nlri))) {
                todo.push(Change {
                    attrs: None,
                    ..s.clone()
                });
            }
        }
        todo.extend(
            desired
                .iter()
                .filter(|d| !held.contains(&(family(&d.nlri), key(&d.nlri))))
                .cloned(),
        );
        if !todo.is_empty() {
            tracing::info!(changes = todo.len(), "gobgp: reconciling gobgpd's RIB");
        }
        self.apply(&todo).await
    }

    /// gobgpd keeps its RIB in memory: one that restarted has none of levee's routes.
    /// The RIB of each family levee uses is read back and every confirmed route looked
    /// up in it.
    async fn probe(&mut self, applied: &[Change]) -> Result<Option<String>, AdapterError> {
        let held = self.held_all(applied.iter()).await?;
        let missing = applied
            .iter()
            .filter(|c| !held.contains(&(family(&c.nlri), key(&c.nlri))))
            .count();
        Ok((missing > 0).then(|| {
            format!(
                "gobgpd's RIB lacks {missing} of the {} routes levee gave it (gobgpd restarted?)",
                applied.len()
            )
        }))
    }

    fn describe(&self) -> String {
        self.last.clone()
    }

    async fn stop(self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use levee_mitigate::Levels;

    fn cmd(text: &str, announce: bool) -> String {
        let r: RouteText = text.parse().unwrap();
        let c = if announce {
            Change::announce(1, &r, Levels::ALL)
        } else {
            Change::withdraw(1, &r, Levels::ALL)
        };
        command(&c).map_or_else(|e| format!("error: {e}"), |a| a.join(" "))
    }

    #[test]
    fn commands_in_gobgp_cli_grammar() {
        assert_eq!(
            cmd(
                "flow destination 192.0.2.1/32 protocol udp source-port ==123 \
                 packet-length >=400&<=500 then rate-limit 1250000",
                true
            ),
            "global rib -a ipv4-flowspec add match destination 192.0.2.1/32 protocol ==udp \
             source-port ==123 packet-length >=400&<=500 then rate-limit 1250000"
        );
        assert_eq!(
            cmd(
                "flow ipv6 destination 2001:db8::1/128 protocol tcp then discard redirect-as4 4200000000:9",
                true
            ),
            "global rib -a ipv6-flowspec add match destination 2001:db8::1/128/0 protocol ==tcp \
             then discard redirect 64086.59904:9"
        );
        assert_eq!(
            cmd("flow destination 192.0.2.1/32 then discard", false),
            "global rib -a ipv4-flowspec del match destination 192.0.2.1/32"
        );
        assert_eq!(
            cmd(
                "route 192.0.2.7/32 next-hop 192.0.2.66 community 65535:666 community 64500:1 \
                 large-community 64500:666:1",
                true
            ),
            "global rib -a ipv4 add 192.0.2.7/32 nexthop 192.0.2.66 community 65535:666,64500:1 \
             large-community 64500:666:1"
        );
        assert_eq!(
            cmd("route 2001:db8::7/128 blackhole", false),
            "global rib -a ipv6 del 2001:db8::7/128"
        );
        assert!(
            cmd(
                "flow destination 192.0.2.4/32 then rate-limit-packets 1000",
                true
            )
            .starts_with("error: the gobgp CLI cannot express the FlowSpec action RatePackets")
        );
    }
}
