//! FlowSpec NLRI: decoding never panics; what decodes re-encodes to the same rule.
//! The body is `levee_bgp::fuzzing::flowspec_nlri`, shared with the regression test that runs
//! every input under `regressions/flowspec_nlri/` in `cargo test`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| levee_bgp::fuzzing::flowspec_nlri(data));
