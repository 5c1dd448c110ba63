//! The RPKI gate: nothing is announced for a victim unless the protected prefix that
//! covers it is RPKI-valid (RFC 6811) for one of our origin ASNs. The mitigation
//! routes themselves (a /32 RTBH, a FlowSpec rule) are more specific than any ROA's
//! maxLength allows and are not checked against it: what is checked is that we are
//! the rightful origin of the space we act for (the RFC 9319 practice).
//!
//! - [`vrps`]: the VRP set and RFC 6811 validation.
//! - [`client`]: RTR sessions (RFC 8210, falling back to RFC 6810 version 0, through
//!   the `rpki` crate) to one or more caches, in order, failing over.
//!
//! Policy: `enforce` refuses, `warn` logs and announces, `off` skips the check. While
//! no cache has given us data (or it expired), `fail: open` announces with a warning
//! and `fail: closed` refuses.

pub mod client;
pub mod vrps;

use crate::clock::Timestamp;
use ipnet::IpNet;
use levee_mitigate::{Gate, GateVerdict};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use vrps::{Validity, Vrps};

/// What to do with an announcement whose covering prefix is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Refuse it.
    Enforce,
    /// Log, count and announce it.
    Warn,
    /// No check.
    Off,
}

/// What to do while no VRPs are available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fail {
    /// Announce (with a warning).
    Open,
    /// Refuse.
    Closed,
}

/// The `rpki` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// RTR caches (`host:port`), tried in order.
    pub caches: Vec<String>,
    /// The gate's policy.
    pub policy: Policy,
    /// Without data.
    pub fail: Fail,
    /// Our origin ASNs.
    pub origins: Vec<u32>,
    /// TCP connect timeout per cache.
    pub connect_timeout: Duration,
}

/// The RTR side as status and /metrics show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Status {
    /// Where the RTR session stands.
    pub state: RtrState,
    /// The cache in use (or being tried).
    pub cache: Option<String>,
    /// VRPs held.
    pub vrps: usize,
    /// Updates applied (resets and serials).
    pub updates: u64,
    /// Sessions that ended or could not start.
    pub failures: u64,
    /// When the data was last refreshed (µs since the epoch).
    pub last_update_us: Option<u64>,
    /// The cache's expire interval (s), from its End of Data.
    pub expire_s: u64,
    /// The last session error.
    pub last_error: Option<String>,
}

/// The RTR session's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RtrState {
    /// Connecting to a cache, or waiting for its first End of Data.
    #[default]
    Connecting,
    /// Data complete and current.
    Synced,
    /// No cache reachable.
    Down,
}

impl RtrState {
    /// Every state, for gauges.
    pub const ALL: [RtrState; 3] = [RtrState::Connecting, RtrState::Synced, RtrState::Down];

    /// `connecting`, `synced` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            RtrState::Connecting => "connecting",
            RtrState::Synced => "synced",
            RtrState::Down => "down",
        }
    }
}

/// Shared between the RTR task and the gate.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) vrps: RwLock<Vrps>,
    pub(crate) status: Mutex<Status>,
}

impl Shared {
    /// Whether the data may be used: some arrived, and it has not expired.
    fn available(&self, now_us: u64) -> bool {
        let s = self.status.lock().map(|s| s.clone()).unwrap_or_default();
        match s.last_update_us {
            None => false,
            Some(t) => {
                s.state == RtrState::Synced
                    || Timestamp::from_micros(now_us).since(Timestamp::from_micros(t))
                        < Duration::from_secs(s.expire_s)
            }
        }
    }
}

