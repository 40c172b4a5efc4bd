//! Training loops over any data: epochs, seeded shuffling, mini-batches,
//! momentum and learning-rate decay ([`Schedule`]), run by [`Network::fit`].
//!
//! With [`Schedule::seed`] — one epoch, in order, batch size 1, no momentum, no
//! decay — `fit` is exactly the seed's per-sample SGD, bit for bit, on its own
//! code path. Each epoch is one piece of [`Work`] compiled for the CPU's widest
//! vectors; no step allocates.

use core::fmt;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_pcg::Pcg64;

use crate::init::{Initialize, Initializer};
use crate::inputs::{Input, Inputs};
use crate::kernels::{Work, dispatch};
use crate::loss::{Loss, LossError};
use crate::module::{Train, Update};
use crate::network::{Network, StepError};

/// How to train: everything besides the network, the data and the targets.
///
/// ```
/// use mimic::Schedule;
///
/// let tuned = Schedule::epochs(15).batch_size(32).momentum(0.9).decay(0.85).shuffled(1);
/// assert_eq!(tuned.epochs, 15);
/// assert_eq!(Schedule::default(), Schedule::seed());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples whose gradients are averaged into one step (1 = per-sample SGD).
    pub batch_size: usize,
    /// Momentum `μ` of the velocity `v ← μ·v + ḡ`, `w ← w − lr·v` (0 = plain SGD).
    pub momentum: f32,
    /// The learning rate of epoch `e` is `lr · decay^e` (1 = constant).
    pub decay: f32,
    /// Seed of the per-epoch shuffle; `None` keeps the given order every epoch.
    pub shuffle_seed: Option<u64>,
}

impl Schedule {
    /// The seed's protocol: one pass in order, per-sample SGD.
    pub const fn seed() -> Self {
        Self {
            epochs: 1,
            batch_size: 1,
            momentum: 0.0,
            decay: 1.0,
            shuffle_seed: None,
        }
    }

    /// `epochs` passes of per-sample SGD in order; change the rest with the
    /// builder methods.
    pub const fn epochs(epochs: usize) -> Self {
        Self {
            epochs,
            ..Self::seed()
        }
    }

    /// The same schedule with mini-batches of `batch_size` samples.
    pub const fn batch_size(self, batch_size: usize) -> Self {
        Self { batch_size, ..self }
    }

    /// The same schedule with momentum `momentum`.
    pub const fn momentum(self, momentum: f32) -> Self {
        Self { momentum, ..self }
    }

    /// The same schedule with the learning rate multiplied by `decay` every epoch.
    pub const fn decay(self, decay: f32) -> Self {
        Self { decay, ..self }
    }

    /// The same schedule, shuffling the samples before every epoch from `seed`.
    pub const fn shuffled(self, seed: u64) -> Self {
        Self {
            shuffle_seed: Some(seed),
            ..self
        }
    }
}

impl Default for Schedule {
    fn default() -> Self {
        Self::seed()
    }
}

/// What one pass over the data measured.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EpochStats {
    /// Mean training loss over the pass (each sample's loss before its update).
    pub mean_loss: f64,
    /// Number of samples trained on.
    pub steps: usize,
}

/// Where and how training went wrong.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum TrainError {
    /// The loss or gradient became NaN or infinite (see [`Divergence`]).
    Diverged(Divergence),
    /// A target the loss rejects, e.g. a class ≥ the number of outputs.
    Target {
        /// Index of the sample.
        sample: usize,
        /// What the loss said.
        source: LossError,
    },
    /// There are not as many targets as inputs.
    LengthMismatch {
        /// Number of inputs.
        inputs: usize,
        /// Number of targets.
        targets: usize,
    },
}

/// The step at which training diverged. Per-sample SGD keeps the weights it had
/// before that step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Divergence {
    /// 0-based epoch.
    pub epoch: usize,
    /// 0-based index of the sample.
    pub sample: usize,
    /// How many samples had been trained on before, counting from the start.
    pub step: usize,
    /// The non-finite loss.
    pub loss: f32,
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::Diverged(d) => write!(
                f,
                "training diverged at epoch {}, sample {} (step {}): the loss or its gradient is not finite (loss = {:e})",
                d.epoch + 1,
                d.sample,
                d.step,
                d.loss
            ),
            TrainError::Target { sample, .. } => write!(f, "invalid target for sample {sample}"),
            TrainError::LengthMismatch { inputs, targets } => write!(
                f,
                "{inputs} inputs but {targets} targets: expected one target per input"
            ),
        }
    }
}

