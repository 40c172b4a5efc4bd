//! The fully connected layer, `y = f(W·x + b)`, over stack-allocated arrays.

use core::fmt;
#[cfg(feature = "std")]
use core::mem::MaybeUninit;

#[cfg(feature = "std")]
use rand::Rng;

use crate::activation::{Activation, LeakyReLU};
#[cfg(feature = "std")]
use crate::init::{Initialize, Initializer, Normal};
use crate::kernels;
use crate::module::{Module, Parameters, SparseTrain, Train, Zipped};
use crate::sparse::SparseVector;

/// A dense layer from `IN` inputs to `OUT` outputs with activation `A`
/// (the original program's LeakyReLU(0.1) unless named).
///
/// Parameters live inline, in const-generic arrays: no heap, and the compiler
/// knows every loop bound. The public API speaks in the original program's orientation, an
/// `OUT × IN` matrix `W`; in memory `W` is stored transposed (`IN × OUT`), so that
/// one input's contribution to all outputs is one contiguous run of `OUT` floats.
/// That makes the inner loops of the forward pass and of the weight update
/// straight vector operations, and lets both skip a zero input entirely (81% of
/// MNIST's pixels are zero).
#[derive(Clone, PartialEq)]
pub struct Dense<const IN: usize, const OUT: usize, A = LeakyReLU> {
    /// `weights_t[i][o]` is `W[o][i]`, each row starting on a cache line.
    weights_t: CacheAligned<[[f32; OUT]; IN]>,
    bias: [f32; OUT],
    activation: A,
}

impl<const IN: usize, const OUT: usize, A: Activation> Dense<IN, OUT, A> {
    /// Evaluated wherever a layer is made: a layer with no inputs or no outputs is
    /// a build error ("a layer needs at least one input and one output").
    const NOT_EMPTY: () = assert!(
        IN > 0 && OUT > 0,
        "a layer needs at least one input and one output: Dense<IN, OUT> with IN = 0 or OUT = 0"
    );

    /// A layer with all parameters zero and the default activation.
    pub fn zeros() -> Self {
        let () = Self::NOT_EMPTY;
        Self {
            weights_t: CacheAligned([[0.0; OUT]; IN]),
            bias: [0.0; OUT],
            activation: A::default(),
        }
    }

    /// A layer from `W` stored transposed (`weights_t[i][o]` is `W[o][i]`, the
    /// layout [`Dense::weights_transposed`] returns), `b` and its activation, in a
    /// `const` context: how weights compiled into a program become a layer with no
    /// parsing at run time. The array lengths are the layer's shape, so weights of
    /// the wrong shape do not compile.
    ///
    /// ```
    /// use mimic::{Dense, Identity, Module};
    ///
    /// static LAYER: Dense<3, 2, Identity> =
    ///     Dense::from_transposed([[1.0, -1.0], [2.0, 0.5], [3.0, 0.0]], [0.5, -0.5], Identity);
    /// assert_eq!(LAYER.forward(&[1.0, 0.0, 2.0]), [7.5, -1.5]);
    /// ```
    pub const fn from_transposed(
        weights_t: [[f32; OUT]; IN],
        bias: [f32; OUT],
        activation: A,
    ) -> Self {
        let () = Self::NOT_EMPTY;
        Self {
            weights_t: CacheAligned(weights_t),
            bias,
            activation,
        }
    }

    /// A layer from `W` in the original program's `OUT × IN` orientation (`rows[o][i]`) and `b`.
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

    /// Replaces the activation (for example with one read from a saved model).
    pub fn set_activation(&mut self, activation: A) {
        self.activation = activation;
    }

    /// The activation applied after the affine map.
    pub fn activation(&self) -> &A {
        &self.activation
    }

