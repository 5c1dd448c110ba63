//! The fuzz targets' checked-in corpora as a regression test: every input under
//! `bgp/fuzz/regressions/TARGET/` (seeds: the GoBGP and ExaBGP UPDATEs of
//! `tests/captures.rs`, messages levee encodes, route texts; and every crash input
//! `cargo fuzz` ever found, named `crash-*`) goes through the target's body,
//! `levee_bgp::fuzzing::TARGET`, as in the fuzzer. docs/FUZZING.md has the rest.

use levee_bgp::fuzzing::TARGETS;
use levee_testkit::fuzz::{check_targets, run_corpora};
use std::path::Path;

/// Runs every input of every target; names each input that panics.
#[test]
fn every_regression_input_passes_its_target() {
    run_corpora(Path::new(env!("CARGO_MANIFEST_DIR")), &TARGETS);
}

/// Every fuzz target has a corpus directory, and every corpus directory a target.
#[test]
fn every_target_has_a_corpus_and_every_corpus_a_target() {
    check_targets(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        "levee-bgp-fuzz",
        &TARGETS,
    );
}
