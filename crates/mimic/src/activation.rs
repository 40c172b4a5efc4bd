//! Element-wise activation functions.
//!
//! Backward passes keep only each layer's *output*, so every activation
//! expresses its derivative through `y = f(x)` ([`Activation::derivative_at_output`]).
//! That is exact for all four functions here and halves what a layer must remember.

use core::fmt::Debug;

use crate::init::Initializer;
use crate::math::exp32;
use crate::setting::{InvalidSetting, fraction_below_one};

/// An element-wise non-linearity applied after a layer's affine map.
pub trait Activation: Copy + Debug + Default + PartialEq + Send + Sync + 'static {
    /// A short stable name, used in saved-model metadata.
    const NAME: &'static str;

    /// The initialisation that suits this activation, used by
    /// [`Initializer::Recommended`]: He for the ReLU family, Xavier (the default)
    /// for activations that are linear or bounded near 0.
    const RECOMMENDED: Initializer = Initializer::Xavier;

    /// `f(x)`.
    fn apply(&self, x: f32) -> f32;

    /// `f'(x)` written in terms of `y = f(x)`.
    fn derivative_at_output(&self, y: f32) -> f32;

    /// The activation's parameter (LeakyReLU's slope), if it has one.
    fn parameter(&self) -> Option<f32> {
        None
    }

    /// The same activation with its parameter set (for activations that have one),
    /// as when a saved model is loaded.
    fn with_parameter(self, _parameter: f32) -> Self {
        self
    }
}

/// `x` for `x > 0`, else `slope · x`; the original program's default slope is 0.1.
///
/// The derivative is 1 where the output is positive and `slope` elsewhere, as in the
/// seed (for a non-negative slope, `y > 0` exactly when `x > 0`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeakyReLU {
    /// Slope for non-positive inputs; expected in `[0, 1)`.
    pub slope: f32,
}

impl LeakyReLU {
    /// The original program's slope.
    pub const DEFAULT_SLOPE: f32 = 0.1;

    /// A LeakyReLU with the given slope for non-positive inputs.
    pub const fn new(slope: f32) -> Self {
        Self { slope }
    }
}

impl LeakyReLU {
    /// Whether the slope is in `[0, 1)`: for a negative slope `y > 0` is no
    /// longer `x > 0` (the derivative would be wrong), and at 1 or more it is
    /// no non-linearity. `persist` saves and loads only such slopes.
    ///
    /// ```
    /// use mimic::LeakyReLU;
    ///
    /// assert!(LeakyReLU::default().check().is_ok());
    /// assert!(LeakyReLU::new(-0.5).check().is_err());
    /// ```
    pub fn check(&self) -> Result<(), InvalidSetting> {
        check_slope(self.slope)
    }
}

/// A LeakyReLU slope's range, `[0, 1)`, as [`LeakyReLU::check`] and the saved
/// files' `slope` entries are checked.
pub(crate) fn check_slope(slope: f32) -> Result<(), InvalidSetting> {
    fraction_below_one("LeakyReLU slope", slope)
}

impl Default for LeakyReLU {
    fn default() -> Self {
        Self::new(Self::DEFAULT_SLOPE)
    }
}

impl Activation for LeakyReLU {
    const NAME: &'static str = "leaky_relu";
    const RECOMMENDED: Initializer = Initializer::He;

    #[inline(always)]
    fn apply(&self, x: f32) -> f32 {
        if x > 0.0 { x } else { self.slope * x }
    }

    #[inline(always)]
    fn derivative_at_output(&self, y: f32) -> f32 {
        if y > 0.0 { 1.0 } else { self.slope }
    }

    fn parameter(&self) -> Option<f32> {
        Some(self.slope)
    }

    fn with_parameter(self, slope: f32) -> Self {
        Self::new(slope)
    }
}

/// `max(0, x)`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReLU;

impl Activation for ReLU {
    const NAME: &'static str = "relu";
    const RECOMMENDED: Initializer = Initializer::He;

    #[inline(always)]
    fn apply(&self, x: f32) -> f32 {
        if x > 0.0 { x } else { 0.0 }
    }

    #[inline(always)]
    fn derivative_at_output(&self, y: f32) -> f32 {
        if y > 0.0 { 1.0 } else { 0.0 }
    }
}

/// The logistic function `1 / (1 + e^-x)`.
///
/// Evaluated so that `exp` only ever sees a non-positive argument: no overflow
/// for any finite input, and the result is always in `[0, 1]`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sigmoid;

impl Activation for Sigmoid {
    const NAME: &'static str = "sigmoid";

    #[inline(always)]
    fn apply(&self, x: f32) -> f32 {
        if x >= 0.0 {
            1.0 / (1.0 + exp32(-x))
        } else {
            let e = exp32(x);
            e / (1.0 + e)
        }
    }

    #[inline(always)]
    fn derivative_at_output(&self, y: f32) -> f32 {
        y * (1.0 - y)
    }
}

/// `f(x) = x`: a purely affine layer (raw logits).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Identity;

impl Activation for Identity {
    const NAME: &'static str = "identity";

    #[inline(always)]
    fn apply(&self, x: f32) -> f32 {
        x
    }

    #[inline(always)]
    fn derivative_at_output(&self, _y: f32) -> f32 {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaky_relu_matches_the_seed() {
        let f = LeakyReLU::default();
        assert_eq!(f.apply(2.0), 2.0);
        assert_eq!(f.apply(-2.0), -0.2);
        assert_eq!(f.derivative_at_output(f.apply(3.0)), 1.0);
        assert_eq!(f.derivative_at_output(f.apply(-3.0)), 0.1);
        assert_eq!(f.derivative_at_output(0.0), 0.1);
    }

    #[test]
    fn sigmoid_never_overflows() {
        for x in [f32::MAX, -f32::MAX, 1e30, -1e30, 89.0, -89.0, 0.0] {
            let y = Sigmoid.apply(x);
            assert!(
                y.is_finite() && (0.0..=1.0).contains(&y),
                "sigmoid({x}) = {y}"
            );
        }
        assert_eq!(Sigmoid.apply(0.0), 0.5);
    }

    #[test]
    fn relu_and_identity() {
        assert_eq!(ReLU.apply(-1.0), 0.0);
        assert_eq!(ReLU.apply(1.5), 1.5);
        assert_eq!(Identity.apply(-7.0), -7.0);
        assert_eq!(Identity.derivative_at_output(123.0), 1.0);
    }
}
