//! Traffic filtering actions: BGP extended communities (RFC 8955 §7, RFC 4360); type and
//! subtype codes in [`crate::codes::ext_community`].
//!
//! ```text
//!  0        1        2                                      7
//! +--------+--------+--------------------------------------+
//! |  type  |subtype |               value (6)              |
//! +--------+--------+--------------------------------------+
//! 0x80 0x06  traffic-rate-bytes    AS (2) | rate, IEEE-754 float, bytes/s (4)
//! 0x80 0x0c  traffic-rate-packets  AS (2) | rate, IEEE-754 float, packets/s (4)
//! 0x80 0x07  traffic-action        reserved (5) | ..S T flags (1)
//! 0x80 0x08  redirect, 2-octet AS  AS (2) | local (4)
//! 0x81 0x08  redirect, IPv4        address (4) | local (2)
//! 0x82 0x08  redirect, 4-octet AS  AS (4) | local (2)
//! 0x80 0x09  traffic-marking       reserved (5) | DSCP (1, low six bits)
//! ```
//! A rate of 0 is "discard".

use crate::codes::ext_community::{
    GENERIC_TRANSITIVE_EXPERIMENTAL as EXP, GENERIC_TRANSITIVE_EXPERIMENTAL_2 as EXP_IPV4,
    GENERIC_TRANSITIVE_EXPERIMENTAL_3 as EXP_AS4, REDIRECT, TRAFFIC_ACTION, TRAFFIC_MARKING,
    TRAFFIC_RATE_BYTES, TRAFFIC_RATE_PACKETS,
};
use std::fmt;
use std::net::Ipv4Addr;

/// traffic-action flag: sample (RFC 8955 §7.3).
const SAMPLE: u8 = 0x02;
/// traffic-action flag: terminal action (RFC 8955 §7.3).
const TERMINAL: u8 = 0x01;

/// One action.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    /// Limit to `rate` bytes per second (0: discard). `asn` is informational.
    RateBytes {
        /// The AS the rule came from (informational).
        asn: u16,
        /// Bytes per second.
        rate: f32,
    },
    /// Limit to `rate` packets per second (0: discard).
    RatePackets {
        /// The AS the rule came from (informational).
        asn: u16,
        /// Packets per second.
        rate: f32,
    },
    /// Sample (log) matching traffic; terminal: stop evaluating further rules.
    TrafficAction {
        /// Sample.
        sample: bool,
        /// Terminal.
        terminal: bool,
    },
    /// Redirect to the VRF with route target AS:local (2-octet AS).
    RedirectAs2 {
        /// AS.
        asn: u16,
        /// Local administrator.
        local: u32,
    },
    /// Redirect to the VRF with route target address:local.
    RedirectIpv4 {
        /// Address.
        addr: Ipv4Addr,
        /// Local administrator.
        local: u16,
    },
    /// Redirect to the VRF with route target AS:local (4-octet AS).
    RedirectAs4 {
        /// AS.
        asn: u32,
        /// Local administrator.
        local: u16,
    },
    /// Rewrite the DSCP.
    Mark {
        /// DSCP (0..=63).
        dscp: u8,
    },
}

impl Action {
    /// Discard: a byte rate of zero.
    pub const DISCARD: Action = Action::RateBytes { asn: 0, rate: 0.0 };

    /// The extended community.
    pub fn to_bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        match *self {
            Action::RateBytes { asn, rate } | Action::RatePackets { asn, rate } => {
                b[0] = EXP;
                b[1] = if matches!(self, Action::RateBytes { .. }) {
                    TRAFFIC_RATE_BYTES
                } else {
                    TRAFFIC_RATE_PACKETS
                };
                b[2..4].copy_from_slice(&asn.to_be_bytes());
                b[4..8].copy_from_slice(&rate.to_be_bytes());
            }
            Action::TrafficAction { sample, terminal } => {
                b[..2].copy_from_slice(&[EXP, TRAFFIC_ACTION]);
                b[7] = if sample { SAMPLE } else { 0 } | if terminal { TERMINAL } else { 0 };
            }
            Action::RedirectAs2 { asn, local } => {
                b[..2].copy_from_slice(&[EXP, REDIRECT]);
                b[2..4].copy_from_slice(&asn.to_be_bytes());
                b[4..8].copy_from_slice(&local.to_be_bytes());
            }
            Action::RedirectIpv4 { addr, local } => {
                b[..2].copy_from_slice(&[EXP_IPV4, REDIRECT]);
                b[2..6].copy_from_slice(&addr.octets());
                b[6..8].copy_from_slice(&local.to_be_bytes());
            }
            Action::RedirectAs4 { asn, local } => {
                b[..2].copy_from_slice(&[EXP_AS4, REDIRECT]);
                b[2..6].copy_from_slice(&asn.to_be_bytes());
                b[6..8].copy_from_slice(&local.to_be_bytes());
            }
            Action::Mark { dscp } => {
                b[..2].copy_from_slice(&[EXP, TRAFFIC_MARKING]);
                b[7] = dscp & 0x3f;
            }
        }
        b
    }

    /// The action an extended community carries, if it is one.
    pub fn from_bytes(b: [u8; 8]) -> Option<Action> {
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Some(match (b[0], b[1]) {
            (EXP, TRAFFIC_RATE_BYTES) => Action::RateBytes {
                asn: u16_at(2),
                rate: f32::from_bits(u32_at(4)),
            },
            (EXP, TRAFFIC_RATE_PACKETS) => Action::RatePackets {
                asn: u16_at(2),
                rate: f32::from_bits(u32_at(4)),
            },
            (EXP, TRAFFIC_ACTION) => Action::TrafficAction {
                sample: b[7] & SAMPLE != 0,
                terminal: b[7] & TERMINAL != 0,
            },
            (EXP, REDIRECT) => Action::RedirectAs2 {
                asn: u16_at(2),
                local: u32_at(4),
            },
            (EXP_IPV4, REDIRECT) => Action::RedirectIpv4 {
                addr: Ipv4Addr::new(b[2], b[3], b[4], b[5]),
                local: u16_at(6),
            },
            (EXP_AS4, REDIRECT) => Action::RedirectAs4 {
                asn: u32_at(2),
                local: u16_at(6),
            },
            (EXP, TRAFFIC_MARKING) => Action::Mark { dscp: b[7] & 0x3f },
            _ => return None,
        })
    }
}

