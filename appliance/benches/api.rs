//! Web API latency: a `levee run` on loopback over a store of 10,000 incidents (each
//! with a withdrawn mitigation and its adapter results, a traffic series every
//! thousandth), written before it starts; each GET endpoint is asked a number of times
//! (one HTTP/1.1 request per connection, with an admin's bearer token, one at a time)
//! and the client-side latency's p50, p99 and maximum are printed.
//!
//! Before measuring, the daemon is made to track `--hosts` destinations (default 1M,
//! in 2001:db8::/32, one sFlow sample each over loopback), and while it is measured a
//! sender keeps `--rate` samples per second (default 100,000) flowing to them, so the
//! detection thread is busy with a full host table the whole time. Run:
//!
//! ```text
//! cargo bench -p levee --bench api [-- --requests 2000 --hosts 1000000 --rate 100000]
//! ```

#[path = "../tests/common/api.rs"]
#[allow(dead_code)] // the tests' lab; this uses a part of it
mod lab;

#[allow(dead_code)] // each bench uses part of it
mod support;

use lab::{Lab, http, seed_incidents};
use levee::auth::Role;
use levee_testkit::traffic::UDP;
use std::net::{Ipv6Addr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const INCIDENTS: u64 = 10_000;

/// The path of an endpoint's `k`th request.
type PathOf = Box<dyn Fn(usize) -> String>;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let num = |name: &str, default: usize| -> usize {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |n| n.parse().expect("a number"))
    };
    let requests = num("--requests", 2_000);
    let hosts = num("--hosts", 1_000_000);
    let rate = num("--rate", 100_000) as u64;
    let t = Instant::now();
    let lab = Lab::start_with("bench", |store| seed_incidents(store, INCIDENTS, true));
    println!(
        "store seeded with {INCIDENTS} incidents and mitigations, daemon up in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let bearer = format!("Bearer {}", lab.token(Role::Admin));
    // A full host table, and traffic to it while the API is measured.
    let datagrams = spray(hosts);
    let t = Instant::now();
    send(&datagrams, lab.sflow, 300_000, None);
    let tracked = loop {
        let m = http(lab.port, "GET", "/metrics", &[], "").body;
        let n = m
            .lines()
            .find_map(|l| l.strip_prefix("levee_detection_tracked_hosts "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0) as usize;
        if n >= hosts * 95 / 100 || t.elapsed() > Duration::from_secs(120) {
            break n;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    println!(
        "{tracked} destinations tracked ({hosts} sent) in {:.1} s; {rate} samples/s keep flowing",
        t.elapsed().as_secs_f64()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let background = {
        let (stop, port) = (stop.clone(), lab.sflow);
        std::thread::spawn(move || send(&datagrams, port, rate, Some(&stop)))
    };
    let detail = |k: usize| format!("/api/v1/incidents/{}", (k as u64 * 7_919) % INCIDENTS + 1);
    let fixed = |p: &'static str| move |_: usize| p.to_string();
    let endpoints: Vec<(&str, PathOf)> = vec![
        ("status", Box::new(fixed("/api/v1/status"))),
        ("incidents (100)", Box::new(fixed("/api/v1/incidents"))),
        (
            "incidents, filtered",
            Box::new(fixed(
                "/api/v1/incidents?network=lab&family=syn_flood&open=false&limit=100",
            )),
        ),
        (
            "incidents, victim",
            Box::new(fixed("/api/v1/incidents?victim=192.0.2.7")),
        ),
        (
            "incidents, page 50",
            Box::new(fixed("/api/v1/incidents?before=5000&limit=100")),
        ),
        ("incident detail", Box::new(detail)),
        ("csv (100)", Box::new(fixed("/api/v1/incidents?format=csv"))),
        (
            "csv (1000)",
            Box::new(fixed("/api/v1/incidents?format=csv&limit=1000")),
        ),
        ("mitigations", Box::new(fixed("/api/v1/mitigations"))),
        ("audit (100)", Box::new(fixed("/api/v1/audit?after=10000"))),
        ("exporters", Box::new(fixed("/api/v1/exporters"))),
        ("peers", Box::new(fixed("/api/v1/peers"))),
    ];
    println!("{requests} requests each, one at a time, new connection per request\n");
    println!(
        "{:<22} {:>9} {:>9} {:>9} {:>10}",
        "endpoint", "p50_ms", "p99_ms", "max_ms", "bytes"
    );
    for (name, path) in &endpoints {
        for k in 0..50 {
            http(lab.port, "GET", &path(k), &[("Authorization", &bearer)], "");
        }
        let mut took = Vec::with_capacity(requests);
        let mut bytes = 0;
        for k in 0..requests {
            let p = path(k);
            let t = Instant::now();
            let r = http(lab.port, "GET", &p, &[("Authorization", &bearer)], "");
            took.push(t.elapsed());
            assert_eq!(r.status, 200, "{p}: {}", r.body);
            bytes = r.body.len();
        }
        took.sort();
        let at = |q: f64| took[((took.len() as f64 * q) as usize).min(took.len() - 1)];
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{name:<22} {:>9.2} {:>9.2} {:>9.2} {bytes:>10}",
            ms(at(0.50)),
            ms(at(0.99)),
            ms(*took.last().unwrap())
        );
    }
    stop.store(true, Ordering::Relaxed);
    let _ = background.join();
    let m = http(lab.port, "GET", "/metrics", &[], "").body;
    let lost = |name: &str| {
        m.lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    println!(
        "\nflow records dropped by levee meanwhile: {}",
        lost("levee_flow_dropped_records_total")
    );
}

/// sFlow datagrams (1:1000, 7 samples each) with one UDP sample to each of `hosts`
/// destinations in 2001:db8::/32.
fn spray(hosts: usize) -> Vec<Vec<u8>> {
    let src: Ipv6Addr = "2001:db8:ffff::1".parse().unwrap();
    (0..hosts)
        .collect::<Vec<_>>()
        .chunks(support::SAMPLES_PER_DATAGRAM)
        .map(|c| {
            let samples: Vec<(u32, Vec<u8>)> = c
                .iter()
                .map(|&i| {
                    let dst =
                        Ipv6Addr::new(0x2001, 0xdb8, 0x100, 0, 0, 0, (i >> 16) as u16, i as u16);
                    support::sample(&UDP, src.into(), dst.into(), i as u32, 1518)
                })
                .collect();
            support::pack(&samples)
        })
        .collect()
}

/// Sends the datagrams at `rate` samples per second: once through (`stop`: `None`), or
/// round and round until `stop` is set.
fn send(datagrams: &[Vec<u8>], port: u16, rate: u64, stop: Option<&AtomicBool>) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(("127.0.0.1", port)).unwrap();
    let per_sec = rate as f64 / 7.0;
    let start = Instant::now();
    let mut sent = 0usize;
    loop {
        let due = (start.elapsed().as_secs_f64() * per_sec) as usize;
        while sent < due {
            if stop.is_none() && sent >= datagrams.len() {
                return;
            }
            let _ = sock.send(&datagrams[sent % datagrams.len()]);
            sent += 1;
        }
        if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
            return;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}
