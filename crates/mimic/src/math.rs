//! `exp` and `ln`, computed by mimic itself: the same bits on every platform,
//! every ISA, with or without `std`.
//!
//! Why not the platform's: `core` has no transcendental functions, and `std`'s
//! are the C library's, which differ between glibc, musl, macOS and Windows in
//! the last bit for some inputs — enough to send two trainings from one seed
//! apart. Each function here is a fixed sequence of IEEE additions and
//! multiplications (and, for `ln`, a lookup in a table made at compile time),
//! with no fused multiply-add (Rust never contracts `a * b + c`), so its result
//! is the same everywhere.
//!
//! Why it is also faster: `exp` has no branch — out-of-range arguments are
//! clamped with selects and the power of two is built from the bits — so a loop
//! of them (a softmax's ten exponentials) compiles to a few vector instructions
//! instead of ten calls into the C library.
//!
//! Accuracy: `exp64` and `ln64` are within one f64 ulp of the true value
//! (tested against the C library's); the f32 versions compute in f64 and round
//! once, which is the correctly rounded result in all but rare cases where the
//! true value lies almost exactly halfway between two f32s.

/// `e^x` for an f32, computed in f64 and rounded once (0 below `e⁻¹⁰⁴`, ∞
/// above `e^88.73`, NaN for NaN). The series stops at `r¹⁰` (truncation error
/// below 2⁻⁴²): far below an f32 ulp, and three fewer terms than [`exp64`].
#[inline(always)]
pub(crate) fn exp32(x: f32) -> f32 {
    // Beyond [−200, 100] the f32 result is 0 or ∞ anyway.
    let x = if x < -200.0 { -200.0 } else { x };
    let x = if x > 100.0 { 100.0 } else { x };
    exp32_within(x)
}

/// [`exp32`] for `x` in `[−200, 100]` (or NaN), without the clamps: the same
/// bits, two operations sooner (a softmax's exponents are in `[−70, 0]`).
#[inline(always)]
pub(crate) fn exp32_within(x: f32) -> f32 {
    let series = |r: f64| {
        let c = &EXP_TAYLOR;
        let r2 = r * r;
        let r4 = r2 * r2;
        let low = (c[2] + c[3] * r) + (c[4] + c[5] * r) * r2;
        let high = (c[6] + c[7] * r) + (c[8] + c[9] * r) * r2;
        (low + high * r4) + c[10] * (r4 * r4)
    };
    let (p, k) = exp_parts(f64::from(x), series);
    // 2^k and the result are normal f64s for x in range: one exact multiply.
    (p * power_of_two(k)) as f32
}

/// `ln x` for an f32: [`ln64`] rounded to f32.
#[inline(always)]
pub(crate) fn ln32(x: f32) -> f32 {
    ln64(f64::from(x)) as f32
}

/// `xs` folded by `op` in a fixed order with short dependency chains, as an
/// eight-lane vector would: `xs[i]` joins running lane `i mod 8` (each lane
/// starting at `identity`), then the eight lanes are combined pairwise. A
/// softmax's sum of ten exponentials is then four dependent additions, not
/// ten; the order is written here, so every ISA gives the same bits.
#[inline(always)]
fn reduce<T: Copy>(xs: &[T], identity: T, op: impl Fn(T, T) -> T) -> T {
    let mut lanes = [identity; 8];
    for chunk in xs.chunks(8) {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane = op(*lane, x);
        }
    }
    let [a, b, c, d, e, f, g, h] = lanes;
    op(op(op(a, e), op(c, g)), op(op(b, f), op(d, h)))
}

/// `Σ xs` in [`reduce`]'s order. (`−0` is the identity: adding it changes no
/// number, so the unused lanes cost nothing.)
#[inline(always)]
pub(crate) fn sum<T: Copy + core::ops::Add<Output = T>>(xs: &[T], negative_zero: T) -> T {
    reduce(xs, negative_zero, |a, b| a + b)
}

/// The largest of `xs` (`−∞` for none; NaNs are passed over, as `f32::max`
/// does), in [`reduce`]'s order.
#[inline(always)]
pub(crate) fn max(xs: &[f32]) -> f32 {
    reduce(xs, f32::NEG_INFINITY, f32::max)
}

/// ln 2 with its last 32 bits zero (so `k · LN2_HI` is exact for the `k` here),
/// and the rest.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);

/// `1.5 · 2⁵²`: adding it to a number of magnitude below 2⁵¹ rounds that number
/// to the nearest integer (ties to even) and leaves the integer in the low bits.
const ROUNDER: f64 = 6_755_399_441_055_744.0;

