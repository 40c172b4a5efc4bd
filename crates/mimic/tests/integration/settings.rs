//! Invalid settings are refused by `fit` before anything is trained, as
//! `TrainError::Setting` naming the setting — not trained on, and not reported
//! as a divergence; and over random schedules, valid or not, every `fit`
//! returns an error or leaves finite weights.

use mimic::{
    Adam, AdamW, CrossEntropy, Dense, Distillation, Identity, LabelSmoothing, Loss, Momentum,
    Network, Optimizer, RateSchedule, ReLU, Schedule, Sgd, SoftTarget, TrainError,
};
use proptest::prelude::*;

type Net = (Dense<2, 6, ReLU>, Dense<6, 2, Identity>);

fn data() -> (Vec<[f32; 2]>, Vec<usize>) {
    let inputs: Vec<[f32; 2]> = (0..8)
        .map(|k| {
            let k = k as f32;
            [(k * 0.9).sin(), (k * 0.4).cos()]
        })
        .collect();
    let classes = (0..8).map(|k| k % 2).collect();
    (inputs, classes)
}

/// `fit` with `schedule` and `loss` is refused as the setting `name`, and
/// changes no weight.
fn refused<O: Optimizer, F>(loss: F, targets: &[F::Target], schedule: Schedule<O>, name: &str)
where
    F: Loss<[f32; 2]> + Clone + PartialEq + core::fmt::Debug,
    F::Target: Sized,
{
    let (inputs, _) = data();
    let mut net: Network<Net, F> = Network::seeded(3, loss);
    let before = net.clone();
    let result = net.fit(&inputs, targets, &schedule);
    match result {
        Err(TrainError::Setting { name: found, .. }) => assert_eq!(found, name, "{schedule:?}"),
        other => panic!("{schedule:?}: expected the setting {name} refused, got {other:?}"),
    }
    assert_eq!(net.layers, before.layers, "nothing is trained");
}

#[test]
fn optimizer_settings_out_of_range_are_refused() {
    let (_, classes) = data();
    let refuse = |schedule, name| refused(CrossEntropy, &classes, schedule, name);
    for momentum in [-0.1, 1.0, 1.5, f32::NAN] {
        refused(
            CrossEntropy,
            &classes,
            Schedule::new(Momentum::new(0.1).momentum(momentum)).epochs(3),
            "momentum",
        );
    }
    refuse(
        Schedule::new(Sgd::new(0.1).weight_decay(-1.0)),
        "weight decay",
    );
    refuse(
        Schedule::new(Sgd::new(0.1).weight_decay(f32::INFINITY)),
        "weight decay",
    );
    for (optimizer, name) in [
        (Adam::new(1e-3).betas(1.0, 0.999), "beta1"),
        (Adam::new(1e-3).betas(-0.5, 0.999), "beta1"),
        (Adam::new(1e-3).betas(0.9, 1.5), "beta2"),
        (Adam::new(1e-3).epsilon(0.0), "epsilon"),
        (Adam::new(1e-3).epsilon(f32::NAN), "epsilon"),
        (Adam::new(1e-3).weight_decay(-0.1), "weight decay"),
    ] {
        refused(CrossEntropy, &classes, Schedule::new(optimizer), name);
    }
    refused(
        CrossEntropy,
        &classes,
        Schedule::new(AdamW::new(1e-3).weight_decay(2000.0)),
        "weight decay",
    );
    refused(
        CrossEntropy,
        &classes,
        Schedule::new(AdamW::new(1e-3).betas(0.9, 1.0)),
        "beta2",
    );
}

#[test]
fn rate_schedules_out_of_range_are_refused() {
    let (_, classes) = data();
    let with = |rates| Schedule::new(Sgd::new(0.1)).epochs(4).rate_schedule(rates);
    for (rates, name) in [
        (RateSchedule::Exponential { factor: -0.5 }, "decay factor"),
        (RateSchedule::Exponential { factor: 0.0 }, "decay factor"),
        (
            RateSchedule::Exponential { factor: f32::NAN },
            "decay factor",
        ),
        (
            RateSchedule::Exponential {
                factor: f32::INFINITY,
            },
            "decay factor",
        ),
        (
            RateSchedule::Step {
                every: 0,
                factor: 0.5,
            },
            "step schedule's every",
        ),
        (
            RateSchedule::Step {
                every: 2,
                factor: -1.0,
            },
            "decay factor",
        ),
        (
            RateSchedule::Cosine {
                warmup: 0,
                floor: -0.5,
            },
            "cosine floor",
        ),
        (
            RateSchedule::Cosine {
                warmup: 0,
                floor: 2.0,
            },
            "cosine floor",
        ),
        (
            RateSchedule::Cosine {
                warmup: 0,
                floor: f32::NAN,
            },
            "cosine floor",
        ),
        // 4 epochs of 8 samples are 32 updates: a warm-up of 33 never ends.
        (
            RateSchedule::Cosine {
                warmup: 33,
                floor: 0.0,
            },
            "warm-up",
        ),
    ] {
        refused(CrossEntropy, &classes, with(rates), name);
    }
    let mut net: Network<Net, _> = Network::seeded(3, CrossEntropy);
    let (inputs, _) = data();
    let fine = with(RateSchedule::Cosine {
        warmup: 32,
        floor: 1.0,
    });
    assert!(net.fit(&inputs, &classes, &fine).is_ok());
}

