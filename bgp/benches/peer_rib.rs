//! Time from announcing 10,000 FlowSpec rules to the peer's RIB holding all of them,
//! against gobgpd and BIRD on loopback (both must be installed), started by the test
//! kit's launchers (their logs in the scratch directory).
//!
//! `cargo bench -p levee-bgp --bench peer_rib [-- ROUNDS]`; prints each round and the
//! median. Figures in docs/PERFORMANCE.md.

use levee_bgp::codes::Afi;
use levee_bgp::flowspec::action::Action;
use levee_bgp::flowspec::{Component, FlowSpec, NumericOp, Prefix};
use levee_bgp::message::Family;
use levee_bgp::rib::{Attrs, Nlri};
use levee_bgp::session::State;
use levee_bgp::speaker::{Groups, PeerConfig, ShutdownPolicy, Speaker, SpeakerConfig};
use levee_testkit::daemon::bgp::{birdc, gobgp, gobgpd_conf};
use levee_testkit::lab::{free_port, scratch};
use levee_testkit::{Daemon, Launch};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const RULES: u32 = 10_000;

fn rule(i: u32) -> Nlri {
    Nlri::Flow(FlowSpec {
        afi: Afi::IPV4,
        components: vec![
            Component::DestinationPrefix(Prefix {
                addr: Ipv4Addr::from(0xc633_0000 | (i & 0xffff)).into(),
                len: 32,
                offset: 0,
            }),
            Component::Protocol(vec![NumericOp::eq(17)]),
            Component::SourcePort(vec![NumericOp::eq(u64::from(i >> 4) + 1)]),
        ],
    })
}

struct Peer {
    name: &'static str,
    _daemon: Daemon,
    port: u16,
    remote_as: u32,
    count: Box<dyn Fn() -> usize>,
}

fn gobgpd(dir: &Path) -> Peer {
    let (p, api) = (free_port(), free_port());
    let conf = dir.join("gobgpd.toml");
    std::fs::write(
        &conf,
        gobgpd_conf(
            "192.0.2.2",
            "127.0.0.1",
            i32::from(p),
            "127.0.0.1",
            64500,
            &["ipv4-flowspec"],
            "",
        ),
    )
    .unwrap();
    let daemon = Launch::gobgpd(&conf, api).start(&dir.join("gobgpd.log"));
    Peer {
        name: "gobgpd",
        _daemon: daemon,
        port: p,
        remote_as: 64501,
        count: Box::new(move || {
            let s = gobgp(api, &["global", "rib", "summary", "-a", "ipv4-flowspec"]);
            s.split("Destination: ")
                .nth(1)
                .and_then(|r| r.split(',').next())
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0)
        }),
    }
}

fn bird(dir: &Path) -> Peer {
    let p = free_port();
    let conf = dir.join("bird.conf");
    let sock = dir.join("bird.ctl");
    std::fs::write(
        &conf,
        format!(
            "router id 192.0.2.3;\nflow4 table flowtab4;\nprotocol bgp levee {{\n \
             local 127.0.0.1 port {p} as 64503;\n neighbor 127.0.0.1 as 64500;\n passive on;\n \
             multihop;\n flow4 {{ table flowtab4; import all; export none; }};\n}}\n"
        ),
    )
    .unwrap();
    let daemon = Launch::bird(&conf, &sock).start(&dir.join("bird.log"));
    Peer {
        name: "BIRD",
        _daemon: daemon,
        port: p,
        remote_as: 64503,
        count: Box::new(move || {
            birdc(&sock, &["show", "route", "table", "flowtab4", "count"])
                .lines()
                .find(|l| l.contains("routes for"))
                .and_then(|l| l.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        }),
    }
}

async fn measure(peer: Peer, rounds: usize) {
    let speaker = Speaker::start(SpeakerConfig {
        listen: None,
        peers: vec![PeerConfig {
            name: peer.name.into(),
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: peer.port,
            local_address: None,
            local_as: 64500,
            remote_as: peer.remote_as,
            router_id: Ipv4Addr::new(192, 0, 2, 1),
            hold_time: Duration::from_secs(90),
            connect_retry: Duration::from_millis(300),
            families: vec![Family::IPV4_FLOWSPEC],
            passive: false,
            md5_password: None,
            ttl_security: None,
            graceful_restart: None,
            max_prefixes: 100_000,
            next_hop_v4: None,
            next_hop_v6: None,
            export: Groups::ALL,
        }],
    })
    .await
    .unwrap();
    while speaker.status()[0].state != State::Established {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let attrs = Arc::new(Attrs {
        extended_communities: vec![Action::DISCARD.to_bytes()],
        ..Attrs::default()
    });
    let mut times = Vec::new();
    for round in 0..rounds {
        let t0 = Instant::now();
        speaker
            .apply((0..RULES).map(|i| (rule(i), Some(attrs.clone()))).collect())
            .await;
        loop {
            let n = (peer.count)();
            if n >= RULES as usize {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "{}: {n} rules after 60 s; {:?}",
                peer.name,
                speaker.status()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let t = t0.elapsed();
        println!(
            "{} round {round}: {RULES} rules in the RIB after {t:.3?}",
            peer.name
        );
        times.push(t);
        speaker
            .apply((0..RULES).map(|i| (rule(i), None)).collect())
            .await;
        while (peer.count)() != 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    times.sort();
    println!(
        "{}: median {:.3?} (min {:.3?}, max {:.3?}) over {rounds} rounds",
        peer.name,
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
    speaker
        .shutdown(
            ShutdownPolicy::Cease("bench done".into()),
            Duration::from_secs(2),
        )
        .await;
}

fn main() {
    let rounds = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let dir = scratch("peer-rib");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(measure(gobgpd(&dir), rounds));
    rt.block_on(measure(bird(&dir), rounds));
    let _ = std::fs::remove_dir_all(&dir);
}
