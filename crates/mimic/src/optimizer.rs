//! Update rules: how parameters move given their gradient, as types.
//!
//! Each rule follows PyTorch's `torch.optim` documentation, term for term and in
//! the same order, so that a reader can check it line by line:
//! - [`Sgd`]: `g ← g + λw` (L2 weight decay), `w ← w − η·g`.
//! - [`Momentum`]: `g ← g + λw`, `b ← μ·b + g` (`b = g` on the first step; the
//!   same thing, as `b` starts at 0), then `w ← w − η·(g + μ·b)` with Nesterov,
//!   `w ← w − η·b` without.
//! - [`Adam`]: `g ← g + λw`, `m ← β₁m + (1 − β₁)g`, `v ← β₂v + (1 − β₂)g²`,
//!   `m̂ = m/(1 − β₁ᵗ)`, `v̂ = v/(1 − β₂ᵗ)`, `w ← w − η·m̂/(√v̂ + ε)`, computed
//!   with the bias corrections folded into `η` and `ε` (the paper's cheaper
//!   order, exactly equal in real arithmetic; one division per parameter, not two).
//! - [`AdamW`]: `w ← w·(1 − ηλ)` first (decoupled weight decay), then Adam's
//!   step without the L2 term.
//!
//! Every loop runs element by element in a fixed order with no fused
//! multiply-add, so results are bit-identical on every ISA.

use core::fmt::Debug;

use crate::setting::{InvalidSetting, fraction_below_one, non_negative, positive, require};

/// An update rule for parameters, given their (batch-averaged) gradient.
pub trait Optimizer: Copy + Debug + PartialEq + Send + Sync + 'static {
    /// A short name for reports, e.g. `"adam"`.
    const NAME: &'static str;

    /// The base learning rate `η` (a [`RateSchedule`](crate::RateSchedule) scales it
    /// per update).
    fn learning_rate(&self) -> f32;

    /// Updates the parameters `w` from their gradient `g`, at learning rate `rate`,
    /// on update number `t` (1 for the first), with this optimizer's two state
    /// buffers `s1` and `s2` (all 0 before the first update; unused ones stay 0).
    /// All four slices have the same length.
    fn update(&self, w: &mut [f32], g: &[f32], s1: &mut [f32], s2: &mut [f32], rate: f32, t: u32);

    /// A mini-batch's update from the batch's summed gradient `g`: the gradient
    /// [`Optimizer::update`] is given is `g·scale`, then times `clip` unless
    /// `clip` is 1, and `g` is left all zeros for the next batch. The built-in
    /// rules do it in one pass over the four slices, with the same operations in
    /// the same order as this default (three passes), so the bits are the same.
    #[allow(clippy::too_many_arguments)] // `update`'s terms, plus the two factors
    #[inline(always)]
    fn update_batch(
        &self,
        w: &mut [f32],
        g: &mut [f32],
        s1: &mut [f32],
        s2: &mut [f32],
        scale: f32,
        clip: f32,
        rate: f32,
        t: u32,
    ) {
        for g in g.iter_mut() {
            *g = batch_gradient(*g, scale, clip);
        }
        self.update(w, g, s1, s2, rate, t);
        g.fill(0.0);
    }

    /// Whether an update is plain `w ← w − η·g` (per-sample SGD can then apply it
    /// during backpropagation, with no buffers at all).
    fn is_plain_sgd(&self) -> bool {
        false
    }

    /// Whether every setting is in its range, or the first that is not:
    /// [`Network::fit`](crate::Network::fit) trains nothing with such a rule.
    /// The default checks the learning rate (a finite number ≥ 0); the
    /// built-in rules check their other settings too.
    fn check(&self) -> Result<(), InvalidSetting> {
        non_negative("learning rate", self.learning_rate())
    }
}

/// `g·scale`, then `·clip` unless `clip` is 1: a batch's averaged, clipped
/// gradient from its sum.
#[inline(always)]
fn batch_gradient(g: f32, scale: f32, clip: f32) -> f32 {
    let g = g * scale;
    if clip != 1.0 { g * clip } else { g }
}

