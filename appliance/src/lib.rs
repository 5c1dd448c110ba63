//! levee: a DDoS detection and mitigation appliance for the network edge.
//!
//! The appliance ingests flow exports (sFlow v5, NetFlow v5/v9, IPFIX) and mirror-port
//! traffic. Module map, in pipeline order:
//! - [`config`]: /etc/levee/levee.yaml, parsed into typed values with located errors;
//! - [`flows`]: UDP listeners, mirror capture and offline pcap decoding (decoders live in
//!   the `levee-flow` crate);
//! - [`run`]: the daemon loop that consumes record batches;
//! - [`cli`]: the command line.
//!
//! Exit status: 0 success, 1 error (the message says which), 2 usage error.

pub mod app;
pub mod cli;
pub mod config;
pub mod flows;
pub mod run;
