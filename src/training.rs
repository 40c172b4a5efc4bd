//! Training and evaluation loops over MNIST images, shared by every example.
//!
//! The seed copy-pasted its train and test loops into each script; here they exist
//! once. Images are prepared once as [`SparseImages`] (nonzero pixels, already
//! ÷255), so a pass over 60,000 images allocates nothing and skips the 81% of
//! pixels that are zero; the results are bit-identical to dense inputs.

use core::fmt;

use crate::data::{Dataset, PIXELS};
use crate::kernels::{Work, dispatch};
use crate::loss::{Loss, LossError};
use crate::module::SparseTrain;
use crate::network::{Network, StepError};
use crate::sparse::{Scaling, SparseImages};

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
                "training diverged at epoch {}, sample {} (step {}): the loss or its gradient is not finite (loss = {:e})",
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
    images: &SparseImages,
    targets: &[F::Target],
    order: Option<&[usize]>,
    epoch: usize,
) -> Result<EpochStats, TrainError>
where
    L: SparseTrain<PIXELS>,
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
    dispatch(Epoch {
        network,
        images,
        targets,
        order,
        epoch,
    })
}

/// One epoch, as [`Work`] compiled for the CPU's widest vectors.
struct Epoch<'a, L, F: Loss<L::Output>>
where
    L: SparseTrain<PIXELS>,
    F::Target: Sized,
{
    network: &'a mut Network<L, F>,
    images: &'a SparseImages,
    targets: &'a [F::Target],
    order: Option<&'a [usize]>,
    epoch: usize,
}

impl<L, F> Work for Epoch<'_, L, F>
where
    L: SparseTrain<PIXELS>,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
    F::Target: Sized,
{
    type Output = Result<EpochStats, TrainError>;

    #[inline(always)]
    fn run(self) -> Self::Output {
        let (mut total, mut steps) = (0.0f64, 0);
        let all = self.images.len();
        let count = self.order.map_or(all, <[usize]>::len);
        for k in 0..count {
            let sample = self.order.map_or(k, |order| order[k]);
            let (Some(image), Some(target)) = (self.images.get(sample), self.targets.get(sample))
            else {
                continue; // an order naming a sample that doesn't exist: skip it
            };
            let step = self.network.train_step_sparse(image, target);
            total += f64::from(locate(step, self.epoch, sample, steps)?);
            steps += 1;
        }
        let mean_loss = if steps == 0 {
            0.0
        } else {
            total / steps as f64
        };
        Ok(EpochStats { mean_loss, steps })
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
    })
}

/// Class labels as the `usize` targets that [`CrossEntropy`](crate::CrossEntropy) takes.
pub fn class_targets(labels: &[u8]) -> Vec<usize> {
    labels.iter().map(|&l| usize::from(l)).collect()
}

/// A data set prepared for training: images as [`SparseImages`] beside their labels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Samples {
    /// The images, nonzero pixels only, ÷255.
    pub images: SparseImages,
    /// The labels (0–9).
    pub labels: Vec<u8>,
}

impl Samples {
    /// Prepares every image of `data` once, pixels divided by 255.
    pub fn new(data: &Dataset) -> Self {
        Self::with_scaling(data, Scaling::Divide255)
    }

    /// Prepares every image of `data` once, pixels scaled as `scaling` says.
    pub fn with_scaling(data: &Dataset, scaling: Scaling) -> Self {
        Self {
            images: SparseImages::with_scaling(data.images(), scaling),
            labels: data.labels().to_vec(),
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The labels as the `usize` class targets that cross-entropy takes.
    pub fn class_targets(&self) -> Vec<usize> {
        class_targets(&self.labels)
    }
}

/// The fraction of samples whose predicted class equals the label (0 when empty).
pub fn accuracy<L, F>(network: &Network<L, F>, samples: &Samples) -> f32
where
    L: SparseTrain<PIXELS>,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
{
    let correct = dispatch(Evaluate { network, samples });
    let total = samples.images.len().min(samples.labels.len());
    if total == 0 {
        0.0
    } else {
        correct as f32 / total as f32
    }
}

/// The network's output for every image, e.g. a teacher's targets for its students.
pub fn outputs<L, F>(network: &Network<L, F>, images: &SparseImages) -> Vec<L::Output>
where
    L: SparseTrain<PIXELS>,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
{
    dispatch(Outputs { network, images })
}

/// Counting correct predictions, as [`Work`].
struct Evaluate<'a, L, F> {
    network: &'a Network<L, F>,
    samples: &'a Samples,
}

impl<L, F> Work for Evaluate<'_, L, F>
where
    L: SparseTrain<PIXELS>,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
{
    type Output = usize;

    #[inline(always)]
    fn run(self) -> usize {
        let mut correct = 0;
        for (image, &label) in self.samples.images.iter().zip(&self.samples.labels) {
            correct += usize::from(self.network.predict_sparse(image) == usize::from(label));
        }
        correct
    }
}

/// Every output, as [`Work`].
struct Outputs<'a, L, F> {
    network: &'a Network<L, F>,
    images: &'a SparseImages,
}

impl<L, F> Work for Outputs<'_, L, F>
where
    L: SparseTrain<PIXELS>,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
{
    type Output = Vec<L::Output>;

    #[inline(always)]
    fn run(self) -> Self::Output {
        let mut outputs = Vec::with_capacity(self.images.len());
        for image in self.images.iter() {
            outputs.push(self.network.forward_sparse(image));
        }
        outputs
    }
}
