//! One JSON object per flow record, as `levee flows decode` and `flows listen` print them.

use levee_flow::FlowRecord;
use std::fmt::Write;

/// Appends `rec` as a JSON object and a newline to `out`.
pub fn write_record(out: &mut String, rec: &FlowRecord) {
    // Addresses, numbers and the fixed type names need no JSON escaping.
    let _ = write!(
        out,
        "{{\"time\":\"{}\",\"exporter\":\"{}\",\"flow_type\":\"{}\",\"src_addr\":\"{}\",\"dst_addr\":\"{}\",\"protocol\":{},\"src_port\":{},\"dst_port\":{},\"tcp_flags\":{},\"packets\":{},\"bytes\":{},\"sampling_rate\":{}",
        rfc3339(rec.time_us),
        rec.exporter,
        rec.flow_type.as_str(),
        rec.src_addr,
        rec.dst_addr,
        rec.protocol,
        rec.src_port,
        rec.dst_port,
        rec.tcp_flags,
        rec.packets,
        rec.bytes,
        rec.sampling_rate
    );
    if let Some(v) = rec.ttl {
        let _ = write!(out, ",\"ttl\":{v}");
    }
    if let Some(v) = rec.packet_length {
        let _ = write!(out, ",\"packet_length\":{v}");
    }
    if let Some(v) = rec.in_if {
        let _ = write!(out, ",\"in_if\":{v}");
    }
    if let Some(v) = rec.out_if {
        let _ = write!(out, ",\"out_if\":{v}");
    }
    if let Some(v) = rec.vlan {
        let _ = write!(out, ",\"vlan\":{v}");
    }
    out.push_str("}\n");
}

/// RFC 3339 UTC timestamp with microseconds, from microseconds since the Unix epoch.
pub fn rfc3339(us: u64) -> String {
    let secs = us / 1_000_000;
    let micros = us % 1_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use levee_flow::FlowType;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(951_782_400_000_001), "2000-02-29T00:00:00.000001Z");
        assert_eq!(
            rfc3339(1_795_289_958_123_456),
            "2026-11-21T19:39:18.123456Z"
        );
    }

    #[test]
    fn record_is_valid_json_with_optional_keys() {
        let mut r = FlowRecord::blank(0, "192.0.2.1".parse().unwrap(), FlowType::Sflow);
        r.dst_addr = "2001:db8::1".parse().unwrap();
        r.vlan = Some(7);
        let mut s = String::new();
        write_record(&mut s, &r);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["flow_type"], "sflow");
        assert_eq!(v["dst_addr"], "2001:db8::1");
        assert_eq!(v["vlan"], 7);
        assert!(v.get("ttl").is_none());
    }
}
