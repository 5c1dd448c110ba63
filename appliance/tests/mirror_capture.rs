//! Live mirror-port capture through libpcap's AF_PACKET ring, in a network namespace the
//! test creates: a veth pair with one end inside the namespace, which sends UDP to
//! documentation addresses (static neighbours, so nothing else is needed); levee captures
//! on the outer end. Needs root and iproute2: required in CI, skipped elsewhere.

mod common;

use serde_json::Value;
use std::process::Command;
use std::time::Duration;

struct Lab {
    ns: String,
    outer: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Lab {
    fn new(tag: &str) -> Option<Lab> {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0"));
        let has_ip = Command::new("ip")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        if !(root && has_ip) {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs as root with iproute2"
            );
            println!("SKIPPED: mirror capture needs root and iproute2");
            return None;
        }
        let id = std::process::id() % 100_000;
        let lab = Lab {
            ns: format!("levee-{tag}-{id}"),
            outer: format!("lv{tag}o{id}"),
        };
        let inner = format!("lv{tag}i{id}");
        ip(&["netns", "add", &lab.ns]);
        ip(&[
            "link", "add", &lab.outer, "type", "veth", "peer", "name", &inner,
        ]);
        ip(&["link", "set", &inner, "netns", &lab.ns]);
        ip(&["link", "set", &lab.outer, "up"]);
        let nsip = |args: &[&str]| {
            let mut a = vec!["netns", "exec", &lab.ns, "ip"];
            a.extend_from_slice(args);
            ip(&a);
        };
        nsip(&["link", "set", &inner, "up"]);
        nsip(&["addr", "add", "192.0.2.2/24", "dev", &inner]);
        nsip(&[
            "-6",
            "addr",
            "add",
            "2001:db8::2/64",
            "dev",
            &inner,
            "nodad",
        ]);
        // Static neighbours: the datagrams leave without ARP or neighbour discovery.
        for (family, dst) in [("-4", "192.0.2.9"), ("-6", "2001:db8::9")] {
            nsip(&[
                family,
                "neigh",
                "add",
                dst,
                "lladdr",
                "02:00:00:00:00:09",
                "dev",
                &inner,
                "nud",
                "permanent",
            ]);
        }
        Some(lab)
    }

    /// Sends `n` 100-byte UDP datagrams to port 9999 of 192.0.2.9 and of 2001:db8::9.
    fn send(&self, n: usize) {
        let script = format!(
            "import socket\n\
             for fam, dst in ((socket.AF_INET, '192.0.2.9'), (socket.AF_INET6, '2001:db8::9')):\n    \
                 s = socket.socket(fam, socket.SOCK_DGRAM)\n    \
                 for _ in range({n}):\n        s.sendto(b'x' * 100, (dst, 9999))\n"
        );
        let st = Command::new("ip")
            .args(["netns", "exec", &self.ns, "python3", "-c", &script])
            .status()
            .unwrap();
        assert!(st.success());
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.outer])
            .status();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

fn start(args: &[&str]) -> common::Levee {
    let levee = common::listen(args, "capturing on");
    // Let the capture ring settle before traffic starts.
    std::thread::sleep(Duration::from_millis(300));
    levee
}

fn stop(levee: common::Levee) -> Vec<Value> {
    let (out, _) = levee.stop(Duration::from_millis(500));
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn every_packet_becomes_a_record() {
    let Some(lab) = Lab::new("m") else { return };
    let levee = start(&["--mirror", &lab.outer]);
    lab.send(50);
    let records = stop(levee);
    for (dst, frame) in [
        ("192.0.2.9", 14 + 20 + 8 + 100),
        ("2001:db8::9", 14 + 40 + 8 + 100),
    ] {
        let ours: Vec<&Value> = records
            .iter()
            .filter(|r| r["dst_addr"] == dst && r["dst_port"] == 9999)
            .collect();
        assert_eq!(ours.len(), 50, "{dst}");
        for r in ours {
            assert_eq!(
                (r["flow_type"].as_str(), r["protocol"].as_u64()),
                (Some("mirror"), Some(17))
            );
            assert_eq!(
                (r["packets"].as_u64(), r["bytes"].as_u64()),
                (Some(1), Some(frame))
            );
            assert!(r["in_if"].as_u64().is_some());
        }
    }
}

#[test]
fn sampling_and_bpf_filter() {
    let Some(lab) = Lab::new("s") else { return };
    let levee = start(&[
        "--mirror",
        &lab.outer,
        "--mirror-sampling",
        "5",
        "--bpf",
        "udp and dst port 9999",
    ]);
    lab.send(50);
    let records = stop(levee);
    // The filter lets only the 100 test datagrams through; 1 in 5 is kept, standing for 5.
    assert_eq!(records.len(), 20, "{records:?}");
    assert!(
        records
            .iter()
            .all(|r| r["dst_port"] == 9999 && r["sampling_rate"] == 5 && r["packets"] == 5)
    );
}
