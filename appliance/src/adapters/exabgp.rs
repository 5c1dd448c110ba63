//! The ExaBGP adapter: levee writes API commands into ExaBGP's named pipe and reads
//! each command's acknowledgement from the answer pipe, the way `exabgpcli` does.
//!
//! ExaBGP 4 runs its "cli" control process when it finds `NAME.in` and `NAME.out`
//! (FIFOs) in one of its run directories (`/run/exabgp/` first; `NAME` is the
//! `exabgp.api.pipename` setting, default `exabgp`). With `exabgp.api.ack` on (the
//! default) every command is answered `done` or `error`; levee waits for that answer
//! and treats anything else, or silence, as a failure, so the change stays pending
//! and is retried.
//!
//! - FlowSpec: `announce flow route { match { ... } then { extended-community [ ... ]; } }`.
//!   The actions go as raw extended communities (RFC 8955 section 7), so every action
//!   levee has (rate in bytes or packets, redirect, mark, sample/terminal) reaches
//!   the wire exactly as the native speaker would send it.
//! - RTBH: `announce route P next-hop NH community [ ... ] large-community [ ... ]`.
//! - Withdrawals name the route only; ExaBGP answers `done` for a route it does not
//!   hold, so withdrawing is idempotent.
//!
//! ExaBGP keeps the routes in its own adj-RIB-out and sends them to every neighbor
//! whose families include them. Reconciling uses the default (withdraw stale routes,
//! announce the desired ones again): ExaBGP does not resend a route it already
//! holds unchanged, and one that restarted gets everything back. Between
//! reconciliations the probe reads `show adj-rib out` back: an ExaBGP that restarted
//! lacks levee's routes, and the task reconciles at once.

use super::{AdapterError, Backend, Change, Handle, Report, comparison};
use crate::yaml::{Ctx, LevelList};
use levee_bgp::codes::Afi;
use levee_bgp::flowspec::{BitmaskOp, Component, FlowSpec, NumericOp, Prefix};
use levee_bgp::rib::{Attrs, Nlri};
use levee_mitigate::Levels;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::unix::pipe;
use tokio::sync::mpsc::UnboundedSender;

/// How long ExaBGP may take to acknowledge one command.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Where ExaBGP's named pipes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The directory holding the pipes.
    pub pipe_dir: PathBuf,
    /// The pipes' name (`exabgp.api.pipename`): `NAME.in` and `NAME.out`.
    pub pipe_name: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            pipe_dir: "/run/exabgp".into(),
            pipe_name: "exabgp".into(),
        }
    }
}

impl Settings {
    /// The pipe ExaBGP reads commands from.
    pub fn commands(&self) -> PathBuf {
        self.pipe_dir.join(format!("{}.in", self.pipe_name))
    }

    /// The pipe ExaBGP writes its answers to.
    pub fn answers(&self) -> PathBuf {
        self.pipe_dir.join(format!("{}.out", self.pipe_name))
    }
}

/// The `mitigation.exabgp` section, as read:
/// `exabgp: {pipe_dir: /run/exabgp, pipe_name: exabgp, levels: [l1, l2, l3, l4]}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Raw {
    pipe_dir: Option<PathBuf>,
    pipe_name: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) levels: LevelList,
}

impl Settings {
    /// The settings of a section (defaults for the keys it leaves out).
    pub(crate) fn from_raw(r: Raw, ctx: &mut Ctx<'_>) -> Settings {
        let d = Settings::default();
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
        Settings {
            pipe_dir: r.pipe_dir.unwrap_or(d.pipe_dir),
            pipe_name,
        }
    }
}

/// Starts the adapter's task for the routes of `levels`, reporting to `reports`.
pub fn start(settings: &Settings, levels: Levels, reports: UnboundedSender<Report>) -> Handle {
    Handle::spawn(Exabgp::new(settings.clone()), levels, reports)
}

/// The adapter.
#[derive(Debug)]
pub struct Exabgp {
    settings: Settings,
    /// The answer pipe, held open (read and write, so it never reads end-of-file and
    /// ExaBGP can always open it to answer).
    answers: Option<pipe::Receiver>,
    /// Bytes read past the last complete answer line.
    pending: Vec<u8>,
    last: String,
}

impl Exabgp {
    /// An adapter for the ExaBGP whose pipes `settings` name.
    pub fn new(settings: Settings) -> Exabgp {
        Exabgp {
            settings,
            answers: None,
            pending: Vec::new(),
            last: "not contacted yet".into(),
        }
    }