/// Stochastic gradient descent at learning rate `η`, with optional L2 weight decay.
///
/// ```
/// use mimic::Sgd;
///
/// let sgd = Sgd::new(0.1).weight_decay(1e-4);
/// assert_eq!((sgd.learning_rate, sgd.weight_decay), (0.1, 1e-4));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd {
    /// The learning rate `η`.
    pub learning_rate: f32,
    /// L2 weight decay `λ` (0 = none).
    pub weight_decay: f32,
}

impl Sgd {
    /// Plain SGD at learning rate `learning_rate`, no weight decay.
    pub const fn new(learning_rate: f32) -> Self {
        Self {
            learning_rate,
            weight_decay: 0.0,
        }
    }

    /// The same with L2 weight decay `λ`.
    pub const fn weight_decay(self, weight_decay: f32) -> Self {
        Self {
            weight_decay,
            ..self
        }
    }

    /// One parameter's update.
    #[inline(always)]
    fn step(&self, w: &mut f32, g: f32, rate: f32) {
        let decay = self.weight_decay;
        let g = if decay != 0.0 { g + decay * *w } else { g };
        *w -= rate * g;
    }
}

impl Optimizer for Sgd {
    const NAME: &'static str = "sgd";

    fn learning_rate(&self) -> f32 {
        self.learning_rate
    }

    #[inline(always)]
    fn update(&self, w: &mut [f32], g: &[f32], _: &mut [f32], _: &mut [f32], rate: f32, _: u32) {
        for (w, &g) in w.iter_mut().zip(g) {
            self.step(w, g, rate);
        }
    }

    #[inline(always)]
    fn update_batch(
        &self,
        w: &mut [f32],
        g: &mut [f32],
        _: &mut [f32],
        _: &mut [f32],
        scale: f32,
        clip: f32,
        rate: f32,
        _: u32,
    ) {
        for (w, g) in w.iter_mut().zip(g) {
            self.step(w, batch_gradient(*g, scale, clip), rate);
            *g = 0.0;
        }
    }

    fn is_plain_sgd(&self) -> bool {
        self.weight_decay == 0.0
    }

    /// The rate and the weight decay are finite numbers ≥ 0.
    fn check(&self) -> Result<(), InvalidSetting> {
        non_negative("learning rate", self.learning_rate)?;
        non_negative("weight decay", self.weight_decay)
    }
}

/// SGD with heavy-ball or Nesterov momentum, and optional L2 weight decay.
///
/// ```
/// use mimic::Momentum;
///
/// let heavy_ball = Momentum::new(0.1); // μ = 0.9
/// let nesterov = Momentum::new(0.05).momentum(0.8).nesterov();
/// assert_eq!((heavy_ball.momentum, nesterov.nesterov), (0.9, true));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Momentum {
    /// The learning rate `η`.
    pub learning_rate: f32,
    /// Momentum `μ`.
    pub momentum: f32,
    /// Nesterov's variant (look ahead along the velocity).
    pub nesterov: bool,
    /// L2 weight decay `λ` (0 = none).
    pub weight_decay: f32,
}

impl Momentum {
    /// Heavy-ball momentum `μ = 0.9` at learning rate `learning_rate`, no weight decay.
    pub const fn new(learning_rate: f32) -> Self {
        Self {
            learning_rate,
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
        }
    }

    /// The same with momentum `μ`.
    pub const fn momentum(self, momentum: f32) -> Self {
        Self { momentum, ..self }
    }

    /// The same with Nesterov's variant.
    pub const fn nesterov(self) -> Self {
        Self {
            nesterov: true,
            ..self
        }
    }

    /// The same with L2 weight decay `λ`.
    pub const fn weight_decay(self, weight_decay: f32) -> Self {
        Self {
            weight_decay,
            ..self
        }
    }
}

