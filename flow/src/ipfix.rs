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
use crate::record::{FlowRecord, FlowType};
use crate::template::{DomainKey, Field, Kind, Template, TemplateCache, kind_for};
use std::net::IpAddr;

/// Per-message facts the decoder reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IpfixSummary {
    /// Observation domain id.
    pub domain: u32,
    /// Sequence number: data records sent before this message, modulo 2^32.
    pub sequence: u32,
    /// Data records in this message (traffic and options).
    pub data_records: u32,
    /// Data sets whose template was unknown.
    pub template_misses: u32,
}

/// Decodes one IPFIX message, learning templates and options into `cache`.
pub(crate) fn decode(
    data: &[u8],
    exporter: IpAddr,
    time_us: u64,
    cache: &mut TemplateCache,
    out: &mut Vec<FlowRecord>,
    summary: &mut IpfixSummary,
) -> Result<(), DecodeError> {
    let mut c = Cursor::new(data, "IPFIX message header");
    if c.u16()? != 10 {
        return Err(DecodeError::UnknownFormat(u32::from(data[1])));
    }
    let len = usize::from(c.u16()?);
    let _export_time = c.u32()?;
    summary.sequence = c.u32()?;
    summary.domain = c.u32()?;
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
    let key = DomainKey {
        flow_type: FlowType::Ipfix,
        exporter,
        domain: summary.domain,
    };
    cache.domain(key)?;
    let mut c = Cursor::new(&data[16..len], "IPFIX set header");
    while !c.is_empty() {
        let id = c.u16()?;
        let set_len = usize::from(c.u16()?);
        if set_len < 4 {
            return Err(DecodeError::BadLength {
                what: "IPFIX set",
                len: set_len,
            });
        }
        let body = c.take(set_len - 4)?;
        match id {
            2 => templates(body, false, key, cache)?,
            3 => templates(body, true, key, cache)?,
            0..=255 => return Err(DecodeError::ReservedSetId(id)),
            _ => data_set(id, body, key, time_us, cache, out, summary)?,
        }
    }
    Ok(())
}

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
        if id < 256 {
            return Err(DecodeError::BadTemplate {
                id,
                reason: "template id below 256",
            });
        }
        let scope = if options { c.u16()? } else { 0 };
        if options && (scope == 0 || scope > n) {
            return Err(DecodeError::BadTemplate {
                id,
                reason: "bad scope field count",
            });
        }
        let mut fields = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            let ie = c.u16()?;
            let len = c.u16()?;
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
            fields.push(Field { kind, len });
        }
        cache.insert(key, id, Template::new(fields, options))?;
    }
    Ok(())
}

fn data_set(
    id: u16,
    body: &[u8],
    key: DomainKey,
    time_us: u64,
    cache: &mut TemplateCache,
    out: &mut Vec<FlowRecord>,
    summary: &mut IpfixSummary,
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
    let n = if t.options {
        let t = t.clone();
        t.walk(body, |raw| d.learn_sampling(raw, &limits))?
    } else {
        let blank = FlowRecord::blank(time_us, key.exporter, FlowType::Ipfix);
        let d = &*d;
        t.walk(body, |raw| {
            if let Some(r) = (*raw).to_record(blank, d.rate_for(raw)) {
                out.push(r);
            }
        })?
    };
    summary.data_records += n;
    Ok(())
}

#[cfg(test)]
mod tests;
