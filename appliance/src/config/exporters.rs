//! The `exporters:` section: the routers allowed to send flows, matched on the UDP source
//! address of their datagrams, each with optional overrides.
//!
//! ```yaml
//! exporters:
//!   - name: edge1
//!     address: 192.0.2.1        # an address or a prefix
//!     sampling: 1000            # optional override
//!     interfaces: [3, 7]        # optional: count only records whose input interface is listed
//!     max_rate: 100Gbps         # optional: the most this exporter can truthfully report
//! ```
//!
//! Names are unique. Prefixes may overlap (the most specific wins), but the same prefix
//! twice is refused: which entry would apply could not be told. An empty list is refused
//! too (it would drop every datagram): remove the section to accept every source.

use super::detection::Ctx;
use super::units::BitRate;
use crate::flows::settings::Exporter;
use ipnet::IpNet;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::net::IpAddr;
use std::num::NonZeroU32;

/// One entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExporter {
    name: Spanned<String>,
    address: Spanned<String>,
    sampling: Option<Spanned<u32>>,
    interfaces: Option<Spanned<Vec<u32>>>,
    max_rate: Option<Spanned<BitRate>>,
}

/// The section, when present.
pub(super) fn convert(raw: Spanned<Vec<RawExporter>>, cx: &mut Ctx<'_>) -> Vec<Exporter> {
    if raw.value.is_empty() {
        cx.err(
            &raw,
            "expected at least one exporter; an empty list would drop every datagram \
             (remove the section to accept any source, which is not recommended)",
        );
    }
    let mut out: Vec<Exporter> = Vec::new();
    for e in raw.value {
        let name = e.name.value.trim().to_string();
        if name.is_empty() {
            cx.err(&e.name, "an exporter needs a name");
        } else if out.iter().any(|o| o.name == name) {
            cx.err(&e.name, &format!("exporter name {name:?} is used twice"));
        }
        let prefix = address(&e.address, cx);
        if let Some(p) = prefix
            && let Some(o) = out.iter().find(|o| o.prefix == p)
        {
            let msg = format!("{p} is already the address of exporter {:?}", o.name);
            cx.err(&e.address, &msg);
        }
        let sampling = e.sampling.and_then(|s| {
            let n = NonZeroU32::new(s.value);
            if n.is_none() {
                cx.err(&s, "expected a sampling rate of at least 1 (1:N)");
            }
            n
        });
        let interfaces = e.interfaces.map(|l| {
            if l.value.is_empty() {
                cx.err(
                    &l,
                    "expected interface indexes; omit the key to count every interface",
                );
            }
            l.value
        });
        let max_bps = e.max_rate.and_then(|r| {
            if r.value.0 == 0 {
                cx.err(&r, "expected a positive bit rate such as \"100Gbps\"");
                return None;
            }
            Some(r.value.0)
        });
        out.push(Exporter {
            name,
            prefix: prefix.unwrap_or_else(|| IpNet::from(IpAddr::from([0, 0, 0, 0]))),
            sampling,
            interfaces,
            max_bps,
        });
    }
    out
}

