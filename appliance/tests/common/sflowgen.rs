//! Writes sFlow v5 exports of synthetic traffic to a pcap, as a router sampling 1:N
//! would send them: the attack scenarios for `levee replay`. Sample timing is exact
//! (every N-th packet), so expected rates are known.

#![allow(dead_code)] // each test crate uses a subset

use std::net::IpAddr;

/// One kind of packet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) protocol: u8,
    pub(crate) src_port: u16,
    pub(crate) dst_port: u16,
    pub(crate) tcp_flags: u8,
    /// IP packet length.
    pub(crate) len: u16,
    /// Distinct sources cycled through (198.18.0.0/15, or 2001:db8:ffff::/48).
    pub(crate) sources: u32,
    /// TTLs random per packet instead of 57.
    pub(crate) random_ttl: bool,
    /// Non-first IP fragments (no transport header).
    pub(crate) fragment: bool,
}

/// A plain UDP packet shape, to modify.
pub(crate) const UDP: Shape = Shape {
    protocol: 17,
    src_port: 41000,
    dst_port: 27015,
    tcp_flags: 0,
    len: 512,
    sources: 20,
    random_ttl: false,
    fragment: false,
};

/// One sampled packet.
#[derive(Debug, Clone)]
struct Sample {
    time_us: u64,
    header: Vec<u8>,
    frame_len: u32,
}

/// The traffic of a capture, built stream by stream.
#[derive(Debug, Default)]
pub(crate) struct Scenario {
    samples: Vec<Sample>,
    rng: u64,
}

impl Scenario {
    /// Adds `pps` packets per second to `dst` from `start` for `secs` seconds (times in
    /// µs from `t0`), sampled 1:`rate`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn stream(
        &mut self,
        t0: u64,
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
            let src: IpAddr = match dst {
                IpAddr::V4(_) => IpAddr::V4((0xc612_0000u32 + n).into()),
                IpAddr::V6(_) => IpAddr::V6((0x2001_0db8_ffff_u128 << 80 | u128::from(n)).into()),
            };
            let ttl = if s.random_ttl {
                (self.next() % 255 + 1) as u8
            } else {
                57
            };
            let header = packet(src, dst, ttl, &s);
            self.samples.push(Sample {
                time_us: t0 + (t * 1e6) as u64,
                frame_len: u32::from(s.len) + 14,
                header,
            });
            k += 1;
        }
    }

    fn next(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        self.rng
    }

    /// The sFlow datagrams (up to 8 samples each, agent 192.0.2.1), each with the time
    /// its last sample was taken.
    pub(crate) fn datagrams(mut self, rate: u32) -> Vec<(u64, Vec<u8>)> {
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
            let mut d = Vec::new();
            for v in [5u32, 1, 0xc000_0201, 0, seq, 1000, (j - i) as u32] {
                d.extend_from_slice(&v.to_be_bytes());
            }
            for s in &self.samples[i..j] {
                sample_seq += 1;
                let pad = (4 - s.header.len() % 4) % 4;
                let rec_len = 16 + s.header.len() + pad;
                let body_len = 32 + 8 + rec_len;
                for v in [
                    1u32,
                    body_len as u32,
                    sample_seq,
                    3,
                    rate,
                    sample_seq * rate,
                    0,
                    3,
                    4,
                    1,
                ] {
                    d.extend_from_slice(&v.to_be_bytes());
                }
                // Raw packet header record: Ethernet.
                for v in [
                    1u32,
                    rec_len as u32,
                    1,
                    s.frame_len,
                    4,
                    s.header.len() as u32,
                ] {
                    d.extend_from_slice(&v.to_be_bytes());
                }
                d.extend_from_slice(&s.header);
                d.extend(std::iter::repeat_n(0, pad));
            }
            out.push((self.samples[j - 1].time_us, d));
            i = j;
        }
        out
    }

    /// Writes the datagrams as a capture, sent to 192.0.2.2:6343.
    pub(crate) fn write_pcap(self, path: &std::path::Path, rate: u32) {
        let mut out = Vec::new();
        // pcap global header: microsecond timestamps, Ethernet.
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&65535u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        for (time, d) in self.datagrams(rate) {
            let frame = udp_frame(&d);
            out.extend_from_slice(&((time / 1_000_000) as u32).to_le_bytes());
            out.extend_from_slice(&((time % 1_000_000) as u32).to_le_bytes());
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(&frame);
        }
        std::fs::write(path, out).unwrap();
    }
}

/// The first 128 bytes (at most) of an Ethernet frame carrying the packet.
fn packet(src: IpAddr, dst: IpAddr, ttl: u8, s: &Shape) -> Vec<u8> {
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
            if s.fragment {
                f.extend_from_slice(&(s.len - 40).to_be_bytes());
                f.extend_from_slice(&[44, ttl]);
                f.extend_from_slice(&a.octets());
                f.extend_from_slice(&b.octets());
                f.extend_from_slice(&[proto, 0, 0x05, 0xc9, 0, 0, 0, 1]);
            } else {
                f.extend_from_slice(&(s.len - 40).to_be_bytes());
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

/// Ethernet + IPv4 + UDP from 192.0.2.1:6343 to 192.0.2.2:6343.
fn udp_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x10, 0x02, 0, 0, 0, 0, 0x11, 0x08, 0x00];
    let total = (20 + 8 + payload.len()) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]);
    f.extend_from_slice(&6343u16.to_be_bytes());
    f.extend_from_slice(&6343u16.to_be_bytes());
    f.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}