impl std::error::Error for TrainError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TrainError::Target { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A step's result, its error placed at `sample` of `epoch` after `steps` steps.
#[inline(always)]
fn locate(
    step: Result<f32, StepError>,
    epoch: usize,
    sample: usize,
    steps: usize,
) -> Result<f32, TrainError> {
    step.map_err(|error| match error {
        StepError::NonFinite { loss } => TrainError::Diverged(Divergence {
            epoch,
            sample,
            step: steps,
            loss,
        }),
        StepError::Target(source) => TrainError::Target { sample, source },
    })
}

/// [`Network::fit`].
pub(crate) fn fit<L, F, X>(
    network: &mut Network<L, F>,
    inputs: &X,
    targets: &[F::Target],
    schedule: &Schedule,
) -> Result<Vec<EpochStats>, TrainError>
where
    L: Train + Initialize,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
    F::Target: Sized,
    X: Inputs + ?Sized,
    for<'a> X::Row<'a>: Input<L>,
{
    if inputs.len() != targets.len() {
        return Err(TrainError::LengthMismatch {
            inputs: inputs.len(),
            targets: targets.len(),
        });
    }
    let base_rate = network.learning_rate;
    let per_sample = schedule.batch_size <= 1 && schedule.momentum == 0.0;
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    // Gradient and velocity buffers in the network's own type, made once (on the
    // heap for a boxed network); per-sample SGD needs neither.
    let mut buffers = (!per_sample).then(|| {
        let mut none = Pcg64::seed_from_u64(0); // `Zeros` draws nothing
        (
            L::initialize(Initializer::Zeros, &mut none),
            L::initialize(Initializer::Zeros, &mut none),
        )
    });
    let mut stats = Vec::with_capacity(schedule.epochs);
    let mut steps_before = 0;
    for epoch in 0..schedule.epochs {
        network.learning_rate = base_rate * schedule.decay.powi(epoch as i32);
        if let Some(seed) = schedule.shuffle_seed {
            order.shuffle(&mut Pcg64::seed_from_u64(
                seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            ));
        }
        let ordered = schedule.shuffle_seed.map(|_| order.as_slice());
        let epoch_stats = match &mut buffers {
            None => dispatch(Epoch {
                network: &mut *network,
                inputs,
                targets,
                order: ordered,
                epoch,
                steps_before,
            }),
            Some((velocity, gradients)) => dispatch(Batches {
                network: &mut *network,
                inputs,
                targets,
                order: &order,
                epoch,
                steps_before,
                schedule,
                velocity,
                gradients,
            }),
        }?;
        steps_before += epoch_stats.steps;
        stats.push(epoch_stats);
    }
    Ok(stats)
}

/// One epoch of per-sample SGD (the seed's training), as [`Work`].
struct Epoch<'a, L, F: Loss<L::Output>, X: ?Sized>
where
    L: Train,
    F::Target: Sized,
{
    network: &'a mut Network<L, F>,
    inputs: &'a X,
    targets: &'a [F::Target],
    order: Option<&'a [usize]>,
    epoch: usize,
    steps_before: usize,
}

impl<L, F, X> Work for Epoch<'_, L, F, X>
where
    L: Train,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
    F::Target: Sized,
    X: Inputs + ?Sized,
    for<'a> X::Row<'a>: Input<L>,
{
    type Output = Result<EpochStats, TrainError>;

    #[inline(always)]
    fn run(self) -> Self::Output {
        let (mut total, mut steps) = (0.0f64, 0);
        let count = self.order.map_or(self.inputs.len(), <[usize]>::len);
        for k in 0..count {
            let sample = self.order.map_or(k, |order| order[k]);
            let (Some(input), Some(target)) = (self.inputs.row(sample), self.targets.get(sample))
            else {
                continue; // an order naming a sample that doesn't exist: skip it
            };
            let learning_rate = self.network.learning_rate;
            let step = self
                .network
                .step(input, target, Update::Sgd { learning_rate });
            total += f64::from(locate(step, self.epoch, sample, self.steps_before + steps)?);
            steps += 1;
        }
        Ok(EpochStats {
            mean_loss: mean(total, steps),
            steps,
        })
    }
}

fn mean(total: f64, count: usize) -> f64 {
    if count == 0 {
        0.0
    } else {
        total / count as f64
    }
}

/// One epoch of mini-batch SGD with momentum, as [`Work`].
struct Batches<'a, L, F: Loss<L::Output>, X: ?Sized>
where
    L: Train,
    F::Target: Sized,
{
    network: &'a mut Network<L, F>,
    inputs: &'a X,
    targets: &'a [F::Target],
    order: &'a [usize],
    epoch: usize,
    steps_before: usize,
    schedule: &'a Schedule,
    velocity: &'a mut L,
    gradients: &'a mut L,
}

impl<L, F, X> Work for Batches<'_, L, F, X>
where
    L: Train,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
    F::Target: Sized,
    X: Inputs + ?Sized,
    for<'a> X::Row<'a>: Input<L>,
{
    type Output = Result<EpochStats, TrainError>;

    #[inline(always)]
    fn run(self) -> Self::Output {
        let Batches {
            network,
            inputs,
            targets,
            order,
            epoch,
            steps_before,
            schedule,
            velocity,
            gradients,
        } = self;
        let (mut total, mut steps) = (0.0f64, 0);
        let (momentum, rate) = (schedule.momentum, network.learning_rate);
        for batch in order.chunks(schedule.batch_size.max(1)) {
            gradients.visit_mut(&mut |p| p.fill(0.0));
            let mut in_batch = 0usize;
            for &sample in batch {
                let (Some(input), Some(target)) = (inputs.row(sample), targets.get(sample)) else {
                    continue;
                };
                let step = network.step(input, target, Update::Accumulate(&mut *gradients));
                total += f64::from(locate(step, epoch, sample, steps_before + steps)?);
                steps += 1;
                in_batch += 1;
            }
            let scale = 1.0 / in_batch.max(1) as f32;
            velocity.zip_mut(gradients, &mut |v, g| {
                for (v, &g) in v.iter_mut().zip(g) {
                    *v = momentum * *v + g * scale;
                }
            });
            network.layers.zip_mut(velocity, &mut |w, v| {
                for (w, &v) in w.iter_mut().zip(v) {
                    *w -= rate * v;
                }
            });
        }
        if !network.is_finite() {
            return Err(TrainError::Diverged(Divergence {
                epoch,
                sample: order.last().copied().unwrap_or(0),
                step: steps_before + steps,
                loss: f32::NAN,
            }));
        }
        Ok(EpochStats {
            mean_loss: mean(total, steps),
            steps,
        })
    }
}
