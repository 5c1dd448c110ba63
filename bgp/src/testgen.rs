//! Random FlowSpec rules for the randomized tests, drawn from the test kit's seeded
//! generator.

use crate::codes::Afi;
use crate::codes::component as code;
use crate::flowspec::{BitmaskOp, Component, FlowSpec, NumericOp, Prefix};
use levee_testkit::Rng;
use std::net::IpAddr;

/// What [`random_rule`] may produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Anything the wire format carries: any value, IPv6 prefix offsets.
    Wire,
    /// What the route text expresses: values within each component's range, `true` and
    /// `false` with value 0, no offsets.
    Text,
}

/// `n` numeric operators with values up to `max` (any value for [`Shape::Wire`]).
fn numeric(rnd: &mut Rng, n: usize, shape: Shape, max: u64) -> Vec<NumericOp> {
    (0..n)
        .map(|i| {
            let (lt, gt, eq) = (
                rnd.next_u64().is_multiple_of(2),
                rnd.next_u64().is_multiple_of(2),
                rnd.next_u64().is_multiple_of(2),
            );
            let value = match shape {
                Shape::Text if lt == gt && gt == eq => 0,
                Shape::Text => rnd.next_u64() % (max + 1),
                Shape::Wire => rnd.next_u64() >> (rnd.next_u64() % 64),
            };
            NumericOp {
                and: i > 0 && rnd.next_u64().is_multiple_of(2),
                lt,
                gt,
                eq,
                value,
            }
        })
        .collect()
}

/// `n` bitmask operators.
fn bitmask(rnd: &mut Rng, n: usize) -> Vec<BitmaskOp> {
    (0..n)
        .map(|i| BitmaskOp {
            and: i > 0 && rnd.next_u64().is_multiple_of(2),
            not: rnd.next_u64().is_multiple_of(2),
            match_all: rnd.next_u64().is_multiple_of(2),
            value: rnd.next_u64() as u16,
        })
        .collect()
}

/// A prefix of the family (with an offset for IPv6 on the wire).
fn prefix(rnd: &mut Rng, afi: Afi, shape: Shape) -> Prefix {
    let bits: u8 = if afi == Afi::IPV4 { 32 } else { 128 };
    let len = (rnd.next_u64() % (u64::from(bits) + 1)) as u8;
    let offset = if afi == Afi::IPV6 && shape == Shape::Wire {
        (rnd.next_u64() % (u64::from(len) + 1)) as u8
    } else {
        0
    };
    // The pattern covers bits offset..len; the rest are zero.
    let raw = u128::from(rnd.next_u64()) << 64 | u128::from(rnd.next_u64());
    let keep = u32::from(len - offset);
    let pattern = if keep == 0 {
        0
    } else {
        (raw >> (128 - keep)) << (128 - keep) >> offset
    };
    let addr = if afi == Afi::IPV4 {
        IpAddr::V4(((pattern >> 96) as u32).into())
    } else {
        IpAddr::V6(pattern.into())
    };
    Prefix { addr, len, offset }
}

/// A random rule with each component type present with probability 1/3 (`None` when
/// none was drawn).
pub(crate) fn random_rule(rnd: &mut Rng, shape: Shape) -> Option<FlowSpec> {
    let afi = if rnd.next_u64().is_multiple_of(2) {
        Afi::IPV4
    } else {
        Afi::IPV6
    };
    let mut components = Vec::new();
    for t in code::DESTINATION_PREFIX..=code::FLOW_LABEL {
        if !rnd.next_u64().is_multiple_of(3) || (t == code::FLOW_LABEL && afi == Afi::IPV4) {
            continue;
        }
        let max: u64 = match (shape, t) {
            (Shape::Wire, _) => u64::MAX,
            (_, code::PROTOCOL | code::ICMP_TYPE | code::ICMP_CODE) => 255,
            (_, code::DSCP) => 63,
            (_, code::FLOW_LABEL) => 0xf_ffff,
            _ => 65535,
        };
        let n = 1 + rnd.next_u64() as usize % 3;
        // Every kind of value is drawn, in this order, whatever the type.
        let num = numeric(rnd, n, shape, max);
        let bm = bitmask(rnd, n);
        let p = prefix(rnd, afi, shape);
        components.push(match t {
            code::DESTINATION_PREFIX => Component::DestinationPrefix(p),
            code::SOURCE_PREFIX => Component::SourcePrefix(p),
            code::PROTOCOL => Component::Protocol(num),
            code::PORT => Component::Port(num),
            code::DESTINATION_PORT => Component::DestinationPort(num),
            code::SOURCE_PORT => Component::SourcePort(num),
            code::ICMP_TYPE => Component::IcmpType(num),
            code::ICMP_CODE => Component::IcmpCode(num),
            code::TCP_FLAGS => Component::TcpFlags(bm),
            code::PACKET_LENGTH => Component::PacketLength(num),
            code::DSCP => Component::Dscp(num),
            code::FRAGMENT => Component::Fragment(bm),
            _ => Component::FlowLabel(num),
        });
    }
    (!components.is_empty()).then_some(FlowSpec { afi, components })
}
