//! Message framing and decoding: what decodes re-encodes to the same message.
//! The body is `levee_bgp::fuzzing::message`, shared with the regression test that runs
//! every input under `regressions/message/` in `cargo test`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| levee_bgp::fuzzing::message(data));
