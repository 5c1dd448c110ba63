//! Decode throughput per format, in records per second on one core, over the real
//! exporter datagrams in tests/fixtures/flows (softflowd, pmacct). Run with
//! `cargo bench -p levee-flow --bench decode`; figures go in docs/PERFORMANCE.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use levee_flow::{Batch, Decoder, packet};
use levee_testkit::pcap;
use std::hint::black_box;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// A capture in tests/fixtures/flows.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/flows")
        .join(name)
}

/// UDP payloads of a loopback capture (Ethernet 14 + IPv4 20 + UDP 8).
fn datagrams(name: &str) -> Vec<Vec<u8>> {
    pcap::udp_payloads(&fixture(name))
}

fn bench_format(c: &mut Criterion, label: &str, fixture: &str) {
    let dgrams = datagrams(fixture);
    let src: IpAddr = "192.0.2.1".parse().unwrap();
    let mut dec = Decoder::default();
    let mut batch = Batch::default();
    // Warm up: learn templates and options, count records per pass.
    for d in &dgrams {
        dec.decode(src, 0, d, &mut batch);
    }
    batch.clear();
    let mut per_pass = 0;
    for d in &dgrams {
        per_pass += dec.decode(src, 0, d, &mut batch).records;
    }
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(per_pass as u64));
    g.bench_function(label, |b| {
        b.iter(|| {
            for d in &dgrams {
                batch.clear();
                black_box(dec.decode(src, 0, black_box(d), &mut batch));
            }
        })
    });
    g.finish();
}

fn decoders(c: &mut Criterion) {
    bench_format(c, "sflow_v5", "pmacct-sfprobe.pcap");
    bench_format(c, "netflow_v5", "softflowd-v5.pcap");
    bench_format(c, "netflow_v9", "softflowd-v9.pcap");
    bench_format(c, "ipfix", "softflowd-ipfix.pcap");
    bench_format(c, "ipfix_pmacct", "pmacct-nfprobe-ipfix.pcap");
}

/// The same sFlow datagrams through sflow-parser 0.6 (the crate the design notes first
/// recommended). It stops at the datagram structure, leaving sampled headers as raw
/// bytes, so it does less work per sample than `decode/sflow_v5`, which also parses every
/// header down to the transport ports.
fn sflow_parser_baseline(c: &mut Criterion) {
    let dgrams = datagrams("pmacct-sfprobe.pcap");
    let samples: usize = dgrams
        .iter()
        .map(|d| {
            sflow_parser::parse_datagram(d)
                .expect("sflow-parser reads the fixture")
                .samples
                .len()
        })
        .sum();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(samples as u64));
    g.bench_function("sflow_v5_sflow_parser_crate", |b| {
        b.iter(|| {
            for d in &dgrams {
                black_box(sflow_parser::parse_datagram(black_box(d)).ok());
            }
        })
    });
    g.finish();
}

fn headers(c: &mut Criterion) {
    let frames = pcap::frames(&fixture("traffic.pcap"));
    let mut g = c.benchmark_group("packet_header");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("parse_ethernet", |b| {
        b.iter(|| {
            for f in &frames {
                black_box(packet::parse_ethernet(black_box(f)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, decoders, sflow_parser_baseline, headers);
criterion_main!(benches);
