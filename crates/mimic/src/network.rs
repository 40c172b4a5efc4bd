//! A trainable network: layers and a loss; one sample's forward pass and
//! training step. Batches and evaluation are in `evaluate.rs`, training loops
//! in `fit.rs`.

use core::fmt;

#[cfg(feature = "std")]
use rand::SeedableRng;
#[cfg(feature = "std")]
use rand_pcg::Pcg64;

#[cfg(feature = "std")]
use crate::init::{Initialize, Initializer};
use crate::inputs::Input;
use crate::kernels::{Work, dispatch};
use crate::loss::{Loss, LossError};
use crate::module::Train;

/// Layers `L` (a [`Dense`](crate::Dense), a tuple of them, or a `Box` of either)
/// and a loss `F`: a network to train and use. Training is
/// [`Network::train_step`] (one sample) or [`Network::fit`] (epochs, batches, an
/// optimizer and its learning rate); inference over many inputs is
/// [`Network::predict_batch`] and its kin.
///
/// `forward` and `train_step` allocate nothing: every intermediate is an array on
/// the stack whose length the types fix.
#[derive(Clone, Debug, PartialEq)]
pub struct Network<L, F> {
    /// The layers, first to last.
    pub layers: L,
    /// The loss that training minimises.
    pub loss: F,
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
    /// The learning rate is NaN, infinite or negative; nothing was computed.
    LearningRate(f32),
    /// The input holds a NaN or an infinity; nothing was computed. (Behind a
    /// ReLU a NaN can vanish from the output and still reach the weights.)
    NonFiniteInput,
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepError::Target(_) => write!(f, "the target does not fit the loss"),
            StepError::NonFinite { loss } => write!(
                f,
                "training diverged: the loss or its gradient is not finite (loss = {loss})"
            ),
            StepError::LearningRate(rate) => {
                write!(f, "learning rate {rate}: expected {VALID_RATE}")
            }
            StepError::NonFiniteInput => {
                write!(
                    f,
                    "the input holds a NaN or an infinity: expected finite numbers"
                )
            }
        }
    }
}

