//! The audit log's hash chain: each entry's hash covers the previous entry's hash and
//! its own fields, so changing, inserting or removing an entry anywhere but at the very
//! end breaks every later link.
//!
//! What the chain anchors, and how:
//!
//! - **Mitigation rows.** An entry that changes a row of `mitigations` (announce,
//!   withdraw, extend, and `adopt` for rows written before rows were chained) carries
//!   the row's `state`: SHA-256 over every column of the row as it was left (see
//!   [`super::rows`]). The state is part of the entry's hash, so `verify` recomputes
//!   each current row and compares it with the state of the last entry about it: an
//!   edited, inserted or deleted row is caught (the table levee re-announces from at
//!   start is inside the chain).
//! - **The head.** A chain rewritten from an edited entry onwards, or cut short, is
//!   again a valid chain; what catches it is an anchor taken earlier: the head hash and
//!   entry count, which the daemon logs after every batch of entries and shows in
//!   `levee mitigate list --json` (`audit`) and `/metrics`
//!   (`levee_audit_entries_total`, `levee_audit_head_info`).
//!   `levee audit verify --expect-head HASH [--expect-entries N]` checks that entry N
//!   (or some entry) still has that hash.
//! - **A key.** With `store.audit_hmac_key_file`, entries are HMAC-SHA256 under that
//!   key instead of plain SHA-256 (`keyed` is stored per entry, since a chain may
//!   predate the key). Verifying with the key refuses a chain whose head is not keyed
//!   and an unkeyed entry after a keyed one, so without the key nobody can rewrite the
//!   chain and have it verify.

use crate::human::hex;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who acted: the first field of every audit entry written. The chain hashes the name
/// as stored, so a named actor verifies as any other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The daemon itself (start, stop).
    Levee,
    /// An operator (the control socket, a config reload).
    Operator,
    /// The detection engine's incidents.
    Detector,
    /// A route's TTL ran out.
    Expiry,
    /// A person or a token through the web API, by the name the auth database gives
    /// it: `user:<name>` or `token:<name>`.
    Named(std::sync::Arc<str>),
}

impl Actor {
    /// Its name in the log.
    pub fn as_str(&self) -> &str {
        match self {
            Actor::Levee => "levee",
            Actor::Operator => "operator",
            Actor::Detector => "detector",
            Actor::Expiry => "expiry",
            Actor::Named(n) => n,
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
    /// A route's stored expiry moved (coalesced: at most one a minute per route).
    Extend,
    /// Who holds a route changed (the route itself did not).
    Hold,
    /// A mitigation row written before rows were chained, taken into the chain.
    Adopt,
    /// The daemon started on a broken chain because the operator said so.
    AcceptBroken,
    /// A note was added to an incident.
    Note,
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
            Action::Extend => "extend",
            Action::Hold => "hold",
            Action::Adopt => "adopt",
            Action::AcceptBroken => "accept_broken",
            Action::Note => "note",
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
    /// The digest of the mitigation row this entry left (empty: it changed none).
    pub state: String,
    /// Hashed with the HMAC key.
    pub keyed: bool,
}

/// The HMAC key of the chain (never printed).
#[derive(Clone, PartialEq, Eq)]
pub struct Key(pub Vec<u8>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({} bytes)", self.0.len())
    }
}

/// Shortest key accepted (HMAC-SHA256 wants 32 random bytes).
pub const MIN_KEY: usize = 16;

/// Something that takes the length-prefixed fields of an entry.
trait Sink {
    fn put(&mut self, b: &[u8]);
}

impl Sink for Sha256 {
    fn put(&mut self, b: &[u8]) {
        self.update((b.len() as u64).to_be_bytes());
        self.update(b);
    }
}

impl Sink for Hmac<Sha256> {
    fn put(&mut self, b: &[u8]) {
        self.update(&(b.len() as u64).to_be_bytes());
        self.update(b);
    }
}

impl Entry {
    /// The entry's hash given the previous one's: SHA-256 (or, for a keyed entry,
    /// HMAC-SHA256 under `key`) over the previous hash and each field, every field
    /// prefixed by its length so no two entries encode alike. The state is a field
    /// only when there is one, so entries written before it existed keep their hashes.
    /// `None` for a keyed entry without a key.
    pub fn hash(&self, prev: &str, key: Option<&Key>) -> Option<String> {
        if self.keyed {
            let mut mac = Hmac::<Sha256>::new_from_slice(&key?.0).ok()?;
            self.feed(prev, &mut mac);
            Some(hex(&mac.finalize().into_bytes()))
        } else {
            let mut h = Sha256::new();
            self.feed(prev, &mut h);
            Some(hex(&h.finalize()))
        }
    }

