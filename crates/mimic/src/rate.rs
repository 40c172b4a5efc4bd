//! Learning-rate schedules: the rate of every update as a function of the epoch
//! and the update's place in training.

use crate::setting::{InvalidSetting, count, fraction, positive, require};

/// How the learning rate changes during training: a multiple of the optimizer's
/// own rate `η` (`Sgd::new(η)`, `Adam::new(η)`, …) for every update.
///
/// ```
/// use mimic::RateSchedule;
///
/// let cosine = RateSchedule::Cosine { warmup: 10, floor: 0.0 };
/// assert_eq!(cosine.at(1.0, 0, 0, 110), 0.1); // warming up: (t + 1)/10
/// assert_eq!(cosine.at(1.0, 0, 10, 110), 1.0); // the peak
/// assert!(cosine.at(1.0, 0, 109, 110) < 0.001); // annealed to the floor
/// assert_eq!(RateSchedule::Step { every: 2, factor: 0.5 }.at(1.0, 5, 0, 1), 0.25);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum RateSchedule {
    /// `η` throughout.
    #[default]
    Constant,
    /// `η·γᵉ` in epoch `e` (0-based).
    Exponential {
        /// `γ`.
        factor: f32,
    },
    /// `η·γ^⌊e/k⌋` in epoch `e`: multiplied by `γ` every `k` epochs.
    Step {
        /// `k`, epochs between changes (≥ 1).
        every: usize,
        /// `γ`.
        factor: f32,
    },
    /// Linear warm-up over the first `warmup` updates, `η·(t + 1)/warmup`, then
    /// cosine annealing from `η` down to `η·floor` at the last update.
    Cosine {
        /// Updates of warm-up (0 = none).
        warmup: usize,
        /// The final rate as a fraction of `η`.
        floor: f32,
    },
}

impl RateSchedule {
    /// The rate of update `step` (0-based, counted over all of training, of
    /// `steps` in all) in `epoch`, for base rate `base`.
    pub fn at(self, base: f32, epoch: usize, step: usize, steps: usize) -> f32 {
        match self {
            RateSchedule::Constant => base,
            RateSchedule::Exponential { factor } => base * factor.powi(to_i32(epoch)),
            RateSchedule::Step { every, factor } => {
                base * factor.powi(to_i32(epoch / every.max(1)))
            }
            RateSchedule::Cosine { warmup, floor } => {
                if step < warmup {
                    return base * (step + 1) as f32 / warmup as f32;
                }
                let span = steps.saturating_sub(warmup).max(2) - 1;
                let progress = (step - warmup).min(span) as f64 / span as f64;
                let cosine = 0.5 * (1.0 + (core::f64::consts::PI * progress).cos());
                let floor = f64::from(floor);
                (f64::from(base) * (floor + (1.0 - floor) * cosine)) as f32
            }
        }
    }

    /// Whether every setting is in its range for a training of `updates`
    /// updates, or the first that is not: a factor `γ` must be a finite
    /// number above 0 (0 stops training after the first epoch, a negative one flips the
    /// rate's sign every epoch), a step schedule's `k` at least 1, a cosine's
    /// floor in `[0, 1]` (a fraction of the rate: above 1 the rate would rise)
    /// and its warm-up no longer than training (when there is any). [`Network::fit`](crate::Network::fit)
    /// trains nothing with such a schedule.
    ///
    /// ```
    /// use mimic::RateSchedule;
    ///
    /// assert!(RateSchedule::Exponential { factor: 0.9 }.check(100).is_ok());
    /// let error = RateSchedule::Cosine { warmup: 0, floor: -0.5 }.check(100).unwrap_err();
    /// assert_eq!(error.name, "cosine floor");
    /// assert!(RateSchedule::Cosine { warmup: 101, floor: 0.0 }.check(100).is_err());
    /// ```
    pub fn check(self, updates: usize) -> Result<(), InvalidSetting> {
        match self {
            RateSchedule::Constant => Ok(()),
            RateSchedule::Exponential { factor } => positive("decay factor", factor),
            RateSchedule::Step { every, factor } => {
                require(
                    every >= 1,
                    "step schedule's every",
                    count(every),
                    "at least 1",
                )?;
                positive("decay factor", factor)
            }
            RateSchedule::Cosine { warmup, floor } => {
                fraction("cosine floor", floor)?;
                require(
                    warmup <= updates || updates == 0,
                    "warm-up",
                    count(warmup),
                    "at most the number of updates in training",
                )
            }
        }
    }

    /// Whether the rate can change within an epoch (then it is computed per update).
    pub fn changes_within_epochs(self) -> bool {
        matches!(self, RateSchedule::Cosine { .. })
    }
}

fn to_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_follow_their_formulas() {
        let exponential = RateSchedule::Exponential { factor: 0.85 };
        assert_eq!(exponential.at(0.1, 0, 0, 0), 0.1);
        assert_eq!(exponential.at(0.1, 3, 0, 0), 0.1 * 0.85f32.powi(3));
        let step = RateSchedule::Step {
            every: 3,
            factor: 0.1,
        };
        let rates: Vec<f32> = (0..7).map(|e| step.at(1.0, e, 0, 0)).collect();
        assert_eq!(rates[..3], [1.0; 3]);
        assert_eq!(rates[3..6], [0.1; 3]);
        assert!((rates[6] - 0.01).abs() < 1e-9);
        let cosine = RateSchedule::Cosine {
            warmup: 4,
            floor: 0.1,
        };
        let total = 104;
        let rates: Vec<f32> = (0..total).map(|t| cosine.at(2.0, 0, t, total)).collect();
        assert_eq!(rates[..4], [0.5, 1.0, 1.5, 2.0]);
        assert_eq!(rates[4], 2.0);
        assert!(
            (rates[total - 1] - 0.2).abs() < 1e-6,
            "{}",
            rates[total - 1]
        );
        let middle = 4 + (total - 5) / 2;
        let expected = 2.0
            * (0.1
                + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * ((middle - 4) as f64 / 99.0)).cos()));
        assert!((f64::from(rates[middle]) - expected).abs() < 1e-6);
        assert!(
            rates[4..].windows(2).all(|w| w[1] <= w[0]),
            "annealing never rises"
        );
        assert!(!RateSchedule::Constant.changes_within_epochs() && cosine.changes_within_epochs());
    }
}
