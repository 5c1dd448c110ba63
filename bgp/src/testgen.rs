//! Random FlowSpec rules for the randomized tests, drawn from the test kit's seeded
//! generator.

use crate::flowspec::{Afi, BitmaskOp, Component, FlowSpec, NumericOp, Prefix};
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

/// A random rule with each component type present with probability 1/3 (`None` when
/// none was drawn).
pub(crate) fn random_rule(rnd: &mut Rng, shape: Shape) -> Option<FlowSpec> {
    let afi = if rnd.next_u64().is_multiple_of(2) {
        Afi::Ipv4
    } else {
        Afi::Ipv6
    };
    let mut components = Vec::new();
    for t in 1..=13u8 {
        if !rnd.next_u64().is_multiple_of(3) || (t == 13 && afi == Afi::Ipv4) {
            continue;
        }
        let max: u64 = match (shape, t) {
            (Shape::Wire, _) => u64::MAX,
            (_, 3 | 7 | 8) => 255,
            (_, 11) => 63,
            (_, 13) => 0xf_ffff,
            _ => 65535,
        };
        let n = 1 + rnd.next_u64() as usize % 3;
        let num: Vec<NumericOp> = (0..n)
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
            .collect();
        let bm: Vec<BitmaskOp> = (0..n)
            .map(|i| BitmaskOp {
                and: i > 0 && rnd.next_u64().is_multiple_of(2),
                not: rnd.next_u64().is_multiple_of(2),
                match_all: rnd.next_u64().is_multiple_of(2),
                value: rnd.next_u64() as u16,
            })
            .collect();
        let bits: u8 = if afi == Afi::Ipv4 { 32 } else { 128 };
        let len = (rnd.next_u64() % (u64::from(bits) + 1)) as u8;
        let offset = if afi == Afi::Ipv6 && shape == Shape::Wire {
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
        let addr = match afi {
            Afi::Ipv4 => IpAddr::V4(((pattern >> 96) as u32).into()),
            Afi::Ipv6 => IpAddr::V6(pattern.into()),
        };
        let p = Prefix { addr, len, offset };
        components.push(match t {
            1 => Component::DestinationPrefix(p),
            2 => Component::SourcePrefix(p),
            3 => Component::Protocol(num),
            4 => Component::Port(num),
            5 => Component::DestinationPort(num),
            6 => Component::SourcePort(num),
            7 => Component::IcmpType(num),
            8 => Component::IcmpCode(num),
            9 => Component::TcpFlags(bm),
            10 => Component::PacketLength(num),
            11 => Component::Dscp(num),
            12 => Component::Fragment(bm),
            _ => Component::FlowLabel(num),
        });
    }
    (!components.is_empty()).then_some(FlowSpec { afi, components })
}
