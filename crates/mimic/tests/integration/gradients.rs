//! Gradient checks: every analytic derivative in `mimic` against central finite
//! differences of an independent f64 reference, plus softmax/cross-entropy
//! stability properties.
//!
//! Why f64 references: differencing the f32 functions themselves needs a step
//! large enough to beat f32 rounding (`eps / h`), which then brings truncation
//! error (`h² f‴`) and makes the tolerance mostly noise. Instead each check
//! rebuilds the function in f64 from the *same* f32 parameters (so the point of
//! evaluation is identical), asserts that the f64 value agrees with mimic's f32
//! value (so the reference really is the same function), and differences the f64
//! version, whose own error (≈ 1e-16·|L| / h + h²·|L‴|) is negligible next to
//! the tolerances, which therefore only budget for the f32 rounding of the
//! analytic gradient under test. Steps: [`H`] for scalar functions; for network
//! parameters, [`kink_safe_central`].
//!
//! Piecewise-linear activations have a kink at 0. No finite difference spans one
//! (`kink_safe_central` shrinks its step instead), and cases with a
//! pre-activation so close to 0 that f32 and f64 might put it on different sides
//! are rejected with `prop_assume!`.

use mimic::{
    Activation, CrossEntropy, Dense, Identity, Initializer, LeakyReLU, Loss, Module, Mse, Network,
    ReLU, Sigmoid, log_sum_exp, module::Train, softmax,
};

/// The seed's teacher.
type Teacher = (Dense<784, 16>, Dense<16, 16>, Dense<16, 10>);
use proptest::prelude::*;
use rand::{Rng, RngExt, SeedableRng};
use rand_pcg::Pcg64;

// ---------------------------------------------------------------------------
// f64 references
// ---------------------------------------------------------------------------

/// An activation rebuilt in f64.
#[derive(Clone, Copy, Debug)]
enum RefAct {
    Leaky(f64),
    Relu,
    Sigmoid,
    Identity,
}

impl RefAct {
    fn apply(self, x: f64) -> f64 {
        match self {
            RefAct::Leaky(slope) => {
                if x > 0.0 {
                    x
                } else {
                    slope * x
                }
            }
            RefAct::Relu => x.max(0.0),
            RefAct::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            RefAct::Identity => x,
        }
    }

    /// Whether `f` has a kink at 0 that finite differences must stay away from.
    fn has_kink(self) -> bool {
        matches!(self, RefAct::Leaky(_) | RefAct::Relu)
    }
}

/// mimic's activations, with their f64 twin.
trait Reference: Activation {
    fn reference(&self) -> RefAct;
}

impl Reference for LeakyReLU {
    fn reference(&self) -> RefAct {
        RefAct::Leaky(f64::from(self.slope))
    }
}
impl Reference for ReLU {
    fn reference(&self) -> RefAct {
        RefAct::Relu
    }
}
impl Reference for Sigmoid {
    fn reference(&self) -> RefAct {
        RefAct::Sigmoid
    }
}
impl Reference for Identity {
    fn reference(&self) -> RefAct {
        RefAct::Identity
    }
}

/// A dense layer in f64, `W` as `OUT × IN` rows.
#[derive(Clone, Debug)]
struct RefDense {
    w: Vec<Vec<f64>>,
    b: Vec<f64>,
    act: RefAct,
}

impl RefDense {
    /// The same layer (or gradient accumulator), read through mimic's public
    /// `OUT × IN` accessors.
    fn of<const IN: usize, const OUT: usize, A: Reference>(layer: &Dense<IN, OUT, A>) -> Self {
        RefDense {
            w: (0..OUT)
                .map(|o| (0..IN).map(|i| f64::from(layer.weight(o, i))).collect())
                .collect(),
            b: layer.bias().iter().map(|&b| f64::from(b)).collect(),
            act: layer.activation().reference(),
        }
    }
}

