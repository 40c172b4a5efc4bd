//! Loss functions and a numerically stable softmax.
//!
//! Every function here returns finite numbers for every finite input. The original program's
//! first attempt fed raw 0..255 pixels into an untrained network, overflowed `exp`
//! inside softmax and silently trained to 9.8%; here the max is subtracted before
//! exponentiating, so the largest exponent is always `exp(0) = 1`.

use core::fmt;

use crate::math::{self, exp32_within, ln32};
use crate::setting::{InvalidSetting, fraction_below_one};

/// A loss on a network output `O` against a target.
pub trait Loss<O>: Sync {
    /// What the output is compared with: a class index, a target vector, ….
    /// (Shared by the threads of a mini-batch, hence `Sync`.)
    type Target: ?Sized + Sync;

    /// The loss and its gradient with respect to the output.
    fn loss_and_gradient(&self, output: &O, target: &Self::Target) -> Result<(f32, O), LossError>;

    /// The loss alone.
    fn loss(&self, output: &O, target: &Self::Target) -> Result<f32, LossError> {
        self.loss_and_gradient(output, target).map(|(loss, _)| loss)
    }

    /// Whether every setting of the loss is in its range, or the first that is
    /// not ([`LabelSmoothing`]'s `ε`, [`Distillation`](crate::Distillation)'s
    /// temperature and weight): [`Network::fit`](crate::Network::fit) trains
    /// nothing, and `persist` saves and loads nothing, with such a loss. The
    /// default, for losses without settings, accepts.
    fn check(&self) -> Result<(), InvalidSetting> {
        Ok(())
    }
}

/// A target the loss cannot be computed against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LossError {
    /// A class index outside `0..classes`.
    ClassOutOfRange {
        /// The class that was given.
        class: usize,
        /// How many outputs (classes) the network has.
        classes: usize,
    },
}

impl fmt::Display for LossError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LossError::ClassOutOfRange { class, classes } => write!(
                f,
                "class {class} is out of range: expected a class index in 0..{classes}"
            ),
        }
    }
}

impl core::error::Error for LossError {}

/// Mean squared error, `Σ (y − t)² / N`, with gradient `2 (y − t) / N`, as the seed.
///
/// The original program's students use it to match the teacher's output vector.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Mse;

impl<const N: usize> Loss<[f32; N]> for Mse {
    type Target = [f32; N];

    #[inline(always)]
    fn loss_and_gradient(
        &self,
        output: &[f32; N],
        target: &[f32; N],
    ) -> Result<(f32, [f32; N]), LossError> {
        let scale = 2.0 / N as f32;
        let mut gradient = [0.0; N];
        let mut sum = 0.0;
        for ((g, &y), &t) in gradient.iter_mut().zip(output).zip(target) {
            let d = y - t;
            sum += d * d;
            *g = scale * d;
        }
        Ok((sum / N as f32, gradient))
    }
}

/// Softmax cross-entropy on logits against a class index.
///
/// Loss `logsumexp(y) − y[class]`, gradient `softmax(y) − onehot(class)`, both
/// computed with the max subtracted first: finite for every finite input (the
/// loss saturates at `f32::MAX` in the one case where its true value is larger).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CrossEntropy;

impl<const N: usize> Loss<[f32; N]> for CrossEntropy {
    type Target = usize;

    #[inline(always)]
    fn loss_and_gradient(
        &self,
        output: &[f32; N],
        &class: &usize,
    ) -> Result<(f32, [f32; N]), LossError> {
        Shifted::new(output).cross_entropy(output, class)
    }
}

/// Softmax cross-entropy against a class smoothed towards the uniform
/// distribution: the target puts `1 − ε + ε/N` on the class and `ε/N` on every
/// other output (PyTorch's `label_smoothing = ε`).
///
/// Loss `Σᵢ −qᵢ·log softmax(y)ᵢ` for that target `q`, gradient `softmax(y) − q`;
/// `ε = 0` is [`CrossEntropy`], bit for bit.
///
/// ```
/// use mimic::{CrossEntropy, LabelSmoothing, Loss};
///
/// let logits = [2.0_f32, 0.5, -1.0];
/// assert_eq!(LabelSmoothing::new(0.0).loss(&logits, &0), CrossEntropy.loss(&logits, &0));
/// let (_, g) = LabelSmoothing::new(0.3).loss_and_gradient(&logits, &0).unwrap();
/// assert!(g.iter().sum::<f32>().abs() < 1e-6); // both distributions sum to 1
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LabelSmoothing {
    /// `ε`, in `[0, 1)`.
    pub epsilon: f32,
}

