//! Epochs, shuffling, mini-batches, momentum and decay on real MNIST.

use std::sync::OnceLock;

use mimic::{CrossEntropy, Initializer, Momentum, Network, Schedule, Sgd, module::Parameters};
use mimic_experiments::cli;
use mimic_experiments::experiment::Samples;
use mimic_experiments::models::{Student, Teacher};
use mimic_mnist::Scaling;

fn data() -> &'static (Samples, Samples) {
    static DATA: OnceLock<(Samples, Samples)> = OnceLock::new();
    DATA.get_or_init(|| {
        let (train, test) = cli::mnist();
        let train = train.truncated(10_000);
        (
            Samples::new(&train, Scaling::Divide255),
            Samples::new(&test, Scaling::Divide255),
        )
    })
}

fn bits<P: Parameters>(p: &P) -> Vec<u32> {
    let mut out = Vec::new();
    p.visit(&mut |s| out.extend(s.iter().map(|v| v.to_bits())));
    out
}

#[test]
fn the_original_schedule_is_the_original_loop_bit_for_bit() {
    // `fit` with the original program's schedule is its loop: one `train_step`
    // per image, in file order, dense or sparse.
    let (train, _) = data();
    let mut by_fit: Network<Teacher, CrossEntropy> =
        Network::seeded_with(Initializer::Original, 3, CrossEntropy);
    let (mut by_step, mut by_dense_step) = (by_fit.clone(), by_fit.clone());
    let stats = by_fit
        .fit(
            &train.inputs,
            &train.classes,
            &Schedule::new(Sgd::new(0.03)),
        )
        .unwrap();
    let mut total = 0.0f64;
    for (image, class) in train.inputs.iter().zip(&train.classes) {
        total += f64::from(by_step.train_step(image, class, 0.03).unwrap());
        by_dense_step
            .train_step(&image.to_dense(), class, 0.03)
            .unwrap();
    }
    assert_eq!(stats[0].mean_loss, total / train.len() as f64);
    assert_eq!(bits(&by_fit.layers), bits(&by_step.layers));
    assert_eq!(bits(&by_fit.layers), bits(&by_dense_step.layers));
}

#[test]
fn shuffling_is_seeded() {
    let (train, _) = data();
    let run = |shuffle| {
        let mut net: Network<Student, CrossEntropy> = Network::seeded(1, CrossEntropy);
        let schedule = Schedule::new(Sgd::new(0.01)).epochs(2).shuffled(shuffle);
        net.fit(&train.inputs, &train.classes, &schedule).unwrap();
        bits(&net.layers)
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}

#[test]
fn mini_batches_with_momentum_learn_and_decay_the_rate() {
    let (train, test) = data();
    let mut net: Network<Teacher, CrossEntropy> =
        Network::seeded_with(Initializer::He, 1, CrossEntropy);
    let schedule = Schedule::new(Momentum::new(0.05).momentum(0.9))
        .epochs(4)
        .batch_size(32)
        .decay(0.5)
        .shuffled(1);
    let stats = net.fit(&train.inputs, &train.classes, &schedule).unwrap();
    assert_eq!(stats.len(), 4);
    assert!(stats.iter().all(|s| s.steps == train.len()));
    assert!(stats[3].mean_loss < stats[0].mean_loss, "{stats:?}");
    let acc = net.accuracy(&test.inputs, &test.classes);
    assert!(acc > 0.88, "accuracy {acc}");
}
