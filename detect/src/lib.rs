//! levee-detect: the detection engine (sans-IO, explicit time).
//!
//! [`Engine`] takes flow records and clock ticks and emits incident events. It never
//! reads a clock or sleeps, so the same engine runs live and over captures.
//!
//! The pipeline, by module:
//! - [`netmatch`]: which protected network a destination is in (longest-prefix match);
//! - [`window`]: packets, bytes and flows over the last second in ten 100 ms slots, so
//!   rates are judged every 100 ms over a full second, or over the last half second
//!   while a flood is young;
//! - [`breakdown`]: what the traffic is made of (TCP by flags, UDP by port, ICMP,
//!   fragments, amplifier source ports, packet sizes);
//! - [`baseline`]: 300 one-second samples per IP and per network, p99 every 10 s, in
//!   one-byte logarithmic codes ([`logcode`]);
//! - [`policy`]: multiplier × p99 above a floor, static warm-up thresholds, hard
//!   thresholds per protocol;
//! - [`engine`]: tracking (capped: a full table evicts the least active of a random
//!   sample, never a victim; idle eviction), incidents (start, updates each second, end
//!   after a quiet period with hysteresis), reconfiguration and baseline restore;
//! - [`classify`]: family, vector and confidence;
//! - [`hll`], [`heavy`], [`ttl`], [`threatintel`]: distinct sources (HyperLogLog),
//!   heavy hitters (Space-Saving), the TTL spoofing indicator, threat-intelligence
//!   lists (on a [`prefixset`]).
//!
//! Standards and references: RFC 9293 (TCP flags), RFC 7011/3954/sFlow v5 via
//! levee-flow's records; HyperLogLog (Flajolet et al. 2007, Heule et al. 2013);
//! Space-Saving (Metwally et al. 2005).

pub mod baseline;
pub mod breakdown;
pub mod classify;
pub mod engine;
pub mod heavy;
pub mod hll;
pub mod logcode;
pub mod netmatch;
pub mod policy;
pub mod prefixset;
pub mod threatintel;
pub mod ttl;
pub mod window;

pub use engine::{Engine, EngineConfig, EngineStats, Event, EventKind, NetworkConfig, Victim};
