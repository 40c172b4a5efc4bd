//! [`QuantizedConv2d`]: a [`Conv2d`](crate::Conv2d) in int8, the same scheme as
//! [`QuantizedDense`](super::QuantizedDense) — `i8` weights with one scale per
//! output channel, an `i32` bias, `i32` accumulation, and the activation fused
//! into the fixed-point rescale.

#[cfg(feature = "std")]
use std::vec::Vec;

#[cfg(feature = "std")]
use super::{Calibrated, PiecewiseLinear, Quantize, QuantizeError, quantize_channel};
use super::{ImageLogits, LOGIT_BITS, QuantizedInput, QuantizedModule, Requantize};
#[cfg(feature = "std")]
use crate::conv::Conv2d;
use crate::image::valid_outputs;
#[cfg(feature = "std")]
use crate::module::Module;

/// A convolution in int8, from a `C × H × W` image of `X` (`u8` pixels or `i8`
/// activations, zero point 0, so the zero padding is the value 0) to a
/// `CO × OH × OW` image of `i8`: `K × K` filters of `i8` in PyTorch's
/// `[CO][C][K][K]` order, moved in steps of `S` with `P` rows and columns of
/// zeros around the input, as [`Conv2d`](crate::Conv2d).
///
/// Each output is `bias[co] + Σ x · w` over the filter in `i32` (wrapping, so it
/// is total; [`quantize`](super::quantize) refuses a layer whose sum could
/// leave `i32`), then rescaled and activated by its channel's
/// [`Requantize`] multiplier for positive or for non-positive sums, and clamped
/// to ±127. Integer arithmetic only: bit-identical on every machine.
#[derive(Clone, PartialEq, Eq)]
pub struct QuantizedConv2d<
    const C: usize,
    const H: usize,
    const W: usize,
    const CO: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize = 1,
    const P: usize = 0,
    X = i8,
> {
    weights: [[[[i8; K]; K]; C]; CO],
    bias: [i32; CO],
    positive: [Requantize; CO],
    negative: [Requantize; CO],
    input: core::marker::PhantomData<X>,
}

impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const CO: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    X: QuantizedInput,
> QuantizedConv2d<C, H, W, CO, OH, OW, K, S, P, X>
{
    /// The shape rules of [`Conv2d`](crate::Conv2d), checked when the program is
    /// built: a layer whose sizes do not add up does not build.
    const SHAPE: () = {
        assert!(
            C > 0 && H > 0 && W > 0 && CO > 0 && K > 0 && S > 0,
            "QuantizedConv2d<C, H, W, CO, OH, OW, K, S, P>: every size and the stride must be at least 1"
        );
        assert!(
            K <= H + 2 * P && K <= W + 2 * P,
            "QuantizedConv2d<C, H, W, CO, OH, OW, K, S, P>: the kernel K is larger than the padded input"
        );
        assert!(
            OH == (H + 2 * P - K) / S + 1 && OW == (W + 2 * P - K) / S + 1,
            "QuantizedConv2d<C, H, W, CO, OH, OW, K, S, P>: the output must be OH = (H + 2·P − K) / S + 1 by OW = (W + 2·P − K) / S + 1"
        );
    };

    /// A layer from its parts, in a `const` context (weights compiled into a
    /// program): filters `[CO][C][K][K]`, biases in the accumulator's scale, and
    /// each output channel's multipliers for positive and non-positive sums.
    ///
    /// ```
    /// use mimic::quantized::QuantizedConv2d;
    /// use mimic::{QuantizedModule, Requantize};
    ///
    /// // One 2×2 filter of ones over a 1×2×2 image: the sum (M = 1), or 0 when negative.
    /// static LAYER: QuantizedConv2d<1, 2, 2, 1, 1, 1, 2> = QuantizedConv2d::from_parts(
    ///     [[[[1, 1], [1, 1]]]],
    ///     [0],
    ///     [Requantize::new(1 << 30, 30)],
    ///     [Requantize::new(0, 30)],
    /// );
    /// assert_eq!(LAYER.forward(&[[[1, 2], [3, 4]]]), [[[10]]]);
    /// assert_eq!(LAYER.forward(&[[[-1, -2], [3, -4]]]), [[[0]]]);
    /// ```
    pub const fn from_parts(
        weights: [[[[i8; K]; K]; C]; CO],
        bias: [i32; CO],
        positive: [Requantize; CO],
        negative: [Requantize; CO],
    ) -> Self {
        let () = Self::SHAPE;
        Self {
            weights,
            bias,
            positive,
            negative,
            input: core::marker::PhantomData,
        }
    }

    /// The int8 filters, `[CO][C][K][K]`.
    pub fn weights(&self) -> &[[[[i8; K]; K]; C]; CO] {
        &self.weights
    }

    /// The biases, in the accumulator's scale.
    pub fn bias(&self) -> &[i32; CO] {
        &self.bias
    }

    /// Each output channel's multiplier for positive sums.
    pub fn positive(&self) -> &[Requantize; CO] {
        &self.positive
    }

    /// Each output channel's multiplier for non-positive sums (the activation's
    /// slope folded in).
    pub fn negative(&self) -> &[Requantize; CO] {
        &self.negative
    }

    /// The bytes the parameters take: int8 weights, `i32` biases and the two
    /// multipliers (an `i32` and a shift byte each) per output channel.
    pub const fn parameter_bytes() -> usize {
        CO * C * K * K + 4 * CO + 2 * 5 * CO
    }

    /// `bias + Σ x · w` for every output, in wrapping `i32` arithmetic (exact
    /// and associative, so the order of the terms does not matter). Each
    /// nonzero weight meets whole output rows, skipping the padding (the value
    /// 0 adds nothing).
    pub fn accumulate(&self, x: &[[[X; W]; H]; C]) -> [[[i32; OW]; OH]; CO] {
        let mut acc = [[[0i32; OW]; OH]; CO];
        for (acc, (filter, &b)) in acc.iter_mut().zip(self.weights.iter().zip(&self.bias)) {
            for row in acc.iter_mut() {
                *row = [b; OW];
            }
            for (kernel, x) in filter.iter().zip(x) {
                for (kh, kernel_row) in kernel.iter().enumerate() {
                    for (kw, &w) in kernel_row.iter().enumerate() {
                        if w == 0 {
                            continue;
                        }
                        let w = i32::from(w);
                        let (first, end) = valid_outputs(kw, W, OW, S, P);
                        for (oh, acc) in acc.iter_mut().enumerate() {
                            let Some(row) = (oh * S + kh).checked_sub(P).and_then(|ih| x.get(ih))
                            else {
                                continue;
                            };
                            // valid_outputs keeps ow·S + kw − P inside the row;
                            // `get` makes that a skipped term, never a panic.
                            for (ow, a) in acc.iter_mut().enumerate().take(end).skip(first) {
                                if let Some(v) = row.get(ow * S + kw - P) {
                                    *a = a.wrapping_add(w.wrapping_mul(v.widen()));
                                }
                            }
                        }
                    }
                }
            }
        }
        acc
    }

    /// The activation and rescaling of one accumulator of channel `co`, `extra`
    /// bits finer than the output scale.
    #[inline(always)]
    fn requantize(&self, co: usize, acc: i32, extra: u32) -> i64 {
        if acc > 0 {
            self.positive[co].apply(acc, extra)
        } else {
            self.negative[co].apply(acc, extra)
        }
    }
}

impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const CO: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    X: QuantizedInput,
> core::fmt::Debug for QuantizedConv2d<C, H, W, CO, OH, OW, K, S, P, X>
{
    /// Shapes and input type only.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "QuantizedConv2d<{C}×{H}×{W} → {CO}×{OH}×{OW}, {K}×{K}, stride {S}, padding {P}, {}>",
            X::RUST
        )
    }
}

impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const CO: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    X: QuantizedInput,
> QuantizedModule for QuantizedConv2d<C, H, W, CO, OH, OW, K, S, P, X>
{
    type Input = [[[X; W]; H]; C];
    type Output = [[[i8; OW]; OH]; CO];
    type Logits = ImageLogits<CO, OH, OW>;

    fn forward(&self, input: &[[[X; W]; H]; C]) -> [[[i8; OW]; OH]; CO] {
        let acc = self.accumulate(input);
        let mut y = [[[0i8; OW]; OH]; CO];
        for (co, (y, acc)) in y.iter_mut().zip(&acc).enumerate() {
            for (y, &a) in y.as_flattened_mut().iter_mut().zip(acc.as_flattened()) {
                *y = i8::saturate(self.requantize(co, a, 0));
            }
        }
        y
    }

    fn logits(&self, input: &[[[X; W]; H]; C]) -> ImageLogits<CO, OH, OW> {
        let acc = self.accumulate(input);
        let mut y = [[[0i32; OW]; OH]; CO];
        for (co, (y, acc)) in y.iter_mut().zip(&acc).enumerate() {
            for (y, &a) in y.as_flattened_mut().iter_mut().zip(acc.as_flattened()) {
                *y = self
                    .requantize(co, a, LOGIT_BITS)
                    .clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
            }
        }
        ImageLogits(y)
    }
}

/// Quantised as [`Dense`](crate::Dense) is: per output channel, symmetric
/// weights `s_w[co] = max |W[co]| / 127`, the bias rounded to the accumulator's
/// scale `s_in · s_w[co]`, and the output scale the largest activation on the
/// calibration images over 127. A channel whose sum `Σ |w_q| · max |x| + |b_q|`
/// could leave `i32` is refused ([`QuantizeError::AccumulatorOverflow`]).
#[cfg(feature = "std")]
impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const CO: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    A: PiecewiseLinear,
    X: QuantizedInput,
> Quantize<X> for Conv2d<C, H, W, CO, OH, OW, K, S, P, A>
{
    type Quantized = QuantizedConv2d<C, H, W, CO, OH, OW, K, S, P, X>;
    const LAYERS: usize = 1;

    fn quantize_from(
        &self,
        layer: usize,
        input_scale: f32,
        inputs: &[Self::Input],
    ) -> Result<Calibrated<Self::Quantized, Self::Output>, QuantizeError> {
        let outputs: Vec<Self::Output> = inputs.iter().map(|x| self.forward(x)).collect();
        let output_scale = super::output_scale(
            outputs.iter().flat_map(|y| y.as_flattened().as_flattened()),
            layer,
        )?;
        let slope = f64::from(self.activation().negative_slope());
        let mut weights = [[[[0i8; K]; K]; C]; CO];
        let mut bias = [0i32; CO];
        let mut positive = [Requantize::new(0, super::MAX_SHIFT); CO];
        let mut negative = positive;
        for (co, filter) in self.weights().iter().enumerate() {
            let channel = quantize_channel::<X>(
                filter.as_flattened().as_flattened(),
                self.bias()[co],
                input_scale,
                output_scale,
                slope,
                layer,
                co,
            )?;
            weights[co]
                .as_flattened_mut()
                .as_flattened_mut()
                .copy_from_slice(&channel.weights);
            bias[co] = channel.bias;
            positive[co] = channel.positive;
            negative[co] = channel.negative;
        }
        Ok(Calibrated {
            network: QuantizedConv2d::from_parts(weights, bias, positive, negative),
            scale: output_scale,
            outputs,
        })
    }
}

/// Quantised as the equivalent full convolution
/// ([`DepthwiseConv2d::to_convolution`](crate::DepthwiseConv2d::to_convolution)):
/// each channel's scale comes from its own `K × K` weights alone (the others
/// are zero), so this is per-channel depthwise quantisation; the int8 layer
/// stores the zeros (`C` times the weights) and skips them when it runs.
#[cfg(feature = "std")]
impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    A: PiecewiseLinear,
    X: QuantizedInput,
