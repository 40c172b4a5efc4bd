//! A network on your own data: two interleaved spirals, generated here, learnt by
//! a 2→32→32→2 ReLU network. `cargo run --release --example spirals -- --help`

use clap::Parser;
use mimic::{CrossEntropy, Dense, Identity, Network, ReLU, Schedule};

/// Train a small network to tell two spirals apart.
#[derive(Parser)]
struct Settings {
    /// Seed of the initialisation and the shuffling
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Passes over the 400 points
    #[arg(long, default_value_t = 300)]
    epochs: usize,
}

type Classifier = (
    Dense<2, 32, ReLU>,
    Dense<32, 32, ReLU>,
    Dense<32, 2, Identity>,
);

fn main() -> Result<(), mimic::TrainError> {
    let settings = Settings::parse();
    // 200 points on each arm: (r cos t, r sin t), the second arm turned by π.
    let (mut points, mut classes) = (Vec::new(), Vec::new());
    for k in 0..400 {
        let t = (k / 2) as f32 / 200.0 * 3.0 * std::f32::consts::PI;
        let turn = if k % 2 == 0 {
            0.0
        } else {
            std::f32::consts::PI
        };
        points.push([t / 10.0 * (t + turn).cos(), t / 10.0 * (t + turn).sin()]);
        classes.push(k % 2);
    }
    let mut net: Network<Classifier, _> = Network::seeded(settings.seed, CrossEntropy, 0.05);
    let schedule = Schedule::epochs(settings.epochs)
        .batch_size(8)
        .momentum(0.9)
        .shuffled(settings.seed);
    let stats = net.fit(&points, &classes, &schedule)?;
    let last = stats.last().map_or(0.0, |s| s.mean_loss);
    println!("loss {:.3} → {last:.3}", stats[0].mean_loss);
    println!(
        "training accuracy {:.1}%",
        100.0 * net.accuracy(&points, &classes)
    );
    Ok(())
}
