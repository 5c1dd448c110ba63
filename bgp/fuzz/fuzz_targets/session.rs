//! A hostile peer: arbitrary bytes in arbitrary chunks after a valid OPEN and KEEPALIVE.
//! The body is `levee_bgp::fuzzing::session`, shared with the regression test that runs
//! every input under `regressions/session/` in `cargo test`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| levee_bgp::fuzzing::session(data));
