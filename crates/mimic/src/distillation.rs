//! Knowledge distillation: a student learns from a teacher's outputs.
//!
//! The seed matched the teacher's raw output vector with MSE ([`Mse`](crate::Mse)).
//! [`Distillation`] is Hinton et al.'s loss instead: the student's
//! temperature-softened distribution is pulled towards the teacher's, mixed with
//! ordinary cross-entropy on the true label.

use crate::loss::{CrossEntropy, Loss, LossError};
use crate::math::{self, exp64, ln64};
use crate::setting::{InvalidSetting, fraction, positive};

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

    /// Whether the temperature is a finite number > 0 and `α` is in `[0, 1]`.
    ///
    /// ```
    /// use mimic::Distillation;
    ///
    /// assert!(Distillation::new(4.0, 0.5).check().is_ok());
    /// assert_eq!(Distillation::new(0.0, 0.5).check().unwrap_err().name, "temperature");
    /// assert_eq!(Distillation::new(4.0, -0.1).check().unwrap_err().name, "alpha");
    /// ```
    pub fn check(&self) -> Result<(), InvalidSetting> {
        positive("temperature", self.temperature)?;
        fraction("alpha", self.alpha)
    }
}

/// A softened distribution `softmax(x / t)` and its logarithm, in f64.
type Softened<const N: usize> = ([f64; N], [f64; N]);

/// `softmax(x / t)` and `ln softmax(x / t)` in f64 for each of `xs`, from one
/// set of exponentials: `(x − max)/t − ln Σ exp((x − max)/t)`, the
/// probabilities `exp(·)/Σ`. Subtracting the max before scaling by `1/t` means
/// no finite `x` and `t > 0` can overflow (a difference that does overflow is
/// `−∞`, whose `exp` is rightly 0).
///
/// The `K` vectors' exponentials are one loop over `K·N` numbers: a teacher's
/// and a student's ten each are two and a half 8-lane vectors, where two
/// separate softmaxes would be two full ones and two 2-lane remainders. Each
/// number's arithmetic, and each vector's sum, is the same either way.
#[inline(always)]
fn softened<const N: usize, const K: usize>(xs: [&[f32; N]; K], t: f64) -> [Softened<N>; K] {
    let scale = 1.0 / t; // one division, not one per logit on the critical path
    let shifted = xs.map(|x| {
        let max = f64::from(math::max(x));
        x.map(|v| (f64::from(v) - max) * scale)
    });
    let mut exps = [[0.0; N]; K];
    for (e, &v) in exps
        .as_flattened_mut()
        .iter_mut()
        .zip(shifted.as_flattened())
    {
        *e = exp64(v); // a loop, not `map`: it vectorizes
    }
    let mut out = [([0.0; N], [0.0; N]); K];
    for ((out, exps), shifted) in out.iter_mut().zip(&exps).zip(&shifted) {
        let sum = math::sum(exps, -0.0);
        let log_sum = ln64(sum);
        *out = (exps.map(|e| e / sum), shifted.map(|v| v - log_sum));
    }
    out
}

impl<const N: usize> Loss<[f32; N]> for Distillation {
    type Target = SoftTarget<N>;

    fn check(&self) -> Result<(), InvalidSetting> {
        Distillation::check(self)
    }

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
        let t = f64::from(self.temperature);
        let [teacher, student] = softened([&target.logits, output], t);
        self.against(output, target.class, &teacher, &student)
    }
}

impl Distillation {
    /// The targets with the teacher's softened distribution worked out once, for
    /// training with [`Distillation::prepared`]: every step then computes only
    /// the student's side — the same loss and gradient, bit for bit, about half
    /// the exponentials.
    ///
    /// ```
    /// use mimic::{Distillation, Loss, SoftTarget};
    ///
    /// let kd = Distillation::new(4.0, 0.5);
    /// let soft = [SoftTarget { logits: [2.0, -1.0, 0.5], class: 0 }];
    /// let prepared = kd.prepare(&soft);
    /// let student = [0.3, 0.1, -0.2];
    /// assert_eq!(
    ///     kd.prepared().loss_and_gradient(&student, &prepared[0]),
    ///     kd.loss_and_gradient(&student, &soft[0]),
    /// );
    /// ```
    #[cfg(feature = "std")]
    pub fn prepare<const N: usize>(&self, targets: &[SoftTarget<N>]) -> Vec<PreparedTarget<N>> {
        targets.iter().map(|t| self.prepare_one(t)).collect()
    }

    /// One target prepared as [`Distillation::prepare`] does.
    pub fn prepare_one<const N: usize>(&self, target: &SoftTarget<N>) -> PreparedTarget<N> {
        let [(probabilities, log_probabilities)] =
            softened([&target.logits], f64::from(self.temperature));
        PreparedTarget {
            target: *target,
            temperature: self.temperature,
            probabilities,
            log_probabilities,
        }
    }

    /// This loss, taking [`PreparedTarget`]s.
    pub const fn prepared(self) -> PreparedDistillation {
        PreparedDistillation(self)
    }

