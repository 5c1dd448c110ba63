//! FlowSpec NLRI: decoding arbitrary bytes never panics, and whatever decodes
//! re-encodes to NLRI that decodes to the same rule (encode → decode round trip).
#![no_main]

use levee_bgp::codes::Afi;
use levee_bgp::flowspec::FlowSpec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let afi = if first & 1 == 0 { Afi::IPV4 } else { Afi::IPV6 };
    if let Ok(rules) = FlowSpec::decode_all(rest, afi) {
        for r in rules {
            let bytes = r.to_bytes().expect("a decoded rule re-encodes");
            let (back, used) = FlowSpec::decode(&bytes, afi).expect("re-encoded rule decodes");
            assert_eq!(used, bytes.len());
            assert_eq!(back, r);
            let _ = r.to_string();
        }
    }
});
