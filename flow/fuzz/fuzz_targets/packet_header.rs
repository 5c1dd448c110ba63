//! Sampled packet headers: Ethernet (tags, MPLS) and bare IPv4/IPv6 with extension headers.
#![no_main]
use levee_flow::packet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = packet::parse_ethernet(data);
    let _ = packet::parse_ip(data);
});