/// `1/n!` for n = 0..=13, the Taylor coefficients of `e^r`.
const EXP_TAYLOR: [f64; 14] = {
    let mut c = [1.0; 14];
    let mut n = 1;
    while n < 14 {
        c[n] = c[n - 1] / n as f64;
        n += 1;
    }
    c
};

/// `e^x` for an f64, within one ulp: the series to `r¹³` (truncation error
/// below 2⁻⁵⁷). `x` is first clamped into `[−1080, 710]`, beyond which the
/// result is 0 or ∞ anyway, and `2^k` is applied in two halves so that neither
/// over- or underflows on its own.
#[inline(always)]
pub(crate) fn exp64(x: f64) -> f64 {
    let x = if x < -1080.0 { -1080.0 } else { x };
    let x = if x > 710.0 { 710.0 } else { x };
    let (p, k) = exp_parts(x, |r| {
        let c = &EXP_TAYLOR;
        let r2 = r * r;
        let r4 = r2 * r2;
        let a = (c[2] + c[3] * r) + (c[4] + c[5] * r) * r2;
        let b = (c[6] + c[7] * r) + (c[8] + c[9] * r) * r2;
        let d = (c[10] + c[11] * r) + (c[12] + c[13] * r) * r2;
        (a + b * r4) + d * (r4 * r4)
    });
    let half = k >> 1;
    p * power_of_two(half) * power_of_two(k.wrapping_sub(half))
}

/// `e^x = p·2^k` with `e^r = p = 1 + r + r²·series(r)`: `x = k·ln 2 + r` with
/// `|r| ≤ ln 2 / 2` (Cody and Waite's two-part ln 2 keeps `r` exact to about
/// 2⁻⁶⁰).
///
/// The series are Taylor's from `r²/2` on, in Estrin's order — pairs, then
/// pairs of pairs by `r²`, then by `r⁴` and `r⁸` — rather than Horner's:
/// about the same operations, but three dependent steps instead of twelve
/// (a softmax's loss waits for its exponentials before the backward pass can
/// start).
///
/// No branches, so a loop of them vectorizes: the callers clamp with selects
/// (comparisons with NaN are false, so NaN passes through the clamps and the
/// arithmetic to the result); integer arithmetic on a NaN's bits wraps instead
/// of overflowing and only picks which power of two the NaN is multiplied by.
#[inline(always)]
fn exp_parts(x: f64, series: impl Fn(f64) -> f64) -> (f64, i64) {
    let rounded = x * core::f64::consts::LOG2_E + ROUNDER;
    let k = rounded - ROUNDER; // round(x / ln 2), exactly
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // e^r = 1 + (r + r²·series(r)): the small terms summed first, so that
    // their rounding errors are a fraction of an ulp of the result.
    let p = 1.0 + (r + (r * r) * series(r));
    // The integer k is the difference of the two numbers' bits (both lie in
    // [2⁵², 2⁵³), where consecutive integers are consecutive bit patterns).
    let k = (rounded.to_bits() as i64).wrapping_sub(ROUNDER.to_bits() as i64);
    (p, k)
}

/// `2^e` for `e` in `[−1022, 1023]` (other `e` wrap to some power of two).
#[inline(always)]
fn power_of_two(e: i64) -> f64 {
    f64::from_bits((e.wrapping_add(1023) as u64) << 52)
}

/// `ln c` for `c` in `[0.75, 1.5]` with few significant bits (a table entry),
/// as a sum `high + low` good to about 2⁻⁶⁰ relative: `ln c = 2·atanh(s)` for
/// `s = (c − 1)/(c + 1)`, `|s| < 0.2`, summed to `s³¹`, with `s` itself kept to
/// twice f64's precision (its division's remainder is exact: `c ± 1` have few
/// bits, so Veltkamp's split of `s` makes every product exact). Slow, and
/// `const`: it makes [`LN_TABLE`] when mimic is compiled.
const fn ln_of_entry(c: f64) -> (f64, f64) {
    let (below, above) = (c - 1.0, c + 1.0); // exact
    let s = below / above;
    let split = s * 134_217_729.0; // 2²⁷ + 1
    let s_high = split - (split - s);
    let s_low = s - s_high;
    let remainder = (below - s_high * above) - s_low * above;
    let s_rest = remainder / above; // s = (s + s_rest) to ~2⁻¹⁰⁶
    let s2 = s * s;
    let (mut series, mut n) = (0.0, 31);
    while n > 1 {
        series = (series + 2.0 / n as f64) * s2;
        n -= 2;
    }
    // 2s + (2·s_rest + s·series), the small part added to the large once.
    let small = 2.0 * s_rest + s * series;
    let high = 2.0 * s + small;
    (high, (2.0 * s - high) + small)
}

