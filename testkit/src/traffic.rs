//! Synthetic traffic as a router sampling 1:N would export it in sFlow v5: streams of
//! one packet [`Shape`] each, sampled at exact intervals (every N-th packet), so the
//! expected rates are known. [`Scenario::datagrams`] gives the datagrams with their
//! times (to send, paced, to a live listener); [`Scenario::write_pcap`] a capture of
//! them (to replay).

use crate::Rng;
use crate::pcap::{LINKTYPE_ETHERNET, Writer};
use crate::sflow::{FlowSample, datagram};
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};

/// One kind of packet.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// IP protocol (TCP and UDP get ports; anything else an ICMP echo request).
    pub protocol: u8,
    /// Transport source port.
    pub src_port: u16,
    /// Transport destination port.
    pub dst_port: u16,
    /// TCP flags.
    pub tcp_flags: u8,
    /// IP packet length.
    pub len: u16,
    /// Distinct sources cycled through (198.18.0.0/15, or 2001:db8:ffff::/48).
    pub sources: u32,
    /// TTLs random per packet instead of 57.
    pub random_ttl: bool,
    /// Non-first IP fragments (no transport header).
    pub fragment: bool,
}

/// A plain UDP packet shape, to modify.
pub const UDP: Shape = Shape {
    protocol: 17,
    src_port: 41000,
    dst_port: 27015,
    tcp_flags: 0,
    len: 512,
    sources: 20,
    random_ttl: false,
    fragment: false,
};

/// The agent (and capture source) address of the exports.
pub const AGENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// One sampled packet.
#[derive(Debug, Clone)]
struct Sample {
    time_us: u64,
    header: Vec<u8>,
    frame_len: u32,
}

/// The traffic of a capture, built stream by stream.
#[derive(Debug, Default)]
pub struct Scenario {
    samples: Vec<Sample>,
    rng: Rng,
}

impl Scenario {
    /// Adds `pps` packets per second to `dst` from `start` for `secs` seconds (times in
    /// µs from `t0`), sampled 1:`rate`.
    #[allow(clippy::too_many_arguments)]
    pub fn stream(
        &mut self,
        t0: u64,
        dst: &str,
        pps: f64,
        start: f64,
        secs: f64,
        rate: u32,
        s: Shape,
    ) {
        self.push(t0, None, dst, pps, start, secs, rate, s);
    }

    /// As [`Scenario::stream`], every packet from `src` instead of the shape's sources
    /// (e.g. a protected host sending out).
    #[allow(clippy::too_many_arguments)]
    pub fn stream_from(
        &mut self,
        t0: u64,
        src: &str,
        dst: &str,
        pps: f64,
        start: f64,
        secs: f64,
        rate: u32,
        s: Shape,
    ) {
        let src: IpAddr = src.parse().unwrap();
        self.push(t0, Some(src), dst, pps, start, secs, rate, s);
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        t0: u64,
        from: Option<IpAddr>,
        dst: &str,
        pps: f64,
        start: f64,
        secs: f64,
        rate: u32,
        s: Shape,
    ) {
        let dst: IpAddr = dst.parse().unwrap();
        let gap = f64::from(rate) / pps;
        let mut k = 0u64;
        loop {
            let t = start + k as f64 * gap;
            if t >= start + secs {
                break;
            }
            let n = (k % u64::from(s.sources)) as u32;
            let src: IpAddr = match (from, dst) {
                (Some(src), _) => src,
                (None, IpAddr::V4(_)) => IpAddr::V4((0xc612_0000u32 + n).into()),
                (None, IpAddr::V6(_)) => {
                    IpAddr::V6((0x2001_0db8_ffff_u128 << 80 | u128::from(n)).into())
                }
            };
            let ttl = if s.random_ttl {
                (self.rng.next_u64() % 255 + 1) as u8
            } else {
                57
            };
            self.samples.push(Sample {
                time_us: t0 + (t * 1e6) as u64,
                frame_len: u32::from(s.len) + 14,
                header: s.frame(src, dst, ttl),
            });
            k += 1;
        }
    }

    /// The sFlow datagrams (up to 8 samples each, agent [`AGENT`]), each with the time
    /// its last sample was taken.
    pub fn datagrams(mut self, rate: u32) -> Vec<(u64, Vec<u8>)> {
        self.samples.sort_by_key(|s| s.time_us);
        let mut out = Vec::new();
        let mut seq = 0u32;
        let mut sample_seq = 0u32;
        let mut i = 0;
        while i < self.samples.len() {
            let first = self.samples[i].time_us;
            let mut j = i;
            while j < self.samples.len() && j - i < 8 && self.samples[j].time_us - first < 10_000 {
                j += 1;
            }
            seq += 1;
            let samples: Vec<(u32, Vec<u8>)> = self.samples[i..j]
                .iter()
                .map(|s| {
                    sample_seq += 1;
                    let sample = FlowSample {
                        sequence: sample_seq,
                        source_id: 3,
                        rate,
                        pool: sample_seq * rate,
                        drops: 0,
                        input: 3,
                        output: 4,
                    };
                    sample.ethernet(s.frame_len, 4, &s.header)
                })
                .collect();
            out.push((
                self.samples[j - 1].time_us,
                datagram(AGENT, seq, 1000, &samples),
            ));
            i = j;
        }
        out
    }

