//! BGP code points, defined once: the numbers of the IANA registries the crate speaks,
//! each with the RFC that assigns it.
//!
//! Code spaces that the decoders must carry when they hold a value levee does not know
//! (an address family in a capability, an attribute type passed through, a NOTIFICATION
//! from the peer) keep their wire width: [`Afi`] and [`Safi`] are newtypes over the
//! number with the known values as constants, and the one-octet codes are `u8`
//! constants grouped by registry. [`MessageType`] is a closed enum: a type outside it is
//! a header error (RFC 4271 §6.1), never carried.

use std::fmt;

/// Address Family Identifier (RFC 4760 §3, IANA "Address Family Numbers"). Any value
/// can be carried; [`Afi::IPV4`] and [`Afi::IPV6`] are the ones levee speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Afi(pub u16);

impl Afi {
    /// IPv4 (1).
    pub const IPV4: Afi = Afi(1);
    /// IPv6 (2).
    pub const IPV6: Afi = Afi(2);

    /// The family's address length in bits, or `None` for a family without IP addresses.
    pub const fn addr_bits(self) -> Option<u8> {
        match self {
            Afi::IPV4 => Some(32),
            Afi::IPV6 => Some(128),
            _ => None,
        }
    }

    /// The AFI in its two wire octets.
    pub const fn to_be_bytes(self) -> [u8; 2] {
        self.0.to_be_bytes()
    }

    /// The AFI from its two wire octets.
    pub const fn from_be_bytes(b: [u8; 2]) -> Afi {
        Afi(u16::from_be_bytes(b))
    }
}

/// The number, as in `afi2-safi133`.
impl fmt::Display for Afi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Subsequent Address Family Identifier (RFC 4760 §6, IANA "SAFI Values"). Any value can
/// be carried; the constants are the ones levee speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Safi(pub u8);

impl Safi {
    /// Unicast forwarding (1, RFC 4760).
    pub const UNICAST: Safi = Safi(1);
    /// Dissemination of flow specification rules (133, RFC 8955 §4 for IPv4, RFC 8956 §2
    /// for IPv6).
    pub const FLOWSPEC: Safi = Safi(133);
}

/// The number, as in `afi2-safi133`.
impl fmt::Display for Safi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Message types (RFC 4271 §4.1; ROUTE-REFRESH RFC 2918 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    /// OPEN (1, RFC 4271 §4.2).
    Open = 1,
    /// UPDATE (2, RFC 4271 §4.3).
    Update = 2,
    /// NOTIFICATION (3, RFC 4271 §4.5).
    Notification = 3,
    /// KEEPALIVE (4, RFC 4271 §4.4).
    Keepalive = 4,
    /// ROUTE-REFRESH (5, RFC 2918 §3).
    RouteRefresh = 5,
}

impl MessageType {
    /// The type for a wire code, or `None` for a type levee does not know (a header
    /// error, Bad Message Type).
    pub const fn from_code(code: u8) -> Option<MessageType> {
        Some(match code {
            1 => MessageType::Open,
            2 => MessageType::Update,
            3 => MessageType::Notification,
            4 => MessageType::Keepalive,
            5 => MessageType::RouteRefresh,
            _ => return None,
        })
    }

    /// The wire code.
    pub const fn code(self) -> u8 {
        self as u8
    }
}

/// AS_TRANS, the two-octet stand-in for a four-octet AS (RFC 6793 §9).
pub const AS_TRANS: u16 = 23456;

/// The BGP version levee speaks (RFC 4271 §4.2).
pub const BGP_VERSION: u8 = 4;

/// OPEN optional parameter types (RFC 5492 §4; RFC 9072 §2).
pub mod param {
    /// Capabilities (2, RFC 5492).
    pub const CAPABILITIES: u8 = 2;
    /// Extended optional parameters length (255, RFC 9072 §2): as the first parameter
    /// type after an Opt Parm Len of 255, it announces two-octet lengths.
    pub const EXTENDED_LENGTH: u8 = 255;
}

