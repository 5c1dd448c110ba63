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
//! Standards: RFC 4271, 5492, 4760, 2918, 7313, 4724, 6793, 9072, 9003, 1997, 7999,
//! 4360, 8092, 7606, 8955, 8956.
//!
//! [`session`] is the sans-IO state machine (RFC 4271 §8): time and one input in,
//! actions out (send, connect, close, timers, state changes, received UPDATEs). OPEN
//! negotiation checks the peer AS and identifier and agrees hold time, families,
//! four-octet AS and route refresh; errors go out as the NOTIFICATION the RFCs name;
//! connection retries back off. The tokio driver comes next.

pub mod flowspec;
pub mod message;
pub mod rib;
pub mod session;
pub mod speaker;
#[cfg(test)]
mod testrng;
pub mod update;
