//! Analytic gradients against central finite differences.
//!
//! Finite differences are taken of the f32 code in f64 arithmetic around it, with
//! a step `h` chosen per case: the truncation error is O(h²·f'''), the rounding
//! error O(ε_f32·|f| / h) with ε_f32 ≈ 6e-8, so h ≈ 1e-2 keeps both near 1e-4 of
//! an O(1) slope; tolerances are a few times that, relative to the slope's size.

use mimic::activation::{Activation, Identity, LeakyReLU, ReLU, Sigmoid};
use mimic::models::Teacher;
use mimic::{CrossEntropy, Dense, Loss, Module, Mse, Network, Parameters, Train, Update, softmax};
use proptest::prelude::*;

fn close(numeric: f64, analytic: f64, tolerance: f64) -> bool {
    (numeric - analytic).abs() <= tolerance * (1.0 + analytic.abs())
}

fn check_activation<A: Activation>(f: A, x: f32) -> Result<(), TestCaseError> {
    let h = 1e-3f32;
    let numeric = (f64::from(f.apply(x + h)) - f64::from(f.apply(x - h))) / f64::from(2.0 * h);
    let analytic = f64::from(f.derivative_at_output(f.apply(x)));
    prop_assert!(
        close(numeric, analytic, 1e-2),
        "{f:?} at {x}: numeric {numeric}, analytic {analytic}"
    );
    Ok(())
}

/// Inputs at least 0.01 away from 0, the kink of the piecewise activations.
fn away_from_kink() -> impl Strategy<Value = f32> {
    prop_oneof![-20.0f32..-0.01, 0.01f32..20.0]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn activation_derivatives(x in away_from_kink(), slope in 0.0f32..0.9) {
        check_activation(LeakyReLU::default(), x)?;
        check_activation(LeakyReLU::new(slope), x)?;
        check_activation(ReLU, x)?;
        check_activation(Identity, x)?;
        check_activation(Sigmoid, x)?;
    }

    #[test]
    fn loss_gradients(y in proptest::array::uniform10(-5.0f32..5.0), t in proptest::array::uniform10(-5.0f32..5.0), class in 0usize..10) {
        let h = 1e-2f32;
        let (_, mse) = Mse.loss_and_gradient(&y, &t).unwrap();
        let (_, ce) = CrossEntropy.loss_and_gradient(&y, &class).unwrap();
        for o in 0..10 {
            let (mut up, mut down) = (y, y);
            up[o] += h;
            down[o] -= h;
            let d = |f: &dyn Fn(&[f32; 10]) -> f32| (f64::from(f(&up)) - f64::from(f(&down))) / f64::from(2.0 * h);
            let numeric_mse = d(&|v| Mse.loss(v, &t).unwrap());
            let numeric_ce = d(&|v| CrossEntropy.loss(v, &class).unwrap());
            prop_assert!(close(numeric_mse, f64::from(mse[o]), 1e-3), "mse {o}: {numeric_mse} vs {}", mse[o]);
            prop_assert!(close(numeric_ce, f64::from(ce[o]), 1e-3), "ce {o}: {numeric_ce} vs {}", ce[o]);
        }
    }

    #[test]
    fn softmax_is_a_distribution(logits in proptest::array::uniform8(prop_oneof![-1e30f32..1e30, -100.0f32..100.0, Just(f32::MAX), Just(-f32::MAX)]), shift in -50.0f32..50.0) {
        let p = softmax(&logits);
        prop_assert!(p.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)), "{p:?}");
        let sum: f32 = p.iter().sum();
        prop_assert!((sum - 1.0).abs() < 1e-5, "sum {sum}");
        // Adding a constant changes nothing (up to rounding of the shifted logits).
        if logits.iter().all(|v| v.abs() < 100.0) {
            let shifted = softmax(&logits.map(|v| v + shift));
            for (a, b) in p.iter().zip(&shifted) {
                prop_assert!((a - b).abs() < 1e-4, "{p:?} vs {shifted:?}");
            }
        }
    }

    #[test]
    fn cross_entropy_is_finite_for_any_finite_logits(logits in proptest::array::uniform10(prop_oneof![-f32::MAX..f32::MAX, -1e30f32..1e30]), class in 0usize..10) {
        let (loss, gradient) = CrossEntropy.loss_and_gradient(&logits, &class).unwrap();
        prop_assert!(loss.is_finite() && loss >= 0.0);
        prop_assert!(gradient.iter().all(|g| g.is_finite()));
    }

    #[test]
    fn dense_layer_gradients(seed in 0u64..1000, x in proptest::array::uniform5(-2.0f32..2.0), t in proptest::array::uniform3(-1.0f32..1.0)) {
        check_dense::<Sigmoid>(seed, x, t)?;
        check_dense::<Identity>(seed, x, t)?;
        // LeakyReLU: finite differences are only valid away from its kink.
        let layer = init::<LeakyReLU>(seed);
        prop_assume!(layer.pre_activation(&x).iter().all(|z| z.abs() > 0.05));
        check_dense::<LeakyReLU>(seed, x, t)?;
    }
}

fn init<A: Activation>(seed: u64) -> Dense<5, 3, A> {
    let mut rng = <rand_pcg::Pcg64 as rand::SeedableRng>::seed_from_u64(seed);
    <Dense<5, 3, A> as mimic::Initialize>::initialize(mimic::Initializer::Xavier, &mut rng)
}

