//! The set-level handling NetFlow v9 and IPFIX share: a datagram is a header naming an
//! export stream, then sets (v9 "FlowSets") of templates, options templates and data.
//!
//! ```text
//! set / flowset: id(2) | length(2), header included | body
//! ```
//! Each protocol (a [`Dialect`]) reads its own header and its own template records; the
//! set framing, the stream's state, the compiling of field lists into templates and the
//! decoding of data sets against them are the same for both (RFC 3954 §5, RFC 7011 §3).

use super::{DomainKey, Field, Kind, TemplateCache};
use crate::cursor::Cursor;
use crate::error::DecodeError;
use crate::record::{FlowRecord, FlowType};
use std::net::IpAddr;

/// What tells NetFlow v9 and IPFIX apart; [`decode`] is the rest, the same for both.
pub(crate) trait Dialect {
    /// The format, in stream keys and records.
    const FLOW_TYPE: FlowType;
    /// The header's version word.
    const VERSION: u16;
    /// The header, in truncation errors.
    const HEADER: &'static str;
    /// A set, in length errors.
    const SET: &'static str;
    /// Bytes after the last set that are padding, not the start of another set.
    const PADDING: usize;
    /// Sequence numbers count data records (IPFIX), not datagrams (NetFlow v9).
    const COUNTS_RECORDS: bool;
    /// Set id of template sets.
    const TEMPLATE_SET: u16;
    /// Set id of options template sets.
    const OPTIONS_TEMPLATE_SET: u16;

    /// Reads the rest of the header from `c`, which has read the version word of `data`.
    fn header<'a>(c: Cursor<'a>, data: &'a [u8]) -> Result<Header<'a>, DecodeError>;

    /// Learns the template records of a template set, or of an options template set.
    fn templates(
        body: &[u8],
        options: bool,
        key: DomainKey,
        cache: &mut TemplateCache,
    ) -> Result<(), DecodeError>;
}

/// A datagram header, read.
#[derive(Debug)]
pub(crate) struct Header<'a> {
    /// Datagrams (v9) or data records (IPFIX) sent before this datagram.
    pub(crate) sequence: u32,
    /// NetFlow v9 source id or IPFIX observation domain: the template scope.
    pub(crate) domain: u32,
    /// The sets that follow.
    pub(crate) sets: Cursor<'a>,
}

/// What decoding one NetFlow v9 datagram or IPFIX message found out about its stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StreamSummary {
    /// The stream (exporter, format, source id or observation domain), once its header
    /// was read.
    pub(crate) key: Option<DomainKey>,
    /// The header's sequence number.
    pub(crate) sequence: u32,
    /// Data records in the datagram (traffic and options).
    pub(crate) data_records: u32,
    /// Data sets whose template was unknown.
    pub(crate) template_misses: u32,
}

/// Decodes one NetFlow v9 datagram or IPFIX message from `exporter`, learning templates
/// and options into `cache` and appending flow records to `out`.
pub(crate) fn decode<D: Dialect>(
    data: &[u8],
    exporter: IpAddr,
    time_us: u64,
    cache: &mut TemplateCache,
    out: &mut Vec<FlowRecord>,
    summary: &mut StreamSummary,
) -> Result<(), DecodeError> {
    let mut c = Cursor::new(data, D::HEADER);
    if c.u16()? != D::VERSION {
        return Err(DecodeError::UnknownFormat(u32::from(data[1])));
    }
    let Header {
        sequence,
        domain,
        mut sets,
    } = D::header(c, data)?;
    let key = DomainKey {
        flow_type: D::FLOW_TYPE,
        exporter,
        domain,
        source: exporter,
    };
    summary.sequence = sequence;
    summary.key = Some(key);
    cache.domain(key)?;
    while sets.remaining() > D::PADDING {
        let (id, body) = next_set(&mut sets, D::SET)?;
        match id {
            _ if id == D::TEMPLATE_SET => D::templates(body, false, key, cache)?,
            _ if id == D::OPTIONS_TEMPLATE_SET => D::templates(body, true, key, cache)?,
            0..=255 => return Err(DecodeError::ReservedSetId(id)),
            _ => data_set(id, body, key, time_us, cache, out, summary)?,
        }
    }
    Ok(())
}

/// Reads one set header and its body: `(id, body)`. `what` names the set in the error for
/// a length shorter than its own header; a body past the buffer is the cursor's
/// truncation.
#[inline]
fn next_set<'a>(c: &mut Cursor<'a>, what: &'static str) -> Result<(u16, &'a [u8]), DecodeError> {
    let id = c.u16()?;
    let len = usize::from(c.u16()?);
    if len < 4 {
        return Err(DecodeError::BadLength { what, len });
    }
    Ok((id, c.take(len - 4)?))
}

/// Template ids 0-255 name sets, not templates (RFC 3954 §5.2, RFC 7011 §3.4.1).
#[inline]
pub(crate) fn check_template_id(id: u16) -> Result<(), DecodeError> {
    if id < 256 {
        return Err(DecodeError::BadTemplate {
            id,
            reason: "template id below 256",
        });
    }
    Ok(())
}

/// Reads the `count` field specifiers of one template record: each starts with a field
/// type (information element) and a length, both 2 bytes, which `spec` turns into a
/// field, reading what more the protocol's specifier holds. The first `skipped` fields
/// are read but never interpreted (NetFlow v9 options scopes).
#[inline]
pub(crate) fn read_fields<'a>(
    c: &mut Cursor<'a>,
    count: usize,
    skipped: usize,
    mut spec: impl FnMut(&mut Cursor<'a>, u16, u16) -> Result<Field, DecodeError>,
) -> Result<Vec<Field>, DecodeError> {
    let mut fields = Vec::with_capacity(count);
    for i in 0..count {
        let ty = c.u16()?;
        let len = c.u16()?;
        let f = spec(c, ty, len)?;
        fields.push(if i < skipped {
            Field {
                kind: Kind::Skip,
                ..f
            }
        } else {
            f
        });
    }
    Ok(fields)
}

/// Decodes a data set laid out by template `id` of stream `key`: options records teach
/// the stream's sampling, traffic records become flow records in `out`. A set whose
/// template is unknown is counted in `summary.template_misses` and skipped.
fn data_set(
    id: u16,
    body: &[u8],
    key: DomainKey,
    time_us: u64,
    cache: &mut TemplateCache,
    out: &mut Vec<FlowRecord>,
    summary: &mut StreamSummary,
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
        let blank = FlowRecord::blank(time_us, key.exporter, key.flow_type);
        let d = &*d;
        let before = out.len();
        let n = t.walk(body, |raw| {
            if let Some(r) = (*raw).to_record(blank, d.rate_for(raw)) {
                out.push(r);
            }
        })?;
        if out.len() > before {
            cache.used(&key);
        }
        n
    };
    summary.data_records += n;
    Ok(())
}
