//! NetFlow version 9 (RFC 3954).
//!
//! ```text
//! header (20 bytes): version(2)=9 | count(2) | sys_uptime(4) | unix_secs(4)
//!                    | package_sequence(4) | source_id(4)
//! flowset:           flowset_id(2) | length(2) | body, padded to 4
//!   id 0   template flowset:         { template_id(2) field_count(2) {type(2) length(2)}* }*
//!   id 1   options template flowset: { template_id(2) scope_length(2) option_length(2)
//!                                      {scope_type(2) length(2)}* {type(2) length(2)}* }*
//!   id>255 data flowset:             records laid out by template `flowset_id`
//! ```
//! Scope field types (§6.2: System, Interface, Line Card, Cache, Template) overlap the
//! numbers of ordinary field types, so options scopes are skipped, never read as fields.

use crate::cursor::Cursor;
use crate::error::DecodeError;
use crate::record::FlowType;
use crate::template::{
    Dialect, DomainKey, Field, Header, Template, TemplateCache, check_template_id, kind_for,
    read_fields,
};

/// The NetFlow v9 side of [`crate::template::decode`].
#[derive(Debug)]
pub(crate) struct Netflow9;

impl Dialect for Netflow9 {
    const FLOW_TYPE: FlowType = FlowType::Netflow9;
    const VERSION: u16 = 9;
    const HEADER: &'static str = "NetFlow v9 header";
    const SET: &'static str = "NetFlow v9 flowset";
    const PADDING: usize = 3;
    const COUNTS_RECORDS: bool = false;
    const TEMPLATE_SET: u16 = 0;
    const OPTIONS_TEMPLATE_SET: u16 = 1;

    fn header<'a>(mut c: Cursor<'a>, _: &'a [u8]) -> Result<Header<'a>, DecodeError> {
        let _count = c.u16()?;
        let _uptime = c.u32()?;
        let _secs = c.u32()?;
        Ok(Header {
            sequence: c.u32()?,
            domain: c.u32()?,
            sets: c,
        })
    }

    fn templates(
        body: &[u8],
        options: bool,
        key: DomainKey,
        cache: &mut TemplateCache,
    ) -> Result<(), DecodeError> {
        if options {
            options_templates(body, key, cache)
        } else {
            templates(body, key, cache)
        }
    }
}

fn templates(body: &[u8], key: DomainKey, cache: &mut TemplateCache) -> Result<(), DecodeError> {
    let mut c = Cursor::new(body, "NetFlow v9 template");
    while c.remaining() >= 4 {
        let id = c.u16()?;
        let n = c.u16()?;
        check_template_id(id)?;
        let fields = read_fields(&mut c, usize::from(n), 0, |_, ty, len| field(id, ty, len))?;
        cache.insert(key, id, Template::new(fields, false))?;
    }
    Ok(())
}

fn options_templates(
    body: &[u8],
    key: DomainKey,
    cache: &mut TemplateCache,
) -> Result<(), DecodeError> {
    let mut c = Cursor::new(body, "NetFlow v9 options template");
    // Each options template is at least 6 bytes; what is left after the last is padding.
    while c.remaining() >= 6 {
        let id = c.u16()?;
        let scope_len = usize::from(c.u16()?);
        let option_len = usize::from(c.u16()?);
        if id < 256 || scope_len % 4 != 0 || option_len % 4 != 0 {
            return Err(DecodeError::BadTemplate {
                id,
                reason: "bad options template header",
            });
        }
        let n = (scope_len + option_len) / 4;
        let fields = read_fields(&mut c, n, scope_len / 4, |_, ty, len| field(id, ty, len))?;
        cache.insert(key, id, Template::new(fields, true))?;
    }
    Ok(())
}

/// One field specifier of template `id`: `type(2) | length(2)`.
#[inline]
fn field(id: u16, ty: u16, len: u16) -> Result<Field, DecodeError> {
    // NetFlow v9 has no variable-length fields; 0xffff would be a lie here.
    if len == 0 || len == crate::template::VARLEN {
        return Err(DecodeError::BadTemplate {
            id,
            reason: "field length 0 or 65535",
        });
    }
    Ok(Field {
        kind: kind_for(ty),
        len,
    })
}

#[cfg(test)]
mod tests;