    /// The loss and gradient of student logits `output`, softened to `(q, ln q)`,
    /// against the teacher's softened distribution `(p, ln p)` and the true class.
    #[inline(always)]
    fn against<const N: usize>(
        &self,
        output: &[f32; N],
        class: usize,
        (p, log_p): &Softened<N>,
        (q, log_q): &Softened<N>,
    ) -> Result<(f32, [f32; N]), LossError> {
        let (t, alpha) = (f64::from(self.temperature), f64::from(self.alpha));
        let (hard_loss, hard_gradient) = if alpha == 1.0 {
            if class >= N {
                return Err(LossError::ClassOutOfRange { class, classes: N });
            }
            (0.0, [0.0; N])
        } else {
            CrossEntropy.loss_and_gradient(output, &class)?
        };
        let mut gradient = [0.0; N];
        let mut kl_terms = [0.0; N];
        for o in 0..N {
            let soft = alpha * t * (q[o] - p[o]);
            gradient[o] = (soft + (1.0 - alpha) * f64::from(hard_gradient[o])) as f32;
            // 0 · ln 0 is 0, not NaN.
            kl_terms[o] = if p[o] > 0.0 {
                p[o] * (log_p[o] - log_q[o])
            } else {
                0.0
            };
        }
        let kl = math::sum(&kl_terms, -0.0);
        // KL ≥ 0 in exact arithmetic; rounding can leave a tiny negative value.
        let soft_loss = t * t * kl.max(0.0);
        let soft_part = if alpha > 0.0 { alpha * soft_loss } else { 0.0 }; // never 0 · ∞
        let loss = soft_part + (1.0 - alpha) * f64::from(hard_loss);
        Ok((crate::loss::saturate(loss as f32), gradient))
    }
}

/// A [`SoftTarget`] with the teacher's distribution softened at one temperature
/// already worked out (made by [`Distillation::prepare`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PreparedTarget<const N: usize> {
    target: SoftTarget<N>,
    temperature: f32,
    probabilities: [f64; N],
    log_probabilities: [f64; N],
}

impl<const N: usize> PreparedTarget<N> {
    /// The teacher's logits and the true class it was prepared from.
    pub fn target(&self) -> &SoftTarget<N> {
        &self.target
    }

    /// The temperature it was prepared at.
    pub fn temperature(&self) -> f32 {
        self.temperature
    }
}

/// [`Distillation`] against [`PreparedTarget`]s ([`Distillation::prepared`]):
/// the same loss and gradient, bit for bit, without recomputing the teacher's
/// side at every step. A target prepared at another temperature than this
/// loss's is still right: its distribution is then computed from its logits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PreparedDistillation(pub Distillation);

impl<const N: usize> Loss<[f32; N]> for PreparedDistillation {
    type Target = PreparedTarget<N>;

    fn check(&self) -> Result<(), InvalidSetting> {
        self.0.check()
    }

    #[inline(always)]
    fn loss_and_gradient(
        &self,
        output: &[f32; N],
        target: &PreparedTarget<N>,
    ) -> Result<(f32, [f32; N]), LossError> {
        let kd = &self.0;
        if target.temperature.to_bits() == kd.temperature.to_bits() {
            let teacher = (target.probabilities, target.log_probabilities);
            let [student] = softened([output], f64::from(kd.temperature));
            kd.against(output, target.target.class, &teacher, &student)
        } else {
            kd.loss_and_gradient(output, &target.target)
        }
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

    #[test]
    fn prepared_targets_give_the_same_bits() {
        let targets = [
            SoftTarget {
                logits: [1.0, -2.0, 0.5],
                class: 0,
            },
            SoftTarget {
                logits: [1e30, -1e30, 0.0],
                class: 2,
            },
            SoftTarget {
                logits: [0.0, 0.0, 0.0],
                class: 1,
            },
        ];
        let outputs = [[0.3, -0.1, 0.7], [-1e30, 1e30, 3.0], [5.0, -5.0, 0.0]];
        for (t, alpha) in [(1.0, 0.5), (4.0, 0.5), (4.0, 1.0), (20.0, 0.0)] {
            let kd = Distillation::new(t, alpha);
            let prepared = kd.prepare(&targets);
            // Prepared at another temperature: recomputed, still right.
            let other = Distillation::new(t * 2.0, alpha).prepare(&targets);
            for (k, output) in outputs.iter().enumerate() {
                let expected = kd.loss_and_gradient(output, &targets[k]);
                assert_eq!(
                    kd.prepared().loss_and_gradient(output, &prepared[k]),
                    expected
                );
                assert_eq!(kd.prepared().loss_and_gradient(output, &other[k]), expected);
            }
        }
        let wrong = SoftTarget {
            logits: [0.0; 3],
            class: 3,
        };
        let kd = Distillation::new(2.0, 1.0);
        assert!(
            kd.prepared()
                .loss(&[0.0; 3], &kd.prepare_one(&wrong))
                .is_err()
        );
    }
}
