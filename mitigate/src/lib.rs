//! levee-mitigate: the mitigation engine (sans-IO, explicit time), from incidents to
//! routes.
//!
//! [`Engine`] takes incident events (crate `levee-detect`), operator requests and clock
//! ticks, and returns what to announce and withdraw. It never reads a clock, touches
//! a socket or writes a file: the appliance's mitigation service drives it, stores its
//! decisions and hands its routes to the adapters.
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
//! Standards: RFC 8955/8956 (FlowSpec rules and actions, through `levee-bgp`), RFC 7999
//! (BLACKHOLE community for RTBH), RFC 6811 origin validation through the [`Gate`] the
//! caller supplies.

pub mod engine;
pub mod model;
pub mod safelist;
pub mod settings;
pub mod signature;
#[cfg(test)]
mod tests;

pub use engine::{
    Engine, Gate, GateVerdict, Holder, Id, Mitigation, Origin, Output, Refusal, WithdrawReason,
};
pub use settings::{Ladder, Level, Levels, Settings};
pub use signature::Target;
