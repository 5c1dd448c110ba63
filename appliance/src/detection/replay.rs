//! `levee replay [--config FILE] [--mirror] [--summary] CAPTURE...`: runs the detection
//! engine over captures, with the packets' timestamps as its clock, ticking every
//! 100 ms of capture time exactly as the live daemon ticks every 100 ms of wall time.

use super::events::{summary_line, to_json};
use crate::flows::decode::{DecodeOptions, UnreadableFile, read};
use levee_detect::engine::TICK_US;
use levee_detect::{Engine, Event, EventKind};
use std::io::Write;

/// The seed replays use, so that the same captures always give the same output.
const REPLAY_SEED: u64 = 0x6c65_7665_6521;

/// What a replay did.
#[derive(Debug)]
pub struct Outcome {
    /// Files that could not be read.
    pub failed: Vec<UnreadableFile>,
    /// Incidents started.
    pub incidents: u64,
}

/// Replays `opts.files` through `engine` (built for the first record's time by
/// `make`), writing events (or summaries) to `out`.
pub fn run(
    opts: &DecodeOptions,
    summary: bool,
    make: &mut dyn FnMut(u64, u64) -> Engine,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<Outcome> {
    let mut engine: Option<Engine> = None;
    let mut next_tick = 0u64;
    let mut last_us = 0u64;
    let mut line = String::new();
    let mut emit = |events: Vec<Event>, out: &mut dyn Write| -> std::io::Result<()> {
        for e in events {
            if summary {
                if e.kind == EventKind::End {
                    writeln!(out, "{}", summary_line(&e))?;
                }
            } else {
                line.clear();
                line.push_str(&to_json(&e).to_string());
                line.push('\n');
                out.write_all(line.as_bytes())?;
            }
        }
        Ok(())
    };
    let read = read(opts, err, |records| {
        for r in records {
            let e = engine.get_or_insert_with(|| {
                next_tick = (r.time_us / TICK_US + 1) * TICK_US;
                make(r.time_us, REPLAY_SEED)
            });
            while next_tick <= r.time_us {
                emit(e.tick(next_tick), out)?;
                next_tick += TICK_US;
            }
            last_us = last_us.max(r.time_us);
        }
        if let Some(e) = engine.as_mut() {
            e.ingest(records);
        }
        Ok(())
    })?;
    let mut incidents = 0;
    if let Some(mut e) = engine {
        // Let open incidents run out their quiet period in capture time, then end what
        // is left (an attack still going when the capture stops).
        let quiet_until = last_us + 3_600_000_000;
        while next_tick <= quiet_until && e.stats().incidents_active > 0 {
            emit(e.tick(next_tick), out)?;
            next_tick += TICK_US;
        }
        emit(e.finish(next_tick), out)?;
        let s = e.stats();
        incidents = s.incidents_started;
        writeln!(
            err,
            "levee: replay: {} records, {} outside protected networks, {} untracked (cap), \
             {} IPs tracked, {} incidents",
            s.records, s.outside, s.untracked, s.tracked, s.incidents_started
        )?;
    }
    out.flush()?;
    write!(err, "{}", read.summary.render(opts.mirror))?;
    Ok(Outcome {
        failed: read.failed,
        incidents,
    })
}
