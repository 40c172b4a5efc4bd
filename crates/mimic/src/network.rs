//! A trainable network: layers, a loss and a learning rate.

use core::fmt;

#[cfg(feature = "std")]
use rand::SeedableRng;
#[cfg(feature = "std")]
use rand_pcg::Pcg64;

#[cfg(feature = "std")]
use crate::evaluate::{self, ConfusionMatrix};
#[cfg(feature = "std")]
use crate::fit::{self, EpochStats, Schedule, TrainError};
#[cfg(feature = "std")]
use crate::init::{Initialize, Initializer};
use crate::inputs::Input;
#[cfg(feature = "std")]
use crate::inputs::Inputs;
use crate::kernels::{Work, dispatch};
use crate::loss::{Loss, LossError};
use crate::module::{SparseTrain, Train, Update};
use crate::sparse::SparseVector;

/// Layers `L` (a [`Dense`](crate::Dense), a tuple of them, or a `Box` of either),
/// a loss `F` and a learning rate: a network to train and use.
///
/// `forward` and `train_step` allocate nothing: every intermediate is an array on
/// the stack whose length the types fix.
#[derive(Clone, Debug, PartialEq)]
pub struct Network<L, F> {
    /// The layers, first to last.
    pub layers: L,
    /// The loss minimised by [`Network::train_step`].
    pub loss: F,
    /// The SGD step size.
    pub learning_rate: f32,
}

/// Why a training step did not update the network.
#[derive(Clone, Debug, PartialEq)]
pub enum StepError {
    /// The target does not fit the loss (e.g. a class index ≥ the number of outputs).
    Target(LossError),
    /// The loss or its gradient is NaN or infinite: training has diverged (too large a
    /// learning rate, unscaled inputs, …). The network is left as it was before the step.
    NonFinite {
        /// The loss this step computed.
        loss: f32,
    },
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepError::Target(_) => write!(f, "the target does not fit the loss"),
            StepError::NonFinite { loss } => write!(
                f,
                "training diverged: the loss or its gradient is not finite (loss = {loss})"
            ),
        }
    }
}

impl core::error::Error for StepError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            StepError::Target(e) => Some(e),
            StepError::NonFinite { .. } => None,
        }
    }
}

impl From<LossError> for StepError {
    fn from(e: LossError) -> Self {
        StepError::Target(e)
    }
}