/// The f64 forward pass: the output, the smallest |pre-activation| of any layer
/// with a kink (∞ if none), and which side of its kink each of those is on.
fn ref_forward(net: &[RefDense], x: &[f64]) -> (Vec<f64>, f64, Vec<bool>) {
    let mut x = x.to_vec();
    let mut margin = f64::INFINITY;
    let mut sides = Vec::new();
    for layer in net {
        x = layer
            .w
            .iter()
            .zip(&layer.b)
            .map(|(row, b)| {
                let z = b + row.iter().zip(&x).map(|(w, x)| w * x).sum::<f64>();
                if layer.act.has_kink() {
                    margin = margin.min(z.abs());
                    sides.push(z > 0.0);
                }
                layer.act.apply(z)
            })
            .collect();
    }
    (x, margin, sides)
}

/// A loss rebuilt in f64.
#[derive(Clone, Debug)]
enum RefLoss {
    Mse(Vec<f64>),
    CrossEntropy(usize),
}

impl RefLoss {
    fn value(&self, y: &[f64]) -> f64 {
        match self {
            RefLoss::Mse(t) => {
                y.iter().zip(t).map(|(y, t)| (y - t).powi(2)).sum::<f64>() / y.len() as f64
            }
            RefLoss::CrossEntropy(class) => {
                let max = y.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                max + y.iter().map(|v| (v - max).exp()).sum::<f64>().ln() - y[*class]
            }
        }
    }
}

/// Central difference of `f` at `x` with step `h`.
fn central(h: f64, x: f64, mut f: impl FnMut(f64) -> f64) -> f64 {
    (f(x + h) - f(x - h)) / (2.0 * h)
}

/// `|actual − expected| ≤ rtol·|expected| + atol`, with a message naming the entry.
#[track_caller]
fn assert_close(what: &str, actual: f64, expected: f64, rtol: f64, atol: f64) {
    let tol = rtol * expected.abs() + atol;
    assert!(
        (actual - expected).abs() <= tol,
        "{what}: analytic {actual:e}, finite difference {expected:e} (|diff| {:e} > tol {tol:e})",
        (actual - expected).abs()
    );
}

/// Step for differencing scalar functions of O(1) arguments (activations and
/// losses): truncation ≈ h²·|f‴| ≲ 1e-12, rounding ≈ 1e-16·|f| / h ≲ 1e-8 for
/// |f| ≲ 400 (the largest MSE here).
const H: f64 = 1e-6;

/// Central difference of `loss(net(x))` in one parameter, which `set` writes into
/// the network before evaluating (loss, kink sides).
///
/// Network gradients can be tiny (≈1e-8 for the seeded teacher's first layer),
/// so the step must be large for the rounding of the loss (≈ 1e-16·|L| / h) to
/// stay small against them: start at h = 1e-3 (rounding ≲ 1e-12; truncation
/// h²·|L‴| is negligible because L is a smooth, nearly linear function of one
/// parameter between kinks). A step that moves any pre-activation across its
/// kink is retried ten times smaller, so a difference never spans one.
fn kink_safe_central(x0: f64, sides: &[bool], mut set: impl FnMut(f64) -> (f64, Vec<bool>)) -> f64 {
    let mut h = 1e-3;
    while h >= 1e-9 {
        let (plus, plus_sides) = set(x0 + h);
        let (minus, minus_sides) = set(x0 - h);
        if plus_sides == sides && minus_sides == sides {
            set(x0);
            return (plus - minus) / (2.0 * h);
        }
        h /= 10.0;
    }
    panic!("no step keeps every pre-activation on its side of the kink");
}

/// Finite-difference gradients of `loss(net(x))` over every weight, bias and
/// input, shaped like the network (and the input).
fn fd_gradients(net: &[RefDense], x: &[f64], loss: &RefLoss) -> (Vec<RefDense>, Vec<f64>) {
    fd_gradients_where(net, x, loss, |_, _, _| true)
}

