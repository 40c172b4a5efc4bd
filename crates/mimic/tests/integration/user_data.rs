//! The library on data that is not MNIST, through the public API only: a
//! user-defined network, dense and sparse rows, batch inference, long chains.

use mimic::{
    CrossEntropy, Dense, Identity, Momentum, Mse, Network, ReLU, Schedule, Sgd, SparseRows,
    module::Parameters,
};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;

/// Ten Gaussian blobs in 20 dimensions, about half of each point's entries zeroed
/// (so the sparse path has something to skip), and their classes.
fn blobs(seed: u64, n: usize) -> (Vec<[f32; 20]>, Vec<usize>) {
    let mut rng = Pcg64::seed_from_u64(seed);
    let centres: Vec<[f32; 20]> = (0..10)
        .map(|_| core::array::from_fn(|_| rng.random::<f32>() * 4.0 - 2.0))
        .collect();
    (0..n)
        .map(|_| {
            let class = rng.random_range(0..10);
            let point = core::array::from_fn(|i| {
                let x = centres[class][i] + (rng.random::<f32>() - 0.5);
                if rng.random::<f32>() < 0.5 { 0.0 } else { x }
            });
            (point, class)
        })
        .unzip()
}

fn bits<P: Parameters>(p: &P) -> Vec<u32> {
    let mut out = Vec::new();
    p.visit(&mut |s| out.extend(s.iter().map(|v| v.to_bits())));
    out
}

type Classifier = (
    Dense<20, 32, ReLU>,
    Dense<32, 32, ReLU>,
    Dense<32, 10, Identity>,
);

#[test]
fn a_user_network_learns_ten_classes_and_sparse_rows_give_the_same_bits() {
    let (train, classes) = blobs(1, 2_000);
    let (test, test_classes) = blobs(1, 500); // same centres: same seed
    let sparse = SparseRows::from_dense(&train);
    let schedules = [
        Schedule::new(Momentum::new(0.02).momentum(0.0)).epochs(5),
        Schedule::new(Momentum::new(0.02).momentum(0.0))
            .epochs(5)
            .shuffled(3),
        Schedule::new(Momentum::new(0.02))
            .epochs(5)
            .batch_size(16)
            .decay(0.9)
            .shuffled(3),
        Schedule::new(Momentum::new(0.02).nesterov())
            .epochs(5)
            .batch_size(16)
            .clip(1.0),
    ];
    for schedule in schedules {
        let mut dense: Network<Classifier, _> = Network::seeded(9, CrossEntropy);
        let mut from_sparse = dense.clone();
        let before = dense.accuracy(&test, &test_classes);
        let dense_stats = dense.fit(&train, &classes, &schedule).unwrap();
        let sparse_stats = from_sparse.fit(&sparse, &classes, &schedule).unwrap();
        assert_eq!(dense_stats, sparse_stats, "{schedule:?}");
        assert_eq!(
            bits(&dense.layers),
            bits(&from_sparse.layers),
            "{schedule:?}"
        );
        let after = dense.accuracy(&test, &test_classes);
        assert!(
            before < 0.3 && after > 0.95,
            "{schedule:?}: {before} → {after}"
        );
    }
}

#[test]
fn the_default_initialisation_trains_where_the_seeds_stalls() {
    // The seed's N(0, 1/(rows·cols)) weights leave a deep ReLU network's signal
    // vanishing; the recommended (He) initialisation trains it.
    let (train, classes) = blobs(2, 1_000);
    type Deep = (
        Dense<20, 64, ReLU>,
        Dense<64, 64, ReLU>,
        Dense<64, 64, ReLU>,
        Dense<64, 10, Identity>,
    );
    let schedule = Schedule::new(Sgd::new(0.01)).epochs(20).shuffled(1);
    let mut recommended: Network<Deep, _> = Network::seeded(4, CrossEntropy);
    recommended.fit(&train, &classes, &schedule).unwrap();
    let mut seed_scheme: Network<Deep, _> =
        Network::seeded_with(mimic::Initializer::Original, 4, CrossEntropy);
    seed_scheme.fit(&train, &classes, &schedule).unwrap();
    let (good, stalled) = (
        recommended.accuracy(&train, &classes),
        seed_scheme.accuracy(&train, &classes),
    );
    assert!(
        good > 0.95 && stalled < 0.5,
        "recommended {good}, seed's {stalled}"
    );
}

