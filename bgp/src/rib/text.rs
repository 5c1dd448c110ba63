//! Routes as one line of text, for the command line and the speaker's control input.
//!
//! ```text
//! flow [ipv4|ipv6] [match] COMPONENT VALUE... [then ATTRIBUTE...]
//! route PREFIX [ATTRIBUTE...]
//!
//! COMPONENT  destination source protocol port destination-port source-port icmp-type
//!            icmp-code tcp-flags packet-length dscp fragment label
//! VALUE      prefix: 192.0.2.0/24, or ADDR/LEN/OFFSET for IPv6 (RFC 8956)
//!            numeric terms: [==|<|>|<=|>=|!=]N, or true/false; LO-HI is >=LO&<=HI;
//!            protocol names tcp udp icmp gre ipv6-icmp
//!            bitmask terms: [!][=]NAME|NAME..., TCP flags fin syn rst push ack urgent
//!            ece cwr (or GoBGP's letters: =SA is syn and ack), fragment bits dont-fragment is-fragment first-fragment last-fragment
//!            terms separated by spaces are ORed; joined by & they are ANDed
//! ATTRIBUTE  discard | rate-limit BYTES/S | rate-limit-packets PPS | action sample|terminal|
//!            sample-terminal | redirect ASN:N | redirect ADDR:N | redirect-as4 ASN:N |
//!            mark DSCP | next-hop ADDR | community A:B|blackhole|no-export|no-advertise |
//!            large-community A:B:C | extended-community 0xHEX16 | med N | local-pref N
//! ```
//! Values are the notation GoBGP prints, so `[destination-port: ==80 ==443]` is written
//! `destination-port ==80 ==443`. `Display` writes what `FromStr` reads.

use super::{Attrs, IpPrefix, Nlri};
use crate::codes::Afi;
use crate::flowspec::action::Action;
use crate::flowspec::display::{FRAGMENT, TCP_FLAG_NAMES, TCP_FLAGS, Value, name, protocol};
use crate::flowspec::{BitmaskOp, Component, FlowSpec, NumericOp, Prefix};
use crate::update::attr::community;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

/// A route and its attributes, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteText {
    /// What is announced.
    pub nlri: Nlri,
    /// With which attributes.
    pub attrs: Attrs,
}

/// Why a route text does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// The text is empty or does not start with `flow` or `route`.
    #[error("a route starts with `flow` or `route`")]
    Kind,
    /// A word where something else was expected.
    #[error("word {at} ({found:?}): expected {expected}")]
    Expected {
        /// 1-based word position.
        at: usize,
        /// The word (empty at the end of the text).
        found: String,
        /// What would have been valid.
        expected: &'static str,
    },
    /// The rule is well formed but cannot be a FlowSpec rule.
    #[error("{0}")]
    Rule(#[from] crate::flowspec::Error),
}

const COMPONENTS: &[&str] = &[
    "destination",
    "source",
    "protocol",
    "port",
    "destination-port",
    "source-port",
    "icmp-type",
    "icmp-code",
    "tcp-flags",
    "packet-length",
    "dscp",
    "fragment",
    "label",
];

struct Words<'a> {
    words: Vec<&'a str>,
    at: usize,
}

impl<'a> Words<'a> {
    fn next(&mut self) -> Option<&'a str> {
        let w = self.words.get(self.at).copied();
        if w.is_some() {
            self.at += 1;
        }
        w
    }
    fn peek(&self) -> Option<&'a str> {
        self.words.get(self.at).copied()
    }
    /// An error about the word just taken (or the end).
    fn err(&self, expected: &'static str) -> TextError {
        TextError::Expected {
            at: self.at.max(1),
            found: self
                .words
                .get(self.at.saturating_sub(1))
                .unwrap_or(&"")
                .to_string(),
            expected,
        }
    }
    fn value<T: FromStr>(&mut self, expected: &'static str) -> Result<T, TextError> {
        let w = self.next().ok_or_else(|| self.end(expected))?;
        w.parse().map_err(|_| self.err(expected))
    }
    fn end(&self, expected: &'static str) -> TextError {
        TextError::Expected {
            at: self.words.len() + 1,
            found: String::new(),
            expected,
        }
    }
}

