//! IPFIX messages (RFC 7011): a 16-byte header, then sets (templates, options
//! templates, data), each `(id, length, body)`.

/// Set ID of template sets.
pub const TEMPLATE_SET: u16 = 2;
/// Set ID of options template sets.
pub const OPTIONS_TEMPLATE_SET: u16 = 3;

/// A message (RFC 7011 §3.1) of `sets`, export time 0x67000000:
///
/// ```text
/// | Version = 10 | Length | Export Time | Sequence Number | Observation Domain ID |
/// ```
pub fn message(sequence: u32, domain: u32, sets: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = sets.concat();
    let mut m = vec![0, 10];
    m.extend_from_slice(&((body.len() + 16) as u16).to_be_bytes());
    m.extend_from_slice(&[0x67, 0, 0, 0]);
    m.extend_from_slice(&sequence.to_be_bytes());
    m.extend_from_slice(&domain.to_be_bytes());
    m.extend(body);
    m
}

/// A set (RFC 7011 §3.3.2): ID, length (with these four bytes), body as given; the
/// layout of a NetFlow v9 FlowSet.
pub fn set(id: u16, body: &[u8]) -> Vec<u8> {
    crate::netflow9::flowset(id, body)
}
