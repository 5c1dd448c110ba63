//! From an incident to routes: the attack's signature (victim, vectors, dominant
//! destination ports and packet lengths) and the routes each level announces for it.
//!
//! | Level | Route | Matches |
//! |---|---|---|
//! | L1 | FlowSpec, rate-limit | victim, protocol, source port (amplifiers), dominant destination ports, TCP flags, fragments, dominant packet lengths |
//! | L2 | FlowSpec, discard | the same without packet lengths |
//! | L3 | unicast /32 or /128 | BLACKHOLE (RFC 7999) and the configured communities |
//! | L4 | unicast covering prefix | the scrubbing communities |
//!
//! L1 and L2 name the attack's protocol and ports, so traffic to the victim's other
//! services keeps flowing (RFC 8955 §4.2.2 components, ANDed across types).

use super::settings::{Ladder, Level, UnicastAttrs};
use ipnet::IpNet;
use levee_bgp::codes::Afi;
use levee_bgp::flowspec::action::Action;
use levee_bgp::flowspec::{BitmaskOp, Component, FlowSpec, NumericOp, Prefix, fragment};
use levee_bgp::rib::{Attrs, IpPrefix, Nlri, RouteText};
use levee_bgp::update::attr::community;
use levee_detect::{Event, Victim};
use std::net::IpAddr;

/// Share of the traffic a set of ports or lengths must carry to be put in a rule.
const DOMINANT: f64 = 0.8;
/// At most this many ports or lengths in one component.
const MAX_VALUES: usize = 3;

/// What is attacked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// One address.
    Host(IpAddr),
    /// A protected network as a whole (carpet bombing): its prefixes.
    Network(String, Vec<IpNet>),
}

/// The evidence routes are built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The victim.
    pub target: Target,
    /// Vector names (one, or several for a multi-vector attack).
    pub vectors: Vec<String>,
    /// Destination ports that together carry most of the traffic.
    pub dst_ports: Vec<u16>,
    /// Packet lengths that together carry most of the traffic.
    pub packet_lengths: Vec<u16>,
}

/// The smallest set of top keys that carries [`DOMINANT`] of the traffic, if it has at
/// most [`MAX_VALUES`] keys.
fn dominant(top: &[(u16, f64)]) -> Vec<u16> {
    let mut sum = 0.0;
    let mut keys = Vec::new();
    for &(k, share) in top.iter().take(MAX_VALUES) {
        keys.push(k);
        sum += share;
        if sum >= DOMINANT {
            keys.sort_unstable();
            return keys;
        }
    }
    Vec::new()
}

impl Signature {
    /// The signature of an incident event; `prefixes` are its network's.
    pub fn from_event(e: &Event, prefixes: &[IpNet]) -> Signature {
        let target = match &e.victim {
            Victim::Host(ip) => Target::Host(*ip),
            Victim::Network(name) => Target::Network(name.clone(), prefixes.to_vec()),
        };
        Signature {
            target,
            vectors: e.vector.split('+').map(str::to_string).collect(),
            dst_ports: dominant(&e.top_dst_ports),
            packet_lengths: dominant(&e.top_packet_lengths),
        }
    }

    /// A signature with no evidence: everything to the target (manual mitigations).
    pub fn bare(target: Target) -> Signature {
        Signature {
            target,
            vectors: Vec::new(),
            dst_ports: Vec::new(),
            packet_lengths: Vec::new(),
        }
    }
}

const FIN: u16 = 0x01;
const SYN: u16 = 0x02;
const RST: u16 = 0x04;
const ACK: u16 = 0x10;

fn all_of(bits: u16) -> BitmaskOp {
    BitmaskOp {
        and: false,
        not: false,
        match_all: true,
        value: bits,
    }
}

fn and_none_of(bits: u16) -> BitmaskOp {
    BitmaskOp {
        and: true,
        not: true,
        match_all: false,
        value: bits,
    }
}

/// The protocol a vector names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Tcp,
    Udp,
    Icmp,
    /// Neither TCP, UDP nor ICMP.
    Other,
    /// Unknown: no protocol component.
    Any,
}

/// What one vector matches, besides the victim.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Match {
    proto: Proto,
    src_port: Option<u16>,
    tcp_flags: Vec<BitmaskOp>,
    fragments: bool,
}