    /// Writes the datagrams as a capture, sent from [`AGENT`]:6343 to 192.0.2.2:6343.
    pub fn write_pcap(self, path: &std::path::Path, rate: u32) {
        let mut w = Writer::new(LINKTYPE_ETHERNET);
        let (src, dst) = (
            SocketAddrV4::new(AGENT, 6343),
            SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 6343),
        );
        for (time, d) in self.datagrams(rate) {
            w.packet(time, &crate::packet::udp_frame(src, dst, &d));
        }
        w.write(path);
    }
}

impl Shape {
    /// The first 128 bytes (at most) of an Ethernet frame carrying a packet of this
    /// shape, as a router samples it.
    pub fn frame(&self, src: IpAddr, dst: IpAddr, ttl: u8) -> Vec<u8> {
        let s = self;
        let mut l4 = Vec::new();
        if !s.fragment {
            match s.protocol {
                6 => {
                    l4.extend_from_slice(&s.src_port.to_be_bytes());
                    l4.extend_from_slice(&s.dst_port.to_be_bytes());
                    l4.extend_from_slice(&[
                        0,
                        0,
                        0,
                        1,
                        0,
                        0,
                        0,
                        0,
                        0x50,
                        s.tcp_flags,
                        0xff,
                        0xff,
                        0,
                        0,
                        0,
                        0,
                    ]);
                }
                17 => {
                    l4.extend_from_slice(&s.src_port.to_be_bytes());
                    l4.extend_from_slice(&s.dst_port.to_be_bytes());
                    l4.extend_from_slice(&(s.len - 20).to_be_bytes());
                    l4.extend_from_slice(&[0, 0]);
                }
                _ => l4.extend_from_slice(&[8, 0, 0, 0, 0, 1, 0, 1]), // echo request
            }
        }
        l4.resize(l4.len().max(64), 0x5a);
        let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
        match (src, dst) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                f.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
                f.extend_from_slice(&s.len.to_be_bytes());
                // Fragments: offset 1480 bytes (185 × 8), more fragments.
                let frag: u16 = if s.fragment { 0x2000 | 185 } else { 0 };
                f.extend_from_slice(&[0, 1]);
                f.extend_from_slice(&frag.to_be_bytes());
                f.extend_from_slice(&[ttl, s.protocol, 0, 0]);
                f.extend_from_slice(&a.octets());
                f.extend_from_slice(&b.octets());
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
                let proto = if s.protocol == 1 { 58 } else { s.protocol };
                f.extend_from_slice(&(s.len - 40).to_be_bytes());
                if s.fragment {
                    f.extend_from_slice(&[44, ttl]);
                    f.extend_from_slice(&a.octets());
                    f.extend_from_slice(&b.octets());
                    f.extend_from_slice(&[proto, 0, 0x05, 0xc9, 0, 0, 0, 1]);
                } else {
                    f.extend_from_slice(&[proto, ttl]);
                    f.extend_from_slice(&a.octets());
                    f.extend_from_slice(&b.octets());
                    if proto == 58 {
                        l4[0] = 128; // ICMPv6 echo request
                    }
                }
            }
            _ => panic!("mixed families"),
        }
        f.extend_from_slice(&l4);
        f.truncate(128);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_at_exact_intervals_in_datagrams_of_eight() {
        let mut s = Scenario::default();
        // 10k pps sampled 1:1000: 10 samples a second, 100 ms apart.
        s.stream(0, "203.0.113.1", 10_000.0, 0.0, 2.0, 1000, UDP);
        let d = s.datagrams(1000);
        assert_eq!(d.len(), 20, "100 ms apart: one sample per datagram");
        assert_eq!(d[1].0, 100_000);
        let mut s = Scenario::default();
        s.stream(0, "2001:db8::1", 1_000_000.0, 0.0, 0.01, 1000, UDP);
        let d = s.datagrams(1000);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].1[24..28], 8u32.to_be_bytes(), "8 samples in the first");
    }

    #[test]
    fn frames_are_cut_at_128_bytes() {
        let tcp = Shape {
            protocol: 6,
            len: 1500,
            ..UDP
        };
        let f = tcp.frame(
            "198.18.0.1".parse().unwrap(),
            "203.0.113.1".parse().unwrap(),
            57,
        );
        assert_eq!(f.len(), 14 + 20 + 64);
        assert_eq!((f[22], f[23]), (57, 6));
        let v6 = tcp.frame(
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
            57,
        );
        assert_eq!(v6.len(), 14 + 40 + 64);
    }
}