/// Capability codes (RFC 5492 §4, IANA "Capability Codes").
pub mod capability {
    /// Multiprotocol extensions (1, RFC 4760 §8).
    pub const MULTIPROTOCOL: u8 = 1;
    /// Route refresh (2, RFC 2918 §2).
    pub const ROUTE_REFRESH: u8 = 2;
    /// Graceful restart (64, RFC 4724 §3).
    pub const GRACEFUL_RESTART: u8 = 64;
    /// Support for four-octet AS numbers (65, RFC 6793 §3).
    pub const FOUR_OCTET_AS: u8 = 65;
    /// Enhanced route refresh (70, RFC 7313 §3.1).
    pub const ENHANCED_ROUTE_REFRESH: u8 = 70;
}

/// ROUTE-REFRESH message subtypes (RFC 7313 §3.2; 0 is RFC 2918's plain request).
pub mod route_refresh {
    /// Normal route refresh request (0, RFC 2918 §3).
    pub const REQUEST: u8 = 0;
    /// Beginning of Route Refresh, BoRR (1, RFC 7313 §3.2).
    pub const BEGIN: u8 = 1;
    /// End of Route Refresh, EoRR (2, RFC 7313 §3.2).
    pub const END: u8 = 2;
}

/// Path attribute type codes (RFC 4271 §5, IANA "BGP Path Attributes").
pub mod attr_type {
    /// ORIGIN (1, RFC 4271 §5.1.1).
    pub const ORIGIN: u8 = 1;
    /// AS_PATH (2, RFC 4271 §5.1.2).
    pub const AS_PATH: u8 = 2;
    /// NEXT_HOP (3, RFC 4271 §5.1.3).
    pub const NEXT_HOP: u8 = 3;
    /// MULTI_EXIT_DISC (4, RFC 4271 §5.1.4).
    pub const MULTI_EXIT_DISC: u8 = 4;
    /// LOCAL_PREF (5, RFC 4271 §5.1.5).
    pub const LOCAL_PREF: u8 = 5;
    /// ATOMIC_AGGREGATE (6, RFC 4271 §5.1.6).
    pub const ATOMIC_AGGREGATE: u8 = 6;
    /// AGGREGATOR (7, RFC 4271 §5.1.7).
    pub const AGGREGATOR: u8 = 7;
    /// COMMUNITIES (8, RFC 1997).
    pub const COMMUNITIES: u8 = 8;
    /// ORIGINATOR_ID (9, RFC 4456 §8).
    pub const ORIGINATOR_ID: u8 = 9;
    /// CLUSTER_LIST (10, RFC 4456 §8).
    pub const CLUSTER_LIST: u8 = 10;
    /// MP_REACH_NLRI (14, RFC 4760 §3).
    pub const MP_REACH_NLRI: u8 = 14;
    /// MP_UNREACH_NLRI (15, RFC 4760 §4).
    pub const MP_UNREACH_NLRI: u8 = 15;
    /// EXTENDED COMMUNITIES (16, RFC 4360 §2).
    pub const EXTENDED_COMMUNITIES: u8 = 16;
    /// AS4_PATH (17, RFC 6793 §3).
    pub const AS4_PATH: u8 = 17;
    /// AS4_AGGREGATOR (18, RFC 6793 §3).
    pub const AS4_AGGREGATOR: u8 = 18;
    /// LARGE_COMMUNITY (32, RFC 8092 §3).
    pub const LARGE_COMMUNITY: u8 = 32;
}

/// ORIGIN values (RFC 4271 §4.3).
pub mod origin {
    /// Network layer reachability learned from an IGP (0).
    pub const IGP: u8 = 0;
    /// Learned via EGP (1).
    pub const EGP: u8 = 1;
    /// Learned by some other means (2).
    pub const INCOMPLETE: u8 = 2;
}

/// AS_PATH segment types (RFC 4271 §4.3).
pub mod segment {
    /// AS_SET: unordered (1).
    pub const AS_SET: u8 = 1;
    /// AS_SEQUENCE: ordered (2).
    pub const AS_SEQUENCE: u8 = 2;
}