impl Momentum {
    /// One parameter's update, with its velocity `b`.
    #[inline(always)]
    fn step(&self, w: &mut f32, g: f32, b: &mut f32, rate: f32) {
        let (mu, decay) = (self.momentum, self.weight_decay);
        let g = if decay != 0.0 { g + decay * *w } else { g };
        *b = mu * *b + g;
        let step = if self.nesterov { g + mu * *b } else { *b };
        *w -= rate * step;
    }
}

impl Optimizer for Momentum {
    const NAME: &'static str = "momentum";

    fn learning_rate(&self) -> f32 {
        self.learning_rate
    }

    #[inline(always)]
    fn update(&self, w: &mut [f32], g: &[f32], b: &mut [f32], _: &mut [f32], rate: f32, _: u32) {
        for ((w, &g), b) in w.iter_mut().zip(g).zip(b) {
            self.step(w, g, b, rate);
        }
    }

    #[inline(always)]
    fn update_batch(
        &self,
        w: &mut [f32],
        g: &mut [f32],
        b: &mut [f32],
        _: &mut [f32],
        scale: f32,
        clip: f32,
        rate: f32,
        _: u32,
    ) {
        for ((w, g), b) in w.iter_mut().zip(g).zip(b) {
            self.step(w, batch_gradient(*g, scale, clip), b, rate);
            *g = 0.0;
        }
    }

    /// Momentum 0 without weight decay is plain SGD.
    fn is_plain_sgd(&self) -> bool {
        self.momentum == 0.0 && self.weight_decay == 0.0
    }

    /// The rate and the weight decay are finite numbers ≥ 0, the momentum is in
    /// `[0, 1)` (at 1 or more the velocity never decays).
    fn check(&self) -> Result<(), InvalidSetting> {
        non_negative("learning rate", self.learning_rate)?;
        fraction_below_one("momentum", self.momentum)?;
        non_negative("weight decay", self.weight_decay)
    }
}

/// Adam (Kingma and Ba), with optional L2 weight decay added to the gradient.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    /// The learning rate `η`.
    pub learning_rate: f32,
    /// Decay of the first moment, `β₁`.
    pub beta1: f32,
    /// Decay of the second moment, `β₂`.
    pub beta2: f32,
    /// `ε`, added to `√v̂`.
    pub epsilon: f32,
    /// L2 weight decay `λ` (0 = none).
    pub weight_decay: f32,
}

impl Default for Adam {
    /// PyTorch's defaults: η = 1e-3, β = (0.9, 0.999), ε = 1e-8, no weight decay.
    fn default() -> Self {
        Self::new(1e-3)
    }
}

impl Adam {
    /// Adam at learning rate `learning_rate` (1e-3 suits most networks), with
    /// PyTorch's other defaults: β = (0.9, 0.999), ε = 1e-8, no weight decay.
    pub const fn new(learning_rate: f32) -> Self {
        Self {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            weight_decay: 0.0,
        }
    }
}

impl Adam {
    /// The same with moment decays `β₁` and `β₂`.
    pub const fn betas(self, beta1: f32, beta2: f32) -> Self {
        Self {
            beta1,
            beta2,
            ..self
        }
    }

    /// The same with `ε`.
    pub const fn epsilon(self, epsilon: f32) -> Self {
        Self { epsilon, ..self }
    }

    /// The same with weight decay `λ`.
    pub const fn weight_decay(self, weight_decay: f32) -> Self {
        Self {
            weight_decay,
            ..self
        }
    }
}

impl Optimizer for Adam {
    const NAME: &'static str = "adam";

    fn learning_rate(&self) -> f32 {
        self.learning_rate
    }

    #[inline(always)]
    fn update(&self, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], rate: f32, t: u32) {
        AdamStep::new(*self, self.weight_decay, 1.0, rate, t).update(w, g, m, v);
    }

    #[inline(always)]
    fn update_batch(
        &self,
        w: &mut [f32],
        g: &mut [f32],
        m: &mut [f32],
        v: &mut [f32],
        scale: f32,
        clip: f32,
        rate: f32,
        t: u32,
    ) {
        AdamStep::new(*self, self.weight_decay, 1.0, rate, t).update_batch(w, g, m, v, scale, clip);
    }

    /// The rate and the weight decay are finite numbers ≥ 0, `β₁` and `β₂` are
    /// in `[0, 1)`, `ε` is a finite number > 0.
    fn check(&self) -> Result<(), InvalidSetting> {
        check_adam(
            self.learning_rate,
            self.beta1,
            self.beta2,
            self.epsilon,
            self.weight_decay,
        )
    }
}

