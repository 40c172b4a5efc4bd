//! Inference over many inputs: outputs, predictions, accuracy and the confusion
//! matrix, on one thread or several.
//!
//! Every output is computed by the same per-sample code, compiled for the CPU's
//! widest vectors; threads only split the rows into contiguous ranges, so the
//! results are identical to calling [`Network::forward`] on each input, whatever
//! the thread count.

use std::collections::BTreeMap;

use crate::inputs::{Input, InputsOf};
use crate::kernels::{Work, dispatch};
use crate::loss::Loss;
use crate::module::Train;
use crate::network::{Network, argmax};

/// Inference over many inputs. `inputs` is any collection of the network's
/// inputs ([`InputsOf`]): a slice, array or `Vec` of `[f32; N]`, or
/// [`SparseRows<N>`](crate::SparseRows).
impl<L, F> Network<L, F>
where
    L: Train + Sync,
    L::Output: AsRef<[f32]> + Send,
    F: Loss<L::Output> + Sync,
{
    /// The output for every input, in order, computed on `threads` threads
    /// (1 = this one; more than the rows or the cores the system reports are
    /// not started): the same bits for any thread count, each row by the same
    /// code as [`Network::forward`].
    pub fn forward_batch<X: InputsOf<L> + ?Sized>(
        &self,
        inputs: &X,
        threads: usize,
    ) -> Vec<L::Output> {
        outputs(self, inputs, threads)
    }

    /// The predicted class of every input, in order, on `threads` threads (the
    /// same for any thread count).
    ///
    /// ```
    /// use mimic::{Dense, Identity, Mse, Network};
    ///
    /// let net: Network<Dense<2, 2, Identity>, _> = Network::seeded(3, Mse);
    /// let inputs = vec![[1.0, 0.0]; 100];
    /// assert_eq!(net.predict_batch(&inputs, 1), net.predict_batch(&inputs, 4));
    /// ```
    pub fn predict_batch<X: InputsOf<L> + ?Sized>(&self, inputs: &X, threads: usize) -> Vec<usize> {
        predictions(&self.forward_batch(inputs, threads))
    }

    /// The fraction of `inputs` whose predicted class is the one in `classes`
    /// (0 when empty), on this thread.
    pub fn accuracy<X: InputsOf<L> + ?Sized>(&self, inputs: &X, classes: &[usize]) -> f32 {
        accuracy(&self.predict_batch(inputs, 1), classes)
    }

    /// How often each class in `classes` was predicted as each class, on this
    /// thread.
    pub fn confusion<X: InputsOf<L> + ?Sized>(
        &self,
        inputs: &X,
        classes: &[usize],
    ) -> ConfusionMatrix {
        let outputs = self.forward_batch(inputs, 1);
        let width = outputs.first().map_or(0, |o| o.as_ref().len());
        ConfusionMatrix::new(width, &predictions(&outputs), classes)
    }
}

/// How often each true class was predicted as each class.
///
/// Only the pairs that occur are stored, so any number of classes is
/// representable (no `classes²` table to overflow or allocate). A pair with a
/// class outside `0..classes` is in no cell but is still a sample: it counts in
/// [`ConfusionMatrix::total`] and [`ConfusionMatrix::outside`], and as correct
/// when its two classes are equal — so [`ConfusionMatrix::accuracy`] is always
/// [`accuracy`] of the same predictions.
///
/// ```
/// use mimic::ConfusionMatrix;
///
/// let m = ConfusionMatrix::new(3, &[0, 2, 2, 1], &[0, 2, 1, 1]);
/// assert_eq!(m.count(1, 2), 1); // one true 1 predicted as 2
/// assert_eq!(m.accuracy(), 0.75);
/// assert_eq!(m.recall(1), 0.5);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfusionMatrix {
    classes: usize,
    /// `(truth, predicted) → count`, for pairs inside `0..classes`.
    counts: BTreeMap<(usize, usize), u64>,
    /// Pairs with a class outside `0..classes`.
    outside: u64,
    /// Of those, pairs whose two classes are equal.
    outside_correct: u64,
}

