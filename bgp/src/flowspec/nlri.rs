//! NLRI encoding and decoding (RFC 8955 §4.1–4.2, RFC 8956 §3).

use super::ops::{decode_list, encode_list};
use super::{Component, Error, FlowSpec, Prefix};
use crate::codes::Afi;
use crate::codes::component as code;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest NLRI value the two-octet length form can carry.
pub(super) const MAX_LEN: usize = 0x0fff;

/// The family's address length, or the error for a family FlowSpec does not cover.
fn bits(afi: Afi) -> Result<u8, Error> {
    afi.addr_bits().ok_or(Error::UnsupportedAfi(afi))
}

fn addr_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(u32::from(a)) << 96,
        IpAddr::V6(a) => u128::from(a),
    }
}

/// Pattern bits `offset..len` of `addr`, left-aligned, in ceil((len-offset)/8) octets.
fn put_prefix(out: &mut Vec<u8>, afi: Afi, p: &Prefix) -> Result<(), Error> {
    let family_ok = matches!(
        (afi, p.addr),
        (Afi::IPV4, IpAddr::V4(_)) | (Afi::IPV6, IpAddr::V6(_))
    );
    if !family_ok || p.len > bits(afi)? || p.offset > p.len || (afi == Afi::IPV4 && p.offset != 0) {
        return Err(Error::BadPrefix {
            len: p.len,
            offset: p.offset,
        });
    }
    out.push(p.len);
    if afi == Afi::IPV6 {
        out.push(p.offset);
    }
    let n = usize::from(p.len - p.offset).div_ceil(8);
    let pattern = addr_u128(p.addr)
        .checked_shl(u32::from(p.offset))
        .unwrap_or(0);
    out.extend_from_slice(&pattern.to_be_bytes()[..n]);
    Ok(())
}