    /// `W[output][input]`, in the original program's orientation. Panics if out of range, like indexing.
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
    #[inline(always)]
    pub fn pre_activation(&self, x: &[f32; IN]) -> [f32; OUT] {
        let mut z = if x.iter().all(|&v| v != 0.0) {
            // A hidden layer's input: no entry to skip, nothing to list.
            kernels::dense_sum(&self.weights_t, x)
        } else {
            let (indices, values, n) = nonzeros(x);
            // SAFETY: `nonzeros` lists positions of `x` in increasing order, each
            // below IN, with one value per position.
            let x = unsafe { SparseVector::new_unchecked(&indices[..n], &values[..n]) };
            kernels::gather_sum(&self.weights_t, x)
        };
        for (z, &b) in z.iter_mut().zip(&self.bias) {
            *z += b;
        }
        z
    }

    /// `W·x + b` for a sparse `x`: only the rows of `Wᵀ` for nonzero inputs are read.
    /// Bit-identical to [`Dense::pre_activation`] on the dense vector.
    #[inline(always)]
    pub fn pre_activation_sparse(&self, x: SparseVector<'_, IN>) -> [f32; OUT] {
        let mut z = kernels::gather_sum(&self.weights_t, x);
        for (z, &b) in z.iter_mut().zip(&self.bias) {
            *z += b;
        }
        z
    }

    /// `f(W·x + b)` for a sparse `x`.
    #[inline(always)]
    pub fn forward_sparse(&self, x: SparseVector<'_, IN>) -> [f32; OUT] {
        self.pre_activation_sparse(x)
            .map(|z| self.activation.apply(z))
    }

    /// `db = f'(y) ⊙ dy`: the gradient at the pre-activation from the gradient at the output.
    #[inline(always)]
    pub fn output_delta(&self, y: &[f32; OUT], dy: &[f32; OUT]) -> [f32; OUT] {
        let mut db = [0.0; OUT];
        for ((d, &y), &g) in db.iter_mut().zip(y).zip(dy) {
            *d = self.activation.derivative_at_output(y) * g;
        }
        db
    }

    /// `dx = Wᵀ·db`: the gradient passed back to the previous layer.
    #[inline(always)]
    pub fn input_gradient(&self, db: &[f32; OUT]) -> [f32; IN] {
        let mut dx = [0.0; IN];
        kernels::row_dots(&self.weights_t, db, &mut dx);
        dx
    }

    /// `W -= lr·db·xᵀ`, `b -= lr·db`: the original program's per-sample SGD update.
    #[inline(always)]
    pub fn sgd_update(&mut self, x: &[f32; IN], db: &[f32; OUT], learning_rate: f32) {
        let step = db.map(|d| learning_rate * d);
        kernels::scatter_add_dense(&mut self.weights_t, x, &step.map(|s| -s));
        for (b, &s) in self.bias.iter_mut().zip(&step) {
            *b -= s;
        }
    }

    /// [`Dense::sgd_update`] for a sparse `x`: rows of zero inputs have a zero
    /// gradient and are not touched.
    #[inline(always)]
    pub fn sgd_update_sparse(
        &mut self,
        x: SparseVector<'_, IN>,
        db: &[f32; OUT],
        learning_rate: f32,
    ) {
        let step = db.map(|d| learning_rate * d);
        // w + x·(−s) is bit-identical to w − x·s.
        kernels::scatter_add(&mut self.weights_t, x, &step.map(|s| -s));
        for (b, &s) in self.bias.iter_mut().zip(&step) {
            *b -= s;
        }
    }

    /// `W += db·xᵀ`, `b += db`: adds one sample's gradient to this layer, used as a
    /// gradient accumulator for mini-batches.
    #[inline(always)]
    pub fn accumulate(&mut self, x: &[f32; IN], db: &[f32; OUT]) {
        kernels::scatter_add_dense(&mut self.weights_t, x, db);
        for (b, &d) in self.bias.iter_mut().zip(db) {
            *b += d;
        }
    }

