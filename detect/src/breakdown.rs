//! What the traffic to one destination is made of: the counters the classifier reads, in
//! packets already scaled by sampling. TCP is split by flags (SYN without ACK, SYN-ACK,
//! data to 80/443, RST, FIN, pure ACK), UDP by port (DNS queries, DNS replies, other
//! amplifier source ports), then ICMP, other protocols, fragments, bytes and flows per
//! protocol, and a packet-size histogram.

use levee_flow::FlowRecord;

/// UDP source ports of well-known reflectors and amplifiers, with the vector they name.
/// Sources: US-CERT TA14-017A and the amplification literature (Rossow, NDSS 2014).
pub const AMPLIFIERS: &[(u16, &str)] = &[
    (17, "qotd_amplification"),
    (19, "chargen_amplification"),
    (53, "dns_amplification"),
    (69, "tftp_amplification"),
    (111, "portmap_amplification"),
    (123, "ntp_amplification"),
    (137, "netbios_amplification"),
    (161, "snmp_amplification"),
    (389, "cldap_amplification"),
    (427, "slp_amplification"),
    (520, "rip_amplification"),
    (1900, "ssdp_amplification"),
    (3283, "ard_amplification"),
    (3702, "ws_discovery_amplification"),
    (5353, "mdns_amplification"),
    (5683, "coap_amplification"),
    (10001, "ubiquiti_amplification"),
    (11211, "memcached_amplification"),
    (27015, "steam_amplification"),
    (37810, "dvr_dhcpdiscover_amplification"),
];

/// The amplification vector a UDP source port names, if any.
pub fn amplifier(src_port: u16) -> Option<&'static str> {
    AMPLIFIERS
        .binary_search_by_key(&src_port, |(p, _)| *p)
        .ok()
        .map(|i| AMPLIFIERS[i].1)
}

/// TCP flag bits (RFC 9293).
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;
/// URG, ECE and CWR: ignored when judging a "pure ACK".
const OTHER_FLAGS: u8 = 0x20 | 0x40 | 0x80;

/// Packet-size buckets, by the upper bound of each (the last is open).
pub const SIZE_BUCKETS: [u16; 4] = [128, 512, 1024, u16::MAX];

/// The exclusive traffic classes the classifier weighs against each other. Every packet
/// falls in exactly one (fragments are counted apart, on top).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// TCP SYN without ACK.
    Syn,
    /// TCP SYN-ACK without payload flags (reflection).
    SynAck,
    /// TCP to 80/443 carrying data on an established connection (ACK and PSH).
    Web,
    /// TCP RST without SYN.
    Rst,
    /// TCP FIN without SYN, RST or PSH.
    Fin,
    /// TCP with only ACK set.
    Ack,
    /// Any other TCP.
    TcpOther,
    /// UDP to port 53: queries.
    DnsQuery,
    /// UDP from port 53: replies (reflection when unsolicited).
    DnsReply,
    /// UDP from another amplifier source port in [`AMPLIFIERS`].
    Amplification,
    /// Any other UDP.
    UdpOther,
    /// ICMP and ICMPv6.
    Icmp,
    /// Any other IP protocol.
    Other,
}

impl Class {
    /// All classes, in counter order.
    pub const ALL: [Class; 13] = [
        Class::Syn,
        Class::SynAck,
        Class::Web,
        Class::Rst,
        Class::Fin,
        Class::Ack,
        Class::TcpOther,
        Class::DnsQuery,
        Class::DnsReply,
        Class::Amplification,
        Class::UdpOther,
        Class::Icmp,
        Class::Other,
    ];

    /// The class of one record.
    pub fn of(r: &FlowRecord) -> Class {
        match r.protocol {
            6 => {
                let f = r.tcp_flags;
                if f & SYN != 0 {
                    if f & ACK == 0 {
                        Class::Syn
                    } else if f & PSH == 0 {
                        Class::SynAck
                    } else if is_web(r.dst_port) {
                        Class::Web
                    } else {
                        Class::TcpOther
                    }
                } else if f & ACK != 0 && f & PSH != 0 && is_web(r.dst_port) {
                    Class::Web
                } else if f & RST != 0 {
                    Class::Rst
                } else if f & FIN != 0 && f & PSH == 0 {
                    Class::Fin
                } else if f & !OTHER_FLAGS == ACK {
                    Class::Ack
                } else {
                    Class::TcpOther
                }
            }
            17 => {
                if r.src_port == 53 {
                    Class::DnsReply
                } else if r.dst_port == 53 {
                    Class::DnsQuery
                } else if amplifier(r.src_port).is_some() {
                    Class::Amplification
                } else {
                    Class::UdpOther
                }
            }
            1 | 58 => Class::Icmp,
            _ => Class::Other,
        }
    }