fn get_prefix(buf: &[u8], at: &mut usize, afi: Afi) -> Result<Prefix, Error> {
    let len = *buf.get(*at).ok_or(Error::Truncated)?;
    *at += 1;
    let offset = if afi == Afi::IPV6 {
        let o = *buf.get(*at).ok_or(Error::Truncated)?;
        *at += 1;
        o
    } else {
        0
    };
    if len > bits(afi)? || offset > len {
        return Err(Error::BadPrefix { len, offset });
    }
    let n = usize::from(len - offset).div_ceil(8);
    let bytes = buf.get(*at..*at + n).ok_or(Error::Truncated)?;
    *at += n;
    let mut raw = [0u8; 16];
    raw[..n].copy_from_slice(bytes);
    // Bits past the pattern are ignored (RFC 4271 style prefixes are zero-padded).
    let keep = u32::from(len - offset);
    let mask = if keep == 0 {
        0
    } else {
        u128::MAX << (128 - keep)
    };
    // An IPv6 offset may be 128 (with a length of 128: an empty pattern), a shift the
    // width of the value: nothing is left.
    let v = (u128::from_be_bytes(raw) & mask)
        .checked_shr(u32::from(offset))
        .unwrap_or(0);
    let addr = if afi == Afi::IPV4 {
        IpAddr::V4(Ipv4Addr::from((v >> 96) as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(v))
    };
    Ok(Prefix { addr, len, offset })
}

/// The value of a component of type `t` at `at` in `v`; advances `at`.
fn component(t: u8, v: &[u8], at: &mut usize, afi: Afi) -> Result<Component, Error> {
    Ok(match t {
        code::DESTINATION_PREFIX => Component::DestinationPrefix(get_prefix(v, at, afi)?),
        code::SOURCE_PREFIX => Component::SourcePrefix(get_prefix(v, at, afi)?),
        code::PROTOCOL => Component::Protocol(decode_list(v, at)?),
        code::PORT => Component::Port(decode_list(v, at)?),
        code::DESTINATION_PORT => Component::DestinationPort(decode_list(v, at)?),
        code::SOURCE_PORT => Component::SourcePort(decode_list(v, at)?),
        code::ICMP_TYPE => Component::IcmpType(decode_list(v, at)?),
        code::ICMP_CODE => Component::IcmpCode(decode_list(v, at)?),
        code::TCP_FLAGS => Component::TcpFlags(decode_list(v, at)?),
        code::PACKET_LENGTH => Component::PacketLength(decode_list(v, at)?),
        code::DSCP => Component::Dscp(decode_list(v, at)?),
        code::FRAGMENT => Component::Fragment(decode_list(v, at)?),
        code::FLOW_LABEL if afi == Afi::IPV6 => Component::FlowLabel(decode_list(v, at)?),
        code::FLOW_LABEL => return Err(Error::WrongFamily(code::FLOW_LABEL)),
        t => return Err(Error::UnknownComponent(t)),
    })
}

impl FlowSpec {
    /// Appends the NLRI (length and value) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        bits(self.afi)?;
        let mut v = Vec::with_capacity(32);
        let mut prev = 0u8;
        for c in &self.components {
            let t = c.type_code();
            if t <= prev {
                return Err(Error::OutOfOrder { prev, got: t });
            }
            prev = t;
            v.push(t);
            match c {
                Component::DestinationPrefix(p) | Component::SourcePrefix(p) => {
                    put_prefix(&mut v, self.afi, p)?
                }
                Component::TcpFlags(ops) | Component::Fragment(ops) => encode_list(&mut v, ops, 0)?,
                Component::FlowLabel(ops) => {
                    if self.afi != Afi::IPV6 {
                        return Err(Error::WrongFamily(code::FLOW_LABEL));
                    }
                    encode_list(&mut v, ops, 2)?
                }
                Component::Protocol(ops)
                | Component::Port(ops)
                | Component::DestinationPort(ops)
                | Component::SourcePort(ops)
                | Component::IcmpType(ops)
                | Component::IcmpCode(ops)
                | Component::PacketLength(ops)
                | Component::Dscp(ops) => encode_list(&mut v, ops, 0)?,
            }
        }
        match v.len() {
            0 => return Err(Error::Unencodable("a rule needs at least one component")),
            n if n < 0xf0 => out.push(n as u8),
            n if n <= MAX_LEN => out.extend_from_slice(&(0xf000 | n as u16).to_be_bytes()),
            _ => return Err(Error::Unencodable("the NLRI is longer than 4095 octets")),
        }
        out.extend_from_slice(&v);
        Ok(())
    }

    /// The NLRI as bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }

    /// Decodes one NLRI at the start of `buf`; returns it and the octets it used.
    pub fn decode(buf: &[u8], afi: Afi) -> Result<(FlowSpec, usize), Error> {
        bits(afi)?;
        let first = *buf.first().ok_or(Error::Truncated)?;
        let (len, head) = if first >= 0xf0 {
            let second = *buf.get(1).ok_or(Error::Truncated)?;
            (usize::from(first & 0x0f) << 8 | usize::from(second), 2)
        } else {
            (usize::from(first), 1)
        };
        if len == 0 {
            return Err(Error::Empty);
        }
        let v = buf.get(head..head + len).ok_or(Error::Truncated)?;
        let mut at = 0;
        let mut prev = 0u8;
        let mut components = Vec::new();
        while at < v.len() {
            let t = v[at];
            at += 1;
            if t <= prev {
                return Err(Error::OutOfOrder { prev, got: t });
            }
            prev = t;
            components.push(component(t, v, &mut at, afi)?);
        }
        Ok((FlowSpec { afi, components }, head + len))
    }

    /// Decodes every NLRI in `buf` (an MP_REACH or MP_UNREACH NLRI field).
    pub fn decode_all(mut buf: &[u8], afi: Afi) -> Result<Vec<FlowSpec>, Error> {
        let mut out = Vec::new();
        while !buf.is_empty() {
            let (f, used) = FlowSpec::decode(buf, afi)?;
            out.push(f);
            buf = &buf[used..];
        }
        Ok(out)
    }
}
