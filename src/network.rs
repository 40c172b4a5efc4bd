//! A trainable network: layers, a loss and a learning rate.

use core::borrow::Borrow;
use core::fmt;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use crate::init::{Initialize, Initializer};
use crate::loss::{Loss, LossError};
use crate::module::{SparseTrain, Train, Update};
use crate::sparse::SparseVector;

/// Layers `L` (a [`Dense`](crate::Dense) or a tuple of them), a loss `F` and a
/// learning rate: everything the seed's per-sample SGD needs.
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
            StepError::Target(_) => write!(f, "invalid training target"),
            StepError::NonFinite { loss } => write!(
                f,
                "training diverged: the loss or its gradient is not finite (loss = {loss})"
            ),
        }
    }
}

impl std::error::Error for StepError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
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

    /// A network initialised as the seed does ([`Initializer::Seed`]) from a
    /// [`Pcg64`] seeded with `seed`: the same seed gives bit-identical weights.
    pub fn seeded(seed: u64, loss: F, learning_rate: f32) -> Self
    where
        L: Initialize,
    {
        let mut rng = Pcg64::seed_from_u64(seed);
        Self::initialized(Initializer::Seed, &mut rng, loss, learning_rate)
    }

    /// A network whose layers are drawn by `init` from `rng`.
    pub fn initialized<R: Rng + ?Sized>(
        init: Initializer,
        rng: &mut R,
        loss: F,
        learning_rate: f32,
    ) -> Self
    where
        L: Initialize,
    {
        Self::new(L::initialize(init, rng), loss, learning_rate)
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
    #[inline(always)]
    pub fn train_step(&mut self, input: &L::Input, target: &F::Target) -> Result<f32, StepError> {
        let learning_rate = self.learning_rate;
        self.backpropagate(input, target, Update::Sgd { learning_rate })
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
        self.backpropagate(input, target, Update::Accumulate(gradients))
    }

    #[inline(always)]
    fn backpropagate(
        &mut self,
        input: &L::Input,
        target: &F::Target,
        update: Update<'_, L>,
    ) -> Result<f32, StepError> {
        let trace = self.layers.forward_trace(input);
        let (loss, gradient) = self
            .loss
            .loss_and_gradient(L::traced_output(&trace), target)?;
        if !loss.is_finite() || !gradient.as_ref().iter().all(|g| g.is_finite()) {
            return Err(StepError::NonFinite { loss });
        }
        self.layers
            .backward_without_input_gradient(input, &trace, &gradient, update);
        Ok(loss)
    }

    /// The fraction of `(input, class)` samples whose prediction is the class
    /// (0 for no samples).
    pub fn accuracy<I, X>(&self, samples: I) -> f32
    where
        I: IntoIterator<Item = (X, usize)>,
        X: Borrow<L::Input>,
    {
        let (mut correct, mut total) = (0usize, 0usize);
        for (input, class) in samples {
            correct += usize::from(self.predict(input.borrow()) == class);
            total += 1;
        }
        if total == 0 {
            0.0
        } else {
            correct as f32 / total as f32
        }
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
        self.backpropagate_sparse(input, target, Update::Sgd { learning_rate })
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
        self.backpropagate_sparse(input, target, Update::Accumulate(gradients))
    }

    #[inline(always)]
    fn backpropagate_sparse<const N: usize>(
        &mut self,
        input: SparseVector<'_, N>,
        target: &F::Target,
        update: Update<'_, L>,
    ) -> Result<f32, StepError>
    where
        L: SparseTrain<N>,
    {
        let trace = self.layers.forward_trace_sparse(input);
        let (loss, gradient) = checked_loss(&self.loss, L::traced_output(&trace), target)?;
        self.layers
            .backward_sparse(input, &trace, &gradient, update);
        Ok(loss)
    }

    /// Whether every weight and bias is finite.
    pub fn is_finite(&self) -> bool {
        self.layers.all_finite()
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
    if !value.is_finite() || !gradient.as_ref().iter().all(|g| g.is_finite()) {
        return Err(StepError::NonFinite { loss: value });
    }
    Ok((value, gradient))
}

/// The index of the largest value, the first on ties; NaNs never win.
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] || values[best].is_nan() {
            best = i;
        }
    }
    best
}

#[cfg(test)]
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
        let mut net: Network<Dense<2, 2>, _> = Network::seeded(1, Mse, 1e30);
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
        assert_eq!(net.accuracy(samples.iter().map(|(x, c)| (x, *c))), 1.0);
    }
}