impl core::error::Error for StepError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            StepError::Target(e) => Some(e),
            StepError::NonFinite { .. }
            | StepError::LearningRate(_)
            | StepError::NonFiniteInput => None,
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
    pub fn new(layers: L, loss: F) -> Self {
        Self { layers, loss }
    }

    /// A network whose weights suit each layer's activation (He for the ReLU
    /// family, Xavier for Sigmoid and Identity: [`Initializer::Recommended`]),
    /// drawn from a [`Pcg64`](rand_pcg::Pcg64) seeded with `seed`: the same seed
    /// gives bit-identical weights.
    ///
    /// ```
    /// use mimic::{CrossEntropy, Dense, Network, ReLU};
    ///
    /// let net: Network<(Dense<2, 8, ReLU>, Dense<8, 2, ReLU>), _> =
    ///     Network::seeded(42, CrossEntropy);
    /// assert_eq!(net, Network::seeded(42, CrossEntropy));
    /// ```
    #[cfg(feature = "std")]
    pub fn seeded(seed: u64, loss: F) -> Self
    where
        L: Initialize,
    {
        Self::seeded_with(Initializer::Recommended, seed, loss)
    }

    /// A network initialised by `init` (for example the original NumPy
    /// program's scheme, [`Initializer::Original`]) from a
    /// [`Pcg64`](rand_pcg::Pcg64) seeded with `seed`.
    ///
    /// ```
    /// use mimic::{Dense, Initializer, Mse, Network};
    ///
    /// let original_student: Network<Dense<784, 10>, _> =
    ///     Network::seeded_with(Initializer::Original, 42, Mse);
    /// # assert!(original_student.is_finite());
    /// ```
    #[cfg(feature = "std")]
    pub fn seeded_with(init: Initializer, seed: u64, loss: F) -> Self
    where
        L: Initialize,
    {
        let mut rng = Pcg64::seed_from_u64(seed);
        Self::new(L::initialize(init, &mut rng), loss)
    }

    /// The output for one input: a dense `&[f32; N]` or a
    /// [`SparseVector`](crate::SparseVector) of its nonzero entries (the same
    /// bits, about five times less work on MNIST).
    ///
    /// Compiled for every instruction set, and run as the widest the CPU has
    /// (the same bits under each).
    #[inline(always)]
    pub fn forward<X: Input<L>>(&self, input: X) -> L::Output {
        dispatch(Forward {
            layers: &self.layers,
            input,
        })
    }

    /// The index of the largest output (the first one on ties, as numpy's `argmax`).
    #[inline(always)]
    pub fn predict<X: Input<L>>(&self, input: X) -> usize {
        argmax(self.forward(input).as_ref())
    }

    /// One step of per-sample SGD at `learning_rate`, the original program's
    /// math: forward keeping each layer's output, then from the last layer back
    /// `db = f'(y) ⊙ dx`, `dx_prev = Wᵀ·db` (not for the first layer),
    /// `W -= lr·db·xᵀ`, `b -= lr·db`. The input is dense or sparse, as for
    /// [`Network::forward`]; the update is the same bits either way.
    ///
    /// Returns the loss before the update. A non-finite loss or gradient, or a
    /// learning rate that is not a finite number ≥ 0, is an error, and then
    /// nothing is updated. A step does not check the parameters it writes (a
    /// pass over all of them would cost more than the step): with a rate so
    /// large that an update passes `f32::MAX`, the weights become infinite and
    /// the next step's loss is the error; [`Network::is_finite`] tells after a
    /// last step. [`Network::fit`] checks, and undoes such a step
    /// ([`TrainError::Overflow`](crate::TrainError::Overflow)). (Mini-batches,
    /// momentum, Adam and rate schedules are [`Network::fit`]'s.)
    ///
    /// ```
    /// use mimic::{CrossEntropy, Dense, Network};
    ///
    /// let mut net: Network<(Dense<2, 8>, Dense<8, 2>), _> = Network::seeded(1, CrossEntropy);
    /// let before = net.train_step(&[1.0, 0.0], &1, 0.1)?;
    /// let after = net.train_step(&[1.0, 0.0], &1, 0.1)?;
    /// assert!(after < before);
    /// # Ok::<(), mimic::StepError>(())
    /// ```
    #[inline(always)]
    pub fn train_step<X: Input<L>>(
        &mut self,
        input: X,
        target: &F::Target,
        learning_rate: f32,
    ) -> Result<f32, StepError> {
        if !valid_rate(learning_rate) {
            return Err(StepError::LearningRate(learning_rate));
        }
        dispatch(SgdStep {
            network: self,
            input,
            target,
            learning_rate,
        })
    }

    /// Adds one sample's parameter gradient into `gradients` (same shape as the
    /// layers), leaving the parameters as they are: the building block of
    /// mini-batches.
    #[inline(always)]
    pub fn accumulate_gradient<X: Input<L>>(
        &self,
        input: X,
        target: &F::Target,
        gradients: &mut L,
    ) -> Result<f32, StepError> {
        self.gradient_step_dispatched(input, target, gradients, false)
    }

    /// Forward, loss, and per-sample SGD backward, for any kind of input. A
    /// single step from user code runs it as one [`Work`] compiled for the CPU's
    /// widest vectors (its glue between kernels — the activations, the loss's
    /// softmax — would otherwise run at the build's baseline); epochs call it
    /// directly, inside their own dispatched loop.
    #[inline(always)]
    pub(crate) fn sgd_step<X: Input<L>>(
        &mut self,
        input: X,
        target: &F::Target,
        learning_rate: f32,
    ) -> Result<f32, StepError> {
        let trace = input.forward_trace(&self.layers);
        let (loss, gradient) = checked_loss(&self.loss, L::traced_output(&trace), target)?;
        input.backward(&mut self.layers, &trace, &gradient, learning_rate);
        Ok(loss)
    }

    /// Forward, loss, and the parameter gradient added into `gradients`; the
    /// network is only read.
    #[inline(always)]
    pub(crate) fn gradient_step<X: Input<L>>(
        &self,
        input: X,
        target: &F::Target,
        gradients: &mut L,
    ) -> Result<f32, StepError> {
        let trace = input.forward_trace(&self.layers);
        let (loss, gradient) = checked_loss(&self.loss, L::traced_output(&trace), target)?;
        input.gradient(&self.layers, &trace, &gradient, gradients);
        Ok(loss)
    }

    /// [`Network::gradient_step`] for a group of samples: each one's forward pass
    /// and loss in turn, then one backward pass for the whole group
    /// ([`Train::gradient_group`]), with the same bits as one sample after
    /// another. Returns the losses, or the first sample (its place in the group)
    /// whose loss fails, in which case nothing is added to `gradients`.
    #[inline(always)]
    pub(crate) fn gradient_group_step<X: Input<L>, const S: usize>(
        &self,
        inputs: [X; S],
        targets: [&F::Target; S],
        gradients: &mut L,
    ) -> Result<[f32; S], (usize, StepError)> {
        let traces: [L::Trace; S] = X::forward_trace_group(inputs, &self.layers);
        let results: [Result<(f32, L::Output), StepError>; S] = core::array::from_fn(|s| {
            checked_loss(&self.loss, L::traced_output(&traces[s]), targets[s])
        });
        let mut losses = [0.0; S];
        for (s, result) in results.iter().enumerate() {
            match result {
                Ok((loss, _)) => losses[s] = *loss,
                Err(error) => return Err((s, error.clone())),
            }
        }
        // Every result is `Ok` (checked just above), so the fallback — any
        // reference of the right type — is never used.
        let fallback = L::traced_output(&traces[0]);
        let grad_outputs = results
            .each_ref()
            .map(|r| r.as_ref().map_or(fallback, |(_, g)| g));
        X::gradient_group(
            inputs,
            &self.layers,
            traces.each_ref(),
            grad_outputs,
            gradients,
        );
        Ok(losses)
    }

    /// [`Network::gradient_group_step`] compiled once per ISA: the mini-batch
    /// epoch's glue between groups (parts, barriers, sums, the update's calls)
    /// is compiled once and calls this for each group, so that only the layers'
    /// work is copied per instruction set.
    #[inline(always)]
    pub(crate) fn gradient_group_dispatched<X: Input<L>, const S: usize>(
        &self,
        inputs: [X; S],
        targets: [&F::Target; S],
        gradients: &mut L,
    ) -> Result<[f32; S], (usize, StepError)> {
        dispatch(GroupStep {
            network: self,
            inputs,
            targets,
            gradients,
        })
    }

    /// [`Network::gradient_step`] compiled once per ISA: for
    /// [`Network::accumulate_gradient`], and for the samples of a mini-batch's
    /// part that do not fill a group (see [`Network::gradient_group_dispatched`]),
    /// whose inputs `fit` has checked (`input_checked`). Both share one copy.
    #[inline(always)]
    pub(crate) fn gradient_step_dispatched<X: Input<L>>(
        &self,
        input: X,
        target: &F::Target,
        gradients: &mut L,
        input_checked: bool,
    ) -> Result<f32, StepError> {
        dispatch(GradientStep {
            network: self,
            input,
            target,
            gradients,
            input_checked,
        })
    }

    /// Whether every weight and bias is finite.
    pub fn is_finite(&self) -> bool {
        self.layers.all_finite()
    }
}

