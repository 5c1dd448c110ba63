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

fn put_value(out: &mut Vec<u8>, code: u8, v: u64) {
    let n = 1usize << code;
    out.extend_from_slice(&v.to_be_bytes()[8 - n..]);
}

/// Encodes a numeric list. `min_len` is the smallest value length code to use (the
/// flow label is conventionally 4 octets).
pub(super) fn encode_numeric(
    out: &mut Vec<u8>,
    ops: &[NumericOp],
    min_len: u8,
) -> Result<(), Error> {
    if ops.is_empty() {
        return Err(Error::Unencodable("an operator list is empty"));
    }
    for (i, op) in ops.iter().enumerate() {
        let code = len_code(op.value).max(min_len);
        let mut b = code << 4;
        if i + 1 == ops.len() {
            b |= END;
        }
        if op.and && i > 0 {
            b |= AND;
        }
        if op.lt {
            b |= LT;
        }
        if op.gt {
            b |= GT;
        }
        if op.eq {
            b |= EQ;
        }
        out.push(b);
        put_value(out, code, op.value);
    }
    Ok(())
}

/// Encodes a bitmask list.
pub(super) fn encode_bitmask(out: &mut Vec<u8>, ops: &[BitmaskOp]) -> Result<(), Error> {
    if ops.is_empty() {
        return Err(Error::Unencodable("an operator list is empty"));
    }
    for (i, op) in ops.iter().enumerate() {
        let code = len_code(u64::from(op.value));
        let mut b = code << 4;
        if i + 1 == ops.len() {
            b |= END;
        }
        if op.and && i > 0 {
            b |= AND;
        }
        if op.not {
            b |= NOT;
        }
        if op.match_all {
            b |= MATCH;
        }
        out.push(b);
        put_value(out, code, u64::from(op.value));
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

/// Decodes a numeric list starting at `at`.
pub(super) fn decode_numeric(buf: &[u8], at: &mut usize) -> Result<Vec<NumericOp>, Error> {
    let mut ops = Vec::new();
    loop {
        let (op, value, end) = pair(buf, at)?;
        if op & 0x08 != 0 {
            return Err(Error::ReservedBits(op));
        }
        ops.push(NumericOp {
            and: op & AND != 0 && !ops.is_empty(),
            lt: op & LT != 0,
            gt: op & GT != 0,
            eq: op & EQ != 0,
            value,
        });
        if end {
            return Ok(ops);
        }
    }
}

/// Decodes a bitmask list starting at `at`.
pub(super) fn decode_bitmask(buf: &[u8], at: &mut usize) -> Result<Vec<BitmaskOp>, Error> {
    let mut ops = Vec::new();
    loop {
        let (op, value, end) = pair(buf, at)?;
        if op & 0x0c != 0 {
            return Err(Error::ReservedBits(op));
        }
        // Bitmask values are at most 2 octets in every defined component.
        let value = u16::try_from(value).map_err(|_| Error::ValueTooLong(op))?;
        ops.push(BitmaskOp {
            and: op & AND != 0 && !ops.is_empty(),
            not: op & NOT != 0,
            match_all: op & MATCH != 0,
            value,
        });
        if end {
            return Ok(ops);
        }
    }
}
