//! Frames and packets for captures and sampled headers: Ethernet II, IPv4 (RFC 791) and
//! UDP (RFC 768), checksums left zero (no decoder under test checks them).

use std::net::SocketAddrV4;

/// EtherType of IPv4.
pub const IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const IPV6: u16 = 0x86dd;

/// An Ethernet II frame: destination, source, EtherType, payload.
pub fn ethernet(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An IPv4 packet (identification 1, TTL 64) carrying a UDP datagram from `src` to
/// `dst`; with `more_fragments`, the first fragment of a larger one (MF set, offset 0).
///
/// ```text
/// IPv4: | 0x45 | TOS | Total Length | Identification | Flags, Fragment Offset |
///       | TTL | Protocol = 17 | Checksum | Source | Destination |
/// UDP:  | Source Port | Destination Port | Length | Checksum |
/// ```
pub fn ipv4_udp(
    src: SocketAddrV4,
    dst: SocketAddrV4,
    payload: &[u8],
    more_fragments: bool,
) -> Vec<u8> {
    let total = (28 + payload.len()) as u16;
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0, 1]);
    let frag: u16 = if more_fragments { 0x2000 } else { 0 };
    ip.extend_from_slice(&frag.to_be_bytes());
    ip.extend_from_slice(&[64, 17, 0, 0]);
    ip.extend_from_slice(&src.ip().octets());
    ip.extend_from_slice(&dst.ip().octets());
    ip.extend_from_slice(&src.port().to_be_bytes());
    ip.extend_from_slice(&dst.port().to_be_bytes());
    ip.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0]);
    ip.extend_from_slice(payload);
    ip
}

/// An Ethernet frame (02:00:00:00:00:11 to 02:00:00:00:00:10) of [`ipv4_udp`]: how an
/// exporter's datagram to a collector looks in a capture.
pub fn udp_frame(src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) -> Vec<u8> {
    ethernet(
        [0x02, 0, 0, 0, 0, 0x10],
        [0x02, 0, 0, 0, 0, 0x11],
        IPV4,
        &ipv4_udp(src, dst, payload, false),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_addresses() {
        let src = "192.0.2.1:6343".parse().unwrap();
        let dst = "192.0.2.2:6343".parse().unwrap();
        let f = udp_frame(src, dst, b"abcd");
        assert_eq!(f.len(), 14 + 20 + 8 + 4);
        assert_eq!(f[12..14], [0x08, 0x00]);
        assert_eq!(f[16..18], 32u16.to_be_bytes());
        assert_eq!(f[26..34], [192, 0, 2, 1, 192, 0, 2, 2]);
        assert_eq!(f[38..40], 12u16.to_be_bytes());
        assert_eq!(ipv4_udp(src, dst, b"", true)[6], 0x20);
    }
}
