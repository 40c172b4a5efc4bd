//! Mini-batch training on 1, 2, 3 and 4 threads gives the same weights, bit for
//! bit, with every optimizer, rate schedule, loss, clipping and batch size, for
//! dense and sparse inputs and for a convolutional network; the parts — not the
//! threads — fix the arithmetic.

use mimic::module::Parameters;
use mimic::{
    Adam, AdamW, Conv2d, CrossEntropy, Dense, Distillation, Flatten, Identity, Image, MaxPool2d,
    Momentum, Network, Optimizer, RateSchedule, ReLU, Schedule, Sgd, SoftTarget, SparseRows,
    TrainError,
};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;

type Net = (Dense<64, 24, ReLU>, Dense<24, 16>, Dense<16, 10, Identity>);

fn bits<P: Parameters>(p: &P) -> Vec<u32> {
    let mut out = Vec::new();
    p.visit(&mut |s| out.extend(s.iter().map(|v| v.to_bits())));
    out
}

/// Rows of bytes, about a fifth nonzero (as pixels are), and a class each.
fn data(seed: u64, n: usize) -> (Vec<[u8; 64]>, Vec<usize>) {
    let mut rng = Pcg64::seed_from_u64(seed);
    let rows = (0..n)
        .map(|_| {
            core::array::from_fn(|_| {
                if rng.random::<f32>() < 0.2 {
                    rng.random()
                } else {
                    0
                }
            })
        })
        .collect();
    let classes = (0..n).map(|_| rng.random_range(0..10)).collect();
    (rows, classes)
}

fn dense(rows: &[[u8; 64]]) -> Vec<[f32; 64]> {
    rows.iter()
        .map(|r| r.map(|p| f32::from(p) / 255.0))
        .collect()
}

/// The weights after `schedule` on 1, 2, 3 and 4 threads, dense and sparse.
fn weights_for_every_thread_count<O: Optimizer>(schedule: Schedule<O>) -> Vec<Vec<u32>> {
    let (rows, classes) = data(5, 301); // 301: the last batch is short
    let inputs = dense(&rows);
    let sparse = SparseRows::from_bytes(&rows, |p| f32::from(p) / 255.0);
    let mut all = Vec::new();
    for threads in 1..=4 {
        let schedule = schedule.threads(threads);
        let mut net: Network<Net, _> = Network::seeded(3, CrossEntropy);
        net.fit(&inputs, &classes, &schedule).unwrap();
        all.push(bits(&net.layers));
        let mut net: Network<Net, _> = Network::seeded(3, CrossEntropy);
        net.fit(&sparse, &classes, &schedule).unwrap();
        all.push(bits(&net.layers));
    }
    all
}

fn assert_all_equal(runs: &[Vec<u32>], what: &str) {
    for (k, run) in runs.iter().enumerate() {
        assert!(
            run == &runs[0],
            "{what}: run {k} ({} threads, {}) differs from 1 thread, dense",
            k / 2 + 1,
            if k % 2 == 0 { "dense" } else { "sparse" }
        );
    }
}

#[test]
fn every_optimizer_gives_the_same_bits_on_any_thread_count() {
    fn base<O: Optimizer>(schedule: Schedule<O>) -> Schedule<O> {
        schedule.epochs(2).batch_size(16).shuffled(7)
    }
    assert_all_equal(
        &weights_for_every_thread_count(base(Schedule::new(Sgd::new(0.1)))),
        "sgd",
    );
    assert_all_equal(
        &weights_for_every_thread_count(base(Schedule::new(Sgd::new(0.1).weight_decay(1e-3)))),
        "sgd with decay",
    );
    assert_all_equal(
        &weights_for_every_thread_count(base(Schedule::new(Momentum::new(0.05)))),
        "momentum",
    );
    assert_all_equal(
        &weights_for_every_thread_count(base(Schedule::new(Momentum::new(0.05).nesterov()))),
        "nesterov",
    );
    assert_all_equal(
        &weights_for_every_thread_count(base(Schedule::new(Adam::new(3e-3)))),
        "adam",
    );
    assert_all_equal(
        &weights_for_every_thread_count(base(Schedule::new(AdamW::new(3e-3)))),
        "adamw",
    );
}

