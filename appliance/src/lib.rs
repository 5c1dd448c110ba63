//! levee: a DDoS detection and mitigation appliance for the network edge.
//!
//! The appliance ingests flow exports (sFlow v5, NetFlow v5/v9, IPFIX) and mirror-port
//! traffic. Module map, in pipeline order:
//! - [`config`]: /etc/levee/levee.yaml, parsed into typed values with located errors
//!   (the error machinery, shared with the stages that own a section, is [`yaml`]);
//! - [`flows`]: UDP listeners, mirror capture and offline pcap decoding (decoders live in
//!   the `levee-flow` crate);
//! - [`detection`]: the detection engine (crate `levee-detect`) built from the config,
//!   its events as JSON, and `levee replay`;
//! - [`mitigation`]: the mitigation service, driving the engine of crate `levee-mitigate`;
//! - [`rpki`]: the RPKI gate (RTR client, RFC 6811 origin validation) every announcement
//!   passes first;
//! - [`adapters`]: where routes go (the native BGP speaker, gobgpd, BIRD, FRR), each
//!   behind a retrying, reconciling task;
//! - [`store`]: SQLite with incidents, mitigations, the hash-chained audit log and the
//!   traffic history's minutes and incident series;
//! - [`history`]: traffic history: the last hour in memory, per-minute rollups and
//!   incident series in the store, and the query over both (`levee traffic`);
//! - [`control`]: the local control socket of `levee mitigate`; [`operator`]: the
//!   operator's commands (`levee mitigate`, `levee audit`);
//! - [`pidlock`]: the single-instance lock of `levee run` and the store's writer lock;
//! - [`run`]: the daemon: ingestion, detection and mitigation wired together;
//! - [`web`]: the local web endpoint, Prometheus `/metrics`;
//! - [`speaker`]: `levee bgp`, the BGP speaker (crate `levee-bgp`) run alone;
//! - [`traffic`]: `levee traffic`, the traffic history read from the store;
//! - [`cli`]: the command line.
//!
//! Exit status: 0 success, 1 error (the message says which), 2 usage error.

pub mod accounts;
pub mod adapters;
pub mod app;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod control;
pub mod daemon;
pub mod detection;
pub mod flows;
pub mod history;
pub mod human;
pub mod live;
pub mod mitigation;
pub mod operator;
pub mod pidlock;
pub mod redact;
pub mod rpki;
pub mod signals;
pub mod speaker;
pub mod store;
pub mod traffic;
pub mod web;
pub mod yaml;