/// For each of 128 pieces of `[0.75, 1.5)`: its left end `c`, `1/c` and `ln c`
/// (as `high + low`). The pieces are 1/256 wide below 1 and 1/128 above (the
/// spacing of the bit patterns [`ln64`] reads the index from); the piece just
/// below 1 uses `c = 1`, so that near 1 the result is `ln(1 + r)` alone, with
/// no cancellation.
const LN_TABLE: [[f64; 4]; 128] = {
    let mut table = [[0.0; 4]; 128];
    let mut i = 0;
    while i < 128 {
        let c = if i < 63 {
            0.75 + i as f64 / 256.0
        } else if i == 63 {
            1.0
        } else {
            0.5 + i as f64 / 128.0
        };
        let (high, low) = ln_of_entry(c);
        table[i] = [c, 1.0 / c, high, low];
        i += 1;
    }
    table
};

/// `(−1)^n / n` for n = 2..=8 (indices 0 and 1 unused): `ln(1 + r) = r + Σ`.
const LN1P_TAYLOR: [f64; 9] = {
    let mut c = [0.0; 9];
    let mut n = 2;
    while n < 9 {
        c[n] = if n % 2 == 0 { -1.0 } else { 1.0 } / n as f64;
        n += 1;
    }
    c
};

/// `ln x`, within one ulp: `x = m·2^e` with `m` in `[0.75, 1.5)`; `m` lies in
/// one of [`LN_TABLE`]'s pieces, from `c` to at most `c·(1 + 1/128)`, so
/// `ln m = ln c + ln(1 + r)` for `r = (m − c)/c` (`m − c` is exact, and `1/c`
/// comes from the table: no division), and `ln(1 + r)` is its Taylor series to
/// `r⁸` (truncation error below 2⁻⁵⁵ relative) in Estrin's order. No loop and
/// no division: a loss's logarithm is about a dozen dependent steps.
#[inline(always)]
pub(crate) fn ln64(x: f64) -> f64 {
    if !(f64::MIN_POSITIVE..f64::INFINITY).contains(&x) {
        return ln_special(x);
    }
    let bits = x.to_bits();
    // Relative to 0.75's bits: the exponent field counts halvings into
    // [0.75, 1.5), the mantissa's top 7 bits number the piece.
    let offset = bits.wrapping_sub(0.75f64.to_bits());
    let e = (offset as i64) >> 52;
    let m = f64::from_bits(bits.wrapping_sub((e as u64) << 52));
    let [c, inverse, ln_c, ln_c_low] = LN_TABLE[((offset >> 45) & 127) as usize];
    let r = (m - c) * inverse;
    let t = &LN1P_TAYLOR;
    let r2 = r * r;
    let series =
        ((t[2] + t[3] * r) + (t[4] + t[5] * r) * r2) + ((t[6] + t[7] * r) + t[8] * r2) * (r2 * r2);
    let e = e as f64;
    // e·ln 2 + ln c is rounded once; its rounding error (Fast2Sum, larger term
    // first) joins the small terms, and the result is rounded once more.
    let high = e * LN2_HI; // exact
    let sum = high + ln_c;
    let error = if high.abs() >= ln_c.abs() {
        (high - sum) + ln_c
    } else {
        (ln_c - sum) + high
    };
    sum + (r + (r2 * series + (e * LN2_LO + (ln_c_low + error))))
}

