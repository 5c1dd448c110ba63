//! UPDATE bodies and their path attributes (RFC 7606 handling): arbitrary bytes never
//! panic, and once decoded, encoding and decoding are stable.
#![no_main]

use levee_bgp::update::Update;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let four_octet = first & 1 == 1;
    let Ok(d) = Update::decode(body, four_octet) else {
        return;
    };
    if !four_octet {
        // Our encoder writes four-octet AS paths; the stable cycle is checked below.
        return;
    }
    let once = d.update.encode();
    let d2 = Update::decode(&once, true).expect("an encoded UPDATE decodes");
    let twice = d2.update.encode();
    assert_eq!(once, twice, "encode/decode is not stable");
});
