//! Classification: the attack family, the specific vector, and a confidence score.
//!
//! The classifier reads a [`Breakdown`] of the traffic to the victim (exclusive classes
//! plus fragments) and what the incident knows about its sources. The dominant class
//! names the vector; two or more classes that each carry a large share make it
//! multi-vector.

use crate::breakdown::{Breakdown, Class};

/// Attack families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// UDP floods, including amplification other than DNS, and UDP fragment floods.
    UdpFlood,
    /// TCP flag floods: SYN, and with it ACK, RST, FIN and SYN-ACK floods (the vector
    /// names which).
    SynFlood,
    /// ICMP and ICMPv6 floods.
    IcmpFlood,
    /// DNS: query floods to the victim, or DNS amplification (replies from port 53).
    DnsFlood,
    /// Many sources sending data on established TCP connections to ports 80/443.
    HttpFlood,
    /// Two or more vectors at once.
    MultiVector,
    /// None of the above.
    Unknown,
}

impl Family {
    /// Name in events.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::UdpFlood => "udp_flood",
            Family::SynFlood => "syn_flood",
            Family::IcmpFlood => "icmp_flood",
            Family::DnsFlood => "dns_flood",
            Family::HttpFlood => "http_flood",
            Family::MultiVector => "multi_vector",
            Family::Unknown => "unknown",
        }
    }
}

/// What the classifier knows beyond the breakdown.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Evidence {
    /// Estimated distinct sources.
    pub distinct_sources: u64,
    /// Sources needed for an HTTP flood (fewer is one heavy client, not a flood).
    pub http_min_sources: u64,
    /// Flow records seen so far. Early on, with sampling, there are too few to reach
    /// `http_min_sources`; then "many sources" means nearly every record has its own.
    pub records: u64,
}

impl Evidence {
    /// Whether the traffic comes from many sources.
    pub fn many_sources(&self) -> bool {
        let d = self.distinct_sources;
        d >= self.http_min_sources
            || (self.records < 2 * self.http_min_sources && d >= 5 && d * 10 >= self.records * 8)
    }
}

/// A class's share of the traffic above which it is the attack, alone.
const DOMINANT: f64 = 0.7;
/// A second class's share from which the attack counts as multi-vector.
const SECONDARY: f64 = 0.2;
/// Share of fragments from which a UDP or other flood is a fragment flood.
const FRAGMENTS: f64 = 0.5;

/// Family and vector of one class.
fn name(class: Class, b: &Breakdown, e: &Evidence) -> (Family, &'static str) {
    let frag_heavy = {
        let t = b.total_packets();
        t > 0 && f64::from(b.fragments) >= FRAGMENTS * t as f64
    };
    match class {
        Class::Syn => (Family::SynFlood, "syn_flood"),
        Class::SynAck => (Family::SynFlood, "tcp_synack_flood"),
        Class::Ack => (Family::SynFlood, "tcp_ack_flood"),
        Class::Rst => (Family::SynFlood, "tcp_rst_flood"),
        Class::Fin => (Family::SynFlood, "tcp_fin_flood"),
        Class::Web if e.many_sources() => (Family::HttpFlood, "http_flood"),
        Class::Web | Class::TcpOther => (Family::Unknown, "tcp_flood"),
        Class::DnsQuery => (Family::DnsFlood, "dns_query_flood"),
        Class::DnsReply => (Family::DnsFlood, "dns_amplification"),
        Class::Amplification => (
            Family::UdpFlood,
            b.amplifier_vector().unwrap_or("udp_amplification"),
        ),
        Class::UdpOther if frag_heavy => (Family::UdpFlood, "fragment_flood"),
        Class::UdpOther => (Family::UdpFlood, "udp_flood"),
        Class::Icmp => (Family::IcmpFlood, "icmp_flood"),
        Class::Other if frag_heavy => (Family::Unknown, "fragment_flood"),
        Class::Other => (Family::Unknown, "ip_protocol_flood"),
    }
}

/// The classification of an attack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    /// Family.
    pub family: Family,
    /// Vector, or vectors joined by `+` for multi-vector attacks.
    pub vector: String,
    /// Share of packets the named vector(s) carry, in percent.
    pub dominance: u8,
}

/// Classifies by the breakdown.
pub fn classify(b: &Breakdown, e: &Evidence) -> Classification {
    let total = b.total_packets();
    if total == 0 {
        return Classification {
            family: Family::Unknown,
            vector: "unknown".into(),
            dominance: 0,
        };
    }
    let mut shares: Vec<(Class, f64)> = Class::ALL
        .iter()
        .map(|&c| (c, b.class(c) as f64 / total as f64))
        .filter(|(_, s)| *s > 0.0)
        .collect();
    shares.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let (top, top_share) = shares[0];
    let secondary: Vec<(Class, f64)> = shares[1..]
        .iter()
        .copied()
        .filter(|(_, s)| *s >= SECONDARY)
        .collect();
    if top_share >= DOMINANT || secondary.is_empty() {
        let (family, vector) = name(top, b, e);
        return Classification {
            family,
            vector: vector.into(),
            dominance: (top_share * 100.0).round() as u8,
        };
    }
    let mut parts = vec![name(top, b, e)];
    let mut share = top_share;
    for (c, s) in secondary {
        let n = name(c, b, e);
        if !parts.iter().any(|p| p.1 == n.1) {
            parts.push(n);
        }
        share += s;
    }
    // Two classes that name one vector (plain TCP seen as web and other) are not two.
    if parts.len() == 1 {
        return Classification {
            family: parts[0].0,
            vector: parts[0].1.into(),
            dominance: (share * 100.0).round() as u8,
        };
    }
    Classification {
        family: Family::MultiVector,
        vector: parts.iter().map(|p| p.1).collect::<Vec<_>>().join("+"),
        dominance: (share * 100.0).round() as u8,
    }
}

