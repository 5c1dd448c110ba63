//! The stream cache under the exhaustion attacks of issue 15: a legitimate NetFlow v9
//! exporter decodes normally right after each, whether the attack comes from a stranger
//! or from a configured exporter's (spoofed) address; strangers never evict configured
//! exporters' streams; idle streams age out, configured ones too.

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
fn idle_streams_age_out_configured_ones_too() {
    let limits = Limits {
        idle_timeout_us: 60_000_000,
        ..Limits::default()
    };
    let mut dec = Decoder::new(limits);
    let mut b = Batch::default();
    let edge: IpAddr = "192.0.2.9".parse().unwrap();
    dec.decode_from(
        edge,
        &listed("edge1"),
        1_000_000,
        &netflow9_template(1),
        &mut b,
    );
    dec.decode(ATTACKER, 1_000_000, &netflow9_templates(0), &mut b);
    assert_eq!(dec.cache_stats().streams, 2);
    // Two minutes later, anything at all triggers the sweep: both idle streams go, the
    // configured exporter's too (a router re-sends its templates).
    dec.decode(LEGIT, 121_000_000, &netflow9_template(1), &mut b);
    let s = dec.cache_stats();
    assert_eq!((s.streams, s.streams_expired), (1, 2), "{s:?}");
    assert_eq!(dec.templates(), 1, "only the newcomer's");
    assert!(dec.exporters().all(|(a, _)| *a != ATTACKER));
}

fn listed(name: &str) -> SourcePolicy {
    SourcePolicy {
        name: Some(Arc::from(name)),
        ..SourcePolicy::trusting()
    }
}

/// A NetFlow v9 datagram with its source id (header bytes 16..20, RFC 3954 §5.1)
/// replaced by `id`.
fn with_source_id(mut d: Vec<u8>, id: u32) -> Vec<u8> {
    d[16..20].copy_from_slice(&id.to_be_bytes());
    d
}

/// `source`, configured as `policy`, sends template and data on NetFlow v9 source id
/// `id` at `t`: the records and template misses of the data.
fn stream_decodes(
    dec: &mut Decoder,
    source: IpAddr,
    policy: &SourcePolicy,
    id: u32,
    t: u64,
) -> (usize, u32) {
    let mut b = Batch::default();
    let tpl = with_source_id(netflow9_template(1), id);
    let r = dec.decode_from(source, policy, t, &tpl, &mut b);
    assert_eq!(r.error, None);
    let data = with_source_id(netflow9_data(2, &[VICTIM; 3], 10), id);
    let r = dec.decode_from(source, policy, t + 1, &data, &mut b);
    assert_eq!(r.error, None);
    (r.records, r.template_misses)
}

/// Another configured exporter's stream, set up before an attack, decodes after it
/// without re-sending its template.
fn still_decodes(dec: &mut Decoder, source: IpAddr, policy: &SourcePolicy, t: u64) -> (usize, u32) {
    let mut b = Batch::default();
    let data = with_source_id(netflow9_data(3, &[VICTIM], 5), 7);
    let r = dec.decode_from(source, policy, t, &data, &mut b);
    (r.records, r.template_misses)
}

#[test]
fn a_sflow_sub_agent_spray_from_a_configured_exporter_churns_only_its_own_streams() {
    let mut dec = Decoder::new(Limits::default());
    let (spoofed, other) = (listed("edge1"), listed("edge2"));
    let edge1: IpAddr = "192.0.2.9".parse().unwrap();
    let edge2: IpAddr = "192.0.2.10".parse().unwrap();
    assert_eq!(stream_decodes(&mut dec, edge2, &other, 7, 1_000), (3, 0));
    let mut b = Batch::default();
    let agent = Ipv4Addr::new(192, 0, 2, 9);
    for i in 0..SFLOW_SUB_AGENTS {
        let t = 1_000_000 + u64::from(i);
        dec.decode_from(edge1, &spoofed, t, &sflow_sub_agent(agent, i), &mut b);
    }
    let s = dec.cache_stats();
    let quota = Limits::default().max_domains_per_exporter as u64;
    assert!(s.streams <= quota + 1, "{s:?}");
    assert!(
        s.streams_evicted >= u64::from(SFLOW_SUB_AGENTS) - quota,
        "{s:?}"
    );
    // No sub-agent was refused: the exporter evicted its own least useful streams.
    assert_eq!(dec.totals().errors.get("limit"), None);
    assert_eq!(still_decodes(&mut dec, edge2, &other, 3_000_000), (1, 0));
    // The spoofed exporter's real router still gets a new stream.
    let got = stream_decodes(&mut dec, edge1, &spoofed, 4_242, 3_000_001);
    assert_eq!(got, (3, 0));
}