impl<L, F> Network<L, F>
where
    L: Train,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
{
    /// A network from already built layers.
    pub fn new(layers: L, loss: F, learning_rate: f32) -> Self {
        Self {
            layers,
            loss,
            learning_rate,
        }
    }

    /// A network whose weights suit each layer's activation (He for the ReLU
    /// family, Xavier for Sigmoid and Identity: [`Initializer::Recommended`]),
    /// drawn from a [`Pcg64`] seeded with `seed`: the same seed gives
    /// bit-identical weights.
    ///
    /// ```
    /// use mimic::{CrossEntropy, Dense, Network, ReLU};
    ///
    /// let net: Network<(Dense<2, 8, ReLU>, Dense<8, 2, ReLU>), _> =
    ///     Network::seeded(42, CrossEntropy, 0.1);
    /// assert_eq!(net, Network::seeded(42, CrossEntropy, 0.1));
    /// ```
    #[cfg(feature = "std")]
    pub fn seeded(seed: u64, loss: F, learning_rate: f32) -> Self
    where
        L: Initialize,
    {
        Self::seeded_with(Initializer::Recommended, seed, loss, learning_rate)
    }

    /// A network initialised by `init` (for example the seed's own scheme,
    /// [`Initializer::Seed`]) from a [`Pcg64`] seeded with `seed`.
    ///
    /// ```
    /// use mimic::{Dense, Initializer, Mse, Network};
    ///
    /// let seed_student: Network<Dense<784, 10>, _> =
    ///     Network::seeded_with(Initializer::Seed, 42, Mse, 0.01);
    /// # assert!(seed_student.is_finite());
    /// ```
    #[cfg(feature = "std")]
    pub fn seeded_with(init: Initializer, seed: u64, loss: F, learning_rate: f32) -> Self
    where
        L: Initialize,
    {
        let mut rng = Pcg64::seed_from_u64(seed);
        Self::new(L::initialize(init, &mut rng), loss, learning_rate)
    }

    /// The output for one input.
    #[inline(always)]
    pub fn forward(&self, input: &L::Input) -> L::Output {
        self.layers.forward(input)
    }

    /// The index of the largest output (the first one on ties, as numpy's `argmax`).
    #[inline(always)]
    pub fn predict(&self, input: &L::Input) -> usize {
        argmax(self.forward(input).as_ref())
    }

    /// One step of per-sample SGD, the seed's math: forward keeping each layer's
    /// output, then from the last layer back `db = f'(y) ⊙ dx`, `dx_prev = Wᵀ·db`
    /// (not for the first layer), `W -= lr·db·xᵀ`, `b -= lr·db`.
    ///
    /// Returns the loss before the update. A non-finite loss or gradient is an
    /// error, and then nothing is updated.
    ///
    /// ```
    /// use mimic::{CrossEntropy, Dense, Network};
    ///
    /// let mut net: Network<(Dense<2, 8>, Dense<8, 2>), _> = Network::seeded(1, CrossEntropy, 0.1);
    /// let before = net.train_step(&[1.0, 0.0], &1)?;
    /// let after = net.train_step(&[1.0, 0.0], &1)?;
    /// assert!(after < before);
    /// # Ok::<(), mimic::StepError>(())
    /// ```
    #[inline(always)]
    pub fn train_step(&mut self, input: &L::Input, target: &F::Target) -> Result<f32, StepError> {
        let learning_rate = self.learning_rate;
        self.dispatched_step(Whole(input), target, Update::Sgd { learning_rate })
    }

    /// Adds one sample's parameter gradient into `gradients` (same shape as the
    /// layers) without changing the network: the building block of mini-batches.
    #[inline(always)]
    pub fn accumulate_gradient(
        &mut self,
        input: &L::Input,
        target: &F::Target,
        gradients: &mut L,
    ) -> Result<f32, StepError> {
        self.dispatched_step(Whole(input), target, Update::Accumulate(gradients))
    }

    /// [`Network::forward`] from the nonzero entries of the input only.
    /// Bit-identical to the dense call, and about five times less work on MNIST.
    #[inline(always)]
    pub fn forward_sparse<const N: usize>(&self, input: SparseVector<'_, N>) -> L::Output
    where
        L: SparseTrain<N>,
    {
        self.layers.forward_sparse(input)
    }

    /// [`Network::predict`] from a sparse input.
    #[inline(always)]
    pub fn predict_sparse<const N: usize>(&self, input: SparseVector<'_, N>) -> usize
    where
        L: SparseTrain<N>,
    {
        argmax(self.forward_sparse(input).as_ref())
    }

    /// [`Network::train_step`] from a sparse input: the same update, bit for bit.
    #[inline(always)]
    pub fn train_step_sparse<const N: usize>(
        &mut self,
        input: SparseVector<'_, N>,
        target: &F::Target,
    ) -> Result<f32, StepError>
    where
        L: SparseTrain<N>,
    {
        let learning_rate = self.learning_rate;
        self.dispatched_step(input, target, Update::Sgd { learning_rate })
    }

    /// [`Network::accumulate_gradient`] from a sparse input.
    #[inline(always)]
    pub fn accumulate_gradient_sparse<const N: usize>(
        &mut self,
        input: SparseVector<'_, N>,
        target: &F::Target,
        gradients: &mut L,
    ) -> Result<f32, StepError>
    where
        L: SparseTrain<N>,
    {
        self.dispatched_step(input, target, Update::Accumulate(gradients))
    }

    /// [`Network::step`] as one [`Work`], compiled for the CPU's widest vectors:
    /// a single step called from user code would otherwise run its glue between
    /// kernels (the activations, the loss's softmax, the small layers' sums) at
    /// the build's baseline. The same bits either way. Epochs call `step`
    /// directly: they are already inside a dispatched loop. (A single forward
    /// pass is not dispatched: it is its kernels and little else, and the extra
    /// call measured slower.)
    #[inline(always)]
    fn dispatched_step<X: Input<L>>(
        &mut self,
        input: X,
        target: &F::Target,
        update: Update<'_, L>,
    ) -> Result<f32, StepError> {
        dispatch(Step {
            network: self,
            input,
            target,
            update,
        })
    }

    /// Forward, loss, and backward with `update`, for any kind of input.
    #[inline(always)]
    pub(crate) fn step<X: Input<L>>(
        &mut self,
        input: X,
        target: &F::Target,
        update: Update<'_, L>,
    ) -> Result<f32, StepError> {
        let trace = input.forward_trace(&self.layers);
        let (loss, gradient) = checked_loss(&self.loss, L::traced_output(&trace), target)?;
        input.backward(&mut self.layers, &trace, &gradient, update);
        Ok(loss)
    }

    /// Trains on `inputs` (dense rows `&[[f32; N]]`, a `Vec` of them, or
    /// [`SparseRows`](crate::SparseRows)) towards `targets` — class indices for
    /// [`CrossEntropy`](crate::CrossEntropy), vectors for [`Mse`](crate::Mse), …
    /// — as `schedule` says, with `self.learning_rate` as the base rate of its
    /// learning-rate schedule (and left at that base afterwards). Returns each
    /// epoch's statistics.
    ///
    /// ```
    /// use mimic::{CrossEntropy, Dense, Identity, Network, ReLU, Schedule};
    ///
    /// let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
    /// let xor = [0, 1, 1, 0];
    /// let mut net: Network<(Dense<2, 16, ReLU>, Dense<16, 2, Identity>), _> =
    ///     Network::seeded(7, CrossEntropy, 0.1);
    /// let stats = net.fit(&inputs, &xor, &Schedule::epochs(500).shuffled(7))?;
    /// assert!(stats[499].mean_loss < stats[0].mean_loss);
    /// assert_eq!(net.predict_batch(&inputs), xor);
    /// # Ok::<(), mimic::TrainError>(())
    /// ```
    #[cfg(feature = "std")]
    pub fn fit<X, O: crate::Optimizer>(
        &mut self,
        inputs: &X,
        targets: &[F::Target],
        schedule: &Schedule<O>,
    ) -> Result<Vec<EpochStats>, TrainError>
    where
        L: Initialize,
        F::Target: Sized,
        X: Inputs + ?Sized,
        for<'a> X::Row<'a>: Input<L>,
    {
        fit::fit(self, inputs, targets, schedule)
    }

    /// The output for every input, in order, on this thread.
    #[cfg(feature = "std")]
    pub fn forward_batch<X>(&self, inputs: &X) -> Vec<L::Output>
    where
        L: Sync,
        L::Output: Send,
        F: Sync,
        X: Inputs + ?Sized,
        for<'a> X::Row<'a>: Input<L>,
    {
        evaluate::outputs(self, inputs, 1)
    }

    /// [`Network::forward_batch`] on `threads` threads: identical results.
    #[cfg(feature = "std")]
    pub fn forward_batch_parallel<X>(&self, inputs: &X, threads: usize) -> Vec<L::Output>
    where
        L: Sync,
        L::Output: Send,
        F: Sync,
        X: Inputs + ?Sized,
        for<'a> X::Row<'a>: Input<L>,
    {
        evaluate::outputs(self, inputs, threads)
    }

    /// The predicted class of every input, in order.
    #[cfg(feature = "std")]
    pub fn predict_batch<X>(&self, inputs: &X) -> Vec<usize>
    where
        L: Sync,
        L::Output: Send,
        F: Sync,
        X: Inputs + ?Sized,
        for<'a> X::Row<'a>: Input<L>,
    {
        evaluate::predictions(&self.forward_batch(inputs))
    }

    /// [`Network::predict_batch`] on `threads` threads: identical results.
    #[cfg(feature = "std")]
    pub fn predict_batch_parallel<X>(&self, inputs: &X, threads: usize) -> Vec<usize>
    where
        L: Sync,
        L::Output: Send,
        F: Sync,
        X: Inputs + ?Sized,
        for<'a> X::Row<'a>: Input<L>,
    {
        evaluate::predictions(&self.forward_batch_parallel(inputs, threads))
    }

    /// The fraction of `inputs` whose predicted class is the one in `classes`
    /// (0 when empty).
    #[cfg(feature = "std")]
    pub fn accuracy<X>(&self, inputs: &X, classes: &[usize]) -> f32
    where
        L: Sync,
        L::Output: Send,
        F: Sync,
        X: Inputs + ?Sized,
        for<'a> X::Row<'a>: Input<L>,
    {
        evaluate::accuracy(&self.predict_batch(inputs), classes)
    }

    /// How often each class in `classes` was predicted as each class.
    #[cfg(feature = "std")]
    pub fn confusion<X>(&self, inputs: &X, classes: &[usize]) -> ConfusionMatrix
    where
        L: Sync,
        L::Output: Send,
        F: Sync,
        X: Inputs + ?Sized,
        for<'a> X::Row<'a>: Input<L>,
    {
        let outputs = self.forward_batch(inputs);
        let width = outputs.first().map_or(0, |o| o.as_ref().len());
        ConfusionMatrix::new(width, &evaluate::predictions(&outputs), classes)
    }

    /// Whether every weight and bias is finite.
    pub fn is_finite(&self) -> bool {
        self.layers.all_finite()
    }
}

/// One training step of `network` as [`Work`] (see [`Network::dispatched_step`]).
struct Step<'a, 'u, L, F: Loss<L::Output>, X>
where
    L: Train,
{
    network: &'a mut Network<L, F>,
    input: X,
    target: &'a F::Target,
    update: Update<'u, L>,
}

impl<L, F, X> Work for Step<'_, '_, L, F, X>
where
    L: Train,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
    X: Input<L>,
{
    type Output = Result<f32, StepError>;

    #[inline(always)]
    fn run(self) -> Self::Output {
        self.network.step(self.input, self.target, self.update)
    }
}

/// Any module's own input type as an [`Input`]: the dense path of every `Train`.
struct Whole<'a, I>(&'a I);

impl<I> Clone for Whole<'_, I> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<I> Copy for Whole<'_, I> {}

impl<L: Train> Input<L> for Whole<'_, L::Input> {
    #[inline(always)]
    fn forward(self, layers: &L) -> L::Output {
        layers.forward(self.0)
    }

    #[inline(always)]
    fn forward_trace(self, layers: &L) -> L::Trace {
        layers.forward_trace(self.0)
    }

    #[inline(always)]
    fn backward(
        self,
        layers: &mut L,
        trace: &L::Trace,
        grad_output: &L::Output,
        update: Update<'_, L>,
    ) {
        layers.backward_without_input_gradient(self.0, trace, grad_output, update)
    }
}

