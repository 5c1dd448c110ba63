//! What the traffic to one destination is made of, per second: the counters the
//! classifier reads (TCP, SYN without ACK, other TCP flag floods, UDP, ICMP, fragments,
//! DNS, amplification source ports), in packets already scaled by sampling.

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
const ACK: u8 = 0x10;

/// Packets per category over one second. Categories overlap (a DNS reply is UDP and DNS).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Breakdown {
    /// All TCP.
    pub tcp: u64,
    /// TCP with SYN and without ACK: connection attempts.
    pub tcp_syn: u64,
    /// TCP without SYN carrying only ACK, or RST, or FIN: flag floods.
    pub tcp_flag_flood: u64,
    /// All UDP.
    pub udp: u64,
    /// ICMP and ICMPv6.
    pub icmp: u64,
    /// IP fragments.
    pub fragments: u64,
    /// DNS (port 53, either direction, UDP or TCP).
    pub dns: u64,
    /// UDP from a known amplifier source port.
    pub amplification: u64,
}

impl Breakdown {
    /// Counts one record.
    pub fn add(&mut self, r: &FlowRecord) {
        let p = r.packets;
        match r.protocol {
            6 => {
                self.tcp = self.tcp.saturating_add(p);
                let f = r.tcp_flags;
                if f & SYN != 0 && f & ACK == 0 {
                    self.tcp_syn = self.tcp_syn.saturating_add(p);
                } else if f & SYN == 0 && (f == ACK || f & (RST | FIN) != 0) {
                    self.tcp_flag_flood = self.tcp_flag_flood.saturating_add(p);
                }
            }
            17 => {
                self.udp = self.udp.saturating_add(p);
                if amplifier(r.src_port).is_some() {
                    self.amplification = self.amplification.saturating_add(p);
                }
            }
            1 | 58 => self.icmp = self.icmp.saturating_add(p),
            _ => {}
        }
        if matches!(r.protocol, 6 | 17) && (r.src_port == 53 || r.dst_port == 53) {
            self.dns = self.dns.saturating_add(p);
        }
        if r.fragment {
            self.fragments = self.fragments.saturating_add(p);
        }
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

    /// Oracle: the same categories computed independently, on random records.
    #[test]
    fn matches_naive_on_random_records() {
        let mut next = crate::testrng::xorshift(0x1234_5678);
        let mut rnd = move || next() as u32;
        let protos = [1u8, 6, 17, 47, 58];
        let ports = [53u16, 123, 80, 443, 11211, 1900, 40000];
        let mut b = Breakdown::default();
        let mut naive = [0u64; 8];
        for _ in 0..10_000 {
            let mut r = rec(
                protos[(rnd() % 5) as usize],
                ports[(rnd() % 7) as usize],
                ports[(rnd() % 7) as usize],
                (rnd() % 64) as u8,
                u64::from(1 + rnd() % 1000),
            );
            r.fragment = rnd() % 10 == 0;
            b.add(&r);
            let p = r.packets;
            let fl = r.tcp_flags;
            if r.protocol == 6 {
                naive[0] += p;
                let syn = fl & 2 != 0;
                let ack = fl & 16 != 0;
                if syn && !ack {
                    naive[1] += p;
                }
                if !syn && (fl == 16 || fl & 4 != 0 || fl & 1 != 0) {
                    naive[2] += p;
                }
            }
            if r.protocol == 17 {
                naive[3] += p;
                if [123, 11211, 1900, 53].contains(&r.src_port) {
                    naive[7] += p;
                }
            }
            if r.protocol == 1 || r.protocol == 58 {
                naive[4] += p;
            }
            if r.fragment {
                naive[5] += p;
            }
            if (r.protocol == 6 || r.protocol == 17) && (r.src_port == 53 || r.dst_port == 53) {
                naive[6] += p;
            }
        }
        let got = [
            b.tcp,
            b.tcp_syn,
            b.tcp_flag_flood,
            b.udp,
            b.icmp,
            b.fragments,
            b.dns,
            b.amplification,
        ];
        assert_eq!(got, naive);
    }
}
