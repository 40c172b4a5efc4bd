//! The fully connected layer, `y = f(W·x + b)`, over stack-allocated arrays.

use core::fmt;

use rand::Rng;

use crate::activation::{Activation, LeakyReLU};
use crate::init::{Initialize, Initializer, Normal};
use crate::module::{Module, Parameters, Train, Update};

/// A dense layer from `IN` inputs to `OUT` outputs with activation `A`
/// (the seed's LeakyReLU(0.1) unless named).
///
/// Parameters live inline, in const-generic arrays: no heap, and the compiler
/// knows every loop bound. The public API speaks in the seed's orientation, an
/// `OUT × IN` matrix `W`; in memory `W` is stored transposed (`IN × OUT`), so that
/// one input's contribution to all outputs is one contiguous run of `OUT` floats.
/// That makes the inner loops of the forward pass and of the weight update
/// straight vector operations, and lets both skip a zero input entirely (81% of
/// MNIST's pixels are zero).
#[derive(Clone, PartialEq)]
pub struct Dense<const IN: usize, const OUT: usize, A = LeakyReLU> {
    /// `weights_t[i][o]` is `W[o][i]`.
    weights_t: [[f32; OUT]; IN],
    bias: [f32; OUT],
    activation: A,
}

impl<const IN: usize, const OUT: usize, A: Activation> Dense<IN, OUT, A> {
    /// A layer with all parameters zero and the default activation.
    pub fn zeros() -> Self {
        Self {
            weights_t: [[0.0; OUT]; IN],
            bias: [0.0; OUT],
            activation: A::default(),
        }
    }

    /// A layer from `W` in the seed's `OUT × IN` orientation (`rows[o][i]`) and `b`.
    pub fn from_rows(rows: &[[f32; IN]; OUT], bias: [f32; OUT]) -> Self {
        let mut layer = Self::zeros();
        for (o, row) in rows.iter().enumerate() {
            for (i, &w) in row.iter().enumerate() {
                layer.weights_t[i][o] = w;
            }
        }
        layer.bias = bias;
        layer
    }

    /// The same layer with another activation (for example a different LeakyReLU slope).
    pub fn with_activation(mut self, activation: A) -> Self {
        self.activation = activation;
        self
    }

    /// The activation applied after the affine map.
    pub fn activation(&self) -> &A {
        &self.activation
    }

    /// `W[output][input]`, in the seed's orientation. Panics if out of range, like indexing.
    pub fn weight(&self, output: usize, input: usize) -> f32 {
        self.weights_t[input][output]
    }

    /// Sets `W[output][input]`. Panics if out of range, like indexing.
    pub fn set_weight(&mut self, output: usize, input: usize, value: f32) {
        self.weights_t[input][output] = value;
    }

    /// `W` as stored: transposed, `IN × OUT`.
    pub fn weights_transposed(&self) -> &[[f32; OUT]; IN] {
        &self.weights_t
    }

    /// `W` as stored, mutable: transposed, `IN × OUT`.
    pub fn weights_transposed_mut(&mut self) -> &mut [[f32; OUT]; IN] {
        &mut self.weights_t
    }

    /// The bias `b`.
    pub fn bias(&self) -> &[f32; OUT] {
        &self.bias
    }

    /// The bias `b`, mutable.
    pub fn bias_mut(&mut self) -> &mut [f32; OUT] {
        &mut self.bias
    }

    /// `W·x + b`, before the activation.
    #[inline]
    pub fn pre_activation(&self, x: &[f32; IN]) -> [f32; OUT] {
        let mut z = self.bias;
        for (&xi, column) in x.iter().zip(&self.weights_t) {
            if xi == 0.0 {
                continue; // adds nothing; most MNIST pixels are 0
            }
            for (z, &w) in z.iter_mut().zip(column) {
                *z += xi * w;
            }
        }
        z
    }

