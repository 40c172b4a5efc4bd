//! Epochs, shuffling, mini-batches, momentum and decay on real MNIST.

use std::sync::OnceLock;

use mimic::data::{Dataset, Split, default_data_dir, ensure_mnist};
use mimic::models::{Student, Teacher};
use mimic::optimizer::{Schedule, fit};
use mimic::training::{Samples, accuracy, train_epoch};
use mimic::{CrossEntropy, Network, Parameters};

fn data() -> &'static (Samples, Samples) {
    static DATA: OnceLock<(Samples, Samples)> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = ensure_mnist(&default_data_dir()).expect("fetch MNIST");
        let train = Dataset::load_dir(&dir, Split::Train)
            .expect("train")
            .truncated(10_000);
        let test = Dataset::load_dir(&dir, Split::Test).expect("test");
        (Samples::new(&train), Samples::new(&test))
    })
}

fn bits<P: Parameters>(p: &P) -> Vec<u32> {
    let mut out = Vec::new();
    p.visit(&mut |s| out.extend(s.iter().map(|v| v.to_bits())));
    out
}

#[test]
fn the_seed_schedule_is_the_seed_bit_for_bit() {
    let (train, _) = data();
    let labels = train.class_targets();
    let mut by_fit: Network<Teacher, CrossEntropy> = Network::seeded(3, CrossEntropy, 0.03);
    let mut by_epoch = by_fit.clone();
    let schedule = Schedule {
        batch_size: 1,
        ..Schedule::seed()
    };
    let stats = fit(&mut by_fit, &train.images, &labels, &schedule).unwrap();
    let epoch = train_epoch(&mut by_epoch, &train.images, &labels, None, 0).unwrap();
    assert_eq!(stats, vec![epoch]);
    assert_eq!(bits(&by_fit.layers), bits(&by_epoch.layers));
}

#[test]
fn shuffling_is_seeded() {
    let (train, _) = data();
    let labels = train.class_targets();
    let run = |shuffle| {
        let mut net: Network<Student, CrossEntropy> = Network::seeded(1, CrossEntropy, 0.01);
        let schedule = Schedule {
            epochs: 2,
            shuffle_seed: Some(shuffle),
            ..Schedule::seed()
        };
        fit(&mut net, &train.images, &labels, &schedule).unwrap();
        bits(&net.layers)
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}

#[test]
fn mini_batches_with_momentum_learn_and_decay_the_rate() {
    let (train, test) = data();
    let labels = train.class_targets();
    let mut net: Network<Teacher, CrossEntropy> = Network::initialized(
        mimic::Initializer::He,
        &mut <rand_pcg::Pcg64 as rand::SeedableRng>::seed_from_u64(1),
        CrossEntropy,
        0.05,
    );
    let schedule = Schedule {
        epochs: 4,
        batch_size: 32,
        momentum: 0.9,
        decay: 0.5,
        shuffle_seed: Some(1),
    };
    let stats = fit(&mut net, &train.images, &labels, &schedule).unwrap();
    assert_eq!(stats.len(), 4);
    assert!(stats.iter().all(|s| s.steps == train.len()));
    assert!(stats[3].mean_loss < stats[0].mean_loss, "{stats:?}");
    assert_eq!(net.learning_rate, 0.05 * 0.5f32.powi(3));
    let acc = accuracy(&net, test);
    assert!(acc > 0.88, "accuracy {acc}");
}
