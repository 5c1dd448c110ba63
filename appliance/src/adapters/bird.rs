//! The BIRD 2 adapter: levee owns one include file holding four static protocols,
//! `levee_flow4`/`levee_flow6` (FlowSpec rules, actions as extended communities) and
//! `levee_rtbh4`/`levee_rtbh6` (blackhole routes with their communities and next hop).
//! Each change rewrites the file (atomically, through a rename) and runs
//! `birdc configure`; BIRD diffs the protocols itself and sends what changed to the
//! peers the operator exports these protocols to. The file is the whole state, so
//! reconciling is writing it again. Between reconciliations the probe compares BIRD's
//! boot time with the one at the last `configure`: a restart is reconciled at once.
//!
//! The operator's bird.conf declares the FlowSpec tables and includes the file:
//!
//! ```text
//! flow4 table flowtab4;
//! flow6 table flowtab6;
//! include "/etc/bird/levee.conf";
//! ```

use super::{AdapterError, Backend, Change, Handle, Report, comparison, process};
use crate::yaml::LevelList;
use levee_bgp::flowspec::{BitmaskOp, Component, FlowSpec, NumericOp, Prefix, fragment};
use levee_bgp::rib::{Attrs, Nlri};
use levee_mitigate::Levels;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use tokio::sync::mpsc::UnboundedSender;

/// Where the include file goes and how to reach BIRD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The include file levee writes.
    pub include: PathBuf,
    /// The `birdc` program.
    pub birdc: String,
    /// BIRD's control socket (`None`: birdc's default).
    pub socket: Option<PathBuf>,
    /// Tables: flow4, flow6, ipv4, ipv6.
    pub tables: [String; 4],
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            include: "/etc/bird/levee.conf".into(),
            birdc: "birdc".into(),
            socket: None,
            tables: ["flowtab4", "flowtab6", "master4", "master6"].map(String::from),
        }
    }
}

/// The `mitigation.bird` section, as read: `bird: {include: /etc/bird/levee.conf,
/// birdc: birdc, socket: /run/bird/bird.ctl, flow4_table: flowtab4,
/// flow6_table: flowtab6, ipv4_table: master4, ipv6_table: master6, levels: [...]}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Raw {
    include: Option<PathBuf>,
    birdc: Option<String>,
    socket: Option<PathBuf>,
    flow4_table: Option<String>,
    flow6_table: Option<String>,
    ipv4_table: Option<String>,
    ipv6_table: Option<String>,
    #[serde(default)]
    pub(super) levels: LevelList,
}

impl Settings {
    /// The settings of a section (defaults for the keys it leaves out).
    pub(crate) fn from_raw(r: Raw) -> Settings {
        let d = Settings::default();
        let [f4, f6, u4, u6] = d.tables;
        Settings {
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
}

/// Starts the adapter's task for the routes of `levels`, reporting to `reports`.
pub fn start(settings: &Settings, levels: Levels, reports: UnboundedSender<Report>) -> Handle {
    Handle::spawn(Bird::new(settings.clone()), levels, reports)
}

/// The adapter.
#[derive(Debug)]
pub struct Bird {
    settings: Settings,
    routes: BTreeMap<Nlri, Attrs>,
    last: String,
    /// BIRD's boot time (`Last reboot on ...` of `birdc show status`) as of the last
    /// successful `configure`: another one means BIRD restarted since.
    booted: Option<String>,
}

impl Bird {
    /// An adapter writing `settings.include`.
    pub fn new(settings: Settings) -> Bird {
        Bird {
            settings,
            routes: BTreeMap::new(),
            last: "not configured yet".into(),
            booted: None,
        }
    }

    /// `birdc [-s SOCKET] ARGS...`.
    async fn birdc(&self, words: &[&str]) -> Result<String, AdapterError> {
        let mut args = Vec::new();
        if let Some(s) = &self.settings.socket {
            args.extend(["-s".to_string(), s.display().to_string()]);
        }
        args.extend(words.iter().map(|w| w.to_string()));
        process::run(&self.settings.birdc, &args).await
    }

    /// BIRD's boot time, from `birdc show status`.
    async fn boot_time(&self) -> Result<String, AdapterError> {
        let out = self.birdc(&["show", "status"]).await?;
        boot_time(&out).ok_or_else(|| {
            AdapterError(format!(
                "birdc show status: no boot time in {:?}",
                out.lines().take(3).collect::<Vec<_>>().join("; ")
            ))
        })
    }

    async fn write_and_configure(&mut self) -> Result<(), AdapterError> {
        let text = render(&self.settings, &self.routes)?;
        let path = &self.settings.include;
        let tmp = path.with_extension("levee-tmp");
        let io = |e: std::io::Error| AdapterError(format!("{}: {e}", path.display()));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await.map_err(io)?;
        }
        tokio::fs::write(&tmp, text).await.map_err(io)?;
        tokio::fs::rename(&tmp, path).await.map_err(io)?;
        let r = self.birdc(&["configure"]).await.and_then(|out| {
            // birdc exits 0 even when the configuration is refused; its text says.
            if out.contains("Reconfigured") || out.contains("Reconfiguration in progress") {
                Ok(())
            } else {
                let why = out
                    .lines()
                    .filter(|l| !l.starts_with("BIRD "))
                    .collect::<Vec<_>>()
                    .join("; ");
                Err(AdapterError(format!("birdc configure: {why}")))
            }
        });
        self.last = match &r {
            Ok(()) => format!("{} routes in {}", self.routes.len(), path.display()),
            Err(e) => e.0.clone(),
        };
        if r.is_ok() {
            // The BIRD that took this configuration; the probe compares against it.
            self.booted = self.boot_time().await.ok();
        }
        r
    }
}

/// The boot time in `birdc show status` output (`Last reboot on 2026-12-02 20:06:12`).
fn boot_time(status: &str) -> Option<String> {
    status.lines().find_map(|l| {
        let t = l
            .trim_start_matches(|c: char| c.is_ascii_digit() || c == '-')
            .trim();
        t.strip_prefix("Last reboot on ")
            .map(|t| t.trim().to_string())
    })
}

impl Backend for Bird {
    fn name(&self) -> String {
        "bird".into()
    }

