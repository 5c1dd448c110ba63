//! Parser for sampled packet headers: Ethernet (802.1Q / QinQ, MPLS), IPv4, IPv6 with
//! extension headers, TCP, UDP, ICMP and ICMPv6.
//!
//! Sampled headers are truncated by design (sFlow exports the first 128 bytes by default),
//! so this parser decodes what is present and stops quietly where the bytes end: a header
//! cut inside the TCP header still yields addresses and protocol. It returns `None` only
//! when no IP header is present at all.
//!
//! References: IEEE 802.1Q; RFC 791 (IPv4); RFC 8200 §4 (IPv6 extension headers);
//! RFC 4302 (AH); RFC 793/9293 (TCP); RFC 768 (UDP); RFC 792 / RFC 4443 (ICMP, ICMPv6);
//! RFC 3032 (MPLS label stack).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What the header describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketInfo {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Upper-layer protocol (after IPv6 extension headers).
    pub protocol: u8,
    /// Source port (0 if none or not present).
    pub src_port: u16,
    /// Destination port, or ICMP `type << 8 | code`.
    pub dst_port: u16,
    /// TCP flags when the TCP header was present.
    pub tcp_flags: u8,
    /// TTL / hop limit.
    pub ttl: u8,
    /// IP total length as the header states it (IPv6: payload length + 40).
    pub ip_length: u16,
    /// Outer VLAN id.
    pub vlan: Option<u16>,
    /// The packet is a fragment (first or later).
    pub fragment: bool,
}

/// Ethertypes (IEEE registry).
const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_VLAN: u16 = 0x8100;
const ETH_QINQ: u16 = 0x88a8;
const ETH_QINQ_OLD: u16 = 0x9100;
const ETH_MPLS: u16 = 0x8847;
const ETH_MPLS_MC: u16 = 0x8848;

/// Parses an Ethernet frame (possibly truncated).
pub fn parse_ethernet(frame: &[u8]) -> Option<PacketInfo> {
    // Destination MAC (6), source MAC (6), then the ethertype or a tag.
    let mut at = 12;
    let mut vlan = None;
    let mut ethertype = be16(frame, at)?;
    at += 2;
    // Up to 4 stacked tags (802.1ad QinQ and friends); the outer id is reported.
    for _ in 0..4 {
        if !matches!(ethertype, ETH_VLAN | ETH_QINQ | ETH_QINQ_OLD) {
            break;
        }
        let tci = be16(frame, at)?;
        vlan.get_or_insert(tci & 0x0fff);
        ethertype = be16(frame, at + 2)?;
        at += 4;
    }
    if matches!(ethertype, ETH_MPLS | ETH_MPLS_MC) {
        // Skip the label stack to bottom-of-stack, then guess the payload by version nibble.
        for _ in 0..8 {
            let label = frame.get(at..at + 4)?;
            at += 4;
            if label[2] & 1 == 1 {
                break;
            }
        }
        ethertype = match frame.get(at)? >> 4 {
            4 => ETH_IPV4,
            6 => ETH_IPV6,
            _ => return None,
        };
    }
    let mut info = match ethertype {
        ETH_IPV4 => parse_ipv4(frame.get(at..)?),
        ETH_IPV6 => parse_ipv6(frame.get(at..)?),
        _ => None,
    }?;
    info.vlan = vlan;
    Some(info)
}

/// Parses a packet that starts with an IP header of either version.
pub fn parse_ip(packet: &[u8]) -> Option<PacketInfo> {
    match packet.first()? >> 4 {
        4 => parse_ipv4(packet),
        6 => parse_ipv6(packet),
        _ => None,
    }
}