#[test]
fn schedules_clipping_and_batch_sizes_give_the_same_bits_on_any_thread_count() {
    let adam = Schedule::new(Adam::new(3e-3)).shuffled(2);
    for (what, schedule) in [
        (
            "cosine with warm-up, clipped",
            adam.batch_size(32)
                .epochs(2)
                .rate_schedule(RateSchedule::Cosine {
                    warmup: 3,
                    floor: 1e-4,
                })
                .clip(0.5),
        ),
        ("batch size 1", adam.batch_size(1)),
        (
            "batch size 3 (fewer samples than parts)",
            adam.batch_size(3),
        ),
        ("batch size 7, 8 parts", adam.batch_size(7).parts(8)),
        ("one batch of everything", adam.batch_size(1000)),
        (
            "decay, in order",
            Schedule::new(Adam::new(3e-3))
                .batch_size(64)
                .decay(0.5)
                .epochs(2),
        ),
    ] {
        assert_all_equal(&weights_for_every_thread_count(schedule), what);
    }
}

#[test]
fn parts_not_threads_change_the_bits() {
    let (rows, classes) = data(6, 128);
    let inputs = dense(&rows);
    let train = |schedule: Schedule<Adam>| {
        let mut net: Network<Net, _> = Network::seeded(1, CrossEntropy);
        net.fit(&inputs, &classes, &schedule).unwrap();
        bits(&net.layers)
    };
    let four = Schedule::new(Adam::new(1e-2)).batch_size(32).epochs(3);
    assert_eq!(train(four), train(four.threads(2)));
    assert_ne!(
        train(four),
        train(four.parts(1)),
        "one part sums the batch in another order"
    );
    // One part is sample after sample: exactly what `accumulate_gradient` does.
    let by_hand: Network<Net, _> = Network::seeded(1, CrossEntropy);
    let mut g: Net = Default::default();
    for (x, c) in inputs.iter().zip(&classes).take(32) {
        by_hand.accumulate_gradient(x, c, &mut g).unwrap();
    }
    let mut one_part: Network<Net, _> = Network::seeded(1, CrossEntropy);
    let mut h: Net = Default::default();
    let batch = Schedule::new(Sgd::new(1.0)).batch_size(32).parts(1);
    one_part.fit(&inputs[..32], &classes[..32], &batch).unwrap();
    let before: Network<Net, _> = Network::seeded(1, CrossEntropy);
    // w − 1·(g/32) for every weight, from the same summed gradient.
    let mut expected = before.layers;
    expected.zip_mut(&mut g, &mut h, &mut Default::default(), &mut |(
        w,
        g,
        _,
        _,
    )| {
        for (w, g) in w.iter_mut().zip(g.iter()) {
            *w -= 1.0 * (*g * (1.0 / 32.0));
        }
    });
    assert_eq!(bits(&one_part.layers), bits(&expected));
}

#[test]
fn distillation_gives_the_same_bits_on_any_thread_count() {
    let (rows, _) = data(8, 200);
    let inputs = dense(&rows);
    let teacher: Network<Net, _> = Network::seeded(11, CrossEntropy);
    let soft: Vec<SoftTarget<10>> = inputs
        .iter()
        .map(|x| SoftTarget {
            logits: teacher.forward(x),
            class: teacher.predict(x),
        })
        .collect();
    let runs: Vec<Vec<u32>> = (1..=4)
        .map(|threads| {
            let mut student: Network<Net, _> = Network::seeded(12, Distillation::new(4.0, 0.7));
            let schedule = Schedule::new(Adam::new(2e-3))
                .batch_size(20)
                .epochs(2)
                .threads(threads);
            student.fit(&inputs, &soft, &schedule).unwrap();
            bits(&student.layers)
        })
        .collect();
    for run in &runs {
        assert_eq!(run, &runs[0]);
    }
}

type SmallCnn = (
    Conv2d<1, 8, 8, 3, 8, 8, 3, 1, 1, ReLU>,
    MaxPool2d<3, 8, 8, 4, 4, 2>,
    Flatten<3, 4, 4, 48>,
    Dense<48, 10, Identity>,
);