#[test]
fn batch_inference_equals_per_sample_on_any_thread_count() {
    let (inputs, classes) = blobs(3, 999);
    let net: Network<Classifier, _> = Network::seeded(5, CrossEntropy);
    let one_by_one: Vec<[f32; 10]> = inputs.iter().map(|x| net.forward(x)).collect();
    let sparse = SparseRows::from_dense(&inputs);
    for threads in [1, 2, 3, 7] {
        let dense = net.forward_batch(&inputs, threads);
        let from_sparse = net.forward_batch(&sparse, threads);
        for (k, expected) in one_by_one.iter().enumerate() {
            assert_eq!(
                dense[k].map(f32::to_bits),
                expected.map(f32::to_bits),
                "row {k}, {threads} threads"
            );
            assert_eq!(from_sparse[k].map(f32::to_bits), expected.map(f32::to_bits));
        }
        assert_eq!(
            net.predict_batch(&sparse, threads),
            net.predict_batch(&inputs, 1)
        );
    }
    let predicted: Vec<usize> = inputs.iter().map(|x| net.predict(x)).collect();
    assert_eq!(net.predict_batch(&inputs, 1), predicted);
    let confusion = net.confusion(&inputs, &classes);
    assert_eq!(confusion.total(), 999);
    assert_eq!(confusion.accuracy() as f32, net.accuracy(&inputs, &classes));
    assert_eq!(
        mimic::accuracy(&predicted, &classes),
        net.accuracy(&inputs, &classes)
    );
}

#[test]
fn a_flat_chain_of_twelve_layers_trains() {
    type Twelve = (
        Dense<4, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 2, Identity>,
    );
    let inputs = [[1.0, 0.0, 0.0, 0.5], [0.0, 1.0, 0.5, 0.0]];
    let targets = [[1.0, -1.0], [-1.0, 1.0]];
    let mut net: Network<Twelve, _> = Network::seeded(2, Mse);
    assert_eq!(
        mimic::module::Parameters::parameter_count(&net.layers),
        4 * 8 + 8 + 10 * (8 * 8 + 8) + 8 * 2 + 2
    );
    let stats = net
        .fit(
            &inputs,
            &targets,
            &Schedule::new(Sgd::new(0.01)).epochs(3000),
        )
        .unwrap();
    assert!(
        stats[2999].mean_loss < stats[0].mean_loss / 10.0,
        "{:?} → {:?}",
        stats[0],
        stats[2999]
    );
    // Nested chains are chains too, and give the same network as the flat one.
    type Nested = (
        (Dense<4, 8>, Dense<8, 8>, Dense<8, 8>, Dense<8, 8>),
        (Dense<8, 8>, Dense<8, 8>, Dense<8, 8>, Dense<8, 8>),
        (Dense<8, 8>, Dense<8, 8>, Dense<8, 8>, Dense<8, 2, Identity>),
    );
    let mut flat: Network<Twelve, _> = Network::seeded(2, Mse);
    let mut nested: Network<Nested, _> = Network::seeded(2, Mse);
    assert_eq!(bits(&flat.layers), bits(&nested.layers));
    flat.fit(&inputs, &targets, &Schedule::new(Sgd::new(0.01)).epochs(10))
        .unwrap();
    nested
        .fit(&inputs, &targets, &Schedule::new(Sgd::new(0.01)).epochs(10))
        .unwrap();
    assert_eq!(bits(&flat.layers), bits(&nested.layers));
}

#[test]
fn mismatched_targets_are_an_error_not_a_panic() {
    let (inputs, mut classes) = blobs(4, 10);
    let mut net: Network<Classifier, _> = Network::seeded(1, CrossEntropy);
    let err = net
        .fit(&inputs, &classes[..9], &Schedule::new(Sgd::new(0.1)))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "10 inputs but 9 targets: expected one target per input"
    );
    classes[3] = 10;
    let err = net
        .fit(&inputs, &classes, &Schedule::new(Sgd::new(0.1)))
        .unwrap_err();
    assert_eq!(err.to_string(), "invalid target for sample 3");
    let cause = std::error::Error::source(&err).expect("the loss's error");
    assert_eq!(
        cause.to_string(),
        "class 10 is out of range: expected a class index in 0..10"
    );
}

