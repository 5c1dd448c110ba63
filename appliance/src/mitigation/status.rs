//! What the mitigation service answers: typed snapshots of its state (active
//! mitigations with each adapter's result, the adapters, the engine's counters, the
//! RTR session) and of its answers to operator requests. JSON is made of these only at
//! the edges: the control socket, `/metrics` reads them as they are, and
//! `levee mitigate list` parses the socket's JSON back into them.

use crate::adapters::AdapterStatus;
use crate::store::AdapterResult;
use levee_mitigate::Origin;
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
    /// A reload: what changed and was applied, one line each.
    Changes {
        /// What was applied.
        changes: Vec<String>,
        /// What changed and could not be applied before a restart.
        restart: Vec<String>,
    },
}

/// The mitigation service's state. Keys a daemon of another version does not send
/// take their defaults, so `levee mitigate list` reads a daemon older than itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Status {
    /// Active mitigations.
    pub mitigations: Vec<MitigationView>,
    /// Every adapter.
    pub adapters: Vec<AdapterStatus>,
    /// Monitor mode: decisions are logged and stored, nothing is announced.
    pub dry_run: bool,
    /// The engine's counters, and the store's write failures.
    pub counters: Counters,
    /// The RTR session, with an `rpki` section.
    pub rpki: Option<crate::rpki::Status>,
    /// The audit chain's head and entry count after the last batch of entries: an
    /// anchor for `levee audit verify --expect-head HASH --expect-entries N`.
    pub audit: crate::store::Anchor,
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
    #[serde(default)]
    pub levels: Vec<String>,
    /// From an incident (`auto`) or an operator (`manual`).
    pub origin: Origin,
    /// The incident that caused it.
    pub incident: Option<u64>,
    /// Created (µs since the epoch).
    pub created_us: u64,
    /// Expires (µs since the epoch).
    pub expires_us: u64,
    /// Decided in dry run.
    pub dry_run: bool,
    /// Each adapter's result.
    pub adapters: Vec<AdapterResult>,
}

/// The engine's counters, and the store's failed writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// The engine's.
    #[serde(flatten)]
    pub engine: levee_mitigate::engine::Counters,
    /// Store writes that failed.
    pub store_errors: u64,
}

impl Counters {
    /// Each counter by name, in alphabetical order (the `kind` label of
    /// `levee_mitigation_events_total`): the names they have in the JSON.
    pub fn named(&self) -> Vec<(String, u64)> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(m)) => m
                .into_iter()
                .map(|(k, v)| (k, v.as_u64().unwrap_or(0)))
                .collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use levee_mitigate::{Level, Levels};

    /// The control socket's JSON is what `levee mitigate list` parses back: the same
    /// status, with the keys operators script against.
    #[test]
    fn status_survives_the_control_socket() {
        let mut adapter = AdapterStatus {
            name: "gobgp".into(),
            levels: Levels::of(Level::L1).with(Level::L3),
            pending: 2,
            ..AdapterStatus::default()
        };
        let mut st = Status {
            adapters: vec![adapter.clone()],
            dry_run: true,
            rpki: Some(crate::rpki::Status {
                state: crate::rpki::RtrState::Synced,
                vrps: 7,
                ..crate::rpki::Status::default()
            }),
            ..Status::default()
        };
        st.counters.engine.announced = 3;
        st.counters.store_errors = 1;
        let json = serde_json::to_value(&st).unwrap();
        assert_eq!(json["adapters"][0]["levels"], "l1, l3");
        assert_eq!(json["counters"]["announced"], 3);
        assert_eq!(json["counters"]["store_errors"], 1);
        assert_eq!(json["rpki"]["state"], "synced");
        let back: Status = serde_json::from_value(json).unwrap();
        assert_eq!(back, st);
        assert_eq!(adapter.state(), "pending");
        adapter.last_error = Some("down".into());
        assert_eq!(adapter.state(), "failing");
        let none: Result<Levels, _> = serde_json::from_str("\"l5\"");
        assert!(none.is_err());
        assert_eq!(
            serde_json::from_str::<Levels>("\"none\"").unwrap(),
            Levels::NONE
        );
    }
}
