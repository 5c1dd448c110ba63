//! One JSON object per flow record, as `levee flows decode` and `flows listen` print them.

use crate::clock::Timestamp;
use levee_flow::FlowRecord;
use std::fmt::Write;

/// Appends `rec` as a JSON object and a newline to `out`.
pub fn write_record(out: &mut String, rec: &FlowRecord) {
    // Addresses, numbers and the fixed type names need no JSON escaping.
    let _ = write!(
        out,
        "{{\"time\":\"{}\",\"exporter\":\"{}\",\"flow_type\":\"{}\",\"src_addr\":\"{}\",\"dst_addr\":\"{}\",\"protocol\":{},\"src_port\":{},\"dst_port\":{},\"tcp_flags\":{},\"packets\":{},\"bytes\":{},\"sampling_rate\":{}",
        Timestamp::from_micros(rec.time_us),
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

#[cfg(test)]
mod tests {
    use super::*;
    use levee_flow::FlowType;

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
