//! UPDATE bodies and their path attributes (RFC 7606): encode/decode is stable.
//! The body is `levee_bgp::fuzzing::update`, shared with the regression test that runs
//! every input under `regressions/update/` in `cargo test`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| levee_bgp::fuzzing::update(data));
