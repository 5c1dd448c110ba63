//! levee-flow: decoders for flow-export datagrams and sampled packets.
//!
//! Every input levee ingests becomes a normalized [`FlowRecord`] whose packet and byte
//! counts are already scaled by the sampling rate. This crate holds the decoders only: no
//! sockets, no async runtime, no clock. Time is passed in by the caller, so the same code
//! serves live listeners, offline pcap decoding and fuzzing.
//!
//! The sFlow walker, the NetFlow/IPFIX template machinery and the packet-header parser are
//! our own zero-copy code: they read the datagram in place, bound every loop by the bytes
//! present, and return typed [`DecodeError`]s. [`Decoder`] is the stateful front end.
//!
//! Standards implemented:
//! - sFlow version 5 (sflow.org, July 2004): flow samples, expanded flow samples,
//!   sampled header, sampled IPv4/IPv6, extended switch, generic interface counters.
//! - NetFlow version 5 (Cisco).
//! - NetFlow version 9, RFC 3954: templates, options templates, sampling options.
//! - IPFIX, RFC 7011: templates, options templates, variable-length fields (§7), template
//!   withdrawal (§8.1), enterprise-specific fields (skipped); information elements from
//!   RFC 7012 and sampling elements from RFC 5477.
//! - Packet headers: IEEE 802.1Q/802.1ad, RFC 3032 (MPLS), RFC 791, RFC 8200 (IPv6
//!   extension headers), RFC 4302 (AH), TCP, UDP, ICMP, ICMPv6.

mod cursor;
mod decoder;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod ipfix;
pub mod mirror;
pub mod netflow5;
pub mod netflow9;
pub mod packet;
mod record;
mod sequence;
pub mod sflow;
mod source;
mod template;
#[cfg(test)]
mod testing;

pub use decoder::{Batch, DatagramResult, Decoder, ExporterStats, detect};
pub use error::DecodeError;
pub use record::{FlowRecord, FlowType, InterfaceCounters};
pub use source::{Discards, MIN_FRAME_BITS, SourcePolicy};
pub use template::{CacheStats, Limits};
