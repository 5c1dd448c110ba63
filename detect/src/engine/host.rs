//! The state kept per tracked destination IP, and per protected network.

use super::history::Rate;
use crate::baseline::{Baseline, Rates};
use crate::breakdown::Breakdown;
use crate::policy::Current;
use crate::ttl::TtlHistogram;
use crate::window::{SlidingWindow, Totals};
use std::net::IpAddr;

/// No incident.
pub(super) const NONE: u32 = u32::MAX;

/// One tracked IP: 816 bytes (see the size test), most of it the 300-second baseline.
/// What the traffic is made of is not kept per IP: a suspect (past half a threshold)
/// gathers that, so the per-record work and memory stay with the window (3 cache lines).
/// `repr(C)`: the fields every record touches come first and together.
#[derive(Debug, Clone)]
#[repr(C)]
pub(super) struct Host {
    pub(super) window: SlidingWindow,
    /// Engine second of the last record.
    pub(super) last_seen: u32,
    /// Incident slot, or [`NONE`].
    pub(super) incident: u32,
    /// Seconds of its baseline with any traffic, and seconds its baseline holds (both
    /// at most 300): copies kept up by the once-a-second sweep, in the same cache line as
    /// the window's sums and the incident slot, so judging a host for eviction costs
    /// one line and never reads the baseline.
    pub(super) history: [u16; 2],
    pub(super) ip: IpAddr,
    /// Only read once a second, and when a rate is high.
    pub(super) baseline: Baseline,
}

impl Host {
    /// Reads one word from each hot cache line, to bring them in.
    pub(super) fn touch(&self) -> u64 {
        self.window.touch() ^ u64::from(self.incident)
    }

    /// How much this host is worth keeping when the table is full, as one number (the
    /// least is evicted first): how many seconds of its baseline had traffic, then how
    /// many seconds its baseline holds, then its packets over the last second. A spray of
    /// random destinations creates IPs with one record, so at most one second with
    /// traffic: any IP with a learned baseline (even a server seen once every ten
    /// seconds, quiet over the last one) outranks them, as does a restored baseline.
    #[inline]
    pub(super) fn activity(&self) -> u64 {
        let packets = self.window.totals().packets.min(u64::from(u32::MAX));
        u64::from(self.history[0]) << 48 | u64::from(self.history[1]) << 32 | packets
    }

    /// Copies the baseline's counts into [`Host::history`] (after it learned, or was
    /// replaced).
    #[inline]
    pub(super) fn note_history(&mut self) {
        self.history = [
            self.baseline.active() as u16,
            self.baseline.samples() as u16,
        ];
    }

    /// Makes this slot a new host's: fresh window, empty baseline (its arrays are not
    /// cleared: only the samples it holds are ever read).
    pub(super) fn reset(&mut self, ip: IpAddr, now_s: u32) {
        self.window = SlidingWindow::default();
        self.baseline.clear();
        self.ip = ip;
        self.last_seen = now_s;
        self.history = [0; 2];
        self.incident = NONE;
    }

    pub(super) fn new(ip: IpAddr, now_s: u32) -> Self {
        Host {
            window: SlidingWindow::default(),
            baseline: Baseline::default(),
            ip,
            last_seen: now_s,
            history: [0; 2],
            incident: NONE,
        }
    }
}

/// One protected network as a whole.
#[derive(Debug, Clone)]
pub(super) struct Network {
    pub(super) name: String,
    pub(super) window: SlidingWindow,
    pub(super) baseline: Baseline,
    pub(super) breakdown: Breakdown,
    /// The breakdown as it was halved at the last second's close: what arrived since is
    /// the difference (see [`super::history`]).
    pub(super) halved: Breakdown,
    /// The TTLs this network usually receives (outside incidents), for the spoofing
    /// indicator.
    pub(super) ttl_usual: TtlHistogram,
    /// Incident slot of a network-wide incident, or [`NONE`].
    pub(super) incident: u32,
    /// Host incidents open inside the network.
    pub(super) host_incidents: u32,
    /// What it sent outside every protected network since the last second's close
    /// ([`super::history`]).
    pub(super) out: Rate,
}

impl Network {
    pub(super) fn new(name: String) -> Self {
        Network {
            name,
            window: SlidingWindow::default(),
            baseline: Baseline::default(),
            breakdown: Breakdown::default(),
            halved: Breakdown::default(),
            ttl_usual: TtlHistogram::default(),
            incident: NONE,
            host_incidents: 0,
            out: Rate::default(),
        }
    }
}

/// The rate a window shows now: the larger of the last second and twice the last half
/// second. The half-second view is what catches a flood within 0.5 s of its first
/// packet; the one-second view is what is reported once the flood has lasted a second.
pub(super) fn estimate(w: &SlidingWindow) -> Current {
    Current::from_totals(w.totals(), 10).max(Current::from_totals(w.recent(5), 5))
}

/// Teaches a host's or a network's baseline one second of normal traffic, `t` being the
/// totals of the window that has just closed that second.
#[inline]
pub(super) fn learn_second(baseline: &mut Baseline, t: Totals) {
    baseline.learn(Rates {
        pps: t.packets,
        bps: t.bytes.saturating_mul(8),
    });
}
