//! The benchmark: a 784→10 LeakyReLU network trained directly on MNIST's labels
//! (cross-entropy, lr 0.001, one pass). The seed got about 90%.
//!
//! `cargo run --release --example mnist_small -- --help`

mod support;

use std::process::ExitCode;

use mimic::experiment::{Stopwatch, benchmark, benchmark_json};

fn main() -> ExitCode {
    let (args, train, test, loading) =
        match support::start("The 784→10 MNIST benchmark, trained on labels.", &[]) {
            Ok(started) => started,
            Err(code) => return code,
        };
    let mut phases = vec![loading];
    let mut watch = Stopwatch::default();
    let outcome = match benchmark(&train, &test, &args.config, &mut watch) {
        Ok(outcome) => outcome,
        Err(e) => return support::report_error(&e),
    };
    phases.extend(watch.into_phases());

    println!(
        "784→10 LeakyReLU, cross-entropy, lr {}, {} epoch(s), seed {}",
        args.config.benchmark_learning_rate, args.config.epochs, args.config.seed
    );
    println!(
        "test accuracy: {:.2}% before training, {:.2}% after",
        100.0 * outcome.accuracy_before,
        100.0 * outcome.accuracy
    );
    support::print_phases(&phases);
    match support::write_json(
        args.json.as_ref(),
        &benchmark_json(&args.config, &outcome, &phases),
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => support::report_error(e.as_ref()),
    }
}