/// An address (a host prefix) or a prefix without host bits.
fn address(a: &Spanned<String>, cx: &mut Ctx<'_>) -> Option<IpNet> {
    let s = a.value.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(IpNet::from(ip));
    }
    match s.parse::<IpNet>() {
        Ok(p) if p != p.trunc() => {
            let msg = format!("{p} has host bits set; did you mean {}?", p.trunc());
            cx.err(a, &msg);
            None
        }
        Ok(p) => Some(p),
        Err(_) => {
            cx.err(
                a,
                "expected an address or a prefix, such as 192.0.2.1 or 192.0.2.0/28",
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn err(src: &str) -> String {
        Config::parse(src, "t.yaml").unwrap_err().to_string()
    }

    #[test]
    fn the_section_as_the_issue_shows_it() {
        let c = Config::parse(
            "exporters:\n  - name: edge1\n    address: 192.0.2.1        # an address\n    sampling: 1000\n    interfaces: [3, 7]\n    max_rate: 100Gbps\n  - name: pop\n    address: 192.0.2.0/24\n",
            "t.yaml",
        )
        .unwrap();
        let e = c.flows().exporters.unwrap();
        assert_eq!(e[0].name, "edge1");
        assert_eq!(e[0].prefix, "192.0.2.1/32".parse().unwrap());
        assert_eq!(e[0].sampling.map(|n| n.get()), Some(1000));
        assert_eq!(e[0].interfaces, Some(vec![3, 7]));
        assert_eq!(e[0].max_bps, Some(100_000_000_000));
        assert_eq!((e[1].sampling, e[1].max_bps), (None, None));
        assert!(
            c.summary()
                .contains("exporter edge1 192.0.2.1/32 sampling 1:1000")
        );
        // Without the section: no allowlist, and `levee check` warns.
        let open = Config::parse("", "t.yaml").unwrap();
        assert_eq!(open.flows().exporters, None);
        let summary = open.summary();
        assert!(summary.contains("anyone who can reach the flow ports"));
        assert!(
            summary.contains(
                "up to ingest.max_exporter_rate (400.00Gbps) at sampling rates up to 1:100000"
            ),
            "{summary}"
        );
    }

    #[test]
    fn bad_entries_are_located() {
        let e = err(
            "exporters:\n  - name: a\n    address: 192.0.2.1/24\n  - name: a\n    address: nowhere\n    sampling: 0\n    interfaces: []\n    max_rate: 0\n",
        );
        for want in [
            "t.yaml:3:14: exporters[0].address: 192.0.2.1/24 has host bits set",
            "t.yaml:4:11: exporters[1].name: exporter name \"a\" is used twice",
            "t.yaml:5:14: exporters[1].address: expected an address or a prefix",
            "t.yaml:6:15: exporters[1].sampling: expected a sampling rate of at least 1",
            "t.yaml:7:17: exporters[1].interfaces: expected interface indexes",
            "t.yaml:8:15: exporters[1].max_rate: expected a positive bit rate",
        ] {
            assert!(e.contains(want), "{want} in:\n{e}");
        }
        let e = err(
            "exporters:\n  - name: a\n    address: 192.0.2.1\n  - name: b\n    address: 192.0.2.1/32\n",
        );
        assert!(
            e.contains(
                "exporters[1].address: 192.0.2.1/32 is already the address of exporter \"a\""
            ),
            "{e}"
        );
        assert!(err("exporters: []\n").contains("expected at least one exporter"));
        let e = err("ingest:\n  max_sampling_rate: 0\n  max_exporter_rate: 0\n");
        assert!(
            e.contains("ingest.max_sampling_rate: expected a positive integer"),
            "{e}"
        );
        assert!(
            e.contains("ingest.max_exporter_rate: expected a positive bit rate"),
            "{e}"
        );
        let e = err("ingest:\n  max_streams_per_listed_exporter: 0\n");
        assert!(
            e.contains("ingest.max_streams_per_listed_exporter: expected a positive integer"),
            "{e}"
        );
    }

    #[test]
    fn listed_exporters_have_their_own_quotas() {
        let c = Config::parse(
            "ingest:\n  max_streams_per_listed_exporter: 64\n  max_templates_per_listed_exporter: 512\n",
            "t.yaml",
        )
        .unwrap();
        let l = c.flows().bounds.limits;
        assert_eq!(
            (l.max_domains_per_exporter, l.max_templates_per_exporter),
            (64, 512)
        );
        let d = Config::parse("", "t.yaml").unwrap().flows().bounds.limits;
        assert_eq!(
            (d.max_domains_per_exporter, d.max_templates_per_exporter),
            (1_024, 16_384)
        );
    }
}