    /// `db = f'(y) ⊙ dy`: the gradient at the pre-activation from the gradient at the output.
    #[inline]
    pub fn output_delta(&self, y: &[f32; OUT], dy: &[f32; OUT]) -> [f32; OUT] {
        let mut db = [0.0; OUT];
        for ((d, &y), &g) in db.iter_mut().zip(y).zip(dy) {
            *d = self.activation.derivative_at_output(y) * g;
        }
        db
    }

    /// `dx = Wᵀ·db`: the gradient passed back to the previous layer.
    #[inline]
    pub fn input_gradient(&self, db: &[f32; OUT]) -> [f32; IN] {
        let mut dx = [0.0; IN];
        for (dx, column) in dx.iter_mut().zip(&self.weights_t) {
            *dx = column.iter().zip(db).map(|(&w, &d)| w * d).sum();
        }
        dx
    }

    /// `W -= lr·db·xᵀ`, `b -= lr·db`: the seed's per-sample SGD update.
    #[inline]
    pub fn sgd_update(&mut self, x: &[f32; IN], db: &[f32; OUT], learning_rate: f32) {
        let step = db.map(|d| learning_rate * d);
        for (&xi, column) in x.iter().zip(&mut self.weights_t) {
            if xi == 0.0 {
                continue; // its weights' gradient is exactly zero
            }
            for (w, &s) in column.iter_mut().zip(&step) {
                *w -= xi * s;
            }
        }
        for (b, &s) in self.bias.iter_mut().zip(&step) {
            *b -= s;
        }
    }

    /// `W += db·xᵀ`, `b += db`: adds one sample's gradient to this layer, used as a
    /// gradient accumulator for mini-batches.
    #[inline]
    pub fn accumulate(&mut self, x: &[f32; IN], db: &[f32; OUT]) {
        for (&xi, column) in x.iter().zip(&mut self.weights_t) {
            if xi == 0.0 {
                continue;
            }
            for (w, &d) in column.iter_mut().zip(db) {
                *w += xi * d;
            }
        }
        for (b, &d) in self.bias.iter_mut().zip(db) {
            *b += d;
        }
    }

    fn apply_update(&mut self, x: &[f32; IN], db: &[f32; OUT], update: Update<'_, Self>) {
        match update {
            Update::Sgd { learning_rate } => self.sgd_update(x, db, learning_rate),
            Update::Accumulate(gradients) => gradients.accumulate(x, db),
        }
    }
}

impl<const IN: usize, const OUT: usize, A: Activation> Default for Dense<IN, OUT, A> {
    fn default() -> Self {
        Self::zeros()
    }
}

impl<const IN: usize, const OUT: usize, A: Activation> fmt::Debug for Dense<IN, OUT, A> {
    /// Shape and activation only: 12,544 weights help nobody in a debug print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dense<{IN}, {OUT}>({:?})", self.activation)
    }
}

impl<const IN: usize, const OUT: usize, A: Activation> Module for Dense<IN, OUT, A> {
    type Input = [f32; IN];
    type Output = [f32; OUT];

    #[inline]
    fn forward(&self, x: &[f32; IN]) -> [f32; OUT] {
        self.pre_activation(x).map(|z| self.activation.apply(z))
    }
}

impl<const IN: usize, const OUT: usize, A: Activation> Parameters for Dense<IN, OUT, A> {
    fn visit(&self, f: &mut dyn FnMut(&[f32])) {
        f(self.weights_t.as_flattened());
        f(&self.bias);
    }

    fn visit_mut(&mut self, f: &mut dyn FnMut(&mut [f32])) {
        f(self.weights_t.as_flattened_mut());
        f(&mut self.bias);
    }

    fn zip_mut(&mut self, other: &Self, f: &mut dyn FnMut(&mut [f32], &[f32])) {
        f(
            self.weights_t.as_flattened_mut(),
            other.weights_t.as_flattened(),
        );
        f(&mut self.bias, &other.bias);
    }
}

impl<const IN: usize, const OUT: usize, A: Activation> Train for Dense<IN, OUT, A> {
    /// A dense layer's backward pass needs only its own output.
    type Trace = [f32; OUT];

    #[inline]
    fn forward_trace(&self, x: &[f32; IN]) -> [f32; OUT] {
        self.forward(x)
    }