impl ConfusionMatrix {
    /// Counts `(truth, predicted)` pairs over `classes` classes (pairs beyond
    /// the shorter of the two lists are ignored, as [`accuracy`] does).
    pub fn new(classes: usize, predicted: &[usize], truth: &[usize]) -> Self {
        let mut matrix = Self {
            classes,
            counts: BTreeMap::new(),
            outside: 0,
            outside_correct: 0,
        };
        for (&p, &t) in predicted.iter().zip(truth) {
            if p < classes && t < classes {
                *matrix.counts.entry((t, p)).or_insert(0) += 1;
            } else {
                matrix.outside += 1;
                matrix.outside_correct += u64::from(p == t);
            }
        }
        matrix
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// How many samples of class `truth` were predicted as `predicted` (0 for
    /// a class outside `0..classes`).
    pub fn count(&self, truth: usize, predicted: usize) -> u64 {
        self.counts.get(&(truth, predicted)).copied().unwrap_or(0)
    }

    /// Samples counted, those with a class outside `0..classes` included.
    pub fn total(&self) -> u64 {
        self.counts.values().sum::<u64>() + self.outside
    }

    /// Samples whose true or predicted class is outside `0..classes`.
    pub fn outside(&self) -> u64 {
        self.outside
    }

    /// The fraction predicted correctly, over every sample counted (0 when
    /// empty): the same as [`accuracy`] of the same predictions.
    pub fn accuracy(&self) -> f64 {
        let diagonal: u64 = self
            .counts
            .iter()
            .filter(|((t, p), _)| t == p)
            .map(|(_, &n)| n)
            .sum();
        ratio(diagonal + self.outside_correct, self.total())
    }

    /// The fraction of class `class` predicted as `class` (0 when it never occurs).
    pub fn recall(&self, class: usize) -> f64 {
        let row: u64 = self
            .counts
            .range((class, 0)..=(class, usize::MAX))
            .map(|(_, &n)| n)
            .sum();
        ratio(self.count(class, class), row)
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The fraction of `predicted` equal to `truth`, over the shorter of the two (0
/// when empty).
pub fn accuracy(predicted: &[usize], truth: &[usize]) -> f32 {
    let n = predicted.len().min(truth.len());
    let correct = predicted.iter().zip(truth).filter(|(p, t)| p == t).count();
    if n == 0 {
        0.0
    } else {
        correct as f32 / n as f32
    }
}

/// Every output of `network` on `inputs`, split over `threads` contiguous ranges
/// — at most one per row and one per core the system reports, since the results
/// are the same for any count. A thread the system cannot start is no error: its
/// range is computed on the calling thread instead.
fn outputs<L, F, X>(network: &Network<L, F>, inputs: &X, threads: usize) -> Vec<L::Output>
where
    L: Train + Sync,
    L::Output: Send,
    X: InputsOf<L> + ?Sized,
{
    let count = inputs.len();
    let mut threads = threads.clamp(1, count.max(1));
    if threads > 1 {
        // Asked only when it matters: on Linux it reads the process's limits.
        let cores = std::thread::available_parallelism().map_or(1, core::num::NonZeroUsize::get);
        threads = threads.min(cores);
    }
    let layers = &network.layers;
    let rows = move |range| {
        dispatch(Outputs {
            layers,
            inputs,
            range,
        })
    };
    if threads == 1 {
        return rows(0..count);
    }
    let chunk = count.div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = (0..threads)
            .map(|t| {
                let range = (t * chunk).min(count)..((t + 1) * chunk).min(count);
                std::thread::Builder::new()
                    .spawn_scoped(scope, {
                        let range = range.clone();
                        move || rows(range)
                    })
                    .map_err(|_| range)
            })
            .collect();
        let mut all = Vec::with_capacity(count);
        for part in parts {
            match part {
                // A worker panics only if the network's own code does; re-raise it here.
                Ok(worker) => all.extend(
                    worker
                        .join()
                        .unwrap_or_else(|e| std::panic::resume_unwind(e)),
                ),
                Err(range) => all.extend(rows(range)),
            }
        }
        all
    })
}

/// The outputs for rows `range`, as [`Work`].
struct Outputs<'a, L, X: ?Sized> {
    layers: &'a L,
    inputs: &'a X,
    range: core::ops::Range<usize>,
}

impl<L, X> Work for Outputs<'_, L, X>
where
    L: Train,
    X: InputsOf<L> + ?Sized,
{
    type Output = Vec<L::Output>;

    #[inline(always)]
    fn run(self) -> Self::Output {
        let mut outputs = Vec::with_capacity(self.range.len());
        for k in self.range {
            if let Some(input) = self.inputs.input(k) {
                outputs.push(input.forward(self.layers));
            }
        }
        outputs
    }
}

/// The predicted class of every output.
fn predictions<O: AsRef<[f32]>>(outputs: &[O]) -> Vec<usize> {
    outputs.iter().map(|o| argmax(o.as_ref())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A matrix of `usize::MAX` classes is built (its `classes²` table used to
    /// overflow), and answers without walking every class.
    #[test]
    fn any_number_of_classes_is_representable() {
        let m = ConfusionMatrix::new(usize::MAX, &[3, usize::MAX - 1], &[3, 7]);
        assert_eq!(
            (m.total(), m.count(3, 3), m.count(7, usize::MAX - 1)),
            (2, 1, 1)
        );
        assert_eq!(m.accuracy(), 0.5);
        assert_eq!(m.recall(7), 0.0);
        assert_eq!(m.recall(3), 1.0);
    }

    /// With classes outside the matrix, its accuracy is still `accuracy`'s.
    #[test]
    fn accuracy_agrees_with_the_free_function_out_of_range() {
        let predicted = [0, 1, 2, 5, 7, 1];
        let truth = [0, 9, 2, 5, 1, 1];
        let m = ConfusionMatrix::new(3, &predicted, &truth);
        assert_eq!(m.total(), 6);
        assert_eq!(m.outside(), 3);
        assert_eq!(m.accuracy() as f32, accuracy(&predicted, &truth));
        assert_eq!(m.accuracy(), 4.0 / 6.0);
    }
}
