//! Live mirror-port capture through libpcap's AF_PACKET ring, in a network namespace the
//! test creates: a veth pair with one end inside the namespace, which sends UDP to
//! documentation addresses (static neighbours, so nothing else is needed); levee captures
//! on the outer end. Needs root and iproute2: required in CI, skipped elsewhere.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
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
        nsip(&[
            "neigh",
            "add",
            "192.0.2.9",
            "lladdr",
            "02:00:00:00:00:09",
            "dev",
            &inner,
            "nud",
            "permanent",
        ]);
        nsip(&[
            "-6",
            "neigh",
            "add",
            "2001:db8::9",
            "lladdr",
            "02:00:00:00:00:09",
            "dev",
            &inner,
            "nud",
            "permanent",
        ]);
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

fn start(args: &[&str]) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_levee"))
        .args(["flows", "listen", "--log", "warn"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 && !line.contains("capturing on") {
        line.clear();
    }
    assert!(
        line.contains("capturing on"),
        "levee did not start capturing"
    );
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    // Let the capture ring settle before traffic starts.
    std::thread::sleep(Duration::from_millis(300));
    child
}

fn stop(mut child: Child) -> Vec<Value> {
    std::thread::sleep(Duration::from_millis(500));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("levee did not stop within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.wait().unwrap().success());
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