    /// Sends `commands` in order, each acknowledged before the next.
    async fn send(&mut self, commands: &[String]) -> Result<(), AdapterError> {
        let r = self.send_inner(commands).await;
        self.last = match &r {
            Ok(()) => format!("ExaBGP answering on {}", self.settings.commands().display()),
            Err(e) => e.0.clone(),
        };
        if r.is_err() {
            // A late answer must not be taken for the next command's.
            self.answers = None;
            self.pending.clear();
        }
        r
    }

    /// Opens the answer pipe (once) and the command pipe, with nothing stale to read.
    fn open(&mut self) -> Result<pipe::Sender, AdapterError> {
        let answers_path = self.settings.answers();
        if self.answers.is_none() {
            let rx = pipe::OpenOptions::new()
                .read_write(true)
                .open_receiver(&answers_path)
                .map_err(|e| pipe_error(&answers_path, &e))?;
            self.answers = Some(rx);
        }
        self.drain();
        let commands_path = self.settings.commands();
        pipe::OpenOptions::new()
            .open_sender(&commands_path)
            .map_err(|e| pipe_error(&commands_path, &e))
    }

    /// Sends a `show` command; the lines ExaBGP answers before its `done`.
    async fn query(&mut self, command: &str) -> Result<Vec<String>, AdapterError> {
        let r = self.query_inner(command).await;
        if r.is_err() {
            self.answers = None;
            self.pending.clear();
        }
        r
    }

    async fn query_inner(&mut self, command: &str) -> Result<Vec<String>, AdapterError> {
        let mut tx = self.open()?;
        let commands_path = self.settings.commands();
        tx.write_all(format!("{command}\n").as_bytes())
            .await
            .map_err(|e| AdapterError(format!("{}: {e}", commands_path.display())))?;
        let lines = async {
            let mut lines = Vec::new();
            loop {
                match self.answer().await?.as_str() {
                    "done" => return Ok(lines),
                    "error" => return Err(AdapterError(format!("ExaBGP refused `{command}`"))),
                    "shutdown" => return Err(AdapterError("ExaBGP is shutting down".into())),
                    other => lines.push(other.to_string()),
                }
            }
        };
        tokio::time::timeout(ACK_TIMEOUT, lines)
            .await
            .map_err(|_| {
                AdapterError(format!(
                    "no answer from ExaBGP within {ACK_TIMEOUT:?} to `{command}`"
                ))
            })?
    }

