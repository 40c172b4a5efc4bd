//! Times training the way `scripts/pytorch_side_by_side.py` times PyTorch's:
//! one epoch of the 60,000 MNIST images (batch 64, Adam 1e-3, shuffled) for
//! dense networks (from sparse rows, as mimic's users feed pixels) and
//! convolutional ones (from the images in place), on 1 and 2 threads; and per
//! batch of 64 images the forward pass, forward and backward, and a whole Adam
//! step. Prints one line of JSON, the fastest of a few runs of each.
//!
//! `cargo run --release --example speed [-- NAME…]` (names: teacher, wide,
//! wider, lenet, tiny; all by default)

use std::process::ExitCode;
use std::time::Instant;

use mimic::module::{Parameters, Train};
use mimic::{
    Adam, CrossEntropy, Dense, Identity, Initialize, InputsOf, Network, ReLU, Schedule, images,
};
use mimic_experiments::cli;
use mimic_experiments::models::{LeNet5, StrongTeacher, TeacherLogits, TinyCnn};
use mimic_mnist::Scaling;

/// 784→1024→1024→10: the widest network of the comparisons (1.9 M parameters).
type Wider = (
    Dense<784, 1024, ReLU>,
    Dense<1024, 1024, ReLU>,
    Dense<1024, 10, Identity>,
);

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

/// `{"epoch_s": …, "epoch_2_threads_s": …, "forward_ms": …, "forward_backward_ms": …, "step_ms": …}`.
fn measure<L, X>(inputs: &X, first_batch: &X, classes: &[usize], epochs: usize) -> String
where
    L: Train<Output = [f32; 10]> + Initialize,
    X: InputsOf<Box<L>> + ?Sized,
{
    // Made afresh (in place on the heap) rather than cloned: a clone of the
    // widest network would pass through the stack.
    let fresh = || Network::<Box<L>, _>::seeded(1, CrossEntropy);
    let start = fresh();
    let schedule = Schedule::new(Adam::new(1e-3)).batch_size(64).shuffled(1);
    let epoch = |threads: usize| {
        fastest(epochs, || {
            let mut net = fresh();
            net.fit(inputs, classes, &schedule.threads(threads))
                .unwrap();
        })
    };
    let (one, two) = (epoch(1), epoch(2));
    let batch: Vec<_> = (0..64).map(|k| inputs.input(k).unwrap()).collect();
    let forward = fastest(200, || {
        for &x in &batch {
            std::hint::black_box(start.forward(x));
        }
    });
    let mut gradients = fresh().layers;
    gradients.visit_mut(&mut |p| p.fill(0.0));
    let forward_backward = fastest(200, || {
        for (&x, class) in batch.iter().zip(classes) {
            start.accumulate_gradient(x, class, &mut gradients).unwrap();
        }
    });
    // One whole step: forward, backward and Adam's update of one batch (the
    // training buffers are made once per `fit`, as in an epoch).
    let mut net = fresh();
    let step = fastest(50, || {
        net.fit(first_batch, &classes[..64], &schedule).unwrap();
    });
    format!(
        "{{\"epoch_s\": {one:.4}, \"epoch_2_threads_s\": {two:.4}, \"forward_ms\": {:.4}, \"forward_backward_ms\": {:.4}, \"step_ms\": {:.4}}}",
        1e3 * forward,
        1e3 * forward_backward,
        1e3 * step
    )
}

fn main() -> ExitCode {
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    let (train, _) = match cli::DataArgs::default().load() {
        Ok(sets) => sets,
        Err(e) => return cli::report_error(e.as_ref()),
    };
    let rows = train.dense_inputs(Scaling::Divide255);
    let pictures = images::<1, 28, 28, 784>(&rows);
    let sparse = train.sparse_inputs(Scaling::Divide255);
    let sparse_batch = sparse.select(0..64);
    let picture_batch = &pictures[..64];
    let classes = train.classes();
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    let mut parts = Vec::new();
    if run("teacher") {
        parts.push(format!(
            "\"teacher\": {}",
            measure::<TeacherLogits, _>(&sparse, &sparse_batch, &classes, 3)
        ));
    }
    if run("wide") {
        parts.push(format!(
            "\"wide\": {}",
            measure::<StrongTeacher, _>(&sparse, &sparse_batch, &classes, 2)
        ));
    }
    if run("wider") {
        parts.push(format!(
            "\"wider\": {}",
            measure::<Wider, _>(&sparse, &sparse_batch, &classes, 1)
        ));
    }
    if run("lenet") {
        parts.push(format!(
            "\"lenet\": {}",
            measure::<LeNet5, _>(pictures, picture_batch, &classes, 2)
        ));
    }
    if run("tiny") {
        parts.push(format!(
            "\"tiny\": {}",
            measure::<TinyCnn, _>(pictures, picture_batch, &classes, 2)
        ));
    }
    println!("{{{}}}", parts.join(", "));
    ExitCode::SUCCESS
}