    async fn apply(&mut self, changes: &[Change]) -> Result<(), AdapterError> {
        let before = self.routes.clone();
        for c in changes {
            match &c.attrs {
                Some(a) => self.routes.insert(c.nlri.clone(), a.clone()),
                None => self.routes.remove(&c.nlri),
            };
        }
        let r = self.write_and_configure().await;
        if r.is_err() {
            // The retry brings the same changes again; start from what BIRD has.
            self.routes = before;
        }
        r
    }

    async fn reconcile(
        &mut self,
        desired: &[Change],
        _stale: &[Change],
    ) -> Result<(), AdapterError> {
        self.routes = desired
            .iter()
            .filter_map(|c| Some((c.nlri.clone(), c.attrs.clone()?)))
            .collect();
        self.write_and_configure().await
    }

    /// BIRD reads the include file at start, but a restart can come with another file
    /// (a package upgrade, configuration management, a tmpfs): a boot time other than
    /// the one at the last `configure` means BIRD restarted, and the file is written
    /// and configured again.
    async fn probe(&mut self, _applied: &[Change]) -> Result<Option<String>, AdapterError> {
        let now = self.boot_time().await?;
        Ok(match &self.booted {
            Some(was) if *was != now => Some(format!(
                "BIRD restarted (booted {now}, was {was} at the last configure)"
            )),
            Some(_) => None,
            None => {
                self.booted = Some(now);
                None
            }
        })
    }

    fn describe(&self) -> String {
        self.last.clone()
    }

