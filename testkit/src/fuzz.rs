//! The fuzz targets' checked-in corpora as regression tests, for the crates that have
//! cargo-fuzz targets (`flow`, `bgp`): every input under `<crate>/fuzz/regressions/TARGET/`
//! goes through the target's body as in the fuzzer, so a crash found once fails
//! `cargo test` if it returns; and the fuzz manifest's targets, the corpus directories
//! and the crate's table of bodies must name the same targets.

use std::path::{Path, PathBuf};

/// A fuzz target's body: arbitrary bytes in, a panic only on a broken promise.
pub type Body = fn(&[u8]);

/// The inputs of one target's corpus, sorted.
fn corpus(crate_dir: &Path, target: &str) -> Vec<PathBuf> {
    let dir = crate_dir.join("fuzz/regressions").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every input of every target through its body; panics naming each input that
/// crashes its target, and on a corpus of fewer than two inputs (a missing or emptied
/// corpus is a failure, not a pass).
pub fn run_corpora(crate_dir: &Path, targets: &[(&str, Body)]) {
    let mut failed = Vec::new();
    for (target, body) in targets {
        let files = corpus(crate_dir, target);
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

/// The fuzz manifest's `[[bin]]` targets (all but the package `fuzz_package`), the
/// directories under `fuzz/regressions/`, and `targets` name the same set.
pub fn check_targets(crate_dir: &Path, fuzz_package: &str, targets: &[(&str, Body)]) {
    let root = crate_dir.join("fuzz");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let mut bins: Vec<String> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .map(|n| n.trim_end_matches('"').to_string())
        .filter(|n| n != fuzz_package)
        .collect();
    bins.sort();
    let mut dirs: Vec<String> = std::fs::read_dir(root.join("regressions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut names: Vec<String> = targets.iter().map(|(n, _)| n.to_string()).collect();
    names.sort();
    assert_eq!(
        bins, names,
        "fuzz/Cargo.toml's targets and fuzzing::TARGETS"
    );
    assert_eq!(dirs, names, "fuzz/regressions/ and fuzzing::TARGETS");
}
