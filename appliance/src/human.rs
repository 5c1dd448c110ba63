//! Numbers for people: SI rates (`1.23M`), binary byte sizes (`32 MiB`), plurals
//! (`1 prefix`) and lower-case hex (tokens, hashes, signatures). A leaf: every stage,
//! the config summary and the CLI use it.

/// SI units: 1234567 -> "1.23M".
pub fn si(v: u64) -> String {
    let v = v as f64;
    for (div, unit) in [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")] {
        if v >= div {
            return format!("{:.2}{unit}", v / div);
        }
    }
    format!("{v}")
}

/// A byte count in the largest binary unit that divides it ("32 MiB"), else with one
/// decimal ("976.6 KiB").
pub fn bytes(n: u64) -> String {
    match [(30, "GiB"), (20, "MiB"), (10, "KiB")]
        .into_iter()
        .find(|(shift, _)| n != 0 && n.is_multiple_of(1 << shift))
    {
        Some((shift, unit)) => format!("{} {unit}", n >> shift),
        None if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1 << 20)),
        None if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / f64::from(1 << 10)),
        None => format!("{n} bytes"),
    }
}

/// `1 prefix`, `2 prefixes`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(DIGITS[usize::from(x >> 4)] as char);
        s.push(DIGITS[usize::from(x & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        for (v, want) in [(1_234_567, "1.23M"), (999, "999")] {
            assert_eq!(si(v), want);
        }
        for (n, want) in [
            (32 << 20, "32 MiB"),
            (1 << 30, "1 GiB"),
            (212_992, "208 KiB"),
            (1_000_000, "976.6 KiB"),
            (0, "0 bytes"),
        ] {
            assert_eq!(bytes(n), want);
        }
        assert_eq!(plural(1, "prefix", "prefixes"), "1 prefix");
        assert_eq!(plural(0, "prefix", "prefixes"), "0 prefixes");
    }
}
