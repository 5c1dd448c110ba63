//! levee-testkit: what the tests, benchmarks and examples of every levee crate share,
//! written once.
//!
//! - [`Rng`] ([`rng`]): the seeded generator (xorshift64) behind every randomized test,
//!   benchmark workload and example input.
//! - Datagram builders, one module per export format: [`sflow`], [`netflow5`],
//!   [`netflow9`], [`ipfix`]; big-endian word lists in [`bytes`].
//! - [`hostile`]: the datagrams of the state-exhaustion attacks (issue 15).
//! - [`packet`]: Ethernet, IPv4 and UDP framing; [`pcap`]: classic capture files, written
//!   and read.
//! - [`traffic`]: synthetic sampled traffic (streams of one packet shape each, sampled
//!   1:N at exact intervals) as sFlow datagrams or as a capture.
//! - [`daemon`]: the launchers of the real software the interop tests run against
//!   (gobgpd, BIRD, FRR, ExaBGP, StayRTR, softflowd, pmacct), their control programs,
//!   and [`have`], which skips a test whose tool is missing (and fails it in CI).
//! - [`lab`]: free ports, scratch directories, polling.
//! - [`fuzz`]: the fuzz targets' corpora run as regression tests.
//! - `webhook` (feature `webhook`): an HTTP(S) webhook endpoint in a thread of its own.
//!
//! It is dev-only (`publish = false`, a `[dev-dependencies]` entry only) and depends on
//! no levee crate, so any of them can use it without a dependency cycle.
//!
//! Standards whose wire formats it writes: sFlow version 5 (sflow.org,
//! sflow_version_5.txt), NetFlow version 5 (Cisco), NetFlow version 9 (RFC 3954), IPFIX
//! (RFC 7011), IPv4 (RFC 791), UDP (RFC 768), Ethernet II, and the classic pcap file
//! format (draft-ietf-opsawg-pcap).

#[cfg(feature = "browser")]
pub mod browser;
pub mod bytes;
pub mod daemon;
pub mod fuzz;
pub mod hostile;
pub mod ipfix;
pub mod lab;
pub mod netflow5;
pub mod netflow9;
pub mod packet;
pub mod pcap;
pub mod rng;
pub mod sflow;
pub mod traffic;
#[cfg(feature = "webhook")]
pub mod webhook;

pub use daemon::{Daemon, Launch, have, have_all};
pub use rng::Rng;