    /// Whether the class is TCP, UDP, ICMP or other.
    pub fn protocol(self) -> Protocol {
        match self {
            Class::Syn
            | Class::SynAck
            | Class::Web
            | Class::Rst
            | Class::Fin
            | Class::Ack
            | Class::TcpOther => Protocol::Tcp,
            Class::DnsQuery | Class::DnsReply | Class::Amplification | Class::UdpOther => {
                Protocol::Udp
            }
            Class::Icmp => Protocol::Icmp,
            Class::Other => Protocol::Other,
        }
    }
}

/// The IP protocols kept apart in bytes and flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP and ICMPv6.
    Icmp,
    /// Anything else.
    Other,
}

fn is_web(port: u16) -> bool {
    port == 80 || port == 443
}

/// What the traffic to one destination is made of: packets per [`Class`], fragments,
/// bytes and flows per protocol, a packet-size histogram, and the amplifier source port
/// seen most (a one-counter majority vote). 136 bytes.
///
/// The holder halves it once a second ([`Breakdown::decay`]), so it always describes
/// the last second or two with the newest traffic weighing most: a share read 50 ms
/// after a second boundary is as good as one read at 950 ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Breakdown {
    /// Packets per class, indexed like [`Class::ALL`].
    pub packets: [u32; 13],
    /// IP fragments (any class).
    pub fragments: u32,
    /// Packets per size bucket ([`SIZE_BUCKETS`]), where the record tells the size.
    pub sizes: [u32; 4],
    /// Bytes: TCP, UDP, ICMP, other.
    pub bytes: [u64; 4],
    /// Flow records: TCP, UDP, ICMP, other.
    pub flows: [u32; 4],
    /// Majority-vote candidate among amplifier ports (index into [`AMPLIFIERS`]).
    amp_candidate: u8,
    amp_votes: u16,
}

fn sat_add(c: &mut u32, v: u64) {
    *c = c.saturating_add(u32::try_from(v).unwrap_or(u32::MAX));
}

impl Breakdown {
    /// Counts one record.
    pub fn add(&mut self, r: &FlowRecord) {
        let class = Class::of(r);
        let p = r.packets;
        sat_add(&mut self.packets[class as usize], p);
        if r.fragment {
            sat_add(&mut self.fragments, p);
        }
        let proto = class.protocol() as usize;
        self.bytes[proto] = self.bytes[proto].saturating_add(r.bytes);
        self.flows[proto] = self.flows[proto].saturating_add(1);
        let size = match r.packet_length {
            Some(l) => l,
            None if p > 0 => u16::try_from(r.bytes / p).unwrap_or(u16::MAX),
            None => 0,
        };
        if size > 0 {
            let b = SIZE_BUCKETS.iter().position(|&u| size < u).unwrap_or(3);
            sat_add(&mut self.sizes[b], p);
        }
        if class == Class::Amplification
            && let Ok(i) = AMPLIFIERS.binary_search_by_key(&r.src_port, |(p, _)| *p)
        {
            let i = i as u8;
            if self.amp_votes == 0 {
                (self.amp_candidate, self.amp_votes) = (i, 1);
            } else if self.amp_candidate == i {
                self.amp_votes = self.amp_votes.saturating_add(1);
            } else {
                self.amp_votes -= 1;
            }
        }
    }

    /// The breakdown of one record.
    pub fn of(r: &FlowRecord) -> Breakdown {
        let mut b = Breakdown::default();
        b.add(r);
        b
    }

    /// Halves every counter: called once a second by the holder.
    pub fn decay(&mut self) {
        for c in self.packets.iter_mut().chain([&mut self.fragments]) {
            *c /= 2;
        }
        for c in self.sizes.iter_mut().chain(self.flows.iter_mut()) {
            *c /= 2;
        }
        for c in &mut self.bytes {
            *c /= 2;
        }
        self.amp_votes /= 2;
    }

    /// Packets of one class.
    pub fn class(&self, c: Class) -> u64 {
        u64::from(self.packets[c as usize])
    }

    /// All packets.
    pub fn total_packets(&self) -> u64 {
        self.packets.iter().map(|&c| u64::from(c)).sum()
    }

    /// Packets of one protocol.
    pub fn protocol_packets(&self, p: Protocol) -> u64 {
        Class::ALL
            .iter()
            .filter(|c| c.protocol() == p)
            .map(|&c| self.class(c))
            .sum()
    }

