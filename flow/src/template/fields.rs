//! Information elements levee reads, and the per-record values they fill in.
//!
//! Numbers from RFC 3954 §8 (NetFlow v9 field types) and the IANA "IPFIX Information
//! Elements" registry (RFC 7012, RFC 5477 for the sampling elements 302-310).

use crate::cursor::be_uint;
use crate::record::FlowRecord;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What a template field means to levee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Skip,
    Bytes,
    Packets,
    OutBytes,
    OutPackets,
    Protocol,
    TcpFlags,
    SrcPort,
    DstPort,
    SrcV4,
    DstV4,
    SrcV6,
    DstV6,
    InIf,
    OutIf,
    Vlan,
    Ttl,
    MinTtl,
    IcmpTypeCode,
    IcmpType,
    IcmpCode,
    /// Sampling interval N of 1:N (IE 34 samplingInterval, IE 50 samplerRandomInterval).
    SamplingInterval,
    /// Which sampler or selector a record or option belongs to (IE 48, IE 302).
    SamplerId,
    /// IE 305 samplingPacketInterval: packets selected in a row.
    PacketInterval,
    /// IE 306 samplingPacketSpace: packets skipped after them.
    PacketSpace,
    /// IE 309 samplingSize: packets selected out of a population.
    SampleSize,
    /// IE 310 samplingPopulation.
    Population,
}

/// Maps an information element number (enterprise 0) to its meaning.
pub(crate) fn kind_for(ie: u16) -> Kind {
    match ie {
        1 => Kind::Bytes,
        2 => Kind::Packets,
        4 => Kind::Protocol,
        6 => Kind::TcpFlags,
        7 => Kind::SrcPort,
        8 => Kind::SrcV4,
        10 => Kind::InIf,
        11 => Kind::DstPort,
        12 => Kind::DstV4,
        14 => Kind::OutIf,
        23 => Kind::OutBytes,
        24 => Kind::OutPackets,
        27 => Kind::SrcV6,
        28 => Kind::DstV6,
        32 | 139 => Kind::IcmpTypeCode,
        34 | 50 => Kind::SamplingInterval,
        48 | 302 => Kind::SamplerId,
        52 => Kind::MinTtl,
        58 | 243 => Kind::Vlan,
        176 | 178 => Kind::IcmpType,
        177 | 179 => Kind::IcmpCode,
        192 => Kind::Ttl,
        305 => Kind::PacketInterval,
        306 => Kind::PacketSpace,
        309 => Kind::SampleSize,
        310 => Kind::Population,
        _ => Kind::Skip,
    }
}

/// The values of one data or options record.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RawFields {
    pub(crate) bytes: Option<u64>,
    pub(crate) packets: Option<u64>,
    pub(crate) out_bytes: Option<u64>,
    pub(crate) out_packets: Option<u64>,
    pub(crate) protocol: u8,
    pub(crate) tcp_flags: u8,
    pub(crate) src_port: u16,
    pub(crate) dst_port: u16,
    pub(crate) src: Option<IpAddr>,
    pub(crate) dst: Option<IpAddr>,
    pub(crate) in_if: Option<u32>,
    pub(crate) out_if: Option<u32>,
    pub(crate) vlan: Option<u16>,
    pub(crate) ttl: Option<u8>,
    pub(crate) min_ttl: Option<u8>,
    pub(crate) icmp: Option<u16>,
    pub(crate) icmp_type: Option<u8>,
    pub(crate) icmp_code: Option<u8>,
    pub(crate) sampling_interval: Option<u64>,
    pub(crate) sampler_id: Option<u64>,
    pub(crate) packet_interval: Option<u64>,
    pub(crate) packet_space: Option<u64>,
    pub(crate) sample_size: Option<u64>,
    pub(crate) population: Option<u64>,
}

