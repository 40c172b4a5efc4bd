//! A network on your own data: two interleaved spirals, generated here, learnt by
//! a 2→32→32→2 ReLU network. `cargo run --release --example spirals -- --help`
use clap::Parser;
use mimic::{CrossEntropy, Dense, Identity, Momentum, Network, ReLU, Schedule};
use std::f32::consts::PI;
use std::num::NonZeroUsize;
/// Train a small network to tell two spirals apart.
#[derive(Parser)]
struct Settings {
    /// Seed of the initialisation and the shuffling
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Passes over the 400 points (1 to 1,000,000)
    #[arg(long, default_value = "300", value_parser = epochs)]
    epochs: NonZeroUsize,
}
/// `--epochs`: from 1 to `MAX_EPOCHS` (a count near `usize::MAX` is refused here).
fn epochs(text: &str) -> Result<NonZeroUsize, String> {
    mimic_experiments::cli::parse_epochs(text)
        .and_then(|n| NonZeroUsize::new(n).ok_or_else(|| "0 epochs".into()))
}
type Classifier = (
    Dense<2, 32, ReLU>,
    Dense<32, 32, ReLU>,
    Dense<32, 2, Identity>,
);
fn main() -> Result<(), mimic::TrainError> {
    let settings = Settings::parse();
    // 200 points on each arm, (r cos t, r sin t); the second arm turned by π.
    let point = |k: usize| {
        let (t, turn) = ((k / 2) as f32 * 3.0 * PI / 200.0, (k % 2) as f32 * PI);
        [t / 10.0 * (t + turn).cos(), t / 10.0 * (t + turn).sin()]
    };
    let (points, classes): (Vec<[f32; 2]>, Vec<usize>) =
        (0..400).map(|k| (point(k), k % 2)).unzip();
    let mut net: Network<Classifier, _> = Network::seeded(settings.seed, CrossEntropy);
    let schedule = Schedule::new(Momentum::new(0.05).momentum(0.9))
        .epochs(settings.epochs.get())
        .batch_size(8);
    let stats = net.fit(&points, &classes, &schedule.shuffled(settings.seed))?;
    let accuracy = 100.0 * net.accuracy(&points, &classes);
    // At least one epoch ran (`epochs` is nonzero, and `fit` stops early only
    // when asked to by `fit_with`'s callback).
    let (first, last) = match (stats.first(), stats.last()) {
        (Some(first), Some(last)) => (first.mean_loss, last.mean_loss),
        _ => (f64::NAN, f64::NAN),
    };
    println!("loss {first:.3} → {last:.3}, training accuracy {accuracy:.1}%");
    Ok(())
}