/// `ln x` for what [`ln64`] does not take: NaN and negative numbers (NaN), 0
/// (−∞), ∞, and subnormal numbers (scaled into the normal range first).
#[cold]
fn ln_special(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        f64::NAN
    } else if x == 0.0 {
        f64::NEG_INFINITY
    } else if x == f64::INFINITY {
        x
    } else {
        // × 2⁵⁴, then − 54·ln 2 (in two parts, as ln64 adds e·ln 2).
        let scaled = ln64(x * f64::from_bits(0x4350_0000_0000_0000));
        (scaled - 54.0 * LN2_HI) - 54.0 * LN2_LO
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    /// Distance in ulps between two finite f64s of the same sign.
    fn ulps64(a: f64, b: f64) -> u64 {
        a.to_bits().abs_diff(b.to_bits())
    }

    /// Within one ulp of the C library's `exp` (itself within about half an
    /// ulp of the truth) over the whole range, subnormal results included.
    #[test]
    fn exp64_is_within_an_ulp_of_the_platform() {
        let mut x = -745.0;
        while x < 709.78 {
            let (ours, theirs) = (exp64(x), x.exp());
            assert!(ulps64(ours, theirs) <= 1, "exp {x}: {ours:e} {theirs:e}");
            x += 0.001_234_567;
        }
        for x in [
            0.0,
            1e-300,
            -1e-300,
            1e-10,
            0.5,
            -0.5,
            1.0,
            0.346_573_590_279_972_6,
        ] {
            assert!(ulps64(exp64(x), x.exp()) <= 1, "exp {x}");
        }
        assert_eq!(exp64(0.0), 1.0);
        assert_eq!(exp64(709.8), f64::INFINITY);
        assert_eq!(exp64(1e300), f64::INFINITY);
        assert_eq!(exp64(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp64(-746.0), 0.0);
        assert_eq!(exp64(f64::NEG_INFINITY), 0.0);
        assert!(exp64(f64::NAN).is_nan());
        assert!(exp64(-f64::NAN).is_nan());
    }

    /// Through f64 and rounded once: every f32 argument tried is within one
    /// ulp of the C library's `expf`, almost all equal, and where they differ
    /// ours is the correctly rounded one.
    #[test]
    fn exp32_is_almost_always_correctly_rounded() {
        let (mut tried, mut equal) = (0u32, 0u32);
        // Every 97th f32 from −104 to 88.7: ~11 million arguments.
        let (low, high) = ((-104.0f32).to_bits(), 88.7f32.to_bits());
        for bits in (0x8000_0000..=low).step_by(97).chain((0..high).step_by(97)) {
            let x = f32::from_bits(bits);
            let (ours, theirs) = (exp32(x), x.exp());
            assert!(
                ours.to_bits().abs_diff(theirs.to_bits()) <= 1,
                "exp {x}: {ours:e} {theirs:e}"
            );
            tried += 1;
            equal += u32::from(ours == theirs);
            if ours != theirs && theirs.is_finite() && theirs > 0.0 {
                // The C library's `expf` is within 0.502 ulp, not correctly
                // rounded: where they differ, ours is the nearer to `e^x`
                // (the f64 `exp`, far more precise than an f32 ulp).
                let exact = f64::from(x).exp();
                let miss = |y: f32| (f64::from(y) - exact).abs();
                assert!(miss(ours) <= miss(theirs), "exp {x}: {ours:e} {theirs:e}");
            }
        }
        assert!(tried > 10_000_000);
        assert!(
            f64::from(tried - equal) / f64::from(tried) < 1e-4,
            "{equal} of {tried}"
        );
        assert_eq!(exp32(-104.0), 0.0);
        assert_eq!(exp32(88.8), f32::INFINITY);
    }

    #[test]
    fn ln_is_within_an_ulp_of_the_platform() {
        // Two million positive f64s evenly spaced in their bits, subnormals first.
        for bits in (1..f64::MAX.to_bits()).step_by(4_600_000_000_000) {
            let x = f64::from_bits(bits);
            assert!(
                ulps64(ln64(x), x.ln()) <= 1,
                "ln {x}: {} {}",
                ln64(x),
                x.ln()
            );
        }
        // Around 1, where the result is small and the table's pieces meet.
        let mut x = 0.5;
        while x < 2.0 {
            assert!(
                ulps64(ln64(x), x.ln()) <= 1,
                "ln {x}: {} {}",
                ln64(x),
                x.ln()
            );
            x += 1.1e-6;
        }
        for x in [
            0.9999999,
            1.0000001,
            1.0 - f64::EPSILON,
            1.0 + f64::EPSILON,
            1.5,
            0.75,
        ] {
            assert!(ulps64(ln64(x), x.ln()) <= 1, "ln {x}");
        }
        for x in [
            2.0,
            core::f64::consts::E,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ] {
            assert!(ulps64(ln64(x), x.ln()) <= 1, "ln {x}");
        }
        assert_eq!(ln64(1.0), 0.0);
        assert_eq!(ln64(0.0), f64::NEG_INFINITY);
        assert_eq!(ln64(f64::INFINITY), f64::INFINITY);
        assert!(ln64(-1.0).is_nan() && ln64(f64::NAN).is_nan());
        // Every 61st positive f32, subnormals included: within one ulp of the
        // C library's `logf`, and where they differ ours is the nearer.
        for bits in (1..f32::INFINITY.to_bits()).step_by(61) {
            let x = f32::from_bits(bits);
            let (ours, theirs) = (ln32(x), x.ln());
            assert!(ours.to_bits().abs_diff(theirs.to_bits()) <= 1, "ln {x}");
            if ours != theirs {
                let exact = f64::from(x).ln();
                let miss = |y: f32| (f64::from(y) - exact).abs();
                assert!(miss(ours) <= miss(theirs), "ln {x}: {ours:e} {theirs:e}");
            }
        }
    }
}
