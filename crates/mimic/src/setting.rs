//! A setting outside the range it must be in, and the ranges settings share.
//!
//! Each kind of setting has one predicate, beside the thing it configures
//! (`Optimizer::check`, `RateSchedule::check`, `Loss::check`, the LeakyReLU
//! slope's in `activation.rs`): [`Network::fit`](crate::Network::fit), `save`
//! and `load` all call the same one, so what trains also saves, and what saves
//! also loads.

use core::fmt;

/// A setting that is not in its accepted range: which one, its value, and what
/// it must be. Nothing was trained, saved or loaded.
///
/// ```
/// use mimic::{InvalidSetting, Momentum, Optimizer};
///
/// let error = Momentum::new(0.1).momentum(1.5).check().unwrap_err();
/// assert_eq!(error.name, "momentum");
/// assert_eq!(error.to_string(), "momentum 1.5: expected a number in [0, 1)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InvalidSetting {
    /// The setting, e.g. `"momentum"`.
    pub name: &'static str,
    /// Its value (a count is given as a float).
    pub value: f32,
    /// What it must be, e.g. `"a number in [0, 1)"`.
    pub expected: &'static str,
}

impl fmt::Display for InvalidSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: expected {}",
            self.name, self.value, self.expected
        )
    }
}

impl core::error::Error for InvalidSetting {}

/// `Ok` if `ok`, else the setting `name` of value `value` that must be `expected`.
pub(crate) fn require(
    ok: bool,
    name: &'static str,
    value: f32,
    expected: &'static str,
) -> Result<(), InvalidSetting> {
    if ok {
        Ok(())
    } else {
        Err(InvalidSetting {
            name,
            value,
            expected,
        })
    }
}

/// A finite number ≥ 0: learning rates, weight decays.
pub(crate) const NON_NEGATIVE: &str = "a finite number ≥ 0";

/// `value` is a finite number ≥ 0.
pub(crate) fn non_negative(name: &'static str, value: f32) -> Result<(), InvalidSetting> {
    require(value.is_finite() && value >= 0.0, name, value, NON_NEGATIVE)
}

/// `value` is a finite number > 0: temperatures, `ε`, decay factors.
pub(crate) fn positive(name: &'static str, value: f32) -> Result<(), InvalidSetting> {
    require(
        value.is_finite() && value > 0.0,
        name,
        value,
        "a finite number > 0",
    )
}

/// `value` is in `[0, 1)`: momentum, Adam's `β`s, label smoothing, slopes.
pub(crate) fn fraction_below_one(name: &'static str, value: f32) -> Result<(), InvalidSetting> {
    require(
        (0.0..1.0).contains(&value),
        name,
        value,
        "a number in [0, 1)",
    )
}

/// `value` is in `[0, 1]`: weights of a mixture, floors of a rate.
pub(crate) fn fraction(name: &'static str, value: f32) -> Result<(), InvalidSetting> {
    require(
        (0.0..=1.0).contains(&value),
        name,
        value,
        "a number in [0, 1]",
    )
}

/// A count as a setting's value: exact up to 2²⁴, then rounded.
pub(crate) fn count(n: usize) -> f32 {
    n as f32
}
