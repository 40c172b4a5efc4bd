//! Training beyond the seed's single pass: epochs with seeded shuffling,
//! mini-batches, momentum and learning-rate decay.
//!
//! With the defaults ([`Schedule::seed`]: one epoch, in file order, batch size 1,
//! no momentum, no decay) [`fit`] is exactly the seed's per-sample SGD, bit for bit:
//! it takes the same code path as [`train_epoch`].

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_pcg::Pcg64;

use crate::data::PIXELS;
use crate::kernels::{Work, dispatch};
use crate::loss::Loss;
use crate::module::{Parameters, SparseTrain};
use crate::network::Network;
use crate::sparse::SparseImages;
use crate::training::{Divergence, EpochStats, TrainError, locate, train_epoch};

/// How to train: everything besides the network, the data and the targets.
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
    /// Seed of the per-epoch shuffle; `None` keeps the file order every epoch.
    pub shuffle_seed: Option<u64>,
}

impl Schedule {
    /// The seed's protocol: one pass in file order, per-sample SGD.
    pub const fn seed() -> Self {
        Self {
            epochs: 1,
            batch_size: 1,
            momentum: 0.0,
            decay: 1.0,
            shuffle_seed: None,
        }
    }
}

impl Default for Schedule {
    fn default() -> Self {
        Self::seed()
    }
}

/// Trains `network` on `images` towards `targets` as `schedule` says, starting from
/// `network.learning_rate` (which is left at its last decayed value). Returns each
/// epoch's statistics.
pub fn fit<L, F>(
    network: &mut Network<L, F>,
    images: &SparseImages,
    targets: &[F::Target],
    schedule: &Schedule,
) -> Result<Vec<EpochStats>, TrainError>
where
    L: SparseTrain<PIXELS> + Clone,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
    F::Target: Sized,
{
    if images.len() != targets.len() {
        return Err(TrainError::LengthMismatch {
            images: images.len(),
            targets: targets.len(),
        });
    }
    let base_rate = network.learning_rate;
    let mut order: Vec<usize> = (0..images.len()).collect();
    let mut velocity = zeroed(&network.layers);
    let mut gradients = zeroed(&network.layers);
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
        let epoch_stats = if schedule.batch_size <= 1 && schedule.momentum == 0.0 {
            // The seed's per-sample SGD, on its own code path.
            train_epoch(network, images, targets, ordered, epoch)
        } else {
            dispatch(Batches {
                network: &mut *network,
                images,
                targets,
                order: &order,
                epoch,
                schedule,
                velocity: &mut velocity,
                gradients: &mut gradients,
            })
        }
        .map_err(|e| match e {
            TrainError::Diverged(d) => TrainError::Diverged(Divergence {
                step: d.step + steps_before,
                ..d
            }),
            other => other,
        })?;
        steps_before += epoch_stats.steps;
        stats.push(epoch_stats);
    }
    Ok(stats)
}

/// A copy of `layers` with every parameter 0, for gradients and velocities.
fn zeroed<L: Parameters + Clone>(layers: &L) -> L {
    let mut zero = layers.clone();
    zero.visit_mut(&mut |p| p.fill(0.0));
    zero
}

/// One epoch of mini-batch SGD with momentum, as [`Work`].
struct Batches<'a, L, F: Loss<L::Output>>
where
    L: SparseTrain<PIXELS>,
    F::Target: Sized,
{
    network: &'a mut Network<L, F>,
    images: &'a SparseImages,
    targets: &'a [F::Target],
    order: &'a [usize],
    epoch: usize,
    schedule: &'a Schedule,
    velocity: &'a mut L,
    gradients: &'a mut L,
}

impl<L, F> Work for Batches<'_, L, F>
where
    L: SparseTrain<PIXELS>,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
    F::Target: Sized,
{
    type Output = Result<EpochStats, TrainError>;

    #[inline(always)]
    fn run(self) -> Self::Output {
        let Batches {
            network,
            images,
            targets,
            order,
            epoch,
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
                let (Some(image), Some(target)) = (images.get(sample), targets.get(sample)) else {
                    continue;
                };
                let step = network.accumulate_gradient_sparse(image, target, gradients);
                total += f64::from(locate(step, epoch, sample, steps)?);
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
            let loss = f32::NAN;
            return Err(TrainError::Diverged(Divergence {
                epoch,
                sample: order.last().copied().unwrap_or(0),
                step: steps,
                loss,
            }));
        }
        let mean_loss = if steps == 0 {
            0.0
        } else {
            total / steps as f64
        };
        Ok(EpochStats { mean_loss, steps })
    }
}
