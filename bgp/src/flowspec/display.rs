//! Rules in GoBGP's notation, as `gobgp global rib -a ipv4-flowspec` prints them:
//! `[destination: 192.0.2.0/24][protocol: ==tcp][destination-port: ==80]`.

use super::{BitmaskOp, Component, FlowSpec, NumericOp, Prefix};
use std::fmt;

fn numeric(
    f: &mut fmt::Formatter<'_>,
    ops: &[NumericOp],
    name: fn(u64) -> Option<&'static str>,
) -> fmt::Result {
    for (i, op) in ops.iter().enumerate() {
        if i > 0 {
            f.write_str(if op.and { "&" } else { " " })?;
        }
        let cmp = match (op.lt, op.gt, op.eq) {
            (false, false, false) => "false",
            (true, true, true) => "true",
            (false, false, true) => "==",
            (true, false, false) => "<",
            (false, true, false) => ">",
            (true, false, true) => "<=",
            (false, true, true) => ">=",
            (true, true, false) => "!=",
        };
        if cmp == "false" || cmp == "true" {
            f.write_str(cmp)?;
            continue;
        }
        match name(op.value) {
            Some(n) => write!(f, "{cmp}{n}")?,
            None => write!(f, "{cmp}{}", op.value)?,
        }
    }
    Ok(())
}

/// Bits by name, joined by `joiner` (GoBGP 3 writes TCP flags as letters, `SA`, and
/// fragment bits as words); bits without a name follow as `|0x..`.
fn bitmask(
    f: &mut fmt::Formatter<'_>,
    ops: &[BitmaskOp],
    names: &[(u16, &str)],
    joiner: &str,
) -> fmt::Result {
    for (i, op) in ops.iter().enumerate() {
        if i > 0 {
            f.write_str(if op.and { "&" } else { " " })?;
        }
        f.write_str(match (op.not, op.match_all) {
            (false, false) => "",
            (false, true) => "=",
            (true, false) => "!",
            (true, true) => "!=",
        })?;
        let mut first = true;
        for (bit, name) in names {
            if op.value & bit != 0 {
                if !first {
                    f.write_str(joiner)?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        let known: u16 = names.iter().map(|(b, _)| b).fold(0, |a, b| a | b);
        if op.value & !known != 0 || first {
            if !first {
                f.write_str("|")?;
            }
            write!(f, "0x{:x}", op.value & !known)?;
        }
    }
    Ok(())
}

pub(crate) fn protocol(v: u64) -> Option<&'static str> {
    Some(match v {
        1 => "icmp",
        6 => "tcp",
        17 => "udp",
        47 => "gre",
        58 => "ipv6-icmp",
        _ => return None,
    })
}

/// TCP flags as GoBGP 3 prints them: F S R P A U E C.
pub(crate) const TCP_FLAGS: &[(u16, &str)] = &[
    (0x01, "F"),
    (0x02, "S"),
    (0x04, "R"),
    (0x08, "P"),
    (0x10, "A"),
    (0x20, "U"),
    (0x40, "E"),
    (0x80, "C"),
];

/// TCP flags by name, for the route text.
pub(crate) const TCP_FLAG_NAMES: &[(u16, &str)] = &[
    (0x01, "fin"),
    (0x02, "syn"),
    (0x04, "rst"),
    (0x08, "push"),
    (0x10, "ack"),
    (0x20, "urgent"),
    (0x40, "ece"),
    (0x80, "cwr"),
];

pub(crate) const FRAGMENT: &[(u16, &str)] = &[
    (0x01, "dont-fragment"),
    (0x02, "is-fragment"),
    (0x04, "first-fragment"),
    (0x08, "last-fragment"),
];

fn prefix(f: &mut fmt::Formatter<'_>, p: &Prefix) -> fmt::Result {
    write!(f, "{}/{}", p.addr, p.len)?;
    // GoBGP always shows the IPv6 offset (RFC 8956), zero or not.
    if p.addr.is_ipv6() {
        write!(f, "/{}", p.offset)?;
    }
    Ok(())
}

/// The component's keyword, as GoBGP prints and levee's route text reads it.
pub(crate) fn name(c: &Component) -> &'static str {
    match c {
        Component::DestinationPrefix(_) => "destination",
        Component::SourcePrefix(_) => "source",
        Component::Protocol(_) => "protocol",
        Component::Port(_) => "port",
        Component::DestinationPort(_) => "destination-port",
        Component::SourcePort(_) => "source-port",
        Component::IcmpType(_) => "icmp-type",
        Component::IcmpCode(_) => "icmp-code",
        Component::TcpFlags(_) => "tcp-flags",
        Component::PacketLength(_) => "packet-length",
        Component::Dscp(_) => "dscp",
        Component::Fragment(_) => "fragment",
        Component::FlowLabel(_) => "label",
    }
}

/// The component's value: a prefix, or operator terms (space: OR, `&`: AND).
pub(crate) struct Value<'a>(pub(crate) &'a Component);

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let none = |_| None;
        match self.0 {
            Component::DestinationPrefix(p) | Component::SourcePrefix(p) => prefix(f, p),
            Component::Protocol(ops) => numeric(f, ops, protocol),
            Component::TcpFlags(ops) => bitmask(f, ops, TCP_FLAGS, ""),
            Component::Fragment(ops) => bitmask(f, ops, FRAGMENT, "|"),
            Component::Port(ops)
            | Component::DestinationPort(ops)
            | Component::SourcePort(ops)
            | Component::IcmpType(ops)
            | Component::IcmpCode(ops)
            | Component::PacketLength(ops)
            | Component::Dscp(ops)
            | Component::FlowLabel(ops) => numeric(f, ops, none),
        }
    }
}

impl fmt::Display for FlowSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.components {
            write!(f, "[{}: {}]", name(c), Value(c))?;
        }
        Ok(())
    }
}