fn vector_match(v: &str) -> Match {
    let m = |proto, tcp_flags| Match {
        proto,
        src_port: None,
        tcp_flags,
        fragments: false,
    };
    match v {
        "syn_flood" => m(Proto::Tcp, vec![all_of(SYN), and_none_of(ACK)]),
        "tcp_synack_flood" => m(Proto::Tcp, vec![all_of(SYN | ACK)]),
        "tcp_ack_flood" => m(Proto::Tcp, vec![all_of(ACK), and_none_of(SYN | FIN | RST)]),
        "tcp_rst_flood" => m(Proto::Tcp, vec![all_of(RST)]),
        "tcp_fin_flood" => m(Proto::Tcp, vec![all_of(FIN)]),
        "http_flood" | "tcp_flood" => m(Proto::Tcp, Vec::new()),
        "dns_query_flood" | "udp_flood" | "udp_amplification" => m(Proto::Udp, Vec::new()),
        "icmp_flood" => m(Proto::Icmp, Vec::new()),
        "ip_protocol_flood" => m(Proto::Other, Vec::new()),
        "fragment_flood" => Match {
            fragments: true,
            ..m(Proto::Any, Vec::new())
        },
        amp => match levee_detect::breakdown::AMPLIFIERS
            .iter()
            .find(|(_, n)| *n == amp)
        {
            Some((port, _)) => Match {
                src_port: Some(*port),
                ..m(Proto::Udp, Vec::new())
            },
            None => m(Proto::Any, Vec::new()),
        },
    }
}

fn eqs(values: &[u16]) -> Vec<NumericOp> {
    values
        .iter()
        .map(|&v| NumericOp::eq(u64::from(v)))
        .collect()
}

fn not_eqs(values: &[u64]) -> Vec<NumericOp> {
    values
        .iter()
        .enumerate()
        .map(|(i, &value)| NumericOp {
            and: i > 0,
            lt: true,
            gt: true,
            eq: false,
            value,
        })
        .collect()
}

/// The destinations of a target, as FlowSpec prefixes.
fn destinations(t: &Target) -> Vec<Prefix> {
    let p = |addr: IpAddr, len| Prefix {
        addr,
        len,
        offset: 0,
    };
    match t {
        Target::Host(ip) => vec![p(*ip, if ip.is_ipv4() { 32 } else { 128 })],
        Target::Network(_, nets) => nets
            .iter()
            .map(|n| p(n.trunc().addr(), n.prefix_len()))
            .collect(),
    }
}

/// One FlowSpec rule for a destination and a vector.
fn rule(dst: Prefix, m: &Match, sig: &Signature, with_lengths: bool, single: bool) -> FlowSpec {
    let v6 = dst.addr.is_ipv6();
    let mut c = vec![Component::DestinationPrefix(dst)];
    let icmp = if v6 { 58 } else { 1 };
    match m.proto {
        Proto::Tcp => c.push(Component::Protocol(vec![NumericOp::eq(6)])),
        Proto::Udp => c.push(Component::Protocol(vec![NumericOp::eq(17)])),
        Proto::Icmp => c.push(Component::Protocol(vec![NumericOp::eq(icmp)])),
        Proto::Other => c.push(Component::Protocol(not_eqs(&[icmp, 6, 17]))),
        Proto::Any => {}
    }
    // Ports are only in the first fragment: a fragment rule names none. With several
    // vectors, the traffic's dominant ports belong to no one vector.
    let ported = matches!(m.proto, Proto::Tcp | Proto::Udp) && !m.fragments;
    if ported && single && !sig.dst_ports.is_empty() {
        c.push(Component::DestinationPort(eqs(&sig.dst_ports)));
    }
    if let Some(p) = m.src_port.filter(|_| ported) {
        c.push(Component::SourcePort(eqs(&[p])));
    }
    if !m.tcp_flags.is_empty() {
        c.push(Component::TcpFlags(m.tcp_flags.clone()));
    }
    if with_lengths && single && !sig.packet_lengths.is_empty() {
        c.push(Component::PacketLength(eqs(&sig.packet_lengths)));
    }
    if m.fragments {
        c.push(Component::Fragment(vec![BitmaskOp {
            and: false,
            not: false,
            match_all: false,
            value: fragment::IS_FRAGMENT | fragment::FIRST,
        }]));
    }
    FlowSpec {
        afi: if v6 { Afi::IPV6 } else { Afi::IPV4 },
        components: c,
    }
}

