//! NetFlow v9 datagrams, several per input (split at "NF9!"), from one exporter.
//! The body is `levee_flow::fuzzing::netflow9`, shared with the regression test that runs
//! every input under `regressions/netflow9/` in `cargo test`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| levee_flow::fuzzing::netflow9(data));
