//! IPFIX messages, several per input (split at "IPFX"), from one exporter.
//! The body is `levee_flow::fuzzing::ipfix`, shared with the regression test that runs
//! every input under `regressions/ipfix/` in `cargo test`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| levee_flow::fuzzing::ipfix(data));