/// NOTIFICATION error codes (RFC 4271 §4.5, IANA "BGP Error Codes"), and each code's
/// subcodes in the module named after it.
pub mod error {
    /// Message Header Error (1, RFC 4271 §6.1).
    pub const MESSAGE_HEADER: u8 = 1;
    /// OPEN Message Error (2, RFC 4271 §6.2).
    pub const OPEN_MESSAGE: u8 = 2;
    /// UPDATE Message Error (3, RFC 4271 §6.3).
    pub const UPDATE_MESSAGE: u8 = 3;
    /// Hold Timer Expired (4, RFC 4271 §6.5).
    pub const HOLD_TIMER_EXPIRED: u8 = 4;
    /// Finite State Machine Error (5, RFC 4271 §6.6).
    pub const FSM: u8 = 5;
    /// Cease (6, RFC 4271 §6.7).
    pub const CEASE: u8 = 6;
    /// ROUTE-REFRESH Message Error (7, RFC 7313 §5).
    pub const ROUTE_REFRESH_MESSAGE: u8 = 7;

    /// Subcode 0: no more specific reason (RFC 4271 §4.5).
    pub const UNSPECIFIC: u8 = 0;

    /// Message Header Error subcodes (RFC 4271 §6.1).
    pub mod header {
        /// Connection Not Synchronized (1): a bad marker.
        pub const CONNECTION_NOT_SYNCHRONIZED: u8 = 1;
        /// Bad Message Length (2).
        pub const BAD_MESSAGE_LENGTH: u8 = 2;
        /// Bad Message Type (3).
        pub const BAD_MESSAGE_TYPE: u8 = 3;
    }

    /// OPEN Message Error subcodes (RFC 4271 §6.2; 7 from RFC 5492 §5).
    pub mod open {
        /// Unsupported Version Number (1).
        pub const UNSUPPORTED_VERSION_NUMBER: u8 = 1;
        /// Bad Peer AS (2).
        pub const BAD_PEER_AS: u8 = 2;
        /// Bad BGP Identifier (3).
        pub const BAD_BGP_IDENTIFIER: u8 = 3;
        /// Unsupported Optional Parameter (4).
        pub const UNSUPPORTED_OPTIONAL_PARAMETER: u8 = 4;
        /// Unacceptable Hold Time (6).
        pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
        /// Unsupported Capability (7, RFC 5492 §5).
        pub const UNSUPPORTED_CAPABILITY: u8 = 7;
    }

    /// UPDATE Message Error subcodes (RFC 4271 §6.3).
    pub mod update {
        /// Malformed Attribute List (1).
        pub const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
        /// Missing Well-known Attribute (3).
        pub const MISSING_WELL_KNOWN_ATTRIBUTE: u8 = 3;
        /// Attribute Length Error (5).
        pub const ATTRIBUTE_LENGTH_ERROR: u8 = 5;
        /// Optional Attribute Error (9).
        pub const OPTIONAL_ATTRIBUTE_ERROR: u8 = 9;
        /// Invalid Network Field (10).
        pub const INVALID_NETWORK_FIELD: u8 = 10;
        /// Malformed AS_PATH (11).
        pub const MALFORMED_AS_PATH: u8 = 11;
    }

    /// Finite State Machine Error subcodes (RFC 6608).
    pub mod fsm {
        /// Receive Unexpected Message in OpenSent State (1).
        pub const UNEXPECTED_IN_OPEN_SENT: u8 = 1;
        /// Receive Unexpected Message in OpenConfirm State (2).
        pub const UNEXPECTED_IN_OPEN_CONFIRM: u8 = 2;
        /// Receive Unexpected Message in Established State (3).
        pub const UNEXPECTED_IN_ESTABLISHED: u8 = 3;
    }

    /// Cease subcodes (RFC 4486 §3; 9 from RFC 8538).
    pub mod cease {
        /// Maximum Number of Prefixes Reached (1); data: AFI, SAFI, the limit.
        pub const MAX_PREFIXES: u8 = 1;
        /// Administrative Shutdown (2); data: RFC 9003 shutdown communication.
        pub const ADMIN_SHUTDOWN: u8 = 2;
        /// Peer De-configured (3).
        pub const PEER_DECONFIGURED: u8 = 3;
        /// Administrative Reset (4); data: RFC 9003 shutdown communication.
        pub const ADMIN_RESET: u8 = 4;
        /// Connection Rejected (5).
        pub const CONNECTION_REJECTED: u8 = 5;
        /// Other Configuration Change (6).
        pub const OTHER_CONFIG_CHANGE: u8 = 6;
        /// Connection Collision Resolution (7).
        pub const CONNECTION_COLLISION_RESOLUTION: u8 = 7;
        /// Out of Resources (8).
        pub const OUT_OF_RESOURCES: u8 = 8;
        /// Hard Reset (9, RFC 8538).
        pub const HARD_RESET: u8 = 9;
    }
}

