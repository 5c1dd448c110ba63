//! What the mitigation engine decides about: mitigations and their holders, its
//! outputs, the reasons it refuses, its counters, and the [`Gate`] every announcement
//! passes first.

use super::settings::Level;
use super::signature::Target;
use ipnet::IpNet;
use levee_bgp::rib::RouteText;
use std::collections::BTreeSet;

/// A mitigation's id (unique across restarts: the store hands out the first one).
pub type Id = u64;

/// Who keeps a route announced. A route goes when its last holder lets go of it or its
/// TTL runs out.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Holder {
    /// The escalation of an attacked target.
    Auto(Target),
    /// An operator (`levee mitigate add`).
    Manual,
}

/// Where a mitigation came from (`auto`, `manual` in the store and the JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// The detection engine's incident.
    Auto,
    /// An operator.
    Manual,
}

impl Origin {
    /// Name in logs, the store and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Auto => "auto",
            Origin::Manual => "manual",
        }
    }
}

/// One announced route and its lifecycle.
#[derive(Debug, Clone, PartialEq)]
pub struct Mitigation {
    /// Id.
    pub id: Id,
    /// The route.
    pub route: RouteText,
    /// The victim: an address, a network's name, or a manual route's destination.
    pub victim: String,
    /// The protected network it is in.
    pub network: String,
    /// The escalation level it belongs to (`None`: a manual route given as text).
    pub level: Option<Level>,
    /// Who asked first.
    pub origin: Origin,
    /// The incident that led to it.
    pub incident: Option<u64>,
    /// When it was created (µs since the Unix epoch).
    pub created_us: u64,
    /// When it expires unless extended.
    pub expires_us: u64,
    /// Monitor mode: decided, never announced.
    pub dry_run: bool,
    /// Who keeps it.
    pub holders: BTreeSet<Holder>,
}

/// Why a route was withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithdrawReason {
    /// Its TTL ran out after the attack ended.
    Expired,
    /// An operator withdrew it.
    Manual,
    /// Replaced by a higher level's routes.
    Escalated,
    /// Replaced by a lower level's routes.
    Deescalated,
    /// The attack's classification changed; replaced by routes for the new one.
    Reclassified,
    /// The safelist (changed by a reload, or while levee was down) holds an address
    /// the route covers.
    Safelisted,
    /// The route's destination is no longer inside a protected network (the config
    /// changed).
    Unprotected,
}

impl WithdrawReason {
    /// Name in logs and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            WithdrawReason::Expired => "expired",
            WithdrawReason::Manual => "manual",
            WithdrawReason::Escalated => "escalated",
            WithdrawReason::Deescalated => "deescalated",
            WithdrawReason::Reclassified => "reclassified",
            WithdrawReason::Safelisted => "safelisted",
            WithdrawReason::Unprotected => "unprotected",
        }
    }
}

/// Why the engine did not act.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The victim is in the safelist.
    #[error("{0} is safelisted: never mitigated")]
    Safelisted(String),
    /// A route would cover a safelisted prefix and cannot be narrowed around it (a
    /// unicast route, a rule without a destination, or more pieces than FlowSpec
    /// narrowing allows).
    #[error("{target} covers {safelisted}, which is safelisted: never mitigated")]
    CoversSafelisted {
        /// The victim or route destination.
        target: String,
        /// A safelisted prefix it covers.
        safelisted: ipnet::IpNet,
    },
    /// The victim is outside every protected network.
    #[error("{target} is outside the protected networks ({protected})")]
    OutsideProtected {
        /// The victim or route destination.
        target: String,
        /// The protected networks configured, as `name prefix, prefix; name ...`.
        protected: String,
    },
    /// The RPKI gate refused.
    #[error("RPKI gate: {0}")]
    Rpki(String),
    /// A withdrawal is recent.
    #[error("{0} is in its cooldown after a withdrawal")]
    Cooldown(String),
    /// Too many active mitigations.
    #[error("the cap of {limit} active mitigations {scope} is reached")]
    Cap {
        /// The cap.
        limit: usize,
        /// "in total" or "in network NAME".
        scope: String,
    },
    /// A manual route that does not name a destination.
    #[error("a mitigation must match a destination prefix")]
    NoDestination,
    /// No mitigation with that id.
    #[error("no active mitigation {0}")]
    Unknown(Id),
    /// A level that is disabled or has no route for the target.
    #[error("level {0} has no route for {1}")]
    NoRoute(Level, String),
}

/// What the engine decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Announce a route (new, or with new attributes).
    Announce(Mitigation),
    /// Withdraw a route.
    Withdraw(Mitigation, WithdrawReason),
    /// A config reload flipped dry run for an active route: the mitigation with its
    /// new flag. Live (`dry_run` false): announce its route now; dry run: withdraw it
    /// from the routers and keep it recorded and active.
    DryRun(Mitigation),
    /// Who holds an active route changed (another incident or an operator holds it
    /// too, or one let go while others still hold it); the route itself is unchanged,
    /// so the routers are not told, but the record is (a restart restores the holders).
    Holders(Mitigation),
    /// A route's expiry moved (the attack goes on).
    Extend {
        /// The mitigation.
        id: Id,
        /// Its new expiry.
        expires_us: u64,
    },
    /// A target changed level.
    Level {
        /// The victim.
        victim: String,
        /// Its network.
        network: String,
        /// The incident.
        incident: u64,
        /// Level before.
        from: Option<Level>,
        /// Level now.
        to: Level,
    },
    /// A decision not to act (reported once per incident and reason).
    Skip {
        /// The victim.
        victim: String,
        /// The incident.
        incident: u64,
        /// Why.
        reason: Refusal,
    },
    /// The gate let an announcement through with a warning (reported once per incident;
    /// always for an operator's request). The caller logs it; the route is announced.
    GateWarning {
        /// The victim.
        victim: String,
        /// The incident (0: an operator's request).
        incident: u64,
        /// What the gate found wrong.
        why: String,
    },
}

/// Counters for /metrics and `levee mitigate list`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    /// Routes announced.
    pub announced: u64,
    /// Routes withdrawn (any reason).
    pub withdrawn: u64,
    /// Of which by TTL expiry.
    pub expired: u64,
    /// Requests for a route already active (merged, not announced twice).
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
    /// Let through by the RPKI gate with a warning (policy `warn`, or failing open).
    pub rpki_warned: u64,
}

/// A check every announcement passes first (the RPKI gate): given the protected
/// prefixes that cover the victim, allow, warn or refuse. Sans-IO: time comes in.
pub trait Gate: Send + Sync + std::fmt::Debug {
    /// The verdict for a victim inside `covering` at `now_us`.
    fn check(&self, now_us: u64, covering: &[IpNet]) -> GateVerdict;
}

/// A [`Gate`]'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateVerdict {
    /// Go ahead.
    Allow,
    /// Go ahead; this is wrong (counted, and reported as [`Output::GateWarning`]).
    Warn(String),
    /// Do not announce, for this reason.
    Refuse(String),
}
