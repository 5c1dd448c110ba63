//! The mitigation stage, live: [`service`] drives the sans-IO engine of crate
//! `levee-mitigate` with incident events, operator commands and a clock, stores each
//! decision with its audit entry, and sends its routes to the adapters; a reload
//! ([`service::Reload`]) gives it new settings and adds, removes or changes adapters.
mod reconfigure;
pub mod service;
pub mod status;