/// FlowSpec NLRI component types (RFC 8955 §4.2.2; type 13 RFC 8956 §3.7).
pub mod component {
    /// Destination Prefix (1).
    pub const DESTINATION_PREFIX: u8 = 1;
    /// Source Prefix (2).
    pub const SOURCE_PREFIX: u8 = 2;
    /// IP Protocol, or Upper-Layer Protocol for IPv6 (3).
    pub const PROTOCOL: u8 = 3;
    /// Port (4).
    pub const PORT: u8 = 4;
    /// Destination Port (5).
    pub const DESTINATION_PORT: u8 = 5;
    /// Source Port (6).
    pub const SOURCE_PORT: u8 = 6;
    /// ICMP Type (7).
    pub const ICMP_TYPE: u8 = 7;
    /// ICMP Code (8).
    pub const ICMP_CODE: u8 = 8;
    /// TCP Flags (9).
    pub const TCP_FLAGS: u8 = 9;
    /// Packet Length (10).
    pub const PACKET_LENGTH: u8 = 10;
    /// DSCP (11).
    pub const DSCP: u8 = 11;
    /// Fragment (12).
    pub const FRAGMENT: u8 = 12;
    /// Flow Label, IPv6 only (13, RFC 8956 §3.7).
    pub const FLOW_LABEL: u8 = 13;
}

/// Extended community types and subtypes of the FlowSpec traffic filtering actions
/// (RFC 4360 §3 for the type octet, RFC 7153 for the registries, RFC 8955 §7 Table 8
/// for the values).
pub mod ext_community {
    /// Generic Transitive Experimental Use (0x80, RFC 4360 §3, RFC 7153): the
    /// actions with a two-octet AS or no administrator.
    pub const GENERIC_TRANSITIVE_EXPERIMENTAL: u8 = 0x80;
    /// Generic Transitive Experimental Use Part 2 (0x81, RFC 7153, RFC 8955 §7.4): the
    /// IPv4-address route target of redirect.
    pub const GENERIC_TRANSITIVE_EXPERIMENTAL_2: u8 = 0x81;
    /// Generic Transitive Experimental Use Part 3 (0x82, RFC 7153, RFC 8955 §7.4): the
    /// four-octet-AS route target of redirect.
    pub const GENERIC_TRANSITIVE_EXPERIMENTAL_3: u8 = 0x82;

    /// Subtype traffic-rate-bytes (0x06, RFC 8955 §7.1).
    pub const TRAFFIC_RATE_BYTES: u8 = 0x06;
    /// Subtype traffic-action (0x07, RFC 8955 §7.3).
    pub const TRAFFIC_ACTION: u8 = 0x07;
    /// Subtype rt-redirect (0x08, RFC 8955 §7.4).
    pub const REDIRECT: u8 = 0x08;
    /// Subtype traffic-marking (0x09, RFC 8955 §7.5).
    pub const TRAFFIC_MARKING: u8 = 0x09;
    /// Subtype traffic-rate-packets (0x0c, RFC 8955 §7.2).
    pub const TRAFFIC_RATE_PACKETS: u8 = 0x0c;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_types_round_trip() {
        for code in 0..=255u8 {
            if let Some(t) = MessageType::from_code(code) {
                assert_eq!(t.code(), code);
            } else {
                assert!(code == 0 || code > 5, "{code}");
            }
        }
    }

    #[test]
    fn families_print_their_numbers() {
        assert_eq!(
            format!("afi{}-safi{}", Afi::IPV6, Safi::FLOWSPEC),
            "afi2-safi133"
        );
        assert_eq!(Afi::from_be_bytes(Afi::IPV6.to_be_bytes()), Afi::IPV6);
        assert_eq!(Afi(25).addr_bits(), None);
    }
}