    #[inline(always)]
    fn traced_output(trace: &[f32; OUT]) -> &[f32; OUT] {
        trace
    }

    #[inline]
    fn backward(
        &mut self,
        x: &[f32; IN],
        y: &[f32; OUT],
        dy: &[f32; OUT],
        update: Update<'_, Self>,
    ) -> [f32; IN] {
        let db = self.output_delta(y, dy);
        let dx = self.input_gradient(&db); // before the update, as the seed
        self.apply_update(x, &db, update);
        dx
    }

    #[inline]
    fn backward_without_input_gradient(
        &mut self,
        x: &[f32; IN],
        y: &[f32; OUT],
        dy: &[f32; OUT],
        update: Update<'_, Self>,
    ) {
        let db = self.output_delta(y, dy);
        self.apply_update(x, &db, update);
    }
}

impl<const IN: usize, const OUT: usize, A: Activation> Initialize for Dense<IN, OUT, A> {
    /// Draws `W` row by row in the seed's `OUT × IN` order, then `b`.
    fn initialize<R: Rng + ?Sized>(init: Initializer, rng: &mut R) -> Self {
        let (weight_sd, bias_sd) = init.deviations(IN, OUT);
        let mut normal = Normal::new();
        let mut layer = Self::zeros();
        for o in 0..OUT {
            for i in 0..IN {
                layer.weights_t[i][o] = (weight_sd * normal.sample(rng)) as f32;
            }
        }
        if bias_sd > 0.0 {
            for b in &mut layer.bias {
                *b = (bias_sd * normal.sample(rng)) as f32;
            }
        }
        layer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Identity;

    fn small() -> Dense<3, 2, Identity> {
        Dense::from_rows(&[[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]], [0.5, -0.5])
    }

    #[test]
    fn forward_is_w_x_plus_b() {
        assert_eq!(small().forward(&[1.0, 0.0, 2.0]), [7.5, -1.5]);
        assert_eq!(small().weight(1, 0), -1.0);
    }

    #[test]
    fn backward_follows_the_seed() {
        let mut layer = small();
        let x = [1.0, 0.0, 2.0];
        let y = layer.forward(&x);
        let dx = layer.backward(&x, &y, &[1.0, 2.0], Update::Sgd { learning_rate: 0.5 });
        assert_eq!(dx, [1.0 - 2.0, 2.0 + 1.0, 3.0]);
        // W -= 0.5 · db · xᵀ with db = [1, 2]
        assert_eq!(layer.weight(0, 0), 0.5);
        assert_eq!(layer.weight(1, 2), -2.0);
        assert_eq!(layer.weight(0, 1), 2.0);
        assert_eq!(layer.bias(), &[0.0, -1.5]);
    }

    #[test]
    fn accumulate_adds_gradients() {
        let mut layer = small();
        let mut grads = Dense::<3, 2, Identity>::zeros();
        let x = [1.0, 0.0, 2.0];
        let y = layer.forward(&x);
        layer.backward_without_input_gradient(&x, &y, &[1.0, 2.0], Update::Accumulate(&mut grads));
        assert_eq!(layer, small(), "accumulating leaves the layer unchanged");
        assert_eq!(grads.weight(1, 2), 4.0);
        assert_eq!(grads.bias(), &[1.0, 2.0]);
    }

    #[test]
    fn seed_init_draws_with_the_seed_deviation() {
        use rand::SeedableRng;
        let mut rng = rand_pcg::Pcg64::seed_from_u64(1);
        let layer = Dense::<784, 16>::initialize(Initializer::Seed, &mut rng);
        let n = (784 * 16) as f64;
        let var: f64 = layer
            .weights_transposed()
            .as_flattened()
            .iter()
            .map(|&w| (w as f64).powi(2))
            .sum::<f64>()
            / n;
        let expected = 1.0 / (784.0 * 16.0);
        assert!(
            (var.sqrt() / expected - 1.0).abs() < 0.03,
            "sd {} vs {expected}",
            var.sqrt()
        );
    }
}
