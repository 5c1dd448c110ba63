//! Sampled packet headers: Ethernet (tags, MPLS) and bare IPv4/IPv6 with extension headers.
//! The body is `levee_flow::fuzzing::packet_header`, shared with the regression test that runs
//! every input under `regressions/packet_header/` in `cargo test`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| levee_flow::fuzzing::packet_header(data));