    /// [`Dense::accumulate`] for a group of samples, in order: each weight row
    /// is read once for the whole group. The same bits as accumulating them one
    /// by one.
    #[inline(always)]
    pub fn accumulate_group<const S: usize>(&mut self, xs: [&[f32; IN]; S], dbs: &[[f32; OUT]; S]) {
        kernels::scatter_add_group(&mut self.weights_t, xs, dbs);
        for db in dbs {
            for (b, &d) in self.bias.iter_mut().zip(db) {
                *b += d;
            }
        }
    }

    /// [`Dense::input_gradient`] for a group of output deltas: the weights are
    /// read once for the group. The same bits as one at a time.
    #[inline(always)]
    pub fn input_gradient_group<const S: usize>(&self, dbs: &[[f32; OUT]; S]) -> [[f32; IN]; S] {
        let mut dxs = [[0.0; IN]; S];
        kernels::row_dots_group(&self.weights_t, dbs, &mut dxs);
        dxs
    }

    /// [`Dense::accumulate`] for a sparse `x`.
    #[inline(always)]
    pub fn accumulate_sparse(&mut self, x: SparseVector<'_, IN>, db: &[f32; OUT]) {
        kernels::scatter_add(&mut self.weights_t, x, db);
        for (b, &d) in self.bias.iter_mut().zip(db) {
            *b += d;
        }
    }
}

/// A value aligned to a 64-byte cache line. A layer of 16 outputs then has each
/// row of `Wᵀ` in exactly one line (one load, one AVX-512 register) instead of
/// straddling two.
#[derive(Clone, Copy, PartialEq)]
#[repr(C, align(64))]
pub(crate) struct CacheAligned<T>(pub(crate) T);