fn numeric_term(t: &str, names: fn(&str) -> Option<u64>, max: u64) -> Option<Vec<NumericOp>> {
    let op = |lt, gt, eq, value| NumericOp {
        and: false,
        lt,
        gt,
        eq,
        value,
    };
    match t {
        "true" => return Some(vec![op(true, true, true, 0)]),
        "false" => return Some(vec![op(false, false, false, 0)]),
        _ => {}
    }
    let value = |v: &str| {
        v.parse::<u64>()
            .ok()
            .or_else(|| names(v))
            .filter(|x| *x <= max)
    };
    if let Some((lo, hi)) = t.split_once('-')
        && lo.bytes().all(|b| b.is_ascii_digit())
        && !lo.is_empty()
    {
        let (lo, hi) = (value(lo)?, value(hi)?);
        return (lo <= hi).then(|| NumericOp::range(lo, hi).to_vec());
    }
    let (lt, gt, eq, rest) = if let Some(r) = t.strip_prefix("==") {
        (false, false, true, r)
    } else if let Some(r) = t.strip_prefix("<=") {
        (true, false, true, r)
    } else if let Some(r) = t.strip_prefix(">=") {
        (false, true, true, r)
    } else if let Some(r) = t.strip_prefix("!=") {
        (true, true, false, r)
    } else if let Some(r) = t.strip_prefix('<') {
        (true, false, false, r)
    } else if let Some(r) = t.strip_prefix('>') {
        (false, true, false, r)
    } else if let Some(r) = t.strip_prefix('=') {
        (false, false, true, r)
    } else {
        (false, false, true, t)
    };
    Some(vec![op(lt, gt, eq, value(rest)?)])
}

/// A bitmask term: `[!][=]` then bits joined by `|`, each a name, `0x` hex, or (for TCP
/// flags, as GoBGP writes them) a run of letters such as `SA`.
fn bitmask_term(t: &str, names: &[(u16, &str)], letters: &[(u16, &str)]) -> Option<BitmaskOp> {
    let (not, rest) = match t.strip_prefix('!') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let (match_all, rest) = match rest.strip_prefix('=') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let mut value = 0u16;
    for n in rest.split('|') {
        value |= match names.iter().find(|(_, name)| *name == n) {
            Some((bit, _)) => *bit,
            None if n.starts_with("0x") => u16::from_str_radix(&n[2..], 16).ok()?,
            None if !letters.is_empty() && !n.is_empty() => {
                let mut v = 0;
                for c in n.chars() {
                    let (bit, _) = letters.iter().find(|(_, l)| l.starts_with(c))?;
                    v |= bit;
                }
                v
            }
            None => return None,
        };
    }
    Some(BitmaskOp {
        and: false,
        not,
        match_all,
        value,
    })
}

/// Operator terms: words ORed, `&`-joined parts ANDed.
fn terms<T>(
    w: &mut Words<'_>,
    expected: &'static str,
    mut term: impl FnMut(&str) -> Option<Vec<T>>,
    set_and: fn(&mut T),
) -> Result<Vec<T>, TextError> {
    let mut ops = Vec::new();
    while let Some(word) = w.peek() {
        if COMPONENTS.contains(&word) || word == "then" {
            break;
        }
        w.next();
        for (i, part) in word.split('&').enumerate() {
            let mut got = term(part).ok_or_else(|| w.err(expected))?;
            if i > 0
                && let Some(first) = got.first_mut()
            {
                set_and(first);
            }
            ops.append(&mut got);
        }
    }
    if ops.is_empty() {
        return Err(w.end(expected));
    }
    Ok(ops)
}

fn flow_prefix(w: &mut Words<'_>) -> Result<Prefix, TextError> {
    const EXPECTED: &str = "a prefix such as 192.0.2.0/24";
    let word = w.next().ok_or_else(|| w.end(EXPECTED))?;
    let mut parts = word.split('/');
    let addr: IpAddr = parts
        .next()
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| w.err(EXPECTED))?;
    let len: u8 = match parts.next() {
        Some(l) => l.parse().map_err(|_| w.err(EXPECTED))?,
        None if addr.is_ipv4() => 32,
        None => 128,
    };
    let offset: u8 = match parts.next() {
        Some(o) if addr.is_ipv6() => o.parse().map_err(|_| w.err(EXPECTED))?,
        Some(_) => return Err(w.err("an IPv4 prefix has no offset")),
        None => 0,
    };
    let p = IpPrefix::new(addr, len).ok_or_else(|| w.err(EXPECTED))?;
    if offset > len || parts.next().is_some() {
        return Err(w.err(EXPECTED));
    }
    // Bits before the offset are not matched and not sent (RFC 8956 §3.1): keep them
    // zero, as decoding does, so `2001:db8::/64/8` reads as `1:db8::/64/8`.
    let addr = match p.addr {
        IpAddr::V6(a) => {
            let keep = u128::MAX.checked_shr(u32::from(offset)).unwrap_or(0);
            IpAddr::V6((u128::from(a) & keep).into())
        }
        v4 => v4,
    };
    Ok(Prefix { addr, len, offset })
}