/// Adam's and AdamW's settings (see [`Adam::check`](Optimizer::check)).
fn check_adam(
    rate: f32,
    beta1: f32,
    beta2: f32,
    epsilon: f32,
    weight_decay: f32,
) -> Result<(), InvalidSetting> {
    non_negative("learning rate", rate)?;
    fraction_below_one("beta1", beta1)?;
    fraction_below_one("beta2", beta2)?;
    positive("epsilon", epsilon)?;
    non_negative("weight decay", weight_decay)
}

/// AdamW (Loshchilov and Hutter): Adam with decoupled weight decay.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamW {
    /// The learning rate `η`.
    pub learning_rate: f32,
    /// Decay of the first moment, `β₁`.
    pub beta1: f32,
    /// Decay of the second moment, `β₂`.
    pub beta2: f32,
    /// `ε`, added to `√v̂`.
    pub epsilon: f32,
    /// Decoupled weight decay `λ`: `w ← w·(1 − ηλ)` every update.
    pub weight_decay: f32,
}

impl Default for AdamW {
    /// PyTorch's defaults: η = 1e-3, β = (0.9, 0.999), ε = 1e-8, λ = 0.01.
    fn default() -> Self {
        Self::new(1e-3)
    }
}

impl AdamW {
    /// AdamW at learning rate `learning_rate` (1e-3 suits most networks), with
    /// PyTorch's other defaults: β = (0.9, 0.999), ε = 1e-8, λ = 0.01.
    pub const fn new(learning_rate: f32) -> Self {
        Self {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            weight_decay: 0.01,
        }
    }
}

impl AdamW {
    /// `w ← w·(1 − ηλ)`, then Adam's step without the L2 term. Done parameter
    /// by parameter, which is the same as shrinking all of `w` first: each
    /// parameter's update reads only its own weight.
    #[inline(always)]
    fn adam_step(&self, rate: f32, t: u32) -> AdamStep {
        let adam = Adam {
            learning_rate: self.learning_rate,
            beta1: self.beta1,
            beta2: self.beta2,
            epsilon: self.epsilon,
            weight_decay: 0.0,
        };
        AdamStep::new(adam, 0.0, 1.0 - rate * self.weight_decay, rate, t)
    }
}

impl AdamW {
    /// The same with moment decays `β₁` and `β₂`.
    pub const fn betas(self, beta1: f32, beta2: f32) -> Self {
        Self {
            beta1,
            beta2,
            ..self
        }
    }

    /// The same with `ε`.
    pub const fn epsilon(self, epsilon: f32) -> Self {
        Self { epsilon, ..self }
    }

    /// The same with weight decay `λ`.
    pub const fn weight_decay(self, weight_decay: f32) -> Self {
        Self {
            weight_decay,
            ..self
        }
    }
}

impl Optimizer for AdamW {
    const NAME: &'static str = "adamw";

    fn learning_rate(&self) -> f32 {
        self.learning_rate
    }

    #[inline(always)]
    fn update(&self, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], rate: f32, t: u32) {
        self.adam_step(rate, t).update(w, g, m, v);
    }

    #[inline(always)]
    fn update_batch(
        &self,
        w: &mut [f32],
        g: &mut [f32],
        m: &mut [f32],
        v: &mut [f32],
        scale: f32,
        clip: f32,
        rate: f32,
        t: u32,
    ) {
        self.adam_step(rate, t)
            .update_batch(w, g, m, v, scale, clip);
    }

    /// Adam's settings, and a decoupled decay of at most the whole weight per
    /// update (`η·λ ≤ 1`: beyond it `w·(1 − ηλ)` flips every weight's sign).
    fn check(&self) -> Result<(), InvalidSetting> {
        check_adam(
            self.learning_rate,
            self.beta1,
            self.beta2,
            self.epsilon,
            self.weight_decay,
        )?;
        require(
            self.learning_rate * self.weight_decay <= 1.0,
            "weight decay",
            self.weight_decay,
            "a finite number ≥ 0 with learning rate × weight decay ≤ 1",
        )
    }
}

