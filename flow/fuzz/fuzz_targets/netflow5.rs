//! NetFlow v5 datagrams.
//! The body is `levee_flow::fuzzing::netflow5`, shared with the regression test that runs
//! every input under `regressions/netflow5/` in `cargo test`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| levee_flow::fuzzing::netflow5(data));
