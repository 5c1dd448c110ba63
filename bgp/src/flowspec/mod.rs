//! FlowSpec NLRI: RFC 8955 (IPv4, AFI 1 / SAFI 133) and RFC 8956 (IPv6, AFI 2 / SAFI 133).
//!
//! ```text
//! NLRI:       +-------------------------------+
//!             |    length (0xnn or 0xfnnn)    |   one octet below 240, else two
//!             +-------------------------------+   (0xf000 | length, up to 4095)
//!             |    NLRI value  (variable)     |
//!             +-------------------------------+
//! value:      <[component]+>, strictly increasing component types, each at most once
//! ```
//!
//! A [`FlowSpec`] is the typed rule: its components in type order. [`FlowSpec::encode`]
//! and [`FlowSpec::decode`] convert to and from the wire; `Display` prints it in the
//! `[name: value]` notation GoBGP uses in `gobgp global rib -a ipv4-flowspec`.

pub mod action;
pub(crate) mod display;
mod nlri;
mod ops;
#[cfg(test)]
mod tests;

pub use ops::{BitmaskOp, NumericOp};

use crate::codes::Afi;
use crate::codes::component as code;
use std::net::IpAddr;

/// A prefix component. For IPv6 (RFC 8956 §3.1), `offset` leading bits are not matched
/// and the pattern covers bits `offset..len`; for IPv4 the offset is always 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    /// The address (bits past `len` are zero).
    pub addr: IpAddr,
    /// Prefix length in bits.
    pub len: u8,
    /// Bits skipped before the pattern (IPv6 only).
    pub offset: u8,
}

/// Fragment bits (RFC 8955 §4.2.2.12).
pub mod fragment {
    /// Don't Fragment.
    pub const DF: u16 = 0x01;
    /// Is a fragment (other than the first).
    pub const IS_FRAGMENT: u16 = 0x02;
    /// First fragment.
    pub const FIRST: u16 = 0x04;
    /// Last fragment.
    pub const LAST: u16 = 0x08;
}

/// One component (RFC 8955 §4.2.2, RFC 8956 §3); type codes in
/// [`crate::codes::component`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    /// Destination prefix.
    DestinationPrefix(Prefix),
    /// Source prefix.
    SourcePrefix(Prefix),
    /// IP protocol (IPv4), or upper-layer protocol / next header (IPv6).
    Protocol(Vec<NumericOp>),
    /// Source or destination port.
    Port(Vec<NumericOp>),
    /// Destination port.
    DestinationPort(Vec<NumericOp>),
    /// Source port.
    SourcePort(Vec<NumericOp>),
    /// ICMP (ICMPv6) type.
    IcmpType(Vec<NumericOp>),
    /// ICMP (ICMPv6) code.
    IcmpCode(Vec<NumericOp>),
    /// TCP flags.
    TcpFlags(Vec<BitmaskOp>),
    /// Packet length (IP total length, excluding L2).
    PacketLength(Vec<NumericOp>),
    /// DSCP.
    Dscp(Vec<NumericOp>),
    /// Fragment bits ([`fragment`]).
    Fragment(Vec<BitmaskOp>),
    /// IPv6 flow label (IPv6 only).
    FlowLabel(Vec<NumericOp>),
}

impl Component {
    /// The component's type code ([`crate::codes::component`]).
    pub fn type_code(&self) -> u8 {
        match self {
            Component::DestinationPrefix(_) => code::DESTINATION_PREFIX,
            Component::SourcePrefix(_) => code::SOURCE_PREFIX,
            Component::Protocol(_) => code::PROTOCOL,
            Component::Port(_) => code::PORT,
            Component::DestinationPort(_) => code::DESTINATION_PORT,
            Component::SourcePort(_) => code::SOURCE_PORT,
            Component::IcmpType(_) => code::ICMP_TYPE,
            Component::IcmpCode(_) => code::ICMP_CODE,
            Component::TcpFlags(_) => code::TCP_FLAGS,
            Component::PacketLength(_) => code::PACKET_LENGTH,
            Component::Dscp(_) => code::DSCP,
            Component::Fragment(_) => code::FRAGMENT,
            Component::FlowLabel(_) => code::FLOW_LABEL,
        }
    }
}

/// A FlowSpec rule: components in increasing type order, each type at most once.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowSpec {
    /// Address family: [`Afi::IPV4`] (RFC 8955) or [`Afi::IPV6`] (RFC 8956); a rule of
    /// any other family neither encodes nor decodes ([`Error::UnsupportedAfi`]).
    pub afi: Afi,
    /// Components, sorted by type.
    pub components: Vec<Component>,
}

/// Why an NLRI or a rule is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input ends inside an NLRI.
    #[error("FlowSpec NLRI truncated")]
    Truncated,
    /// An NLRI whose length is zero.
    #[error("FlowSpec NLRI of length zero")]
    Empty,
    /// A component type this implementation does not know (RFC 8955 §4.2: malformed).
    #[error("unknown FlowSpec component type {0}")]
    UnknownComponent(u8),
    /// Component types not strictly increasing.
    #[error(
        "FlowSpec component type {got} after type {prev}: components must be in increasing order"
    )]
    OutOfOrder {
        /// Previous type.
        prev: u8,
        /// This type.
        got: u8,
    },
    /// A prefix length beyond the family's, or an offset beyond the length.
    #[error("FlowSpec prefix length {len} (offset {offset}) is invalid for the family")]
    BadPrefix {
        /// Length.
        len: u8,
        /// Offset.
        offset: u8,
    },
    /// An operator with a reserved bit set.
    #[error("FlowSpec operator 0x{0:02x} has reserved bits set")]
    ReservedBits(u8),
    /// A bitmask value longer than two octets.
    #[error("FlowSpec bitmask operator 0x{0:02x} carries a value longer than two octets")]
    ValueTooLong(u8),
    /// A component type that does not exist in the family (flow label in IPv4).
    #[error("FlowSpec component type {0} is not defined for this address family")]
    WrongFamily(u8),
    /// An address family FlowSpec is not defined for (only IPv4 and IPv6 are).
    #[error("FlowSpec is not defined for AFI {0}")]
    UnsupportedAfi(Afi),
    /// A rule to encode with no operators in a list, or longer than 4095 octets.
    #[error("FlowSpec rule cannot be encoded: {0}")]
    Unencodable(&'static str),
}
