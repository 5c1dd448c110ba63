//! `levee bgp` against BIRD 2 on loopback: flow4/flow6 tables and RTBH routes checked
//! with `birdc show route`, every component (IPv6 prefix offsets included) and action,
//! withdrawal, a flap, a restart of BIRD, graceful shutdown, and a wrong AS in either
//! direction.

mod common;

use common::bgplab::{Lab, LeveeBgp, Site, interop, rules};
use levee_bgp::rib::RouteText;
use levee_testkit::daemon::bgp::birdc;
use levee_testkit::lab::poll;
use levee_testkit::{Daemon, Launch, have_all};
use std::path::Path;

struct Bird {
    site: Site,
}

impl Bird {
    fn socket(&self) -> String {
        self.site.dir.join("bird.ctl").display().to_string()
    }

    fn launch(&self, peer_as: u32, n: u32) -> Daemon {
        let conf = self.site.dir.join(format!("bird-{n}.conf"));
        std::fs::write(
            &conf,
            format!(
                "router id 192.0.2.3;\nflow4 table flowtab4;\nflow6 table flowtab6;\n\
                 protocol device {{}}\n\
                 protocol bgp levee {{\n  local 127.0.0.1 port {} as 64503;\n  \
                 neighbor 127.0.0.1 as {peer_as};\n  passive on;\n  multihop;\n  \
                 connect retry time 1;\n  error wait time 1, 2;\n  \
                 flow4 {{ table flowtab4; import all; export none; }};\n  \
                 flow6 {{ table flowtab6; import all; export none; }};\n  \
                 ipv4 {{ import all; export none; }};\n  \
                 ipv6 {{ import all; export none; }};\n}}\n",
                self.site.port
            ),
        )
        .unwrap();
        let pid = self.site.dir.join("bird.pid");
        let d = Launch::bird(&conf, Path::new(&self.socket()))
            .arg("-P")
            .arg(pid)
            .start(&self.site.dir.join(format!("bird-{n}.log")));
        poll("birdc", 20, |last| {
            *last = self.birdc(&["show", "protocols"]);
            last.contains("levee").then_some(())
        });
        d
    }

    fn birdc(&self, args: &[&str]) -> String {
        birdc(Path::new(&self.socket()), args)
    }

    /// Route blocks of a table: the first line and its indented attribute lines.
    fn blocks(&self, table: &str) -> Vec<String> {
        let out = self.birdc(&["show", "route", "table", table, "all"]);
        let mut blocks: Vec<String> = Vec::new();
        for l in out.lines() {
            if l.starts_with('\t') || l.starts_with(' ') {
                if let Some(b) = blocks.last_mut() {
                    b.push('\n');
                    b.push_str(l);
                }
            } else if l.starts_with("flow") || l.contains('/') {
                blocks.push(l.to_string());
            }
        }
        blocks
    }
}

/// BIRD's rendering: table, the route's first words, and attribute lines it must show.
fn expected(text: &str) -> (&'static str, &'static str, Vec<String>) {
    let r: RouteText = text.parse().unwrap();
    let ext: Vec<String> = r
        .attrs
        .extended_communities
        .iter()
        .map(|x| {
            let v = u64::from_be_bytes(*x);
            format!("(generic, 0x{:08x}, 0x{:x})", v >> 32, v & 0xffff_ffff)
        })
        .collect();
    let ext = vec![format!("BGP.ext_community: {}", ext.join(" "))];
    match text {
        rules::ALL_V4 => (
            "flowtab4",
            "flow4 { dst 192.0.2.1/32; src 198.51.100.0/24; proto 17; port 53; \
             dport 8000..8080,443; sport > 1023; icmp type 3; icmp code 1; \
             tcp flags 0x12/0x12 && 0x0/0x4; length 1400..1500; dscp 46; \
             fragment !!is_fragment; }",
            ext,
        ),
        rules::DISCARD_AS4 => (
            "flowtab4",
            "flow4 { dst 192.0.2.3/32; proto 6; dport 80; }",
            ext,
        ),
        rules::PPS_REDIRECT_IP => ("flowtab4", "flow4 { dst 192.0.2.4/32; proto 17; }", ext),
        rules::V6_LABEL => (
            "flowtab6",
            "flow6 { dst 2001:db8::1/128; src 2001:db8:1::/48; next header 6; label 5; }",
            ext,
        ),
        rules::V6_OFFSET => ("flowtab6", "flow6 { dst 1:db8::/64 offset 8; }", ext),
        rules::RTBH_V4 => (
            "master4",
            "192.0.2.7/32 ",
            vec![
                "BGP.next_hop: 192.0.2.66".into(),
                "BGP.community: (65535,666)".into(),
                "BGP.large_community: (64500, 666, 1)".into(),
            ],
        ),
        rules::RTBH_V6 => (
            "master6",
            "2001:db8::7/128 ",
            vec![
                "BGP.next_hop: 2001:db8::66".into(),
                "BGP.community: (65535,666)".into(),
            ],
        ),
        _ => unreachable!(),
    }
}

const ROUTES: [&str; 7] = [
    rules::ALL_V4,
    rules::DISCARD_AS4,
    rules::PPS_REDIRECT_IP,
    rules::V6_LABEL,
    rules::V6_OFFSET,
    rules::RTBH_V4,
    rules::RTBH_V6,
];

impl Lab for Bird {
    fn site(&self) -> &Site {
        &self.site
    }
    fn start(&self, peer_as: u32, n: u32) -> Daemon {
        self.launch(peer_as, n)
    }

    fn shows(&self, r: &str, last: &mut String) -> bool {
        let (table, head, attrs) = expected(r);
        let blocks = self.blocks(table);
        *last = blocks.join("\n");
        blocks
            .iter()
            .find(|bl| bl.starts_with(head))
            .is_some_and(|block| attrs.iter().all(|a| block.contains(a.as_str())))
    }

    fn all_gone(&self) {
        for table in ["flowtab4", "flowtab6", "master4", "master6"] {
            poll(&format!("an empty {table}"), 20, |last| {
                let blocks = self.blocks(table);
                *last = blocks.join("\n");
                blocks.is_empty().then_some(())
            });
        }
    }

    /// `birdc reload in` asks for the routes again with ROUTE-REFRESH; levee answers
    /// from its Adj-RIB-Out.
    fn with_routes(&self, levee: &mut LeveeBgp) {
        let before = levee.status()["updates_out"].as_u64().unwrap();
        self.birdc(&["reload", "in", "levee"]);
        poll("the refreshed routes", 20, |last| {
            let s = levee.status();
            *last = s.to_string();
            (s["updates_out"].as_u64().unwrap() > before).then_some(())
        });
        self.all_present();
    }

    fn flap(&self, _levee: &mut LeveeBgp) {
        self.birdc(&["restart", "levee"]);
    }
}

#[test]
fn bird_interop() {
    if !have_all(&["bird", "birdc"]) {
        return;
    }
    let b = Bird {
        site: Site::new("bird", 64503, &ROUTES),
    };
    let _bird = interop(&b).daemon;
    // BIRD names the reason levee refused it.
    let shown = b.birdc(&["show", "protocols", "all", "levee"]);
    assert!(shown.contains("Bad peer AS"), "{shown}");
}