impl RawFields {
    #[inline]
    pub(crate) fn set(&mut self, kind: Kind, b: &[u8]) {
        match kind {
            Kind::Skip => {}
            Kind::Bytes => self.bytes = Some(be_uint(b)),
            Kind::Packets => self.packets = Some(be_uint(b)),
            Kind::OutBytes => self.out_bytes = Some(be_uint(b)),
            Kind::OutPackets => self.out_packets = Some(be_uint(b)),
            Kind::Protocol => self.protocol = be_uint(b) as u8,
            Kind::TcpFlags => self.tcp_flags = be_uint(b) as u8,
            Kind::SrcPort => self.src_port = be_uint(b) as u16,
            Kind::DstPort => self.dst_port = be_uint(b) as u16,
            Kind::SrcV4 => self.src = v4(b),
            Kind::DstV4 => self.dst = v4(b),
            Kind::SrcV6 => self.src = v6(b),
            Kind::DstV6 => self.dst = v6(b),
            Kind::InIf => self.in_if = Some(be_uint(b) as u32),
            Kind::OutIf => self.out_if = Some(be_uint(b) as u32),
            Kind::Vlan => self.vlan = Some(be_uint(b) as u16 & 0x0fff),
            Kind::Ttl => self.ttl = Some(be_uint(b) as u8),
            Kind::MinTtl => self.min_ttl = Some(be_uint(b) as u8),
            Kind::IcmpTypeCode => self.icmp = Some(be_uint(b) as u16),
            Kind::IcmpType => self.icmp_type = Some(be_uint(b) as u8),
            Kind::IcmpCode => self.icmp_code = Some(be_uint(b) as u8),
            Kind::SamplingInterval => self.sampling_interval = Some(be_uint(b)),
            Kind::SamplerId => self.sampler_id = Some(be_uint(b)),
            Kind::PacketInterval => self.packet_interval = Some(be_uint(b)),
            Kind::PacketSpace => self.packet_space = Some(be_uint(b)),
            Kind::SampleSize => self.sample_size = Some(be_uint(b)),
            Kind::Population => self.population = Some(be_uint(b)),
        }
    }

    /// The sampling rate this record states about itself or its sampler, if any.
    ///
    /// IE 34/50 give N directly; IEs 305/306 give "select `interval`, skip `space`", so
    /// N = (interval + space) / interval; IEs 309/310 give n-out-of-N.
    pub(crate) fn sampling_rate(&self) -> Option<u32> {
        let rate = if let Some(n) = self.sampling_interval {
            n
        } else if let (Some(i), Some(s)) = (self.packet_interval, self.packet_space) {
            i.saturating_add(s).checked_div(i)?
        } else if let (Some(n), Some(pop)) = (self.sample_size, self.population) {
            pop.checked_div(n)?
        } else {
            return None;
        };
        (rate > 0).then(|| rate.min(u64::from(u32::MAX)) as u32)
    }

    /// Fills a flow record from a data record; `None` when it names no addresses.
    pub(crate) fn to_record(self, mut rec: FlowRecord, rate: u32) -> Option<FlowRecord> {
        rec.src_addr = self.src?;
        rec.dst_addr = self.dst?;
        rec.protocol = self.protocol;
        rec.tcp_flags = if self.protocol == 6 {
            self.tcp_flags
        } else {
            0
        };
        rec.src_port = self.src_port;
        rec.dst_port = self.dst_port;
        if matches!(self.protocol, 1 | 58) {
            let tc = self.icmp.or(match (self.icmp_type, self.icmp_code) {
                (None, None) => None,
                (t, c) => Some(u16::from(t.unwrap_or(0)) << 8 | u16::from(c.unwrap_or(0))),
            });
            if let Some(tc) = tc {
                rec.src_port = 0;
                rec.dst_port = tc;
            }
        }
        rec.in_if = self.in_if;
        rec.out_if = self.out_if;
        rec.vlan = self.vlan.filter(|&v| v != 0);
        rec.ttl = self.ttl.or(self.min_ttl);
        let packets = self.packets.or(self.out_packets).unwrap_or(0);
        let bytes = self.bytes.or(self.out_bytes).unwrap_or(0);
        rec.set_scaled(rate, packets, bytes);
        Some(rec)
    }
}

fn v4(b: &[u8]) -> Option<IpAddr> {
    let a: [u8; 4] = b.try_into().ok()?;
    Some(IpAddr::V4(Ipv4Addr::from(a)))
}

fn v6(b: &[u8]) -> Option<IpAddr> {
    let a: [u8; 16] = b.try_into().ok()?;
    Some(IpAddr::V6(Ipv6Addr::from(a)))
}
