//! End-to-end sFlow ingest benchmark: levee versus FastNetMon on the same stream.
//!
//! A paced sender pushes sFlow v5 datagrams over loopback at rising rates (7 flow samples
//! of 128-byte sampled headers per 1,400-byte datagram, as routers send them) to a receiver
//! started afresh for each step:
//! - levee: `levee flows listen --sflow ... --quiet`, which counts records at the consumer;
//! - FastNetMon (Debian package), sFlow input on, whose Prometheus counter
//!   `fastnetmon_total_simple_packets_processed` says what it processed.
//!
//! For each step it prints samples sent, processed, loss, and the receiver's CPU time
//! (utime + stime of its process from /proc), hence samples per CPU-second. Run:
//!
//! ```text
//! cargo build --release -p levee
//! cargo bench -p levee --bench ingest -- [--fastnetmon] [--seconds N] [--rates 500000,1000000,...]
//! cargo bench -p levee --bench ingest -- --send-only PORT --rates 2000000   # drive a receiver you started
//! ```
//!
//! Needs root for `sysctl net.core.rmem_max` (both receivers get 32 MiB buffers).

#[allow(dead_code)] // each bench uses part of it
mod support;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::SAMPLES_PER_DATAGRAM;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let fastnetmon = args.iter().any(|a| a == "--fastnetmon");
    let seconds: u64 = arg(&args, "--seconds").map_or(4, |s| s.parse().unwrap());
    let rates: Vec<u64> = arg(&args, "--rates").map_or_else(
        || {
            vec![
                250_000, 500_000, 1_000_000, 1_500_000, 2_000_000, 2_500_000, 3_000_000, 4_000_000,
            ]
        },
        |s| s.split(',').map(|r| r.parse().unwrap()).collect(),
    );
    let _ = Command::new("sysctl")
        .args(["-qw", "net.core.rmem_max=33554432"])
        .status();
    let datagrams = build_datagrams(4096);
    // Only send, to a receiver started by hand (for profiling it).
    if let Some(port) = arg(&args, "--send-only") {
        for &rate in &rates {
            let (sent, achieved) = send(
                &datagrams,
                port.parse().unwrap(),
                rate,
                Duration::from_secs(seconds),
            );
            println!("sent {sent} samples at {achieved:.0}/s");
        }
        return;
    }
    println!(
        "receiver    rate_target  sent_samples  processed  loss_%   cpu_s  samples_per_cpu_s  sender_rate"
    );
    let only_fnm = args.iter().any(|a| a == "--fastnetmon-only");
    for (name, enabled) in [("levee", !only_fnm), ("fastnetmon", fastnetmon || only_fnm)] {
        if !enabled {
            continue;
        }
        for &rate in &rates {
            let port =
                20_000 + (rate / 10_000) as u16 % 1000 + if name == "levee" { 0 } else { 1000 };
            let rx = Receiver::start(name, port);
            let cpu0 = rx.cpu_seconds();
            let base = rx.processed();
            let (sent, achieved) = send(&datagrams, port, rate, Duration::from_secs(seconds));
            std::thread::sleep(Duration::from_millis(700));
            let cpu = rx.cpu_seconds() - cpu0;
            let processed = rx.finish() - base;
            let loss = 100.0 * (1.0 - processed as f64 / sent as f64);
            println!(
                "{name:<11} {rate:>11} {sent:>13} {processed:>10} {loss:>7.3} {cpu:>7.2} {:>18.0} {achieved:>12.0}",
                processed as f64 / cpu.max(0.01)
            );
        }
    }
}

fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// Sends datagrams to 127.0.0.1:port at `rate` samples/s for `dur`, pacing every 200 µs.
/// Returns samples sent and the rate achieved.
fn send(datagrams: &[Vec<u8>], port: u16, rate: u64, dur: Duration) -> (u64, f64) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(("127.0.0.1", port)).unwrap();
    let per_sec = rate as f64 / SAMPLES_PER_DATAGRAM as f64;
    let start = Instant::now();
    let mut sent_dgrams: u64 = 0;
    let mut i = 0;
    while start.elapsed() < dur {
        let due = (start.elapsed().as_secs_f64() * per_sec) as u64;
        while sent_dgrams < due {
            let mut d = datagrams[i % datagrams.len()].clone();
            // Datagram sequence number (offset 16), so the receiver sees no gaps.
            d[16..20].copy_from_slice(&(sent_dgrams as u32).to_be_bytes());
            if sock.send(&d).is_ok() {
                sent_dgrams += 1;
            }
            i += 1;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let samples = sent_dgrams * SAMPLES_PER_DATAGRAM as u64;
    (samples, samples as f64 / start.elapsed().as_secs_f64())
}

/// sFlow v5 datagrams: flow samples (rate 1:1000) of UDP and TCP packets from many
/// sources to 198.51.100.0/24, headers cut at 128 bytes.
fn build_datagrams(n: usize) -> Vec<Vec<u8>> {
    support::mixed(n, 0x9e37_79b9, 3, 1500)
}

struct Receiver {
    child: Child,
    kind: &'static str,
    metrics_port: u16,
    dir: PathBuf,
}

impl Receiver {
    fn start(kind: &'static str, port: u16) -> Receiver {
        let dir = std::env::temp_dir().join(format!("levee-ingest-{kind}-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        let metrics_port = port + 10_000;
        let child = if kind == "levee" {
            let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/levee");
            assert!(
                bin.exists(),
                "build it first: cargo build --release -p levee"
            );
            Command::new(bin)
                .args([
                    "flows",
                    "listen",
                    "--sflow",
                    &format!("127.0.0.1:{port}"),
                    "--quiet",
                    "--log",
                    "error",
                ])
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.join("stderr")).unwrap())
                .spawn()
                .expect("start levee")
        } else {
            std::fs::write(dir.join("networks_list"), "198.51.100.0/24\n").unwrap();
            let conf = format!(
                "logging_level = info\nenable_ban = off\nenable_ban_ipv6 = off\nprocess_incoming_traffic = on\n\
                 networks_list_path = {nl}\nsflow = on\nsflow_port = {port}\nsflow_host = 127.0.0.1\nnetflow = off\n\
                 mirror_afpacket = off\ndisable_usage_report = on\nprometheus = on\nprometheus_port = {metrics_port}\n\
                 prometheus_host = 127.0.0.1\npid_path = {pid}\nredis_enabled = off\nmongodb_enabled = off\ngobgp = off\n",
                nl = dir.join("networks_list").display(),
                pid = dir.join("fastnetmon.pid").display(),
            );
            std::fs::write(dir.join("fastnetmon.conf"), conf).unwrap();
            Command::new("fastnetmon")
                .arg("--configuration_file")
                .arg(dir.join("fastnetmon.conf"))
                .arg("--log_file")
                .arg(dir.join("fastnetmon.log"))
                .arg("--disable_pid_logic")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start fastnetmon")
        };
        let r = Receiver {
            child,
            kind,
            metrics_port,
            dir,
        };
        // Wait until it is ready: levee prints its bind line; FastNetMon serves metrics.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = if kind == "levee" {
                std::fs::read_to_string(r.dir.join("stderr"))
                    .is_ok_and(|s| s.contains("listening for"))
            } else {
                r.metric().is_some()
            };
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "{kind} did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(300));
        r
    }

    /// User plus system CPU seconds of the receiver process, all threads.
    fn cpu_seconds(&self) -> f64 {
        support::cpu_seconds(Path::new(&format!("/proc/{}/stat", self.child.id())))
    }

    fn processed(&self) -> u64 {
        if self.kind == "levee" {
            0
        } else {
            self.metric().unwrap_or(0)
        }
    }

    fn metric(&self) -> Option<u64> {
        let mut s = TcpStream::connect(("127.0.0.1", self.metrics_port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .ok()?;
        let mut body = String::new();
        s.read_to_string(&mut body).ok()?;
        body.lines()
            .find(|l| l.starts_with("fastnetmon_total_simple_packets_processed"))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v as u64)
    }

    /// Stops the receiver and returns what it processed.
    fn finish(mut self) -> u64 {
        let n = if self.kind == "levee" {
            Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status()
                .unwrap();
            self.child.wait().unwrap();
            let err = std::fs::read_to_string(self.dir.join("stderr")).unwrap();
            err.lines()
                .find_map(|l| l.strip_prefix("levee: consumed "))
                .and_then(|l| l.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        } else {
            let n = self.metric().unwrap_or(0);
            let _ = self.child.kill();
            let _ = self.child.wait();
            n
        };
        let _ = std::fs::remove_dir_all(&self.dir);
        n
    }
}
