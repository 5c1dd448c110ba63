//! sFlow version 5 datagrams (sflow.org, sflow_version_5.txt), built field by field in
//! XDR (RFC 4506): big-endian 32-bit words, opaque data length-prefixed and padded to a
//! multiple of four bytes.
//!
//! A datagram is a header and samples; each sample and each record within a flow sample
//! is `(format, opaque body)`. [`datagram`] writes the header around sample bodies,
//! [`FlowSample::encode`] a flow sample around its records, [`raw_header`] the record
//! of a sampled packet header ([`FlowSample::ethernet`]: both at once, for one sampled
//! Ethernet frame); [`Xdr`] writes anything else (expanded samples, counters).

use std::net::Ipv4Addr;

/// Sample format (enterprise 0) of a flow sample.
pub const FLOW_SAMPLE: u32 = 1;
/// Sample format of a counters sample.
pub const COUNTERS_SAMPLE: u32 = 2;
/// Sample format of an expanded flow sample.
pub const EXPANDED_FLOW_SAMPLE: u32 = 3;
/// Flow record format of a sampled packet header.
pub const RAW_HEADER: u32 = 1;
/// `header_protocol` of an Ethernet (ISO 8802-3) frame.
pub const ETHERNET: u32 = 1;

/// An XDR writer: words, opaque data and raw bytes, appended in order.
#[derive(Debug, Default, Clone)]
pub struct Xdr(pub Vec<u8>);

impl Xdr {
    /// An unsigned int.
    pub fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// An unsigned hyper.
    pub fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Bytes as they are (fixed-length opaque data, whose length is a multiple of 4).
    pub fn bytes(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }

    /// Variable-length opaque data: the length, the bytes, zeros to a multiple of 4.
    pub fn opaque(self, b: &[u8]) -> Self {
        let mut s = self.u32(b.len() as u32).bytes(b);
        while !s.0.len().is_multiple_of(4) {
            s.0.push(0);
        }
        s
    }

    /// `(format, opaque body)` pairs, after their count.
    pub fn records(self, records: &[(u32, Vec<u8>)]) -> Self {
        let mut s = self.u32(records.len() as u32);
        for (format, body) in records {
            s = s.u32(*format).opaque(body);
        }
        s
    }
}

/// A datagram from an IPv4 agent:
///
/// ```text
/// struct sample_datagram_v5 {
///    address agent_address;          /* type 1 (IPv4), then 4 bytes */
///    unsigned int sub_agent_id;      /* 0 here */
///    unsigned int sequence_number;
///    unsigned int uptime;            /* ms */
///    sample_record samples<>;        /* (format, opaque) each */
/// }
/// ```
pub fn datagram(
    agent: Ipv4Addr,
    sequence: u32,
    uptime_ms: u32,
    samples: &[(u32, Vec<u8>)],
) -> Vec<u8> {
    Xdr::default()
        .u32(5)
        .u32(1)
        .bytes(&agent.octets())
        .u32(0)
        .u32(sequence)
        .u32(uptime_ms)
        .records(samples)
        .0
}

/// The fields of a flow sample (format [`FLOW_SAMPLE`]) before its records:
///
/// ```text
/// struct flow_sample {
///    unsigned int sequence_number;
///    sflow_data_source source_id;
///    unsigned int sampling_rate;
///    unsigned int sample_pool;
///    unsigned int drops;
///    interface input;
///    interface output;
///    flow_record flow_records<>;
/// }
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct FlowSample {
    /// `sequence_number`.
    pub sequence: u32,
    /// `source_id` (type in the top byte, index below).
    pub source_id: u32,
    /// `sampling_rate`: one packet in this many.
    pub rate: u32,
    /// `sample_pool`: packets that could have been sampled.
    pub pool: u32,
    /// `drops`.
    pub drops: u32,
    /// Input interface.
    pub input: u32,
    /// Output interface.
    pub output: u32,
}

impl FlowSample {
    /// The sample's body with `records` (`(format, body)` each, such as
    /// `(RAW_HEADER, raw_header(..))`).
    pub fn encode(&self, records: &[(u32, Vec<u8>)]) -> Vec<u8> {
        Xdr::default()
            .u32(self.sequence)
            .u32(self.source_id)
            .u32(self.rate)
            .u32(self.pool)
            .u32(self.drops)
            .u32(self.input)
            .u32(self.output)
            .records(records)
            .0
    }

    /// The sample (format and body) of one sampled Ethernet frame: a [`RAW_HEADER`]
    /// record of the first bytes of a frame of `frame_length` bytes, `stripped` of them
    /// removed (the FCS, say) before sampling.
    pub fn ethernet(&self, frame_length: u32, stripped: u32, header: &[u8]) -> (u32, Vec<u8>) {
        let record = raw_header(ETHERNET, frame_length, stripped, header);
        (FLOW_SAMPLE, self.encode(&[(RAW_HEADER, record)]))
    }
}

/// The body of a sampled packet header record (format [`RAW_HEADER`]):
///
/// ```text
/// struct sampled_header {
///    header_protocol protocol;       /* ETHERNET: 1 */
///    unsigned int frame_length;
///    unsigned int stripped;
///    opaque header<>;
/// }
/// ```
pub fn raw_header(protocol: u32, frame_length: u32, stripped: u32, header: &[u8]) -> Vec<u8> {
    Xdr::default()
        .u32(protocol)
        .u32(frame_length)
        .u32(stripped)
        .opaque(header)
        .0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datagram_word_by_word() {
        let rec = raw_header(ETHERNET, 64, 4, &[0xaa; 5]);
        assert_eq!(rec.len(), 16 + 8, "header padded to 8");
        let s = FlowSample {
            sequence: 9,
            rate: 10,
            pool: 90,
            ..FlowSample::default()
        }
        .encode(&[(RAW_HEADER, rec.clone())]);
        assert_eq!(
            s.len(),
            32 + 8 + rec.len(),
            "8 words, format and length, record"
        );
        let d = datagram(
            Ipv4Addr::new(192, 0, 2, 1),
            7,
            1000,
            &[(FLOW_SAMPLE, s.clone())],
        );
        assert_eq!(
            d[..28],
            crate::bytes::u32s(&[5, 1, 0xc000_0201, 0, 7, 1000, 1])[..]
        );
        assert_eq!(d[28..36], crate::bytes::u32s(&[1, s.len() as u32])[..]);
        assert_eq!(d[36..], s[..]);
    }
}
