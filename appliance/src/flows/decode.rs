//! `levee flows decode FILE.pcap...`: decode captured flow exports (or mirror traffic)
//! offline, printing one JSON object per record on stdout and a summary on stderr.

use super::json::write_record;
use super::link::{self, NotUdp};
use super::summary::{Summary, render_exporters};
use levee_flow::{Batch, Decoder, FlowRecord, Limits, mirror};
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
    let mut line = String::with_capacity(1 << 16);
    let read = read(opts, err, |records| {
        for rec in records {
            write_record(&mut line, rec);
        }
        if line.len() > 60_000 {
            out.write_all(line.as_bytes())?;
            line.clear();
        }
        Ok(())
    })?;
    out.write_all(line.as_bytes())?;
    out.flush()?;
    write!(err, "{}", read.summary.render(opts.mirror))?;
    if opts.exporters {
        write!(err, "{}", render_exporters(read.decoder.exporters()))?;
    }
    Ok(read.failed)
}

/// What reading captures found.
#[derive(Debug)]
pub struct Read {
    /// Packets, records and what was skipped.
    pub summary: Summary,
    /// Files that could not be opened.
    pub failed: Vec<UnreadableFile>,
    /// The decoder, with its per-exporter counters.
    pub decoder: Decoder,
}

/// Reads the captures in order and hands each packet's records to `each`, in capture
/// order (the packets' timestamps are the records' times). Progress goes to `err`.
pub fn read(
    opts: &DecodeOptions,
    err: &mut dyn Write,
    mut each: impl FnMut(&[FlowRecord]) -> std::io::Result<()>,
) -> std::io::Result<Read> {
    let mut reading = Reading {
        opts,
        decoder: Decoder::new(opts.limits),
        summary: Summary::default(),
        batch: Batch::default(),
        progress: Instant::now(),
    };
    let mut failed = Vec::new();
    for path in &opts.files {
        match pcap::Capture::from_file(path) {
            Ok(mut cap) => reading.capture(&mut cap, path, err, &mut each)?,
            Err(e) => {
                let f = unreadable(path, &e);
                writeln!(err, "levee: {f}")?;
                failed.push(f);
            }
        }
    }
    Ok(Read {
        summary: reading.summary,
        failed,
        decoder: reading.decoder,
    })
}

/// The state of [`read`] across captures.
struct Reading<'a> {
    opts: &'a DecodeOptions,
    decoder: Decoder,
    summary: Summary,
    /// The records of the packet being decoded.
    batch: Batch,
    /// When progress was last reported.
    progress: Instant,
}

impl Reading<'_> {
    /// Reads one capture to its end (or to where it is cut off, said on `err`).
    fn capture(
        &mut self,
        cap: &mut pcap::Capture<pcap::Offline>,
        path: &Path,
        err: &mut dyn Write,
        each: &mut impl FnMut(&[FlowRecord]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let linktype = cap.get_datalink().0;
        loop {
            let pkt = match cap.next_packet() {
                Ok(p) => p,
                Err(pcap::Error::NoMorePackets) => return Ok(()),
                Err(e) => {
                    // A capture cut off mid-record: keep what was read, say so.
                    writeln!(err, "levee: {}: capture ends early: {e}", path.display())?;
                    self.summary.truncated_captures += 1;
                    return Ok(());
                }
            };
            self.summary.packets += 1;
            let ts = pkt.header.ts;
            let time_us = crate::clock::Timestamp::from_timeval(ts.tv_sec, ts.tv_usec).as_micros();
            if self.opts.mirror {
                self.mirrored(linktype, &pkt, time_us, each)?;
            } else {
                self.exported(linktype, pkt.data, time_us, each)?;
            }
            self.report_progress(path, err)?;
        }
    }

    /// A mirrored packet: its one flow record, if it has one.
    fn mirrored(
        &mut self,
        linktype: i32,
        pkt: &pcap::Packet<'_>,
        time_us: u64,
        each: &mut impl FnMut(&[FlowRecord]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let rec = link::network_layer(linktype, pkt.data).and_then(|(l, bytes)| {
            let exporter = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
            mirror::record(
                l,
                bytes,
                pkt.header.len,
                time_us,
                exporter,
                self.opts.mirror_sampling,
                None,
            )
        });
        match rec {
            Some(r) => {
                self.summary.records += 1;
                each(std::slice::from_ref(&r))?;
            }
            None => self.summary.not_udp += 1,
        }
        Ok(())
    }

    /// A captured flow export: the records the decoder finds in its UDP payload.
    fn exported(
        &mut self,
        linktype: i32,
        frame: &[u8],
        time_us: u64,
        each: &mut impl FnMut(&[FlowRecord]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        match link::udp(linktype, frame) {
            Ok(u) => {
                let r = self
                    .decoder
                    .decode(u.src, time_us, u.payload, &mut self.batch);
                self.summary.add(&r);
                each(&self.batch.records)?;
                self.batch.clear();
            }
            Err(NotUdp::Other) => self.summary.not_udp += 1,
            Err(NotUdp::Fragment) => self.summary.ip_fragments += 1,
            Err(NotUdp::Truncated) => self.summary.truncated_captures += 1,
        }
        Ok(())
    }

    /// Says on `err` how far the capture is, every 2 seconds.
    fn report_progress(&mut self, path: &Path, err: &mut dyn Write) -> std::io::Result<()> {
        if self.progress.elapsed() > Duration::from_secs(2) {
            self.progress = Instant::now();
            writeln!(
                err,
                "levee: {}: {} packets, {} records so far",
                path.display(),
                self.summary.packets,
                self.summary.records
            )?;
        }
        Ok(())
    }
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
