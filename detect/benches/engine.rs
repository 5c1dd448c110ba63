//! Accounting cost per record, amortized, on one core: `Engine::ingest` over batches of
//! 2,048 records (the listeners' batch size) with the engine's 100 ms ticks and 1 s
//! sweeps included at their live proportions.
//!
//! Traffic: destinations drawn from a protected /12 (IPv4) and a /48 (IPv6), skewed so
//! a few IPs receive most records, the rest spread over many; mixed TCP/UDP/ICMP.
//! Cases: 10k, 100k and 1M tracked IPs; `outbound_10k_ips`: the same records turned
//! around (from the protected IPs to outside destinations: the outbound count). Also
//! the one-second sweep alone at 1M IPs, with history on, without and with the 10
//! busiest destinations picked (`Engine::record_busiest`).
//! Run with `cargo bench -p levee-detect --bench engine`; figures go in
//! docs/PERFORMANCE.md.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use levee_detect::policy::Policy;
use levee_detect::{Engine, EngineConfig, NetworkConfig};
use levee_flow::{FlowRecord, FlowType};
use levee_testkit::Rng;
use std::hint::black_box;
use std::net::IpAddr;

const T0: u64 = 1_800_000_000_000_000;
const BATCH: usize = 2048;

fn engine(tracked: usize) -> Engine {
    let cfg = EngineConfig {
        networks: vec![NetworkConfig {
            name: "bench".into(),
            prefixes: vec![
                "10.0.0.0/12".parse().unwrap(),
                "2001:db8:1::/48".parse().unwrap(),
            ],
            policy: Policy::default(),
        }],
        max_tracked: tracked,
        ..EngineConfig::default()
    };
    Engine::new(cfg, T0, 7, 1)
}

/// `n` records over `ips` destinations, a thousand per millisecond of time.
fn records(n: usize, ips: u32, seed: u64) -> Vec<FlowRecord> {
    let mut rnd = Rng::new(seed);
    let exporter: IpAddr = "192.0.2.1".parse().unwrap();
    (0..n)
        .map(|i| {
            let mut r = FlowRecord::blank(T0 + i as u64, exporter, FlowType::Sflow);
            let x = rnd.next_u64();
            // Half the records to 1 % of the IPs, the rest uniform.
            let ip = if x.is_multiple_of(2) {
                (x >> 8) as u32 % (ips / 100).max(1)
            } else {
                (x >> 8) as u32 % ips
            };
            r.dst_addr = if ip % 8 == 0 {
                IpAddr::V6((0x2001_0db8_0001_u128 << 80 | u128::from(ip)).into())
            } else {
                IpAddr::V4((0x0a00_0000 + ip).into())
            };
            r.src_addr = IpAddr::V4((0xc612_0000 | (x >> 40) as u32 & 0xffff).into());
            let (p, sp, dp, fl) = [
                (6, 443, 50000, 0x18),
                (17, 53, 40000, 0),
                (6, 50000, 80, 0x02),
                (1, 0, 0, 0),
            ][(x >> 20) as usize % 4];
            (r.protocol, r.src_port, r.dst_port, r.tcp_flags) = (p, sp, dp, fl);
            r.ttl = Some(57);
            r.packet_length = Some(64 + (x >> 30) as u16 % 1400);
            let len = u64::from(r.packet_length.unwrap());
            // Unsampled: 1M packets/s spread over the IPs, busiest ones at ~500 pps, so
            // this measures accounting, not incidents.
            r.set_scaled(1, 1, len);
            r
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("ingest");
    for (label, ips) in [
        ("10k_ips", 10_000u32),
        ("100k_ips", 100_000),
        ("1M_ips", 1_000_000),
    ] {
        let mut e = engine(ips as usize);
        // Populate: every IP tracked before measuring.
        let fill = records(ips as usize * 3, ips, 1);
        for chunk in fill.chunks(BATCH) {
            e.ingest(chunk);
        }
        let mut now = T0 + fill.len() as u64;
        let recs = records(BATCH * 512, ips, 2);
        g.throughput(Throughput::Elements(recs.len() as u64));
        g.bench_function(label, |b| {
            b.iter(|| {
                // Records advance time by 1 µs each: a 1M records/s stream, with its
                // ticks (every 100 ms) and sweeps (every second) due in proportion.
                for chunk in recs.chunks(BATCH) {
                    e.ingest(black_box(chunk));
                    now += BATCH as u64;
                    if now % 100_000 < BATCH as u64 {
                        black_box(e.tick(now));
                    }
                }
            })
        });
        black_box(e.stats());
    }
    // Outbound: sources in the protected space, destinations outside it.
    let mut e = engine(10_000);
    let mut recs = records(BATCH * 512, 10_000, 2);
    for r in &mut recs {
        std::mem::swap(&mut r.src_addr, &mut r.dst_addr);
    }
    let mut now = T0;
    g.throughput(Throughput::Elements(recs.len() as u64));
    g.bench_function("outbound_10k_ips", |b| {
        b.iter(|| {
            for chunk in recs.chunks(BATCH) {
                e.ingest(black_box(chunk));
                now += BATCH as u64;
                if now % 100_000 < BATCH as u64 {
                    black_box(e.tick(now));
                }
            }
        })
    });
    black_box(e.stats());
    g.finish();

    let mut g = c.benchmark_group("sweep");
    g.sample_size(10);
    let ips = 1_000_000u32;
    let mut e = engine(ips as usize);
    for chunk in records(ips as usize * 3, ips, 3).chunks(BATCH) {
        e.ingest(chunk);
    }
    let mut now = T0 + 4 * 1_000_000;
    g.throughput(Throughput::Elements(u64::from(ips)));
    g.bench_function("one_second_1M_ips", |b| {
        b.iter_batched(
            || (),
            |()| {
                now += 1_000_000;
                black_box(e.tick(now))
            },
            BatchSize::PerIteration,
        )
    });
    // With history on (what `levee run` does), without and with the busiest 10.
    e.record_history(true);
    for (label, n) in [("history_1M_ips", 0), ("history_busiest10_1M_ips", 10)] {
        e.record_busiest(n);
        g.bench_function(label, |b| {
            b.iter_batched(
                || (),
                |()| {
                    now += 1_000_000;
                    black_box(e.tick(now));
                    black_box(e.take_history())
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