/// RFC 791 §3.1.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version|  IHL  |Type of Service|          Total Length         |
/// |         Identification        |Flags|      Fragment Offset    |
/// |  Time to Live |    Protocol   |         Header Checksum       |
/// |                       Source Address                          |
/// |                    Destination Address                        |
/// ```
pub fn parse_ipv4(p: &[u8]) -> Option<PacketInfo> {
    if p.len() < 20 || p[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(p[0] & 0x0f) * 4;
    let flags_frag = u16::from_be_bytes([p[6], p[7]]);
    let more_fragments = flags_frag & 0x2000 != 0;
    let offset = flags_frag & 0x1fff;
    let mut info = PacketInfo {
        src: IpAddr::V4(Ipv4Addr::new(p[12], p[13], p[14], p[15])),
        dst: IpAddr::V4(Ipv4Addr::new(p[16], p[17], p[18], p[19])),
        protocol: p[9],
        src_port: 0,
        dst_port: 0,
        tcp_flags: 0,
        ttl: p[8],
        ip_length: u16::from_be_bytes([p[2], p[3]]),
        vlan: None,
        fragment: more_fragments || offset != 0,
    };
    // Only the first fragment carries the transport header.
    if offset == 0
        && ihl >= 20
        && let Some(l4) = p.get(ihl..)
    {
        parse_transport(&mut info, l4);
    }
    Some(info)
}

/// RFC 8200 §3, with extension headers walked per §4.
pub fn parse_ipv6(p: &[u8]) -> Option<PacketInfo> {
    if p.len() < 40 || p[0] >> 4 != 6 {
        return None;
    }
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&p[8..24]);
    dst.copy_from_slice(&p[24..40]);
    let mut info = PacketInfo {
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        protocol: p[6],
        src_port: 0,
        dst_port: 0,
        tcp_flags: 0,
        ttl: p[7],
        ip_length: u16::from_be_bytes([p[4], p[5]]).saturating_add(40),
        vlan: None,
        fragment: false,
    };
    let mut at = 40;
    let mut transport = true;
    // Bounded walk: a hostile chain of extension headers cannot loop us.
    for _ in 0..8 {
        match info.protocol {
            // Hop-by-hop, routing, destination options, mobility, HIP, shim6.
            0 | 43 | 60 | 135 | 139 | 140 => {
                let Some(h) = p.get(at..at + 2) else {
                    return Some(info);
                };
                info.protocol = h[0];
                at += (usize::from(h[1]) + 1) * 8;
            }
            // Fragment header: fixed 8 bytes; offset in the top 13 bits of bytes 2..4.
            44 => {
                let Some(h) = p.get(at..at + 8) else {
                    info.fragment = true;
                    return Some(info);
                };
                info.protocol = h[0];
                info.fragment = true;
                let offset = u16::from_be_bytes([h[2], h[3]]) >> 3;
                transport = offset == 0;
                at += 8;
            }
            // AH: payload length in 4-octet units, minus 2 (RFC 4302 §2.2).
            51 => {
                let Some(h) = p.get(at..at + 2) else {
                    return Some(info);
                };
                info.protocol = h[0];
                at += (usize::from(h[1]) + 2) * 4;
            }
            _ => break,
        }
    }
    if transport && let Some(l4) = p.get(at..) {
        parse_transport(&mut info, l4);
    }
    Some(info)
}