    async fn stop(self) {}
}

/// The include file for `routes`.
pub(crate) fn render(s: &Settings, routes: &BTreeMap<Nlri, Attrs>) -> Result<String, AdapterError> {
    let mut blocks: [String; 4] = Default::default();
    for (n, a) in routes {
        let (i, line) = match n {
            Nlri::Flow(f) => (
                usize::from(f.afi == levee_bgp::codes::Afi::IPV6),
                format!("  route {} {};\n", flow(f)?, attributes(a)),
            ),
            Nlri::Unicast(p) => (
                2 + usize::from(p.addr.is_ipv6()),
                format!("  route {p} blackhole {};\n", attributes(a)),
            ),
        };
        blocks[i].push_str(&line);
    }
    let mut out = String::from(
        "# Written by levee: each mitigation change replaces this file. Do not edit.\n",
    );
    let heads = [
        ("levee_flow4", format!("flow4 {{ table {}; }}", s.tables[0])),
        ("levee_flow6", format!("flow6 {{ table {}; }}", s.tables[1])),
        ("levee_rtbh4", format!("ipv4 {{ table {}; }}", s.tables[2])),
        ("levee_rtbh6", format!("ipv6 {{ table {}; }}", s.tables[3])),
    ];
    for ((name, channel), body) in heads.iter().zip(blocks) {
        let _ = write!(out, "protocol static {name} {{\n  {channel};\n{body}}}\n");
    }
    Ok(out)
}

/// `{ bgp_...; }`: the route's attributes as BIRD filter statements.
fn attributes(a: &Attrs) -> String {
    let mut s = String::from("{");
    for c in &a.communities {
        let _ = write!(s, " bgp_community.add(({},{}));", c >> 16, c & 0xffff);
    }
    for [x, y, z] in &a.large_communities {
        let _ = write!(s, " bgp_large_community.add(({x},{y},{z}));");
    }
    for x in &a.extended_communities {
        let v = u64::from_be_bytes(*x);
        let _ = write!(
            s,
            " bgp_ext_community.add((generic, 0x{:08x}, 0x{:x}));",
            v >> 32,
            v & 0xffff_ffff
        );
    }
    if let Some(nh) = a.next_hop {
        let _ = write!(s, " bgp_next_hop = {nh};");
    }
    if let Some(m) = a.med {
        let _ = write!(s, " bgp_med = {m};");
    }
    if let Some(l) = a.local_pref {
        let _ = write!(s, " bgp_local_pref = {l};");
    }
    s.push_str(" }");
    s
}

/// A rule in BIRD's `flow4 { ... }` / `flow6 { ... }` syntax.
pub(crate) fn flow(f: &FlowSpec) -> Result<String, AdapterError> {
    let v6 = f.afi == levee_bgp::codes::Afi::IPV6;
    let mut s = String::from(if v6 { "flow6 {" } else { "flow4 {" });
    for c in &f.components {
        let part = match c {
            Component::DestinationPrefix(p) => format!("dst {}", prefix(p)),
            Component::SourcePrefix(p) => format!("src {}", prefix(p)),
            Component::Protocol(o) if v6 => format!("next header {}", numeric(o)?),
            Component::Protocol(o) => format!("proto {}", numeric(o)?),
            Component::Port(o) => format!("port {}", numeric(o)?),
            Component::DestinationPort(o) => format!("dport {}", numeric(o)?),
            Component::SourcePort(o) => format!("sport {}", numeric(o)?),
            Component::IcmpType(o) => format!("icmp type {}", numeric(o)?),
            Component::IcmpCode(o) => format!("icmp code {}", numeric(o)?),
            Component::TcpFlags(o) => format!("tcp flags {}", bitmask(o)),
            Component::PacketLength(o) => format!("length {}", numeric(o)?),
            Component::Dscp(o) => format!("dscp {}", numeric(o)?),
            Component::Fragment(o) => format!("fragment {}", fragments(o)?),
            Component::FlowLabel(o) => format!("label {}", numeric(o)?),
        };
        let _ = write!(s, " {part};");
    }
    s.push_str(" }");
    Ok(s)
}

fn prefix(p: &Prefix) -> String {
    if p.offset > 0 {
        format!("{}/{} offset {}", p.addr, p.len, p.offset)
    } else {
        format!("{}/{}", p.addr, p.len)
    }
}

/// `>= 8000 && <= 8080 || = 443`.
fn numeric(ops: &[NumericOp]) -> Result<String, AdapterError> {
    let mut s = String::new();
    for (i, op) in ops.iter().enumerate() {
        if i > 0 {
            s.push_str(if op.and { " && " } else { " || " });
        }
        let Some(cmp) = comparison(op) else {
            return Err(AdapterError(
                "BIRD has no always-true or always-false FlowSpec operator".into(),
            ));
        };
        let _ = write!(s, "{cmp} {}", op.value);
    }
    Ok(s)
}

/// `0x2/0x2 && 0x0/0x10`: value/mask, `!` negating.
fn bitmask(ops: &[BitmaskOp]) -> String {
    let mut s = String::new();
    for (i, op) in ops.iter().enumerate() {
        if i > 0 {
            s.push_str(if op.and { " && " } else { " || " });
        }
        // match: all bits set (v/v); any: not none set (!0/v); `not` negates either.
        let (neg, value) = match (op.match_all, op.not) {
            (true, false) => ("", op.value),
            (true, true) => ("!", op.value),
            (false, false) => ("!", 0),
            (false, true) => ("", 0),
        };
        let _ = write!(s, "{neg}0x{value:x}/0x{:x}", op.value);
    }
    s
}

/// Fragment bits by BIRD's names; each keyword tests one bit.
fn fragments(ops: &[BitmaskOp]) -> Result<String, AdapterError> {
    const NAMES: [(u16, &str); 4] = [
        (fragment::DF, "dont_fragment"),
        (fragment::IS_FRAGMENT, "is_fragment"),
        (fragment::FIRST, "first_fragment"),
        (fragment::LAST, "last_fragment"),
    ];
    let mut s = String::new();
    for (i, op) in ops.iter().enumerate() {
        let bits: Vec<&str> = NAMES
            .iter()
            .filter(|(b, _)| op.value & b != 0)
            .map(|(_, n)| *n)
            .collect();
        if bits.is_empty() || op.value & !0x0f != 0 {
            return Err(AdapterError(format!(
                "fragment bits 0x{:x} have no BIRD name",
                op.value
            )));
        }
        // One bit, or several that must all be set (or all clear): an AND of keywords.
        let all = op.match_all || bits.len() == 1;
        if !all || (op.not && op.match_all && bits.len() > 1) {
            return Err(AdapterError(format!(
                "BIRD cannot express this fragment test on several bits (0x{:x})",
                op.value
            )));
        }
        if i > 0 {
            s.push_str(if op.and { " && " } else { " || " });
        }
        let neg = if op.not { "!" } else { "" };
        let words: Vec<String> = bits.iter().map(|b| format!("{neg}{b}")).collect();
        s.push_str(&words.join(" && "));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use levee_bgp::rib::RouteText;

    fn one(text: &str) -> String {
        let r: RouteText = text.parse().unwrap();
        let mut m = BTreeMap::new();
        m.insert(r.nlri, r.attrs);
        render(&Settings::default(), &m).unwrap()
    }

    /// The boot time in `birdc show status`, with or without reply codes.
    #[test]
    fn boot_time_from_show_status() {
        let out = "BIRD 2.17.1 ready.\nBIRD 2.17.1\nRouter ID is 192.0.2.3\n\
                   Current server time is 2026-12-02 20:10:00.123\n\
                   Last reboot on 2026-12-02 20:06:00.456\n\
                   Last reconfiguration on 2026-12-02 20:07:00.789\nDaemon is up and running\n";
        assert_eq!(boot_time(out).as_deref(), Some("2026-12-02 20:06:00.456"));
        assert_eq!(
            boot_time("1011-Last reboot on 2026-12-02 20:06:00\n").as_deref(),
            Some("2026-12-02 20:06:00")
        );
        assert_eq!(boot_time("BIRD 2.17.1 ready.\nUnable to connect"), None);
    }

    #[test]
    fn flow_rules_in_bird_syntax() {
        let f = one(
            "flow destination 192.0.2.1/32 protocol udp destination-port >=8000&<=8080 ==443 \
             tcp-flags =S&!A fragment is-fragment packet-length >1400 then rate-limit 1250000",
        );
        assert!(
            f.contains(
                "route flow4 { dst 192.0.2.1/32; proto = 17; dport >= 8000 && <= 8080 || = 443; \
                 tcp flags 0x2/0x2 && 0x0/0x10; length > 1400; fragment is_fragment; } \
                 { bgp_ext_community.add((generic, 0x80060000, 0x49989680)); };"
            ),
            "{f}"
        );
        let f6 = one("flow ipv6 destination 2001:db8::/64/8 protocol tcp label ==5 then discard");
        assert!(
            f6.contains("route flow6 { dst 1:db8::/64 offset 8; next header = 6; label = 5; }"),
            "{f6}"
        );
    }

    #[test]
    fn blackhole_routes_and_empty_protocols() {
        let r = one(
            "route 192.0.2.7/32 next-hop 192.0.2.66 community 65535:666 large-community 64500:666:1",
        );
        assert!(
            r.contains(
                "route 192.0.2.7/32 blackhole { bgp_community.add((65535,666)); \
                 bgp_large_community.add((64500,666,1)); bgp_next_hop = 192.0.2.66; };"
            ),
            "{r}"
        );
        let empty = render(&Settings::default(), &BTreeMap::new()).unwrap();
        for p in ["levee_flow4", "levee_flow6", "levee_rtbh4", "levee_rtbh6"] {
            assert!(
                empty.contains(&format!("protocol static {p} {{")),
                "{empty}"
            );
        }
        assert!(empty.contains("flow4 { table flowtab4; };"));
    }
}