fn unicast_attrs(u: &UnicastAttrs, v6: bool, blackhole: bool) -> Attrs {
    let mut communities = Vec::new();
    if blackhole {
        communities.push(community::BLACKHOLE);
    }
    for c in &u.communities {
        if !communities.contains(c) {
            communities.push(*c);
        }
    }
    if u.no_export && !communities.contains(&community::NO_EXPORT) {
        communities.push(community::NO_EXPORT);
    }
    Attrs {
        next_hop: if v6 {
            u.next_hop_v6.map(IpAddr::V6)
        } else {
            u.next_hop_v4.map(IpAddr::V4)
        },
        communities,
        large_communities: u.large_communities.clone(),
        ..Attrs::default()
    }
}

/// The prefix L4 announces for a host: the victim's address cut to the configured
/// length, but never wider than the protected prefix it is in.
fn covering(ip: IpAddr, within: &[IpNet], ladder: &Ladder) -> IpPrefix {
    let want = if ip.is_ipv4() {
        ladder.scrub_len_v4
    } else {
        ladder.scrub_len_v6
    };
    let floor = within
        .iter()
        .filter(|n| n.contains(&ip))
        .map(IpNet::prefix_len)
        .max()
        .unwrap_or(want);
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = want.max(floor).min(max);
    IpPrefix::new(ip, len).unwrap_or(IpPrefix { addr: ip, len: max })
}

/// Whether a level has routes for a target: RTBH is for hosts only (a network under
/// carpet bombing goes from L2 to scrubbing).
pub fn applies(level: Level, t: &Target) -> bool {
    !(level == Level::L3 && matches!(t, Target::Network(..)))
}

/// The routes a level announces for a signature. `within` are the victim's protected
/// prefixes (for L4's covering prefix).
pub fn routes(sig: &Signature, level: Level, ladder: &Ladder, within: &[IpNet]) -> Vec<RouteText> {
    match level {
        Level::L1 | Level::L2 => {
            let action = if level == Level::L1 {
                Action::RateBytes {
                    asn: 0,
                    rate: (ladder.rate_limit_bps / 8) as f32,
                }
            } else {
                Action::DISCARD
            };
            let attrs = Attrs {
                extended_communities: vec![action.to_bytes()],
                ..Attrs::default()
            };
            let matches: Vec<Match> = if sig.vectors.is_empty() {
                vec![vector_match("")]
            } else {
                sig.vectors.iter().map(|v| vector_match(v)).collect()
            };
            let single = matches.len() == 1;
            let mut out: Vec<RouteText> = Vec::new();
            for dst in destinations(&sig.target) {
                for m in &matches {
                    let r = RouteText {
                        nlri: Nlri::Flow(rule(dst, m, sig, level == Level::L1, single)),
                        attrs: attrs.clone(),
                    };
                    if !out.contains(&r) {
                        out.push(r);
                    }
                }
            }
            out
        }
        Level::L3 => match sig.target {
            Target::Host(ip) => {
                let len = if ip.is_ipv4() { 32 } else { 128 };
                IpPrefix::new(ip, len)
                    .map(|p| RouteText {
                        nlri: Nlri::Unicast(p),
                        attrs: unicast_attrs(&ladder.rtbh, ip.is_ipv6(), true),
                    })
                    .into_iter()
                    .collect()
            }
            Target::Network(..) => Vec::new(),
        },
        Level::L4 => {
            let prefixes: Vec<IpPrefix> = match &sig.target {
                Target::Host(ip) => vec![covering(*ip, within, ladder)],
                Target::Network(_, nets) => nets
                    .iter()
                    .filter_map(|n| IpPrefix::new(n.addr(), n.prefix_len()))
                    .collect(),
            };
            prefixes
                .into_iter()
                .map(|p| RouteText {
                    nlri: Nlri::Unicast(p),
                    attrs: unicast_attrs(&ladder.scrubbing, p.addr.is_ipv6(), false),
                })
                .collect()
        }
    }
}
