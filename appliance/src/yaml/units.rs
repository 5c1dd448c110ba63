//! Rates and durations in config: packet and flow rates ("100k", 250000), bit rates
//! ("200Mbps", "1.5 Gbps", 1000000000) and durations ("10s", "5m", "300ms", or a plain
//! number of seconds). Rates use decimal multiples, as link speeds do.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// Splits "1.5 Gbps" into (1.5, "gbps").
fn split(s: &str) -> Option<(f64, String)> {
    let s = s.trim();
    let at = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(at);
    let n: f64 = num.parse().ok()?;
    (n.is_finite() && n >= 0.0).then(|| (n, unit.trim().to_ascii_lowercase()))
}

fn scaled(n: f64, mult: f64) -> Option<u64> {
    let v = (n * mult).round();
    (v <= u64::MAX as f64).then_some(v as u64)
}

/// `s` as a number with one of `units` (its multiplier), after `strip` leaves the
/// unit's prefix.
fn with_units(s: &str, strip: fn(&str) -> &str, units: &[(&str, f64)]) -> Option<u64> {
    let (n, unit) = split(s)?;
    let unit = strip(&unit);
    let &(_, mult) = units.iter().find(|(u, _)| *u == unit)?;
    scaled(n, mult)
}

fn as_is(u: &str) -> &str {
    u
}

/// Decimal multiples, as link speeds and packet rates use.
const DECIMAL: [(&str, f64); 5] = [("", 1.0), ("k", 1e3), ("m", 1e6), ("g", 1e9), ("t", 1e12)];

/// A count per second (packets or flows): "100k", "2.5M", 50000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Count(pub(crate) u64);

impl Count {
    pub(crate) fn parse(s: &str) -> Option<u64> {
        with_units(s, as_is, &DECIMAL[..4])
    }
}

/// Bits per second: "200Mbps", "1.5 Gbps", "800k", 1000000000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BitRate(pub(crate) u64);

impl BitRate {
    pub(crate) fn parse(s: &str) -> Option<u64> {
        fn per_second(u: &str) -> &str {
            u.trim_end_matches("bps").trim_end_matches("bit/s")
        }
        with_units(s, per_second, &DECIMAL)
    }
}

/// A duration, kept in microseconds: "10s", "5m", "300ms", "1h", "30d", or seconds as a
/// number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Duration(pub(crate) u64);

impl Duration {
    pub(crate) fn parse(s: &str) -> Option<u64> {
        let units = [
            ("", 1e6),
            ("s", 1e6),
            ("ms", 1e3),
            ("m", 60e6),
            ("min", 60e6),
            ("h", 3600e6),
            ("d", 86_400e6),
        ];
        with_units(s, as_is, &units)
    }

    /// Whole seconds, rounded down.
    pub(crate) fn secs(self) -> u64 {
        self.0 / 1_000_000
    }
}

macro_rules! deserialize_unit {
    ($t:ident, $scale:expr, $expecting:literal) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$t, E> {
                        v.checked_mul($scale)
                            .map($t)
                            .ok_or_else(|| E::custom("value too large"))
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$t, E> {
                        let v = u64::try_from(v).map_err(|_| E::custom("cannot be negative"))?;
                        self.visit_u64(v)
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$t, E> {
                        if v.is_finite() && v >= 0.0 && v * ($scale as f64) <= u64::MAX as f64 {
                            Ok($t((v * $scale as f64).round() as u64))
                        } else {
                            Err(E::custom(concat!("expected ", $expecting)))
                        }
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$t, E> {
                        $t::parse(v).map($t).ok_or_else(|| {
                            E::custom(format!(
                                concat!("invalid value {:?}: expected ", $expecting),
                                v
                            ))
                        })
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

deserialize_unit!(Count, 1, "a rate such as 50000, \"100k\" or \"2.5M\"");
deserialize_unit!(
    BitRate,
    1,
    "a bit rate such as \"200Mbps\", \"1.5Gbps\" or 1000000000"
);
deserialize_unit!(
    Duration,
    1_000_000,
    "a duration such as \"10s\", \"300ms\", \"5m\" or 10"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(Count::parse("100k"), Some(100_000));
        assert_eq!(Count::parse("2.5M"), Some(2_500_000));
        assert_eq!(Count::parse("12 parsecs"), None);
        assert_eq!(BitRate::parse("200Mbps"), Some(200_000_000));
        assert_eq!(BitRate::parse("1.5 Gbps"), Some(1_500_000_000));
        assert_eq!(BitRate::parse("800k"), Some(800_000));
        assert_eq!(BitRate::parse("1e9"), None);
        assert_eq!(Duration::parse("10s"), Some(10_000_000));
        assert_eq!(Duration::parse("300ms"), Some(300_000));
        assert_eq!(Duration::parse("5m"), Some(300_000_000));
        assert_eq!(Duration::parse("-1s"), None);
        assert_eq!(Duration::parse("1.5"), Some(1_500_000));
    }
}
