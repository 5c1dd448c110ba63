//! The mitigation stage: from incidents to routes.
//!
//! - [`settings`]: the four-level ladder per protected network, TTL, cooldown, caps,
//!   safelist and monitor mode, as typed values;
//! - [`signature`]: an incident's signature and the FlowSpec, RTBH and scrubbing routes
//!   each level announces for it;
//! - [`model`]: what the engine decides about: mitigations, outputs, refusals,
//!   counters and the gate (RPKI) every announcement passes;
//! - [`engine`]: the sans-IO engine (escalation with hold-downs, TTL, deduplication,
//!   caps, cooldown, manual mitigations, restore after a restart).
//!
//! The daemon side (adapters, store, control channel) lives in [`crate::adapters`],
//! [`crate::store`] and [`crate::control`]; [`crate::run`] ties them together.

pub mod engine;
pub mod model;
pub mod service;
pub mod settings;
pub mod signature;
#[cfg(test)]
mod tests;

pub use engine::{
    Engine, Gate, GateVerdict, Holder, Id, Mitigation, Origin, Output, Refusal, WithdrawReason,
};
pub use settings::{Ladder, Level, Levels, Settings};
pub use signature::Target;