impl LabelSmoothing {
    /// Cross-entropy with labels smoothed by `epsilon`.
    pub const fn new(epsilon: f32) -> Self {
        Self { epsilon }
    }

    /// Whether `ε` is in `[0, 1)` (at 1 the class is forgotten altogether).
    ///
    /// ```
    /// use mimic::LabelSmoothing;
    ///
    /// assert!(LabelSmoothing::new(0.1).check().is_ok());
    /// assert_eq!(LabelSmoothing::new(1.0).check().unwrap_err().name, "label smoothing");
    /// ```
    pub fn check(&self) -> Result<(), InvalidSetting> {
        fraction_below_one("label smoothing", self.epsilon)
    }
}

impl<const N: usize> Loss<[f32; N]> for LabelSmoothing {
    type Target = usize;

    fn check(&self) -> Result<(), InvalidSetting> {
        LabelSmoothing::check(self)
    }

    #[inline(always)]
    fn loss_and_gradient(
        &self,
        output: &[f32; N],
        &class: &usize,
    ) -> Result<(f32, [f32; N]), LossError> {
        let shifted = Shifted::new(output);
        let (hard_loss, mut gradient) = shifted.cross_entropy(output, class)?;
        let epsilon = self.epsilon;
        if epsilon == 0.0 {
            return Ok((hard_loss, gradient));
        }
        // −log softmax(y)ᵢ = logsumexp(y) − yᵢ; their mean is the uniform part.
        let log_sum = shifted.max + ln32(shifted.sum);
        let uniform_loss = output.iter().map(|&y| log_sum - y).sum::<f32>() / N as f32;
        let share = epsilon / N as f32;
        // softmax − onehot (from CrossEntropy) becomes softmax − q:
        // add ε·onehot back, then take ε/N off every output.
        gradient[class] += epsilon;
        for g in &mut gradient {
            *g -= share;
        }
        let loss = (1.0 - epsilon) * hard_loss + epsilon * uniform_loss;
        Ok((saturate(loss), gradient))
    }
}

/// A loss too large for f32 saturates at `f32::MAX` rather than becoming
/// infinite; a NaN stays NaN (`f32::min` would turn it into `f32::MAX`, and a
/// diverged step would be reported with a finite loss). Finite losses are
/// returned unchanged.
#[inline(always)]
pub(crate) fn saturate(loss: f32) -> f32 {
    if loss > f32::MAX { f32::MAX } else { loss }
}

/// `exp(y − max)`: the exponent is ≤ 0, so the result is in `[0, 1]`.
///
/// For logits of opposite sign near `f32::MAX` the subtraction overflows to `−∞`,
/// and `exp(−∞) = 0` is still the right answer. Results below [`NEGLIGIBLE`] are
/// returned as 0: they change no sum that contains the max's 1, and as subnormal
/// numbers they would make every later multiplication microcode-slow (a trained,
/// confident network produces many of them).
///
/// Exponents below [`HOPELESS`] are raised to it first: their result is the same
/// 0 (`e⁻⁷⁰ ≈ 4·10⁻³¹` is flushed), and `exp` never computes an underflowing,
/// subnormal result on the way. No branch: a softmax's exponentials are one
/// vector computation.
#[inline(always)]
fn exp_shifted(y: f32, max: f32) -> f32 {
    let exponent = y - max;
    let exponent = if exponent < HOPELESS {
        HOPELESS
    } else {
        exponent
    };
    let e = exp32_within(exponent); // the exponent is in [−70, 0] (or NaN)
    if e < NEGLIGIBLE { 0.0 } else { e }
}

/// Probabilities below this are treated as 0 (see [`exp_shifted`]); far above
/// f32's subnormal range, so that the gradients computed from them stay normal too.
const NEGLIGIBLE: f32 = 1e-30;

/// Exponents whose `exp` is certainly below [`NEGLIGIBLE`] (`ln 10⁻³⁰ ≈ −69.08`).
const HOPELESS: f32 = -70.0;

/// The maximum of some logits, `exp(x − max)` for each, and their sum (which is
/// in `[1, N]`): every exponential is computed once, for both the loss and the
/// gradient.
struct Shifted<const N: usize> {
    max: f32,
    exps: [f32; N],
    sum: f32,
}

