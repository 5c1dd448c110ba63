//! The audit log's hash chain: each entry's hash covers the previous entry's hash and
//! its own fields, so changing, inserting or removing an entry anywhere but at the very
//! end breaks every later link. `levee audit verify` walks the chain; the head hash it
//! prints can be kept elsewhere to catch a cut-off tail too.

use crate::human::hex;
use sha2::{Digest, Sha256};

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who acted: the first field of every audit entry written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The daemon itself (start, stop).
    Levee,
    /// An operator (the control socket, a config reload).
    Operator,
    /// The detection engine's incidents.
    Detector,
    /// A route's TTL ran out.
    Expiry,
}

impl Actor {
    /// Its name in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Levee => "levee",
            Actor::Operator => "operator",
            Actor::Detector => "detector",
            Actor::Expiry => "expiry",
        }
    }
}

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The daemon started (mitigations restored).
    Start,
    /// The daemon stopped.
    Stop,
    /// A route announced...
    Announce,
    /// ...or decided on in dry run.
    AnnounceDryRun,
    /// A route withdrawn...
    Withdraw,
    /// ...or its withdrawal decided on in dry run.
    WithdrawDryRun,
    /// A target changed level.
    Level,
    /// The engine decided not to act on an incident.
    Refuse,
    /// An operator's request was refused.
    Refused,
    /// The config was reloaded.
    Reload,
}

impl Action {
    /// Its name in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Announce => "announce",
            Action::AnnounceDryRun => "announce_dry_run",
            Action::Withdraw => "withdraw",
            Action::WithdrawDryRun => "withdraw_dry_run",
            Action::Level => "level",
            Action::Refuse => "refuse",
            Action::Refused => "refused",
            Action::Reload => "reload",
        }
    }
}

/// One audit entry, as stored (entries written by older versions keep their text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// When (µs since the Unix epoch).
    pub time_us: u64,
    /// Who: an [`Actor`]'s name.
    pub actor: String,
    /// What: an [`Action`]'s name.
    pub action: String,
    /// On what: a mitigation id, a victim.
    pub subject: String,
    /// The details (a route, a reason), as text.
    pub detail: String,
}

impl Entry {
    /// The entry's hash given the previous one's: SHA-256 over the previous hash and
    /// each field, every field prefixed by its length so no two entries encode alike.
    pub fn hash(&self, prev: &str) -> String {
        let mut h = Sha256::new();
        let mut field = |b: &[u8]| {
            h.update((b.len() as u64).to_be_bytes());
            h.update(b);
        };
        field(prev.as_bytes());
        field(&self.seq.to_be_bytes());
        field(&self.time_us.to_be_bytes());
        field(self.actor.as_bytes());
        field(self.action.as_bytes());
        field(self.subject.as_bytes());
        field(self.detail.as_bytes());
        hex(&h.finalize())
    }
}

/// What a walk of the chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every link holds.
    Intact {
        /// Entries checked.
        entries: u64,
        /// The last entry's hash.
        head: String,
    },
    /// The chain breaks at `seq`.
    Broken {
        /// The first entry that does not hold.
        seq: u64,
        /// How.
        why: String,
    },
}

/// Checks stored entries (in `seq` order, with their stored `prev` and `hash`).
pub fn verify(rows: impl IntoIterator<Item = (Entry, String, String)>) -> Verdict {
    let mut prev = GENESIS.to_string();
    let mut n = 0u64;
    for (e, stored_prev, stored_hash) in rows {
        n += 1;
        if e.seq != n {
            return Verdict::Broken {
                seq: e.seq,
                why: format!("entry {n} is missing (found {} next)", e.seq),
            };
        }
        if stored_prev != prev {
            return Verdict::Broken {
                seq: e.seq,
                why: "its link to the previous entry does not match".into(),
            };
        }
        let h = e.hash(&prev);
        if h != stored_hash {
            return Verdict::Broken {
                seq: e.seq,
                why: "its contents do not match its hash".into(),
            };
        }
        prev = h;
    }
    Verdict::Intact {
        entries: n,
        head: prev,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, detail: &str) -> Entry {
        Entry {
            seq,
            time_us: seq * 10,
            actor: "detector".into(),
            action: "announce".into(),
            subject: format!("{seq}"),
            detail: detail.into(),
        }
    }

    fn chain(n: u64) -> Vec<(Entry, String, String)> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|i| {
                let e = entry(i, "route 192.0.2.1/32");
                let h = e.hash(&prev);
                let row = (e, prev.clone(), h.clone());
                prev = h;
                row
            })
            .collect()
    }

    #[test]
    fn sha256_of_a_known_input() {
        // Independent check of the hashing: SHA-256("abc") from FIPS 180-2.
        assert_eq!(
            hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn intact_and_every_kind_of_tampering() {
        let rows = chain(5);
        let Verdict::Intact { entries, head } = verify(rows.clone()) else {
            panic!()
        };
        assert_eq!((entries, head), (5, rows[4].2.clone()));
        let mut edited = rows.clone();
        edited[2].0.detail = "route 192.0.2.2/32".into();
        assert!(matches!(verify(edited), Verdict::Broken { seq: 3, .. }));
        let mut dropped = rows.clone();
        dropped.remove(1);
        assert!(matches!(verify(dropped), Verdict::Broken { seq: 3, .. }));
        // Re-hashing the edited entry is caught at the next link.
        let mut rehashed = rows.clone();
        rehashed[2].0.detail = "x".into();
        rehashed[2].2 = rehashed[2].0.hash(&rehashed[2].1);
        assert!(matches!(verify(rehashed), Verdict::Broken { seq: 4, .. }));
        // Moving bytes between fields changes the hash.
        let a = Entry {
            actor: "ab".into(),
            action: "c".into(),
            ..entry(1, "")
        };
        let b = Entry {
            actor: "a".into(),
            action: "bc".into(),
            ..entry(1, "")
        };
        assert_ne!(a.hash(GENESIS), b.hash(GENESIS));
    }
}
