//! `fit` applies each update rule as the rule says: the batch gradient averaged,
//! clipped to its global norm, the update counted from 1 over all of training,
//! the learning-rate schedule per update — checked against a loop written with
//! `accumulate_gradient` and the rule's own `update`, bit for bit.

use mimic::{
    Adam, AdamW, CrossEntropy, Dense, Identity, Initializer, Momentum, Network, Optimizer,
    RateSchedule, Schedule, Sgd, module::Parameters,
};

type Net = (Dense<3, 5>, Dense<5, 4, Identity>);

fn data() -> (Vec<[f32; 3]>, Vec<usize>) {
    let inputs: Vec<[f32; 3]> = (0..10)
        .map(|k| {
            let k = k as f32;
            [(k * 0.37).sin(), (k * 0.71).cos(), 0.1 * k - 0.4]
        })
        .collect();
    let classes = (0..10).map(|k| (k * 7) % 4).collect();
    (inputs, classes)
}

fn bits<P: Parameters>(p: &P) -> Vec<u32> {
    let mut out = Vec::new();
    p.visit(&mut |s| out.extend(s.iter().map(|v| v.to_bits())));
    out
}

/// The same training written by hand: batches in order, each batch's samples
/// cut into the schedule's parts, each part's gradients summed with
/// `accumulate_gradient` into a buffer of its own, the parts added in order,
/// averaged, clipped, then the rule's `update`.
fn by_hand<O: Optimizer>(
    mut net: Network<Net, CrossEntropy>,
    schedule: &Schedule<O>,
    inputs: &[[f32; 3]],
    classes: &[usize],
) -> Network<Net, CrossEntropy> {
    let base = schedule.optimizer.learning_rate();
    let zeros =
        || Network::<Net, CrossEntropy>::seeded_with(Initializer::Zeros, 0, CrossEntropy).layers;
    let (mut g, mut s1, mut s2) = (zeros(), zeros(), zeros());
    let per_epoch = inputs.len().div_ceil(schedule.batch_size);
    let total = per_epoch * schedule.epochs;
    let mut t = 0;
    for epoch in 0..schedule.epochs {
        for (b, batch) in (0..inputs.len())
            .collect::<Vec<_>>()
            .chunks(schedule.batch_size)
            .enumerate()
        {
            let parts = schedule.parts.min(batch.len());
            for p in 0..parts {
                let mut part = zeros();
                for &k in &batch[p * batch.len() / parts..(p + 1) * batch.len() / parts] {
                    net.accumulate_gradient(&inputs[k], &classes[k], &mut part)
                        .unwrap();
                }
                if p == 0 {
                    g = part;
                } else {
                    let (mut unused_a, mut unused_b) = (zeros(), zeros());
                    g.zip_mut(
                        &mut part,
                        &mut unused_a,
                        &mut unused_b,
                        &mut |(g, q, _, _)| {
                            for (g, q) in g.iter_mut().zip(q.iter()) {
                                *g += *q;
                            }
                        },
                    );
                }
            }
            let scale = 1.0 / batch.len() as f32;
            let mut norm = 0.0f64;
            g.visit(&mut |s| norm += s.iter().map(|&x| f64::from(x * scale).powi(2)).sum::<f64>());
            let clip = match schedule.clip_norm {
                Some(limit) if norm.sqrt() > f64::from(limit) => {
                    (f64::from(limit) / norm.sqrt()) as f32
                }
                _ => 1.0,
            };
            t += 1;
            let rate = schedule
                .rate_schedule
                .at(base, epoch, epoch * per_epoch + b, total);
            net.layers
                .zip_mut(&mut g, &mut s1, &mut s2, &mut |(w, g, s1, s2)| {
                    for g in g.iter_mut() {
                        *g *= scale;
                    }
                    if clip != 1.0 {
                        for g in g.iter_mut() {
                            *g *= clip;
                        }
                    }
                    schedule.optimizer.update(w, g, s1, s2, rate, t);
                    g.fill(0.0);
                });
        }
    }
    net
}

fn check<O: Optimizer>(schedule: Schedule<O>) {
    let (inputs, classes) = data();
    let start: Network<Net, _> = Network::seeded(5, CrossEntropy);
    let mut fitted = start.clone();
    fitted.fit(&inputs, &classes, &schedule).unwrap();
    let manual = by_hand(start.clone(), &schedule, &inputs, &classes);
    assert_eq!(bits(&fitted.layers), bits(&manual.layers), "{schedule:?}");
    assert_ne!(bits(&fitted.layers), bits(&start.layers));
}

#[test]
fn every_rule_schedule_and_clip_is_applied_as_written() {
    check(
        Schedule::new(Sgd::new(0.05).weight_decay(0.01))
            .epochs(3)
            .batch_size(4),
    );
    check(
        Schedule::new(Momentum::new(0.05).momentum(0.9))
            .epochs(3)
            .batch_size(3)
            .decay(0.5),
    );
    check(
        Schedule::new(Momentum::new(0.05).momentum(0.8).nesterov())
            .epochs(3)
            .batch_size(3)
            .clip(0.05),
    );
    check(Schedule::new(Adam::new(0.05)).epochs(4).batch_size(4));
    check(
        Schedule::new(AdamW::new(0.05))
            .epochs(4)
            .batch_size(5)
            .rate_schedule(RateSchedule::Cosine {
                warmup: 2,
                floor: 0.1,
            }),
    );
    check(
        Schedule::new(Adam::new(0.05).weight_decay(0.001))
            .epochs(5)
            .batch_size(10)
            .rate_schedule(RateSchedule::Step {
                every: 2,
                factor: 0.5,
            })
            .clip(0.5),
    );
}

#[test]
fn clipping_bounds_every_update() {
    // Plain SGD with a huge rate: without clipping the first update is huge; with
    // clipping at norm c, the parameters move by exactly rate · c in L2 norm.
    let (inputs, classes) = data();
    let start: Network<Net, _> = Network::seeded(5, CrossEntropy);
    let mut clipped = start.clone();
    let schedule = Schedule::new(Sgd::new(10.0)).batch_size(10).clip(0.01);
    clipped.fit(&inputs, &classes, &schedule).unwrap();
    let (mut before, mut after) = (Vec::new(), Vec::new());
    start.layers.visit(&mut |s| before.extend_from_slice(s));
    clipped.layers.visit(&mut |s| after.extend_from_slice(s));
    let moved: f64 = before
        .iter()
        .zip(&after)
        .map(|(a, b)| f64::from(a - b).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!((moved - 0.1).abs() < 1e-4, "moved {moved}");
}

#[test]
fn a_cosine_schedule_per_sample_follows_the_rate_of_each_step() {
    let (inputs, classes) = data();
    let rate = RateSchedule::Cosine {
        warmup: 3,
        floor: 0.0,
    };
    let start: Network<Net, _> = Network::seeded(2, CrossEntropy);
    let mut fitted = start.clone();
    fitted
        .fit(
            &inputs,
            &classes,
            &Schedule::new(Sgd::new(0.2)).epochs(2).rate_schedule(rate),
        )
        .unwrap();
    let mut manual = start;
    for step in 0..20 {
        let learning_rate = rate.at(0.2, step / 10, step, 20);
        manual
            .train_step(&inputs[step % 10], &classes[step % 10], learning_rate)
            .unwrap();
    }
    assert_eq!(bits(&fitted.layers), bits(&manual.layers));
}
