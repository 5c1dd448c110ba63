//! The state kept per tracked destination IP, and per protected network.

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
    pub(super) ip: IpAddr,
    /// Only read once a second, and when a rate is high.
    pub(super) baseline: Baseline,
}

impl Host {
    /// Reads one word from each hot cache line, to bring them in.
    pub(super) fn touch(&self) -> u64 {
        self.window.touch() ^ u64::from(self.incident)
    }

    pub(super) fn new(ip: IpAddr, now_s: u32) -> Self {
        Host {
            window: SlidingWindow::default(),
            baseline: Baseline::default(),
            ip,
            last_seen: now_s,
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
    /// The TTLs this network usually receives (outside incidents), for the spoofing
    /// indicator.
    pub(super) ttl_usual: TtlHistogram,
    /// Incident slot of a network-wide incident, or [`NONE`].
    pub(super) incident: u32,
    /// Host incidents open inside the network.
    pub(super) host_incidents: u32,
}

impl Network {
    pub(super) fn new(name: String) -> Self {
        Network {
            name,
            window: SlidingWindow::default(),
            baseline: Baseline::default(),
            breakdown: Breakdown::default(),
            ttl_usual: TtlHistogram::default(),
            incident: NONE,
            host_incidents: 0,
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
