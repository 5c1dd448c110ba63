//! What the mitigation service answers: typed snapshots of its state (active
//! mitigations with each adapter's result, the adapters, the engine's counters, the
//! RTR session) and of its answers to operator requests. JSON is made of these only at
//! the edges: the control socket, `/metrics` reads them as they are, and
//! `levee mitigate list` parses the socket's JSON back into them.

use serde::{Deserialize, Serialize};

/// The answer to an operator request: `Ok`, or the reason it was refused.
pub type Reply = Result<Answer, String>;

/// A request's successful answer (on the control socket, its fields beside `"ok": true`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// The mitigations a request added or withdrew.
    Ids {
        /// Their ids.
        ids: Vec<u64>,
    },
    /// `list`: the whole state.
    Status(Box<Status>),
    /// Done, nothing to report (a reload).
    Done {},
}

/// The mitigation service's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// Active mitigations.
    pub mitigations: Vec<MitigationView>,
    /// Every adapter.
    pub adapters: Vec<AdapterView>,
    /// Monitor mode: decisions are logged and stored, nothing is announced.
    pub dry_run: bool,
    /// The engine's counters, and the store's write failures.
    pub counters: Counters,
    /// The RTR session, with an `rpki` section.
    pub rpki: Option<RtrView>,
}

/// One active mitigation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MitigationView {
    /// Its id.
    pub id: u64,
    /// The route, as text.
    pub route: String,
    /// The victim: an address, or a network's name.
    pub victim: String,
    /// The route's destination prefix.
    pub destination: Option<String>,
    /// The protected network.
    pub network: String,
    /// The escalation level that announced it (none: given as a route by an operator).
    pub level: Option<u8>,
    /// The levels it belongs to for routing (`l1`..`l4`): its level, or for a text
    /// route the levels of its kind.
    pub levels: Vec<String>,
    /// `auto` or `manual`.
    pub origin: String,
    /// The incident that caused it.
    pub incident: Option<u64>,
    /// Created (µs since the epoch).
    pub created_us: u64,
    /// Expires (µs since the epoch).
    pub expires_us: u64,
    /// Decided in dry run.
    pub dry_run: bool,
    /// Each adapter's result.
    pub adapters: Vec<AdapterResultView>,
}

/// What one adapter did with one mitigation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdapterResultView {
    /// The adapter.
    pub adapter: String,
    /// `applied`, `withdrawn` or `failed`.
    pub state: String,
    /// Reports so far.
    pub attempts: u64,
    /// The last failure.
    pub error: Option<String>,
}

/// One adapter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdapterView {
    /// Its name.
    pub name: String,
    /// The levels it carries.
    pub levels: String,
    /// Routes it should hold.
    pub desired: usize,
    /// Changes not yet confirmed.
    pub pending: usize,
    /// Successful applies.
    pub applied: u64,
    /// Failed applies.
    pub failures: u64,
    /// Completed reconciliations.
    pub reconciled: u64,
    /// The last failure, while failing.
    pub last_error: Option<String>,
    /// The backend's own account of itself.
    pub backend: String,
}

impl AdapterView {
    /// `failing` while it has an error, `pending` while changes wait, else `ok`.
    pub fn state(&self) -> &'static str {
        if self.last_error.is_some() {
            "failing"
        } else if self.pending > 0 {
            "pending"
        } else {
            "ok"
        }
    }
}

/// The engine's counters, and the store's failed writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Routes announced.
    pub announced: u64,
    /// Routes withdrawn (any reason).
    pub withdrawn: u64,
    /// Of which by TTL expiry.
    pub expired: u64,
    /// Requests for a route already active.
    pub deduplicated: u64,
    /// Escalations.
    pub escalations: u64,
    /// De-escalations.
    pub deescalations: u64,
    /// Refused: safelisted victims.
    pub safelisted: u64,
    /// Refused: cooldown.
    pub cooldown: u64,
    /// Refused: caps.
    pub capped: u64,
    /// Refused: outside the protected networks.
    pub not_protected: u64,
    /// Refused by the RPKI gate.
    pub rpki_refused: u64,
    /// Let through by the RPKI gate with a warning.
    pub rpki_warned: u64,
    /// Store writes that failed.
    pub store_errors: u64,
}

impl Counters {
    /// The engine's counters with the store's failures.
    pub fn new(c: &levee_mitigate::engine::Counters, store_errors: u64) -> Counters {
        Counters {
            announced: c.announced,
            withdrawn: c.withdrawn,
            expired: c.expired,
            deduplicated: c.deduplicated,
            escalations: c.escalations,
            deescalations: c.deescalations,
            safelisted: c.safelisted,
            cooldown: c.cooldown,
            capped: c.capped,
            not_protected: c.not_protected,
            rpki_refused: c.rpki_refused,
            rpki_warned: c.rpki_warned,
            store_errors,
        }
    }

    /// Each counter by name, in alphabetical order (the `kind` label of
    /// `levee_mitigation_events_total`).
    pub fn named(&self) -> [(&'static str, u64); 13] {
        [
            ("announced", self.announced),
            ("capped", self.capped),
            ("cooldown", self.cooldown),
            ("deduplicated", self.deduplicated),
            ("deescalations", self.deescalations),
            ("escalations", self.escalations),
            ("expired", self.expired),
            ("not_protected", self.not_protected),
            ("rpki_refused", self.rpki_refused),
            ("rpki_warned", self.rpki_warned),
            ("safelisted", self.safelisted),
            ("store_errors", self.store_errors),
            ("withdrawn", self.withdrawn),
        ]
    }
}

/// The RTR session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RtrView {
    /// `connecting`, `synced` or `down`.
    pub state: String,
    /// The cache in use (or being tried).
    pub cache: Option<String>,
    /// VRPs held.
    pub vrps: usize,
    /// Updates applied.
    pub updates: u64,
    /// Sessions that ended or could not start.
    pub failures: u64,
    /// The last session error.
    pub last_error: Option<String>,
}

impl From<&crate::rpki::Status> for RtrView {
    fn from(s: &crate::rpki::Status) -> RtrView {
        RtrView {
            state: s.state.as_str().to_string(),
            cache: s.cache.clone(),
            vrps: s.vrps,
            updates: s.updates,
            failures: s.failures,
            last_error: s.last_error.clone(),
        }
    }
}

impl From<&crate::adapters::AdapterStatus> for AdapterView {
    fn from(s: &crate::adapters::AdapterStatus) -> AdapterView {
        AdapterView {
            name: s.name.clone(),
            levels: s.levels.to_string(),
            desired: s.desired,
            pending: s.pending,
            applied: s.applied,
            failures: s.failures,
            reconciled: s.reconciled,
            last_error: s.last_error.clone(),
            backend: s.backend.clone(),
        }
    }
}
