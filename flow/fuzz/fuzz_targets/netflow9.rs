//! NetFlow v9 datagrams. The input is split at "NF9!" into several datagrams from one
//! exporter, so templates learned from one are used by the next; tight limits make the
//! bounds reachable.
#![no_main]
use levee_flow::{Batch, Decoder, Limits};
use levee_flow_fuzz::split;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_domains: 4, max_templates_per_domain: 8, max_templates_total: 16, max_samplers_per_domain: 4, ..Limits::default() };
    let mut dec = Decoder::new(limits);
    let mut out = Batch::default();
    for (i, part) in split(data, b"NF9!").enumerate() {
        let mut d = vec![0, 9];
        d.extend_from_slice(part);
        dec.decode("192.0.2.1".parse().unwrap(), i as u64, &d, &mut out);
    }
    assert!(dec.templates() <= 16);
});