/// As [`fd_gradients`], differencing only weights `(layer, o, i)` that `keep`
/// selects (others are left 0); biases and inputs are always differenced.
fn fd_gradients_where(
    net: &[RefDense],
    x: &[f64],
    loss: &RefLoss,
    keep: impl Fn(usize, usize, usize) -> bool,
) -> (Vec<RefDense>, Vec<f64>) {
    let mut net = net.to_vec();
    let mut x = x.to_vec();
    let sides = ref_forward(&net, &x).2;
    let eval = |net: &[RefDense], x: &[f64]| {
        let (y, _, sides) = ref_forward(net, x);
        (loss.value(&y), sides)
    };
    let mut grads: Vec<RefDense> = net
        .iter()
        .map(|l| RefDense {
            w: vec![vec![0.0; l.w[0].len()]; l.w.len()],
            b: vec![0.0; l.b.len()],
            act: l.act,
        })
        .collect();
    for l in 0..net.len() {
        for o in 0..net[l].w.len() {
            for i in 0..net[l].w[o].len() {
                if keep(l, o, i) {
                    grads[l].w[o][i] = kink_safe_central(net[l].w[o][i], &sides, |v| {
                        net[l].w[o][i] = v;
                        eval(&net, &x)
                    });
                }
            }
            grads[l].b[o] = kink_safe_central(net[l].b[o], &sides, |v| {
                net[l].b[o] = v;
                eval(&net, &x)
            });
        }
    }
    let dx = (0..x.len())
        .map(|i| {
            kink_safe_central(x[i], &sides, |v| {
                x[i] = v;
                eval(&net, &x)
            })
        })
        .collect();
    (grads, dx)
}

/// Compares analytic layer gradients with finite differences entry by entry:
/// `|a − r| ≤ rtol·|r| + floor·(largest |r| in that layer)`. The floor is relative
/// to each layer's own scale because an entry's f32 rounding error scales with the
/// activations and deltas that layer multiplies, not with other layers' gradients.
#[track_caller]
fn assert_gradients_close(
    analytic: &[RefDense],
    reference: &[RefDense],
    keep: impl Fn(usize, usize, usize) -> bool,
    rtol: f64,
    floor: f64,
) {
    for (l, (a, r)) in analytic.iter().zip(reference).enumerate() {
        let largest =
            r.w.iter()
                .flatten()
                .chain(&r.b)
                .fold(0.0f64, |m, v| m.max(v.abs()));
        let atol = floor * largest + 1e-15;
        for o in 0..a.w.len() {
            for i in 0..a.w[o].len() {
                if keep(l, o, i) {
                    assert_close(
                        &format!("layer {l} W[{o}][{i}]"),
                        a.w[o][i],
                        r.w[o][i],
                        rtol,
                        atol,
                    );
                }
            }
            assert_close(&format!("layer {l} b[{o}]"), a.b[o], r.b[o], rtol, atol);
        }
    }
}

fn to_f64(xs: &[f32]) -> Vec<f64> {
    xs.iter().map(|&x| f64::from(x)).collect()
}

// ---------------------------------------------------------------------------
// Activations
// ---------------------------------------------------------------------------

/// Values away from the kink at 0 (|x| ≥ 1e-3 ≫ the step `H·max(1, |x|)`).
fn off_kink() -> impl Strategy<Value = f32> {
    prop_oneof![-100.0f32..-1e-3, 1e-3f32..100.0]
}

