//! Counting what an ingest run saw, and printing it for operators.

use levee_flow::{DatagramResult, ExporterStats};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::IpAddr;

/// What a decode or listen run saw.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub packets: u64,
    pub not_udp: u64,
    pub ip_fragments: u64,
    pub truncated_captures: u64,
    pub datagrams: u64,
    pub records: u64,
    pub template_misses: u64,
    pub lost_datagrams: u64,
    pub errors: BTreeMap<&'static str, u64>,
}

impl Summary {
    pub fn add(&mut self, r: &DatagramResult) {
        self.datagrams += 1;
        self.records += r.records as u64;
        self.template_misses += u64::from(r.template_misses);
        self.lost_datagrams += r.lost_datagrams;
        if let Some(e) = &r.error {
            *self.errors.entry(e.kind()).or_default() += 1;
        }
    }

    pub fn render(&self, mirror: bool) -> String {
        let mut s = String::new();
        if mirror {
            let _ = writeln!(
                s,
                "packets: {}  records: {}  non-IP: {}",
                self.packets, self.records, self.not_udp
            );
            return s;
        }
        let _ = writeln!(
            s,
            "packets: {}  datagrams: {}  records: {}  template misses: {}  lost datagrams: {}",
            self.packets, self.datagrams, self.records, self.template_misses, self.lost_datagrams
        );
        let _ = writeln!(
            s,
            "skipped: {} non-UDP packets, {} IP fragments, {} truncated in capture",
            self.not_udp, self.ip_fragments, self.truncated_captures
        );
        let total: u64 = self.errors.values().sum();
        let _ = write!(s, "decode errors: {total}");
        for (k, v) in &self.errors {
            let _ = write!(s, "  {k}: {v}");
        }
        s.push('\n');
        s
    }
}

/// One line per exporter, sorted by address.
pub fn render_exporters<'a>(it: impl Iterator<Item = (&'a IpAddr, &'a ExporterStats)>) -> String {
    let mut rows: Vec<_> = it.collect();
    rows.sort_by_key(|(a, _)| **a);
    let mut s = String::new();
    for (addr, e) in rows {
        let _ = write!(
            s,
            "exporter {addr} {}: last_seen {} datagrams {} records {} counters {} template_misses {} lost {} errors {}",
            e.last_format.map_or("?", |f| f.as_str()),
            crate::clock::rfc3339(e.last_seen_us),
            e.datagrams,
            e.records,
            e.counter_records,
            e.template_misses,
            e.lost_datagrams,
            e.error_total()
        );
        for (k, v) in &e.errors {
            let _ = write!(s, " {k}={v}");
        }
        let _ = write!(s, " discarded {}", e.discarded.total());
        for (k, v) in e.discarded.named() {
            if v > 0 {
                let _ = write!(s, " {k}={v}");
            }
        }
        if let Some(name) = &e.name {
            let _ = write!(s, " name {name}");
        }
        s.push('\n');
    }
    s
}

/// Datagrams dropped from sources no `exporters:` entry covers: the total, then one line
/// per source counted (the listeners' top sources; counts may be over-estimated).
pub fn render_foreign(total: u64, top: &[(IpAddr, u64)]) -> String {
    if total == 0 {
        return String::new();
    }
    let mut s = format!("foreign datagrams {total} (sources not listed under exporters:)\n");
    let mut rows = top.to_vec();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (a, n) in rows {
        let _ = writeln!(s, "foreign {a} datagrams {n}");
    }
    s
}
