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
//! Standards: RFC 8955 (Dissemination of Flow Specification Rules), RFC 8956 (IPv6).
//! The message codec (RFC 4271, 4760, 6793, 7606), the session FSM and the tokio
//! driver come next.

pub mod flowspec;