    async fn send_inner(&mut self, commands: &[String]) -> Result<(), AdapterError> {
        if commands.is_empty() {
            return Ok(());
        }
        let mut tx = self.open()?;
        let commands_path = self.settings.commands();
        for c in commands {
            let mut line = c.clone();
            line.push('\n');
            tx.write_all(line.as_bytes())
                .await
                .map_err(|e| AdapterError(format!("{}: {e}", commands_path.display())))?;
            let answer = tokio::time::timeout(ACK_TIMEOUT, self.answer())
                .await
                .map_err(|_| {
                    AdapterError(format!(
                        "no answer from ExaBGP within {ACK_TIMEOUT:?} to `{c}` \
                         (levee needs exabgp.api.ack, on by default)"
                    ))
                })??;
            match answer.as_str() {
                "done" => {}
                "error" => {
                    return Err(AdapterError(format!(
                        "ExaBGP refused `{c}` (its log says why)"
                    )));
                }
                "shutdown" => {
                    return Err(AdapterError("ExaBGP is shutting down".into()));
                }
                other => {
                    return Err(AdapterError(format!(
                        "unexpected answer from ExaBGP to `{c}`: {other}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Discards whatever is in the answer pipe (answers to someone else's commands).
    fn drain(&mut self) {
        self.pending.clear();
        let Some(rx) = &self.answers else { return };
        let mut buf = [0u8; 4096];
        while let Ok(n) = rx.try_read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    }

    /// The next answer line: `done`, `error` or `shutdown` end a command; other lines
    /// are the output of a `show` command (see [`Exabgp::query`]).
    async fn answer(&mut self) -> Result<String, AdapterError> {
        let path = self.settings.answers();
        loop {
            while let Some(nl) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=nl).collect();
                let line = String::from_utf8_lossy(&line).trim().to_string();
                if !line.is_empty() {
                    return Ok(line);
                }
            }
            let Some(rx) = &self.answers else {
                return Err(AdapterError("the answer pipe is closed".into()));
            };
            rx.readable()
                .await
                .map_err(|e| AdapterError(format!("{}: {e}", path.display())))?;
            let mut buf = [0u8; 4096];
            match rx.try_read(&mut buf) {
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(AdapterError(format!("{}: {e}", path.display()))),
            }
        }
    }
}

/// An error opening one of the pipes, in an operator's words.
fn pipe_error(path: &Path, e: &std::io::Error) -> AdapterError {
    let why = match e.raw_os_error() {
        Some(libc::ENXIO) => {
            "no process reads it: is ExaBGP running, with its cli (exabgp.api.cli) on?".to_string()
        }
        Some(libc::ENOENT) => {
            "no such pipe: create it with mkfifo before ExaBGP starts".to_string()
        }
        _ => e.to_string(),
    };
    AdapterError(format!("{}: {why}", path.display()))
}

impl Backend for Exabgp {
    fn name(&self) -> String {
        "exabgp".into()
    }

    async fn apply(&mut self, changes: &[Change]) -> Result<(), AdapterError> {
        let commands = changes.iter().map(command).collect::<Result<Vec<_>, _>>()?;
        self.send(&commands).await
    }

    /// ExaBGP keeps its adj-RIB-out in memory: one that restarted has none of levee's
    /// routes. `show adj-rib out` is read back and each confirmed route looked up by
    /// family and destination (per neighbor, so a route counts as held when at least
    /// as many lines carry its family and destination as confirmed routes do).
    async fn probe(&mut self, applied: &[Change]) -> Result<Option<String>, AdapterError> {
        let lines = self.query("show adj-rib out").await?;
        let missing = missing_from_adj_rib(applied, &lines);
        Ok((missing > 0).then(|| {
            format!(
                "ExaBGP's adj-RIB-out lacks {missing} of the {} routes levee gave it (ExaBGP restarted?)",
                applied.len()
            )
        }))
    }

    fn describe(&self) -> String {
        self.last.clone()
    }

    async fn stop(self) {}
}

/// How a route shows in `show adj-rib out`: its family words and destination
/// (`ipv4 unicast 192.0.2.30/32`, `ipv4 flow ... destination-ipv4 192.0.2.31/32`).
fn adj_rib_key(n: &Nlri) -> Option<(&'static str, String)> {
    match n {
        Nlri::Unicast(p) if p.addr.is_ipv4() => Some(("ipv4 unicast", p.to_string())),
        Nlri::Unicast(p) => Some(("ipv6 unicast", p.to_string())),
        Nlri::Flow(f) => {
            let dst = f.components.iter().find_map(|c| match c {
                Component::DestinationPrefix(p) => Some(format!("{}/{}", p.addr, p.len)),
                _ => None,
            })?;
            Some((
                if f.afi == Afi::IPV4 {
                    "ipv4 flow"
                } else {
                    "ipv6 flow"
                },
                dst,
            ))
        }
    }
}

/// The key of an adj-RIB-out line (see [`adj_rib_key`]).
fn line_key(line: &str) -> Option<(&'static str, String)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = |w: &str| words.iter().position(|x| *x == w);
    for (fam, safi, dst_word) in [
        ("ipv4 unicast", "unicast", None),
        ("ipv6 unicast", "unicast", None),
        ("ipv4 flow", "flow", Some("destination-ipv4")),
        ("ipv6 flow", "flow", Some("destination-ipv6")),
    ] {
        let afi = &fam[..4];
        let Some(i) = words.windows(2).position(|w| w[0] == afi && w[1] == safi) else {
            continue;
        };
        let dst = match dst_word {
            None => words.get(i + 2)?.to_string(),
            Some(d) => {
                // ExaBGP writes an IPv6 destination as PREFIX/LEN/OFFSET.
                let p = words.get(at(d)? + 1)?;
                p.split('/').take(2).collect::<Vec<_>>().join("/")
            }
        };
        return Some((fam, dst));
    }
    None
}

/// How many of `applied` have fewer lines in `adj_rib` than they need.
fn missing_from_adj_rib(applied: &[Change], adj_rib: &[String]) -> usize {
    use std::collections::BTreeMap;
    let mut need: BTreeMap<(&str, String), usize> = BTreeMap::new();
    for c in applied {
        if let Some(k) = adj_rib_key(&c.nlri) {
            *need.entry(k).or_default() += 1;
        }
    }
    let mut have: BTreeMap<(&str, String), usize> = BTreeMap::new();
    for l in adj_rib {
        if let Some(k) = line_key(l) {
            *have.entry(k).or_default() += 1;
        }
    }
    need.iter()
        .map(|(k, n)| n.saturating_sub(have.get(k).copied().unwrap_or(0)))
        .sum()
}

/// The API command for one change.
pub(crate) fn command(c: &Change) -> Result<String, AdapterError> {
    let verb = if c.attrs.is_some() {
        "announce"
    } else {
        "withdraw"
    };
    let a = c.attrs.clone().unwrap_or_default();
    match &c.nlri {
        Nlri::Flow(f) => {
            let mut s = format!("{verb} flow route {{ match {{ {}}}", matches(f)?);
            if c.attrs.is_some() {
                let _ = write!(s, " then {{ {}}}", then(&a));
            }
            s.push_str(" }");
            Ok(s)
        }
        Nlri::Unicast(p) => {
            let mut s = format!("{verb} route {p}");
            if c.attrs.is_some() {
                match a.next_hop {
                    Some(nh) => {
                        let _ = write!(s, " next-hop {nh}");
                    }
                    None => s.push_str(" next-hop self"),
                }
                s.push_str(&communities(&a, false));
                if let Some(m) = a.med {
                    let _ = write!(s, " med {m}");
                }
                if let Some(l) = a.local_pref {
                    let _ = write!(s, " local-preference {l}");
                }
            }
            Ok(s)
        }
    }
}

/// ` community [ a:b ] large-community [ a:b:c ] extended-community [ 0x... ]`, with
/// `;` after each when `statements` (inside a `then { }` block).
fn communities(a: &Attrs, statements: bool) -> String {
    let end = if statements { ";" } else { "" };
    let mut s = String::new();
    let mut list = |name: &str, items: Vec<String>| {
        if !items.is_empty() {
            let _ = write!(s, " {name} [ {} ]{end}", items.join(" "));
        }
    };
    list(
        "community",
        a.communities
            .iter()
            .map(|c| format!("{}:{}", c >> 16, c & 0xffff))
            .collect(),
    );
    list(
        "large-community",
        a.large_communities
            .iter()
            .map(|[x, y, z]| format!("{x}:{y}:{z}"))
            .collect(),
    );
    list(
        "extended-community",
        a.extended_communities
            .iter()
            .map(|x| format!("0x{:016x}", u64::from_be_bytes(*x)))
            .collect(),
    );
    s
}

/// The `then` block's statements: the actions as extended communities, any
/// communities; `accept;` when there is nothing (ExaBGP wants one statement).
fn then(a: &Attrs) -> String {
    let s = communities(a, true);
    if s.is_empty() {
        "accept; ".into()
    } else {
        format!("{} ", s.trim_start())
    }
}

/// The `match` block's statements.
fn matches(f: &FlowSpec) -> Result<String, AdapterError> {
    let v6 = f.afi == Afi::IPV6;
    let mut s = String::new();
    for c in &f.components {
        let part = match c {
            Component::DestinationPrefix(p) => format!("destination {}", prefix(p, v6)),
            Component::SourcePrefix(p) => format!("source {}", prefix(p, v6)),
            Component::Protocol(o) if v6 => format!("next-header {}", numeric(o)?),
            Component::Protocol(o) => format!("protocol {}", numeric(o)?),
            Component::Port(o) => format!("port {}", numeric(o)?),
            Component::DestinationPort(o) => format!("destination-port {}", numeric(o)?),
            Component::SourcePort(o) => format!("source-port {}", numeric(o)?),
            Component::IcmpType(o) => format!("icmp-type {}", numeric(o)?),
            Component::IcmpCode(o) => format!("icmp-code {}", numeric(o)?),
            Component::TcpFlags(o) => format!("tcp-flags {}", bitmask(o)),
            Component::PacketLength(o) => format!("packet-length {}", numeric(o)?),
            Component::Dscp(o) if v6 => format!("traffic-class {}", numeric(o)?),
            Component::Dscp(o) => format!("dscp {}", numeric(o)?),
            Component::Fragment(o) => format!("fragment {}", bitmask(o)),
            Component::FlowLabel(o) => format!("flow-label {}", numeric(o)?),
        };
        let _ = write!(s, "{part}; ");
    }
    Ok(s)
}

/// `P/len`, or `P/len/offset` for an IPv6 prefix with an offset (RFC 8956).
fn prefix(p: &Prefix, v6: bool) -> String {
    if v6 && p.offset > 0 {
        format!("{}/{}/{}", p.addr, p.len, p.offset)
    } else {
        format!("{}/{}", p.addr, p.len)
    }
}

/// `[ >=8000&<=8080 =443 ]`: `&` joins a term's operators, spaces separate the terms
/// that are ORed (ExaBGP's flow grammar).
fn numeric(ops: &[NumericOp]) -> Result<String, AdapterError> {
    let mut s = String::from("[");
    for (i, op) in ops.iter().enumerate() {
        s.push(if i > 0 && op.and { '&' } else { ' ' });
        let Some(cmp) = comparison(op) else {
            return Err(AdapterError(
                "the ExaBGP adapter has no always-true or always-false FlowSpec operator".into(),
            ));
        };
        let _ = write!(s, "{cmp}{}", op.value);
    }
    s.push_str(" ]");
    Ok(s)
}

/// `[ =0x2&!0x10 ]`: `=` all bits set, `!` none set, `!=` not all set, bare: any set.
fn bitmask(ops: &[BitmaskOp]) -> String {
    let mut s = String::from("[");
    for (i, op) in ops.iter().enumerate() {
        s.push(if i > 0 && op.and { '&' } else { ' ' });
        let o = match (op.match_all, op.not) {
            (true, false) => "=",
            (false, true) => "!",
            (true, true) => "!=",
            (false, false) => "",
        };
        let _ = write!(s, "{o}0x{:x}", op.value);
    }
    s.push_str(" ]");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use levee_bgp::rib::RouteText;
    use levee_mitigate::Levels;

    fn announce(text: &str) -> String {
        let r: RouteText = text.parse().unwrap();
        command(&Change::announce(1, &r, Levels::ALL)).unwrap()
    }

    #[test]
    fn flow_rules_in_exabgp_syntax() {
        assert_eq!(
            announce(
                "flow destination 192.0.2.1/32 protocol udp destination-port >=8000&<=8080 ==443 \
                 tcp-flags =S&!A fragment is-fragment packet-length >1400 then rate-limit 1250000"
            ),
            "announce flow route { match { destination 192.0.2.1/32; protocol [ =17 ]; \
             destination-port [ >=8000&<=8080 =443 ]; tcp-flags [ =0x2&!0x10 ]; \
             packet-length [ >1400 ]; fragment [ 0x2 ]; } then { extended-community \
             [ 0x8006000049989680 ]; } }"
        );
        assert_eq!(
            announce("flow ipv6 destination 2001:db8::/64/8 protocol tcp label ==5 then discard"),
            "announce flow route { match { destination 1:db8::/64/8; next-header [ =6 ]; \
             flow-label [ =5 ]; } then { extended-community [ 0x8006000000000000 ]; } }"
        );
    }

    #[test]
    fn rtbh_and_withdrawals() {
        let text = "route 192.0.2.7/32 next-hop 192.0.2.66 community 65535:666 community 64500:666 \
                    large-community 64500:666:1 med 5";
        assert_eq!(
            announce(text),
            "announce route 192.0.2.7/32 next-hop 192.0.2.66 community [ 65535:666 64500:666 ] \
             large-community [ 64500:666:1 ] med 5"
        );
        let r: RouteText = text.parse().unwrap();
        assert_eq!(
            command(&Change::withdraw(1, &r, Levels::ALL)).unwrap(),
            "withdraw route 192.0.2.7/32"
        );
        let f: RouteText = "flow destination 192.0.2.1/32 then discard"
            .parse()
            .unwrap();
        assert_eq!(
            command(&Change::withdraw(1, &f, Levels::ALL)).unwrap(),
            "withdraw flow route { match { destination 192.0.2.1/32; } }"
        );
        assert_eq!(
            announce("route 192.0.2.8/32"),
            "announce route 192.0.2.8/32 next-hop self"
        );
    }
}

/// The pipe protocol against a stand-in for ExaBGP's control process.
#[cfg(test)]
mod pipe_tests {
    use super::*;
    use levee_bgp::rib::RouteText;
    use levee_mitigate::Levels;
    use tokio::io::AsyncBufReadExt;

    fn fifos(name: &str) -> Settings {
        let dir = std::env::temp_dir().join(format!("levee-exa-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let s = Settings {
            pipe_dir: dir,
            pipe_name: "exabgp".into(),
        };
        for p in [s.commands(), s.answers()] {
            let ok = std::process::Command::new("mkfifo")
                .arg(&p)
                .status()
                .unwrap();
            assert!(ok.success());
        }
        s
    }

    /// Reads commands as ExaBGP's control process does and answers each with
    /// `answer(command)`; returns the commands it saw.
    fn stand_in(
        s: &Settings,
        answer: fn(&str) -> &'static str,
    ) -> tokio::task::JoinHandle<Vec<String>> {
        let rx = pipe::OpenOptions::new()
            .read_write(true)
            .open_receiver(s.commands())
            .unwrap();
        let out = s.answers();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut lines = tokio::io::BufReader::new(rx).lines();
            while let Ok(Ok(Some(l))) =
                tokio::time::timeout(Duration::from_millis(500), lines.next_line()).await
            {
                let mut tx = pipe::OpenOptions::new().open_sender(&out).unwrap();
                tx.write_all(format!("{}\n", answer(&l)).as_bytes())
                    .await
                    .unwrap();
                seen.push(l);
            }
            seen
        })
    }

    fn change(text: &str) -> Change {
        Change::announce(1, &text.parse::<RouteText>().unwrap(), Levels::ALL)
    }

    /// `show adj-rib out` as ExaBGP 4.2 prints it, read back for the confirmed routes.
    #[test]
    fn the_adj_rib_out_is_read_back() {
        let applied = [
            change("route 192.0.2.30/32 next-hop 192.0.2.254 community 65535:666"),
            change("flow destination 192.0.2.31/32 protocol udp then discard"),
            change("flow ipv6 destination 2001:db8::1/128 then discard"),
        ];
        let rib: Vec<String> = [
            "neighbor 127.0.0.1 ipv4 unicast 192.0.2.30/32 next-hop 192.0.2.254",
            "neighbor 127.0.0.1 ipv4 flow flow destination-ipv4 192.0.2.31/32 protocol =udp",
            "neighbor 127.0.0.1 ipv6 flow flow destination-ipv6 2001:db8::1/128/0",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(missing_from_adj_rib(&applied, &rib), 0);
        assert_eq!(missing_from_adj_rib(&applied, &rib[1..]), 1);
        assert_eq!(missing_from_adj_rib(&applied, &[]), 3);
        // A second rule for the same destination needs a line of its own.
        let two = [
            applied[1].clone(),
            change("flow destination 192.0.2.31/32 protocol tcp then discard"),
        ];
        assert_eq!(missing_from_adj_rib(&two, &rib), 1);
    }

    #[tokio::test]
    async fn acknowledged_commands_in_order() {
        let s = fifos("ok");
        let exa = stand_in(&s, |_| "done");
        let mut a = Exabgp::new(s.clone());
        let changes = [change("route 192.0.2.1/32"), change("route 192.0.2.2/32")];
        a.apply(&changes).await.unwrap();
        assert!(a.describe().contains("answering"), "{}", a.describe());
        let seen = exa.await.unwrap();
        assert_eq!(seen.len(), 2);
        assert!(seen[1].starts_with("announce route 192.0.2.2/32"));
        let _ = std::fs::remove_dir_all(&s.pipe_dir);
    }

    #[tokio::test]
    async fn refusals_and_absence_are_errors() {
        let s = fifos("err");
        let exa = stand_in(&s, |c| if c.contains(".2/") { "error" } else { "done" });
        let mut a = Exabgp::new(s.clone());
        let changes = [
            change("route 192.0.2.1/32"),
            change("route 192.0.2.2/32"),
            change("route 192.0.2.3/32"),
        ];
        let e = a.apply(&changes).await.unwrap_err();
        assert!(
            e.0.contains("ExaBGP refused `announce route 192.0.2.2/32"),
            "{e}"
        );
        // The third was not sent: the retry starts again from the first.
        assert_eq!(exa.await.unwrap().len(), 2);
        // Nobody reads the command pipe now.
        let e = a.apply(&changes).await.unwrap_err();
        assert!(e.0.contains("is ExaBGP running"), "{e}");
        std::fs::remove_file(s.commands()).unwrap();
        let e = a.apply(&changes).await.unwrap_err();
        assert!(e.0.contains("mkfifo"), "{e}");
        let _ = std::fs::remove_dir_all(&s.pipe_dir);
    }
}
