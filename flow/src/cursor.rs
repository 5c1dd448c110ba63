//! A bounds-checked, zero-copy big-endian reader over a byte slice.
//!
//! All wire formats here are network byte order. Every read checks the remaining length
//! and returns [`DecodeError::Truncated`] naming the structure being read.

use crate::error::DecodeError;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Reader over a borrowed buffer.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Cursor { buf, what }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Takes `n` bytes.
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::Truncated {
                what: self.what,
                need: n,
                have: self.buf.len(),
            });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let b = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    #[inline]
    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    #[inline]
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    #[inline]
    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub(crate) fn ipv4(&mut self) -> Result<Ipv4Addr, DecodeError> {
        Ok(Ipv4Addr::from(self.array::<4>()?))
    }

    pub(crate) fn ipv6(&mut self) -> Result<Ipv6Addr, DecodeError> {
        Ok(Ipv6Addr::from(self.array::<16>()?))
    }

    /// An XDR variable-length opaque: a u32 length, the bytes, padding to 4.
    pub(crate) fn opaque(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.u32()? as usize;
        let padded = len
            .checked_add(3)
            .map(|l| l & !3)
            .ok_or(DecodeError::BadLength { what, len })?;
        if padded > self.buf.len() {
            return Err(DecodeError::Truncated {
                what,
                need: padded,
                have: self.buf.len(),
            });
        }
        let data = &self.buf[..len];
        self.buf = &self.buf[padded..];
        Ok(data)
    }
}

/// Reads an unsigned big-endian integer of 1 to 8 bytes (RFC 7011 §6.2 reduced-size
/// encoding). Longer fields yield their low 8 bytes.
#[inline]
pub(crate) fn be_uint(b: &[u8]) -> u64 {
    let b = if b.len() > 8 { &b[b.len() - 8..] } else { b };
    b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_reports_truncation() {
        let mut c = Cursor::new(&[0, 1, 0, 0, 0, 2, 9], "test");
        assert_eq!(c.u16().unwrap(), 1);
        assert_eq!(c.u32().unwrap(), 2);
        assert_eq!(
            c.u16(),
            Err(DecodeError::Truncated {
                what: "test",
                need: 2,
                have: 1
            })
        );
    }

    #[test]
    fn opaque_pads_and_checks() {
        let mut c = Cursor::new(&[0, 0, 0, 3, 7, 8, 9, 0, 1], "t");
        assert_eq!(c.opaque("o").unwrap(), &[7, 8, 9]);
        assert_eq!(c.remaining(), 1);
        let mut c = Cursor::new(&[0xff, 0xff, 0xff, 0xff], "t");
        assert!(c.opaque("o").is_err());
    }

    #[test]
    fn be_uint_sizes() {
        assert_eq!(be_uint(&[1]), 1);
        assert_eq!(be_uint(&[1, 0]), 256);
        assert_eq!(be_uint(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 5]), 5);
        assert_eq!(be_uint(&[]), 0);
    }
}
