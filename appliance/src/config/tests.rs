use super::*;

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
