//! `levee flows listen` over loopback with hostile input: garbage and truncated datagrams
//! are counted per exporter; valid datagrams around them still decode.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

#[test]
fn garbage_is_counted_and_valid_datagrams_still_decode() {
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let levee = common::listen(
        &["--netflow", &format!("127.0.0.1:{port}")],
        "listening for",
    );
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    // A valid NetFlow v5 datagram with two records.
    let mut v5 = vec![0, 5, 0, 2];
    v5.extend_from_slice(&[0; 12]);
    v5.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]);
    for i in 0..2u8 {
        let mut r = [0u8; 48];
        r[0..4].copy_from_slice(&[192, 0, 2, 1]);
        r[4..8].copy_from_slice(&[198, 51, 100, i]);
        r[19] = 1;
        r[23] = 100;
        r[38] = 17;
        v5.extend_from_slice(&r);
    }
    let garbage: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xff; 3],
        vec![0, 5, 0, 9],
        vec![0, 9, 0, 1, 2],
        vec![0, 10, 0, 200, 1],
        b"GET / HTTP/1.1\r\n".to_vec(),
    ];
    for g in &garbage {
        sender.send_to(g, ("127.0.0.1", port)).unwrap();
        sender.send_to(&v5, ("127.0.0.1", port)).unwrap();
    }
    let (out, summary) = levee.stop(Duration::from_millis(1500));
    assert_eq!(out.lines().count(), 2 * garbage.len(), "{summary}");
    // The per-exporter line counts datagrams and errors by kind: the empty datagram, the
    // 0xff bytes and the HTTP request are unknown formats; the other three are truncated.
    let exporter = summary
        .lines()
        .find(|l| l.starts_with("exporter 127.0.0.1"))
        .expect(&summary);
    assert!(
        exporter.contains(&format!("datagrams {}", 2 * garbage.len())),
        "{exporter}"
    );
    assert!(
        exporter.contains(&format!("errors {}", garbage.len())),
        "{exporter}"
    );
    assert!(
        exporter.contains("truncated=3 unknown_format=3"),
        "{exporter}"
    );
}
