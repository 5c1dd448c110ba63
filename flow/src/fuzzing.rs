//! The bodies of the cargo-fuzz targets (`flow/fuzz/fuzz_targets/*`), one function per
//! target, so that the same code runs under libFuzzer and as a normal test over the
//! checked-in regression corpora (`flow/fuzz/regressions/TARGET/`, walked by
//! `flow/tests/fuzz_regressions.rs`): an input that once crashed a decoder keeps failing
//! `cargo test` if the bug returns.
//!
//! Each function feeds arbitrary bytes to a decoder and panics only when the decoder
//! breaks a promise (a panic inside it, a bound exceeded, a record with no sampling
//! rate). Not part of the decoding API.

use crate::{Batch, Decoder, Limits, packet};
use std::net::{IpAddr, Ipv4Addr};

/// The exporter every target's datagrams come from (a documentation address).
const EXPORTER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

/// Tight limits, so that the template bounds are reachable from a small input (any
/// limit added later keeps its default).
fn tight() -> Limits {
    Limits {
        max_domains: 4,
        max_templates_per_domain: 8,
        max_templates_total: 16,
        max_samplers_per_domain: 4,
        ..Limits::default()
    }
}

/// A target's body: arbitrary bytes in, a panic only on a broken promise.
pub type Body = fn(&[u8]);

/// The names of the targets, as in `flow/fuzz/Cargo.toml`, with their bodies.
pub const TARGETS: [(&str, Body); 5] = [
    ("sflow", sflow),
    ("packet_header", packet_header),
    ("netflow5", netflow5),
    ("netflow9", netflow9),
    ("ipfix", ipfix),
];

/// Splits `data` at each occurrence of `sep`, so one input can hold several datagrams.
pub fn split<'a>(data: &'a [u8], sep: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.windows(sep.len()).position(|w| w == sep) {
            Some(p) => {
                rest = Some(&r[p + sep.len()..]);
                Some(&r[..p])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// sFlow v5 datagrams (the input follows the version word) through the stateful
/// decoder: format detection, sequence state; every record has a sampling rate.
pub fn sflow(data: &[u8]) {
    let mut d = vec![0, 0, 0, 5];
    d.extend_from_slice(data);
    let mut dec = Decoder::default();
    let mut out = Batch::default();
    dec.decode(EXPORTER, 0, &d, &mut out);
    for r in &out.records {
        assert!(r.sampling_rate >= 1, "a record without a sampling rate");
    }
}

/// Sampled packet headers: Ethernet (tags, MPLS) and bare IPv4/IPv6 with extension
/// headers.
pub fn packet_header(data: &[u8]) {
    let _ = packet::parse_ethernet(data);
    let _ = packet::parse_ip(data);
}

/// NetFlow v5 datagrams (the input follows the version), twice from one exporter, so
/// the sequence state sees a repeat.
pub fn netflow5(data: &[u8]) {
    let mut d = vec![0, 5];
    d.extend_from_slice(data);
    let mut dec = Decoder::default();
    let mut out = Batch::default();
    dec.decode(EXPORTER, 0, &d, &mut out);
    dec.decode(EXPORTER, 1, &d, &mut out);
}

/// NetFlow v9 datagrams: the input is split at "NF9!" into several datagrams from one
/// exporter, so templates learned from one are used by the next; tight limits make the
/// bounds reachable, and they hold.
pub fn netflow9(data: &[u8]) {
    let limits = tight();
    let mut dec = Decoder::new(limits);
    let mut out = Batch::default();
    for (i, part) in split(data, b"NF9!").enumerate() {
        let mut d = vec![0, 9];
        d.extend_from_slice(part);
        dec.decode(EXPORTER, i as u64, &d, &mut out);
    }
    assert!(
        dec.templates() <= limits.max_templates_total,
        "template bound exceeded"
    );
}

/// IPFIX messages: the input is split at "IPFX" into several messages from one
/// exporter, each given version 10 and a length that matches (so the fuzzer explores
/// the sets); tight limits make the bounds reachable, and they hold.
pub fn ipfix(data: &[u8]) {
    let limits = tight();
    let mut dec = Decoder::new(limits);
    let mut out = Batch::default();
    for (i, part) in split(data, b"IPFX").enumerate() {
        let mut d = vec![0, 10];
        d.extend_from_slice(&((part.len() + 4).min(65535) as u16).to_be_bytes());
        d.extend_from_slice(part);
        dec.decode(EXPORTER, i as u64, &d, &mut out);
    }
    assert!(
        dec.templates() <= limits.max_templates_total,
        "template bound exceeded"
    );
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn split_keeps_empty_parts_and_the_tail() {
        let parts: Vec<&[u8]> = split(b"aNF9!NF9!b", b"NF9!").collect();
        assert_eq!(parts, [&b"a"[..], b"", b"b"]);
        assert_eq!(split(b"", b"IPFX").count(), 1);
    }
}
