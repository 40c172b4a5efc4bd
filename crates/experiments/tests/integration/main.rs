//! The experiments' integration tests on real MNIST: the Python round trip of saved models, the study, the study sharded over processes and merged, training options. (`isa.rs` is its own binary: it forces the instruction set process-wide.)
//! (One test binary per crate, not one per file: each binary links the crate and
//! monomorphises its networks again, which is most of a fresh build's time.)

mod persist_python;
mod shard;
mod study;
mod training_options;

use std::sync::OnceLock;

use mimic_experiments::study::{Progress, Run, StudyConfig};

/// The `--quick` study, run once in this process, and the last progress it
/// reported: the end-to-end test checks both, and the shard test compares the
/// three processes' merged parts with them. (The tests' settings differ only in
/// the command line their reports print, which changes no run.)
fn quick_study() -> &'static (Vec<Run>, Progress) {
    static RUN: OnceLock<(Vec<Run>, Progress)> = OnceLock::new();
    RUN.get_or_init(|| {
        let (train, test) = mimic_experiments::cli::mnist();
        let mut last = None;
        let runs = mimic_experiments::study::run(&train, &test, &StudyConfig::quick(), &mut |p| {
            last = Some(p)
        });
        (runs, last.expect("progress was reported"))
    })
}