/// What the confidence score is built from.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Signals {
    /// Current rate over the threshold that fired (1.0 at the threshold).
    pub over: f64,
    /// Seconds since the incident started.
    pub seconds: u64,
    /// Share of the dominant vector(s), percent.
    pub dominance: u8,
    /// Distinct sources.
    pub distinct_sources: u64,
    /// Sources needed for the botnet flag.
    pub botnet_sources: u64,
    /// Threat-intelligence sources matched.
    pub intel_matches: usize,
}

/// Confidence 0 to 100:
/// - up to 35 for how far over threshold (full at 8×, on a log scale);
/// - up to 15 for how long (full at 10 s);
/// - up to 20 for how dominant the vector is (nothing at 50 % or less);
/// - up to 15 for how many distinct sources (full at the botnet level, log scale);
/// - up to 15 for threat-intelligence matches (10 for the first, 1 per further match).
pub fn confidence(s: &Signals) -> u8 {
    let over = (s.over.max(1.0).log2() / 3.0).min(1.0) * 35.0;
    let time = (s.seconds as f64 / 10.0).min(1.0) * 15.0;
    let dom = ((f64::from(s.dominance) / 100.0 - 0.5) * 2.0).clamp(0.0, 1.0) * 20.0;
    let src = if s.distinct_sources <= 1 || s.botnet_sources <= 1 {
        0.0
    } else {
        ((s.distinct_sources as f64).ln() / (s.botnet_sources as f64).ln()).min(1.0) * 15.0
    };
    let intel = match s.intel_matches {
        0 => 0.0,
        n => (10 + n - 1).min(15) as f64,
    };
    (over + time + dom + src + intel).round().clamp(0.0, 100.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(classes: &[(Class, u32)]) -> Breakdown {
        let mut b = Breakdown::default();
        for &(c, n) in classes {
            b.packets[c as usize] = n;
        }
        b
    }

    fn ev(sources: u64) -> Evidence {
        Evidence {
            distinct_sources: sources,
            http_min_sources: 50,
            records: 10_000,
        }
    }

    #[test]
    fn single_vectors() {
        let cases = [
            (Class::Syn, "syn_flood", Family::SynFlood),
            (Class::Ack, "tcp_ack_flood", Family::SynFlood),
            (Class::DnsReply, "dns_amplification", Family::DnsFlood),
            (Class::DnsQuery, "dns_query_flood", Family::DnsFlood),
            (Class::UdpOther, "udp_flood", Family::UdpFlood),
            (Class::Icmp, "icmp_flood", Family::IcmpFlood),
            (Class::Web, "http_flood", Family::HttpFlood),
        ];
        for (c, v, f) in cases {
            let got = classify(&with(&[(c, 900), (Class::TcpOther, 100)]), &ev(1000));
            assert_eq!((got.family, got.vector.as_str(), got.dominance), (f, v, 90));
        }
        // Data to 443 from three sources is not an HTTP flood.
        let got = classify(&with(&[(Class::Web, 900)]), &ev(3));
        assert_eq!(
            (got.family, got.vector.as_str()),
            (Family::Unknown, "tcp_flood")
        );
    }

    #[test]
    fn fragments_and_multi_vector() {
        let mut b = with(&[(Class::UdpOther, 1000)]);
        b.fragments = 800;
        assert_eq!(classify(&b, &ev(1)).vector, "fragment_flood");
        let got = classify(
            &with(&[(Class::Syn, 500), (Class::DnsReply, 450), (Class::Icmp, 50)]),
            &ev(1),
        );
        assert_eq!(got.family, Family::MultiVector);
        assert_eq!(got.vector, "syn_flood+dns_amplification");
        assert_eq!(got.dominance, 95);
        assert_eq!(
            classify(&Breakdown::default(), &ev(0)).family,
            Family::Unknown
        );
    }

    #[test]
    fn confidence_grows_with_each_signal() {
        let base = Signals {
            over: 1.0,
            seconds: 0,
            dominance: 50,
            distinct_sources: 1,
            botnet_sources: 300,
            intel_matches: 0,
        };
        assert_eq!(confidence(&base), 0);
        let full = Signals {
            over: 8.0,
            seconds: 10,
            dominance: 100,
            distinct_sources: 300,
            botnet_sources: 300,
            intel_matches: 6,
        };
        assert_eq!(confidence(&full), 100);
        // Each signal added to the ones before raises the confidence.
        let steps: [fn(&mut Signals); 5] = [
            |s| s.over = 2.0,
            |s| s.seconds = 5,
            |s| s.dominance = 80,
            |s| s.distinct_sources = 20,
            |s| s.intel_matches = 1,
        ];
        let mut s = base;
        let mut prev = confidence(&s);
        for step in steps {
            step(&mut s);
            let c = confidence(&s);
            assert!(c > prev, "{s:?}: {c} <= {prev}");
            prev = c;
        }
    }
}