impl<T> core::ops::Deref for CacheAligned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> core::ops::DerefMut for CacheAligned<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// The nonzero entries of `x` (positions, values, count), found without branches.
#[inline(always)]
fn nonzeros<const N: usize>(x: &[f32; N]) -> ([u32; N], [f32; N], usize) {
    let (mut indices, mut values, mut n) = ([0u32; N], [0.0f32; N], 0);
    for (i, &v) in x.iter().enumerate() {
        // n ≤ i < N, so the slot exists; it is kept only if v is nonzero.
        indices[n] = i as u32;
        values[n] = v;
        n += usize::from(v != 0.0);
    }
    (indices, values, n)
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

    #[inline(always)]
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

    #[inline(always)]
    fn zip_mut(
        &mut self,
        a: &mut Self,
        b: &mut Self,
        c: &mut Self,
        f: &mut impl FnMut(Zipped<'_>),
    ) {
        f((
            self.weights_t.as_flattened_mut(),
            a.weights_t.as_flattened_mut(),
            b.weights_t.as_flattened_mut(),
            c.weights_t.as_flattened_mut(),
        ));
        f((&mut self.bias, &mut a.bias, &mut b.bias, &mut c.bias));
    }
}

impl<const IN: usize, const OUT: usize, A: Activation> Train for Dense<IN, OUT, A> {
    /// A dense layer's backward pass needs only its own output.
    type Trace = [f32; OUT];

    #[inline(always)]
    fn forward_trace(&self, x: &[f32; IN]) -> [f32; OUT] {
        self.forward(x)
    }

    #[inline(always)]
    fn traced_output(trace: &[f32; OUT]) -> &[f32; OUT] {
        trace
    }

    #[inline(always)]
    fn backward(
        &mut self,
        x: &[f32; IN],
        y: &[f32; OUT],
        dy: &[f32; OUT],
        learning_rate: f32,
    ) -> [f32; IN] {
        let db = self.output_delta(y, dy);
        let dx = self.input_gradient(&db); // before the update, as the seed
        self.sgd_update(x, &db, learning_rate);
        dx
    }

    #[inline(always)]
    fn backward_without_input_gradient(
        &mut self,
        x: &[f32; IN],
        y: &[f32; OUT],
        dy: &[f32; OUT],
        learning_rate: f32,
    ) {
        let db = self.output_delta(y, dy);
        self.sgd_update(x, &db, learning_rate);
    }

    #[inline(always)]
    fn gradient(
        &self,
        x: &[f32; IN],
        y: &[f32; OUT],
        dy: &[f32; OUT],
        gradients: &mut Self,
    ) -> [f32; IN] {
        let db = self.output_delta(y, dy);
        gradients.accumulate(x, &db);
        self.input_gradient(&db)
    }

    #[inline(always)]
    fn gradient_without_input_gradient(
        &self,
        x: &[f32; IN],
        y: &[f32; OUT],
        dy: &[f32; OUT],
        gradients: &mut Self,
    ) {
        gradients.accumulate(x, &self.output_delta(y, dy));
    }

    /// Each weight row is read once for the group (see
    /// [`Dense::accumulate_group`] and [`Dense::input_gradient_group`]); the
    /// same bits as one sample at a time.
    #[inline(always)]
    fn gradient_group<const S: usize>(
        &self,
        xs: [&[f32; IN]; S],
        ys: [&[f32; OUT]; S],
        dys: [&[f32; OUT]; S],
        gradients: &mut Self,
    ) -> [[f32; IN]; S] {
        let dbs = core::array::from_fn(|s| self.output_delta(ys[s], dys[s]));
        gradients.accumulate_group(xs, &dbs);
        self.input_gradient_group(&dbs)
    }

    #[inline(always)]
    fn gradient_group_without_input_gradient<const S: usize>(
        &self,
        xs: [&[f32; IN]; S],
        ys: [&[f32; OUT]; S],
        dys: [&[f32; OUT]; S],
        gradients: &mut Self,
    ) {
        let dbs = core::array::from_fn(|s| self.output_delta(ys[s], dys[s]));
        gradients.accumulate_group(xs, &dbs);
    }
}

impl<const IN: usize, const OUT: usize, A: Activation> SparseTrain<IN> for Dense<IN, OUT, A> {
    #[inline(always)]
    fn forward_sparse(&self, x: SparseVector<'_, IN>) -> [f32; OUT] {
        Dense::forward_sparse(self, x)
    }

    #[inline(always)]
    fn forward_trace_sparse(&self, x: SparseVector<'_, IN>) -> [f32; OUT] {
        Dense::forward_sparse(self, x)
    }

    #[inline(always)]
    fn backward_sparse(
        &mut self,
        x: SparseVector<'_, IN>,
        y: &[f32; OUT],
        dy: &[f32; OUT],
        learning_rate: f32,
    ) {
        let db = self.output_delta(y, dy);
        self.sgd_update_sparse(x, &db, learning_rate);
    }

    #[inline(always)]
    fn gradient_sparse(
        &self,
        x: SparseVector<'_, IN>,
        y: &[f32; OUT],
        dy: &[f32; OUT],
        gradients: &mut Self,
    ) {
        gradients.accumulate_sparse(x, &self.output_delta(y, dy));
    }

    /// A group of sparse inputs is spread into dense rows (zeros where a
    /// sample has no entry) and accumulated as a group: each weight row that
    /// any of the samples uses is read once for the group. Its bits are those of
    /// one sample after another, since the zeros are skipped exactly as the
    /// entries a sparse vector does not list. Only for inputs short enough that
    /// `S` dense rows are small beside a thread's stack, and layers of at least
    /// 64 outputs (784→16 was four times slower in groups); others go one
    /// sample at a time.
    #[inline(always)]
    fn gradient_group_sparse<const S: usize>(
        &self,
        xs: [SparseVector<'_, IN>; S],
        ys: [&[f32; OUT]; S],
        dys: [&[f32; OUT]; S],
        gradients: &mut Self,
    ) {
        // Spreading and scanning the group's rows costs about IN·S steps: it
        // pays only for layers wide enough that a row's sum is several vectors.
        if IN * S > DENSE_GROUP_LIMIT || OUT < 64 {
            for s in 0..S {
                gradients.accumulate_sparse(xs[s], &self.output_delta(ys[s], dys[s]));
            }
            return;
        }
        let dbs = core::array::from_fn(|s| self.output_delta(ys[s], dys[s]));
        let dense = xs.map(|x| x.to_dense());
        gradients.accumulate_group(dense.each_ref(), &dbs);
    }
}

/// The most numbers a group of sparse inputs is spread into as dense rows
/// (64 KB of them; eight MNIST images take 25 KB).
const DENSE_GROUP_LIMIT: usize = 16 * 1024;

#[cfg(feature = "std")]
impl<const IN: usize, const OUT: usize, A: Activation> Initialize for Dense<IN, OUT, A> {
    /// Draws `W` row by row in the original program's `OUT × IN` order, then `b`, writing each
    /// number straight into place (a layer never exists on the stack).
    fn initialize_in_place<'s, R: Rng + ?Sized>(
        slot: &'s mut MaybeUninit<Self>,
        init: Initializer,
        rng: &mut R,
    ) -> &'s mut Self {
        let () = Self::NOT_EMPTY;
        let (weight_sd, bias_sd) = init.deviations(IN, OUT, A::RECOMMENDED);
        let mut normal = Normal::new();
        let layer = slot.as_mut_ptr();
        // SAFETY: `layer` points to memory valid for a `Self`. `CacheAligned` is
        // `repr(C)` with one field, so `weights_t` is `IN × OUT` contiguous f32 at
        // the field's address; every one of them is written before the layer is
        // used, through raw pointers that never read uninitialised memory.
        unsafe {
            let weights = (&raw mut (*layer).weights_t).cast::<f32>();
            for o in 0..OUT {
                for i in 0..IN {
                    let w = if weight_sd > 0.0 {
                        (weight_sd * normal.sample(rng)) as f32
                    } else {
                        0.0
                    };
                    weights.add(i * OUT + o).write(w);
                }
            }
            let mut bias = [0.0; OUT];
            if bias_sd > 0.0 {
                for b in &mut bias {
                    *b = (bias_sd * normal.sample(rng)) as f32;
                }
            }
            (&raw mut (*layer).bias).write(bias);
            (&raw mut (*layer).activation).write(A::default());
        }
        // SAFETY: all three fields were written above.
        unsafe { slot.assume_init_mut() }
    }
}

