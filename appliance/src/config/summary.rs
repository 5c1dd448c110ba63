//! `levee check`'s summary of a valid config: one short section per stage.

use super::Config;
use std::time::Duration;

impl Config {
    /// A few lines describing what this config will do.
    pub fn summary(&self) -> String {
        let mut s = format!("config {} is valid\n", self.origin);
        for section in [
            listeners, exporters, mirror, networks, peers, mitigation, rpki, ladders,
        ] {
            section(self, &mut s);
        }
        s
    }
}

/// The listeners, and a warning when the kernel grants less buffer than asked.
fn listeners(c: &Config, s: &mut String) {
    for l in &c.listeners {
        *s += &format!(
            "  listener {:<7} {} (receive buffer {})\n",
            l.kind.as_str(),
            l.bind,
            crate::human::bytes(l.receive_buffer)
        );
    }
    let most = c.listeners.iter().map(|l| l.receive_buffer).max();
    if let (Some(max), Some(want)) = (rmem_max(), most)
        && max < want
    {
        *s += &format!(
            "  warning: the kernel grants a receive buffer of at most {} \
             (net.core.rmem_max): raise it with sysctl -w net.core.rmem_max={want}, \
             or ask for less\n",
            crate::human::bytes(max),
        );
    }
}

/// The allowed exporters, or the warning that anyone may send.
fn exporters(c: &Config, s: &mut String) {
    let Some(list) = &c.exporters else {
        if !c.listeners.is_empty() {
            *s += &format!("  warning: {}\n", crate::flows::open_listeners(&c.ingest));
        }
        return;
    };
    for e in list {
        *s += &format!("  exporter {} {}", e.name, e.prefix);
        if let Some(n) = e.sampling {
            *s += &format!(" sampling 1:{n}");
        }
        if let Some(i) = &e.interfaces {
            let i: Vec<String> = i.iter().map(u32::to_string).collect();
            *s += &format!(" interfaces {}", i.join(","));
        }
        let bps = e.max_bps.unwrap_or(c.ingest.max_exporter_bps);
        *s += &format!(" max_rate {}bps\n", crate::human::si(bps));
    }
}

/// The mirror ports.
fn mirror(c: &Config, s: &mut String) {
    for m in &c.mirror {
        *s += &format!(
            "  mirror   {} sampling 1:{}{}\n",
            m.interface,
            m.sampling,
            m.bpf
                .as_ref()
                .map(|f| format!(" filter {f:?}"))
                .unwrap_or_default()
        );
    }
}

/// How many networks and prefixes are protected.
fn networks(c: &Config, s: &mut String) {
    let prefixes: usize = c.protected_networks.iter().map(|n| n.prefixes.len()).sum();
    *s += &format!(
        "  protected networks: {} ({})\n",
        c.protected_networks.len(),
        crate::human::plural(prefixes, "prefix", "prefixes")
    );
}

/// The BGP peers and their families.
fn peers(c: &Config, s: &mut String) {
    if let Some(b) = &c.bgp {
        for p in &b.speaker.peers {
            let families: Vec<String> = p.families.iter().map(|f| f.to_string()).collect();
            *s += &format!(
                "  bgp peer {} {}:{} AS{} ({}{}{}{})\n",
                p.name,
                p.address,
                p.port,
                p.remote_as,
                if p.remote_as == p.local_as {
                    "iBGP"
                } else {
                    "eBGP"
                },
                if p.passive { ", passive" } else { "" },
                if p.md5_password.is_some() {
                    ", MD5"
                } else {
                    ""
                },
                if p.ttl_security.is_some() {
                    ", GTSM"
                } else {
                    ""
                },
            );
            *s += &format!("    families {}\n", families.join(" "));
        }
    }
}

/// Where routes go, the TTL and the caps.
fn mitigation(c: &Config, s: &mut String) {
    let m = &c.mitigation;
    let adapters: Vec<String> = m
        .adapters
        .iter()
        .map(|a| {
            if a.levels == levee_mitigate::Levels::ALL {
                a.kind.name().to_string()
            } else {
                format!("{} ({})", a.kind.name(), a.levels)
            }
        })
        .collect();
    *s += &format!(
        "  mitigation via {} (ttl {}s, caps {} total / {} per network){}\n",
        if adapters.is_empty() {
            "no adapter: recorded only".to_string()
        } else {
            adapters.join(", ")
        },
        Duration::from_micros(m.settings.ttl_us).as_secs(),
        m.settings.max_active,
        m.settings.max_active_per_network,
        if m.settings.dry_run { ", dry run" } else { "" },
    );
    for a in &m.adapters {
        if let crate::adapters::Kind::Webhook(w) = &a.kind {
            // Masked: a token in the query string or userinfo is a secret.
            *s += &format!("  webhook posts to {}\n", crate::redact::url(&w.url));
        }
    }
    *s += &format!(
        "  store {}{}\n",
        m.store.display(),
        if m.audit_key.is_some() {
            ", audit chain HMAC-keyed"
        } else {
            ""
        }
    );
    *s += &format!(
        "  traffic history: last hour in memory, minutes kept {} days\n",
        c.history.retention_s as f64 / 86_400.0
    );
}

/// The RPKI gate.
fn rpki(c: &Config, s: &mut String) {
    if let Some(r) = &c.rpki {
        let asns: Vec<String> = r.origins.iter().map(|a| format!("AS{a}")).collect();
        *s += &format!(
            "  rpki gate {:?}, fail {:?}, origins {}, caches {}\n",
            r.policy,
            r.fail,
            asns.join(" "),
            r.caches.join(" ")
        )
        .to_lowercase();
    }
}

/// Each network's enabled levels and their triggers.
fn ladders(c: &Config, s: &mut String) {
    for n in &c.protected_networks {
        let levels: Vec<String> = levee_mitigate::Level::ALL
            .iter()
            .filter(|l| n.ladder.level(**l).enabled)
            .map(|l| {
                let ls = n.ladder.level(*l);
                let t = match ls.trigger.metric {
                    levee_mitigate::settings::Metric::Bps => {
                        format!("{}bps", crate::human::si(ls.trigger.value))
                    }
                    levee_mitigate::settings::Metric::Pps => {
                        format!("{}pps", crate::human::si(ls.trigger.value))
                    }
                };
                let hold = if ls.hold_us > 0 {
                    format!(" for {}s", Duration::from_micros(ls.hold_us).as_secs_f64())
                } else {
                    String::new()
                };
                format!("{l} >{t}{hold}")
            })
            .collect();
        *s += &format!(
            "    {}: {}\n",
            n.name,
            if levels.is_empty() {
                "no level enabled".into()
            } else {
                levels.join(", ")
            }
        );
    }
}

/// The largest receive buffer the kernel grants an unprivileged `SO_RCVBUF`.
fn rmem_max() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/net/core/rmem_max")
        .ok()?
        .trim()
        .parse()
        .ok()
}
