//! Typed decode errors. Every decoder returns one of these; none of them panic.

use thiserror::Error;

/// Why a datagram (or a part of it) could not be decoded.
///
/// Records decoded before the error are kept by the caller; the error is counted under
/// [`DecodeError::kind`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The buffer ended before a field that its header promised.
    #[error("truncated {what}: needed {need} bytes, {have} left")]
    Truncated {
        /// The structure being read.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// The first bytes match none of the supported export formats.
    #[error("unknown datagram format (first word {0:#010x})")]
    UnknownFormat(u32),
    /// A length field is impossible (zero, too small for its header, or past the end).
    #[error("invalid {what} length {len}")]
    BadLength {
        /// The structure whose length is wrong.
        what: &'static str,
        /// The length found.
        len: usize,
    },
    /// An sFlow agent address of a type other than IPv4 (1) or IPv6 (2).
    #[error("unsupported sFlow agent address type {0}")]
    AddressType(u32),
    /// A NetFlow v9 / IPFIX template that cannot be used.
    #[error("malformed template {id}: {reason}")]
    BadTemplate {
        /// Template id.
        id: u16,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A set or flowset id that is reserved by the RFC.
    #[error("reserved set id {0}")]
    ReservedSetId(u16),
    /// A per-exporter or global bound was hit (templates, exporters); the item was refused.
    #[error("limit reached: {0}")]
    Limit(&'static str),
}

impl DecodeError {
    /// A short stable name for counters and summaries.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::UnknownFormat(_) => "unknown_format",
            DecodeError::BadLength { .. } => "bad_length",
            DecodeError::AddressType(_) => "address_type",
            DecodeError::BadTemplate { .. } => "bad_template",
            DecodeError::ReservedSetId(_) => "reserved_set_id",
            DecodeError::Limit(_) => "limit",
        }
    }
}
