//! sFlow version 5 datagram walker (sflow.org, "sFlow Version 5", July 2004).
//!
//! Zero-copy: it walks the XDR structures in place and emits one [`FlowRecord`] per flow
//! sample that carries a usable record (a sampled header, or a sampled IPv4/IPv6 record),
//! and one [`InterfaceCounters`] per generic interface counter record.
//!
//! ```text
//! datagram:     version(5) | agent_address | sub_agent_id | sequence | uptime | samples<>
//! sample:       data_format(enterprise<<12|format) | opaque sample_data<>
//!   1 flow_sample            3 flow_sample_expanded
//!   2 counters_sample        4 counters_sample_expanded
//! flow record:  1 sampled_header   3 sampled_ipv4   4 sampled_ipv6   1001 extended_switch
//! counter rec:  1 generic interface counters
//! ```

mod counters;
mod flow_sample;

use crate::cursor::Cursor;
use crate::error::DecodeError;
use crate::record::{FlowRecord, InterfaceCounters};
use std::net::IpAddr;

/// The fixed part of an sFlow v5 datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SflowHeader {
    /// Agent (exporter) address.
    pub agent: IpAddr,
    /// Sub-agent id.
    pub sub_agent: u32,
    /// Datagram sequence number for this (agent, sub-agent).
    pub sequence: u32,
    /// Agent uptime in milliseconds.
    pub uptime_ms: u32,
    /// Number of samples announced.
    pub samples: u32,
}

/// Most samples a datagram may announce; real agents send well under 100 (MTU-bound).
const MAX_SAMPLES: u32 = 4096;

/// Decodes one sFlow v5 datagram, appending to `records` and `counters`.
///
/// Returns the header; on a malformed sample, the samples before it are kept and the error
/// is returned with them through `Err((header, error))` semantics: see [`SflowOutcome`].
pub fn decode(
    data: &[u8],
    time_us: u64,
    records: &mut Vec<FlowRecord>,
    counters: &mut Vec<InterfaceCounters>,
) -> SflowOutcome {
    let mut c = Cursor::new(data, "sFlow datagram header");
    let header = match read_header(&mut c) {
        Ok(h) => h,
        Err(e) => {
            return SflowOutcome {
                header: None,
                error: Some(e),
            };
        }
    };
    let error = walk_samples(&mut c, &header, time_us, records, counters).err();
    SflowOutcome {
        header: Some(header),
        error,
    }
}

/// What [`decode`] found: the header when it was readable, and the first error, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SflowOutcome {
    /// The datagram header, when readable.
    pub header: Option<SflowHeader>,
    /// The error that stopped decoding, after the records before it were emitted.
    pub error: Option<DecodeError>,
}

fn read_header(c: &mut Cursor<'_>) -> Result<SflowHeader, DecodeError> {
    let version = c.u32()?;
    if version != 5 {
        return Err(DecodeError::UnknownFormat(version));
    }
    let agent = match c.u32()? {
        1 => IpAddr::V4(c.ipv4()?),
        2 => IpAddr::V6(c.ipv6()?),
        other => return Err(DecodeError::AddressType(other)),
    };
    Ok(SflowHeader {
        agent,
        sub_agent: c.u32()?,
        sequence: c.u32()?,
        uptime_ms: c.u32()?,
        samples: c.u32()?,
    })
}

fn walk_samples(
    c: &mut Cursor<'_>,
    header: &SflowHeader,
    time_us: u64,
    records: &mut Vec<FlowRecord>,
    counters: &mut Vec<InterfaceCounters>,
) -> Result<(), DecodeError> {
    if header.samples > MAX_SAMPLES {
        return Err(DecodeError::BadLength {
            what: "sFlow sample count",
            len: header.samples as usize,
        });
    }
    for _ in 0..header.samples {
        let format = c.u32()?;
        let body = c.opaque("sFlow sample")?;
        // Enterprise 0 only; other enterprises' samples are skipped whole.
        match format {
            1 => flow_sample::decode(body, false, header.agent, time_us, records)?,
            3 => flow_sample::decode(body, true, header.agent, time_us, records)?,
            2 => counters::decode(body, false, header.agent, time_us, counters)?,
            4 => counters::decode(body, true, header.agent, time_us, counters)?,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests;
