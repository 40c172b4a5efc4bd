//! Training loops over any data: epochs, seeded shuffling, mini-batches, an
//! update rule, a learning-rate schedule and gradient clipping ([`Schedule`]),
//! run by [`Network::fit`].
//!
//! With `Schedule::new(Sgd::new(η))` — one epoch, in order, batch size 1, plain
//! SGD at a constant rate — `fit` is exactly the original program's per-sample
//! SGD, bit for bit, on its own code path. Each epoch is one piece of [`Work`] compiled for the CPU's
//! widest vectors; no step allocates.

use core::fmt;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_pcg::Pcg64;

use core::ops::{ControlFlow, Range};

use crate::batches::{Buffers, Factors, Settings, Shared, ThreadEpoch};
use crate::init::{Initialize, Initializer, boxed};
use crate::inputs::{Input, InputsOf};
use crate::kernels::{Work, dispatch};
use crate::loss::{Loss, LossError};
use crate::module::{Train, Zipped};
use crate::network::{Network, StepError, VALID_RATE, valid_rate};
use crate::optimizer::Optimizer;
use crate::rate::RateSchedule;
use crate::setting::InvalidSetting;
use crate::threads::PoisonOnPanic;

/// How to train: everything besides the network, the data and the targets —
/// the update rule `O` with its learning rate, epochs, batch size, a
/// learning-rate schedule, shuffling and gradient clipping.
///
/// `Schedule::new(Sgd::new(η))` alone is the original NumPy program's training:
/// one pass, in order, per-sample SGD at rate `η`, bit for bit on its own code
/// path. Every other setting is a builder method:
///
/// ```
/// use mimic::{Adam, Momentum, RateSchedule, Schedule, Sgd};
///
/// let original = Schedule::new(Sgd::new(0.03));
/// assert_eq!((original.epochs, original.batch_size), (1, 1));
/// let tuned = Schedule::new(Momentum::new(0.1)).epochs(15).batch_size(32).decay(0.85).shuffled(1);
/// assert_eq!(tuned.optimizer.momentum, 0.9);
/// let adam = Schedule::new(Adam::new(1e-3))
///     .epochs(10)
///     .batch_size(64)
///     .rate_schedule(RateSchedule::Cosine { warmup: 100, floor: 0.0 })
///     .clip(5.0)
///     .shuffled(1);
/// assert_eq!(adam.optimizer.learning_rate, 1e-3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule<O> {
    /// The update rule, with its learning rate.
    pub optimizer: O,
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples whose gradients are averaged into one update (1 = per sample).
    pub batch_size: usize,
    /// How the optimizer's rate changes over training.
    pub rate_schedule: RateSchedule,
    /// Seed of the per-epoch shuffle; `None` keeps the given order every epoch.
    pub shuffle_seed: Option<u64>,
    /// Scale each averaged gradient down to this global L2 norm if it is larger.
    pub clip_norm: Option<f32>,
    /// Threads that compute each mini-batch (1 by default). The weights do not
    /// depend on it: see [`Schedule::parts`].
    pub threads: usize,
    /// Fixed parts each mini-batch's gradient is summed in (4 by default).
    pub parts: usize,
}

impl<O: Optimizer> Schedule<O> {
    /// One epoch of `optimizer`'s updates, one sample at a time, in the given
    /// order, at its constant rate; change the rest with the builder methods.
    pub const fn new(optimizer: O) -> Self {
        Self {
            optimizer,
            epochs: 1,
            batch_size: 1,
            rate_schedule: RateSchedule::Constant,
            shuffle_seed: None,
            clip_norm: None,
            threads: 1,
            parts: 4,
        }
    }

    /// The same schedule with `epochs` passes over the data.
    pub const fn epochs(self, epochs: usize) -> Self {
        Self { epochs, ..self }
    }

    /// The same schedule with mini-batches of `batch_size` samples.
    pub const fn batch_size(self, batch_size: usize) -> Self {
        Self { batch_size, ..self }
    }

    /// The same schedule with another update rule (and its rate).
    pub fn optimizer<P: Optimizer>(self, optimizer: P) -> Schedule<P> {
        Schedule {
            optimizer,
            epochs: self.epochs,
            batch_size: self.batch_size,
            rate_schedule: self.rate_schedule,
            shuffle_seed: self.shuffle_seed,
            clip_norm: self.clip_norm,
            threads: self.threads,
            parts: self.parts,
        }
    }

