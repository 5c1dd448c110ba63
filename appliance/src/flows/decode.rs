//! `levee flows decode FILE.pcap...`: decode captured flow exports (or mirror traffic)
//! offline, printing one JSON object per record on stdout and a summary on stderr.

use super::json::write_record;
use super::link::{self, NotUdp};
use super::summary::{Summary, render_exporters};
use levee_flow::{Batch, Decoder, Limits, mirror};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Options of `flows decode`.
#[derive(Debug, Clone)]
pub struct DecodeOptions {
    pub files: Vec<PathBuf>,
    pub mirror: bool,
    pub mirror_sampling: u32,
    pub limits: Limits,
    pub exporters: bool,
}

/// A file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct UnreadableFile {
    path: String,
    reason: String,
}

/// Runs the command. Returns the files that could not be read (exit status 1 when any).
pub fn run(
    opts: &DecodeOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Vec<UnreadableFile>> {
    let mut decoder = Decoder::new(opts.limits);
    let mut summary = Summary::default();
    let mut failed = Vec::new();
    let mut line = String::with_capacity(1 << 16);
    let mut batch = Batch::default();
    let mut progress = Instant::now();
    for path in &opts.files {
        let mut cap = match pcap::Capture::from_file(path) {
            Ok(c) => c,
            Err(e) => {
                let f = unreadable(path, &e);
                writeln!(err, "levee: {f}")?;
                failed.push(f);
                continue;
            }
        };
        let linktype = cap.get_datalink().0;
        loop {
            let pkt = match cap.next_packet() {
                Ok(p) => p,
                Err(pcap::Error::NoMorePackets) => break,
                Err(e) => {
                    // A capture cut off mid-record: keep what was read, say so.
                    writeln!(err, "levee: {}: capture ends early: {e}", path.display())?;
                    summary.truncated_captures += 1;
                    break;
                }
            };
            summary.packets += 1;
            let ts = pkt.header.ts;
            let time_us = (ts.tv_sec.max(0) as u64) * 1_000_000 + ts.tv_usec.max(0) as u64;
            if opts.mirror {
                let rec = link::network_layer(linktype, pkt.data).and_then(|(l, bytes)| {
                    let exporter = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
                    mirror::record(
                        l,
                        bytes,
                        pkt.header.len,
                        time_us,
                        exporter,
                        opts.mirror_sampling,
                        None,
                    )
                });
                match rec {
                    Some(r) => {
                        summary.records += 1;
                        write_record(&mut line, &r);
                    }
                    None => summary.not_udp += 1,
                }
            } else {
                match link::udp(linktype, pkt.data) {
                    Ok(u) => {
                        let r = decoder.decode(u.src, time_us, u.payload, &mut batch);
                        summary.add(&r);
                        for rec in &batch.records {
                            write_record(&mut line, rec);
                        }
                        batch.clear();
                    }
                    Err(NotUdp::Other) => summary.not_udp += 1,
                    Err(NotUdp::Fragment) => summary.ip_fragments += 1,
                    Err(NotUdp::Truncated) => summary.truncated_captures += 1,
                }
            }
            if line.len() > 60_000 {
                out.write_all(line.as_bytes())?;
                line.clear();
            }
            if progress.elapsed() > Duration::from_secs(2) {
                progress = Instant::now();
                writeln!(
                    err,
                    "levee: {}: {} packets, {} records so far",
                    path.display(),
                    summary.packets,
                    summary.records
                )?;
            }
        }
    }
    out.write_all(line.as_bytes())?;
    out.flush()?;
    write!(err, "{}", summary.render(opts.mirror))?;
    if opts.exporters {
        write!(err, "{}", render_exporters(decoder.exporters()))?;
    }
    Ok(failed)
}

fn unreadable(path: &Path, e: &pcap::Error) -> UnreadableFile {
    let reason = if !path.exists() {
        "no such file".to_string()
    } else {
        format!("not a readable pcap or pcapng capture ({e})")
    };
    UnreadableFile {
        path: path.display().to_string(),
        reason,
    }
}