/// `apply` agrees with the f64 formula, and `derivative_at_output(apply(x))`
/// with its central difference.
fn check_activation<A: Reference>(a: A, x: f32) -> Result<(), TestCaseError> {
    let r = a.reference();
    let x64 = f64::from(x);
    let y = a.apply(x);
    // One f32 operation (or `exp` + division for Sigmoid): a few ulps.
    let y_ref = r.apply(x64);
    prop_assert!(
        // (plus a floor for f32 subnormals: sigmoid(−100) ≈ 3.7e-44)
        (f64::from(y) - y_ref).abs() <= 1e-6 * y_ref.abs() + 1e-40,
        "{a:?}.apply({x}) = {y}, f64 reference {y_ref}"
    );
    let h = H * x64.abs().max(1.0);
    let d_ref = central(h, x64, |v| r.apply(v));
    let d = f64::from(a.derivative_at_output(y));
    // Sigmoid's y(1−y) from an f32 y: absolute error ≲ 2·eps(f32) ≈ 1.2e-7; 1e-6
    // also covers y rounding to 1.0 for x ≳ 17 (true derivative < 4.2e-8).
    prop_assert!(
        (d - d_ref).abs() <= 1e-6 + 1e-6 * d_ref.abs(),
        "{a:?}: f'({x}) = {d}, finite difference {d_ref}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn leaky_relu_default_slope(x in off_kink()) {
        check_activation(LeakyReLU::default(), x)?;
    }

    #[test]
    fn leaky_relu_any_slope(x in off_kink(), slope in 0.0f32..1.0) {
        check_activation(LeakyReLU::new(slope), x)?;
    }

    #[test]
    fn relu(x in off_kink()) {
        check_activation(ReLU, x)?;
    }

    #[test]
    fn sigmoid(x in -100.0f32..100.0) {
        check_activation(Sigmoid, x)?;
    }

    #[test]
    fn identity(x in -1e6f32..1e6) {
        check_activation(Identity, x)?;
    }
}