#[test]
fn a_netflow9_template_flood_from_a_configured_prefix_churns_only_its_own_streams() {
    let mut dec = Decoder::new(Limits::default());
    let (pop, other) = (listed("pop"), listed("edge2"));
    let edge2: IpAddr = "192.0.2.10".parse().unwrap();
    assert_eq!(stream_decodes(&mut dec, edge2, &other, 7, 1_000), (3, 0));
    let mut b = Batch::default();
    // Every datagram from another address of the pop's 198.51.100.0/24.
    for i in 0..NETFLOW9_TEMPLATE_DATAGRAMS {
        let from = IpAddr::V4(Ipv4Addr::from(0xc633_6400 + i % 256));
        let t = 1_000_000 + u64::from(i);
        dec.decode_from(from, &pop, t, &netflow9_templates(i), &mut b);
    }
    let quota = Limits::default().max_templates_per_exporter;
    assert!(dec.templates() <= quota + 1, "{}", dec.templates());
    assert!(dec.cache_stats().streams_evicted > 0);
    assert_eq!(still_decodes(&mut dec, edge2, &other, 3_000_000), (1, 0));
    let router = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
    let got = stream_decodes(&mut dec, router, &pop, 4_242, 3_000_001);
    assert_eq!(got, (3, 0));
}

/// When the configured exporters' quotas add up to more than the cache, the one that
/// fills it (a spoofed one) is evicted from, not the others.
#[test]
fn a_configured_exporter_filling_the_cache_pays_for_it_not_the_others() {
    let limits = Limits {
        max_domains: 64,
        ..Limits::default()
    };
    let mut dec = Decoder::new(limits);
    let (spoofed, other) = (listed("edge1"), listed("edge2"));
    let edge1: IpAddr = "192.0.2.9".parse().unwrap();
    let edge2: IpAddr = "192.0.2.10".parse().unwrap();
    assert_eq!(stream_decodes(&mut dec, edge2, &other, 7, 1_000), (3, 0));
    let mut b = Batch::default();
    for i in 0..1_000 {
        let t = 1_000_000 + u64::from(i);
        dec.decode_from(
            edge1,
            &spoofed,
            t,
            &sflow_sub_agent(Ipv4Addr::LOCALHOST, i),
            &mut b,
        );
    }
    let s = dec.cache_stats();
    assert!(s.streams <= 64 && s.streams_evicted >= 1_000 - 64, "{s:?}");
    assert_eq!(dec.totals().errors.get("limit"), None, "nothing refused");
    // edge2's stream survived; it opens a second one: room is made among edge1's.
    assert_eq!(still_decodes(&mut dec, edge2, &other, 2_000_000), (1, 0));
    assert_eq!(
        stream_decodes(&mut dec, edge2, &other, 8, 2_000_100),
        (3, 0)
    );
    assert_eq!(still_decodes(&mut dec, edge2, &other, 2_000_200), (1, 0));
}

#[test]
fn a_reload_that_removes_an_exporter_unconfigures_its_streams() {
    let limits = Limits {
        max_domains: 64,
        ..Limits::default()
    };
    let mut dec = Decoder::new(limits);
    let edge = listed("edge1");
    let addr: IpAddr = "192.0.2.9".parse().unwrap();
    assert_eq!(stream_decodes(&mut dec, addr, &edge, 7, 1_000), (3, 0));
    // Strangers carrying data, each fresher than edge1's last data.
    let spray = |dec: &mut Decoder, t0: u64| {
        let anyone = SourcePolicy::trusting();
        for i in 0..200u32 {
            let from = IpAddr::V4(Ipv4Addr::from(0xcb00_7100 + i)); // 203.0.113.0 onwards
            stream_decodes(dec, from, &anyone, 1, t0 + 2 * u64::from(i));
        }
    };
    // Configured: the strangers' spray evicts among themselves.
    spray(&mut dec, 10_000);
    assert!(dec.exporters().any(|(a, s)| *a == addr && s.name.is_some()));
    assert_eq!(still_decodes(&mut dec, addr, &edge, 20_000), (1, 0));
    // The reload removes edge1: its stream is a stranger's like any other, and the
    // next spray (fresher than it) evicts it.
    dec.reclassify(|_| None);
    assert!(dec.exporters().all(|(_, s)| s.name.is_none()));
    spray(&mut dec, 30_000);
    let anyone = SourcePolicy::trusting();
    assert_eq!(still_decodes(&mut dec, addr, &anyone, 40_000), (0, 1));
}

/// Sources the full exporter table leaves out (only configured exporters fill it) share
/// one per-second budget: none gets a fresh budget per datagram.
#[test]
fn sources_left_out_of_a_full_exporter_table_share_one_budget() {
    let limits = Limits {
        max_domains: 8,
        ..Limits::default()
    };
    let mut dec = Decoder::new(limits);
    // Each data datagram below is 3 records of 1,000 bytes: 24,000 bits.
    let pop = SourcePolicy {
        max_bps: 30_000,
        ..listed("pop")
    };
    let from = |i: u32| IpAddr::V4(Ipv4Addr::from(0xc633_6400 + i)); // 198.51.100.0/24
    for i in 0..8 {
        assert_eq!(
            stream_decodes(&mut dec, from(i), &pop, 1, 1_000 + u64::from(i)).0,
            3
        );
    }
    assert_eq!(dec.exporters().count(), 8);
    // Two newcomers in the same second: the first fits the shared budget, the second
    // does not.
    assert_eq!(stream_decodes(&mut dec, from(8), &pop, 1, 500_000).0, 3);
    let (kept, _) = stream_decodes(&mut dec, from(9), &pop, 1, 500_100);
    assert_eq!(kept, 0);
    assert_eq!(dec.totals().discarded.rate, 3);
    assert_eq!(dec.exporters().count(), 8, "still bounded");
}
