//! levee-bgp: levee's own BGP speaker, built sans-IO.
//!
//! This first part is the FlowSpec codec ([`flowspec`]): the NLRI of RFC 8955 (IPv4)
//! and RFC 8956 (IPv6), every component type with its numeric and bitmask operators,
//! the one- and two-octet length forms and the ordering rules, as a typed
//! [`flowspec::FlowSpec`] that converts to and from the wire and prints in GoBGP's
//! notation, and the traffic-filtering actions ([`flowspec::action`]: rate in bytes and
//! packets, traffic-action, the three redirect forms, marking) as extended communities.
//! Decoding never panics: malformed input is a typed [`flowspec::Error`].
//!
//! [`message`] frames and codes the messages other than UPDATE: the header, OPEN with
//! capabilities (multiprotocol, route refresh, enhanced route refresh, graceful
//! restart, four-octet AS; RFC 9072 extended parameter lengths), NOTIFICATION with the
//! RFC 9003 shutdown communication, KEEPALIVE and ROUTE-REFRESH. Each decoding error
//! carries the NOTIFICATION that answers it.
//!
//! [`update`] codes UPDATE and its path attributes: ORIGIN, AS_PATH and AS4_PATH,
//! NEXT_HOP, MED, LOCAL_PREF, COMMUNITIES (BLACKHOLE, NO_EXPORT, NO_ADVERTISE),
//! MP_REACH/MP_UNREACH_NLRI, EXTENDED_COMMUNITIES, LARGE_COMMUNITY, and passes
//! unknown ones through. Decoding applies RFC 7606: attribute discard,
//! treat-as-withdraw, or a session reset with the NOTIFICATION to send.
//!
//! [`codes`] names every code point the crate uses (message types, AFI/SAFI, capability
//! and attribute type codes, NOTIFICATION codes and subcodes, FlowSpec component types,
//! extended community types), once, with the RFC that assigns it.
//!
//! Standards: RFC 4271, 5492, 4760, 2918, 7313, 4724, 6793, 9072, 9003, 1997, 7999,
//! 4360, 8092, 7606, 8955, 8956, 4486, 6608, 8538, 2385, 5082.
//!
//! [`session`] is the sans-IO state machine (RFC 4271 §8): time and one input in,
//! actions out (send, connect, close, timers, state changes, received UPDATEs). OPEN
//! negotiation checks the peer AS and identifier and agrees hold time, families,
//! four-octet AS and route refresh; errors go out as the NOTIFICATION the RFCs name;
//! connection retries back off.
//!
//! [`rib`] holds what levee announces: routes (FlowSpec rules and unicast prefixes) with
//! their attributes, the per-peer Adj-RIB-Out, the packing of changes into UPDATEs of at
//! most 4,096 octets (MP_REACH first, RFC 7606 §5.1; End-of-RIB after the initial
//! table), and the one-line route text the CLI reads and prints.
//!
//! [`speaker`] is the thin tokio driver: one task per peer, active or passive TCP over
//! IPv4 or IPv6, TCP MD5 (RFC 2385) and GTSM (RFC 5082), the shared Loc-RIB re-sent on
//! establishment and on ROUTE-REFRESH, per-peer status, and a graceful shutdown that
//! withdraws, ceases with a message (RFC 9003), or leaves the routes to graceful
//! restart.

pub mod codes;
pub mod flowspec;
#[doc(hidden)]
pub mod fuzzing;
pub mod message;
pub mod rib;
pub mod session;
pub mod speaker;
#[cfg(test)]
mod testgen;
pub mod update;