#[cfg(all(test, feature = "std"))]
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
        let dx = layer.backward(&x, &y, &[1.0, 2.0], 0.5);
        assert_eq!(dx, [1.0 - 2.0, 2.0 + 1.0, 3.0]);
        // W -= 0.5 · db · xᵀ with db = [1, 2]
        assert_eq!(layer.weight(0, 0), 0.5);
        assert_eq!(layer.weight(1, 2), -2.0);
        assert_eq!(layer.weight(0, 1), 2.0);
        assert_eq!(layer.bias(), &[0.0, -1.5]);
    }

    #[test]
    fn accumulate_adds_gradients() {
        let layer = small();
        let mut grads = Dense::<3, 2, Identity>::zeros();
        let x = [1.0, 0.0, 2.0];
        let y = layer.forward(&x);
        layer.gradient_without_input_gradient(&x, &y, &[1.0, 2.0], &mut grads);
        assert_eq!(layer, small(), "accumulating leaves the layer unchanged");
        assert_eq!(grads.weight(1, 2), 4.0);
        assert_eq!(grads.bias(), &[1.0, 2.0]);
    }

    #[test]
    fn seed_init_draws_with_the_seed_deviation() {
        use rand::SeedableRng;
        let mut rng = rand_pcg::Pcg64::seed_from_u64(1);
        let layer = Dense::<784, 16>::initialize(Initializer::Original, &mut rng);
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
