//! sFlow v5 datagrams, through the stateful decoder (format detection, sequence state).
#![no_main]
use levee_flow::{Batch, Decoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut d = vec![0, 0, 0, 5];
    d.extend_from_slice(data);
    let mut dec = Decoder::default();
    let mut out = Batch::default();
    dec.decode("192.0.2.1".parse().unwrap(), 0, &d, &mut out);
    for r in &out.records {
        assert!(r.sampling_rate >= 1);
    }
});