    /// The same schedule with the learning rate multiplied by `factor` every
    /// epoch ([`RateSchedule::Exponential`]).
    pub const fn decay(self, factor: f32) -> Self {
        self.rate_schedule(RateSchedule::Exponential { factor })
    }

    /// The same schedule with another learning-rate schedule.
    pub const fn rate_schedule(self, rate_schedule: RateSchedule) -> Self {
        Self {
            rate_schedule,
            ..self
        }
    }

    /// The same schedule, shuffling the samples before every epoch from `seed`.
    pub const fn shuffled(self, seed: u64) -> Self {
        Self {
            shuffle_seed: Some(seed),
            ..self
        }
    }

    /// The same schedule, clipping every averaged gradient to global norm `norm`.
    pub const fn clip(self, norm: f32) -> Self {
        Self {
            clip_norm: Some(norm),
            ..self
        }
    }

    /// The same schedule, computing each mini-batch on `threads` threads.
    ///
    /// A seed gives the same weights, bit for bit, for any number of threads:
    /// each batch is cut into [`Schedule::parts`] fixed parts whose gradients
    /// are summed in a fixed order, whichever thread computed them. So at most
    /// `parts` threads have work. The threads start once per
    /// [`Network::fit`](crate::Network::fit). Per-sample SGD (batch size 1,
    /// plain SGD, no clipping) is one sample after another by nature and always
    /// runs on one thread.
    ///
    /// ```
    /// use mimic::{Adam, Schedule};
    ///
    /// let every_core = Schedule::new(Adam::default()).batch_size(64).all_cores();
    /// assert!(every_core.threads >= 1);
    /// ```
    pub const fn threads(self, threads: usize) -> Self {
        Self { threads, ..self }
    }

    /// The same schedule on as many threads as the system says can run at once
    /// (`std::thread::available_parallelism`), at most [`Schedule::parts`].
    pub fn all_cores(self) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        self.threads(cores.min(self.parts))
    }

    /// The same schedule, summing each mini-batch's gradient in `parts` fixed
    /// parts (4 by default; a batch of fewer samples has one part per sample).
    /// The parts fix the order of the floating-point sums, so they — unlike the
    /// number of threads — change the last bits of the weights; more parts let
    /// more threads work at the cost of a buffer the network's size per part.
    pub const fn parts(self, parts: usize) -> Self {
        Self { parts, ..self }
    }

    /// Whether each sample's update is applied during its backward pass: plain
    /// SGD one sample at a time, with no clipping — the original program's
    /// training.
    fn per_sample_sgd(&self) -> bool {
        self.batch_size <= 1 && self.optimizer.is_plain_sgd() && self.clip_norm.is_none()
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
    /// An input holds a NaN or an infinity (checked before training; behind a
    /// ReLU a NaN can vanish from the outputs and still reach the weights);
    /// nothing was trained.
    NonFiniteInput {
        /// Index of the sample.
        sample: usize,
    },
    /// A per-sample SGD step's update made a parameter too large for `f32`
    /// (infinite). The network is left as it was before that step. (A
    /// mini-batch whose update overflows is reported as [`TrainError::Diverged`]
    /// at its first sample, with its update not applied.)
    Overflow {
        /// 0-based epoch.
        epoch: usize,
        /// Index of the sample whose step overflowed.
        sample: usize,
        /// How many samples had been trained on before, counting from the start.
        step: usize,
    },
    /// A setting of the [`Schedule`] or of the loss that training cannot use
    /// (see [`InvalidSetting`]); nothing was trained.
    Setting {
        /// The setting, e.g. `"learning rate"`.
        name: &'static str,
        /// Its value.
        value: f32,
        /// What it must be.
        expected: &'static str,
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
            TrainError::Overflow {
                epoch,
                sample,
                step,
            } => write!(
                f,
                "training overflowed at epoch {}, sample {sample} (step {step}): its update made a parameter too large for f32; expected a smaller learning rate",
                epoch + 1
            ),
            TrainError::Target { sample, .. } => write!(f, "invalid target for sample {sample}"),
            TrainError::NonFiniteInput { sample } => write!(
                f,
                "sample {sample}'s input holds a NaN or an infinity: expected finite numbers"
            ),
            TrainError::LengthMismatch { inputs, targets } => write!(
                f,
                "{inputs} inputs but {targets} targets: expected one target per input"
            ),
            TrainError::Setting {
                name,
                value,
                expected,
            } => write!(f, "{name} {value}: expected {expected}"),
        }
    }
}