/// Adam's step for one update number, with L2 decay `decay` added to the
/// gradient and decoupled decay `w ← w·shrink` first (1 = none).
///
/// The bias corrections are folded into the step and `ε`, as Kingma and Ba's
/// paper suggests (end of its section 2): `η·m̂/(√v̂ + ε)` with `m̂ = m/(1 − β₁ᵗ)`
/// and `v̂ = v/(1 − β₂ᵗ)` is exactly `η̂·m/(√v + ε̂)` with
/// `η̂ = η·√(1 − β₂ᵗ)/(1 − β₁ᵗ)` and `ε̂ = ε·√(1 − β₂ᵗ)`. Per parameter that is
/// one square root and one division instead of PyTorch's one and two: the
/// divisions are most of Adam's cost per parameter. Only the rounding differs
/// from PyTorch's order; the reference tests hold it to the f64 formula.
#[derive(Clone, Copy)]
struct AdamStep {
    beta1: f32,
    beta2: f32,
    decay: f32,
    shrink: f32,
    /// `η̂ = η·√(1 − β₂ᵗ)/(1 − β₁ᵗ)`.
    step: f32,
    /// `ε̂ = ε·√(1 − β₂ᵗ)`.
    epsilon: f32,
}

impl AdamStep {
    #[inline(always)]
    fn new(adam: Adam, decay: f32, shrink: f32, rate: f32, t: u32) -> Self {
        let Adam {
            beta1,
            beta2,
            epsilon,
            ..
        } = adam;
        // Bias corrections in f64, as PyTorch computes them (in Python floats),
        // and folded into the step and ε in f64 too: rounded once each.
        let t = i32::try_from(t).unwrap_or(i32::MAX);
        let correction1 = 1.0 - f64::from(beta1).powi(t);
        let correction2 = (1.0 - f64::from(beta2).powi(t)).sqrt();
        Self {
            beta1,
            beta2,
            decay,
            shrink,
            step: (f64::from(rate) * correction2 / correction1) as f32,
            epsilon: (f64::from(epsilon) * correction2) as f32,
        }
    }

    /// One parameter's update, with its moments `m` and `v`.
    #[inline(always)]
    fn apply(&self, w: &mut f32, g: f32, m: &mut f32, v: &mut f32) {
        let Self {
            beta1,
            beta2,
            decay,
            shrink,
            step,
            epsilon,
        } = *self;
        if shrink != 1.0 {
            *w *= shrink;
        }
        let g = if decay != 0.0 { g + decay * *w } else { g };
        *m = beta1 * *m + (1.0 - beta1) * g;
        *v = beta2 * *v + (1.0 - beta2) * (g * g);
        let denominator = v.sqrt() + epsilon;
        *w -= step * (*m / denominator);
    }

