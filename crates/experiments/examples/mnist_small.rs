//! The benchmark: a 784→10 LeakyReLU network trained directly on MNIST's labels
//! (cross-entropy, lr 0.001, one pass), from the seed's initialisation. The seed
//! got about 90%.
//!
//! `cargo run --release --example mnist_small -- --help`

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mimic::{CrossEntropy, Network};
use mimic_experiments::cli::{self, DataArgs};
use mimic_experiments::experiment::{
    BENCHMARK_LEARNING_RATE, Stopwatch, benchmark_json, seed_student, train_classifier,
};
use mimic_mnist::Scaling;

/// The 784→10 MNIST benchmark, trained on labels.
#[derive(Debug, Parser)]
#[command(version)]
struct Settings {
    #[command(flatten)]
    data: DataArgs,
    /// Seed of the initialisation
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Passes over the training set (1 to 1000)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    epochs: u64,
    /// Also write the accuracies and phase times as JSON to PATH
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
}

fn main() -> ExitCode {
    let settings = Settings::parse();
    if let Some(Err(e)) = settings.json.as_deref().map(cli::check_output) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let mut watch = Stopwatch::default();
    // Read straight into nonzero pixels: no dense copy of the images.
    let loaded = watch.time("loading MNIST", || {
        settings.data.load_samples(Scaling::Divide255)
    });
    let (train, test) = match loaded {
        Ok(sets) => sets,
        Err(e) => return cli::report_error(e.as_ref()),
    };
    let mut network = Network::new(seed_student(settings.seed), CrossEntropy);
    let epochs = settings.epochs as usize;
    let outcome = match train_classifier(
        &mut network,
        "benchmark",
        &train,
        &test,
        epochs,
        BENCHMARK_LEARNING_RATE,
        &mut watch,
    ) {
        Ok(outcome) => outcome,
        Err(e) => return cli::report_error(&e),
    };
    println!(
        "784→10 LeakyReLU, cross-entropy, lr {BENCHMARK_LEARNING_RATE}, {epochs} epoch(s), seed {}",
        settings.seed
    );
    println!(
        "test accuracy: {:.2}% before training, {:.2}% after",
        100.0 * outcome.accuracy_before,
        100.0 * outcome.accuracy
    );
    for phase in watch.phases() {
        println!("{:<34} {:>8.3} s", phase.name, phase.seconds);
    }
    if let Some(path) = &settings.json {
        let json = benchmark_json(settings.seed, epochs, &outcome, watch.phases());
        if let Err(e) = cli::write_atomically(path, json.as_bytes()) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
