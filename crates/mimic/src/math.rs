//! `exp` and `ln`, with or without the standard library.
//!
//! With `std` (the default) these are the platform's own (`f32::exp`, …), so every
//! result is what it always was. Without `std`, `core` has no transcendental
//! functions, so `mimic` computes them itself, in f64: for an f32 result the f64
//! value is rounded once, which is correctly rounded in all but rare halfway
//! cases. Only `Sigmoid`, the softmax and the losses use them; a forward pass
//! through ReLU-family and Identity layers — and so every prediction of such a
//! network — is bit-identical with and without `std`.

/// `e^x` for an f32.
#[inline(always)]
pub(crate) fn exp32(x: f32) -> f32 {
    #[cfg(feature = "std")]
    {
        x.exp()
    }
    #[cfg(not(feature = "std"))]
    {
        exp(f64::from(x)) as f32
    }
}

/// `ln x` for an f32.
#[inline(always)]
pub(crate) fn ln32(x: f32) -> f32 {
    #[cfg(feature = "std")]
    {
        x.ln()
    }
    #[cfg(not(feature = "std"))]
    {
        ln(f64::from(x)) as f32
    }
}

/// `e^x` for an f64.
#[inline(always)]
pub(crate) fn exp64(x: f64) -> f64 {
    #[cfg(feature = "std")]
    {
        x.exp()
    }
    #[cfg(not(feature = "std"))]
    {
        exp(x)
    }
}

/// `ln x` for an f64.
#[inline(always)]
pub(crate) fn ln64(x: f64) -> f64 {
    #[cfg(feature = "std")]
    {
        x.ln()
    }
    #[cfg(not(feature = "std"))]
    {
        ln(x)
    }
}

/// ln 2 with its last 32 bits zero (so `k · LN2_HI` is exact), and the rest.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);

/// `e^x`: `x = k·ln 2 + r` with `|r| ≤ ln 2 / 2`, `e^r` by its Taylor series to
/// the 14th power (error below 2⁻⁵³ on that interval), times `2^k`.
#[cfg_attr(feature = "std", allow(dead_code))]
fn exp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x > 709.782_712_893_384 {
        return f64::INFINITY;
    }
    if x < -745.133_219_101_941_1 {
        return 0.0;
    }
    let k = round(x / core::f64::consts::LN_2);
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 1..=14 {
        term *= r / f64::from(n);
        sum += term;
    }
    scale(sum, k as i32)
}

/// `ln x`: `x = m·2^e` with `m` in `[√½, √2)`, then `ln m = 2·atanh(s)` for
/// `s = (m − 1)/(m + 1)`, `|s| < 0.172`, by its series to `s²³` (error below 2⁻⁵⁸).
#[cfg_attr(feature = "std", allow(dead_code))]
fn ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x == f64::INFINITY {
        return x;
    }
    let (mut bits, mut e) = (x.to_bits(), 0i64);
    if bits >> 52 == 0 {
        // Subnormal: scale into the normal range first.
        bits = (x * f64::from_bits(0x4350_0000_0000_0000)).to_bits(); // × 2⁵⁴
        e -= 54;
    }
    e += ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m >= core::f64::consts::SQRT_2 {
        m /= 2.0;
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut power = s;
    let mut series = 0.0;
    for n in (1..=23).step_by(2) {
        series += power / f64::from(n);
        power *= s2;
    }
    let e = e as f64;
    (e * LN2_HI + 2.0 * series) + e * LN2_LO
}

/// `x` rounded to the nearest integer, halves away from zero.
#[cfg_attr(feature = "std", allow(dead_code))]
fn round(x: f64) -> f64 {
    let truncated = x as i64 as f64; // |x| < 1100 here
    let rest = x - truncated;
    if rest >= 0.5 {
        truncated + 1.0
    } else if rest <= -0.5 {
        truncated - 1.0
    } else {
        truncated
    }
}

/// `x · 2^k` for `x` in `[0.7, 1.5]` and `k` in `[-1075, 1024]`, in two steps so
/// that neither power of two over- or underflows on its own.
#[cfg_attr(feature = "std", allow(dead_code))]
fn scale(x: f64, k: i32) -> f64 {
    let half = k / 2;
    let power = |p: i32| f64::from_bits(((p + 1023) as u64) << 52);
    x * power(half) * power(k - half)
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn own_exp_and_ln_match_the_platform() {
        let mut worst: f64 = 0.0;
        for k in -2000i32..=2000 {
            let x = f64::from(k) * 0.3517;
            let (ours, theirs) = (exp(x), x.exp());
            if theirs.is_finite() && theirs > 1e-300 {
                worst = worst.max(((ours - theirs) / theirs).abs());
            }
            let y = f64::from(k.abs() + 1) * 1.37e-3 * f64::from(k.abs() + 1);
            assert!(
                ((ln(y) - y.ln()) / y.ln().abs().max(1e-300)).abs() < 1e-15,
                "ln {y}"
            );
        }
        assert!(worst < 1e-15, "relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(1000.0), f64::INFINITY);
        assert_eq!(exp(-1000.0), 0.0);
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert!(ln(-1.0).is_nan());
        assert!((ln(f64::MIN_POSITIVE / 8.0) - (f64::MIN_POSITIVE / 8.0).ln()).abs() < 1e-12);
        // Through f32, as the no-std build uses them: within one f32 ulp.
        for k in -300..300 {
            let x = k as f32 * 0.29;
            let (ours, theirs) = (exp(f64::from(x)) as f32, x.exp());
            assert!(ours.to_bits().abs_diff(theirs.to_bits()) <= 1, "exp {x}");
        }
    }
}
