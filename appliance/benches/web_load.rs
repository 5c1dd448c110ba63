//! What 20 browsers on the status page cost the detection path, measured side by side.
//!
//! One `levee run` (release build, detection on, dry run, web on loopback, the
//! per-exporter plausibility budget raised so the whole stream counts) takes a
//! paced, attack-heavy sFlow stream (1:1000, every sample towards 198.51.100.0/24, so
//! incidents open and the live feed carries incident frames as well as the per-second
//! traffic frames). Phases of `--seconds` alternate between no browser and `--clients`
//! simulated browsers, `--rounds` times, on the same daemon. A simulated browser does
//! what the overview does: it loads the page and its assets once, keeps
//! `/api/v1/events` open and reads every frame, and every 5 s fetches
//! `/api/v1/status`, `/api/v1/peers`, `/api/v1/exporters` and
//! `/api/v1/incidents?open=true&limit=100`.
//!
//! Per phase it prints the records the detection engine took (its counter on
//! /metrics), the flow records lost (dropped batches and records, and the kernel's
//! receive-buffer drops for the socket, from /proc/net/udp), the detection thread's
//! CPU time per record (`levee-detect`, from /proc/PID/task/TID/stat) and the whole
//! process's CPU seconds. Run:
//!
//! ```text
//! cargo build --release -p levee
//! cargo bench -p levee --bench web_load -- [--rate 300000] [--seconds 8] [--rounds 3] [--clients 20]
//! ```