fn protocol_name(n: &str) -> Option<u64> {
    (0..=255).find(|v| protocol(*v) == Some(n))
}

fn no_names(_: &str) -> Option<u64> {
    None
}

fn component(w: &mut Words<'_>, keyword: &str) -> Result<Component, TextError> {
    let num = |w: &mut Words<'_>, names: fn(&str) -> Option<u64>, max, expected| {
        terms(
            w,
            expected,
            |t| numeric_term(t, names, max),
            |o: &mut NumericOp| o.and = true,
        )
    };
    let bits = |w: &mut Words<'_>,
                names: &'static [(u16, &'static str)],
                letters: &'static [(u16, &'static str)],
                expected| {
        terms(
            w,
            expected,
            |t| bitmask_term(t, names, letters).map(|o| vec![o]),
            |o: &mut BitmaskOp| o.and = true,
        )
    };
    const PORT: &str = "port terms such as ==53, >=1024 or 8000-8080";
    Ok(match keyword {
        "destination" => Component::DestinationPrefix(flow_prefix(w)?),
        "source" => Component::SourcePrefix(flow_prefix(w)?),
        "protocol" => Component::Protocol(num(
            w,
            protocol_name,
            255,
            "protocol terms such as udp, ==6 or !=17",
        )?),
        "port" => Component::Port(num(w, no_names, 65535, PORT)?),
        "destination-port" => Component::DestinationPort(num(w, no_names, 65535, PORT)?),
        "source-port" => Component::SourcePort(num(w, no_names, 65535, PORT)?),
        "icmp-type" => Component::IcmpType(num(w, no_names, 255, "ICMP type terms (0-255)")?),
        "icmp-code" => Component::IcmpCode(num(w, no_names, 255, "ICMP code terms (0-255)")?),
        "tcp-flags" => Component::TcpFlags(bits(
            w,
            TCP_FLAG_NAMES,
            TCP_FLAGS,
            "TCP flag terms such as syn, =syn|ack, =SA or !R",
        )?),
        "packet-length" => Component::PacketLength(num(
            w,
            no_names,
            65535,
            "packet length terms such as >=1400",
        )?),
        "dscp" => Component::Dscp(num(w, no_names, 63, "DSCP terms (0-63)")?),
        "fragment" => Component::Fragment(bits(
            w,
            FRAGMENT,
            &[],
            "fragment terms such as is-fragment or =first-fragment",
        )?),
        "label" => {
            Component::FlowLabel(num(w, no_names, 0xf_ffff, "flow label terms (0-1048575)")?)
        }
        _ => return Err(w.err("a FlowSpec component")),
    })
}

fn community_value(s: &str) -> Option<u32> {
    match s {
        "blackhole" => return Some(community::BLACKHOLE),
        "no-export" => return Some(community::NO_EXPORT),
        "no-advertise" => return Some(community::NO_ADVERTISE),
        _ => {}
    }
    let (a, b) = s.split_once(':')?;
    Some(u32::from(a.parse::<u16>().ok()?) << 16 | u32::from(b.parse::<u16>().ok()?))
}

/// A rate: finite and not negative.
fn rate(w: &mut Words<'_>, expected: &'static str) -> Result<f32, TextError> {
    let rate: f32 = w.value(expected)?;
    if rate.is_finite() && rate >= 0.0 {
        Ok(rate)
    } else {
        Err(w.err(expected))
    }
}

/// `action sample|terminal|sample-terminal`.
fn traffic_action(w: &mut Words<'_>) -> Result<Action, TextError> {
    const E: &str = "sample, terminal or sample-terminal";
    let (sample, terminal) = match w.next().ok_or_else(|| w.end(E))? {
        "sample" => (true, false),
        "terminal" => (false, true),
        "sample-terminal" | "terminal-sample" => (true, true),
        _ => return Err(w.err(E)),
    };
    Ok(Action::TrafficAction { sample, terminal })
}

