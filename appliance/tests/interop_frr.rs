//! `levee bgp` against FRR's bgpd 8 on loopback: FlowSpec checked with
//! `vtysh -c 'show bgp ipv4 flowspec detail'` (and ipv6), RTBH unicast routes with the
//! blackhole community, withdrawal, a flap (`clear bgp`), a restart of bgpd, graceful
//! shutdown, and a wrong AS in either direction.
//!
//! FRR 8.4 refuses IPv6 FlowSpec rules with a prefix offset or a flow label (it resets
//! the session with UPDATE error 3/9), so its IPv6 rule uses ports instead; BIRD checks
//! those two components.

mod common;

use common::bgplab::{Lab, LeveeBgp, Site, interop, rules};
use levee_testkit::daemon::bgp::vtysh;
use levee_testkit::lab::poll;
use levee_testkit::{Daemon, Launch, have_all};

struct Frr {
    site: Site,
}

impl Frr {
    fn launch(&self, peer_as: u32, n: u32) -> Daemon {
        let conf = self.site.dir.join(format!("bgpd-{n}.conf"));
        let mut c = format!(
            "hostname levee-lab\nrouter bgp 64504\n bgp router-id 192.0.2.4\n \
             no bgp ebgp-requires-policy\n no bgp network import-check\n \
             neighbor 127.0.0.1 remote-as {peer_as}\n neighbor 127.0.0.1 passive\n \
             neighbor 127.0.0.1 ebgp-multihop 2\n neighbor 127.0.0.1 timers connect 1\n"
        );
        for af in [
            "ipv4 unicast",
            "ipv6 unicast",
            "ipv4 flowspec",
            "ipv6 flowspec",
        ] {
            c += &format!(
                " address-family {af}\n  neighbor 127.0.0.1 activate\n exit-address-family\n"
            );
        }
        std::fs::write(&conf, c).unwrap();
        let port = self.site.port.to_string();
        let d = Launch::frr("bgpd", &conf, &self.site.dir)
            .args(["-p", &port, "-l", "127.0.0.1", "-Z", "-n", "-S", "-P", "0"])
            .start(&self.site.dir.join(format!("bgpd-{n}.log")));
        poll("vtysh", 20, |last| {
            *last = self.vtysh("show bgp summary");
            last.contains("127.0.0.1").then_some(())
        });
        d
    }

    fn vtysh(&self, cmd: &str) -> String {
        vtysh(&self.site.dir, &[cmd])
    }
}

/// The vtysh command that shows a route, and what its output must contain.
fn expected(text: &str) -> (&'static str, Vec<&'static str>) {
    match text {
        rules::ALL_V4 => (
            "show bgp ipv4 flowspec detail",
            vec![
                "Destination Address 192.0.2.1/32",
                "Source Address 198.51.100.0/24",
                "IP Protocol = 17",
                "Port = 53",
                "Destination Port >= 8000 , <= 8080 , = 443",
                "Source Port > 1023",
                "ICMP Type = 3",
                "ICMP Code = 1",
                "TCP Flags = 18",
                "Packet Length >= 1400 , <= 1500",
                "DSCP field = 46",
                "Packet Fragment ∋ 2",
                "FS:rate 125000.000000",
                "FS:action eval stops",
                "FS:redirect VRF RT:65000:100",
                "FS:marking 10",
            ],
        ),
        rules::DISCARD_AS4 => (
            "show bgp ipv4 flowspec detail",
            vec![
                "Destination Address 192.0.2.3/32",
                "IP Protocol = 6",
                "Destination Port = 80",
                "FS:rate 0.000000",
                "FS:redirect VRF RT:4200000000:9",
            ],
        ),
        rules::PPS_REDIRECT_IP => (
            "show bgp ipv4 flowspec detail",
            vec![
                "Destination Address 192.0.2.4/32",
                "IP Protocol = 17",
                // FRR 8.4 has no name for traffic-rate-packets (0x80 0x0c).
                "UNK:128, 12",
                "FS:redirect VRF RT:192.0.2.1:7",
            ],
        ),
        rules::V6_PORTS => (
            "show bgp ipv6 flowspec detail",
            vec![
                "Destination Address 2001:db8::1/128/off 0",
                "Source Address 2001:db8:1::/48/off 0",
                "IP Protocol = 6",
                "Destination Port = 80",
                "FS:rate 0.000000",
            ],
        ),
        rules::RTBH_V4 => (
            "show bgp ipv4 unicast 192.0.2.7/32",
            vec![
                "192.0.2.66 from 127.0.0.1",
                "Community: blackhole",
                "Large Community: 64500:666:1",
            ],
        ),
        rules::RTBH_V6 => (
            "show bgp ipv6 unicast 2001:db8::7/128",
            vec!["2001:db8::66 from 127.0.0.1", "Community: blackhole"],
        ),
        _ => unreachable!(),
    }
}

const ROUTES: [&str; 6] = [
    rules::ALL_V4,
    rules::DISCARD_AS4,
    rules::PPS_REDIRECT_IP,
    rules::V6_PORTS,
    rules::RTBH_V4,
    rules::RTBH_V6,
];

/// FlowSpec entries of a `detail` listing, one string each.
fn entries(out: &str) -> Vec<String> {
    out.split("BGP flowspec entry")
        .skip(1)
        .map(str::to_string)
        .collect()
}

impl Lab for Frr {
    fn site(&self) -> &Site {
        &self.site
    }
    fn start(&self, peer_as: u32, n: u32) -> Daemon {
        self.launch(peer_as, n)
    }

    fn shows(&self, r: &str, last: &mut String) -> bool {
        let (cmd, want) = expected(r);
        *last = self.vtysh(cmd);
        if cmd.contains("flowspec") {
            entries(last)
                .iter()
                .any(|e| want.iter().all(|w| e.contains(w)))
        } else {
            want.iter().all(|w| last.contains(w))
        }
    }

    fn all_gone(&self) {
        for cmd in [
            "show bgp ipv4 flowspec detail",
            "show bgp ipv6 flowspec detail",
        ] {
            poll(&format!("nothing in {cmd}"), 20, |last| {
                *last = self.vtysh(cmd);
                entries(last).is_empty().then_some(())
            });
        }
        for cmd in [
            "show bgp ipv4 unicast 192.0.2.7/32",
            "show bgp ipv6 unicast 2001:db8::7/128",
        ] {
            poll(&format!("nothing in {cmd}"), 20, |last| {
                *last = self.vtysh(cmd);
                last.contains("Network not in table").then_some(())
            });
        }
    }

    fn flap(&self, _levee: &mut LeveeBgp) {
        self.vtysh("clear bgp 127.0.0.1");
    }
}

#[test]
fn frr_interop() {
    if !have_all(&["vtysh", "/usr/lib/frr/bgpd"]) {
        return;
    }
    let f = Frr {
        site: Site::new("frr", 64504, &ROUTES),
    };
    interop(&f);
}
