//! From the raw YAML document to the typed [`Config`]: each section is converted by its
//! own function (or its own module's), every error located at its key, all errors
//! gathered before the config is refused.

use super::detection::{self, Ctx, Detection};
use super::raw::{RawConfig, RawIngest, RawListeners, RawMirror, RawNetwork};
use super::{
    Config, ConfigError, ConfigErrors, IngestBounds, Listener, ListenerKind, Mirror,
    ProtectedNetwork, bgp, mitigation, rpki,
};
use levee_mitigate::{Ladder, Level, Levels};
use std::net::SocketAddr;

/// Converts and checks the whole document.
pub(super) fn convert(mut raw: RawConfig, src: &str, origin: &str) -> Result<Config, ConfigErrors> {
    let mut errors = Vec::new();
    let mut cx = Ctx {
        origin,
        src,
        errors: &mut errors,
    };
    let detection = detection::detection(std::mem::take(&mut raw.detection), &mut cx);
    let bgp = raw.bgp.take().and_then(|b| bgp::convert(b, &mut cx));
    let mut mitigation = mitigation::convert(
        std::mem::take(&mut raw.mitigation),
        std::mem::take(&mut raw.store),
        std::mem::take(&mut raw.control),
        bgp.is_some(),
        &mut cx,
    );
    let rpki = raw
        .rpki
        .take()
        .map(|r| rpki::convert(r, bgp.as_ref().map(|b| b.local_as), &mut cx));
    let listeners = listeners(raw.listeners, &mut cx);
    let mirror = mirrors(raw.mirror, &mut cx);
    let protected_networks = networks(
        raw.protected_networks,
        &detection,
        &mitigation.ladder,
        &mut cx,
    );
    let ingest = ingest(&raw.ingest, &mut cx);
    let history = super::history::convert(std::mem::take(&mut raw.history), &mut cx);
    let exporters = raw
        .exporters
        .take()
        .map(|e| super::exporters::convert(e, &mut cx));
    if let Some(b) = &bgp {
        native_levels(b, &mut mitigation);
    }
    if let Some(e) = uncarried_levels(&mitigation, &protected_networks) {
        cx.errors
            .push(ConfigError::at_path(origin, src, "mitigation.adapters", &e));
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    mitigation.settings.networks = protected_networks
        .iter()
        .map(|n| levee_mitigate::settings::Network {
            name: n.name.clone(),
            prefixes: n.prefixes.clone(),
            ladder: n.ladder.clone(),
        })
        .collect();
    Ok(Config {
        origin: origin.to_string(),
        listeners,
        mirror,
        protected_networks,
        ingest,
        exporters,
        detection,
        bgp,
        mitigation,
        rpki,
        web: raw.web.take().map(|w| crate::web::settings::WebSettings {
            listen: w.listen,
            tls: w.tls.map(|t| crate::web::settings::TlsFiles {
                cert: t.cert,
                key: t.key,
            }),
            public: w.public,
        }),
        history,
    })
}

/// The enabled listeners; two on one address are refused.
fn listeners(raw: RawListeners, cx: &mut Ctx<'_>) -> Vec<Listener> {
    let mut listeners: Vec<Listener> = Vec::new();
    for (kind, l) in [
        (ListenerKind::Sflow, raw.sflow),
        (ListenerKind::Netflow, raw.netflow),
        (ListenerKind::Ipfix, raw.ipfix),
    ] {
        if !l.enabled {
            continue;
        }
        let path = format!("listeners.{}.bind", kind.as_str());
        // A section that names no address keeps the standard port on every interface.
        let bind = l
            .bind
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], kind.default_port())));
        if let Some(other) = listeners.iter().find(|o| o.bind == bind) {
            cx.errors.push(ConfigError::at_path(
                cx.origin,
                cx.src,
                &path,
                &format!(
                    "{bind} is already used by the {} listener",
                    other.kind.as_str()
                ),
            ));
        }
        listeners.push(Listener {
            kind,
            bind,
            receive_buffer: l.receive_buffer.0,
        });
    }
    listeners
}

/// Mirror ports: real interface names, each once.
fn mirrors(raw: Vec<RawMirror>, cx: &mut Ctx<'_>) -> Vec<Mirror> {
    let mut mirror: Vec<Mirror> = Vec::new();
    for m in raw {
        let name = m.interface.value.trim().to_string();
        if name.is_empty() || name.len() > 15 || name.contains(['/', ' ']) {
            cx.err(
                &m.interface,
                "not a Linux interface name (1-15 characters, no '/' or spaces)",
            );
        } else if mirror.iter().any(|o| o.interface == name) {
            cx.err(&m.interface, &format!("interface {name} is listed twice"));
        }
        mirror.push(Mirror {
            interface: name,
            bpf: m.bpf.filter(|f| !f.trim().is_empty()),
            sampling: m.sampling,
        });
    }
    mirror
}

/// The protected networks, each with its detection policy and mitigation ladder over
/// the global ones.
fn networks(
    raw: Vec<RawNetwork>,
    detection: &Detection,
    ladder: &Ladder,
    cx: &mut Ctx<'_>,
) -> Vec<ProtectedNetwork> {
    let mut networks: Vec<ProtectedNetwork> = Vec::new();
    for n in raw {
        let name = n.name.value.trim().to_string();
        if name.is_empty() {
            cx.err(&n.name, "a protected network needs a name");
        } else if networks.iter().any(|o| o.name == name) {
            cx.err(
                &n.name,
                &format!("protected network name {name:?} is used twice"),
            );
        }
        if n.prefixes.value.is_empty() {
            cx.err(
                &n.prefixes,
                "expected at least one prefix such as 192.0.2.0/24",
            );
        }
        let mut prefixes = Vec::new();
        for p in n.prefixes.value {
            if p.value != p.value.trunc() {
                let msg = format!(
                    "{} has host bits set; did you mean {}?",
                    p.value,
                    p.value.trunc()
                );
                cx.err(&p, &msg);
            }
            prefixes.push(p.value);
        }
        let policy = detection::policy(&detection.policy, n.detection, cx);
        let ladder = mitigation::network_ladder(&n.mitigation, ladder, cx);
        networks.push(ProtectedNetwork {
            name,
            prefixes,
            policy,
            ladder,
        });
    }
    networks
}

