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
use crate::record::{FlowRecord, FlowType};
use crate::template::{DomainKey, Field, Kind, Template, TemplateCache, kind_for};
use std::net::IpAddr;

/// Per-datagram facts the decoder reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Netflow9Summary {
    /// Source id (the template scope).
    pub source_id: u32,
    /// Package sequence number.
    pub sequence: u32,
    /// Data flowsets whose template was unknown.
    pub template_misses: u32,
}

/// Decodes one NetFlow v9 datagram, learning templates and options into `cache`.
pub(crate) fn decode(
    data: &[u8],
    exporter: IpAddr,
    time_us: u64,
    cache: &mut TemplateCache,
    out: &mut Vec<FlowRecord>,
    summary: &mut Netflow9Summary,
) -> Result<(), DecodeError> {
    let mut c = Cursor::new(data, "NetFlow v9 header");
    if c.u16()? != 9 {
        return Err(DecodeError::UnknownFormat(u32::from(data[1])));
    }
    let _count = c.u16()?;
    let _uptime = c.u32()?;
    let _secs = c.u32()?;
    summary.sequence = c.u32()?;
    summary.source_id = c.u32()?;
    let key = DomainKey {
        flow_type: FlowType::Netflow9,
        exporter,
        domain: summary.source_id,
    };
    cache.domain(key)?;
    while c.remaining() >= 4 {
        let id = c.u16()?;
        let len = usize::from(c.u16()?);
        if len < 4 {
            return Err(DecodeError::BadLength {
                what: "NetFlow v9 flowset",
                len,
            });
        }
        let body = c.take(len - 4)?;
        match id {
            0 => templates(body, key, cache)?,
            1 => options_templates(body, key, cache)?,
            2..=255 => return Err(DecodeError::ReservedSetId(id)),
            _ => data_flowset(id, body, key, time_us, cache, out, summary)?,
        }
    }
    Ok(())
}

fn templates(body: &[u8], key: DomainKey, cache: &mut TemplateCache) -> Result<(), DecodeError> {
    let mut c = Cursor::new(body, "NetFlow v9 template");
    while c.remaining() >= 4 {
        let id = c.u16()?;
        let n = c.u16()?;
        if id < 256 {
            return Err(DecodeError::BadTemplate {
                id,
                reason: "template id below 256",
            });
        }
        let mut fields = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            let ty = c.u16()?;
            let len = c.u16()?;
            fields.push(field(id, ty, len)?);
        }
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
        let mut fields = Vec::with_capacity((scope_len + option_len) / 4);
        for i in 0..(scope_len + option_len) / 4 {
            let ty = c.u16()?;
            let len = c.u16()?;
            let f = field(id, ty, len)?;
            fields.push(if i < scope_len / 4 {
                Field {
                    kind: Kind::Skip,
                    len,
                }
            } else {
                f
            });
        }
        cache.insert(key, id, Template::new(fields, true))?;
    }
    Ok(())
}

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

fn data_flowset(
    id: u16,
    body: &[u8],
    key: DomainKey,
    time_us: u64,
    cache: &mut TemplateCache,
    out: &mut Vec<FlowRecord>,
    summary: &mut Netflow9Summary,
) -> Result<(), DecodeError> {
    let limits = cache.limits;
    let Some(d) = cache.domains.get_mut(&key) else {
        summary.template_misses += 1;
        return Ok(());
    };
    let Some(t) = d.templates.get(&id) else {
        summary.template_misses += 1;
        return Ok(());
    };
    if t.options {
        let t = t.clone();
        t.walk(body, |raw| d.learn_sampling(raw, &limits))?;
    } else {
        let blank = FlowRecord::blank(time_us, key.exporter, FlowType::Netflow9);
        let d = &*d;
        t.walk(body, |raw| {
            if let Some(r) = (*raw).to_record(blank, d.rate_for(raw)) {
                out.push(r);
            }
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
