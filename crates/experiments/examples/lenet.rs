//! LeNet-5 on MNIST: two convolutions with max pooling, then three dense
//! layers, every shape checked when the program is built.
//!
//! `cargo run --release --example lenet -- --help`
//!
//! With `--validation`, the last 5,000 training images are held out and
//! accuracy is reported on them instead of on the test set: how the default
//! settings were chosen (see the README), without the test set choosing.

use std::num::NonZeroUsize;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use mimic::{Adam, CrossEntropy, Network, RateSchedule, Schedule, images};
use mimic_experiments::cli::{self, DataArgs};
use mimic_experiments::models::LeNet5;
use mimic_mnist::Scaling;

/// Training images held out by `--validation`.
const VALIDATION: usize = 5_000;

/// How the learning rate moves over training.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Rates {
    /// The same rate throughout.
    Constant,
    /// Cosine annealing from the rate down to 0 at the last update.
    Cosine,
}

/// LeNet-5 on MNIST, trained with Adam on shuffled mini-batches.
#[derive(Debug, Parser)]
#[command(version)]
struct Settings {
    #[command(flatten)]
    data: DataArgs,
    /// Seed of the initialisation and the shuffling
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Passes over the training set (1 to 1,000,000)
    #[arg(long, default_value = "10", value_parser = epochs)]
    epochs: NonZeroUsize,
    /// Adam's learning rate
    #[arg(long, default_value_t = 2e-3)]
    rate: f32,
    /// How the rate moves over training
    #[arg(long, value_enum, default_value_t = Rates::Cosine)]
    rates: Rates,
    /// Mini-batch size
    #[arg(long, default_value = "64")]
    batch: NonZeroUsize,
    /// Hold out the last 5,000 training images and report accuracy on them,
    /// never touching the test set
    #[arg(long)]
    validation: bool,
    /// Threads per mini-batch (1 to 64; the weights are the same for any
    /// number) [default: every core]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=64))]
    threads: Option<u64>,
}

/// `--epochs`: from 1 to `MAX_EPOCHS` (a count near `usize::MAX` is refused here).
fn epochs(text: &str) -> Result<NonZeroUsize, String> {
    cli::parse_epochs(text).and_then(|n| NonZeroUsize::new(n).ok_or_else(|| "0 epochs".into()))
}

fn main() -> ExitCode {
    let settings = Settings::parse();
    let loading = Instant::now();
    let (train, test) = match settings.data.load() {
        Ok(sets) => sets,
        Err(e) => return cli::report_error(e.as_ref()),
    };
    let (mut train_rows, mut train_classes) =
        (train.dense_inputs(Scaling::Divide255), train.classes());
    let (eval_rows, eval_classes, evaluated_on) = if settings.validation {
        let at = train_rows.len() - VALIDATION;
        let rows = train_rows.split_off(at);
        let classes = train_classes.split_off(at);
        (rows, classes, "validation")
    } else {
        (
            test.dense_inputs(Scaling::Divide255),
            test.classes(),
            "test",
        )
    };
    // The rows, as they lie in memory, are 1 × 28 × 28 images: no copy.
    let train_images = images::<1, 28, 28, 784>(&train_rows);
    let eval_images = images::<1, 28, 28, 784>(&eval_rows);

    let mut network: Network<Box<LeNet5>, _> = Network::seeded(settings.seed, CrossEntropy);
    let rate_schedule = match settings.rates {
        Rates::Constant => RateSchedule::Constant,
        Rates::Cosine => RateSchedule::Cosine {
            warmup: 0,
            floor: 0.0,
        },
    };
    let schedule = Schedule::new(Adam::new(settings.rate))
        .epochs(settings.epochs.get())
        .batch_size(settings.batch.get())
        .rate_schedule(rate_schedule)
        .shuffled(settings.seed);
    let schedule = match settings.threads {
        Some(n) => schedule.threads(n as usize),
        None => schedule.all_cores(),
    };
    println!(
        "LeNet-5, Adam {} ({:?}), batch {}, {} epochs, seed {}, {} threads; {} training images, {} {evaluated_on} images (loaded in {:.2} s)",
        settings.rate,
        settings.rates,
        settings.batch,
        settings.epochs,
        settings.seed,
        schedule.threads,
        train_images.len(),
        eval_images.len(),
        loading.elapsed().as_secs_f64()
    );
    let mut epoch_started = Instant::now();
    let mut training_seconds = 0.0;
    let result = network.fit_with(
        train_images,
        &train_classes,
        &schedule,
        |epoch, net, stats| {
            let seconds = epoch_started.elapsed().as_secs_f64();
            training_seconds += seconds;
            let accuracy = net.accuracy(eval_images, &eval_classes);
            println!(
                "epoch {:>2}: training loss {:.4}, {seconds:.2} s, {evaluated_on} accuracy {:.2}%",
                epoch + 1,
                stats.mean_loss,
                100.0 * accuracy
            );
            epoch_started = Instant::now();
            ControlFlow::Continue(())
        },
    );
    if let Err(e) = result {
        return cli::report_error(&e);
    }
    println!(
        "training {training_seconds:.1} s ({:.2} s per epoch); everything, loading included, {:.1} s",
        training_seconds / settings.epochs.get() as f64,
        loading.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
