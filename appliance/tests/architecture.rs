//! The appliance's dependency rule, checked on its source: the top-level modules of
//! `appliance/src` import each other in one direction only (no cycle), and no stage
//! imports the wiring (`daemon`, `app`) or `config` (each stage owns its settings;
//! `config` fills them from the YAML). `cargo test -p levee --test architecture --
//! --nocapture` prints the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The stages: the pipeline's parts, which the wiring assembles.
const STAGES: &[&str] = &[
    "flows",
    "detection",
    "mitigation",
    "adapters",
    "rpki",
    "store",
    "history",
    "control",
    "web",
];

/// `crate::X` names in a source file (paths and `use crate::{X, Y}` groups).
fn imports(src: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in src.match_indices("crate::") {
        let rest = &src[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(group.split(',').map(|p| ident(p.trim())));
        } else {
            out.insert(ident(rest));
        }
    }
    out.retain(|m| !m.is_empty());
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let rel = p.strip_prefix(&src).unwrap();
            let top = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy();
            let module = top.trim_end_matches(".rs").to_string();
            let deps = imports(&std::fs::read_to_string(&p).unwrap());
            let entry = g.entry(module.clone()).or_default();
            entry.extend(deps.into_iter().filter(|d| *d != module));
        }
    }
    g
}

/// A cycle through `from`, if any (depth-first search).
fn cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        g: &BTreeMap<String, BTreeSet<String>>,
        m: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == m) {
            let mut c = path[i..].to_vec();
            c.push(m.to_string());
            return Some(c);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for d in g.get(m).into_iter().flatten() {
            if let Some(c) = visit(g, d, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys()
        .find_map(|m| visit(g, m, &mut Vec::new(), &mut done))
}

#[test]
fn the_appliance_has_no_import_cycle_and_stages_do_not_import_the_wiring() {
    let g = graph();
    for (m, deps) in &g {
        println!(
            "{m} -> {}",
            deps.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    assert!(
        g.contains_key("daemon") && g.contains_key("config"),
        "{g:?}"
    );
    if let Some(c) = cycle(&g) {
        panic!("import cycle: {}", c.join(" -> "));
    }
    for stage in STAGES {
        let deps = g.get(*stage).unwrap_or_else(|| panic!("no stage {stage}"));
        for wiring in ["daemon", "app", "config", "operator", "cli"] {
            assert!(
                !deps.contains(wiring),
                "stage {stage} imports {wiring}: stages own their settings and never \
                 import the wiring or the config"
            );
        }
    }
}

#[test]
fn the_scanner_sees_groups_and_paths() {
    let src = "use crate::a::B;\nuse crate::{b, c::D,\n  d};\nlet x = crate::e::f();";
    let got: Vec<String> = imports(src).into_iter().collect();
    assert_eq!(got, ["a", "b", "c", "d", "e"]);
    let mut g = BTreeMap::new();
    g.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    g.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(cycle(&g), Some(vec!["a".into(), "b".into(), "a".into()]));
    g.remove("b");
    assert_eq!(cycle(&g), None);
}
