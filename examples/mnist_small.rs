//! The benchmark: a 784→10 LeakyReLU network trained directly on MNIST's labels
//! (cross-entropy, lr 0.001, one pass). The seed got about 90%.
//!
//! `cargo run --release --example mnist_small -- --help`

mod support;

use std::process::ExitCode;
use std::time::Instant;

use mimic::experiment::{Phase, Stopwatch, benchmark, benchmark_json};

fn main() -> ExitCode {
    let args = match support::parse_args("The 784→10 MNIST benchmark, trained on labels.", &[]) {
        Ok(args) => args,
        Err((text, code)) => {
            println!("{text}");
            return code;
        }
    };
    let start = Instant::now();
    let (train, test) = match support::load_mnist(args.data.as_ref()) {
        Ok(sets) => sets,
        Err(e) => return support::report_error(e.as_ref()),
    };
    let mut phases = vec![Phase {
        name: "loading MNIST",
        seconds: start.elapsed().as_secs_f64(),
    }];
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
