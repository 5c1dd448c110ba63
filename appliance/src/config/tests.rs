//! Config tests: every example config loads, and each error names file, line, column
//! and key path with a message that says what was expected.

use super::*;
use levee_mitigate::{Level, Levels};

fn err(src: &str) -> String {
    Config::parse(src, "t.yaml").unwrap_err().to_string()
}

#[test]
fn defaults_and_embedded() {
    let c = Config::parse("", "empty").unwrap();
    assert_eq!(c.listeners.len(), 3);
    assert_eq!(c.listeners[0].bind, "0.0.0.0:6343".parse().unwrap());
    assert_eq!(c.listeners[1].bind.port(), 2055);
    assert_eq!(c.listeners[2].bind.port(), 4739);
    let e = Config::parse(EMBEDDED_DEFAULTS, "embedded").unwrap();
    assert_eq!(e.listeners, c.listeners);
}

#[test]
fn every_shipped_config_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            Config::load(&p).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 2, "configs/ holds the examples");
    let c = Config::load(&dir.join("mirror-lab.yaml")).unwrap();
    assert_eq!(c.listeners.len(), 1);
    assert_eq!(c.mirror[0].sampling.get(), 10);
    assert_eq!(
        c.protected_networks[1].prefixes[0],
        "2001:db8:100::/48".parse::<IpNet>().unwrap()
    );
}

#[test]
fn unknown_key_names_file_line_column_path() {
    let e = err("listeners:\n  sflow:\n    bind: 0.0.0.0:6343\n    bogus: 1\n");
    assert!(
        e.starts_with("t.yaml:4:5: listeners.sflow.bogus: unknown field `bogus`"),
        "{e}"
    );
    assert!(e.contains("expected one of"), "{e}");
}

#[test]
fn bad_values_say_what_was_expected() {
    let e = err("listeners:\n  netflow:\n    bind: nope\n");
    assert!(e.starts_with("t.yaml:3:11: listeners.netflow.bind:"), "{e}");
    assert!(e.contains("expected an address and port"), "{e}");
    let e = err("protected_networks:\n  - name: a\n    prefixes: [192.0.2.0/24, 10.0.0.0/33]\n");
    assert!(
        e.starts_with("t.yaml:3:30: protected_networks[0].prefixes[1]:"),
        "{e}"
    );
    assert!(e.contains("expected an IPv4 or IPv6 prefix"), "{e}");
    let e = err("mirror:\n  - interface: eth1\n    sampling: 0\n");
    assert!(
        e.starts_with("t.yaml:3:5: mirror[0].sampling:") && e.contains("nonzero"),
        "{e}"
    );
    let e = err("listeners:\n  sflow:\n    receive_buffer: 3 parsecs\n");
    assert!(
        e.contains("listeners.sflow.receive_buffer") && e.contains("invalid byte size"),
        "{e}"
    );
}

#[test]
fn semantic_errors_are_located() {
    let e = err(
        "protected_networks:\n  - name: a\n    prefixes: [192.0.2.1/24]\n  - name: a\n    prefixes: [198.51.100.0/24]\n",
    );
    assert!(
        e.contains(
            "t.yaml:3:16: protected_networks[0].prefixes[0]: 192.0.2.1/24 has host bits set"
        ),
        "{e}"
    );
    assert!(
        e.contains(
            "t.yaml:4:11: protected_networks[1].name: protected network name \"a\" is used twice"
        ),
        "{e}"
    );
    let e = err("listeners:\n  netflow:\n    bind: 0.0.0.0:6343\n");
    assert!(
        e.contains(
            "t.yaml:3:5: listeners.netflow.bind: 0.0.0.0:6343 is already used by the sflow listener"
        ),
        "{e}"
    );
    let e = err("mirror:\n  - interface: a\n  - interface: a\n");
    assert!(
        e.contains("t.yaml:3:16: mirror[1].interface: interface a is listed twice"),
        "{e}"
    );
}