impl<const N: usize> Shifted<N> {
    #[inline(always)]
    fn new(xs: &[f32; N]) -> Self {
        let max = math::max(xs);
        let mut exps = [0.0; N];
        // A confident network's usual case: every logit but the largest is
        // more than 70 below it. Then each exponential is exactly 1 (e⁰) or 0
        // (flushed), the same bits as computing them, without the wait.
        // (Every logit tested, then one branch: `all` would branch at each.)
        let confident = xs.iter().fold(max.is_finite(), |confident, &x| {
            confident & ((x == max) | (x - max < HOPELESS))
        });
        if confident {
            for (e, &x) in exps.iter_mut().zip(xs) {
                *e = if x == max { 1.0 } else { 0.0 };
            }
        } else {
            for (e, &x) in exps.iter_mut().zip(xs) {
                *e = exp_shifted(x, max);
            }
        }
        let sum = math::sum(&exps, -0.0);
        Shifted { max, exps, sum }
    }

    /// Cross-entropy's loss `logsumexp(y) − y[class]` and gradient
    /// `softmax(y) − onehot(class)` for the logits `output` these were made from.
    #[inline(always)]
    fn cross_entropy(&self, output: &[f32; N], class: usize) -> Result<(f32, [f32; N]), LossError> {
        if class >= N {
            return Err(LossError::ClassOutOfRange { class, classes: N });
        }
        let sum = self.sum;
        let mut gradient = self.exps.map(|e| e / sum);
        gradient[class] -= 1.0;
        // logsumexp − y[class] = ln(sum) + (max − y[class]); both terms are ≥ 0.
        // The true loss can exceed f32's range only for logits near ±f32::MAX; it
        // saturates there rather than becoming infinite.
        let loss = saturate(ln32(sum) + (self.max - output[class]));
        Ok((loss, gradient))
    }
}

/// Numerically stable softmax: sums to 1 (up to rounding), never NaN or infinite
/// for finite input, and unchanged by adding a constant to every logit.
///
/// ```
/// let p = mimic::softmax(&[1e30_f32, 0.0, -1e30]);
/// assert_eq!(p, [1.0, 0.0, 0.0]);
/// ```
pub fn softmax<const N: usize>(logits: &[f32; N]) -> [f32; N] {
    let Shifted { exps, sum, .. } = Shifted::new(logits);
    exps.map(|e| e / sum)
}

