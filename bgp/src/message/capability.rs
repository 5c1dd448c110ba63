//! Capabilities advertised in OPEN (RFC 5492).
//!
//! ```text
//! +------------------------------+
//! | Capability Code (1 octet)    |
//! +------------------------------+
//! | Capability Length (1 octet)  |
//! +------------------------------+
//! | Capability Value (variable)  |
//! +------------------------------+
//! ```

use super::Family;
use crate::codes::capability as code;
use crate::codes::{Afi, Safi};

/// Graceful restart (RFC 4724 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GracefulRestart {
    /// R bit: the speaker has restarted.
    pub restarting: bool,
    /// Restart time in seconds (12 bits).
    pub time: u16,
    /// Families whose forwarding state is kept, with the F (preserved) bit.
    pub families: Vec<(Family, bool)>,
}

/// One capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    /// [`code::MULTIPROTOCOL`]: multiprotocol extensions (RFC 4760).
    Multiprotocol(Family),
    /// [`code::ROUTE_REFRESH`]: route refresh (RFC 2918).
    RouteRefresh,
    /// [`code::GRACEFUL_RESTART`]: graceful restart (RFC 4724).
    GracefulRestart(GracefulRestart),
    /// [`code::FOUR_OCTET_AS`]: four-octet AS numbers (RFC 6793), with the speaker's AS.
    FourOctetAs(u32),
    /// [`code::ENHANCED_ROUTE_REFRESH`]: enhanced route refresh (RFC 7313).
    EnhancedRouteRefresh,
    /// Any other (or a known code whose length is wrong): code and value, kept to be
    /// ignored politely.
    Unknown(u8, Vec<u8>),
}

impl Capability {
    /// Appends code, length and value.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (c, value): (u8, Vec<u8>) = match self {
            Capability::Multiprotocol(f) => {
                let a = f.afi.to_be_bytes();
                (code::MULTIPROTOCOL, vec![a[0], a[1], 0, f.safi.0])
            }
            Capability::RouteRefresh => (code::ROUTE_REFRESH, Vec::new()),
            Capability::GracefulRestart(g) => {
                let mut v = (u16::from(g.restarting) << 15 | (g.time & 0x0fff))
                    .to_be_bytes()
                    .to_vec();
                for (f, preserved) in &g.families {
                    v.extend_from_slice(&f.afi.to_be_bytes());
                    v.push(f.safi.0);
                    v.push(u8::from(*preserved) << 7);
                }
                (code::GRACEFUL_RESTART, v)
            }
            Capability::FourOctetAs(asn) => (code::FOUR_OCTET_AS, asn.to_be_bytes().to_vec()),
            Capability::EnhancedRouteRefresh => (code::ENHANCED_ROUTE_REFRESH, Vec::new()),
            Capability::Unknown(c, v) => (*c, v.clone()),
        };
        out.push(c);
        out.push(value.len() as u8);
        out.extend_from_slice(&value);
    }

    /// Decodes a sequence of capabilities (the value of one optional parameter of type
    /// [`crate::codes::param::CAPABILITIES`]). A capability whose length is wrong for its
    /// code is kept as `Unknown` and thereby ignored; one that overruns the parameter is
    /// an error (`None`).
    pub fn decode_all(mut buf: &[u8]) -> Option<Vec<Capability>> {
        let mut out = Vec::new();
        while !buf.is_empty() {
            let (&c, rest) = buf.split_first()?;
            let (&len, rest) = rest.split_first()?;
            let v = rest.get(..usize::from(len))?;
            buf = &rest[usize::from(len)..];
            out.push(Capability::decode(c, v));
        }
        Some(out)
    }

    /// One capability from its code and value.
    fn decode(c: u8, v: &[u8]) -> Capability {
        match (c, v.len()) {
            (code::MULTIPROTOCOL, 4) => {
                Capability::Multiprotocol(Family::new(Afi::from_be_bytes([v[0], v[1]]), Safi(v[3])))
            }
            (code::ROUTE_REFRESH, 0) => Capability::RouteRefresh,
            (code::GRACEFUL_RESTART, n) if n >= 2 && (n - 2) % 4 == 0 => {
                let head = u16::from_be_bytes([v[0], v[1]]);
                Capability::GracefulRestart(GracefulRestart {
                    restarting: head & 0x8000 != 0,
                    time: head & 0x0fff,
                    families: v[2..]
                        .chunks(4)
                        .map(|c| {
                            let afi = Afi::from_be_bytes([c[0], c[1]]);
                            let family = Family::new(afi, Safi(c[2]));
                            (family, c[3] & 0x80 != 0)
                        })
                        .collect(),
                })
            }
            (code::FOUR_OCTET_AS, 4) => {
                Capability::FourOctetAs(u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
            }
            (code::ENHANCED_ROUTE_REFRESH, 0) => Capability::EnhancedRouteRefresh,
            _ => Capability::Unknown(c, v.to_vec()),
        }
    }
}
