//! Training and evaluation loops over MNIST images, shared by every example.
//!
//! The seed copy-pasted its train and test loops into each script; here they exist
//! once. Images stay `u8` in memory and are scaled (÷255) one at a time into a stack
//! buffer, so a pass over 60,000 images allocates nothing per sample.

use core::fmt;

use crate::data::{PIXELS, scale_pixels};
use crate::loss::{Loss, LossError};
use crate::module::Train;
use crate::network::{Network, StepError};

/// Where and how training went wrong.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainError {
    /// The loss or gradient became NaN or infinite (see [`Divergence`]).
    Diverged(Divergence),
    /// A target the loss rejects, e.g. a label ≥ the number of classes.
    Target {
        /// Index of the sample in the data set.
        sample: usize,
        /// What the loss said.
        source: LossError,
    },
    /// There are not as many targets as images.
    LengthMismatch {
        /// Number of images.
        images: usize,
        /// Number of targets.
        targets: usize,
    },
}

/// The step at which training diverged. The network keeps the weights it had
/// before that step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Divergence {
    /// 0-based epoch.
    pub epoch: usize,
    /// 0-based index of the sample in the data set.
    pub sample: usize,
    /// How many steps had succeeded before, counting from the start of training.
    pub step: usize,
    /// The non-finite loss.
    pub loss: f32,
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::Diverged(d) => write!(
                f,
                "training diverged at epoch {}, sample {} (step {}): loss = {}",
                d.epoch + 1,
                d.sample,
                d.step,
                d.loss
            ),
            TrainError::Target { sample, .. } => write!(f, "invalid target for sample {sample}"),
            TrainError::LengthMismatch { images, targets } => write!(
                f,
                "{images} images but {targets} targets: expected one target per image"
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

/// What one pass over the data measured.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EpochStats {
    /// Mean training loss over the pass (each sample's loss before its update).
    pub mean_loss: f64,
    /// Number of steps taken.
    pub steps: usize,
}

/// Per-sample SGD over `images` in the given `order` (all of them, in order, if
/// `None`), image `k` trained towards `targets[k]`: one epoch of the seed's training.
///
/// `epoch` and `steps_before` only label a [`Divergence`].
pub fn train_epoch<L, F>(
    network: &mut Network<L, F>,
    images: &[[u8; PIXELS]],
    targets: &[F::Target],
    order: Option<&[usize]>,
    epoch: usize,
) -> Result<EpochStats, TrainError>
where
    L: Train<Input = [f32; PIXELS]>,
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
    let mut total = 0.0f64;
    let mut steps = 0;
    let mut step = |sample: usize| -> Result<(), TrainError> {
        let (Some(image), Some(target)) = (images.get(sample), targets.get(sample)) else {
            return Ok(()); // an order naming a sample that doesn't exist: skip it
        };
        match network.train_step(&scale_pixels(image), target) {
            Ok(loss) => {
                total += f64::from(loss);
                steps += 1;
                Ok(())
            }
            Err(StepError::NonFinite { loss }) => Err(TrainError::Diverged(Divergence {
                epoch,
                sample,
                step: steps,
                loss,
            })),
            Err(StepError::Target(source)) => Err(TrainError::Target { sample, source }),
        }
    };
    match order {
        Some(order) => order.iter().try_for_each(|&s| step(s))?,
        None => (0..images.len()).try_for_each(&mut step)?,
    }
    Ok(EpochStats {
        mean_loss: if steps == 0 {
            0.0
        } else {
            total / steps as f64
        },
        steps,
    })
}

/// Class labels as the `usize` targets that [`CrossEntropy`](crate::CrossEntropy) takes.
pub fn class_targets(labels: &[u8]) -> Vec<usize> {
    labels.iter().map(|&l| usize::from(l)).collect()
}

/// The fraction of images whose predicted class equals the label (0 when empty).
pub fn accuracy<L, F>(network: &Network<L, F>, images: &[[u8; PIXELS]], labels: &[u8]) -> f32
where
    L: Train<Input = [f32; PIXELS]>,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
{
    network.accuracy(
        images
            .iter()
            .zip(labels)
            .map(|(image, &label)| (scale_pixels(image), usize::from(label))),
    )
}

/// The network's output for every image, e.g. a teacher's targets for its students.
pub fn outputs<L, F>(network: &Network<L, F>, images: &[[u8; PIXELS]]) -> Vec<L::Output>
where
    L: Train<Input = [f32; PIXELS]>,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
{
    images
        .iter()
        .map(|image| network.forward(&scale_pixels(image)))
        .collect()
}