/// Watching training after every epoch changes no bit of it (the Adam moments,
/// the cosine schedule and the shuffle carry on across epochs as in one `fit`),
/// and returning `Break` stops it early with the network of that epoch.
#[test]
fn a_per_epoch_callback_watches_and_stops_without_changing_training() {
    use std::ops::ControlFlow;

    let (train, classes) = blobs(6, 600);
    let (valid, valid_classes) = blobs(6, 200);
    let schedule = Schedule::new(mimic::Adam::new(1e-3))
        .epochs(8)
        .batch_size(16)
        .rate_schedule(mimic::RateSchedule::Cosine {
            warmup: 10,
            floor: 0.05,
        })
        .shuffled(2);
    let start: Network<Classifier, _> = Network::seeded(3, CrossEntropy);

    let mut plain = start.clone();
    let plain_stats = plain.fit(&train, &classes, &schedule).unwrap();
    let mut watched = start.clone();
    let mut seen = Vec::new();
    let watched_stats = watched
        .fit_with(&train, &classes, &schedule, |epoch, net, stats| {
            seen.push((epoch, stats.steps, net.accuracy(&valid, &valid_classes)));
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(watched_stats, plain_stats);
    assert_eq!(bits(&watched.layers), bits(&plain.layers));
    assert_eq!(seen.len(), 8);
    assert!(seen.iter().enumerate().all(|(k, s)| s.0 == k && s.1 == 600));

    // Early stopping: stop at the first epoch whose validation accuracy reaches
    // 80%; the network is the one that reached it.
    let mut stopped = start.clone();
    let mut kept = None;
    let stats = stopped
        .fit_with(&train, &classes, &schedule, |epoch, net, _| {
            if net.accuracy(&valid, &valid_classes) >= 0.8 {
                kept = Some((epoch, net.clone()));
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    let (epoch, kept) = kept.expect("reaches 80% within 8 epochs");
    assert!(epoch < 7, "stopped at epoch {epoch}");
    assert_eq!(stats.len(), epoch + 1);
    assert_eq!(kept, stopped);
    assert_eq!(&stats[..], &plain_stats[..=epoch]);
    assert!(stopped.accuracy(&valid, &valid_classes) >= 0.8);
}

/// A learning rate or clipping norm that cannot train is an error naming the
/// setting, before anything changes — not `Ok` with NaN weights.
#[test]
fn unusable_rates_and_clipping_norms_are_errors_and_change_nothing() {
    let (inputs, classes) = blobs(4, 40);
    let mut net: Network<Classifier, _> = Network::seeded(1, CrossEntropy);
    let before = net.layers.clone();
    for rate in [f32::NAN, f32::INFINITY, -0.1] {
        let err = net
            .fit(&inputs, &classes, &Schedule::new(Sgd::new(rate)))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("learning rate {rate}: expected a finite number ≥ 0")
        );
        let err = net
            .fit(
                &inputs,
                &classes,
                &Schedule::new(mimic::Adam::new(rate)).batch_size(8),
            )
            .unwrap_err();
        assert!(matches!(
            err,
            mimic::TrainError::Setting {
                name: "learning rate",
                ..
            }
        ));
        let err = net.train_step(&inputs[0], &classes[0], rate).unwrap_err();
        assert!(matches!(err, mimic::StepError::LearningRate(r) if r.to_bits() == rate.to_bits()));
    }
    for norm in [0.0, -1.0, f32::NAN] {
        let err = net
            .fit(&inputs, &classes, &Schedule::new(Sgd::new(0.1)).clip(norm))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("clipping norm {norm}: expected a finite number > 0")
        );
    }
    assert_eq!(bits(&net.layers), bits(&before));
}

/// Any thread count gives the same outputs: counts beyond the rows or the cores
/// are capped, so 100,000 threads neither fail to start nor abort.
#[test]
fn absurd_thread_counts_in_batch_inference_give_the_same_outputs() {
    let (inputs, _) = blobs(5, 3000);
    let net: Network<Classifier, _> = Network::seeded(1, CrossEntropy);
    let one = net.forward_batch(&inputs, 1);
    for threads in [0, 2, 3, 64, 100_000, usize::MAX] {
        let many = net.forward_batch(&inputs, threads);
        assert_eq!(many.len(), one.len());
        assert!(
            many.iter()
                .zip(&one)
                .all(|(a, b)| a.map(f32::to_bits) == b.map(f32::to_bits)),
            "{threads} threads"
        );
    }
}

/// An epoch count near `usize::MAX` is a schedule like any other: nothing is
/// sized by it (no per-epoch allocation up front, no overflowing product of
/// epochs and updates), and a callback can stop it.
#[test]
fn an_enormous_epoch_count_trains_until_the_callback_stops_it() {
    use std::ops::ControlFlow;
    let (inputs, classes) = blobs(7, 64);
    let mut net: Network<Classifier, _> = Network::seeded(1, CrossEntropy);
    for schedule in [
        Schedule::new(Sgd::new(0.05)).epochs(usize::MAX),
        Schedule::new(Sgd::new(0.05))
            .epochs(usize::MAX)
            .batch_size(8)
            .rate_schedule(mimic::RateSchedule::Cosine {
                warmup: 3,
                floor: 0.0,
            }),
    ] {
        let stats = net
            .fit_with(&inputs, &classes, &schedule, |epoch, _, _| {
                if epoch == 1 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap();
        assert_eq!(stats.len(), 2);
        assert!(
            stats
                .iter()
                .all(|s| s.mean_loss.is_finite() && s.steps == 64)
        );
    }
}

/// Per-sample SGD with a rate so large that an update overflows `f32`: `fit`
/// returns `TrainError::Overflow` naming the step, and leaves the network as it
/// was before that step — the same bits as training the steps before it — even
/// when it is the very last step of training (it used to return `Ok` with
/// infinite weights).
#[test]
fn an_overflowing_per_sample_step_is_an_error_and_undone() {
    use mimic::TrainError;
    let (points, classes) = blobs(9, 40);
    let mut overflows = 0;
    for (rate, samples) in [(3e38, 40), (3e38, 1), (1e38, 40), (1e37, 40), (1e36, 40)] {
        let (x, y) = (&points[..samples], &classes[..samples]);
        let mut net: Network<(Dense<20, 8, ReLU>, Dense<8, 10, Identity>), _> =
            Network::seeded(2, CrossEntropy);
        let fresh = net.clone();
        match net.fit(x, y, &Schedule::new(Sgd::new(rate)).epochs(3)) {
            Err(
                error @ TrainError::Overflow {
                    epoch,
                    sample,
                    step,
                },
            ) => {
                assert!(net.is_finite(), "rate {rate}: non-finite weights kept");
                assert!(error.to_string().contains("too large for f32"), "{error}");
                // The epochs before, then the steps of this one before `step`.
                let mut expected = fresh.clone();
                if epoch > 0 {
                    expected
                        .fit(x, y, &Schedule::new(Sgd::new(rate)).epochs(epoch))
                        .unwrap();
                }
                assert_eq!(sample, step - epoch * samples, "file order");
                for k in 0..sample {
                    expected.train_step(&x[k], &y[k], rate).unwrap();
                }
                assert_eq!(bits(&net.layers), bits(&expected.layers), "rate {rate}");
                overflows += 1;
            }
            // A rate that diverges through the loss first is the usual error,
            // with finite weights.
            Err(TrainError::Diverged(_)) => assert!(net.is_finite(), "rate {rate}"),
            other => panic!("rate {rate}, {samples} samples: {other:?}"),
        }
    }
    assert!(overflows >= 2, "only {overflows} of the cases overflowed");

    // Ten small steps, then one whose update passes f32::MAX: found in the
    // middle of the epoch, and the ten steps before it kept.
    let mut x = vec![[1e-6f32; 4]; 14];
    x[10] = [1e4; 4];
    let y: Vec<usize> = (0..14).map(|k| k % 3).collect();
    let mut net: Network<Dense<4, 3, Identity>, _> = Network::seeded(1, CrossEntropy);
    let mut expected = net.clone();
    let error = net.fit(&x, &y, &Schedule::new(Sgd::new(1e35))).unwrap_err();
    assert!(
        matches!(
            error,
            TrainError::Overflow {
                epoch: 0,
                sample: 10,
                step: 10
            }
        ),
        "{error:?}"
    );
    for k in 0..10 {
        expected.train_step(&x[k], &y[k], 1e35).unwrap();
    }
    assert_eq!(bits(&net.layers), bits(&expected.layers));
}