> Quantize<X> for crate::DepthwiseConv2d<C, H, W, OH, OW, K, S, P, A>
{
    type Quantized = QuantizedConv2d<C, H, W, C, OH, OW, K, S, P, X>;
    const LAYERS: usize = 1;

    fn quantize_from(
        &self,
        layer: usize,
        input_scale: f32,
        inputs: &[Self::Input],
    ) -> Result<Calibrated<Self::Quantized, Self::Output>, QuantizeError> {
        self.to_convolution()
            .quantize_from(layer, input_scale, inputs)
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::activation::{Identity, LeakyReLU};
    use crate::{Initialize, Initializer, QuantizeError, quantize};
    use rand::{RngExt, SeedableRng};

    /// The definition, term by term, in i64.
    #[allow(clippy::needless_range_loop)] // indices are the definition
    fn reference<
        const C: usize,
        const H: usize,
        const W: usize,
        const CO: usize,
        const OH: usize,
        const OW: usize,
        const K: usize,
        const S: usize,
        const P: usize,
    >(
        layer: &QuantizedConv2d<C, H, W, CO, OH, OW, K, S, P, i8>,
        x: &[[[i8; W]; H]; C],
    ) -> Vec<i64> {
        let mut out = Vec::new();
        for co in 0..CO {
            for oh in 0..OH {
                for ow in 0..OW {
                    let mut sum = i64::from(layer.bias()[co]);
                    for ci in 0..C {
                        for kh in 0..K {
                            for kw in 0..K {
                                let ih = (oh * S + kh) as isize - P as isize;
                                let iw = (ow * S + kw) as isize - P as isize;
                                if ih >= 0 && iw >= 0 && (ih as usize) < H && (iw as usize) < W {
                                    sum += i64::from(layer.weights()[co][ci][kh][kw])
                                        * i64::from(x[ci][ih as usize][iw as usize]);
                                }
                            }
                        }
                    }
                    out.push(sum);
                }
            }
        }
        out
    }

    fn check<
        const C: usize,
        const H: usize,
        const W: usize,
        const CO: usize,
        const OH: usize,
        const OW: usize,
        const K: usize,
        const S: usize,
        const P: usize,
    >(
        seed: u64,
    ) {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
        let layer = QuantizedConv2d::<C, H, W, CO, OH, OW, K, S, P, i8>::from_parts(
            core::array::from_fn(|_| {
                core::array::from_fn(|_| {
                    core::array::from_fn(|_| core::array::from_fn(|_| rng.random()))
                })
            }),
            core::array::from_fn(|_| rng.random_range(-1000..1000)),
            [Requantize::new(1 << 30, 30); CO],
            [Requantize::new(1 << 30, 30); CO],
        );
        let x: [[[i8; W]; H]; C] = core::array::from_fn(|_| {
            core::array::from_fn(|_| core::array::from_fn(|_| rng.random_range(-127..=127)))
        });
        let acc = layer.accumulate(&x);
        let got: Vec<i64> = acc
            .as_flattened()
            .as_flattened()
            .iter()
            .map(|&a| i64::from(a))
            .collect();
        assert_eq!(got, reference(&layer, &x));
    }

    #[test]
    fn accumulation_is_the_definition_for_strides_and_paddings() {
        check::<1, 5, 5, 2, 5, 5, 3, 1, 1>(1);
        check::<2, 6, 7, 3, 2, 3, 3, 2, 0>(2);
        check::<3, 7, 5, 2, 4, 3, 3, 2, 1>(3);
        check::<1, 4, 4, 1, 6, 6, 1, 1, 1>(4);
        check::<2, 8, 8, 2, 3, 3, 4, 3, 1>(5);
    }

    /// A random convolution quantised with u8 inputs tracks the float one: its
    /// outputs, rescaled, are within a few steps of the float activations.
    #[test]
    fn quantized_convolution_tracks_the_float_one() {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(7);
        let layer: Conv2d<2, 6, 6, 3, 6, 6, 3, 1, 1, LeakyReLU> =
            Initialize::initialize(Initializer::He, &mut rng);
        let pixels: Vec<[[[u8; 6]; 6]; 2]> = (0..50)
            .map(|_| {
                core::array::from_fn(|_| {
                    core::array::from_fn(|_| core::array::from_fn(|_| rng.random()))
                })
            })
            .collect();
        let inputs: Vec<[[[f32; 6]; 6]; 2]> = pixels
            .iter()
            .map(|p| p.map(|c| c.map(|r| r.map(|v| f32::from(v) / 255.0))))
            .collect();
        let c = Quantize::<u8>::quantize_from(&layer, 0, 1.0 / 255.0, &inputs).unwrap();
        for (p, x) in pixels.iter().zip(&inputs) {
            let (q, f) = (c.network.forward(p), layer.forward(x));
            for (&q, &f) in q
                .as_flattened()
                .as_flattened()
                .iter()
                .zip(f.as_flattened().as_flattened())
            {
                assert!(
                    (f32::from(q) * c.scale - f).abs() <= 3.0 * c.scale,
                    "{q} vs {f}"
                );
            }
        }
    }

    #[test]
    fn a_depthwise_layer_quantises_as_its_full_convolution() {
        use crate::{DepthwiseConv2d, ReLU};
        let mut rng = rand_pcg::Pcg64::seed_from_u64(3);
        let layer: DepthwiseConv2d<3, 6, 6, 6, 6, 3, 1, 1, ReLU> =
            Initialize::initialize(Initializer::He, &mut rng);
        let images: Vec<[[[f32; 6]; 6]; 3]> = (0..20)
            .map(|_| {
                core::array::from_fn(|_| {
                    core::array::from_fn(|_| core::array::from_fn(|_| rng.random::<f32>()))
                })
            })
            .collect();
        // The same outputs in f32, bit for bit.
        for x in &images {
            assert_eq!(layer.forward(x), layer.to_convolution().forward(x));
        }
        let int8: QuantizedConv2d<3, 6, 6, 3, 6, 6, 3, 1, 1, u8> =
            quantize::<_, u8>(&layer, 1.0 / 255.0, &images).unwrap();
        let full = quantize::<_, u8>(&*layer.to_convolution(), 1.0 / 255.0, &images).unwrap();
        assert!(int8 == full);
        // Only each channel's own filter is nonzero.
        for (co, filter) in int8.weights().iter().enumerate() {
            for (ci, kernel) in filter.iter().enumerate() {
                if ci != co {
                    assert!(kernel.as_flattened().iter().all(|&w| w == 0));
                }
            }
        }
    }

    #[test]
    fn an_accumulator_that_could_overflow_is_refused() {
        // 35,640 weights of 127 over u8 pixels reach 127 · 35,640 · 255 ≈ 1.15·10⁹,
        // and the bias 30,900 / (1/255 · 1/127) ≈ 1.0·10⁹ (under the 2³⁰ bias
        // limit) takes the sum past 2³¹ − 1.
        let layer = Conv2d::<440, 9, 9, 1, 1, 1, 9, 1, 0, Identity>::from_parts(
            [[[[1.0; 9]; 9]; 440]],
            [30_900.0],
            Identity,
        );
        let x = [[[0.5f32; 9]; 9]; 440];
        assert_eq!(
            quantize::<_, u8>(&layer, 1.0 / 255.0, core::slice::from_ref(&x)),
            Err(QuantizeError::AccumulatorOverflow {
                layer: 0,
                output: 0
            })
        );
        // With i8 inputs (|x| ≤ 127, scale 1/127) the same layer fits.
        assert!(quantize::<_, i8>(&layer, 1.0 / 127.0, core::slice::from_ref(&x)).is_ok());
    }
}
