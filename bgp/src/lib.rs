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
//! Standards: RFC 4271, 5492, 4760, 2918, 7313, 4724, 6793, 9072, 9003, 8955, 8956.
//! UPDATE with its path attributes (and RFC 7606 error handling), the session FSM and
//! the tokio driver come next.

pub mod flowspec;
pub mod message;
