//! Knowledge distillation: a student learns from a teacher's outputs.
//!
//! The seed matched the teacher's raw output vector with MSE ([`Mse`](crate::Mse)).
//! [`Distillation`] is Hinton et al.'s loss instead: the student's
//! temperature-softened distribution is pulled towards the teacher's, mixed with
//! ordinary cross-entropy on the true label.

use crate::loss::{CrossEntropy, Loss, LossError};
use crate::math::{exp64, ln64};

/// What a distilled student is trained towards: the teacher's logits for the
/// sample, and its true class.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SoftTarget<const N: usize> {
    /// The teacher's output vector (its logits).
    pub logits: [f32; N],
    /// The true class.
    pub class: usize,
}

/// `α · T² · KL(softmax(t/T) ‖ softmax(s/T)) + (1 − α) · CE(s, class)` for
/// student logits `s` and teacher logits `t`.
///
/// The soft term's gradient, `T · (softmax(s/T) − softmax(t/T))`, is scaled by T²
/// so that its size does not shrink as the temperature rises (Hinton et al., 2015).
/// `α = 1` learns from the teacher alone; `α = 0` is plain cross-entropy.
/// Finite for all finite logits and every `T > 0`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Distillation {
    /// The softening temperature `T` (> 0; 1 = the plain softmax).
    pub temperature: f32,
    /// Weight `α` of the soft term, in `[0, 1]`.
    pub alpha: f32,
}

impl Distillation {
    /// A distillation loss with temperature `temperature` and soft weight `alpha`.
    pub const fn new(temperature: f32, alpha: f32) -> Self {
        Self { temperature, alpha }
    }
}

/// `softmax(x / t)` and `ln softmax(x / t)` in f64, from one set of exponentials:
/// `(x − max)/t − ln Σ exp((x − max)/t)`, the probabilities `exp(·)/Σ`.
/// Subtracting the max before dividing means no finite `x` and `t > 0` can
/// overflow (a difference that does overflow is `−∞`, whose `exp` is rightly 0).
#[inline(always)]
fn softmax_and_log<const N: usize>(x: &[f32; N], t: f64) -> ([f64; N], [f64; N]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let shifted = x.map(|v| (f64::from(v) - f64::from(max)) / t);
    let exps = shifted.map(exp64);
    let sum = exps.iter().sum::<f64>();
    let log_sum = ln64(sum);
    (exps.map(|e| e / sum), shifted.map(|v| v - log_sum))
}

impl<const N: usize> Loss<[f32; N]> for Distillation {
    type Target = SoftTarget<N>;

    /// The soft term is computed in f64: at high temperatures the two
    /// distributions are close, and their KL divergence is a small difference of
    /// large logarithms that f32 would lose. With `α = 1` the hard term's weight
    /// is 0 and it is not computed (the class is still checked).
    #[inline(always)]
    fn loss_and_gradient(
        &self,
        output: &[f32; N],
        target: &SoftTarget<N>,
    ) -> Result<(f32, [f32; N]), LossError> {
        let (t, alpha) = (f64::from(self.temperature), f64::from(self.alpha));
        let (hard_loss, hard_gradient) = if alpha == 1.0 {
            if target.class >= N {
                return Err(LossError::ClassOutOfRange {
                    class: target.class,
                    classes: N,
                });
            }
            (0.0, [0.0; N])
        } else {
            CrossEntropy.loss_and_gradient(output, &target.class)?
        };
        let (q, log_q) = softmax_and_log(output, t);
        let (p, log_p) = softmax_and_log(&target.logits, t);
        let mut kl = 0.0f64;
        let mut gradient = [0.0; N];
        for o in 0..N {
            if p[o] > 0.0 {
                kl += p[o] * (log_p[o] - log_q[o]); // 0 · ln 0 is 0, not NaN
            }
            let soft = alpha * t * (q[o] - p[o]);
            gradient[o] = (soft + (1.0 - alpha) * f64::from(hard_gradient[o])) as f32;
        }
        // KL ≥ 0 in exact arithmetic; rounding can leave a tiny negative value.
        let soft_loss = t * t * kl.max(0.0);
        let soft_part = if alpha > 0.0 { alpha * soft_loss } else { 0.0 }; // never 0 · ∞
        let loss = soft_part + (1.0 - alpha) * f64::from(hard_loss);
        Ok(((loss as f32).min(f32::MAX), gradient))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_the_teacher_costs_nothing_soft() {
        let logits = [1.0, -2.0, 0.5];
        let target = SoftTarget { logits, class: 0 };
        let (loss, gradient) = Distillation::new(4.0, 1.0)
            .loss_and_gradient(&logits, &target)
            .unwrap();
        assert!(loss.abs() < 1e-5, "{loss}");
        assert!(gradient.iter().all(|g| g.abs() < 1e-6), "{gradient:?}");
    }

    #[test]
    fn alpha_zero_is_cross_entropy() {
        let target = SoftTarget {
            logits: [9.0, 0.0, 0.0],
            class: 2,
        };
        let s = [0.3, -0.1, 0.7];
        let kd = Distillation::new(3.0, 0.0)
            .loss_and_gradient(&s, &target)
            .unwrap();
        let ce = CrossEntropy.loss_and_gradient(&s, &2).unwrap();
        assert_eq!(kd, ce);
    }

    #[test]
    fn extreme_logits_stay_finite() {
        for t in [0.5, 1.0, 8.0, 1000.0] {
            let target = SoftTarget {
                logits: [1e30, -1e30, 0.0],
                class: 1,
            };
            let (loss, g) = Distillation::new(t, 0.5)
                .loss_and_gradient(&[-1e30, 1e30, 3.0], &target)
                .unwrap();
            assert!(
                loss.is_finite() && g.iter().all(|v| v.is_finite()),
                "T={t}: {loss} {g:?}"
            );
        }
    }
}