/// `redirect` or `redirect-as4` and its route target (`redirect` with an AS that fits
/// two octets is the two-octet form).
fn redirect(w: &mut Words<'_>, word: &str) -> Result<Action, TextError> {
    const E: &str = "a route target such as 65000:100 or 192.0.2.1:100";
    let v = w.next().ok_or_else(|| w.end(E))?;
    let (g, l) = v.split_once(':').ok_or_else(|| w.err(E))?;
    Ok(if let Ok(addr) = g.parse::<Ipv4Addr>() {
        Action::RedirectIpv4 {
            addr,
            local: l.parse().map_err(|_| w.err(E))?,
        }
    } else {
        let asn: u32 = g.parse().map_err(|_| w.err(E))?;
        match u16::try_from(asn) {
            Ok(asn) if word == "redirect" => Action::RedirectAs2 {
                asn,
                local: l.parse().map_err(|_| w.err(E))?,
            },
            _ => Action::RedirectAs4 {
                asn,
                local: l.parse().map_err(|_| w.err(E))?,
            },
        }
    })
}

fn attribute(w: &mut Words<'_>, word: &str, a: &mut Attrs) -> Result<(), TextError> {
    let mut ext = |x: Action| a.extended_communities.push(x.to_bytes());
    match word {
        "discard" => ext(Action::DISCARD),
        "rate-limit" => ext(Action::RateBytes {
            asn: 0,
            rate: rate(w, "a rate in bytes per second")?,
        }),
        "rate-limit-packets" => ext(Action::RatePackets {
            asn: 0,
            rate: rate(w, "a rate in packets per second")?,
        }),
        "action" => ext(traffic_action(w)?),
        "redirect" | "redirect-as4" => ext(redirect(w, word)?),
        "mark" => {
            let dscp: u8 = w.value("a DSCP value (0-63)")?;
            if dscp > 63 {
                return Err(w.err("a DSCP value (0-63)"));
            }
            ext(Action::Mark { dscp })
        }
        "extended-community" => {
            const E: &str = "eight octets in hex, such as 0x0002fde800000064";
            let v = w.next().ok_or_else(|| w.end(E))?;
            let hex = v.strip_prefix("0x").unwrap_or(v);
            let x = u64::from_str_radix(hex, 16)
                .ok()
                .filter(|_| hex.len() == 16)
                .ok_or_else(|| w.err(E))?;
            a.extended_communities.push(x.to_be_bytes());
        }
        "next-hop" => a.next_hop = Some(w.value("an IP address")?),
        "community" => {
            const E: &str = "a community such as 65535:666, blackhole or no-export";
            let v = w.next().ok_or_else(|| w.end(E))?;
            a.communities
                .push(community_value(v).ok_or_else(|| w.err(E))?);
        }
        "blackhole" | "no-export" | "no-advertise" => a
            .communities
            .push(community_value(word).unwrap_or_default()),
        "large-community" => {
            const E: &str = "a large community such as 64500:1:2";
            let v = w.next().ok_or_else(|| w.end(E))?;
            let mut parts = v.split(':').map(|p| p.parse::<u32>());
            match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some(Ok(x)), Some(Ok(y)), Some(Ok(z)), None) => {
                    a.large_communities.push([x, y, z])
                }
                _ => return Err(w.err(E)),
            }
        }
        "med" => a.med = Some(w.value("a MED (0-4294967295)")?),
        "local-pref" => a.local_pref = Some(w.value("a LOCAL_PREF (0-4294967295)")?),
        _ => return Err(w.err("an action or attribute")),
    }
    Ok(())
}

/// `route PREFIX`, after the keyword.
fn route(w: &mut Words<'_>) -> Result<Nlri, TextError> {
    const E: &str = "a prefix such as 192.0.2.1/32";
    let v = w.next().ok_or_else(|| w.end(E))?;
    let (addr, len) = match v.split_once('/') {
        Some((a, l)) => (a, l.parse().map_err(|_| w.err(E))?),
        None => (v, if v.contains(':') { 128 } else { 32 }),
    };
    let addr: IpAddr = addr.parse().map_err(|_| w.err(E))?;
    let p = IpPrefix::new(addr, len).ok_or_else(|| w.err(E))?;
    if p.addr != addr {
        return Err(w.err("a prefix without host bits"));
    }
    Ok(Nlri::Unicast(p))
}

