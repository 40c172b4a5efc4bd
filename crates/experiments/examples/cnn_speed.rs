//! Times LeNet-5 and a tiny CNN the way `scripts/pytorch_side_by_side.py`
//! times PyTorch's: one training epoch of the 60,000 MNIST images (batch 64,
//! Adam 1e-3, shuffled), and per batch of 64 images the forward pass, forward
//! and backward, and a whole Adam step. One thread. Prints one line of JSON.
//!
//! `cargo run --release --example cnn_speed`

use std::process::ExitCode;
use std::time::Instant;

use mimic::module::{Parameters, Train};
use mimic::{Adam, CrossEntropy, Image, Initialize, Network, Schedule, images};
use mimic_experiments::cli;
use mimic_experiments::models::{LeNet5, TinyCnn};
use mimic_mnist::Scaling;

/// The fastest of `runs` runs of `work`, in seconds (the least disturbed by
/// anything else on the machine).
fn fastest(runs: usize, mut work: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// `{"epoch_s": …, "forward_ms": …, "forward_backward_ms": …, "step_ms": …}`.
fn measure<L>(pictures: &[Image<1, 28, 28>], classes: &[usize], epochs: usize) -> String
where
    L: Train<Input = Image<1, 28, 28>, Output = [f32; 10]> + Initialize + Clone + Send + Sync,
{
    let start: Network<Box<L>, _> = Network::seeded(1, CrossEntropy);
    let schedule = Schedule::new(Adam::new(1e-3)).batch_size(64).shuffled(1);
    let epoch = fastest(epochs, || {
        let mut net = start.clone();
        net.fit(pictures, classes, &schedule).unwrap();
    });
    let batch = &pictures[..64];
    let forward = fastest(200, || {
        std::hint::black_box(start.forward_batch(batch, 1));
    });
    let mut gradients = start.layers.clone();
    gradients.visit_mut(&mut |p| p.fill(0.0));
    let mut net = start.clone();
    let forward_backward = fastest(200, || {
        for (x, class) in batch.iter().zip(classes) {
            net.accumulate_gradient(x, class, &mut gradients).unwrap();
        }
    });
    // One whole step: forward, backward and Adam's update of one batch (the
    // training buffers are made once per `fit`, as in an epoch).
    let step = fastest(50, || {
        net.fit(batch, &classes[..64], &schedule).unwrap();
    });
    format!(
        "{{\"epoch_s\": {epoch:.4}, \"forward_ms\": {:.4}, \"forward_backward_ms\": {:.4}, \"step_ms\": {:.4}}}",
        1e3 * forward,
        1e3 * forward_backward,
        1e3 * step
    )
}

fn main() -> ExitCode {
    let (train, _) = match cli::DataArgs::default().load() {
        Ok(sets) => sets,
        Err(e) => return cli::report_error(e.as_ref()),
    };
    let rows = train.dense_inputs(Scaling::Divide255);
    let pictures = images::<1, 28, 28, 784>(&rows);
    let classes = train.classes();
    let lenet = measure::<LeNet5>(pictures, &classes, 2);
    let tiny = measure::<TinyCnn>(pictures, &classes, 2);
    println!("{{\"lenet\": {lenet}, \"tiny\": {tiny}}}");
    ExitCode::SUCCESS
}