/// Weights, bias and input gradient of one layer under MSE.
fn check_dense<A: Activation>(seed: u64, x: [f32; 5], t: [f32; 3]) -> Result<(), TestCaseError> {
    let mut layer = init::<A>(seed);
    let loss_at =
        |l: &Dense<5, 3, A>, x: &[f32; 5]| f64::from(Mse.loss(&l.forward(x), &t).unwrap());
    let y = layer.forward(&x);
    let (_, dy) = Mse.loss_and_gradient(&y, &t).unwrap();
    let mut gradients = Dense::<5, 3, A>::zeros();
    let dx = layer
        .clone()
        .backward(&x, &y, &dy, Update::Accumulate(&mut gradients));
    let h = 1e-2f32;
    for o in 0..3 {
        for i in 0..5 {
            let (mut up, mut down) = (layer.clone(), layer.clone());
            up.set_weight(o, i, layer.weight(o, i) + h);
            down.set_weight(o, i, layer.weight(o, i) - h);
            let numeric = (loss_at(&up, &x) - loss_at(&down, &x)) / f64::from(2.0 * h);
            let analytic = f64::from(gradients.weight(o, i));
            prop_assert!(
                close(numeric, analytic, 2e-3),
                "W[{o}][{i}]: {numeric} vs {analytic}"
            );
        }
        let (mut up, mut down) = (layer.clone(), layer.clone());
        up.bias_mut()[o] += h;
        down.bias_mut()[o] -= h;
        let numeric = (loss_at(&up, &x) - loss_at(&down, &x)) / f64::from(2.0 * h);
        prop_assert!(
            close(numeric, f64::from(gradients.bias()[o]), 2e-3),
            "b[{o}]"
        );
    }
    for i in 0..5 {
        let (mut up, mut down) = (x, x);
        up[i] += h;
        down[i] -= h;
        let numeric = (loss_at(&layer, &up) - loss_at(&layer, &down)) / f64::from(2.0 * h);
        prop_assert!(
            close(numeric, f64::from(dx[i]), 2e-3),
            "x[{i}]: {numeric} vs {}",
            dx[i]
        );
    }
    // The SGD update is `W -= lr · gradient`.
    let before = layer.clone();
    layer.backward(&x, &y, &dy, Update::Sgd { learning_rate: 0.5 });
    prop_assert!(
        (layer.weight(1, 2) - (before.weight(1, 2) - 0.5 * gradients.weight(1, 2))).abs() < 1e-6
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// The whole teacher: the accumulated gradient of a sample against finite
    /// differences of its cross-entropy loss, on a sample of 40 weights per case
    /// (all 12,730 would be slow, and each is an independent check).
    #[test]
    fn teacher_gradients(seed in 0u64..1000, class in 0usize..10, picks in proptest::collection::vec((0usize..3, 0usize..784, 0usize..16), 40)) {
        let mut rng = <rand_pcg::Pcg64 as rand::SeedableRng>::seed_from_u64(seed);
        let mut net: Network<Teacher, CrossEntropy> = Network::initialized(mimic::Initializer::He, &mut rng, CrossEntropy, 0.1);
        let x: [f32; 784] = core::array::from_fn(|i| if (i * 7 + seed as usize).is_multiple_of(5) { ((i % 255) as f32) / 255.0 } else { 0.0 });
        // Which side of its LeakyReLU kink every unit is on: finite differences
        // are only valid between points where this pattern is the same.
        let pattern = |n: &Network<Teacher, CrossEntropy>| {
            let t = n.layers.forward_trace(&x);
            t.0.iter().chain(&t.1).chain(&t.2).map(|&v| v > 0.0).collect::<Vec<_>>()
        };
        let base = pattern(&net);
        let mut checked = 0;
        let mut gradients = net.layers.clone();
        gradients.visit_mut(&mut |p| p.fill(0.0));
        net.accumulate_gradient(&x, &class, &mut gradients).unwrap();
        let loss = |n: &Network<Teacher, CrossEntropy>| f64::from(CrossEntropy.loss(&n.forward(&x), &class).unwrap());
        let h = 1e-3f32;
        for (layer, i, o) in picks {
            let (i, o) = match layer { 0 => (i, o), 1 => (i % 16, o), _ => (i % 16, o % 10) };
            if layer == 0 && x[i] == 0.0 { continue; } // exactly zero gradient, checked below
            let nudge = |n: &mut Network<Teacher, CrossEntropy>, d: f32| match layer {
                0 => { let w = n.layers.0.weight(o, i); n.layers.0.set_weight(o, i, w + d) }
                1 => { let w = n.layers.1.weight(o, i); n.layers.1.set_weight(o, i, w + d) }
                _ => { let w = n.layers.2.weight(o, i); n.layers.2.set_weight(o, i, w + d) }
            };
            let (mut up, mut down) = (net.clone(), net.clone());
            nudge(&mut up, h);
            nudge(&mut down, -h);
            if pattern(&up) != base || pattern(&down) != base {
                continue; // the step crosses a kink
            }
            checked += 1;
            let numeric = (loss(&up) - loss(&down)) / f64::from(2.0 * h);
            let analytic = f64::from(match layer { 0 => gradients.0.weight(o, i), 1 => gradients.1.weight(o, i), _ => gradients.2.weight(o, i) });
            prop_assert!(close(numeric, analytic, 5e-3), "layer {layer} W[{o}][{i}]: {numeric} vs {analytic}");
        }
        prop_assert!(checked > 0 || base.is_empty(), "every pick crossed a kink");
        // Zero pixels get exactly zero weight gradient.
        prop_assert!((0..784).filter(|&i| x[i] == 0.0).all(|i| (0..16).all(|o| gradients.0.weight(o, i) == 0.0)));
    }
}
