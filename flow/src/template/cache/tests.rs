//! The stream cache under the exhaustion attacks of issue 15: a legitimate NetFlow v9
//! exporter decodes normally right after each, and configured exporters' streams are
//! never evicted.

use crate::{Batch, Decoder, Limits, SourcePolicy};
use levee_testkit::hostile::{
    NETFLOW9_TEMPLATE_DATAGRAMS, SFLOW_SUB_AGENTS, netflow9_data, netflow9_template,
    netflow9_templates, sflow_sub_agent,
};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 66));
const LEGIT: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const VICTIM: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

/// The legitimate exporter's template, then its data, at `t` µs: the records decoded.
fn legit_decodes(dec: &mut Decoder, t: u64) -> usize {
    let mut b = Batch::default();
    let r = dec.decode(LEGIT, t, &netflow9_template(1), &mut b);
    assert_eq!(r.error, None);
    let r = dec.decode(LEGIT, t + 1, &netflow9_data(2, &[VICTIM; 3], 10), &mut b);
    assert_eq!(r.error, None);
    assert_eq!(r.template_misses, 0);
    b.records.len()
}

#[test]
fn a_legit_exporter_decodes_after_a_sflow_sub_agent_spray() {
    let mut dec = Decoder::new(Limits::default());
    let mut b = Batch::default();
    let agent = Ipv4Addr::new(203, 0, 113, 1);
    for i in 0..SFLOW_SUB_AGENTS {
        dec.decode(
            ATTACKER,
            1_000_000 + u64::from(i),
            &sflow_sub_agent(agent, i),
            &mut b,
        );
    }
    let s = dec.cache_stats();
    // One source holds no more than its quota; the rest was refused and counted.
    assert_eq!(s.streams, Limits::default().max_domains_per_source as u64);
    let refused = dec.totals().errors.get("limit").copied().unwrap_or(0);
    assert_eq!(refused, u64::from(SFLOW_SUB_AGENTS) - s.streams);
    assert_eq!(legit_decodes(&mut dec, 3_000_000), 3);
}

#[test]
fn a_legit_exporter_decodes_after_a_netflow9_template_flood() {
    let mut dec = Decoder::new(Limits::default());
    let mut b = Batch::default();
    for i in 0..NETFLOW9_TEMPLATE_DATAGRAMS {
        dec.decode(
            ATTACKER,
            1_000_000 + u64::from(i),
            &netflow9_templates(i),
            &mut b,
        );
    }
    assert_eq!(
        dec.templates(),
        Limits::default().max_templates_per_source,
        "one source holds no more than its template quota"
    );
    assert_eq!(legit_decodes(&mut dec, 3_000_000), 3);
}

/// Many spoofed sources, each within its quota, fill the table: the least useful streams
/// go, never the configured exporter's, and an exporter that carries data outlives
/// template-only strangers.
#[test]
fn a_full_cache_evicts_the_least_useful_never_configured_exporters() {
    let limits = Limits {
        max_domains: 64,
        max_templates_total: 256,
        ..Limits::default()
    };
    let mut dec = Decoder::new(limits);
    let configured = SourcePolicy {
        name: Some(Arc::from("edge1")),
        ..SourcePolicy::trusting()
    };
    let edge: IpAddr = "192.0.2.9".parse().unwrap();
    let mut b = Batch::default();
    // The configured exporter announces its template and goes quiet.
    dec.decode_from(edge, &configured, 1, &netflow9_template(1), &mut b);
    // A legitimate unconfigured exporter sends data.
    assert_eq!(legit_decodes(&mut dec, 2), 3);
    for i in 0..NETFLOW9_TEMPLATE_DATAGRAMS {
        let spoofed = IpAddr::V4(Ipv4Addr::from(0xc633_0000 + i)); // 198.51.0.0 onwards
        dec.decode(spoofed, 10 + u64::from(i), &netflow9_templates(i), &mut b);
    }
    assert!(dec.cache_stats().streams_evicted > 0);
    assert!(dec.cache_stats().templates <= 256);
    // Both still decode without re-sending templates.
    let data = netflow9_data(9, &[VICTIM], 5);
    b.clear();
    let r = dec.decode_from(edge, &configured, 5_000, &data, &mut b);
    assert_eq!(
        (r.records, r.template_misses),
        (1, 0),
        "configured exporter"
    );
    let r = dec.decode(LEGIT, 5_001, &data, &mut b);
    assert_eq!((r.records, r.template_misses), (1, 0), "exporter with data");
    // Counters: the exporter table is bounded too, the configured one kept.
    assert!(dec.exporters().count() <= 64);
    assert!(dec.exporters().any(|(a, s)| *a == edge && s.name.is_some()));
}

#[test]
fn idle_streams_age_out_configured_ones_stay() {
    let limits = Limits {
        idle_timeout_us: 60_000_000,
        ..Limits::default()
    };
    let mut dec = Decoder::new(limits);
    let configured = SourcePolicy {
        name: Some(Arc::from("edge1")),
        ..SourcePolicy::trusting()
    };
    let mut b = Batch::default();
    let edge: IpAddr = "192.0.2.9".parse().unwrap();
    dec.decode_from(edge, &configured, 1_000_000, &netflow9_template(1), &mut b);
    dec.decode(ATTACKER, 1_000_000, &netflow9_templates(0), &mut b);
    assert_eq!(dec.cache_stats().streams, 2);
    // Two minutes later, anything at all triggers the sweep.
    dec.decode(LEGIT, 121_000_000, &netflow9_template(1), &mut b);
    let s = dec.cache_stats();
    assert_eq!((s.streams, s.streams_expired), (2, 1), "{s:?}");
    assert_eq!(dec.templates(), 2);
    assert!(dec.exporters().all(|(a, _)| *a != ATTACKER));
}