#[test]
fn loss_settings_out_of_range_are_refused() {
    let (inputs, classes) = data();
    for epsilon in [1.0, 1.5, -0.1, f32::NAN] {
        refused(
            LabelSmoothing::new(epsilon),
            &classes,
            Schedule::new(Sgd::new(0.1)),
            "label smoothing",
        );
    }
    let soft: Vec<SoftTarget<2>> = inputs
        .iter()
        .zip(&classes)
        .map(|(x, &class)| SoftTarget {
            logits: [x[0], x[1]],
            class,
        })
        .collect();
    for (kd, name) in [
        (Distillation::new(0.0, 0.5), "temperature"),
        (Distillation::new(f32::NAN, 0.5), "temperature"),
        (Distillation::new(-2.0, 0.5), "temperature"),
        (Distillation::new(4.0, -0.5), "alpha"),
        (Distillation::new(4.0, 1.5), "alpha"),
    ] {
        refused(kd, &soft, Schedule::new(Adam::new(1e-3)), name);
        refused(
            kd.prepared(),
            &kd.prepare(&soft),
            Schedule::new(Sgd::new(0.1)),
            name,
        );
    }
}

/// A setting's error says what it is and what it must be, never "diverged".
#[test]
fn an_invalid_setting_is_not_called_a_divergence() {
    let (inputs, classes) = data();
    let mut net: Network<Net, _> = Network::seeded(3, CrossEntropy);
    // Momentum above 1 grows the velocity every step: this used to train until
    // the loss overflowed, and was then reported as a divergence.
    let schedule = Schedule::new(Momentum::new(0.5).momentum(3.0)).epochs(50);
    let error = net.fit(&inputs, &classes, &schedule).unwrap_err();
    assert_eq!(error.to_string(), "momentum 3: expected a number in [0, 1)");
}

/// Values for a float setting: valid ones, and each kind of invalid one (and
/// 0, 1 and 2, valid for some settings). Learning rates stay below where a
/// valid per-sample step can overflow a weight, which `fit` does not yet catch
/// on the last step.
fn value(valid: &'static [f32]) -> impl Strategy<Value = f32> {
    prop_oneof![
        3 => prop::sample::select(valid),
        1 => prop::sample::select(
            &[-1.0, -1e-3, 0.0, 1.0, 2.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY][..]
        ),
    ]
}

fn rate_schedule() -> impl Strategy<Value = RateSchedule> {
    prop_oneof![
        Just(RateSchedule::Constant),
        value(&[0.5, 0.9, 1.0]).prop_map(|factor| RateSchedule::Exponential { factor }),
        (0usize..4, value(&[0.5, 0.1]))
            .prop_map(|(every, factor)| RateSchedule::Step { every, factor }),
        (0usize..40, value(&[0.0, 0.1, 0.5]))
            .prop_map(|(warmup, floor)| RateSchedule::Cosine { warmup, floor }),
    ]
}

/// Every setting of a schedule and the loss, for any optimizer (`kind`).
#[derive(Clone, Debug)]
struct Random {
    kind: u8,
    rate: f32,
    first: f32,
    second: f32,
    epsilon: f32,
    decay: f32,
    epochs: usize,
    batch: usize,
    rates: RateSchedule,
    clip: Option<f32>,
    shuffle: Option<u64>,
    smoothing: f32,
}

fn random() -> impl Strategy<Value = Random> {
    (
        (
            0u8..5,
            value(&[0.01, 0.1, 1.0]),
            value(&[0.0, 0.5, 0.9]),
            value(&[0.9, 0.999]),
            value(&[1e-8, 1e-3]),
            value(&[0.0, 1e-4, 0.01]),
        ),
        (
            0usize..4,
            0usize..6,
            rate_schedule(),
            prop::option::of(value(&[0.5, 5.0])),
            prop::option::of(any::<u64>()),
            value(&[0.0, 0.1, 0.5]),
        ),
    )
        .prop_map(
            |(
                (kind, rate, first, second, epsilon, decay),
                (epochs, batch, rates, clip, shuffle, smoothing),
            )| Random {
                kind,
                rate,
                first,
                second,
                epsilon,
                decay,
                epochs,
                batch,
                rates,
                clip,
                shuffle,
                smoothing,
            },
        )
}

/// Trains with `optimizer` and the rest of `r`; an `Ok` must leave every weight
/// finite, and a refused setting must leave the network as it was.
fn run<O: Optimizer>(optimizer: O, r: &Random) -> Result<(), TestCaseError> {
    let (inputs, classes) = data();
    let mut schedule = Schedule::new(optimizer)
        .epochs(r.epochs)
        .batch_size(r.batch)
        .rate_schedule(r.rates);
    schedule.clip_norm = r.clip;
    schedule.shuffle_seed = r.shuffle;
    let mut net: Network<Net, _> = Network::seeded(5, LabelSmoothing::new(r.smoothing));
    let before = net.clone();
    match net.fit(&inputs, &classes, &schedule) {
        Ok(_) => prop_assert!(net.is_finite(), "Ok with non-finite weights: {r:?}"),
        Err(TrainError::Setting { .. }) => prop_assert_eq!(&net.layers, &before.layers),
        Err(_) => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random schedules, valid or not, with every optimizer: each `fit`
    /// returns an error or leaves finite weights.
    #[test]
    fn every_fit_errs_or_leaves_finite_weights(r in random()) {
        match r.kind {
            0 => run(Sgd::new(r.rate).weight_decay(r.decay), &r)?,
            1 => run(Momentum::new(r.rate).momentum(r.first).weight_decay(r.decay), &r)?,
            2 => run(Momentum::new(r.rate).momentum(r.first).nesterov(), &r)?,
            3 => run(
                Adam::new(r.rate).betas(r.first, r.second).epsilon(r.epsilon).weight_decay(r.decay),
                &r,
            )?,
            _ => run(
                AdamW::new(r.rate).betas(r.first, r.second).epsilon(r.epsilon).weight_decay(r.decay),
                &r,
            )?,
        }
    }
}
