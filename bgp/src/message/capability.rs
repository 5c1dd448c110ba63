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
    /// Code 1: multiprotocol extensions (RFC 4760).
    Multiprotocol(Family),
    /// Code 2: route refresh (RFC 2918).
    RouteRefresh,
    /// Code 64: graceful restart (RFC 4724).
    GracefulRestart(GracefulRestart),
    /// Code 65: four-octet AS numbers (RFC 6793), with the speaker's AS.
    FourOctetAs(u32),
    /// Code 70: enhanced route refresh (RFC 7313).
    EnhancedRouteRefresh,
    /// Any other: code and value, kept to be ignored politely.
    Unknown(u8, Vec<u8>),
}

impl Capability {
    /// Appends code, length and value.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (code, value): (u8, Vec<u8>) = match self {
            Capability::Multiprotocol(f) => {
                let a = f.afi.to_be_bytes();
                (1, vec![a[0], a[1], 0, f.safi])
            }
            Capability::RouteRefresh => (2, Vec::new()),
            Capability::GracefulRestart(g) => {
                let mut v = (u16::from(g.restarting) << 15 | (g.time & 0x0fff))
                    .to_be_bytes()
                    .to_vec();
                for (f, preserved) in &g.families {
                    v.extend_from_slice(&f.afi.to_be_bytes());
                    v.push(f.safi);
                    v.push(u8::from(*preserved) << 7);
                }
                (64, v)
            }
            Capability::FourOctetAs(asn) => (65, asn.to_be_bytes().to_vec()),
            Capability::EnhancedRouteRefresh => (70, Vec::new()),
            Capability::Unknown(code, v) => (*code, v.clone()),
        };
        out.push(code);
        out.push(value.len() as u8);
        out.extend_from_slice(&value);
    }

    /// Decodes a sequence of capabilities (the value of one optional parameter of type
    /// 2). A capability whose length is wrong for its code is kept as `Unknown` and
    /// thereby ignored; one that overruns the parameter is an error (`None`).
    pub fn decode_all(mut buf: &[u8]) -> Option<Vec<Capability>> {
        let mut out = Vec::new();
        while !buf.is_empty() {
            let (&code, rest) = buf.split_first()?;
            let (&len, rest) = rest.split_first()?;
            let v = rest.get(..usize::from(len))?;
            buf = &rest[usize::from(len)..];
            let cap = match (code, v.len()) {
                (1, 4) => Capability::Multiprotocol(Family {
                    afi: u16::from_be_bytes([v[0], v[1]]),
                    safi: v[3],
                }),
                (2, 0) => Capability::RouteRefresh,
                (64, n) if n >= 2 && (n - 2) % 4 == 0 => {
                    let head = u16::from_be_bytes([v[0], v[1]]);
                    Capability::GracefulRestart(GracefulRestart {
                        restarting: head & 0x8000 != 0,
                        time: head & 0x0fff,
                        families: v[2..]
                            .chunks(4)
                            .map(|c| {
                                (
                                    Family {
                                        afi: u16::from_be_bytes([c[0], c[1]]),
                                        safi: c[2],
                                    },
                                    c[3] & 0x80 != 0,
                                )
                            })
                            .collect(),
                    })
                }
                (65, 4) => Capability::FourOctetAs(u32::from_be_bytes([v[0], v[1], v[2], v[3]])),
                (70, 0) => Capability::EnhancedRouteRefresh,
                _ => Capability::Unknown(code, v.to_vec()),
            };
            out.push(cap);
        }
        Some(out)
    }
}