#[test]
fn a_convolutional_network_gives_the_same_bits_on_any_thread_count() {
    let mut rng = Pcg64::seed_from_u64(4);
    let images: Vec<Image<1, 8, 8>> = (0..90)
        .map(|_| {
            [core::array::from_fn(|_| {
                core::array::from_fn(|_| rng.random::<f32>())
            })]
        })
        .collect();
    let classes: Vec<usize> = (0..90).map(|_| rng.random_range(0..10)).collect();
    let runs: Vec<Vec<u32>> = (1..=4)
        .map(|threads| {
            let mut net: Network<SmallCnn, _> = Network::seeded(2, CrossEntropy);
            let schedule = Schedule::new(Momentum::new(0.05))
                .batch_size(10)
                .epochs(2)
                .shuffled(1);
            net.fit(&images, &classes, &schedule.threads(threads))
                .unwrap();
            bits(&net.layers)
        })
        .collect();
    for run in &runs {
        assert_eq!(run, &runs[0]);
    }
}

#[test]
fn a_nan_input_is_refused_by_name_and_leaves_the_network_as_it_was() {
    let (rows, classes) = data(9, 64);
    let mut inputs = dense(&rows);
    // Behind a ReLU a NaN can vanish from the forward pass; the weight
    // gradient still carries it.
    inputs[37][5] = f32::NAN;
    let per_sample = Schedule::new(Sgd::new(0.1));
    let adam = Schedule::new(Adam::new(1e-3)).batch_size(16);
    for (what, result) in [
        ("per-sample SGD", {
            let mut net: Network<Net, _> = Network::seeded(4, CrossEntropy);
            let result = net.fit(&inputs[32..48], &classes[32..48], &per_sample);
            assert_eq!(net, Network::seeded(4, CrossEntropy));
            result
        }),
        ("Adam, 2 threads", {
            let mut net: Network<Net, _> = Network::seeded(4, CrossEntropy);
            let result = net.fit(&inputs[32..48], &classes[32..48], &adam.threads(2));
            assert_eq!(net, Network::seeded(4, CrossEntropy));
            result
        }),
    ] {
        match result {
            Err(TrainError::NonFiniteInput { sample }) => assert_eq!(sample, 5, "{what}"),
            other => panic!("{what}: expected the input to be refused, got {other:?}"),
        }
    }
    // A single step from user code refuses it too, and changes nothing.
    let mut net: Network<Net, _> = Network::seeded(4, CrossEntropy);
    assert_eq!(
        net.train_step(&inputs[37], &classes[37], 0.1),
        Err(mimic::StepError::NonFiniteInput)
    );
    let mut g: Net = Default::default();
    assert_eq!(
        net.accumulate_gradient(&inputs[37], &classes[37], &mut g),
        Err(mimic::StepError::NonFiniteInput)
    );
    assert_eq!(net, Network::seeded(4, CrossEntropy));
    assert!(g.all_finite() && bits(&g).iter().all(|&b| b == 0));
    // Sparse rows: a table value that is not finite, used by a row.
    let sparse = SparseRows::from_bytes(&rows, |p| if p == 255 { f32::INFINITY } else { 0.5 });
    let uses = rows.iter().position(|r| r.contains(&255));
    let result = net.fit(&sparse, &classes, &adam);
    match uses {
        Some(sample) => {
            assert!(matches!(result, Err(TrainError::NonFiniteInput { sample: s }) if s == sample))
        }
        None => assert!(result.is_ok()),
    }
}

#[test]
fn zero_threads_parts_or_batch_size_are_refused() {
    let (rows, classes) = data(1, 8);
    let inputs = dense(&rows);
    let mut net: Network<Net, _> = Network::seeded(4, CrossEntropy);
    let before = net.clone();
    for (schedule, setting) in [
        (
            Schedule::new(Adam::default()).batch_size(4).threads(0),
            "threads",
        ),
        (
            Schedule::new(Adam::default()).batch_size(4).parts(0),
            "parts",
        ),
        (Schedule::new(Adam::default()).batch_size(0), "batch size"),
    ] {
        match net.fit(&inputs, &classes, &schedule) {
            Err(TrainError::Setting { name, .. }) => assert_eq!(name, setting),
            other => panic!("{setting} 0: {other:?}"),
        }
        assert_eq!(net, before, "{setting} 0 changed the network");
    }
    // Plain SGD too, which would otherwise train one sample at a time.
    let sgd = Schedule::new(mimic::Sgd::new(0.1)).batch_size(0);
    assert!(matches!(
        net.fit(&inputs, &classes, &sgd),
        Err(TrainError::Setting {
            name: "batch size",
            ..
        })
    ));
    assert_eq!(net, before);
}
