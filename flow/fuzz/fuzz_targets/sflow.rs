//! sFlow v5 datagrams, through the stateful decoder (format detection, sequence state).
//! The body is `levee_flow::fuzzing::sflow`, shared with the regression test that runs
//! every input under `regressions/sflow/` in `cargo test`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| levee_flow::fuzzing::sflow(data));