/// TCP, UDP, SCTP and DCCP share the port layout; ICMP and ICMPv6 give type and code.
fn parse_transport(info: &mut PacketInfo, l4: &[u8]) {
    match info.protocol {
        6 | 17 | 132 | 33 | 136 => {
            if l4.len() >= 4 {
                info.src_port = u16::from_be_bytes([l4[0], l4[1]]);
                info.dst_port = u16::from_be_bytes([l4[2], l4[3]]);
            }
            if info.protocol == 6
                && let Some(&flags) = l4.get(13)
            {
                info.tcp_flags = flags;
            }
        }
        1 | 58 if l4.len() >= 2 => {
            info.dst_port = u16::from_be_bytes([l4[0], l4[1]]);
        }
        _ => {}
    }
}

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(ethertype: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
        f.extend_from_slice(ethertype);
        f.extend_from_slice(payload);
        f
    }

    fn ipv4_udp() -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7,
        ];
        p.extend_from_slice(&[0x00, 0x7b, 0x30, 0x39, 0, 8, 0, 0]);
        p
    }

    #[test]
    fn ipv4_udp_over_ethernet() {
        let info = parse_ethernet(&eth(&[0x08, 0x00], &ipv4_udp())).unwrap();
        assert_eq!(info.src, "192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!(info.dst, "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!(
            (info.protocol, info.src_port, info.dst_port),
            (17, 123, 12345)
        );
        assert_eq!(
            (info.ttl, info.ip_length, info.vlan, info.fragment),
            (64, 28, None, false)
        );
    }

    #[test]
    fn qinq_reports_outer_vlan() {
        let mut tagged = vec![0x00, 0x64, 0x81, 0x00, 0x00, 0xc8, 0x08, 0x00];
        tagged.extend_from_slice(&ipv4_udp());
        let info = parse_ethernet(&eth(&[0x88, 0xa8], &tagged)).unwrap();
        assert_eq!(info.vlan, Some(100));
        assert_eq!(info.dst_port, 12345);
    }

    #[test]
    fn truncated_inside_transport_keeps_addresses() {
        let p = ipv4_udp();
        let info = parse_ip(&p[..22]).unwrap();
        assert_eq!(info.protocol, 17);
        assert_eq!(info.src_port, 0);
        assert!(parse_ip(&p[..19]).is_none());
        assert!(parse_ethernet(&[0; 13]).is_none());
    }

    #[test]
    fn ipv4_later_fragment_has_no_ports() {
        let mut p = ipv4_udp();
        p[6] = 0x00;
        p[7] = 0x10; // offset 16 * 8 bytes
        let info = parse_ip(&p).unwrap();
        assert!(info.fragment);
        assert_eq!(info.src_port, 0);
    }

    fn ipv6(next: u8, ext: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&((ext.len() as u16) + 20).to_be_bytes());
        p.extend_from_slice(&[next, 57]);
        p.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(ext);
        p
    }

    #[test]
    fn ipv6_extension_chain_to_tcp() {
        // Hop-by-hop (8 bytes) -> destination options (16 bytes) -> TCP.
        let mut ext = vec![60, 0, 1, 4, 0, 0, 0, 0];
        ext.extend_from_slice(&[6, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        ext.extend_from_slice(&[0x01, 0xbb, 0xc0, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x12]);
        let info = parse_ip(&ipv6(0, &ext)).unwrap();
        assert_eq!(info.protocol, 6);
        assert_eq!(
            (info.src_port, info.dst_port, info.tcp_flags),
            (443, 49152, 0x12)
        );
        assert_eq!(info.ttl, 57);
    }

    #[test]
    fn ipv6_fragments() {
        // First fragment: offset 0, M=1 -> ports present.
        let mut first = vec![17, 0, 0x00, 0x01, 0, 0, 0, 9];
        first.extend_from_slice(&[0, 53, 0x04, 0x00, 0, 8, 0, 0]);
        let info = parse_ip(&ipv6(44, &first)).unwrap();
        assert!(info.fragment);
        assert_eq!(
            (info.protocol, info.src_port, info.dst_port),
            (17, 53, 1024)
        );
        // Later fragment: no transport header.
        let later = vec![17, 0, 0x00, 0xb8, 0, 0, 0, 9, 1, 2, 3, 4];
        let info = parse_ip(&ipv6(44, &later)).unwrap();
        assert!(info.fragment);
        assert_eq!(info.src_port, 0);
    }

    #[test]
    fn icmp_type_code_in_dst_port() {
        let mut p = vec![
            0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
        ];
        p.extend_from_slice(&[8, 0, 0, 0]);
        assert_eq!(parse_ip(&p).unwrap().dst_port, 0x0800);
    }

    #[test]
    fn mpls_then_ipv4() {
        let mut payload = vec![0x00, 0x01, 0x01, 0x40];
        payload.extend_from_slice(&ipv4_udp());
        let info = parse_ethernet(&eth(&[0x88, 0x47], &payload)).unwrap();
        assert_eq!(info.dst_port, 12345);
    }
}