impl From<InvalidSetting> for TrainError {
    fn from(e: InvalidSetting) -> Self {
        TrainError::Setting {
            name: e.name,
            value: e.value,
            expected: e.expected,
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
pub(crate) fn locate(
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
        StepError::LearningRate(value) => TrainError::Setting {
            name: "learning rate",
            value,
            expected: VALID_RATE,
        },
        StepError::NonFiniteInput => TrainError::NonFiniteInput { sample },
    })
}

/// Training loops. `inputs` is any collection of the network's inputs
/// ([`InputsOf`]): a slice, array or `Vec` of `[f32; N]`, or
/// [`SparseRows<N>`](crate::SparseRows); `targets` has one target per input —
/// class indices for [`CrossEntropy`](crate::CrossEntropy), vectors for
/// [`Mse`](crate::Mse), a teacher's [`SoftTarget`](crate::SoftTarget)s for
/// [`Distillation`](crate::Distillation).
///
/// Training allocates its gradient and optimizer buffers (each the network's
/// size) once per call, on the heap, and nothing per step; the stack holds
/// one sample's activations. Per-sample SGD runs one sample after another by
/// nature and needs no buffers at all.
impl<L, F> Network<L, F>
where
    L: Train + Initialize,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
    F::Target: Sized,
{
    /// Trains on `inputs` towards `targets` as `schedule` says, and returns each
    /// epoch's statistics.
    ///
    /// ```
    /// use mimic::{CrossEntropy, Dense, Identity, Network, ReLU, Schedule, Sgd};
    ///
    /// let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
    /// let xor = [0, 1, 1, 0];
    /// let mut net: Network<(Dense<2, 16, ReLU>, Dense<16, 2, Identity>), _> =
    ///     Network::seeded(7, CrossEntropy);
    /// let stats = net.fit(&inputs, &xor, &Schedule::new(Sgd::new(0.1)).epochs(500).shuffled(7))?;
    /// assert!(stats[499].mean_loss < stats[0].mean_loss);
    /// assert_eq!(net.predict_batch(&inputs, 1), xor);
    /// # Ok::<(), mimic::TrainError>(())
    /// ```
    pub fn fit<X, O>(
        &mut self,
        inputs: &X,
        targets: &[F::Target],
        schedule: &Schedule<O>,
    ) -> Result<Vec<EpochStats>, TrainError>
    where
        X: InputsOf<L> + ?Sized,
        O: Optimizer,
    {
        self.fit_with(inputs, targets, schedule, |_, _, _| {
            ControlFlow::Continue(())
        })
    }

    /// [`Network::fit`], calling `after_epoch(epoch, network, stats)` after every
    /// epoch (`epoch` counts from 0): to report progress, measure validation
    /// accuracy, keep the best network, or stop early by returning
    /// [`ControlFlow::Break`]. Returns the statistics of the epochs trained.
    /// Watching changes nothing: with a callback that always continues, the
    /// weights are those of [`Network::fit`], bit for bit.
    ///
    /// ```
    /// use std::ops::ControlFlow;
    /// use mimic::{CrossEntropy, Dense, Identity, Network, ReLU, Schedule, Sgd};
    ///
    /// let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
    /// let xor = [0, 1, 1, 0];
    /// let mut net: Network<(Dense<2, 16, ReLU>, Dense<16, 2, Identity>), _> =
    ///     Network::seeded(7, CrossEntropy);
    /// let schedule = Schedule::new(Sgd::new(0.1)).epochs(1000).shuffled(7);
    /// let stats = net.fit_with(&inputs, &xor, &schedule, |_epoch, net, _stats| {
    ///     if net.accuracy(&inputs, &xor) == 1.0 {
    ///         ControlFlow::Break(()) // early stopping
    ///     } else {
    ///         ControlFlow::Continue(())
    ///     }
    /// })?;
    /// assert!(stats.len() < 1000);
    /// # Ok::<(), mimic::TrainError>(())
    /// ```
    pub fn fit_with<X, O, C>(
        &mut self,
        inputs: &X,
        targets: &[F::Target],
        schedule: &Schedule<O>,
        mut after_epoch: C,
    ) -> Result<Vec<EpochStats>, TrainError>
    where
        X: InputsOf<L> + ?Sized,
        O: Optimizer,
        C: FnMut(usize, &Self, &EpochStats) -> ControlFlow<()>,
    {
        if inputs.len() != targets.len() {
            return Err(TrainError::LengthMismatch {
                inputs: inputs.len(),
                targets: targets.len(),
            });
        }
        let base_rate = schedule.optimizer.learning_rate();
        if !valid_rate(base_rate) {
            return Err(TrainError::Setting {
                name: "learning rate",
                value: base_rate,
                expected: VALID_RATE,
            });
        }
        if let Some(norm) = schedule.clip_norm
            && !(norm.is_finite() && norm > 0.0)
        {
            return Err(TrainError::Setting {
                name: "clipping norm",
                value: norm,
                expected: "a finite number > 0",
            });
        }
        let counts = [
            ("threads", schedule.threads),
            ("parts", schedule.parts),
            ("batch size", schedule.batch_size),
        ];
        if let Some(&(name, _)) = counts.iter().find(|(_, count)| *count == 0) {
            return Err(TrainError::Setting {
                name,
                value: 0.0,
                expected: "at least 1",
            });
        }
        // Every other setting, by the predicate beside what it configures: the
        // optimizer's, the rate schedule's (for this many updates), the loss's.
        schedule.optimizer.check()?;
        let batch_for_updates = if schedule.per_sample_sgd() {
            1
        } else {
            schedule.batch_size.max(1)
        };
        let all_updates = schedule
            .epochs
            .saturating_mul(inputs.len().div_ceil(batch_for_updates));
        schedule.rate_schedule.check(all_updates)?;
        self.loss.check()?;
        let per_sample = schedule.per_sample_sgd();
        let batch = if per_sample {
            1
        } else {
            schedule.batch_size.max(1)
        };
        let updates_per_epoch = inputs.len().div_ceil(batch);
        let rates = |epoch: usize| Rates {
            schedule: schedule.rate_schedule,
            base: base_rate,
            epoch,
            first_update: epoch.saturating_mul(updates_per_epoch),
            updates: schedule.epochs.saturating_mul(updates_per_epoch),
        };
        // Once, before anything changes: a step does not check its input.
        if let Some(sample) =
            (0..inputs.len()).find(|&k| inputs.input(k).is_some_and(|x| !x.finite()))
        {
            return Err(TrainError::NonFiniteInput { sample });
        }
        let order: Vec<usize> = (0..inputs.len()).collect();
        if !per_sample {
            return train_batches(self, inputs, targets, schedule, order, rates, after_epoch);
        }
        let mut order = order;
        let mut stats = Vec::new();
        let mut steps_before = 0;
        // The parameters at the start of the epoch: per-sample SGD updates in
        // place, and an update too large for `f32` is only seen afterwards.
        let mut start = Vec::with_capacity(self.layers.parameter_count());
        for epoch in 0..schedule.epochs {
            shuffle(&mut order, schedule.shuffle_seed, epoch);
            start.clear();
            self.layers.visit(&mut |p| start.extend_from_slice(p));
            let run = |network: &mut Self, steps: Range<usize>| {
                dispatch(Epoch {
                    network,
                    inputs,
                    targets,
                    order: schedule.shuffle_seed.map(|_| order.as_slice()),
                    epoch,
                    steps_before,
                    rates: rates(epoch),
                    steps,
                })
            };
            let result = run(&mut *self, 0..usize::MAX);
            let overflowed = match &result {
                Ok(_) | Err(TrainError::Diverged(_)) => !self.layers.all_finite(),
                Err(_) => false,
            };
            if overflowed {
                let order = schedule.shuffle_seed.map(|_| order.as_slice());
                let places = order.map_or(inputs.len(), <[usize]>::len);
                let (place, error) = self.undo_overflow(&mut start, places, run);
                return Err(error.unwrap_or(TrainError::Overflow {
                    epoch,
                    sample: order.map_or(place, |order| order[place]),
                    step: steps_before + place,
                }));
            }
            let epoch_stats = result?;
            steps_before += epoch_stats.steps;
            stats.push(epoch_stats);
            if after_epoch(epoch, self, &epoch_stats).is_break() {
                break;
            }
        }
        Ok(stats)
    }
}

/// Shuffles `order` for `epoch` from `seed` (each epoch's permutation is drawn
/// from its own generator, so it does not depend on the epochs before it).
fn shuffle(order: &mut [usize], seed: Option<u64>, epoch: usize) {
    if let Some(seed) = seed {
        order.shuffle(&mut Pcg64::seed_from_u64(
            seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        ));
    }
}

/// Mini-batch training on `schedule.threads` threads (see `batches.rs`): the
/// threads start here, once, and meet between epochs while thread 0 (this one)
/// shuffles and calls `after_epoch`.
fn train_batches<L, F, X, O, C>(
    network: &mut Network<L, F>,
    inputs: &X,
    targets: &[F::Target],
    schedule: &Schedule<O>,
    order: Vec<usize>,
    rates: impl Fn(usize) -> Rates,
    mut after_epoch: C,
) -> Result<Vec<EpochStats>, TrainError>
where
    L: Train + Initialize,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
    F::Target: Sized,
    X: InputsOf<L> + ?Sized,
    O: Optimizer,
    C: FnMut(usize, &Network<L, F>, &EpochStats) -> ControlFlow<()>,
{
    let parts = schedule.parts;
    // More threads than parts would find nothing to do.
    let threads = schedule.threads.min(parts);
    // Gradient and optimizer-state buffers in the network's own type, made
    // once, on the heap (network-sized values would otherwise sit in this frame).
    let mut none = Pcg64::seed_from_u64(0); // `Zeros` draws nothing
    let mut zeros = || boxed::<L, _>(Initializer::Zeros, &mut none);
    // One thread alone needs two part buffers: it adds each part to part 0's
    // as soon as it is done (`batches.rs`).
    let buffers = if threads == 1 { parts.min(2) } else { parts };
    let mut part_buffers: Vec<Box<L>> = (0..buffers).map(|_| zeros()).collect();
    let (mut first, mut second) = (zeros(), zeros());
    let update = update_with(schedule.optimizer);
    let settings = Settings {
        batch_size: schedule.batch_size.max(1),
        parts,
        clip_norm: schedule.clip_norm,
    };
    let shared = Shared::new(
        network,
        inputs,
        targets,
        settings,
        Buffers {
            parts: &mut part_buffers,
            first: &mut first,
            second: &mut second,
        },
        &update,
    );
    // SAFETY: no other thread exists yet.
    unsafe { shared.plan.get_mut().order = order };
    std::thread::scope(|scope| {
        let _poison = PoisonOnPanic(&shared.barrier);
        let mut started = 1;
        for thread in 1..threads {
            let shared = &shared;
            let worker = std::thread::Builder::new()
                .name(format!("mimic-fit-{thread}"))
                .spawn_scoped(scope, move || work_epochs(shared, thread));
            if worker.is_err() {
                break; // fewer threads: the same bits, later
            }
            started += 1;
        }
        shared.barrier.set_threads(started);
        let mut stats = Vec::new();
        let mut result = Ok(());
        let mut steps_before = 0;
        for epoch in 0..schedule.epochs {
            {
                // SAFETY: between epochs: every other thread waits at the barrier.
                let plan = unsafe { shared.plan.get_mut() };
                shuffle(&mut plan.order, schedule.shuffle_seed, epoch);
                plan.epoch = epoch;
                plan.steps_before = steps_before;
                plan.rates = rates(epoch);
                plan.threads = started;
            }
            if shared.barrier.wait().is_err() {
                break; // a worker panicked; the scope re-raises it
            }
            let (total, steps) = match (ThreadEpoch {
                shared: &shared,
                thread: 0,
                threads: started,
            })
            .run()
            {
                Ok(done) => done,
                Err(error) => {
                    result = Err(error);
                    break;
                }
            };
            steps_before += steps;
            let epoch_stats = EpochStats {
                mean_loss: mean(total, steps),
                steps,
            };
            // SAFETY: between epochs, as above.
            let network = unsafe { shared.network() };
            stats.push(epoch_stats);
            if after_epoch(epoch, network, &epoch_stats).is_break() {
                break;
            }
        }
        // SAFETY: between epochs, as above.
        unsafe { shared.plan.get_mut().finished = true };
        let _ = shared.barrier.wait();
        result.map(|()| stats)
    })
}

/// A worker thread: one epoch after another until thread 0 says there are no more.
fn work_epochs<L, F, X>(shared: &Shared<'_, L, F, X>, thread: usize)
where
    L: Train,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
    F::Target: Sized,
    X: InputsOf<L> + ?Sized,
{
    let _poison = PoisonOnPanic(&shared.barrier);
    while shared.barrier.wait().is_ok() {
        // SAFETY: between epochs, after the barrier: thread 0 wrote the plan
        // before it and writes it again only after this epoch.
        let plan = unsafe { shared.plan.get() };
        if plan.finished {
            return;
        }
        // Every thread reaches the same result; thread 0 reports it.
        let _ = ThreadEpoch {
            shared,
            thread,
            threads: plan.threads,
        }
        .run();
    }
}

/// The learning rate of each update of one epoch.
#[derive(Clone, Copy)]
pub(crate) struct Rates {
    schedule: RateSchedule,
    base: f32,
    epoch: usize,
    /// Updates before this epoch.
    pub(crate) first_update: usize,
    /// Updates in all of training.
    updates: usize,
}

impl Rates {
    /// `base` throughout.
    pub(crate) fn constant(base: f32) -> Self {
        Self {
            schedule: RateSchedule::Constant,
            base,
            epoch: 0,
            first_update: 0,
            updates: 1,
        }
    }

    /// The rate of this epoch's update `k` (0-based).
    #[inline(always)]
    pub(crate) fn at(&self, k: usize) -> f32 {
        self.schedule
            .at(self.base, self.epoch, self.first_update + k, self.updates)
    }
}

/// One epoch of per-sample SGD (the original program's training), as [`Work`].
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
    rates: Rates,
    /// The places in the epoch's order to train on (all of them, or a part
    /// to replay).
    steps: Range<usize>,
}

impl<L: Train, F: Loss<L::Output>> Network<L, F>
where
    F::Target: Sized,
{
    /// After an epoch of per-sample SGD left a parameter non-finite: finds the
    /// step whose update overflowed, by replaying the epoch from `start` (its
    /// parameters at the epoch's start; the same bits each time), and leaves
    /// the network as it was before that step. Only on this failure path: a
    /// bisection over the epoch's steps, each probe a replay of a prefix.
    ///
    /// Returns the place of that step in the epoch's order, and its error if
    /// it failed as a step (a loss that is not finite) rather than overflowed.
    fn undo_overflow(
        &mut self,
        start: &mut Vec<f32>,
        places: usize,
        mut replay: impl FnMut(&mut Self, Range<usize>) -> Result<EpochStats, TrainError>,
    ) -> (usize, Option<TrainError>) {
        let restore = |network: &mut Self, from: &[f32]| {
            let mut at = 0;
            network.layers.visit_mut(&mut |p| {
                p.copy_from_slice(&from[at..at + p.len()]);
                at += p.len();
            });
        };
        // After `good` steps the parameters are finite; after `bad`, not (or a
        // step failed): every non-finite value stays non-finite.
        let (mut good, mut bad) = (0, places);
        while bad - good > 1 {
            let middle = good + (bad - good) / 2;
            restore(self, start);
            let ok = replay(self, 0..middle).is_ok() && self.layers.all_finite();
            if ok { good = middle } else { bad = middle }
        }
        restore(self, start);
        let _ = replay(self, 0..good);
        // Step `good` itself: a loss that is not finite is the usual
        // divergence (nothing updated); an update that overflows is undone.
        start.clear();
        self.layers.visit(&mut |p| start.extend_from_slice(p));
        match replay(self, good..good + 1) {
            Err(error) => (good, Some(error)),
            Ok(_) => {
                restore(self, start);
                (good, None)
            }
        }
    }
}

impl<L, F, X> Work for Epoch<'_, L, F, X>
where
    L: Train,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
    F::Target: Sized,
    X: InputsOf<L> + ?Sized,
{
    type Output = Result<EpochStats, TrainError>;

    #[inline(always)]
    fn run(self) -> Self::Output {
        let (mut total, mut steps) = (0.0f64, 0);
        let count = self.order.map_or(self.inputs.len(), <[usize]>::len);
        let places = self.steps.start.min(count)..self.steps.end.min(count);
        let varying = self.rates.schedule.changes_within_epochs();
        let mut learning_rate = self.rates.at(0);
        let first = self.steps_before + places.start;
        for k in places {
            let sample = self.order.map_or(k, |order| order[k]);
            match self.order {
                Some(order) => prefetch_ahead(self.inputs, self.targets, order, k),
                None => prefetch_in_order(self.inputs, k),
            }
            let (Some(input), Some(target)) = (self.inputs.input(sample), self.targets.get(sample))
            else {
                continue; // an order naming a sample that doesn't exist: skip it
            };
            if varying {
                learning_rate = self.rates.at(k);
            }
            let step = self.network.sgd_step(input, target, learning_rate);
            total += f64::from(locate(step, self.epoch, sample, first + steps)?);
            steps += 1;
        }
        Ok(EpochStats {
            mean_loss: mean(total, steps),
            steps,
        })
    }
}

/// Shuffled, the next samples' data are scattered in memory: while sample `k`
/// of `order` trains, ask for where sample `k + 8` is (its row's bounds), for
/// the first line of each part of sample `k + 5`'s row (which finds its pages:
/// 72 MB of MNIST rows are far more pages than the TLB holds), and for the rows
/// and targets of sample `k + 2`. One sample ahead is too late: finding a row is
/// itself a cache miss.
#[inline(always)]
pub(crate) fn prefetch_ahead<L, X, T>(inputs: &X, targets: &[T], order: &[usize], k: usize)
where
    L: Train,
    X: InputsOf<L> + ?Sized,
{
    if let Some(&far) = order.get(k + 8) {
        inputs.prefetch_index(far);
    }
    if let Some(row) = order.get(k + 5).and_then(|&middle| inputs.input(middle)) {
        row.prefetch_start();
    }
    if let Some(&near) = order.get(k + 2) {
        if let Some(row) = inputs.input(near) {
            row.prefetch();
        }
        if let Some(target) = targets.get(near) {
            crate::kernels::prefetch(core::slice::from_ref(target));
        }
    }
}

/// In file order the samples' entries follow each other in memory, but MNIST's
/// lists (36 MB) come from memory again every epoch, and the hardware's own
/// prefetching does not keep ahead of a stream read a few lines per step (the
/// waits are in the first layer's sum, on the entry loads): ask for sample
/// `k + 2`'s entries. The gain is in docs/performance.md.
#[inline(always)]
fn prefetch_in_order<L, X>(inputs: &X, k: usize)
where
    L: Train,
    X: InputsOf<L> + ?Sized,
{
    if let Some(row) = inputs.input(k + 2) {
        row.prefetch();
    }
}

fn mean(total: f64, count: usize) -> f64 {
    if count == 0 {
        0.0
    } else {
        total / count as f64
    }
}

/// The optimizer's update of one block of parameters, as the [`UpdateBlock`]
/// the threads call: each block's update is dispatched to the widest vectors.
fn update_with<O: Optimizer>(optimizer: O) -> impl Fn(Zipped<'_>, Factors) + Sync {
    move |parameters, f| {
        dispatch(BatchUpdate {
            optimizer,
            parameters,
            scale: f.scale,
            clip: f.clip,
            rate: f.rate,
            t: f.t,
        });
    }
}

/// One block's mini-batch update ([`Optimizer::update_batch`]), as [`Work`].
struct BatchUpdate<'a, O> {
    optimizer: O,
    parameters: Zipped<'a>,
    scale: f32,
    clip: f32,
    rate: f32,
    t: u32,
}

impl<O: Optimizer> Work for BatchUpdate<'_, O> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let (w, g, s1, s2) = self.parameters;
        self.optimizer
            .update_batch(w, g, s1, s2, self.scale, self.clip, self.rate, self.t);
    }
}
