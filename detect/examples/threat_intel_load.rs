//! Benchmark: load a threat-intelligence list of N entries and report time and memory.
//!
//! ```text
//! cargo run --release -p levee-detect --example threat_intel_load -- 1000000
//! ```
//! Generates N entries (IPv4 /32 and /24, IPv6 /128 and /48, in CSV with a comment field),
//! then times parsing and loading them, and reports the process's peak resident memory
//! (VmHWM) before and after. Figures go in docs/PERFORMANCE.md.

use levee_detect::prefixset::PrefixSet;
use levee_detect::threatintel::load;
use levee_testkit::Rng;
use std::fmt::Write;
use std::time::Instant;

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(1_000_000, |s| s.parse().expect("N"));
    let mut rng = Rng::new(0x0123_4567_89ab_cdef);
    let mut text = String::with_capacity(n * 40);
    for i in 0..n {
        let b = rng.next_u64().to_be_bytes();
        let _ = match i % 4 {
            0 => writeln!(text, "{}.{}.{}.{},scanner", b[0], b[1], b[2], b[3]),
            1 => writeln!(text, "{}.{}.{}.0/24,botnet", b[0], b[1], b[2]),
            2 => writeln!(
                text,
                "2001:db8:{:x}:{:x}::{:x},c2",
                u16::from_be_bytes([b[0], b[1]]),
                u16::from_be_bytes([b[2], b[3]]),
                u16::from_be_bytes([b[4], b[5]])
            ),
            _ => writeln!(
                text,
                "2001:db8:{:x}::/48,hosting",
                u16::from_be_bytes([b[0], b[1]])
            ),
        };
    }
    let before = vm_hwm_kib();
    let t = Instant::now();
    let mut set = PrefixSet::default();
    let report = load(&text, 1, &mut set);
    let elapsed = t.elapsed();
    drop(text);
    let after = vm_hwm_kib();
    println!(
        "entries {} (distinct {}) bad {} load {:.3} s, peak RSS {} MiB -> {} MiB",
        report.entries,
        set.len(),
        report.bad_lines,
        elapsed.as_secs_f64(),
        before / 1024,
        after / 1024
    );
}