/// One forward pass as [`Work`] (see [`Network::forward`]).
struct Forward<'a, L, X> {
    layers: &'a L,
    input: X,
}

impl<L: Train, X: Input<L>> Work for Forward<'_, L, X> {
    type Output = L::Output;

    #[inline(always)]
    fn run(self) -> L::Output {
        self.input.forward(self.layers)
    }
}

/// One per-sample SGD step of `network` as [`Work`] (see [`Network::sgd_step`]).
struct SgdStep<'a, L, F: Loss<L::Output>, X>
where
    L: Train,
{
    network: &'a mut Network<L, F>,
    input: X,
    target: &'a F::Target,
    learning_rate: f32,
}

impl<L, F, X> Work for SgdStep<'_, L, F, X>
where
    L: Train,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
    X: Input<L>,
{
    type Output = Result<f32, StepError>;

    #[inline(always)]
    fn run(self) -> Self::Output {
        // Checked here, in the copy compiled for the widest vectors (a step
        // inside `fit` skips it: `fit` checks every input once).
        if !self.input.finite() {
            return Err(StepError::NonFiniteInput);
        }
        self.network
            .sgd_step(self.input, self.target, self.learning_rate)
    }
}

/// One sample's gradient as [`Work`] (see [`Network::gradient_step`]).
struct GradientStep<'a, L, F: Loss<L::Output>, X>
where
    L: Train,
{
    network: &'a Network<L, F>,
    input: X,
    target: &'a F::Target,
    gradients: &'a mut L,
    /// The input is known to be finite (`fit` checks every input once).
    input_checked: bool,
}

