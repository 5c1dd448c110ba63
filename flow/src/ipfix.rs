//! IPFIX (RFC 7011).
//!
//! ```text
//! message header (16 bytes): version(2)=10 | length(2) | export_time(4)
//!                            | sequence_number(4) | observation_domain_id(4)
//! set header:                set_id(2) | length(2)
//!   2    template set:         { template_id(2) field_count(2) field_specifier* }*
//!   3    options template set: { template_id(2) field_count(2) scope_field_count(2)
//!                                field_specifier* }*
//!   >255 data set
//! field specifier:           E(1 bit) ie(15) | length(2) [| enterprise_number(4) if E]
//! ```
//! Length 65535 marks a variable-length field (§7). A template record whose field count
//! is 0 withdraws that template; template id 2 (or 3 in an options set) withdraws all
//! (§8.1). Enterprise-specific fields are skipped.

use crate::cursor::Cursor;
use crate::error::DecodeError;
use crate::record::FlowType;
use crate::template::{
    Dialect, DomainKey, Field, Header, Kind, Template, TemplateCache, check_template_id, kind_for,
    read_fields,
};

/// The IPFIX side of [`crate::template::decode`].
#[derive(Debug)]
pub(crate) struct Ipfix;

impl Dialect for Ipfix {
    const FLOW_TYPE: FlowType = FlowType::Ipfix;
    const VERSION: u16 = 10;
    const HEADER: &'static str = "IPFIX message header";
    const SET: &'static str = "IPFIX set";
    const PADDING: usize = 0;
    const COUNTS_RECORDS: bool = true;
    const TEMPLATE_SET: u16 = 2;
    const OPTIONS_TEMPLATE_SET: u16 = 3;

    fn header<'a>(mut c: Cursor<'a>, data: &'a [u8]) -> Result<Header<'a>, DecodeError> {
        let len = usize::from(c.u16()?);
        let _export_time = c.u32()?;
        let sequence = c.u32()?;
        let domain = c.u32()?;
        if len < 16 {
            return Err(DecodeError::BadLength {
                what: "IPFIX message",
                len,
            });
        }
        if len > data.len() {
            return Err(DecodeError::Truncated {
                what: "IPFIX message",
                need: len,
                have: data.len(),
            });
        }
        Ok(Header {
            sequence,
            domain,
            sets: Cursor::new(&data[16..len], "IPFIX set header"),
        })
    }

    /// Template ids 2 and 3 with no fields withdraw all templates of their kind (§8.1).
    fn templates(
        body: &[u8],
        options: bool,
        key: DomainKey,
        cache: &mut TemplateCache,
    ) -> Result<(), DecodeError> {
        let mut c = Cursor::new(body, "IPFIX template record");
        // A template record is at least 4 bytes; shorter leftovers are padding.
        while c.remaining() >= 4 {
            let id = c.u16()?;
            let n = c.u16()?;
            if n == 0 {
                match id {
                    2 | 3 => cache.withdraw_all(key, options),
                    256.. => cache.withdraw(key, id),
                    _ => {
                        return Err(DecodeError::BadTemplate {
                            id,
                            reason: "bad withdrawal id",
                        });
                    }
                }
                continue;
            }
            check_template_id(id)?;
            let scope = if options { c.u16()? } else { 0 };
            if options && (scope == 0 || scope > n) {
                return Err(DecodeError::BadTemplate {
                    id,
                    reason: "bad scope field count",
                });
            }
            // Scope fields are ordinary information elements here (RFC 7011 §3.4.2.2): the
            // selector id that sampling options are keyed by is one.
            let fields = read_fields(&mut c, usize::from(n), 0, |c, ie, len| {
                field(c, id, ie, len)
            })?;
            cache.insert(key, id, Template::new(fields, options))?;
        }
        Ok(())
    }
}

/// One field specifier of template `id`: `E(1 bit) ie(15) | length(2)`, read, then
/// `[enterprise_number(4)]` when E is set.
#[inline]
fn field(c: &mut Cursor<'_>, id: u16, ie: u16, len: u16) -> Result<Field, DecodeError> {
    if len == 0 {
        return Err(DecodeError::BadTemplate {
            id,
            reason: "field length 0",
        });
    }
    let kind = if ie & 0x8000 != 0 {
        c.u32()?; // enterprise number: not ours to interpret
        Kind::Skip
    } else {
        kind_for(ie)
    };
    Ok(Field { kind, len })
}

#[cfg(test)]
mod tests;
