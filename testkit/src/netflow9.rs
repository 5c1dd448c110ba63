//! NetFlow version 9 export packets (RFC 3954): a header, then FlowSets (templates,
//! options templates, data), each `(id, length, body)`.

/// FlowSet ID of template FlowSets.
pub const TEMPLATE: u16 = 0;
/// FlowSet ID of options template FlowSets.
pub const OPTIONS_TEMPLATE: u16 = 1;

/// The packet header (RFC 3954 §5.1), count 1 and times zero:
///
/// ```text
/// | Version = 9 | Count | sysUpTime | UNIX Secs | Sequence Number | Source ID |
/// ```
pub fn header(sequence: u32, source_id: u32) -> Vec<u8> {
    let mut d = vec![0, 9, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    d.extend_from_slice(&sequence.to_be_bytes());
    d.extend_from_slice(&source_id.to_be_bytes());
    d
}

/// A FlowSet (RFC 3954 §5.2-5.3): ID, length (with these four bytes), body as given
/// (padding included, if any).
pub fn flowset(id: u16, body: &[u8]) -> Vec<u8> {
    let mut f = id.to_be_bytes().to_vec();
    f.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
    f.extend_from_slice(body);
    f
}
