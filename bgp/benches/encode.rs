//! FlowSpec encoding throughput: one rule's NLRI, and 10,000 rules packed into UPDATE
//! messages the way a peer is sent them (attributes, MP_REACH, framing).
//!
//! `cargo bench -p levee-bgp --bench encode`; figures in docs/PERFORMANCE.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use levee_bgp::codes::Afi;
use levee_bgp::flowspec::action::Action;
use levee_bgp::flowspec::{Component, FlowSpec, NumericOp, Prefix};
use levee_bgp::message::Family;
use levee_bgp::rib::{AdjRibOut, Attrs, Encoder, Nlri};
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// A mitigation-shaped rule: victim /32, protocol, source port, packet lengths.
fn rule(i: u32) -> FlowSpec {
    FlowSpec {
        afi: Afi::IPV4,
        components: vec![
            Component::DestinationPrefix(Prefix {
                addr: Ipv4Addr::from(0xcb00_7100 | i).into(),
                len: 32,
                offset: 0,
            }),
            Component::Protocol(vec![NumericOp::eq(17)]),
            Component::SourcePort(vec![NumericOp::eq(u64::from(i % 65_536))]),
            Component::PacketLength(NumericOp::range(400, 1500).to_vec()),
        ],
    }
}

fn encode(c: &mut Criterion) {
    let rules: Vec<FlowSpec> = (0..10_000).map(rule).collect();
    let mut g = c.benchmark_group("flowspec");
    g.throughput(Throughput::Elements(rules.len() as u64));
    g.bench_function("nlri_encode_10k", |b| {
        let mut out = Vec::with_capacity(256 * 1024);
        b.iter(|| {
            out.clear();
            for r in &rules {
                r.encode(&mut out).unwrap();
            }
            black_box(out.len())
        })
    });
    let enc = Encoder {
        local_as: 64500,
        ebgp: true,
        four_octet: true,
        next_hop_v4: Ipv4Addr::new(192, 0, 2, 1),
        next_hop_v6: "2001:db8::1".parse().unwrap(),
    };
    let attrs = Arc::new(Attrs {
        extended_communities: vec![Action::DISCARD.to_bytes()],
        ..Attrs::default()
    });
    let nlri: Vec<Nlri> = rules.iter().cloned().map(Nlri::Flow).collect();
    g.bench_function("pack_updates_10k", |b| {
        b.iter(|| {
            let (msgs, bad) = enc.announce(Family::IPV4_FLOWSPEC, &attrs, black_box(&nlri));
            assert!(bad.is_empty());
            black_box(msgs.len())
        })
    });
    g.bench_function("adj_rib_out_10k", |b| {
        b.iter(|| {
            let mut rib = AdjRibOut::new();
            rib.up(&[Family::IPV4_FLOWSPEC], []);
            for n in &nlri {
                rib.announce(n.clone(), attrs.clone());
            }
            let mut out = Vec::new();
            black_box(rib.take(&enc, &mut out));
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