/// The loss and its gradient, or an error if either is not finite.
#[inline(always)]
fn checked_loss<O: AsRef<[f32]>, F: Loss<O>>(
    loss: &F,
    output: &O,
    target: &F::Target,
) -> Result<(f32, O), StepError> {
    let (value, gradient) = loss.loss_and_gradient(output, target)?;
    // One test of all the values, not a branch for each (`all` stops early).
    let finite = gradient
        .as_ref()
        .iter()
        .fold(value.is_finite(), |finite, g| finite & g.is_finite());
    if !finite {
        return Err(StepError::NonFinite { loss: value });
    }
    Ok((value, gradient))
}

/// The index of the largest value, the first on ties (as numpy's `argmax`); NaNs
/// never win; 0 for no values.
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] || values[best].is_nan() {
            best = i;
        }
    }
    best
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::{CrossEntropy, Dense, Mse};

    #[test]
    fn argmax_takes_the_first_maximum() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0]), 1);
        assert_eq!(argmax(&[f32::NAN, 1.0]), 1);
        assert_eq!(argmax(&[]), 0);
    }

    #[test]
    fn bad_class_is_an_error_and_changes_nothing() {
        let mut net: Network<Dense<4, 3>, _> = Network::seeded(1, CrossEntropy, 0.1);
        let before = net.clone();
        let err = net.train_step(&[1.0; 4], &3).unwrap_err();
        assert!(matches!(
            err,
            StepError::Target(LossError::ClassOutOfRange {
                class: 3,
                classes: 3
            })
        ));
        assert_eq!(net, before);
    }

    #[test]
    fn divergence_is_reported_not_trained_on() {
        let mut net: Network<Dense<2, 2>, _> =
            Network::seeded_with(Initializer::Seed, 1, Mse, 1e30);
        let mut result = Ok(0.0);
        for _ in 0..10 {
            result = net.train_step(&[1e20, 1e20], &[1e30, -1e30]);
            if result.is_err() {
                break;
            }
        }
        assert!(
            matches!(result, Err(StepError::NonFinite { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn training_reduces_the_loss() {
        let mut net: Network<(Dense<2, 8>, Dense<8, 2>), _> = Network::seeded(3, CrossEntropy, 0.1);
        let samples = [([1.0, 0.0], 0), ([0.0, 1.0], 1)];
        let first: f32 = samples
            .iter()
            .map(|(x, c)| net.loss.loss(&net.forward(x), c).unwrap())
            .sum();
        for _ in 0..200 {
            for (x, c) in &samples {
                net.train_step(x, c).unwrap();
            }
        }
        let last: f32 = samples
            .iter()
            .map(|(x, c)| net.loss.loss(&net.forward(x), c).unwrap())
            .sum();
        assert!(last < first / 10.0, "{first} -> {last}");
        let (inputs, classes): (Vec<[f32; 2]>, Vec<usize>) = samples.iter().copied().unzip();
        assert_eq!(net.accuracy(&inputs, &classes), 1.0);
    }
}
