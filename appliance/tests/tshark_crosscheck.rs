//! Cross-checks `levee flows decode` against tshark's decode of the same captures.
//!
//! For every fixture in tests/fixtures/flows (exports from softflowd and pmacct), the
//! records, packets and bytes per destination address must match exactly. tshark reports
//! raw counters, so the oracle applies the sampling rate tshark itself decoded: the sFlow
//! flow sample's rate, or a NetFlow v9 options record's sampling interval. In CI tshark
//! must be present; elsewhere the test skips (and says so) without it.

mod common;

use common::{Totals, fixtures, totals};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn have_tshark() -> bool {
    levee_testkit::have("tshark")
}

fn levee(args: &[&str]) -> Totals {
    let out = Command::new(env!("CARGO_BIN_EXE_levee"))
        .args(args)
        .output()
        .expect("run levee");
    assert!(
        out.status.success(),
        "levee {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("decode errors: 0") || args.contains(&"--mirror"),
        "{stderr}"
    );
    totals(&String::from_utf8(out.stdout).unwrap())
}

fn tshark_json(file: &Path) -> Value {
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(file)
        .args(["-T", "json", "--no-duplicate-keys"])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("tshark -T json")
}

/// A leaf value as a number or string; with --no-duplicate-keys repeats are arrays.
fn leaf<'a>(o: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a str> {
    match o.get(key)? {
        Value::String(s) => Some(s),
        Value::Array(a) => a.first()?.as_str(),
        _ => None,
    }
}

fn num(o: &serde_json::Map<String, Value>, key: &str) -> Option<u64> {
    leaf(o, key)?.parse().ok()
}

/// Depth-first search for the first leaf named one of `keys`.
fn find<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a str> {
    match v {
        Value::Object(o) => {
            for k in keys {
                if let Some(s) = leaf(o, k) {
                    return Some(s);
                }
            }
            o.values().find_map(|c| find(c, keys))
        }
        Value::Array(a) => a.iter().find_map(|c| find(c, keys)),
        _ => None,
    }
}

fn walk<'a>(v: &'a Value, f: &mut impl FnMut(&'a serde_json::Map<String, Value>)) {
    match v {
        Value::Object(o) => {
            f(o);
            o.values().for_each(|c| walk(c, f));
        }
        Value::Array(a) => a.iter().for_each(|c| walk(c, f)),
        _ => {}
    }
}

/// NetFlow v5/v9 and IPFIX records as tshark decodes them, scaled by the v9 options
/// sampling interval when the capture carries one.
fn tshark_cflow(file: &Path) -> Totals {
    let json = tshark_json(file);
    let rate = find(&json, &["cflow.sampling_interval"])
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(1)
        .max(1);
    let mut t = Totals::new();
    walk(&json, &mut |o| {
        let Some(packets) = num(o, "cflow.packets").or_else(|| num(o, "cflow.packets64")) else {
            return;
        };
        let Some(dst) = leaf(o, "cflow.dstaddr").or_else(|| leaf(o, "cflow.dstaddrv6")) else {
            return;
        };
        let bytes = num(o, "cflow.octets")
            .or_else(|| num(o, "cflow.octets64"))
            .unwrap_or(0);
        let e = t.entry(dst.parse().unwrap()).or_default();
        e.0 += 1;
        e.1 += packets * rate;
        e.2 += bytes * rate;
    });
    t
}

/// sFlow flow samples: each stands for `sampling_rate` packets of `frame_length` bytes.
fn tshark_sflow(file: &Path) -> Totals {
    let json = tshark_json(file);
    let mut t = Totals::new();
    walk(&json, &mut |o| {
        let Some(rate) = num(o, "sflow.flow_sample.sampling_rate") else {
            return;
        };
        let sample = Value::Object(o.clone());
        let Some(frame_len) = find(&sample, &["sflow_245.header.frame_length"]) else {
            return;
        };
        let Some(dst) = find(&sample, &["ip.dst", "ipv6.dst"]) else {
            return;
        };
        let e = t.entry(dst.parse().unwrap()).or_default();
        e.0 += 1;
        e.1 += rate;
        e.2 += frame_len.parse::<u64>().unwrap() * rate;
    });
    t
}

fn check(name: &str, oracle: fn(&Path) -> Totals) {
    let file = fixtures().join(name);
    let ours = levee(&["flows", "decode", file.to_str().unwrap()]);
    let theirs = oracle(&file);
    assert!(!theirs.is_empty(), "{name}: tshark found no records");
    assert_eq!(
        ours, theirs,
        "{name}: levee (left) and tshark (right) disagree"
    );
    println!(
        "{name}: {} destinations, {} records agree",
        ours.len(),
        ours.values().map(|v| v.0).sum::<u64>()
    );
}

#[test]
fn netflow_v5_softflowd() {
    if have_tshark() {
        check("softflowd-v5.pcap", tshark_cflow);
    }
}

#[test]
fn netflow_v9_softflowd_and_pmacct() {
    if have_tshark() {
        check("softflowd-v9.pcap", tshark_cflow);
        check("pmacct-nfprobe-v9.pcap", tshark_cflow);
    }
}

#[test]
fn netflow_v9_options_template_sampling() {
    if have_tshark() {
        check("softflowd-v9-sampled.pcap", tshark_cflow);
        // The capture really carries 1:4 in an options template, and levee applied it.
        let file = fixtures().join("softflowd-v9-sampled.pcap");
        let out = Command::new(env!("CARGO_BIN_EXE_levee"))
            .args(["flows", "decode"])
            .arg(&file)
            .output()
            .unwrap();
        let first: Value =
            serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap())
                .unwrap();
        assert_eq!(first["sampling_rate"], 4);
    }
}

#[test]
fn ipfix_softflowd_and_pmacct() {
    if have_tshark() {
        check("softflowd-ipfix.pcap", tshark_cflow);
        check("pmacct-nfprobe-ipfix.pcap", tshark_cflow);
    }
}

#[test]
fn sflow_pmacct_unsampled_and_sampled() {
    if have_tshark() {
        check("pmacct-sfprobe.pcap", tshark_sflow);
        check("pmacct-sfprobe-sampled.pcap", tshark_sflow);
    }
}

#[test]
fn mirror_traffic() {
    if !have_tshark() {
        return;
    }
    let file = fixtures().join("traffic.pcap");
    let ours = levee(&["flows", "decode", "--mirror", file.to_str().unwrap()]);
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&file)
        .args([
            "-T",
            "fields",
            "-e",
            "frame.len",
            "-e",
            "ip.dst",
            "-e",
            "ipv6.dst",
            "-E",
            "occurrence=f",
        ])
        .output()
        .unwrap();
    let mut theirs = Totals::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let dst = if f[1].is_empty() { f[2] } else { f[1] };
        let e = theirs.entry(dst.parse().unwrap()).or_default();
        e.0 += 1;
        e.1 += 1;
        e.2 += f[0].parse::<u64>().unwrap();
    }
    assert_eq!(ours, theirs);
}
