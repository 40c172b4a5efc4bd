//! LeNet-5 on MNIST: two convolutions with max pooling, then three dense
//! layers, every shape checked when the program is built.
//!
//! `cargo run --release --example lenet -- --help`

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use mimic::{
    Adam, Conv2d, CrossEntropy, Dense, Flatten, Identity, MaxPool2d, Network, ReLU, Schedule,
    images,
};
use mimic_experiments::cli::{self, DataArgs};
use mimic_mnist::Scaling;

/// LeNet-5 (61,706 parameters): 1×28×28 → conv 6@5×5 pad 2 → max pool 2 →
/// conv 16@5×5 → max pool 2 → 120 → 84 → 10.
type LeNet5 = (
    Conv2d<1, 28, 28, 6, 28, 28, 5, 1, 2, ReLU>,
    MaxPool2d<6, 28, 28, 14, 14, 2>,
    Conv2d<6, 14, 14, 16, 10, 10, 5, 1, 0, ReLU>,
    MaxPool2d<16, 10, 10, 5, 5, 2>,
    Flatten<16, 5, 5, 400>,
    Dense<400, 120, ReLU>,
    Dense<120, 84, ReLU>,
    Dense<84, 10, Identity>,
);

/// LeNet-5 on MNIST, trained with Adam on mini-batches.
#[derive(Debug, Parser)]
#[command(version)]
struct Settings {
    #[command(flatten)]
    data: DataArgs,
    /// Seed of the initialisation and the shuffling
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Passes over the training set
    #[arg(long, default_value = "3")]
    epochs: std::num::NonZeroUsize,
    /// Adam's learning rate
    #[arg(long, default_value_t = 1e-3)]
    rate: f32,
    /// Mini-batch size
    #[arg(long, default_value = "64")]
    batch: std::num::NonZeroUsize,
}

fn main() -> ExitCode {
    let settings = Settings::parse();
    let (train, test) = match settings.data.load() {
        Ok(sets) => sets,
        Err(e) => return cli::report_error(e.as_ref()),
    };
    let (train_rows, test_rows) = (
        train.dense_inputs(Scaling::Divide255),
        test.dense_inputs(Scaling::Divide255),
    );
    let (train_images, test_images) = (
        images::<1, 28, 28, 784>(&train_rows),
        images::<1, 28, 28, 784>(&test_rows),
    );
    let mut network: Network<Box<LeNet5>, _> = Network::seeded(settings.seed, CrossEntropy);
    let schedule = Schedule::new(Adam::new(settings.rate))
        .epochs(settings.epochs.get())
        .batch_size(settings.batch.get())
        .shuffled(settings.seed);
    let mut started = Instant::now();
    let result = network.fit_with(
        train_images,
        &train.classes(),
        &schedule,
        |epoch, net, stats| {
            let seconds = started.elapsed().as_secs_f64();
            let accuracy = net.accuracy(test_images, &test.classes());
            println!(
                "epoch {:>2}: loss {:.4}, {:.1} s, test accuracy {:.2}%",
                epoch + 1,
                stats.mean_loss,
                seconds,
                100.0 * accuracy
            );
            started = Instant::now();
            std::ops::ControlFlow::Continue(())
        },
    );
    if let Err(e) = result {
        return cli::report_error(&e);
    }
    ExitCode::SUCCESS
}