    #[inline(always)]
    fn update(&self, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m).zip(v) {
            self.apply(w, g, m, v);
        }
    }

    #[inline(always)]
    fn update_batch(
        &self,
        w: &mut [f32],
        g: &mut [f32],
        m: &mut [f32],
        v: &mut [f32],
        scale: f32,
        clip: f32,
    ) {
        for (((w, g), m), v) in w.iter_mut().zip(g).zip(m).zip(v) {
            self.apply(w, batch_gradient(*g, scale, clip), m, v);
            *g = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `steps` updates of `opt` from `w0` on the gradients `grad(t, w)`, in
    /// f32, returning every iterate.
    fn run<O: Optimizer>(opt: O, rate: f32, w0: &[f32], steps: u32) -> Vec<Vec<f32>> {
        let mut w = w0.to_vec();
        let (mut s1, mut s2) = (vec![0.0; w.len()], vec![0.0; w.len()]);
        let mut out = Vec::new();
        for t in 1..=steps {
            let g: Vec<f32> = w
                .iter()
                .enumerate()
                .map(|(i, &w)| gradient(t, i, f64::from(w)) as f32)
                .collect();
            opt.update(&mut w, &g, &mut s1, &mut s2, rate, t);
            out.push(w.clone());
        }
        out
    }

    /// A gradient that depends on the step, the coordinate and the weight (as a
    /// real loss's would), so that every term of every rule matters.
    fn gradient(t: u32, i: usize, w: f64) -> f64 {
        (0.3 * w - 0.7 + 0.11 * i as f64) * (1.0 + 0.25 * f64::from(t % 3))
    }

    fn close(ours: &[Vec<f32>], reference: &[Vec<f64>]) {
        for (t, (a, b)) in ours.iter().zip(reference).enumerate() {
            for (&x, &y) in a.iter().zip(b) {
                assert!(
                    (f64::from(x) - y).abs() <= 2e-5 * y.abs().max(1.0),
                    "step {}: {x} vs {y}",
                    t + 1
                );
            }
        }
    }

    /// The published rules, in f64, written independently of the code above.
    fn reference(
        rule: &str,
        rate: f64,
        w0: &[f32],
        steps: u32,
        p: [f64; 4],
        nesterov: bool,
    ) -> Vec<Vec<f64>> {
        let [a, b, eps, decay] = p;
        let mut w: Vec<f64> = w0.iter().map(|&x| f64::from(x)).collect();
        let (mut m, mut v) = (vec![0.0; w.len()], vec![0.0; w.len()]);
        let mut out = Vec::new();
        for t in 1..=steps {
            for i in 0..w.len() {
                let mut g = gradient(t, i, w[i]);
                match rule {
                    "sgd" => w[i] -= rate * (g + decay * w[i]),
                    "momentum" => {
                        g += decay * w[i];
                        m[i] = if t == 1 { g } else { a * m[i] + g };
                        let step = if nesterov { g + a * m[i] } else { m[i] };
                        w[i] -= rate * step;
                    }
                    "adam" | "adamw" => {
                        if rule == "adamw" {
                            w[i] *= 1.0 - rate * decay;
                        } else {
                            g += decay * w[i];
                        }
                        m[i] = a * m[i] + (1.0 - a) * g;
                        v[i] = b * v[i] + (1.0 - b) * g * g;
                        let m_hat = m[i] / (1.0 - a.powi(t as i32));
                        let v_hat = v[i] / (1.0 - b.powi(t as i32));
                        w[i] -= rate * m_hat / (v_hat.sqrt() + eps);
                    }
                    _ => unreachable!(),
                }
            }
            out.push(w.clone());
        }
        out
    }

    const W0: [f32; 5] = [0.5, -1.25, 2.0, 0.0, -0.3];

    #[test]
    fn sgd_and_weight_decay_follow_the_formula() {
        close(
            &run(Sgd::new(0.1), 0.1, &W0, 20),
            &reference("sgd", 0.1, &W0, 20, [0.0; 4], false),
        );
        let decayed = Sgd::new(0.1).weight_decay(0.05);
        close(
            &run(decayed, 0.1, &W0, 20),
            &reference("sgd", 0.1, &W0, 20, [0.0, 0.0, 0.0, 0.05], false),
        );
        assert!(Sgd::new(0.1).is_plain_sgd() && !decayed.is_plain_sgd());
    }

    #[test]
    fn heavy_ball_and_nesterov_follow_the_formula() {
        let p = [0.9, 0.0, 0.0, 0.01];
        let heavy = Momentum::new(0.05).weight_decay(0.01);
        close(
            &run(heavy, 0.05, &W0, 30),
            &reference("momentum", 0.05, &W0, 30, p, false),
        );
        let nesterov = Momentum::new(0.05).weight_decay(0.01).nesterov();
        close(
            &run(nesterov, 0.05, &W0, 30),
            &reference("momentum", 0.05, &W0, 30, p, true),
        );
        assert_ne!(run(heavy, 0.05, &W0, 3), run(nesterov, 0.05, &W0, 3));
    }

    #[test]
    fn adam_and_adamw_follow_the_formula_with_bias_correction() {
        let adam = Adam {
            weight_decay: 0.02,
            ..Adam::default()
        };
        let p = [0.9, 0.999, 1e-8, 0.02];
        close(
            &run(adam, 0.01, &W0, 50),
            &reference("adam", 0.01, &W0, 50, p, false),
        );
        // The first step moves every coordinate by about the rate (bias correction).
        let first = &run(Adam::default(), 0.01, &W0, 1)[0];
        for (&w, &w0) in first.iter().zip(&W0) {
            assert!(((w - w0).abs() - 0.01).abs() < 1e-4, "{w0} → {w}");
        }
        let adamw = AdamW {
            weight_decay: 0.1,
            ..AdamW::default()
        };
        close(
            &run(adamw, 0.01, &W0, 50),
            &reference("adamw", 0.01, &W0, 50, [0.9, 0.999, 1e-8, 0.1], false),
        );
        // Decoupled and coupled decay are different rules.
        let coupled = Adam {
            weight_decay: 0.1,
            ..Adam::default()
        };
        assert_ne!(run(adamw, 0.01, &W0, 5), run(coupled, 0.01, &W0, 5));
    }

    /// The built-in rules' one-pass `update_batch` is the trait's three-pass
    /// default, bit for bit, with and without clipping.
    #[test]
    fn fused_batch_update_is_the_three_passes() {
        /// The trait's default, through a wrapper that does not override it.
        #[derive(Clone, Copy, Debug, PartialEq)]
        struct ThreePasses<O>(O);
        impl<O: Optimizer> Optimizer for ThreePasses<O> {
            const NAME: &'static str = "three passes";
            fn learning_rate(&self) -> f32 {
                self.0.learning_rate()
            }
            fn update(
                &self,
                w: &mut [f32],
                g: &[f32],
                s1: &mut [f32],
                s2: &mut [f32],
                rate: f32,
                t: u32,
            ) {
                self.0.update(w, g, s1, s2, rate, t);
            }
        }
        fn check<O: Optimizer>(opt: O) {
            let n = 37;
            let state = |k: usize| -> Vec<f32> {
                (0..n)
                    .map(|i| ((i * 7 + k * 13) % 11) as f32 * 0.173 - 0.8)
                    .collect()
            };
            for clip in [1.0, 0.37] {
                let (mut w1, mut a1, mut b1) = (
                    state(0),
                    state(1),
                    state(2).iter().map(|v| v.abs()).collect::<Vec<_>>(),
                );
                let (mut w2, mut a2, mut b2) = (w1.clone(), a1.clone(), b1.clone());
                for t in 1..=4 {
                    let mut g1 = state(t as usize + 3);
                    let mut g2 = g1.clone();
                    opt.update_batch(
                        &mut w1,
                        &mut g1,
                        &mut a1,
                        &mut b1,
                        1.0 / 32.0,
                        clip,
                        0.05,
                        t,
                    );
                    ThreePasses(opt).update_batch(
                        &mut w2,
                        &mut g2,
                        &mut a2,
                        &mut b2,
                        1.0 / 32.0,
                        clip,
                        0.05,
                        t,
                    );
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&w1), bits(&w2), "{opt:?}, clip {clip}");
                    assert_eq!((bits(&a1), bits(&b1)), (bits(&a2), bits(&b2)));
                    assert!(g1.iter().chain(&g2).all(|&g| g == 0.0));
                }
            }
        }
        check(Sgd::new(0.1));
        check(Sgd::new(0.1).weight_decay(0.01));
        check(Momentum::new(0.05));
        check(Momentum::new(0.05).weight_decay(0.01).nesterov());
        check(Adam::default());
        check(Adam {
            weight_decay: 0.01,
            ..Adam::default()
        });
        check(AdamW::default());
    }
}
