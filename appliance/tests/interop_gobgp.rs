//! `levee bgp` against gobgpd 3 on loopback: establish, every FlowSpec component and
//! action as GoBGP renders it, RTBH unicast routes, withdrawal, a flap, a restart of
//! gobgpd, graceful shutdown, and a wrong AS in either direction.
//!
//! GoBGP 3.10 cannot decode IPv6 prefix offsets (its CLI crashes on them) nor show
//! traffic-rate-packets (0x800c) by name: offsets are checked against BIRD, and the
//! packet rate by its raw value, which is how GoBGP prints it.

mod common;

use common::bgplab::{Lab, LeveeBgp, Site, interop, levee_config, rules};
use levee_bgp::flowspec::action::Action;
use levee_bgp::rib::{Nlri, RouteText};
use levee_testkit::daemon::bgp::gobgp;
use levee_testkit::lab::{free_port, poll};
use levee_testkit::{Daemon, Launch, have_all};

fn gobgpd_conf(port: u16, peer_as: u32, password: &str) -> String {
    levee_testkit::daemon::bgp::gobgpd_conf(
        "192.0.2.2",
        "127.0.0.1",
        i32::from(port),
        "127.0.0.1",
        peer_as,
        &[
            "ipv4-flowspec",
            "ipv6-flowspec",
            "ipv4-unicast",
            "ipv6-unicast",
        ],
        &format!("    auth-password = \"{password}\"\n"),
    )
}

struct Gobgp {
    site: Site,
    api: u16,
}

impl Gobgp {
    fn start_with(&self, peer_as: u32, n: u32, password: &str) -> Daemon {
        let conf = self.site.dir.join(format!("gobgpd-{n}.toml"));
        std::fs::write(&conf, gobgpd_conf(self.site.port, peer_as, password)).unwrap();
        let log = self.site.dir.join(format!("gobgpd-{n}.log"));
        let d = Launch::gobgpd(&conf, self.api).start(&log);
        poll("gobgpd's API", 20, |last| {
            *last = self.cli(&["neighbor"]);
            last.contains("127.0.0.1").then_some(())
        });
        d
    }

    fn cli(&self, args: &[&str]) -> String {
        gobgp(self.api, args)
    }

    fn rib(&self, family: &str) -> String {
        self.cli(&["global", "rib", "-a", family])
    }
}

/// GoBGP's rendering of a route: the network column and the attribute text it must show.
fn expected(text: &str) -> (&'static str, String, Vec<String>) {
    let r: RouteText = text.parse().unwrap();
    match &r.nlri {
        Nlri::Flow(rule) => {
            let family = if text.contains("2001:") {
                "ipv6-flowspec"
            } else {
                "ipv4-flowspec"
            };
            let parts: Vec<String> = r
                .attrs
                .extended_communities
                .iter()
                .map(|x| match Action::from_bytes(*x) {
                    // GoBGP 3.10 does not know traffic-rate-packets: it prints the value.
                    Some(Action::RatePackets { .. }) | None => {
                        format!("[{}]", u64::from_be_bytes(*x) & 0x00ff_ffff_ffff_ffff)
                    }
                    Some(a) => format!("[{a}]"),
                })
                .collect();
            (
                family,
                rule.to_string(),
                vec![format!("{{Extcomms: {}}}", parts.join(", "))],
            )
        }
        Nlri::Unicast(p) => {
            let family = if p.addr.is_ipv4() { "ipv4" } else { "ipv6" };
            let mut want = vec![
                r.attrs.next_hop.unwrap().to_string(),
                "{Communities: blackhole}".to_string(),
            ];
            for [a, b, c] in &r.attrs.large_communities {
                want.push(format!("{a}:{b}:{c}"));
            }
            (family, p.to_string(), want)
        }
    }
}

const ROUTES: [&str; 6] = [
    rules::ALL_V4,
    rules::DISCARD_AS4,
    rules::PPS_REDIRECT_IP,
    rules::V6_LABEL,
    rules::RTBH_V4,
    rules::RTBH_V6,
];

impl Lab for Gobgp {
    fn site(&self) -> &Site {
        &self.site
    }

    fn start(&self, peer_as: u32, n: u32) -> Daemon {
        self.start_with(peer_as, n, "")
    }

    fn shows(&self, r: &str, last: &mut String) -> bool {
        let (family, network, attrs) = expected(r);
        *last = self.rib(family);
        last.lines()
            .find(|l| l.contains(&format!("{network} ")))
            .is_some_and(|line| attrs.iter().all(|a| line.contains(a.as_str())))
    }

    fn all_gone(&self) {
        for family in ["ipv4-flowspec", "ipv6-flowspec", "ipv4", "ipv6"] {
            poll(&format!("an empty {family} RIB"), 20, |last| {
                *last = self.rib(family);
                last.contains("Network not in table").then_some(())
            });
        }
    }

    fn with_routes(&self, levee: &mut LeveeBgp) {
        let st = levee.status();
        assert_eq!(st["routes_sent"], 6, "{st}");
    }

    /// GoBGP 3.10 leaves a passive neighbour idle after `neighbor reset`; disable and
    /// enable flap it just the same.
    fn flap(&self, levee: &mut LeveeBgp) {
        self.cli(&["neighbor", "127.0.0.1", "disable"]);
        poll("the session to drop", 20, |last| {
            let s = levee.status();
            *last = s.to_string();
            (s["state"] != "Established").then_some(())
        });
        self.cli(&["neighbor", "127.0.0.1", "enable"]);
    }
}

#[test]
fn gobgp_interop() {
    if !have_all(&["gobgpd", "gobgp"]) {
        return;
    }
    let g = Gobgp {
        site: Site::new("gobgp", 64501, &ROUTES),
        api: free_port(),
    };
    let ran = interop(&g);
    assert_eq!(
        ran.stopped["status"][0]["routes_sent"], 6,
        "{}",
        ran.stopped
    );
    // The shutdown communication reached gobgpd.
    let log = std::fs::read_to_string(g.site.dir.join("gobgpd-2.log")).unwrap();
    assert!(log.contains("levee is shutting down"), "{log}");
    ran.daemon.stop();

    // TCP MD5 (RFC 2385) with gobgpd's auth-password.
    let _gobgpd = g.start_with(64500, 5, "lab-secret");
    let md5 = levee_config(
        "gobgp",
        g.site.port,
        64501,
        "      md5_password: lab-secret\n",
    );
    let mut levee = LeveeBgp::start(&g.site.dir, &md5, &["-a", rules::RTBH_V4]);
    levee.established(1, 30);
    let (family, network, _) = expected(rules::RTBH_V4);
    poll("the route over an MD5 session", 20, |last| {
        *last = g.rib(family);
        last.contains(&network).then_some(())
    });
}
