//! What the daemon benchmarks share: sFlow v5 datagrams shaped as routers send them
//! (7 flow samples of 128-byte sampled headers, 1:1000, agent 192.0.2.1), and CPU time
//! read from /proc.

use levee_testkit::Rng;
use levee_testkit::sflow::{FlowSample, datagram};
use levee_testkit::traffic::{Shape, UDP};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

/// Flow samples per datagram.
pub(crate) const SAMPLES_PER_DATAGRAM: usize = 7;
/// Bytes of each sampled header.
pub(crate) const HEADER_BYTES: usize = 128;

/// One flow sample (1:1000) of a `shape` packet from `src` to `dst`, of `frame` bytes
/// on the wire.
pub(crate) fn sample(
    shape: &Shape,
    src: IpAddr,
    dst: IpAddr,
    sequence: u32,
    frame: u32,
) -> (u32, Vec<u8>) {
    let mut header = shape.frame(src, dst, 57);
    header.resize(HEADER_BYTES, 0);
    let s = FlowSample {
        sequence,
        source_id: 3,
        rate: 1000,
        input: 3,
        output: 7,
        ..FlowSample::default()
    };
    s.ethernet(frame, 4, &header)
}

/// A datagram of these samples.
pub(crate) fn pack(samples: &[(u32, Vec<u8>)]) -> Vec<u8> {
    datagram(Ipv4Addr::new(192, 0, 2, 1), 0, 1000, samples)
}

/// `n` datagrams of UDP (port 53) and, one in `tcp_one_in`, TCP (port 80) samples of
/// `len`-byte packets from 203.0.113.0/24 to 198.51.100.1-254, drawn from `seed`.
pub(crate) fn mixed(n: usize, seed: u64, tcp_one_in: u64, len: u16) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let samples: Vec<(u32, Vec<u8>)> = (0..SAMPLES_PER_DATAGRAM as u32)
                .map(|s| {
                    let tcp = rng.next_u64().is_multiple_of(tcp_one_in);
                    let shape = Shape {
                        protocol: if tcp { 6 } else { 17 },
                        src_port: (rng.next_u64() % 60000) as u16 + 1024,
                        dst_port: if tcp { 80 } else { 53 },
                        len,
                        ..UDP
                    };
                    let src = Ipv4Addr::new(203, 0, 113, rng.next_u64() as u8);
                    let dst = Ipv4Addr::new(198, 51, 100, (rng.next_u64() % 254 + 1) as u8);
                    sample(&shape, src.into(), dst.into(), s, u32::from(len) + 18)
                })
                .collect();
            pack(&samples)
        })
        .collect()
}

/// User plus system CPU seconds in a /proc `stat` file (a process's or a thread's).
pub(crate) fn cpu_seconds(stat: &Path) -> f64 {
    let s = std::fs::read_to_string(stat).unwrap_or_default();
    let f: Vec<&str> = s
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (t(11) + t(12)) as f64 / 100.0
}
