//! The study's data: MNIST's training set split into a fit part and a validation
//! part (which chooses every setting), the test set (which chooses nothing), and
//! the variants the questions need — fewer labels, noisy labels, a class left out.

use mimic_mnist::{Dataset, Scaling};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;

use crate::experiment::Samples;

/// Fit, validation and test samples.
pub struct Split {
    /// What every network trains on (the training set less the validation split).
    pub fit: Samples,
    /// The last `validation` training images: every choice is made here.
    pub validation: Samples,
    /// The 10,000 test images: scored, never consulted.
    pub test: Samples,
    /// Fit and validation together (every training image), for the reference
    /// ablation only: nothing trained on it is chosen by validation.
    pub all: Samples,
}

impl Split {
    /// The first `limit` training images (all if `None`), less the last
    /// `validation` of them, and the test set; pixels ÷ 255.
    pub fn new(train: &Dataset, test: &Dataset, limit: Option<usize>, validation: usize) -> Self {
        let limited = limit.map_or_else(|| train.clone(), |n| train.truncated(n));
        let (fit, held_out) = limited.split_off_last(validation);
        Self {
            fit: Samples::new(&fit, Scaling::Divide255),
            validation: Samples::new(&held_out, Scaling::Divide255),
            test: Samples::new(test, Scaling::Divide255),
            all: Samples::new(&limited, Scaling::Divide255),
        }
    }
}

/// `count` indices of `0..n`, drawn without replacement from `seed`, in increasing order.
pub fn subset(n: usize, count: usize, seed: u64) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    all.shuffle(&mut Pcg64::seed_from_u64(seed));
    all.truncate(count.min(n));
    all.sort_unstable();
    all
}

/// The samples at `keep`.
pub fn select(samples: &Samples, keep: &[usize]) -> Samples {
    Samples {
        inputs: samples.inputs.select(keep.iter().copied()),
        classes: keep.iter().map(|&k| samples.classes[k]).collect(),
    }
}

/// The indices of every sample whose class is not `class`.
pub fn without_class(samples: &Samples, class: usize) -> Vec<usize> {
    (0..samples.len())
        .filter(|&k| samples.classes[k] != class)
        .collect()
}

/// Symmetric label noise: each class, with probability `rate`, replaced by one of
/// the other nine drawn uniformly (so exactly `rate` of the labels are wrong in
/// expectation). Deterministic for a seed.
pub fn noisy_labels(classes: &[usize], rate: f64, seed: u64) -> Vec<usize> {
    let mut rng = Pcg64::seed_from_u64(seed);
    classes
        .iter()
        .map(|&c| {
            if rng.random::<f64>() < rate {
                (c + rng.random_range(1..10)) % 10
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_flips_about_its_rate_and_never_to_the_same_class() {
        let classes: Vec<usize> = (0..20_000).map(|k| k % 10).collect();
        let noisy = noisy_labels(&classes, 0.2, 7);
        let flipped = classes.iter().zip(&noisy).filter(|(a, b)| a != b).count();
        let rate = flipped as f64 / classes.len() as f64;
        assert!((rate - 0.2).abs() < 0.01, "{rate}");
        assert!(noisy.iter().all(|&c| c < 10));
        assert_eq!(noisy, noisy_labels(&classes, 0.2, 7));
        // Wrong labels are spread over the other classes.
        let to: Vec<usize> = (0..10)
            .map(|c| {
                classes
                    .iter()
                    .zip(&noisy)
                    .filter(|&(&a, &b)| a == 0 && b == c)
                    .count()
            })
            .collect();
        assert_eq!(
            to[0],
            classes
                .iter()
                .zip(&noisy)
                .filter(|&(&a, &b)| a == 0 && b == 0)
                .count()
        );
        assert!(to[1..].iter().all(|&n| n > 20), "{to:?}");
    }

    #[test]
    fn subsets_are_sorted_distinct_and_seeded() {
        let s = subset(1000, 100, 3);
        assert_eq!(s.len(), 100);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(s, subset(1000, 100, 3));
        assert_ne!(s, subset(1000, 100, 4));
        assert_eq!(subset(5, 100, 1), vec![0, 1, 2, 3, 4]);
    }
}