#[allow(dead_code)] // each bench uses part of it
mod support;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::{SAMPLES_PER_DATAGRAM, cpu_seconds};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let num = |name: &str, default: u64| -> u64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |v| v.parse().unwrap())
    };
    let rate = num("--rate", 300_000);
    let seconds = num("--seconds", 8);
    let rounds = num("--rounds", 3);
    let clients = num("--clients", 20) as usize;
    let _ = Command::new("sysctl")
        .args(["-qw", "net.core.rmem_max=33554432"])
        .status();

    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/levee");
    assert!(
        bin.exists(),
        "build it first: cargo build --release -p levee"
    );
    let dir = std::env::temp_dir().join(format!("levee-web-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sflow = free_port(true);
    let web = format!("127.0.0.1:{}", free_port(false));
    let cfg = dir.join("levee.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listeners:\n  sflow: {{bind: 127.0.0.1:{sflow}, receive_buffer: 32 MiB}}\n  \
             netflow: {{enabled: false}}\n  ipfix: {{enabled: false}}\n\
             protected_networks:\n  - name: lab\n    prefixes: [198.51.100.0/24]\n\
             ingest: {{max_exporter_rate: 100Tbps}}\n\
             mitigation: {{dry_run: true}}\n\
             store: {{path: {d}/levee.db}}\ncontrol: {{socket: {d}/control.sock}}\n\
             web: {{listen: {web}}}\n",
            d = dir.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(&bin)
        .args(["--log", "warn", "--config", cfg.to_str().unwrap(), "run"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("levee.log")).unwrap())
        .spawn()
        .expect("levee run starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(&web, "/api/v1/status").is_none() {
        assert!(Instant::now() < deadline, "levee run did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let datagrams = build_datagrams(4096);
    // Warm up: baselines, the first incidents, the history's rings.
    let _ = send(&datagrams, sflow, rate, Duration::from_secs(3));

    println!(
        "clients     sent/s  decoded/s  detected/s  lost_records  kernel_drops  detect_ns_per_record  detect_cpu_s  process_cpu_s  sse_frames"
    );
    let mut summary: [(f64, f64); 2] = [(0.0, 0.0); 2];
    for _ in 0..rounds {
        for (k, n) in [0, clients].into_iter().enumerate() {
            let stop = Arc::new(AtomicBool::new(false));
            let frames = Arc::new(AtomicU64::new(0));
            let browsers: Vec<_> = (0..n)
                .map(|_| browser(&web, stop.clone(), frames.clone()))
                .collect();
            std::thread::sleep(Duration::from_secs(1));
            let before = Sample::take(&child, &web, sflow);
            let sent = send(&datagrams, sflow, rate, Duration::from_secs(seconds));
            std::thread::sleep(Duration::from_millis(500));
            let after = Sample::take(&child, &web, sflow);
            stop.store(true, Ordering::Relaxed);
            for b in browsers {
                let _ = b.join();
            }
            let records = after.records - before.records;
            let decoded = after.flow_records - before.flow_records;
            let lost = after.lost - before.lost;
            let kernel = after.kernel_drops - before.kernel_drops;
            let detect = after.detect_cpu - before.detect_cpu;
            let ns = detect * 1e9 / records.max(1) as f64;
            println!(
                "{n:>7}  {:>9.0}  {:>9.0}  {:>9.0}  {lost:>12}  {kernel:>12}  {ns:>20.1}  {detect:>12.2}  {:>13.2}  {:>10}",
                sent as f64 / seconds as f64,
                decoded as f64 / seconds as f64,
                records as f64 / seconds as f64,
                after.process_cpu - before.process_cpu,
                frames.load(Ordering::Relaxed)
            );
            summary[k].0 += ns;
            summary[k].1 += after.process_cpu - before.process_cpu;
        }
    }
    let r = rounds as f64;
    println!(
        "mean detection ns/record: {:.1} without browsers, {:.1} with {clients} ({:+.1}%); \
         process CPU s per phase: {:.2} and {:.2}",
        summary[0].0 / r,
        summary[1].0 / r,
        100.0 * (summary[1].0 / summary[0].0 - 1.0),
        summary[0].1 / r,
        summary[1].1 / r,
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A free port on loopback (UDP or TCP).
fn free_port(udp: bool) -> u16 {
    if udp {
        UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    } else {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }
}

/// `GET path` (HTTP/1.0): the body if the answer is 200.
fn get(addr: &str, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut r = String::new();
    s.read_to_string(&mut r).ok()?;
    let (head, body) = r.split_once("\r\n\r\n")?;
    head.contains(" 200 ").then(|| body.to_string())
}

/// A simulated browser on the overview, until `stop`.
fn browser(
    addr: &str,
    stop: Arc<AtomicBool>,
    frames: Arc<AtomicU64>,
) -> std::thread::JoinHandle<()> {
    let addr = addr.to_string();
    std::thread::spawn(move || {
        for p in [
            "/",
            "/assets/app.css",
            "/assets/app.js",
            "/assets/levee-chart.js",
            "/assets/overview.js",
            "/assets/incidents.js",
            "/assets/views.js",
        ] {
            let _ = get(&addr, p);
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let _ = get(
            &addr,
            &format!("/api/v1/traffic?from={}&to={now}&step=1s", now - 300),
        );
        let mut sse = TcpStream::connect(&addr).unwrap();
        sse.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        write!(
            sse,
            "GET /api/v1/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        let mut buf = vec![0u8; 65536];
        let mut next_poll = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            if let Ok(n) = sse.read(&mut buf) {
                let text = &buf[..n];
                let k = text.windows(7).filter(|w| w == b"event: ").count();
                frames.fetch_add(k as u64, Ordering::Relaxed);
            }
            if Instant::now() >= next_poll {
                for p in [
                    "/api/v1/status",
                    "/api/v1/peers",
                    "/api/v1/exporters",
                    "/api/v1/incidents?open=true&limit=100",
                ] {
                    let _ = get(&addr, p);
                }
                next_poll += Duration::from_secs(5);
            }
        }
    })
}

/// Counters at one moment.
struct Sample {
    records: u64,
    flow_records: u64,
    lost: u64,
    kernel_drops: u64,
    detect_cpu: f64,
    process_cpu: f64,
}

impl Sample {
    fn take(child: &Child, web: &str, sflow: u16) -> Sample {
        let m = get(web, "/metrics").unwrap_or_default();
        let metric = |name: &str| -> u64 {
            m.lines()
                .filter(|l| l.starts_with(name))
                .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
                .sum::<f64>() as u64
        };
        let pid = child.id();
        let detect_cpu = std::fs::read_dir(format!("/proc/{pid}/task"))
            .unwrap()
            .filter_map(|t| t.ok())
            .find(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|c| c.trim() == "levee-detect")
            })
            .map_or(0.0, |t| cpu_seconds(&t.path().join("stat")));
        Sample {
            records: metric("levee_detection_records_total"),
            flow_records: metric("levee_flow_records_total"),
            lost: metric("levee_flow_dropped_records_total"),
            kernel_drops: kernel_drops(sflow),
            detect_cpu,
            process_cpu: cpu_seconds(Path::new(&format!("/proc/{pid}/stat"))),
        }
    }
}

/// The kernel's receive drops for the UDP socket bound to `port` (/proc/net/udp's
/// last column).
fn kernel_drops(port: u16) -> u64 {
    let want = format!(":{port:04X}");
    std::fs::read_to_string("/proc/net/udp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|a| a.ends_with(&want))
        })
        .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .sum()
}

/// Sends datagrams to 127.0.0.1:port at `rate` samples/s for `dur`; the samples sent.
fn send(datagrams: &[Vec<u8>], port: u16, rate: u64, dur: Duration) -> u64 {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(("127.0.0.1", port)).unwrap();
    let per_sec = rate as f64 / SAMPLES_PER_DATAGRAM as f64;
    let start = Instant::now();
    let mut sent: u64 = 0;
    let mut i = 0;
    while start.elapsed() < dur {
        let due = (start.elapsed().as_secs_f64() * per_sec) as u64;
        while sent < due {
            if sock.send(&datagrams[i % datagrams.len()]).is_ok() {
                sent += 1;
            }
            i += 1;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    sent * SAMPLES_PER_DATAGRAM as u64
}

/// sFlow datagrams (1:1000): UDP and TCP from many sources to 198.51.100.1-254.
fn build_datagrams(n: usize) -> Vec<Vec<u8>> {
    support::mixed(n, 0x5eed_0016, 4, 1200)
}
