//! Operator/value pairs (RFC 8955 §4.2.1).
//!
//! ```text
//! numeric:    0   1   2   3   4   5   6   7
//!           +---+---+---+---+---+---+---+---+
//!           | e | a |  len  | 0 |lt |gt |eq |
//!           +---+---+---+---+---+---+---+---+
//! bitmask:    0   1   2   3   4   5   6   7
//!           +---+---+---+---+---+---+---+---+
//!           | e | a |  len  | 0 | 0 |not| m |
//!           +---+---+---+---+---+---+---+---+
//! ```
//! `e`: last pair of the list; `a`: AND with the previous pair (else OR; always unset on
//! the first); `len`: the value is 1 << len octets.

use super::Error;

const END: u8 = 0x80;
const AND: u8 = 0x40;
const LEN: u8 = 0x30;
const LT: u8 = 0x04;
const GT: u8 = 0x02;
const EQ: u8 = 0x01;
const NOT: u8 = 0x02;
const MATCH: u8 = 0x01;

/// A numeric comparison: true when the packet's value compares to `value` as `lt`,
/// `gt`, `eq` say (all three unset: false; all set: true).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NumericOp {
    /// AND with the previous result (ignored on the first).
    pub and: bool,
    /// Less than.
    pub lt: bool,
    /// Greater than.
    pub gt: bool,
    /// Equal.
    pub eq: bool,
    /// The value.
    pub value: u64,
}

impl NumericOp {
    /// `== value`, ORed with what precedes.
    pub fn eq(value: u64) -> Self {
        NumericOp {
            and: false,
            lt: false,
            gt: false,
            eq: true,
            value,
        }
    }

    /// `>= lo` AND `<= hi` as two operators.
    pub fn range(lo: u64, hi: u64) -> [Self; 2] {
        [
            NumericOp {
                and: false,
                lt: false,
                gt: true,
                eq: true,
                value: lo,
            },
            NumericOp {
                and: true,
                lt: true,
                gt: false,
                eq: true,
                value: hi,
            },
        ]
    }
}

/// A bitmask test: `match` set: (data & value) == value; unset: (data & value) != 0;
/// `not` negates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BitmaskOp {
    /// AND with the previous result (ignored on the first).
    pub and: bool,
    /// Negate.
    pub not: bool,
    /// All bits must be set (else any).
    pub match_all: bool,
    /// The bits.
    pub value: u16,
}

/// Smallest `len` code (0..=3) whose 1 << len octets hold `v`.
fn len_code(v: u64) -> u8 {
    match v {
        0..=0xff => 0,
        0x100..=0xffff => 1,
        0x1_0000..=0xffff_ffff => 2,
        _ => 3,
    }
}

/// `bit` when `set`, else no bits.
fn flag(set: bool, bit: u8) -> u8 {
    if set { bit } else { 0 }
}

fn put_value(out: &mut Vec<u8>, code: u8, v: u64) {
    let n = 1usize << code;
    out.extend_from_slice(&v.to_be_bytes()[8 - n..]);
}

/// What numeric and bitmask operators share on the wire: the `e`, `a` and `len` bits
/// of the operator octet, and a value; the rest of the octet is the operator's own.
pub(super) trait Operator: Sized {
    /// Bits of the operator octet that must be zero.
    const RESERVED: u8;
    /// AND with the previous result.
    fn and(&self) -> bool;
    /// The value, widened.
    fn value(&self) -> u64;
    /// The operator's own bits of the operator octet.
    fn bits(&self) -> u8;
    /// The operator from its octet `op` (reserved bits clear), its `and` (already false
    /// on the first of a list) and its value.
    fn from_wire(op: u8, and: bool, value: u64) -> Result<Self, Error>;
}

impl Operator for NumericOp {
    const RESERVED: u8 = 0x08;

    fn and(&self) -> bool {
        self.and
    }

    fn value(&self) -> u64 {
        self.value
    }

    fn bits(&self) -> u8 {
        flag(self.lt, LT) | flag(self.gt, GT) | flag(self.eq, EQ)
    }

    fn from_wire(op: u8, and: bool, value: u64) -> Result<Self, Error> {
        Ok(NumericOp {
            and,
            lt: op & LT != 0,
            gt: op & GT != 0,
            eq: op & EQ != 0,
            value,
        })
    }
}

impl Operator for BitmaskOp {
    const RESERVED: u8 = 0x0c;

    fn and(&self) -> bool {
        self.and
    }

    fn value(&self) -> u64 {
        u64::from(self.value)
    }

    fn bits(&self) -> u8 {
        flag(self.not, NOT) | flag(self.match_all, MATCH)
    }

    fn from_wire(op: u8, and: bool, value: u64) -> Result<Self, Error> {
        // Bitmask values are at most 2 octets in every defined component.
        let value = u16::try_from(value).map_err(|_| Error::ValueTooLong(op))?;
        Ok(BitmaskOp {
            and,
            not: op & NOT != 0,
            match_all: op & MATCH != 0,
            value,
        })
    }
}

/// Encodes an operator list. `min_len` is the smallest value length code to use (the
/// flow label is conventionally 4 octets).
pub(super) fn encode_list<O: Operator>(
    out: &mut Vec<u8>,
    ops: &[O],
    min_len: u8,
) -> Result<(), Error> {
    if ops.is_empty() {
        return Err(Error::Unencodable("an operator list is empty"));
    }
    for (i, op) in ops.iter().enumerate() {
        let code = len_code(op.value()).max(min_len);
        let mut b = code << 4 | op.bits();
        if i + 1 == ops.len() {
            b |= END;
        }
        if op.and() && i > 0 {
            b |= AND;
        }
        out.push(b);
        put_value(out, code, op.value());
    }
    Ok(())
}

/// Reads one pair: (operator, value, end of list); advances `at`.
fn pair(buf: &[u8], at: &mut usize) -> Result<(u8, u64, bool), Error> {
    let op = *buf.get(*at).ok_or(Error::Truncated)?;
    let n = 1usize << ((op & LEN) >> 4);
    let bytes = buf.get(*at + 1..*at + 1 + n).ok_or(Error::Truncated)?;
    let value = bytes.iter().fold(0u64, |v, &b| v << 8 | u64::from(b));
    *at += 1 + n;
    Ok((op, value, op & END != 0))
}

/// Decodes an operator list starting at `at`.
pub(super) fn decode_list<O: Operator>(buf: &[u8], at: &mut usize) -> Result<Vec<O>, Error> {
    let mut ops = Vec::new();
    loop {
        let (op, value, end) = pair(buf, at)?;
        if op & O::RESERVED != 0 {
            return Err(Error::ReservedBits(op));
        }
        ops.push(O::from_wire(op, op & AND != 0 && !ops.is_empty(), value)?);
        if end {
            return Ok(ops);
        }
    }
}