#[test]
fn leaky_relu_named_slopes() {
    for slope in [0.0, 0.01, 0.2, 0.3, 0.5, 0.99] {
        for x in [-50.0, -1.0, -0.01, 0.01, 1.0, 50.0] {
            check_activation(LeakyReLU::new(slope), x).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------
// Losses (gradient with respect to the output)
// ---------------------------------------------------------------------------

/// Analytic loss and gradient against the f64 reference and its differences.
fn check_loss<F: Loss<[f32; N]>, const N: usize>(
    loss: F,
    reference: RefLoss,
    y: [f32; N],
    target: &F::Target,
) -> Result<(), TestCaseError> {
    let (value, gradient) = loss.loss_and_gradient(&y, target).unwrap();
    let mut y64 = to_f64(&y);
    let value_ref = reference.value(&y64);
    // Sums of ≤ 10 terms of magnitude ≲ 400 (MSE) or a log-sum-exp over logits
    // ≲ 30 in f32: relative error ≲ 1e-6; 1e-5 leaves margin.
    prop_assert!(
        (f64::from(value) - value_ref).abs() <= 1e-5 * (1.0 + value_ref.abs()),
        "loss {value} vs f64 {value_ref}"
    );
    for k in 0..N {
        let yk = y64[k];
        let d_ref = central(H, yk, |v| {
            y64[k] = v;
            reference.value(&y64)
        });
        y64[k] = yk;
        // Gradients are O(1): MSE's 2(y−t)/N is one f32 product (rel 1e-7) and
        // softmax − onehot is exp/sum in f32 (abs ≲ 1e-6 incl. `exp`'s ulps).
        assert_close(
            &format!("dL/dy[{k}]"),
            f64::from(gradient[k]),
            d_ref,
            1e-5,
            2e-6,
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mse_gradient(y in prop::array::uniform10(-10.0f32..10.0), t in prop::array::uniform10(-10.0f32..10.0)) {
        check_loss(Mse, RefLoss::Mse(to_f64(&t)), y, &t)?;
    }

    #[test]
    fn cross_entropy_gradient(y in prop::array::uniform10(-30.0f32..30.0), class in 0usize..10) {
        check_loss(CrossEntropy, RefLoss::CrossEntropy(class), y, &class)?;
    }
}

// ---------------------------------------------------------------------------
// One Dense layer: weights, bias (via `Update::Accumulate`) and input (`backward`)
// ---------------------------------------------------------------------------

fn sparse_input<const N: usize>() -> impl Strategy<Value = [f32; N]> {
    // A third of the inputs exactly 0: the forward pass and the updates skip them.
    prop::array::uniform(prop_oneof![1 => Just(0.0f32), 2 => -2.0f32..2.0])
}

fn random_layer<const IN: usize, const OUT: usize, A: Reference>(
    rows: [[f32; IN]; OUT],
    bias: [f32; OUT],
    activation: A,
) -> Dense<IN, OUT, A> {
    Dense::from_rows(&rows, bias).with_activation(activation)
}

/// Checks one layer under MSE against `t` (the loss is exercised separately).
fn check_dense<const IN: usize, const OUT: usize, A: Reference>(
    layer: Dense<IN, OUT, A>,
    x: [f32; IN],
    t: [f32; OUT],
) -> Result<(), TestCaseError> {
    let net = [RefDense::of(&layer)];
    let (y_ref, margin, _) = ref_forward(&net, &to_f64(&x));
    // f32 and f64 must agree on which side of the kink each unit is.
    prop_assume!(margin > 1e-4);

    let y = layer.forward(&x);
    for (o, (&y, &r)) in y.iter().zip(&y_ref).enumerate() {
        prop_assert!(
            (f64::from(y) - r).abs() <= 1e-5 * (1.0 + r.abs()),
            "y[{o}] {y} vs {r}"
        );
    }
    let (_, dy) = Mse.loss_and_gradient(&y, &t).unwrap();

    // Parameter gradient: accumulated into a zeroed layer.
    let mut grads = Dense::<IN, OUT, A>::zeros().with_activation(*layer.activation());
    let dx = layer.gradient(&x, &y, &dy, &mut grads);

    // gradient_without_input_gradient accumulates the very same numbers.
    let mut grads_again = Dense::<IN, OUT, A>::zeros().with_activation(*layer.activation());
    layer.gradient_without_input_gradient(&x, &y, &dy, &mut grads_again);
    prop_assert!(grads_again == grads);

    let (fd, fd_dx) = fd_gradients(&net, &to_f64(&x), &RefLoss::Mse(to_f64(&t)));
    // Each analytic entry is a product of f32 factors, one of them y − t, whose
    // absolute error ≈ eps·(|y| + |t|) ≈ 2e-7 is a large relative error wherever
    // y ≈ t: 1e-3 relative, floored at 1e-5 of the layer's largest entry (measured
    // errors stay ≥ 10× below this).
    assert_gradients_close(&[RefDense::of(&grads)], &fd, |_, _, _| true, 1e-3, 1e-5);
    let largest_dx = fd_dx.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for i in 0..IN {
        assert_close(
            &format!("dL/dx[{i}]"),
            f64::from(dx[i]),
            fd_dx[i],
            1e-3,
            1e-5 * largest_dx + 1e-15,
        );
    }

    // backward (per-sample SGD) applies exactly −lr × that gradient, and returns the same dx.
    let learning_rate = 0.25;
    let mut sgd = layer.clone();
    let dx_sgd = sgd.backward(&x, &y, &dy, learning_rate);
    prop_assert_eq!(dx_sgd, dx);
    for o in 0..OUT {
        for i in 0..IN {
            let expected = layer.weight(o, i) - learning_rate * grads.weight(o, i);
            prop_assert!((sgd.weight(o, i) - expected).abs() <= 1e-6 * (1.0 + expected.abs()));
        }
        let expected = layer.bias()[o] - learning_rate * grads.bias()[o];
        prop_assert!((sgd.bias()[o] - expected).abs() <= 1e-6 * (1.0 + expected.abs()));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn dense_sigmoid(
        rows in prop::array::uniform3(prop::array::uniform5(-1.0f32..1.0)),
        bias in prop::array::uniform3(-1.0f32..1.0),
        x in sparse_input::<5>(),
        t in prop::array::uniform3(0.0f32..1.0),
    ) {
        check_dense(random_layer(rows, bias, Sigmoid), x, t)?;
    }

    #[test]
    fn dense_leaky_relu(
        rows in prop::array::uniform3(prop::array::uniform5(-1.0f32..1.0)),
        bias in prop::array::uniform3(-1.0f32..1.0),
        x in sparse_input::<5>(),
        t in prop::array::uniform3(-1.0f32..1.0),
    ) {
        let layer: Dense<5, 3> = Dense::from_rows(&rows, bias);
        check_dense(layer, x, t)?;
    }

    #[test]
    fn dense_leaky_relu_any_slope(
        rows in prop::array::uniform3(prop::array::uniform5(-1.0f32..1.0)),
        bias in prop::array::uniform3(-1.0f32..1.0),
        x in sparse_input::<5>(),
        t in prop::array::uniform3(-1.0f32..1.0),
        slope in 0.0f32..1.0,
    ) {
        check_dense(random_layer(rows, bias, LeakyReLU::new(slope)), x, t)?;
    }

    #[test]
    fn dense_relu(
        rows in prop::array::uniform3(prop::array::uniform5(-1.0f32..1.0)),
        bias in prop::array::uniform3(-1.0f32..1.0),
        x in sparse_input::<5>(),
        t in prop::array::uniform3(-1.0f32..1.0),
    ) {
        check_dense(random_layer(rows, bias, ReLU), x, t)?;
    }

    #[test]
    fn dense_identity(
        rows in prop::array::uniform3(prop::array::uniform5(-1.0f32..1.0)),
        bias in prop::array::uniform3(-1.0f32..1.0),
        x in sparse_input::<5>(),
        t in prop::array::uniform3(-1.0f32..1.0),
    ) {
        check_dense(random_layer(rows, bias, Identity), x, t)?;
    }
}

// ---------------------------------------------------------------------------
// The teacher's shape: Network::accumulate_gradient vs finite differences
// ---------------------------------------------------------------------------

/// The three layers of a teacher-shaped tuple, in f64.
fn ref_chain<const N: usize>(
    layers: &(Dense<N, 16>, Dense<16, 16>, Dense<16, 10>),
) -> Vec<RefDense> {
    vec![
        RefDense::of(&layers.0),
        RefDense::of(&layers.1),
        RefDense::of(&layers.2),
    ]
}

/// Accumulates one sample's gradient through `Network::accumulate_gradient` and
/// compares the weights `keep` selects, every bias, with finite differences of
/// the f64 cross-entropy of the f64 forward pass.
fn check_chain<const N: usize>(
    net: Network<(Dense<N, 16>, Dense<16, 16>, Dense<16, 10>), CrossEntropy>,
    x: &[f32; N],
    class: usize,
    keep: impl Fn(usize, usize, usize) -> bool + Copy,
) -> Result<(), TestCaseError> {
    let reference = ref_chain(&net.layers);
    let (logits_ref, margin, _) = ref_forward(&reference, &to_f64(x));
    // The f32 and f64 passes must take the same side of every kink: 1e-4 ≫ the f32
    // rounding error of a pre-activation (≲ 1e-6 here).
    prop_assume!(margin > 1e-4);
    let logits = net.forward(x);
    for (k, (&y, &r)) in logits.iter().zip(&logits_ref).enumerate() {
        prop_assert!(
            (f64::from(y) - r).abs() <= 1e-4 * (1.0 + r.abs()),
            "logit {k}: {y} vs {r}"
        );
    }

    let before = net.clone();
    let mut grads = <(Dense<N, 16>, Dense<16, 16>, Dense<16, 10>)>::default();
    let loss = net.accumulate_gradient(x, &class, &mut grads).unwrap();
    prop_assert!(
        net == before,
        "accumulate_gradient must not change the network"
    );
    let ce = RefLoss::CrossEntropy(class);
    prop_assert!((f64::from(loss) - ce.value(&logits_ref)).abs() <= 1e-4 * (1.0 + f64::from(loss)));

    let analytic = ref_chain(&grads);
    let (fd, _) = fd_gradients_where(&reference, &to_f64(x), &ce, keep);
    // An entry's f32 error comes from the f32 activations and deltas it multiplies
    // (sums of up to N products, ~1e-6 relative each, but cancellation can make a
    // small entry's relative error large): 1e-3 relative, floored at 1e-5 of the
    // layer's largest entry (measured errors stay ≥ 10× below this).
    assert_gradients_close(&analytic, &fd, keep, 1e-3, 1e-5);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A small teacher (12 inputs), He-initialised so every layer carries signal;
    /// every parameter is checked.
    #[test]
    fn small_teacher_every_parameter(seed in any::<u64>(), x in sparse_input::<12>(), class in 0usize..10) {
        let net = Network::seeded_with(Initializer::He, seed, CrossEntropy);
        check_chain::<12>(net, &x, class, |_, _, _| true)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// The real 784→16→16→10 teacher, seeded as the seed does, on an MNIST-like
    /// image: every parameter of the last two layers, every first-layer bias, and
    /// 96 sampled first-layer weights (the sample is drawn from a seed, and takes
    /// both zero and non-zero pixels' weights).
    #[test]
    fn real_teacher_sampled_parameters(seed in any::<u64>(), class in 0usize..10) {
        let mut rng = Pcg64::seed_from_u64(seed);
        let x = mnist_like(&mut rng, 1.0 / 255.0);
        let sampled: Vec<(usize, usize)> = (0..96).map(|_| (rng.random_range(0..16), rng.random_range(0..784))).collect();
        let keep = |l: usize, o: usize, i: usize| l > 0 || sampled.contains(&(o, i));
        let net: Network<Teacher, _> = Network::seeded_with(Initializer::Original, seed, CrossEntropy);
        check_chain::<784>(net, &x, class, keep)?;
    }
}

// ---------------------------------------------------------------------------
// Softmax and cross-entropy stability
// ---------------------------------------------------------------------------

/// An MNIST-like image: about 19% of pixels non-zero, each `k · scale` for k in
/// 1..=255, in a blob of rows like a digit.
fn mnist_like<R: Rng>(rng: &mut R, scale: f32) -> [f32; 784] {
    let mut image = [0.0f32; 784];
    for row in 4..24 {
        for col in 6..22 {
            if rng.random_bool(0.46) {
                image[row * 28 + col] = f32::from(rng.random_range(1u8..=255)) * scale;
            }
        }
    }
    image
}

/// Any finite f32: normal, subnormal or zero, either sign, plus the extremes.
fn finite_f32() -> impl Strategy<Value = f32> {
    use prop::num::f32::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    prop_oneof![
        3 => POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO,
        1 => prop::sample::select(vec![0.0, 1e30, -1e30, f32::MAX, -f32::MAX, f32::MIN_POSITIVE, 1.0]),
        2 => -1e3f32..1e3,
    ]
}

fn assert_probabilities<const N: usize>(logits: &[f32; N]) {
    let p = softmax(logits);
    assert!(
        p.iter().all(|&p| p.is_finite() && (0.0..=1.0).contains(&p)),
        "softmax({logits:?}) = {p:?}"
    );
    // N divisions, each rounded once, of terms that sum to the divisor: ≤ N·eps.
    let sum: f32 = p.iter().sum();
    assert!(
        (sum - 1.0).abs() <= 1e-5,
        "softmax({logits:?}) sums to {sum}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn softmax_is_a_distribution_for_any_finite_logits(logits in prop::array::uniform10(finite_f32())) {
        assert_probabilities(&logits);
        let lse = log_sum_exp(&logits);
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        prop_assert!(lse.is_finite() && lse >= max, "log_sum_exp({logits:?}) = {lse}");
    }

    #[test]
    fn cross_entropy_is_finite_for_any_finite_logits(logits in prop::array::uniform10(finite_f32()), class in 0usize..10) {
        let (loss, g) = CrossEntropy.loss_and_gradient(&logits, &class).unwrap();
        prop_assert!(loss.is_finite() && loss >= 0.0, "loss {loss} for {logits:?}");
        prop_assert!(g.iter().all(|g| g.is_finite() && (-1.0..=1.0).contains(g)), "{g:?}");
        // softmax − onehot sums to 0.
        prop_assert!(g.iter().sum::<f32>().abs() <= 1e-5, "{g:?}");
    }

    /// softmax(x + c) = softmax(x). Adding c rounds each logit by ≤ ½ ulp(2000) =
    /// 6.1e-5, so a logit difference moves by ≤ 1.2e-4 and each probability by a
    /// factor within exp(±2.4e-4) (numerator and normaliser): tolerance
    /// 3e-4·p + 1e-6 (the floor for f32's own rounding).
    #[test]
    fn softmax_is_shift_invariant(logits in prop::array::uniform10(-1e3f32..1e3), c in -1e3f32..1e3) {
        let p = softmax(&logits);
        let q = softmax(&logits.map(|x| x + c));
        for (p, q) in p.iter().zip(&q) {
            prop_assert!((p - q).abs() <= 3e-4 * p + 1e-6, "{p} vs {q} (shift {c})");
        }
    }
}

#[test]
fn softmax_and_cross_entropy_of_extreme_logits() {
    let m = f32::MAX;
    let cases: [[f32; 4]; 8] = [
        [1e30, -1e30, 0.0, 1.0],
        [-1e30, -1e30, -1e30, -1e30],
        [1e30, 1e30, 1e30, 1e30],
        [m, -m, 0.0, 1.0],
        [m, m, m, m],
        [-m, -m, -m, -m],
        [-m, m, -m, m],
        [0.0, f32::MIN_POSITIVE, -1e-45, 255.0 * 784.0],
    ];
    for logits in cases {
        assert_probabilities(&logits);
        assert!(log_sum_exp(&logits).is_finite(), "{logits:?}");
        for class in 0..4 {
            let (loss, g) = CrossEntropy.loss_and_gradient(&logits, &class).unwrap();
            assert!(
                loss.is_finite() && loss >= 0.0,
                "{logits:?} class {class}: {loss}"
            );
            assert!(
                g.iter().all(|g| g.is_finite()),
                "{logits:?} class {class}: {g:?}"
            );
        }
    }
    assert_eq!(softmax(&[m, -m, 0.0, 1.0]), [1.0, 0.0, 0.0, 0.0]);
    assert_eq!(softmax(&[m, m]), [0.5, 0.5]);
    // The loss saturates rather than overflowing when the true value exceeds f32.
    assert_eq!(CrossEntropy.loss(&[m, -m], &1).unwrap(), f32::MAX);
}

/// The seed's 9.8% failure: raw 0..255 pixels (not scaled to 0..1) into an
/// untrained teacher. Its logits must give a finite loss and gradient, and the
/// first SGD step must succeed. Checked for the seed's own initialisation and for
/// He, whose logits on raw pixels exceed 88.7 (where a naive `exp` overflows f32).
#[test]
fn raw_pixels_through_an_untrained_teacher() {
    let mut largest_logit = 0.0f32;
    for seed in 0..20u64 {
        let mut rng = Pcg64::seed_from_u64(1000 + seed);
        let dense_raw: [f32; 784] = std::array::from_fn(|_| f32::from(rng.random::<u8>()));
        for image in [mnist_like(&mut rng, 1.0), dense_raw] {
            let seeded: Network<Teacher, _> =
                Network::seeded_with(Initializer::Original, seed, CrossEntropy);
            let he: Network<Teacher, _> = Network::seeded_with(Initializer::He, seed, CrossEntropy);
            for mut net in [seeded, he] {
                let logits = net.forward(&image);
                assert!(logits.iter().all(|l| l.is_finite()), "{logits:?}");
                largest_logit = logits.iter().fold(largest_logit, |m, &l| m.max(l.abs()));
                for class in 0..10 {
                    let (loss, g) = CrossEntropy.loss_and_gradient(&logits, &class).unwrap();
                    assert!(
                        loss.is_finite() && loss >= 0.0,
                        "seed {seed} class {class}: loss {loss} for {logits:?}"
                    );
                    assert!(
                        g.iter().all(|g| g.is_finite()),
                        "seed {seed} class {class}: {g:?}"
                    );
                }
                let loss = net.train_step(&image, &(seed as usize % 10), 0.03).unwrap();
                assert!(loss.is_finite());
                assert!(net.is_finite());
            }
        }
    }
    assert!(
        largest_logit > 88.8,
        "the case never reached exp's overflow range: {largest_logit}"
    );
}
