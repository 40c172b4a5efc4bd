//! [`QuantizedPool2d`]: max or mean pooling of int8 images.

#[cfg(feature = "std")]
use std::vec::Vec;

#[cfg(feature = "std")]
use super::{Calibrated, Quantize, QuantizeError};
use super::{ImageLogits, LOGIT_BITS, QuantizedInput, QuantizedModule};
#[cfg(feature = "std")]
use crate::module::Module;
#[cfg(feature = "std")]
use crate::pool::Pool2d;
use crate::pool::{Max, Mean, Pooling};

/// A [`Pooling`] with an integer form: how one `K × K` window of integers
/// becomes one value.
pub trait IntegerPooling: Pooling {
    /// Whether it is the mean (for the C header's pooling function).
    const MEAN: bool;

    /// The window of `K × K` values of `x` whose top-left corner is
    /// `(h0, w0)`, pooled, `extra` bits finer than the input's scale.
    fn window<X: QuantizedInput, const H: usize, const W: usize>(
        x: &[[X; W]; H],
        h0: usize,
        w0: usize,
        k: usize,
        extra: u32,
    ) -> i64;
}

/// The largest value: exact on integers (and on the int8 grid, max commutes
/// with the rescaling, so it is the float layer's max, quantised).
impl IntegerPooling for Max {
    const MEAN: bool = false;

    #[inline(always)]
    fn window<X: QuantizedInput, const H: usize, const W: usize>(
        x: &[[X; W]; H],
        h0: usize,
        w0: usize,
        k: usize,
        extra: u32,
    ) -> i64 {
        let mut best = i64::MIN;
        for row in x.iter().skip(h0).take(k) {
            for &v in row.iter().skip(w0).take(k) {
                best = best.max(i64::from(v.widen()));
            }
        }
        best << extra.min(LOGIT_BITS)
    }
}

/// The mean, rounded to the nearest integer with halves rounded up (towards
/// +∞, as [`Requantize`](super::Requantize) rounds): `⌊(Σ·2^extra + n/2) / n⌋`
/// for `n = K·K`, computed in `i64` (exact for any window). It stays within
/// the input type's range, so nothing is clamped.
impl IntegerPooling for Mean {
    const MEAN: bool = true;

    #[inline(always)]
    fn window<X: QuantizedInput, const H: usize, const W: usize>(
        x: &[[X; W]; H],
        h0: usize,
        w0: usize,
        k: usize,
        extra: u32,
    ) -> i64 {
        let mut sum = 0i64;
        for row in x.iter().skip(h0).take(k) {
            for &v in row.iter().skip(w0).take(k) {
                sum += i64::from(v.widen());
            }
        }
        let n = (k * k).max(1) as i64;
        ((sum << extra.min(LOGIT_BITS)) + n / 2).div_euclid(n)
    }
}

/// Pooling of int8 (or `u8`) images: [`Pool2d`](crate::pool::Pool2d)'s shape
/// rules, integer windows ([`IntegerPooling`]), the output of the same type and
/// scale as the input. No parameters.
pub struct QuantizedPool2d<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    F,
    X = i8,
>(core::marker::PhantomData<(F, X)>);

impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    F: IntegerPooling,
    X: QuantizedInput,
> QuantizedPool2d<C, H, W, OH, OW, K, S, F, X>
{
    /// The shape rules of `Pool2d`, checked when the program is built.
    const SHAPE: () = {
        assert!(
            C > 0 && K > 0 && S > 0 && K <= H && K <= W,
            "QuantizedPool2d<C, H, W, OH, OW, K, S>: sizes must be at least 1 and the window K no larger than the input"
        );
        assert!(
            (H - K).is_multiple_of(S) && (W - K).is_multiple_of(S),
            "QuantizedPool2d<C, H, W, OH, OW, K, S>: the windows must cover the input exactly"
        );
        assert!(
            OH == (H - K) / S + 1 && OW == (W - K) / S + 1,
            "QuantizedPool2d<C, H, W, OH, OW, K, S>: the output must be OH = (H − K) / S + 1 by OW = (W − K) / S + 1"
        );
    };

    /// The layer (it has no parameters), in a `const` context.
    ///
    /// ```
    /// use mimic::pool::Max;
    /// use mimic::quantized::QuantizedPool2d;
    /// use mimic::QuantizedModule;
    ///
    /// static POOL: QuantizedPool2d<1, 2, 4, 1, 2, 2, 2, Max> = QuantizedPool2d::new();
    /// assert_eq!(POOL.forward(&[[[1, -5, 7, 0], [3, 2, -1, -9]]]), [[[3, 7]]]);
    /// ```
    pub const fn new() -> Self {
        let () = Self::SHAPE;
        Self(core::marker::PhantomData)
    }

    /// Every window pooled, `extra` bits finer than the input's scale.
    #[inline(always)]
    fn pool(x: &[[[X; W]; H]; C], extra: u32) -> [[[i64; OW]; OH]; C] {
        core::array::from_fn(|c| {
            core::array::from_fn(|oh| {
                core::array::from_fn(|ow| F::window(&x[c], oh * S, ow * S, K, extra))
            })
        })
    }
}

impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    F: IntegerPooling,
    X: QuantizedInput,
> Default for QuantizedPool2d<C, H, W, OH, OW, K, S, F, X>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    F,
    X,
> Clone for QuantizedPool2d<C, H, W, OH, OW, K, S, F, X>
{
    fn clone(&self) -> Self {
        *self
    }
}

impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    F,
    X,
> Copy for QuantizedPool2d<C, H, W, OH, OW, K, S, F, X>
{
}

impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    F,
    X,
> PartialEq for QuantizedPool2d<C, H, W, OH, OW, K, S, F, X>
{
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    F,
    X,
> Eq for QuantizedPool2d<C, H, W, OH, OW, K, S, F, X>
{
}

impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    F: IntegerPooling,
    X: QuantizedInput,
> core::fmt::Debug for QuantizedPool2d<C, H, W, OH, OW, K, S, F, X>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Quantized{}<{C}×{H}×{W} → {C}×{OH}×{OW}, {K}×{K}, stride {S}, {}>",
            F::NAME,
            X::RUST
        )
    }
}

impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    F: IntegerPooling,
    X: QuantizedInput,
> QuantizedModule for QuantizedPool2d<C, H, W, OH, OW, K, S, F, X>
{
    type Input = [[[X; W]; H]; C];
    type Output = [[[X; OW]; OH]; C];
    type Logits = ImageLogits<C, OH, OW>;

    fn forward(&self, input: &[[[X; W]; H]; C]) -> [[[X; OW]; OH]; C] {
        Self::pool(input, 0).map(|c| c.map(|r| r.map(X::saturate)))
    }

    /// The pooled values [`LOGIT_BITS`] finer (the mean's rounding is that much
    /// finer too), on the input's scale.
    fn logits(&self, input: &[[[X; W]; H]; C]) -> ImageLogits<C, OH, OW> {
        ImageLogits(Self::pool(input, LOGIT_BITS).map(|c| {
            c.map(|r| r.map(|v| v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32))
        }))
    }
}

/// Pooling keeps the input's scale; it has nothing to calibrate.
#[cfg(feature = "std")]
impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    F: IntegerPooling,
    X: QuantizedInput,
> Quantize<X> for Pool2d<C, H, W, OH, OW, K, S, F>
{
    type Quantized = QuantizedPool2d<C, H, W, OH, OW, K, S, F, X>;
    const LAYERS: usize = 1;

    fn quantize_from(
        &self,
        _layer: usize,
        input_scale: f32,
        inputs: &[Self::Input],
    ) -> Result<Calibrated<Self::Quantized, Self::Output>, QuantizeError> {
        Ok(Calibrated {
            network: QuantizedPool2d::new(),
            scale: input_scale,
            outputs: inputs.iter().map(|x| self.forward(x)).collect::<Vec<_>>(),
        })
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn max_is_exact_and_mean_rounds_halves_up() {
        let x = [[[1i8, -5, 7, 0], [3, 2, -1, -9]]];
        let max = QuantizedPool2d::<1, 2, 4, 1, 2, 2, 2, Max>::new();
        assert_eq!(max.forward(&x), [[[3, 7]]]);
        assert_eq!(max.logits(&x).as_ref(), &[3 << 8, 7 << 8]);
        let mean = QuantizedPool2d::<1, 2, 4, 1, 2, 2, 2, Mean>::new();
        // (1 − 5 + 3 + 2)/4 = 0.25 → 0; (7 + 0 − 1 − 9)/4 = −0.75 → −1.
        assert_eq!(mean.forward(&x), [[[0, -1]]]);
        // Exact halves go up, negative ones too: −2/4 = −0.5 → 0; 2/4 → 1.
        let halves = [[[-1i8, -1], [0, 0]], [[1, 1], [0, 0]]];
        let mean = QuantizedPool2d::<2, 2, 2, 1, 1, 2, 2, Mean>::new();
        assert_eq!(mean.forward(&halves), [[[0]], [[1]]]);
        // 8 bits finer: 0.25 · 256 = 64, −0.75 · 256 = −192.
        let mean = QuantizedPool2d::<1, 2, 4, 1, 2, 2, 2, Mean>::new();
        assert_eq!(mean.logits(&x).as_ref(), &[64, -192]);
        // u8 stays u8 and in range.
        let pixels = [[[255u8; 4]; 4]];
        let mean = QuantizedPool2d::<1, 4, 4, 2, 2, 2, 2, Mean, u8>::new();
        assert_eq!(mean.forward(&pixels), [[[255; 2]; 2]]);
    }

    #[test]
    fn quantized_pooling_is_the_float_pooling_on_the_grid() {
        use crate::{AvgPool2d, MaxPool2d, quantize};
        let q: [[[i8; 4]; 4]; 1] = core::array::from_fn(|_| {
            core::array::from_fn(|h| core::array::from_fn(|w| (h as i8 * 37 - w as i8 * 23) % 100))
        });
        let x = q.map(|c| c.map(|r| r.map(|v| f32::from(v) / 100.0)));
        let max = quantize::<_, i8>(&MaxPool2d::<1, 4, 4, 2, 2, 2>::new(), 0.01, &[x]).unwrap();
        let float = MaxPool2d::<1, 4, 4, 2, 2, 2>::new().forward(&x);
        assert_eq!(
            max.forward(&q),
            float.map(|c| c.map(|r| r.map(|v| (v * 100.0).round() as i8)))
        );
        let mean = quantize::<_, i8>(&AvgPool2d::<1, 4, 4, 2, 2, 2>::new(), 0.01, &[x]).unwrap();
        let float = AvgPool2d::<1, 4, 4, 2, 2, 2>::new().forward(&x);
        for (q, f) in mean
            .forward(&q)
            .as_flattened()
            .as_flattened()
            .iter()
            .zip(float.as_flattened().as_flattened())
        {
            assert!(
                (f32::from(*q) - f * 100.0).abs() <= 0.5 + 1e-4,
                "{q} vs {f}"
            );
        }
    }
}