    /// The amplification vector most seen, if any amplifier traffic was.
    pub fn amplifier_vector(&self) -> Option<&'static str> {
        (self.class(Class::Amplification) > 0)
            .then(|| AMPLIFIERS.get(usize::from(self.amp_candidate)).map(|a| a.1))
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use levee_flow::FlowType;

    fn rec(protocol: u8, src_port: u16, dst_port: u16, flags: u8, packets: u64) -> FlowRecord {
        let mut r = FlowRecord::blank(0, "192.0.2.1".parse().unwrap(), FlowType::Sflow);
        (r.protocol, r.src_port, r.dst_port, r.tcp_flags, r.packets) =
            (protocol, src_port, dst_port, flags, packets);
        r
    }

    #[test]
    fn table_is_sorted_for_binary_search() {
        assert!(AMPLIFIERS.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(amplifier(123), Some("ntp_amplification"));
        assert_eq!(amplifier(11211), Some("memcached_amplification"));
        assert_eq!(amplifier(443), None);
    }

    /// Oracle: the classes computed independently (by a flat decision on the flags), on
    /// random records, with decay.
    #[test]
    fn matches_naive_on_random_records() {
        let mut rng = levee_testkit::Rng::new(0x1234_5678);
        let mut rnd = move || rng.next_u64() as u32;
        let protos = [1u8, 6, 17, 47, 58];
        let ports = [53u16, 123, 80, 443, 11211, 1900, 40000];
        let mut b = Breakdown::default();
        let mut naive = [0u64; 13];
        let (mut frags, mut tcp_bytes, mut flows) = (0u64, 0u64, 0u64);
        for i in 0..10_000 {
            if i % 1000 == 999 {
                b.decay();
                naive.iter_mut().for_each(|c| *c /= 2);
                (frags, tcp_bytes, flows) = (frags / 2, tcp_bytes / 2, flows / 2);
            }
            let mut r = rec(
                protos[(rnd() % 5) as usize],
                ports[(rnd() % 7) as usize],
                ports[(rnd() % 7) as usize],
                (rnd() % 256) as u8,
                u64::from(1 + rnd() % 1000),
            );
            r.fragment = rnd() % 10 == 0;
            r.bytes = r.packets * 100;
            b.add(&r);
            let (p, fl) = (r.packets, r.tcp_flags);
            let (syn, ack, psh, rst, fin) = (
                fl & 2 != 0,
                fl & 16 != 0,
                fl & 8 != 0,
                fl & 4 != 0,
                fl & 1 != 0,
            );
            let web = r.dst_port == 80 || r.dst_port == 443;
            let class = match r.protocol {
                6 if syn && !ack => Class::Syn,
                6 if syn && !psh => Class::SynAck,
                6 if ack && psh && web => Class::Web,
                6 if syn => Class::TcpOther,
                6 if rst => Class::Rst,
                6 if fin && !psh => Class::Fin,
                6 if fl & 0x1f == 0x10 => Class::Ack,
                6 => Class::TcpOther,
                17 if r.src_port == 53 => Class::DnsReply,
                17 if r.dst_port == 53 => Class::DnsQuery,
                17 if [123, 11211, 1900].contains(&r.src_port) => Class::Amplification,
                17 => Class::UdpOther,
                1 | 58 => Class::Icmp,
                _ => Class::Other,
            };
            naive[class as usize] += p;
            if r.fragment {
                frags += p;
            }
            if r.protocol == 6 {
                tcp_bytes += r.bytes;
                flows += 1;
            }
        }
        let got: Vec<u64> = Class::ALL.iter().map(|&c| b.class(c)).collect();
        assert_eq!(got, naive);
        assert_eq!(u64::from(b.fragments), frags);
        assert_eq!(b.bytes[0], tcp_bytes);
        assert_eq!(u64::from(b.flows[0]), flows);
        assert_eq!(b.total_packets(), naive.iter().sum::<u64>());
    }

    #[test]
    fn amplifier_majority_and_sizes() {
        let mut b = Breakdown::default();
        for i in 0..100 {
            let port = if i % 4 == 0 { 1900 } else { 123 };
            let mut r = rec(17, port, 40000, 0, 1);
            r.packet_length = Some(if i % 2 == 0 { 90 } else { 468 });
            b.add(&r);
        }
        assert_eq!(b.amplifier_vector(), Some("ntp_amplification"));
        assert_eq!(b.sizes, [50, 50, 0, 0]);
    }
}
