//! Link layers of capture files and live captures, down to the IP header; and UDP
//! payload extraction for captures of flow-export datagrams.
//!
//! Link-layer type numbers from the tcpdump.org LINKTYPE registry.

use levee_flow::mirror::Link;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where the network layer starts in a captured frame, and how it is framed.
pub fn network_layer(linktype: i32, frame: &[u8]) -> Option<(Link, &[u8])> {
    match linktype {
        // LINKTYPE_ETHERNET
        1 => Some((Link::Ethernet, frame)),
        // LINKTYPE_RAW, DLT_RAW (12 and 14 on some systems), LINKTYPE_IPV4, LINKTYPE_IPV6
        101 | 12 | 14 | 228 | 229 => Some((Link::Ip, frame)),
        // LINKTYPE_LINUX_SLL: 16-byte header, protocol type in bytes 14..16
        113 => Some((
            Link::Ip,
            ip_by_ethertype(frame.get(14..16)?, frame.get(16..)?)?,
        )),
        // LINKTYPE_LINUX_SLL2: 20-byte header, protocol type in bytes 0..2
        276 => Some((
            Link::Ip,
            ip_by_ethertype(frame.get(0..2)?, frame.get(20..)?)?,
        )),
        // LINKTYPE_NULL / LOOP: 4-byte address family (host or network order)
        0 | 108 => Some((Link::Ip, frame.get(4..)?)),
        _ => None,
    }
}

fn ip_by_ethertype<'a>(ethertype: &[u8], rest: &'a [u8]) -> Option<&'a [u8]> {
    matches!(ethertype, [0x08, 0x00] | [0x86, 0xdd]).then_some(rest)
}

/// A UDP datagram found in a captured frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udp<'a> {
    pub src: IpAddr,
    pub dst_port: u16,
    pub payload: &'a [u8],
}

/// Why a frame held no usable UDP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotUdp {
    /// Not IP, or not UDP: ARP, TCP, ICMP and so on. Not an error.
    Other,
    /// An IP fragment: export datagrams are not reassembled.
    Fragment,
    /// The capture cut the UDP datagram short.
    Truncated,
}

/// Extracts the UDP datagram from a frame of the given link type.
pub fn udp(linktype: i32, frame: &[u8]) -> Result<Udp<'_>, NotUdp> {
    let (link, mut p) = network_layer(linktype, frame).ok_or(NotUdp::Other)?;
    if link == Link::Ethernet {
        p = skip_ethernet(p).ok_or(NotUdp::Other)?;
    }
    let (src, l4) = match p.first().map(|b| b >> 4) {
        Some(4) if p.len() >= 20 => {
            let ihl = usize::from(p[0] & 0x0f) * 4;
            if p[9] != 17 || ihl < 20 {
                return Err(NotUdp::Other);
            }
            if u16::from_be_bytes([p[6], p[7]]) & 0x3fff != 0 {
                return Err(NotUdp::Fragment);
            }
            let total = usize::from(u16::from_be_bytes([p[2], p[3]])).min(p.len());
            let src = IpAddr::V4(Ipv4Addr::new(p[12], p[13], p[14], p[15]));
            (src, p.get(ihl..total).ok_or(NotUdp::Truncated)?)
        }
        Some(6) if p.len() >= 40 => {
            let mut src = [0u8; 16];
            src.copy_from_slice(&p[8..24]);
            let mut next = p[6];
            let mut at = 40;
            // Hop-by-hop, routing and destination options may precede UDP.
            for _ in 0..4 {
                match next {
                    0 | 43 | 60 => {
                        let h = p.get(at..at + 2).ok_or(NotUdp::Truncated)?;
                        next = h[0];
                        at += (usize::from(h[1]) + 1) * 8;
                    }
                    44 => return Err(NotUdp::Fragment),
                    _ => break,
                }
            }
            if next != 17 {
                return Err(NotUdp::Other);
            }
            (
                IpAddr::V6(Ipv6Addr::from(src)),
                p.get(at..).ok_or(NotUdp::Truncated)?,
            )
        }
        _ => return Err(NotUdp::Other),
    };
    if l4.len() < 8 {
        return Err(NotUdp::Truncated);
    }
    let dst_port = u16::from_be_bytes([l4[2], l4[3]]);
    let len = usize::from(u16::from_be_bytes([l4[4], l4[5]]));
    if len < 8 || len > l4.len() {
        return Err(NotUdp::Truncated);
    }
    Ok(Udp {
        src,
        dst_port,
        payload: &l4[8..len],
    })
}

/// Skips the Ethernet header and any VLAN tags; `None` unless IP follows.
fn skip_ethernet(f: &[u8]) -> Option<&[u8]> {
    let mut at = 12;
    loop {
        let et = f.get(at..at + 2)?;
        match et {
            [0x81, 0x00] | [0x88, 0xa8] | [0x91, 0x00] => at += 4,
            [0x08, 0x00] | [0x86, 0xdd] => return f.get(at + 2..),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp4(payload: &[u8], frag: u16) -> Vec<u8> {
        let total = (20 + 8 + payload.len()) as u16;
        let mut p = vec![0x45, 0];
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(&frag.to_be_bytes());
        p.extend_from_slice(&[
            64, 17, 0, 0, 192, 0, 2, 1, 127, 0, 0, 1, 0x30, 0x39, 0x18, 0xc7,
        ]);
        p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn ethernet_sll_raw() {
        let ip = udp4(b"hello", 0);
        let mut eth = vec![0; 12];
        eth.extend_from_slice(&[0x08, 0x00]);
        eth.extend_from_slice(&ip);
        let u = udp(1, &eth).unwrap();
        assert_eq!(
            (u.src, u.dst_port, u.payload),
            ("192.0.2.1".parse().unwrap(), 6343, &b"hello"[..])
        );
        let mut sll = vec![0; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(&ip);
        assert_eq!(udp(113, &sll).unwrap().payload, b"hello");
        assert_eq!(udp(101, &ip).unwrap().payload, b"hello");
    }

    #[test]
    fn fragments_and_truncation() {
        assert_eq!(udp(101, &udp4(b"x", 0x2000)), Err(NotUdp::Fragment));
        let ip = udp4(b"hello", 0);
        assert_eq!(udp(101, &ip[..30]), Err(NotUdp::Truncated));
        assert_eq!(udp(101, &[0x45]), Err(NotUdp::Other));
        assert_eq!(udp(999, &ip), Err(NotUdp::Other));
    }
}
