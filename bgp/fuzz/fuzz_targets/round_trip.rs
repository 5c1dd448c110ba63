//! Route text → route → text, NLRI and UPDATE: each step comes back to the same route.
//! The body is `levee_bgp::fuzzing::round_trip`, shared with the regression test that runs
//! every input under `regressions/round_trip/` in `cargo test`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| levee_bgp::fuzzing::round_trip(data));