#[test]
fn syntax_error_and_missing_file() {
    let e = err("listeners: [\n");
    assert!(e.starts_with("t.yaml:1:"), "{e}");
    let e = Config::load(Path::new("/nonexistent/levee.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("/nonexistent/levee.yaml: cannot read:"),
        "{e}"
    );
}

#[test]
fn detection_defaults_overrides_and_units() {
    let c = Config::parse("", "empty").unwrap();
    assert_eq!(c.detection.policy, levee_detect::policy::Policy::default());
    let c = Config::parse(
        "protected_networks:\n  - name: a\n    prefixes: [192.0.2.0/24]\n    detection:\n      \
         multiplier: 5\n      floor: {bps: 1.5Gbps}\n      thresholds:\n        udp: {pps: 100k}\n\
         detection:\n  floor: {pps: 30k}\n  warmup: {duration: 2m}\n  incident: {quiet_period: 30s}\n\
         \n  max_tracked_ips: 1000\n",
        "t.yaml",
    )
    .unwrap();
    let p = &c.protected_networks[0].policy;
    assert_eq!(p.multiplier, 5.0);
    // Inherited from the global section, and overridden per network.
    assert_eq!(
        (p.floor.pps, p.floor.bps),
        (Some(30_000), Some(1_500_000_000))
    );
    assert_eq!(p.hard[3].pps, Some(100_000));
    assert_eq!(p.warmup, 120);
    assert_eq!(c.detection.quiet_period_us, 30_000_000);
    let e = c.engine_config();
    assert_eq!((e.max_tracked, e.networks.len()), (1000, 1));
}

#[test]
fn detection_errors_name_the_key() {
    let e = err("detection:\n  multiplier: 0.5\n");
    assert!(
        e.starts_with("t.yaml:2:15: detection.multiplier: expected a multiplier"),
        "{e}"
    );
    let e = err("detection:\n  warmup:\n    duration: 10m\n");
    assert!(
        e.contains("detection.warmup.duration: warm-up can be at most 300s"),
        "{e}"
    );
    let e = err("detection:\n  floor:\n    bps: 12 parsecs\n");
    assert!(e.contains("detection.floor.bps"), "{e}");
    assert!(e.contains("expected a bit rate"), "{e}");
    let e = err("detection:\n  incident:\n    hysteresis: 2\n");
    assert!(
        e.contains("detection.incident.hysteresis: expected a fraction"),
        "{e}"
    );
    let e = err(
        "protected_networks:\n  - name: a\n    prefixes: [192.0.2.0/24]\n    detection: {bogus: 1}\n",
    );
    assert!(
        e.contains("protected_networks[0].detection: unknown field `bogus`"),
        "{e}"
    );
}

#[test]
fn bgp_section_parses_and_rejects_with_locations() {
    let ok = "bgp:\n  local_as: 64500\n  router_id: 192.0.2.10\n  shutdown: cease\n  \
              shutdown_message: bye\n  hold_time: 30s\n  peers:\n    - name: edge1\n      \
              address: 192.0.2.1\n      remote_as: 64501\n      hold_time: 9s\n    - name: edge2\n      \
              address: 2001:db8::1\n      remote_as: 64500\n      passive: true\n      \
              families: [ipv6-flowspec]\n";
    let b = Config::parse(ok, "t.yaml").unwrap().bgp.unwrap();
    assert_eq!(
        b.shutdown,
        levee_bgp::speaker::ShutdownPolicy::Cease("bye".into())
    );
    let [e1, e2] = &b.speaker.peers[..] else {
        panic!()
    };
    assert_eq!(
        (e1.hold_time.as_secs(), e2.hold_time.as_secs()),
        (9, 30),
        "per-peer override, else the section's"
    );
    assert_eq!(e1.families.len(), 4);
    assert_eq!(e2.families, vec![levee_bgp::message::Family::IPV6_FLOWSPEC]);
    // A passive peer opens the default listener.
    assert_eq!(b.speaker.listen, Some("[::]:179".parse().unwrap()));

    let e = err(&ok.replace("shutdown: cease", "shutdown: vanish"));
    assert!(
        e.contains("t.yaml:4:13: bgp.shutdown: one of withdraw, cease or keep"),
        "{e}"
    );
    let e = err(&ok.replace("hold_time: 9s", "hold_time: 2s"));
    assert!(e.contains("hold time is 0 (no keepalives) or 3 s"), "{e}");
    let e = err(&ok.replace("[ipv6-flowspec]", "[ipv6-multicast]"));
    assert!(e.contains("ipv4-flowspec, ipv6-flowspec"), "{e}");
    let e = err(&ok.replace("name: edge2", "name: edge1"));
    assert!(e.contains("peer name \"edge1\" is used twice"), "{e}");

    // The MD5 key from a file (its first line), never in the config as well.
    let key = std::env::temp_dir().join(format!("levee-md5-{}", std::process::id()));
    std::fs::write(&key, "s3cret\n").unwrap();
    let with_file = ok.replace(
        "hold_time: 9s\n",
        &format!(
            "hold_time: 9s\n      md5_password_file: {}\n",
            key.display()
        ),
    );
    let b = Config::parse(&with_file, "t.yaml").unwrap().bgp.unwrap();
    assert_eq!(b.speaker.peers[0].md5_password.as_deref(), Some("s3cret"));
    let shown = format!("{b:?}");
    assert!(
        !shown.contains("s3cret") && shown.contains("md5_password: Some(\"***\")"),
        "{shown}"
    );
    let both = with_file.replace(
        "      md5_password_file:",
        "      md5_password: x\n      md5_password_file:",
    );
    assert!(err(&both).contains("md5_password or md5_password_file, not both"));
    std::fs::remove_file(&key).unwrap();
    let e = err(&with_file);
    assert!(
        e.contains("bgp.peers[0].md5_password_file: a readable file"),
        "{e}"
    );
}

#[test]
fn mitigation_section_and_network_ladders() {
    use levee_mitigate::Level;
    use levee_mitigate::settings::Metric;
    let ok = "protected_networks:\n  - name: a\n    prefixes: [192.0.2.0/24]\n  - name: b\n    \
              prefixes: [198.51.100.0/24]\n    mitigation:\n      levels:\n        \
              l3: {enabled: false}\n        l1: {trigger: 20kpps}\n\
              mitigation:\n  dry_run: true\n  ttl: 10m\n  safelist: [192.0.2.53/32]\n  levels:\n    \
              l1: {rate_limit: 8Mbps}\n    l3: {hold: 1s, communities: [\"64500:666\"], \
              large_communities: [\"64500:1:2\"], no_export: true, next_hop: [192.0.2.254, 2001:db8::ff]}\n    \
              l4: {prefix_length_v4: 22}\n\
              store: {path: /tmp/x.db}\ncontrol: {socket: /tmp/x.sock}\n";
    let c = Config::parse(ok, "t.yaml").unwrap();
    let m = &c.mitigation;
    assert!(m.settings.dry_run);
    assert_eq!(m.settings.ttl_us, 600_000_000);
    assert_eq!(
        m.settings.safelist,
        vec!["192.0.2.53/32".parse::<ipnet::IpNet>().unwrap()]
    );
    assert!(m.adapters.is_empty(), "no bgp section: no native adapter");
    assert_eq!(
        (m.store.to_str(), m.control_socket.to_str()),
        (Some("/tmp/x.db"), Some("/tmp/x.sock"))
    );
    let [a, b] = &m.settings.networks[..] else {
        panic!()
    };
    assert_eq!(a.ladder.rate_limit_bps, 8_000_000);
    assert_eq!(a.ladder.rtbh.communities, vec![(64500 << 16) | 666]);
    assert_eq!(a.ladder.rtbh.large_communities, vec![[64500, 1, 2]]);
    assert_eq!(
        a.ladder.rtbh.next_hop_v6,
        Some("2001:db8::ff".parse().unwrap())
    );
    assert_eq!(a.ladder.scrub_len_v4, 22);
    assert!(a.ladder.level(Level::L3).enabled);
    // The network's overrides on top of the global ladder.
    assert!(!b.ladder.level(Level::L3).enabled);
    assert_eq!(b.ladder.level(Level::L1).trigger.metric, Metric::Pps);
    assert_eq!(b.ladder.level(Level::L3).hold_us, 1_000_000);
    assert_eq!(b.ladder.rate_limit_bps, 8_000_000);

    let e = err(&ok.replace("trigger: 20kpps", "trigger: fast"));
    assert!(
        e.contains("t.yaml:9:23: protected_networks[1].mitigation.levels.l1"),
        "{e}"
    );
    assert!(e.contains("a rate such as 100Mbps, 2Gbps or 50kpps"), "{e}");
    let e = err(&ok.replace("l1: {rate_limit: 8Mbps}", "l1: {communities: [\"1:2\"]}"));
    assert!(e.contains("mitigation.levels.l1"), "{e}");
    assert!(e.contains("communities belongs to l3 (RTBH) and l4"), "{e}");
    let e = err(&ok.replace("\"64500:666\"", "\"64500:99999\""));
    assert!(e.contains("a community such as 64500:666"), "{e}");
    let e = err(&ok.replace("ttl: 10m", "ttl: 10ms"));
    assert!(e.contains("mitigation.ttl: a TTL of at least 1s"), "{e}");
    for huge in ["745h", "5124095576h"] {
        let e = err(&ok.replace("ttl: 10m", &format!("ttl: {huge}")));
        assert!(
            e.contains("mitigation.ttl: a TTL of at most 30 days"),
            "{e}"
        );
    }
    let e = err(&ok.replace("dry_run: true", "adapters: [native]"));
    assert!(e.contains("the native adapter needs a bgp section"), "{e}");
    let e = err(&ok.replace("dry_run: true", "adapters: [quagga]"));
    assert!(e.contains("an adapter: native"), "{e}");
    let e = err(&ok.replace("192.0.2.53/32]", "192.0.2.53/24]"));
    assert!(e.contains("has host bits set"), "{e}");
}

#[test]
fn adapter_and_rpki_sections() {
    let c = Config::parse(
        "bgp:\n  local_as: 64500\n  router_id: 192.0.2.1\n  peers: []\n\
         mitigation:\n  adapters: [native, gobgp, bird, frr, exabgp]\n  gobgp: {port: 50052}\n  \
         bird: {include: /tmp/levee-bird.conf, flow4_table: ft4}\n  frr: {tag: 7000}\n  \
         exabgp: {pipe_name: edge}\n\
         rpki:\n  caches: [\"192.0.2.10:3323\", \"[2001:db8::10]:323\"]\n  policy: warn\n",
        "t.yaml",
    )
    .unwrap();
    let names: Vec<&str> = c
        .mitigation
        .adapters
        .iter()
        .map(|a| a.kind.name())
        .collect();
    assert_eq!(names, ["native", "gobgp", "bird", "frr", "exabgp"]);
    match &c.mitigation.adapters[4].kind {
        crate::adapters::Kind::Exabgp(e) => {
            assert_eq!(e.commands(), std::path::Path::new("/run/exabgp/edge.in"))
        }
        other => panic!("{other:?}"),
    }
    match &c.mitigation.adapters[1].kind {
        crate::adapters::Kind::Gobgp(g) => {
            assert_eq!((g.port, g.host.as_str()), (50052, "127.0.0.1"))
        }
        other => panic!("{other:?}"),
    }
    match &c.mitigation.adapters[2].kind {
        crate::adapters::Kind::Bird(b) => assert_eq!(b.tables[0], "ft4"),
        other => panic!("{other:?}"),
    }
    let r = c.rpki.unwrap();
    assert_eq!(r.origins, [64500], "bgp.local_as is the default origin");
    assert_eq!(
        (r.policy, r.fail),
        (crate::rpki::Policy::Warn, crate::rpki::Fail::Open)
    );

    for (src, want) in [
        (
            "mitigation:\n  adapters: [exa]\n",
            "an adapter: native, exabgp, gobgp, bird, frr, null_route, webhook",
        ),
        (
            "mitigation:\n  adapters: [null_route]\n",
            "the null_route adapter carries RTBH only",
        ),
        (
            "mitigation:\n  adapters: [null_route]\n  null_route: {protocol: 2}\n  levels: {l1: {enabled: false}, l2: {enabled: false}}\n",
            "a route protocol number from 5 to 255",
        ),
        (
            "mitigation:\n  adapters: [exabgp]\n  exabgp: {pipe_name: a/b}\n",
            "a pipe name without '/'",
        ),
        (
            "mitigation:\n  exabgp: {pipe_dir: /run/exabgp}\n",
            "an exabgp section, but exabgp is not in mitigation.adapters",
        ),
        (
            "mitigation:\n  gobgp: {port: 1}\n",
            "a gobgp section, but gobgp is not in mitigation.adapters",
        ),
        (
            "mitigation:\n  adapters: [frr]\n",
            "the frr adapter carries RTBH only",
        ),
        (
            "mitigation:\n  adapters: [frr]\n  frr: {route_map: \"A B\"}\n  levels: {l1: {enabled: false}, l2: {enabled: false}}\n",
            "a route-map name without spaces",
        ),
        (
            "rpki:\n  caches: [\"192.0.2.10\"]\n  origin_asns: [64500]\n",
            "host:port",
        ),
        (
            "rpki:\n  caches: [\"192.0.2.10:323\"]\n",
            "origin_asns (there is no bgp.local_as",
        ),
        (
            "rpki:\n  caches: [\"192.0.2.10:323\"]\n  origin_asns: [1]\n  fail: maybe\n",
            "open or closed",
        ),
    ] {
        let e = err(src);
        assert!(e.contains(want), "{src}: {e}");
    }
}

#[test]
fn levels_route_adapters_and_peers() {
    let dir = std::env::temp_dir().join(format!("levee-cfg-webhook-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("secret");
    std::fs::write(&secret, "0123456789abcdef0123456789abcdef\n").unwrap();
    let bgp = "bgp:\n  local_as: 64500\n  router_id: 192.0.2.1\n  peers:\n    \
               - {name: edge, address: 192.0.2.1, remote_as: 64501, levels: [l1, l2, l3]}\n    \
               - {name: scrub, address: 203.0.113.1, remote_as: 64511, levels: [l4]}\n";
    let c = Config::parse(
        &format!(
            "{bgp}mitigation:\n  adapters: [native, webhook]\n  webhook:\n    \
             url: https://scrub.example.net/levee\n    secret_file: {}\n    \
             timeout: 2s\n    attempts: 5\n    levels: [l4]\n",
            secret.display()
        ),
        "t.yaml",
    )
    .unwrap();
    let peers = &c.bgp.as_ref().unwrap().speaker.peers;
    assert_eq!(
        (peers[0].export.0, peers[1].export.0),
        (0b0111, 0b1000),
        "each level is an export group"
    );
    let [native, webhook] = &c.mitigation.adapters[..] else {
        panic!("{:?}", c.mitigation.adapters)
    };
    assert_eq!(
        native.levels,
        Levels::ALL,
        "the native adapter: its peers' levels"
    );
    assert_eq!(webhook.levels, Levels::of(Level::L4));
    match &webhook.kind {
        crate::adapters::Kind::Webhook(w) => {
            assert_eq!(
                w.secret.0, b"0123456789abcdef0123456789abcdef",
                "trailing newline dropped"
            );
            assert_eq!((w.attempts, w.timeout.as_secs()), (5, 2));
            assert_eq!(w.url.as_str(), "https://scrub.example.net/levee");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        c.summary().contains("native, webhook (l4)"),
        "{}",
        c.summary()
    );

    // Nobody carries l4 (enabled by default) once the scrubbing peer is gone.
    let e = err(
        "bgp:\n  local_as: 64500\n  router_id: 192.0.2.1\n  peers:\n    \
         - {name: edge, address: 192.0.2.1, remote_as: 64501, levels: [l1, l2, l3]}\n\
         mitigation:\n  adapters: [native]\n",
    );
    assert!(
        e.contains("level l4 is enabled, but no adapter or BGP peer is sent its routes"),
        "{e}"
    );
    // ...which is fine when l4 is off.
    Config::parse(
        "bgp:\n  local_as: 64500\n  router_id: 192.0.2.1\n  peers:\n    \
         - {name: edge, address: 192.0.2.1, remote_as: 64501, levels: [l1, l2, l3]}\n\
         mitigation:\n  levels: {l4: {enabled: false}}\n",
        "t.yaml",
    )
    .unwrap();

    let missing = dir.join("missing");
    let short = dir.join("short");
    std::fs::write(&short, "abc\n").unwrap();
    for (src, want) in [
        (
            "mitigation:\n  adapters: [webhook]\n".to_string(),
            "a webhook section with url (or url_file) and secret_file (or secret)",
        ),
        (
            format!("mitigation:\n  adapters: [webhook]\n  webhook: {{url: \"https://x.example/\", url_file: {}, secret: 0123456789abcdef}}\n", secret.display()),
            "url or url_file, not both",
        ),
        (
            format!("mitigation:\n  adapters: [webhook]\n  webhook: {{url_file: {}, secret: 0123456789abcdef}}\n", missing.display()),
            "a readable file (",
        ),
        (
            format!("mitigation:\n  adapters: [webhook]\n  webhook: {{url_file: {}, secret: 0123456789abcdef}}\n", short.display()),
            "a URL (",
        ),
        (
            "mitigation:\n  adapters: [webhook]\n  webhook: {url: \"ftp://x.example/\", secret: 0123456789abcdef}\n".into(),
            "an http:// or https:// URL",
        ),
        (
            "mitigation:\n  adapters: [webhook]\n  webhook: {url: \"https://x.example/\"}\n".into(),
            "a secret_file (or secret)",
        ),
        (
            format!("mitigation:\n  adapters: [webhook]\n  webhook: {{url: \"https://x.example/\", secret_file: {}}}\n", missing.display()),
            "a readable secret file",
        ),
        (
            format!("mitigation:\n  adapters: [webhook]\n  webhook: {{url: \"https://x.example/\", secret_file: {}}}\n", short.display()),
            "a secret of at least 16 bytes",
        ),
        (
            format!("mitigation:\n  adapters: [webhook]\n  webhook: {{url: \"https://x.example/\", secret: 0123456789abcdef, ca_file: {}}}\n", secret.display()),
            "a file of PEM certificates",
        ),
        (
            "mitigation:\n  adapters: [webhook]\n  webhook: {url: \"https://x.example/\", secret: 0123456789abcdef, attempts: 0}\n".into(),
            "1 to 10 attempts",
        ),
        (
            "mitigation:\n  adapters: [webhook]\n  webhook: {url: \"https://x.example/\", secret: 0123456789abcdef, levels: [l5]}\n".into(),
            "a level: l1, l2, l3 or l4",
        ),
        (
            "mitigation:\n  adapters: [webhook]\n  webhook: {url: \"https://x.example/\", secret: 0123456789abcdef, levels: [l4]}\n".into(),
            "levels l1, l2, l3 are enabled, but no adapter or BGP peer is sent their routes",
        ),
        (
            "mitigation:\n  webhook: {url: \"https://x.example/\"}\n".into(),
            "a webhook section, but webhook is not in mitigation.adapters",
        ),
        (
            "mitigation:\n  adapters: [frr, null_route]\n  frr: {levels: [l3]}\n  null_route: {levels: [l3]}\n  levels: {l1: {enabled: false}, l2: {enabled: false}}\n".into(),
            "level l4 is enabled",
        ),
    ] {
        let e = err(&src);
        assert!(e.contains(want), "{src}: {e}");
    }
    // url_file: the first line is the URL, printed masked everywhere.
    let url = dir.join("url");
    std::fs::write(&url, "https://scrub.example.net/hook?token=tok-4242\n").unwrap();
    let c = Config::parse(
        &format!(
            "mitigation:\n  adapters: [webhook]\n  levels: {{l1: {{enabled: false}}, l2: \
             {{enabled: false}}, l3: {{enabled: false}}}}\n  webhook: {{url_file: {}, \
             secret_file: {}}}\n",
            url.display(),
            secret.display()
        ),
        "t.yaml",
    )
    .unwrap();
    let crate::adapters::Kind::Webhook(w) = &c.mitigation.adapters[0].kind else {
        panic!()
    };
    assert_eq!(w.url.query(), Some("token=tok-4242"));
    let printed = format!("{c:?}\n{}", c.summary());
    assert!(
        !printed.contains("tok-4242") && !printed.contains("0123456789abcdef"),
        "{printed}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A config listing `n` safelisted /32s (block style, one per line), from 198.18.0.0.
fn with_safelist(n: u32) -> String {
    let mut s = String::from(
        "protected_networks:\n  - name: a\n    prefixes: [192.0.2.0/24]\n\
         mitigation:\n  dry_run: true\n  safelist:\n",
    );
    let base = u32::from(std::net::Ipv4Addr::new(198, 18, 0, 0));
    for i in 0..n {
        s.push_str("    - ");
        s.push_str(&std::net::Ipv4Addr::from(base + i).to_string());
        s.push_str("/32\n");
    }
    s
}

/// A 250k-entry safelist loads (serde-saphyr's default budget of 250,000 nodes refused
/// it with an internal budget error), and the engine built from it works.
#[test]
fn a_250k_entry_safelist_loads() {
    let c = Config::parse(&with_safelist(250_000), "t.yaml").unwrap();
    assert_eq!(c.mitigation.settings.safelist.len(), 250_000);
    let mut e = levee_mitigate::Engine::new(c.mitigation.settings.clone(), 1);
    // The last entry is safelisted, outside the protected networks: it says the latter.
    let r = e.level_routes(0, "198.21.208.143".parse().unwrap(), Level::L1);
    assert!(
        matches!(r, Err(levee_mitigate::Refusal::OutsideProtected { .. })),
        "{r:?}"
    );
}

/// Past the documented limit the error names the limit and the key, not the parser.
#[test]
fn a_safelist_over_the_limit_is_a_clear_error() {
    let src = format!(
        "mitigation:\n  safelist: [{}]\n",
        vec!["192.0.2.53/32"; mitigation::MAX_SAFELIST + 1].join(", ")
    );
    let e = err(&src);
    assert!(
        e.contains("mitigation.safelist") && e.contains("at most 1000000 safelist entries"),
        "{e}"
    );
}

#[test]
fn history_retention_parses_in_days_and_is_bounded() {
    let d = Config::parse("listeners: {}\n", "t.yaml").unwrap();
    assert_eq!(d.history.retention_s, 30 * 86_400, "the default");
    let c = Config::parse("history:\n  retention: 7d\n", "t.yaml").unwrap();
    assert_eq!(c.history.retention_s, 7 * 86_400);
    assert!(
        c.summary().contains("minutes kept 7 days"),
        "{}",
        c.summary()
    );
    let c = Config::parse("history: {retention: 90m}\n", "t.yaml").unwrap();
    assert_eq!(c.history.retention_s, 5400);
    let e = err("history:\n  retention: 10m\n");
    assert!(
        e.contains("t.yaml:2:14: history.retention: a retention from 1h to 366d"),
        "{e}"
    );
    let e = err("history:\n  retention: 400d\n");
    assert!(e.contains("history.retention"), "{e}");
    let e = err("history:\n  keep: 7d\n");
    assert!(e.contains("history") && e.contains("keep"), "{e}");
}