impl<L, F, X> Work for GradientStep<'_, L, F, X>
where
    L: Train,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
    X: Input<L>,
{
    type Output = Result<f32, StepError>;

    #[inline(always)]
    fn run(self) -> Self::Output {
        // As in `SgdStep`.
        if !self.input_checked && !self.input.finite() {
            return Err(StepError::NonFiniteInput);
        }
        self.network
            .gradient_step(self.input, self.target, self.gradients)
    }
}

/// One group's gradient as [`Work`] (see [`Network::gradient_group_step`]).
struct GroupStep<'a, L, F: Loss<L::Output>, X, const S: usize>
where
    L: Train,
{
    network: &'a Network<L, F>,
    inputs: [X; S],
    targets: [&'a F::Target; S],
    gradients: &'a mut L,
}

impl<L, F, X, const S: usize> Work for GroupStep<'_, L, F, X, S>
where
    L: Train,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
    X: Input<L>,
{
    type Output = Result<[f32; S], (usize, StepError)>;

    #[inline(always)]
    fn run(self) -> Self::Output {
        self.network
            .gradient_group_step(self.inputs, self.targets, self.gradients)
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
        let mut net: Network<Dense<4, 3>, _> = Network::seeded(1, CrossEntropy);
        let before = net.clone();
        let err = net.train_step(&[1.0; 4], &3, 0.1).unwrap_err();
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
        let mut net: Network<Dense<2, 2>, _> = Network::seeded_with(Initializer::Original, 1, Mse);
        let mut result = Ok(0.0);
        for _ in 0..10 {
            result = net.train_step(&[1e20, 1e20], &[1e30, -1e30], 1e30);
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
        let mut net: Network<(Dense<2, 8>, Dense<8, 2>), _> = Network::seeded(3, CrossEntropy);
        let samples = [([1.0, 0.0], 0), ([0.0, 1.0], 1)];
        let first: f32 = samples
            .iter()
            .map(|(x, c)| net.loss.loss(&net.forward(x), c).unwrap())
            .sum();
        for _ in 0..200 {
            for (x, c) in &samples {
                net.train_step(x, c, 0.1).unwrap();
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

/// What [`valid_rate`] accepts, as error messages say it.
pub(crate) const VALID_RATE: &str = "a finite number ≥ 0";

/// A learning rate training can use: finite and not negative (0 trains nothing).
pub(crate) fn valid_rate(rate: f32) -> bool {
    rate.is_finite() && rate >= 0.0
}