/// Numerically stable `ln Σ exp(x)`.
pub fn log_sum_exp<const N: usize>(logits: &[f32; N]) -> f32 {
    let Shifted { max, sum, .. } = Shifted::new(logits);
    max + ln32(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::exp32;

    #[test]
    fn mse_matches_the_seed_formula() {
        let (loss, g) = Mse.loss_and_gradient(&[1.0, 3.0], &[0.0, 1.0]).unwrap();
        assert_eq!(loss, (1.0 + 4.0) / 2.0);
        assert_eq!(g, [1.0, 2.0]);
    }

    #[test]
    fn cross_entropy_of_extreme_logits_is_finite() {
        for logits in [
            [1e30, -1e30, 0.0],
            [f32::MAX, -f32::MAX, 0.0],
            [255.0 * 784.0, 0.0, -3.0],
        ] {
            for class in 0..3 {
                let (loss, g) = CrossEntropy.loss_and_gradient(&logits, &class).unwrap();
                assert!(
                    loss.is_finite() && loss >= 0.0,
                    "{logits:?} {class}: {loss}"
                );
                assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
            }
        }
    }

    #[test]
    fn cross_entropy_value_and_gradient() {
        let (loss, g) = CrossEntropy.loss_and_gradient(&[0.0, 0.0], &1).unwrap();
        assert!((loss - 2f32.ln()).abs() < 1e-6);
        assert_eq!(g, [0.5, -0.5]);
    }

    #[test]
    fn cross_entropy_rejects_out_of_range_class() {
        let err = CrossEntropy.loss_and_gradient(&[0.0; 10], &10).unwrap_err();
        assert_eq!(
            err,
            LossError::ClassOutOfRange {
                class: 10,
                classes: 10
            }
        );
        assert_eq!(
            err.to_string(),
            "class 10 is out of range: expected a class index in 0..10"
        );
    }

    #[test]
    fn label_smoothing_matches_its_definition_in_f64() {
        let logits = [1.5_f32, -0.25, 0.75, 3.0];
        for epsilon in [0.0, 0.1, 0.5, 1.0] {
            for class in 0..4 {
                let (loss, gradient) = LabelSmoothing::new(epsilon)
                    .loss_and_gradient(&logits, &class)
                    .unwrap();
                let y: Vec<f64> = logits.iter().map(|&v| f64::from(v)).collect();
                let lse = y.iter().map(|v| v.exp()).sum::<f64>().ln();
                let e = f64::from(epsilon);
                let q = |i: usize| e / 4.0 + if i == class { 1.0 - e } else { 0.0 };
                let expected: f64 = (0..4).map(|i| -q(i) * (y[i] - lse)).sum();
                assert!(
                    (f64::from(loss) - expected).abs() < 1e-5,
                    "ε {epsilon}: {loss} vs {expected}"
                );
                for i in 0..4 {
                    let g = (y[i] - lse).exp() - q(i);
                    assert!(
                        (f64::from(gradient[i]) - g).abs() < 1e-6,
                        "ε {epsilon}, output {i}"
                    );
                }
            }
        }
        assert!(
            LabelSmoothing::new(0.1)
                .loss_and_gradient(&logits, &4)
                .is_err()
        );
    }

    #[test]
    fn softmax_of_huge_logits() {
        assert_eq!(softmax(&[1000.0_f32, 1000.0]), [0.5, 0.5]);
        assert_eq!(log_sum_exp(&[1e30_f32, 0.0]), 1e30);
    }

    /// Around the point where `exp` is no longer called (exponent −70) and
    /// where its result is flushed (below 1e-30, exponent ≈ −69.08), each
    /// shifted exponential is what `exp` and the flush give, bit for bit.
    #[test]
    fn exponentials_skipped_or_flushed_are_exactly_zero() {
        for exponent in [
            -60.0_f32, -69.0, -69.07, -69.1, -69.9, -70.0, -70.1, -80.0, -104.0, -1e30,
        ] {
            let e = exp32(exponent);
            let expected = if e < NEGLIGIBLE { 0.0 } else { e };
            assert_eq!(
                exp_shifted(exponent, 0.0).to_bits(),
                expected.to_bits(),
                "{exponent}"
            );
        }
        let p = softmax(&[0.0_f32, -75.0, -69.0]);
        assert_eq!(p[1], 0.0);
        assert!(p[2] > 0.0);
    }

    /// A confident network's logits (all but the largest more than 70 below
    /// it) skip the exponentials; the result has the same bits as computing
    /// them, ties, signed zeros and infinities included, and NaN still passes.
    #[test]
    fn the_confident_shortcut_gives_the_computed_bits() {
        let computed = |xs: &[f32; 4]| {
            let max = crate::math::max(xs);
            xs.map(|x| exp_shifted(x, max))
        };
        for xs in [
            [100.0_f32, 0.0, -5.0, 29.0],
            [100.0, 100.0, 0.0, -1e30],
            [0.0, -0.0, -70.5, -80.0],
            [-0.0, 0.0, -71.0, f32::NEG_INFINITY],
            [3.0, -67.0, -75.0, 3.0], // one within 70: computed
            [f32::MAX, -f32::MAX, 0.0, 1.0],
            [f32::INFINITY, 0.0, -1.0, -2.0],
            [f32::NEG_INFINITY; 4],
            [f32::NAN, 0.0, -100.0, -200.0],
        ] {
            let ours = Shifted::new(&xs).exps;
            let theirs = computed(&xs);
            assert_eq!(ours.map(f32::to_bits), theirs.map(f32::to_bits), "{xs:?}");
        }
    }

    #[test]
    fn a_nan_loss_stays_nan_and_an_overflowing_one_saturates() {
        assert_eq!(saturate(f32::INFINITY), f32::MAX);
        assert_eq!(saturate(1.5), 1.5);
        assert!(saturate(f32::NAN).is_nan());
        let (loss, _) = CrossEntropy
            .loss_and_gradient(&[f32::NAN, 0.0, 0.0], &1)
            .unwrap();
        assert!(loss.is_nan(), "{loss}");
        let (loss, _) = LabelSmoothing::new(0.1)
            .loss_and_gradient(&[f32::NAN, 0.0, 0.0], &1)
            .unwrap();
        assert!(loss.is_nan(), "{loss}");
    }
}