/// `flow [ipv4|ipv6] [match] COMPONENT VALUE...` up to `then`, after the keyword.
fn flow(w: &mut Words<'_>) -> Result<Nlri, TextError> {
    let mut afi = None;
    if let Some(f @ ("ipv4" | "ipv6")) = w.peek() {
        w.next();
        afi = Some(if f == "ipv4" { Afi::IPV4 } else { Afi::IPV6 });
    }
    if w.peek() == Some("match") {
        w.next();
    }
    let mut components: Vec<Component> = Vec::new();
    while let Some(word) = w.next() {
        if word == "then" {
            break;
        }
        let c = component(w, word)?;
        if let Component::DestinationPrefix(p) | Component::SourcePrefix(p) = &c {
            let this = if p.addr.is_ipv4() {
                Afi::IPV4
            } else {
                Afi::IPV6
            };
            if *afi.get_or_insert(this) != this {
                return Err(w.err("prefixes of one address family"));
            }
        }
        if components.iter().any(|o| o.type_code() == c.type_code()) {
            return Err(w.err("each component once"));
        }
        components.push(c);
    }
    if components.is_empty() {
        return Err(w.err("at least one FlowSpec component"));
    }
    components.sort_by_key(Component::type_code);
    let rule = FlowSpec {
        afi: afi.unwrap_or(Afi::IPV4),
        components,
    };
    rule.to_bytes()?;
    Ok(Nlri::Flow(rule))
}

impl FromStr for RouteText {
    type Err = TextError;

    fn from_str(s: &str) -> Result<Self, TextError> {
        let mut w = Words {
            words: s.split_whitespace().collect(),
            at: 0,
        };
        let mut attrs = Attrs::default();
        let nlri = match w.next() {
            Some("route") => route(&mut w)?,
            Some("flow") => flow(&mut w)?,
            _ => return Err(TextError::Kind),
        };
        while let Some(word) = w.next() {
            attribute(&mut w, word, &mut attrs)?;
        }
        Ok(RouteText { nlri, attrs })
    }
}

fn action_words(f: &mut fmt::Formatter<'_>, x: &[u8; 8]) -> fmt::Result {
    match Action::from_bytes(*x) {
        Some(Action::RateBytes { rate: 0.0, .. }) => f.write_str(" discard"),
        Some(Action::RateBytes { rate, .. }) => write!(f, " rate-limit {rate}"),
        Some(Action::RatePackets { rate, .. }) => write!(f, " rate-limit-packets {rate}"),
        Some(Action::TrafficAction { sample, terminal }) => f.write_str(match (sample, terminal) {
            (true, true) => " action sample-terminal",
            (true, false) => " action sample",
            (false, true) => " action terminal",
            // No flags: not expressible as an action word.
            (false, false) => " extended-community 0x8007000000000000",
        }),
        Some(Action::RedirectAs2 { asn, local }) => write!(f, " redirect {asn}:{local}"),
        Some(Action::RedirectIpv4 { addr, local }) => write!(f, " redirect {addr}:{local}"),
        Some(Action::RedirectAs4 { asn, local }) => write!(f, " redirect-as4 {asn}:{local}"),
        Some(Action::Mark { dscp }) => write!(f, " mark {dscp}"),
        None => write!(f, " extended-community 0x{:016x}", u64::from_be_bytes(*x)),
    }
}

impl fmt::Display for RouteText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.nlri {
            Nlri::Unicast(p) => write!(f, "route {p}")?,
            Nlri::Flow(r) => {
                f.write_str("flow")?;
                if r.afi == Afi::IPV6 {
                    f.write_str(" ipv6")?;
                }
                for c in &r.components {
                    write!(f, " {} {}", name(c), Value(c))?;
                }
                let a = &self.attrs;
                if !(a.extended_communities.is_empty()
                    && a.communities.is_empty()
                    && a.large_communities.is_empty()
                    && a.next_hop.is_none()
                    && a.med.is_none()
                    && a.local_pref.is_none())
                {
                    f.write_str(" then")?;
                }
            }
        }
        let a = &self.attrs;
        for x in &a.extended_communities {
            action_words(f, x)?;
        }
        if let Some(nh) = a.next_hop {
            write!(f, " next-hop {nh}")?;
        }
        for c in &a.communities {
            write!(f, " community {}:{}", c >> 16, c & 0xffff)?;
        }
        for [x, y, z] in &a.large_communities {
            write!(f, " large-community {x}:{y}:{z}")?;
        }
        if let Some(m) = a.med {
            write!(f, " med {m}")?;
        }
        if let Some(l) = a.local_pref {
            write!(f, " local-pref {l}")?;
        }
        Ok(())
    }
}