/// GoBGP's rendering: `discard`, `rate: 125000.000000`, `redirect: 65000:100` (a
/// four-octet AS in asdot, `64086.59904:9`), `remark: 10`,
/// `action: terminal-sample`.
impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Action::RateBytes { rate: 0.0, .. } => f.write_str("discard"),
            Action::RateBytes { rate, .. } => write!(f, "rate: {rate:.6}"),
            Action::RatePackets { rate, .. } => write!(f, "rate-packets: {rate:.6}"),
            Action::TrafficAction { sample, terminal } => {
                let s = match (terminal, sample) {
                    (true, true) => "terminal-sample",
                    (true, false) => "terminal",
                    (false, true) => "sample",
                    (false, false) => "none",
                };
                write!(f, "action: {s}")
            }
            Action::RedirectAs2 { asn, local } => write!(f, "redirect: {asn}:{local}"),
            Action::RedirectIpv4 { addr, local } => write!(f, "redirect: {addr}:{local}"),
            Action::RedirectAs4 { asn, local } if asn > 0xffff => {
                write!(f, "redirect: {}.{}:{local}", asn >> 16, asn & 0xffff)
            }
            Action::RedirectAs4 { asn, local } => write!(f, "redirect: {asn}:{local}"),
            Action::Mark { dscp } => write!(f, "remark: {dscp}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_action_both_ways() {
        let cases: [(Action, &str, &str); 8] = [
            (Action::DISCARD, "80 06 00 00 00 00 00 00", "discard"),
            // 1 Mbit/s = 125,000 bytes/s = 0x47f42400 as an IEEE float.
            (
                Action::RateBytes {
                    asn: 65001,
                    rate: 125_000.0,
                },
                "80 06 fd e9 47 f4 24 00",
                "rate: 125000.000000",
            ),
            (
                Action::RatePackets {
                    asn: 0,
                    rate: 1000.0,
                },
                "80 0c 00 00 44 7a 00 00",
                "rate-packets: 1000.000000",
            ),
            (
                Action::TrafficAction {
                    sample: true,
                    terminal: true,
                },
                "80 07 00 00 00 00 00 03",
                "action: terminal-sample",
            ),
            (
                Action::RedirectAs2 {
                    asn: 65000,
                    local: 100,
                },
                "80 08 fd e8 00 00 00 64",
                "redirect: 65000:100",
            ),
            (
                Action::RedirectIpv4 {
                    addr: Ipv4Addr::new(192, 0, 2, 1),
                    local: 7,
                },
                "81 08 c0 00 02 01 00 07",
                "redirect: 192.0.2.1:7",
            ),
            (
                Action::RedirectAs4 {
                    asn: 4_200_000_000,
                    local: 9,
                },
                "82 08 fa 56 ea 00 00 09",
                "redirect: 64086.59904:9",
            ),
            (
                Action::Mark { dscp: 10 },
                "80 09 00 00 00 00 00 0a",
                "remark: 10",
            ),
        ];
        for (a, hex, text) in cases {
            let bytes: Vec<u8> = hex
                .split(' ')
                .map(|b| u8::from_str_radix(b, 16).unwrap())
                .collect();
            assert_eq!(a.to_bytes().to_vec(), bytes, "{a:?}");
            assert_eq!(Action::from_bytes(a.to_bytes()), Some(a));
            assert_eq!(a.to_string(), text);
        }
        // A route target (0x00 0x02) is not an action.
        assert_eq!(Action::from_bytes([0, 2, 0xfd, 0xe8, 0, 0, 0, 1]), None);
    }
}