/// The ingest bounds: every one positive.
fn ingest(i: &RawIngest, cx: &mut Ctx<'_>) -> IngestBounds {
    for (key, v) in [
        ("channel_batches", i.channel_batches),
        ("max_exporter_streams", i.max_exporter_streams),
        ("max_templates_per_exporter", i.max_templates_per_exporter),
        ("max_templates_total", i.max_templates_total),
        ("max_streams_per_source", i.max_streams_per_source),
        ("max_templates_per_source", i.max_templates_per_source),
        (
            "max_streams_per_listed_exporter",
            i.max_streams_per_listed_exporter,
        ),
        (
            "max_templates_per_listed_exporter",
            i.max_templates_per_listed_exporter,
        ),
        ("max_sampling_rate", i.max_sampling_rate as usize),
        ("max_exporter_rate", usize::from(i.max_exporter_rate.0 != 0)),
        (
            "stream_idle_timeout",
            usize::from(i.stream_idle_timeout.secs() != 0),
        ),
    ] {
        if v == 0 {
            cx.errors.push(ConfigError::at_path(
                cx.origin,
                cx.src,
                &format!("ingest.{key}"),
                match key {
                    "max_exporter_rate" => "expected a positive bit rate such as \"400Gbps\"",
                    "stream_idle_timeout" => "expected a duration of at least 1s, such as \"1h\"",
                    _ => "expected a positive integer",
                },
            ));
        }
    }
    IngestBounds {
        channel_batches: i.channel_batches,
        limits: levee_flow::Limits {
            max_domains: i.max_exporter_streams,
            max_templates_per_domain: i.max_templates_per_exporter,
            max_templates_total: i.max_templates_total,
            max_domains_per_source: i.max_streams_per_source,
            max_templates_per_source: i.max_templates_per_source,
            max_domains_per_exporter: i.max_streams_per_listed_exporter,
            max_templates_per_exporter: i.max_templates_per_listed_exporter,
            idle_timeout_us: i.stream_idle_timeout.0,
            ..levee_flow::Limits::default()
        },
        max_sampling_rate: i.max_sampling_rate,
        max_exporter_bps: i.max_exporter_rate.0,
    }
}

/// The native adapter carries what its peers take.
fn native_levels(b: &bgp::Bgp, mitigation: &mut mitigation::Mitigation) {
    let peers = b.speaker.peers.iter().fold(Levels::NONE, |acc, p| {
        acc.or(Levels::from_bits(p.export.0 as u8))
    });
    for a in &mut mitigation.adapters {
        if a.kind == crate::adapters::Kind::Native {
            a.levels = a.levels.and(peers);
        }
    }
}

/// Every enabled level must reach an adapter (or a BGP peer) that carries it; FRR and
/// the null route carry RTBH only, so FlowSpec levels need another adapter.
fn uncarried_levels(
    mitigation: &mitigation::Mitigation,
    networks: &[ProtectedNetwork],
) -> Option<String> {
    if mitigation.adapters.is_empty() {
        return None; // recorded only: `levee run` says so
    }
    let enabled = std::iter::once(&mitigation.ladder)
        .chain(networks.iter().map(|n| &n.ladder))
        .flat_map(|l| Level::ALL.into_iter().filter(|x| l.level(*x).enabled))
        .fold(Levels::NONE, Levels::with);
    let flowspec = Levels::of(Level::L1).with(Level::L2);
    let carried = mitigation.adapters.iter().fold(Levels::NONE, |acc, a| {
        let can = if a.kind.carries_flowspec() {
            Levels::ALL
        } else {
            Levels::of(Level::L3).with(Level::L4)
        };
        acc.or(a.levels.and(can))
    });
    let missing = Level::ALL
        .into_iter()
        .filter(|l| enabled.contains(*l) && !carried.contains(*l))
        .fold(Levels::NONE, Levels::with);
    if missing == Levels::NONE {
        return None;
    }
    if missing.intersects(flowspec)
        && !mitigation
            .adapters
            .iter()
            .any(|a| a.kind.carries_flowspec())
    {
        let names: Vec<&str> = mitigation.adapters.iter().map(|a| a.kind.name()).collect();
        let frr = |a: &crate::adapters::Adapter| matches!(a.kind, crate::adapters::Kind::Frr(_));
        let why = if mitigation.adapters.iter().any(frr) {
            "the frr adapter carries RTBH only (FRR cannot originate FlowSpec)".to_string()
        } else {
            format!("the {} adapter carries RTBH only", names.join(" and "))
        };
        return Some(format!(
            "{why}: disable levels l1 and l2, or add an adapter that carries FlowSpec \
             (native, exabgp, gobgp, bird, webhook)"
        ));
    }
    let (level, it, their) = if missing.bits().count_ones() == 1 {
        ("level", "it", "its")
    } else {
        ("levels", "them", "their")
    };
    let is = if it == "it" { "is" } else { "are" };
    Some(format!(
        "{level} {missing} {is} enabled, but no adapter or BGP peer is sent {their} routes: add \
         {it} to the levels of an adapter section or a bgp peer, or disable {it}"
    ))
}
