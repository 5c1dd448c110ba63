//! Templates shared by NetFlow v9 (RFC 3954) and IPFIX (RFC 7011).
//!
//! A template is compiled once, when it arrives, into a list of [`Field`]s that name what
//! each field means to levee ([`Kind`]), so that decoding a data record is a single pass of
//! fixed-offset integer reads. Both protocols share the information element numbers used
//! here (RFC 3954 §8 and the IANA IPFIX registry, RFC 7012).

mod cache;
mod fields;
mod sets;

pub use cache::{CacheStats, Limits};
pub(crate) use cache::{DomainKey, TemplateCache};
pub(crate) use fields::{Kind, RawFields, kind_for};
pub(crate) use sets::{Dialect, Header, StreamSummary, check_template_id, decode, read_fields};

/// Field length value that marks an IPFIX variable-length field (RFC 7011 §7).
pub(crate) const VARLEN: u16 = 0xffff;

/// One field of a compiled template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) kind: Kind,
    /// Length in bytes, or [`VARLEN`].
    pub(crate) len: u16,
}

/// A compiled data or options template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pub(crate) fields: Box<[Field]>,
    /// Record length when no field is variable-length.
    pub(crate) fixed_len: Option<usize>,
    /// Smallest possible record length (variable fields counted as one length byte).
    pub(crate) min_len: usize,
    /// An options template: its records describe the exporter (sampling), not traffic.
    pub(crate) options: bool,
}

impl Template {
    pub(crate) fn new(fields: Vec<Field>, options: bool) -> Self {
        let variable = fields.iter().any(|f| f.len == VARLEN);
        let min_len = fields
            .iter()
            .map(|f| {
                if f.len == VARLEN {
                    1
                } else {
                    usize::from(f.len)
                }
            })
            .sum();
        Template {
            fields: fields.into_boxed_slice(),
            fixed_len: (!variable).then_some(min_len),
            min_len,
            options,
        }
    }

    /// Walks the records of a data set, calling `each` with the fields of every record.
    /// Stops at padding (fewer bytes left than the smallest record). Returns the number of
    /// records, or an error when a variable-length field runs past the set.
    pub(crate) fn walk(
        &self,
        mut data: &[u8],
        mut each: impl FnMut(&RawFields),
    ) -> Result<u32, crate::DecodeError> {
        let mut count = 0;
        if self.min_len == 0 {
            return Ok(0);
        }
        while data.len() >= self.min_len {
            let mut raw = RawFields::default();
            match self.fixed_len {
                Some(len) => {
                    let mut at = 0;
                    for f in self.fields.iter() {
                        let l = usize::from(f.len);
                        raw.set(f.kind, &data[at..at + l]);
                        at += l;
                    }
                    data = &data[len..];
                }
                None => {
                    for f in self.fields.iter() {
                        let l = if f.len == VARLEN {
                            // RFC 7011 §7: one length byte, or 255 then a 2-byte length.
                            let (l, hdr) = match data.first() {
                                Some(255) if data.len() >= 3 => {
                                    (usize::from(u16::from_be_bytes([data[1], data[2]])), 3)
                                }
                                Some(&l) if l != 255 => (usize::from(l), 1),
                                _ => return Err(truncated(data.len())),
                            };
                            data = &data[hdr..];
                            l
                        } else {
                            usize::from(f.len)
                        };
                        if l > data.len() {
                            return Err(truncated(data.len()));
                        }
                        raw.set(f.kind, &data[..l]);
                        data = &data[l..];
                    }
                }
            }
            each(&raw);
            count += 1;
        }
        Ok(count)
    }
}

fn truncated(have: usize) -> crate::DecodeError {
    crate::DecodeError::Truncated {
        what: "variable-length field",
        need: have + 1,
        have,
    }
}
