//! Web API latency: a `levee run` on loopback over a store of 10,000 incidents (each
//! with a withdrawn mitigation and its adapter results, a traffic series every
//! thousandth), written before it starts; each GET endpoint is asked a number of times
//! (one HTTP/1.1 request per connection, with an admin's bearer token, one at a time)
//! and the client-side latency's p50, p99 and maximum are printed. Run:
//!
//! ```text
//! cargo bench -p levee --bench api [-- --requests 2000]
//! ```

#[path = "../tests/common/api.rs"]
#[allow(dead_code)] // the tests' lab; this uses a part of it
mod lab;

use lab::{Lab, http, seed_incidents};
use levee::auth::Role;
use std::time::{Duration, Instant};

const INCIDENTS: u64 = 10_000;

/// The path of an endpoint's `k`th request.
type PathOf = Box<dyn Fn(usize) -> String>;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let requests: usize = args
        .iter()
        .position(|a| a == "--requests")
        .and_then(|i| args.get(i + 1))
        .map_or(2_000, |n| n.parse().expect("--requests N"));
    let t = Instant::now();
    let lab = Lab::start_with("bench", |store| seed_incidents(store, INCIDENTS, true));
    println!(
        "store seeded with {INCIDENTS} incidents and mitigations, daemon up in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let bearer = format!("Bearer {}", lab.token(Role::Admin));
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
}