/// The running RTR client with its gate.
#[derive(Debug)]
pub struct Rpki {
    settings: Settings,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Rpki {
    /// Starts the RTR sessions.
    pub fn start(settings: Settings) -> Rpki {
        let shared = Arc::new(Shared::default());
        if let Ok(mut s) = shared.status.lock() {
            s.state = RtrState::Connecting;
        }
        let task = tokio::spawn(client::run(settings.clone(), shared.clone()));
        Rpki {
            settings,
            shared,
            task,
        }
    }

    /// Its settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// A reader of the status.
    pub fn status(&self) -> StatusReader {
        StatusReader(self.shared.clone())
    }

    /// The gate for the mitigation engine (`None` with policy `off`).
    pub fn gate(&self) -> Option<Arc<dyn Gate>> {
        (self.settings.policy != Policy::Off).then(|| {
            Arc::new(RpkiGate {
                settings: self.settings.clone(),
                shared: self.shared.clone(),
            }) as Arc<dyn Gate>
        })
    }

    /// Ends the sessions.
    pub fn stop(self) {
        self.task.abort();
    }
}

/// Reads the RTR status (for `levee mitigate list` and /metrics).
#[derive(Debug, Clone)]
pub struct StatusReader(Arc<Shared>);

impl StatusReader {
    /// The current status.
    pub fn get(&self) -> Status {
        self.0.status.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

#[derive(Debug)]
struct RpkiGate {
    settings: Settings,
    shared: Arc<Shared>,
}

impl Gate for RpkiGate {
    fn check(&self, now_us: u64, covering: &[IpNet]) -> GateVerdict {
        let fail = |why: String| match self.settings.policy {
            Policy::Enforce => GateVerdict::Refuse(why),
            _ => GateVerdict::Warn(why),
        };
        if !self.shared.available(now_us) {
            return match self.settings.fail {
                Fail::Open => GateVerdict::Warn("no RPKI data from any cache: failing open".into()),
                Fail::Closed => {
                    GateVerdict::Refuse("no RPKI data from any cache: failing closed".into())
                }
            };
        }
        let Ok(vrps) = self.shared.vrps.read() else {
            return fail("the VRP set is unreadable".into());
        };
        for p in covering {
            let states: Vec<Validity> = self
                .settings
                .origins
                .iter()
                .map(|&asn| vrps.validate(p.addr(), p.prefix_len(), asn))
                .collect();
            if !states.contains(&Validity::Valid) {
                let state = if states.contains(&Validity::Invalid) {
                    Validity::Invalid
                } else {
                    Validity::NotFound
                };
                let asns: Vec<String> = self
                    .settings
                    .origins
                    .iter()
                    .map(|a| format!("AS{a}"))
                    .collect();
                return fail(format!("{p} is RPKI {state} for {}", asns.join(", ")));
            }
        }
        GateVerdict::Allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vrps::Vrp;

    fn gate(policy: Policy, fail: Fail) -> (RpkiGate, Arc<Shared>) {
        let shared = Arc::new(Shared::default());
        let g = RpkiGate {
            settings: Settings {
                caches: vec!["192.0.2.10:3323".into()],
                policy,
                fail,
                origins: vec![64500, 64501],
                connect_timeout: Duration::from_secs(1),
            },
            shared: shared.clone(),
        };
        (g, shared)
    }

    fn synced(shared: &Shared, now: u64) {
        let mut v = shared.vrps.write().unwrap();
        v.insert(Vrp {
            addr: "192.0.2.0".parse().unwrap(),
            len: 24,
            max_len: 24,
            asn: 64501,
        });
        v.insert(Vrp {
            addr: "198.51.100.0".parse().unwrap(),
            len: 24,
            max_len: 24,
            asn: 65000,
        });
        let mut s = shared.status.lock().unwrap();
        s.state = RtrState::Synced;
        s.last_update_us = Some(now);
        s.expire_s = 7200;
    }

    fn p(s: &str) -> Vec<IpNet> {
        vec![s.parse().unwrap()]
    }

    #[test]
    fn policies_and_failure_modes() {
        let (g, shared) = gate(Policy::Enforce, Fail::Closed);
        assert!(
            matches!(g.check(0, &p("192.0.2.0/24")), GateVerdict::Refuse(w) if w.contains("failing closed"))
        );
        let (open, open_shared) = gate(Policy::Enforce, Fail::Open);
        assert!(
            matches!(open.check(0, &p("192.0.2.0/24")), GateVerdict::Warn(w) if w.contains("failing open"))
        );
        synced(&shared, 1);
        synced(&open_shared, 1);
        // Valid for one of the origins.
        assert_eq!(g.check(2, &p("192.0.2.0/24")), GateVerdict::Allow);
        assert_eq!(
            g.check(2, &p("198.51.100.0/24")),
            GateVerdict::Refuse("198.51.100.0/24 is RPKI invalid for AS64500, AS64501".into())
        );
        assert_eq!(
            g.check(2, &p("203.0.113.0/24")),
            GateVerdict::Refuse("203.0.113.0/24 is RPKI not-found for AS64500, AS64501".into())
        );
        let (w, wshared) = gate(Policy::Warn, Fail::Closed);
        synced(&wshared, 1);
        assert!(matches!(
            w.check(2, &p("203.0.113.0/24")),
            GateVerdict::Warn(_)
        ));
        // The session drops: the data is used until it expires, then the failure mode.
        shared.status.lock().unwrap().state = RtrState::Down;
        assert_eq!(
            g.check(7_000 * 1_000_000, &p("192.0.2.0/24")),
            GateVerdict::Allow
        );
        assert!(matches!(
            g.check(7_300 * 1_000_000, &p("192.0.2.0/24")),
            GateVerdict::Refuse(_)
        ));
    }
}
