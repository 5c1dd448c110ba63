//! Message framing and decoding: arbitrary bytes never panic; a message that decodes
//! re-encodes to bytes that decode to the same message.
#![no_main]

use levee_bgp::message::{self, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = data;
    while let Ok(Some(len)) = message::frame(buf) {
        if let Ok(m) = Message::decode(&buf[..len]) {
            let bytes = m.to_bytes();
            let again = Message::decode(&bytes).expect("a re-encoded message decodes");
            assert_eq!(again, m);
        }
        buf = &buf[len..];
    }
    let _ = Message::decode(data);
});