    fn feed(&self, prev: &str, h: &mut impl Sink) {
        h.put(prev.as_bytes());
        h.put(&self.seq.to_be_bytes());
        h.put(&self.time_us.to_be_bytes());
        h.put(self.actor.as_bytes());
        h.put(self.action.as_bytes());
        h.put(self.subject.as_bytes());
        h.put(self.detail.as_bytes());
        if !self.state.is_empty() {
            h.put(self.state.as_bytes());
        }
    }
}

/// What a walk of the chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every link holds (and, from [`super::Store::verify`], every mitigation row is
    /// the state its last entry recorded).
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
    /// The chain holds but a mitigation row is not what it recorded.
    RowEdited {
        /// The mitigation's id.
        id: u64,
        /// How.
        why: String,
    },
}

impl Verdict {
    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Verdict::Intact { entries, head } => format!("intact, {entries} entries, head {head}"),
            Verdict::Broken { seq, why } => format!("BROKEN at entry {seq}: {why}"),
            Verdict::RowEdited { id, why } => format!("BROKEN: mitigation {id}: {why}"),
        }
    }
}

/// Checks stored entries (in `seq` order, with their stored `prev` and `hash`); keyed
/// entries need `key`. With a key, the head must be keyed and no unkeyed entry may
/// follow a keyed one (see the module overview).
pub fn verify(
    rows: impl IntoIterator<Item = (Entry, String, String)>,
    key: Option<&Key>,
) -> Verdict {
    let mut prev = GENESIS.to_string();
    let mut n = 0u64;
    let mut keyed_seen = false;
    for (e, stored_prev, stored_hash) in rows {
        n += 1;
        let broken = |why: String| Verdict::Broken { seq: e.seq, why };
        if e.seq != n {
            return broken(format!("entry {n} is missing (found {} next)", e.seq));
        }
        if stored_prev != prev {
            return broken("its link to the previous entry does not match".into());
        }
        if e.keyed && key.is_none() {
            return broken(
                "it is keyed (HMAC): give the key (store.audit_hmac_key_file) to verify".into(),
            );
        }
        if key.is_some() && keyed_seen && !e.keyed {
            return broken("an unkeyed entry after keyed ones".into());
        }
        keyed_seen |= e.keyed;
        match e.hash(&prev, key) {
            Some(h) if h == stored_hash => prev = h,
            _ => return broken("its contents do not match its hash".into()),
        }
    }
    if key.is_some() && n > 0 && !keyed_seen {
        return Verdict::Broken {
            seq: n,
            why: "a key was given but no entry is keyed: the chain was not written with it".into(),
        };
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
            state: String::new(),
            keyed: false,
        }
    }

    fn chain(n: u64) -> Vec<(Entry, String, String)> {
        keyed_chain(n, None)
    }

    fn keyed_chain(n: u64, key: Option<&Key>) -> Vec<(Entry, String, String)> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|i| {
                let e = Entry {
                    keyed: key.is_some(),
                    ..entry(i, "route 192.0.2.1/32")
                };
                let h = e.hash(&prev, key).unwrap();
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
        let Verdict::Intact { entries, head } = verify(rows.clone(), None) else {
            panic!()
        };
        assert_eq!((entries, head), (5, rows[4].2.clone()));
        let mut edited = rows.clone();
        edited[2].0.detail = "route 192.0.2.2/32".into();
        assert!(matches!(
            verify(edited, None),
            Verdict::Broken { seq: 3, .. }
        ));
        let mut dropped = rows.clone();
        dropped.remove(1);
        assert!(matches!(
            verify(dropped, None),
            Verdict::Broken { seq: 3, .. }
        ));
        // Re-hashing the edited entry is caught at the next link.
        let mut rehashed = rows.clone();
        rehashed[2].0.detail = "x".into();
        rehashed[2].2 = rehashed[2].0.hash(&rehashed[2].1, None).unwrap();
        assert!(matches!(
            verify(rehashed, None),
            Verdict::Broken { seq: 4, .. }
        ));
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
        assert_ne!(a.hash(GENESIS, None), b.hash(GENESIS, None));
    }

    #[test]
    fn the_row_state_is_part_of_the_hash_and_old_entries_keep_theirs() {
        let plain = entry(1, "x");
        let with_state = Entry {
            state: "ab".into(),
            ..entry(1, "x")
        };
        assert_ne!(plain.hash(GENESIS, None), with_state.hash(GENESIS, None));
        // An entry without a state hashes as levee wrote it before states existed:
        // SHA-256 over the length-prefixed fields, computed here independently.
        let mut h = Sha256::new();
        for f in [
            GENESIS.as_bytes(),
            &1u64.to_be_bytes(),
            &10u64.to_be_bytes(),
            b"detector",
            b"announce",
            b"1",
            b"x",
        ] {
            h.update((f.len() as u64).to_be_bytes());
            h.update(f);
        }
        assert_eq!(plain.hash(GENESIS, None).unwrap(), hex(&h.finalize()));
    }

    #[test]
    fn a_keyed_chain_cannot_be_rewritten_without_the_key() {
        let key = Key(b"0123456789abcdef0123456789abcdef".to_vec());
        let rows = keyed_chain(4, Some(&key));
        assert!(matches!(
            verify(rows.clone(), Some(&key)),
            Verdict::Intact { entries: 4, .. }
        ));
        // Without the key it cannot be checked, and says so.
        let Verdict::Broken { seq: 1, why } = verify(rows.clone(), None) else {
            panic!()
        };
        assert!(why.contains("give the key"), "{why}");
        // A wrong key fails at the first entry.
        let wrong = Key(b"another key of thirty-two bytes!".to_vec());
        assert!(matches!(
            verify(rows.clone(), Some(&wrong)),
            Verdict::Broken { seq: 1, .. }
        ));
        // Rewritten from entry 3 without the key: unkeyed SHA-256 links.
        let mut forged = rows.clone();
        let mut prev = forged[1].2.clone();
        for r in &mut forged[2..] {
            r.0.keyed = false;
            r.0.detail = "route 192.0.2.99/32".into();
            r.1 = prev.clone();
            r.2 = r.0.hash(&prev, None).unwrap();
            prev = r.2.clone();
        }
        assert!(matches!(
            verify(forged, Some(&key)),
            Verdict::Broken { seq: 3, .. }
        ));
        // Wholly rewritten unkeyed: no keyed entry at all.
        assert!(matches!(
            verify(chain(4), Some(&key)),
            Verdict::Broken { seq: 4, .. }
        ));
        // An unkeyed prefix (before the key was configured) is fine.
        let mut mixed = chain(2);
        let mut prev = mixed[1].2.clone();
        for i in 3..=4 {
            let e = Entry {
                keyed: true,
                ..entry(i, "y")
            };
            let h = e.hash(&prev, Some(&key)).unwrap();
            mixed.push((e, prev.clone(), h.clone()));
            prev = h;
        }
        assert!(matches!(
            verify(mixed, Some(&key)),
            Verdict::Intact { entries: 4, .. }
        ));
    }
}
