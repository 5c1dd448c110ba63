//! The fuzz targets' checked-in corpora as a regression test: every input under
//! `flow/fuzz/regressions/TARGET/` (seeds from the fixture captures, made by
//! `flow/fuzz/seed.sh`, and every crash input `cargo fuzz` ever found, named `crash-*`)
//! goes through the target's body, `levee_flow::fuzzing::TARGET`, as in the fuzzer.
//! A crash found once fails `cargo test` if it returns. docs/FUZZING.md has the rest.

use levee_flow::fuzzing::TARGETS;
use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every input of every target; names each input that panics.
#[test]
fn every_regression_input_passes_its_target() {
    let mut failed = Vec::new();
    for (target, body) in TARGETS {
        let files = corpus(target);
        // Seeds from the captures: a missing or emptied corpus is a failure, not a pass.
        assert!(files.len() >= 2, "{target}: only {} inputs", files.len());
        for f in files {
            let data = std::fs::read(&f).unwrap();
            if std::panic::catch_unwind(|| body(&data)).is_err() {
                failed.push(f.display().to_string());
            }
        }
    }
    assert!(
        failed.is_empty(),
        "inputs that crash their target: {failed:#?}"
    );
}

/// Every fuzz target has a corpus directory, and every corpus directory a target.
#[test]
fn every_target_has_a_corpus_and_every_corpus_a_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let mut bins: Vec<String> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .map(|n| n.trim_end_matches('"').to_string())
        .filter(|n| n != "levee-flow-fuzz")
        .collect();
    bins.sort();
    let mut dirs: Vec<String> = std::fs::read_dir(root.join("regressions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut targets: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    targets.sort();
    assert_eq!(
        bins, targets,
        "fuzz/Cargo.toml's targets and fuzzing::TARGETS"
    );
    assert_eq!(dirs, targets, "fuzz/regressions/ and fuzzing::TARGETS");
}
