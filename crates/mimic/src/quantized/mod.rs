//! int8 inference: post-training quantisation and integer-only forward passes.
//!
//! A [`QuantizedDense<IN, OUT, X>`] is a [`Dense`] whose weights are
//! `i8` with one scale per output channel (symmetric: zero point 0, range ±127),
//! whose bias is an `i32` in the accumulator's scale, and whose input is `X`: `u8`
//! for raw pixels (scale 1/255 for MNIST, which represents `p / 255` exactly) or
//! `i8` for the previous layer's output. The forward pass is integers only:
//!
//! 1. `acc[o] = bias[o] + Σᵢ x[i] · w[i][o]` in `i32` (wrapping, so it is total;
//!    [`quantize`] keeps `|acc|` far below 2³¹ for any input);
//! 2. the activation and the rescaling to the output's scale are one fixed-point
//!    multiply: `acc · M` with `M = s_in · s_w[o] / s_out` for `acc > 0`, and
//!    `M · slope` otherwise — LeakyReLU, ReLU (slope 0) and identity (slope 1) are
//!    all a choice of multiplier. `M` is an `i32` mantissa and a right shift
//!    ([`Requantize`]), applied in `i64` with rounding half up;
//! 3. the result is clamped to ±127 for the next layer, or kept at 2⁸ times finer
//!    resolution and not clamped for the final logits, whose [`argmax_i32`] is the
//!    class.
//!
//! Every operation is an integer one, so the result does not depend on the order
//! of the additions, the instruction set or the compiler: bit-identical
//! everywhere. Nothing here allocates or panics, and it is all available without
//! `std`; the constructors are `const fn`, so int8 weights can be compiled into
//! firmware (see `export`). Calibration — choosing the scales from training data —
//! needs `std` ([`quantize`]).

mod conv;
mod flatten;
mod image;
mod pool;

pub use conv::QuantizedConv2d;
pub use flatten::QuantizedFlatten;
pub use image::{ImageLogits, QuantizedImage, quantized_image};
pub use pool::{IntegerPooling, QuantizedPool2d};

#[cfg(feature = "std")]
use std::vec::Vec;

#[cfg(feature = "std")]
use crate::activation::{Activation, Identity, LeakyReLU, ReLU};
#[cfg(feature = "std")]
use crate::layer::Dense;
#[cfg(feature = "std")]
use crate::module::Module;

/// How many bits finer than the int8 outputs the final logits are: rounding
/// logits to the int8 grid would make near-ties between classes exact ties.
pub const LOGIT_BITS: u32 = 8;

/// The smallest right shift a [`Requantize`] may have: room for the
/// [`LOGIT_BITS`] of the logits and one bit of rounding.
pub const MIN_SHIFT: u8 = LOGIT_BITS as u8 + 1;

/// The largest right shift: `acc · multiplier` is below 2⁶² in magnitude, so a
/// shift of 62 already maps every accumulator to 0 or ±1.
pub const MAX_SHIFT: u8 = 62;

/// A real multiplier `M ≈ multiplier · 2^-shift` in fixed point: `x · M` is
/// computed as `(x · multiplier + 2^(shift−1)) >> shift` in `i64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Requantize {
    multiplier: i32,
    shift: u8,
}

impl Requantize {
    /// A multiplier of `multiplier · 2^-shift`. `shift` is clamped to
    /// [`MIN_SHIFT`]`..=`[`MAX_SHIFT`], so every value is usable and the forward pass
    /// never shifts by more than 63 bits.
    pub const fn new(multiplier: i32, shift: u8) -> Self {
        let shift = if shift < MIN_SHIFT {
            MIN_SHIFT
        } else if shift > MAX_SHIFT {
            MAX_SHIFT
        } else {
            shift
        };
        Self { multiplier, shift }
    }

    /// The integer mantissa.
    pub const fn multiplier(&self) -> i32 {
        self.multiplier
    }

    /// The right shift.
    pub const fn shift(&self) -> u8 {
        self.shift
    }

    /// `round(acc · M · 2^extra)`, rounding halves up; `extra` is clamped to
    /// [`LOGIT_BITS`]. `|acc · multiplier| ≤ 2⁶²` and the rounding term is at most
    /// 2⁶¹, so nothing overflows an `i64`.
    #[inline(always)]
    pub const fn apply(&self, acc: i32, extra: u32) -> i64 {
        let extra = if extra > LOGIT_BITS {
            LOGIT_BITS
        } else {
            extra
        };
        // shift ≥ MIN_SHIFT > LOGIT_BITS ≥ extra, so the shift is 1 to 62.
        let shift = self.shift as u32 - extra;
        let product = acc as i64 * self.multiplier as i64;
        (product + (1i64 << (shift - 1))) >> shift
    }

    /// The real multiplier this stands for (for reports and tests).
    #[cfg(feature = "std")]
    pub fn value(&self) -> f64 {
        f64::from(self.multiplier) * 2f64.powi(-i32::from(self.shift))
    }
}

/// What a quantised layer takes: `u8` (raw pixels, zero point 0) or `i8` (a
/// previous quantised layer's output).
pub trait QuantizedInput: Copy + Default + core::fmt::Debug + Send + Sync + 'static {
    /// The smallest representable value.
    const MIN: i32;
    /// The largest representable value.
    const MAX: i32;
    /// The Rust name of the type, for generated source.
    const RUST: &'static str;
    /// The C name of the type, for generated headers.
    const C: &'static str;
    /// The value as an `i32`.
    fn widen(self) -> i32;
    /// `v` clamped to the type's range.
    fn saturate(v: i64) -> Self;
}

impl QuantizedInput for i8 {
    const MIN: i32 = -127;
    const MAX: i32 = 127;
    const RUST: &'static str = "i8";
    const C: &'static str = "int8_t";
    #[inline(always)]
    fn widen(self) -> i32 {
        i32::from(self)
    }
    #[inline(always)]
    fn saturate(v: i64) -> Self {
        // Symmetric: −128 is never produced, so negation is always exact.
        v.clamp(-127, 127) as i8
    }
}

impl QuantizedInput for u8 {
    const MIN: i32 = 0;
    const MAX: i32 = 255;
    const RUST: &'static str = "u8";
    const C: &'static str = "uint8_t";
    #[inline(always)]
    fn widen(self) -> i32 {
        i32::from(self)
    }
    #[inline(always)]
    fn saturate(v: i64) -> Self {
        v.clamp(0, 255) as u8
    }
}

/// A dense layer in int8: `i8` weights stored transposed (`weights_t[i][o]` is
/// `W[o][i]`, as in [`Dense`]), `i32` bias, and per output channel
/// the fixed-point multipliers for positive and for non-positive accumulators.
#[derive(Clone, PartialEq, Eq)]
pub struct QuantizedDense<const IN: usize, const OUT: usize, X = i8> {
    weights_t: [[i8; OUT]; IN],
    bias: [i32; OUT],
    positive: [Requantize; OUT],
    negative: [Requantize; OUT],
    input: core::marker::PhantomData<X>,
}

impl<const IN: usize, const OUT: usize, X: QuantizedInput> QuantizedDense<IN, OUT, X> {
    /// A layer with no inputs or no outputs is a build error, as for `Dense`.
    const NOT_EMPTY: () = assert!(
        IN > 0 && OUT > 0,
        "a layer needs at least one input and one output: QuantizedDense<IN, OUT> with IN = 0 or OUT = 0"
    );

    /// A layer from its parts, in a `const` context (weights compiled into a
    /// program). The array lengths are the layer's shape: parts of the wrong shape
    /// do not compile.
    ///
    /// ```
    /// use mimic::{QuantizedDense, QuantizedModule, Requantize};
    ///
    /// // y = 2·x₀ − x₁ (M = 1 = 2³⁰·2⁻³⁰), and a quarter of that when negative.
    /// static LAYER: QuantizedDense<2, 1> = QuantizedDense::from_parts(
    ///     [[2], [-1]],
    ///     [0],
    ///     [Requantize::new(1 << 30, 30)],
    ///     [Requantize::new(1 << 28, 30)],
    /// );
    /// assert_eq!(LAYER.forward(&[10, 4]), [16]);
    /// assert_eq!(LAYER.forward(&[-10, 4]), [-6]);
    /// ```
    pub const fn from_parts(
        weights_t: [[i8; OUT]; IN],
        bias: [i32; OUT],
        positive: [Requantize; OUT],
        negative: [Requantize; OUT],
    ) -> Self {
        let () = Self::NOT_EMPTY;
        Self {
            weights_t,
            bias,
            positive,
            negative,
            input: core::marker::PhantomData,
        }
    }

    /// The int8 weights, transposed (`IN × OUT`).
    pub fn weights_transposed(&self) -> &[[i8; OUT]; IN] {
        &self.weights_t
    }

    /// The bias, in the accumulator's scale.
    pub fn bias(&self) -> &[i32; OUT] {
        &self.bias
    }

    /// Each output's multiplier for positive accumulators.
    pub fn positive(&self) -> &[Requantize; OUT] {
        &self.positive
    }

    /// Each output's multiplier for non-positive accumulators (the activation's
    /// slope folded in).
    pub fn negative(&self) -> &[Requantize; OUT] {
        &self.negative
    }

    /// `bias + Σᵢ x[i] · Wᵀ[i]` in `i32`, skipping zero inputs (most pixels).
    /// Wrapping arithmetic: integer addition is exact and associative, so the
    /// result does not depend on the order, and no input can make it panic.
    ///
    /// The nonzero inputs are listed first without a branch per input (each
    /// position is written, and kept only if its value is nonzero), as the float
    /// layer does: a branch per pixel mispredicts along every stroke's edge.
    ///
    /// With `std` the loop is compiled for AVX-512, AVX2 and the baseline and
    /// chosen at run time, as the float kernels are (`mimic::kernels`); integer
    /// sums are exact, so the choice changes only the speed.
    #[inline(always)]
    pub fn accumulate(&self, x: &[X; IN]) -> [i32; OUT] {
        let work = Accumulate { layer: self, x };
        #[cfg(feature = "std")]
        return crate::kernels::dispatch(work);
        #[cfg(not(feature = "std"))]
        return crate::kernels::Work::run(work);
    }

    /// [`QuantizedDense::accumulate`], compiled for whatever ISA its caller is.
    /// Positions are listed as `u16` when every one fits (a layer of at most
    /// 65,536 inputs: half the stack of wider positions), else as `usize`:
    /// never narrowed, so a wide layer never reads one input as another.
    #[inline(always)]
    fn accumulate_here(&self, x: &[X; IN]) -> [i32; OUT] {
        if IN <= 1 << 16 {
            self.accumulate_listed::<u16>(x)
        } else {
            self.accumulate_listed::<usize>(x)
        }
    }

    /// The sum, with the nonzero inputs' positions listed as `P`s (which hold
    /// every position below `IN`: see [`QuantizedDense::accumulate_here`]).
    #[inline(always)]
    fn accumulate_listed<P: Position>(&self, x: &[X; IN]) -> [i32; OUT] {
        let mut indices = [P::default(); IN];
        let mut values = [0i32; IN];
        let mut n = 0;
        // Blocks of 8 inputs that are all zero (an image's empty margins) are
        // skipped with one test; the others are listed one by one.
        for (block, chunk) in x.chunks(8).enumerate() {
            if chunk.iter().fold(0, |any, v| any | v.widen()) == 0 {
                continue;
            }
            for (k, &v) in chunk.iter().enumerate() {
                // n ≤ i < IN, so the slot exists; it is kept only if v is nonzero.
                indices[n] = P::from_index(8 * block + k);
                values[n] = v.widen();
                n += usize::from(values[n] != 0);
            }
        }
        let mut acc = self.bias;
        for (&i, &v) in indices.iter().zip(&values).take(n) {
            let Some(row) = self.weights_t.get(i.index()) else {
                continue;
            };
            for (a, &w) in acc.iter_mut().zip(row) {
                *a = a.wrapping_add(v.wrapping_mul(i32::from(w)));
            }
        }
        acc
    }

    /// The activation and rescaling of one accumulator, `extra` bits finer than
    /// the output scale.
    #[inline(always)]
    fn requantize(&self, o: usize, acc: i32, extra: u32) -> i64 {
        if acc > 0 {
            self.positive[o].apply(acc, extra)
        } else {
            self.negative[o].apply(acc, extra)
        }
    }

    /// The bytes the parameters take: int8 weights, `i32` biases and the two
    /// multipliers (an `i32` and a shift byte each) per output.
    pub const fn parameter_bytes() -> usize {
        IN * OUT + 4 * OUT + 2 * 5 * OUT
    }
}

impl<const IN: usize, const OUT: usize, X: QuantizedInput> core::fmt::Debug
    for QuantizedDense<IN, OUT, X>
{
    /// Shape and input type only, as for `Dense`: thousands of weights help
    /// nobody in a debug print.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "QuantizedDense<{IN}, {OUT}, {}>", X::RUST)
    }
}

/// One layer's accumulation as a piece of work the kernels' dispatcher can
/// compile once per instruction set.
struct Accumulate<'a, const IN: usize, const OUT: usize, X> {
    layer: &'a QuantizedDense<IN, OUT, X>,
    x: &'a [X; IN],
}

impl<const IN: usize, const OUT: usize, X: QuantizedInput> crate::kernels::Work
    for Accumulate<'_, IN, OUT, X>
{
    type Output = [i32; OUT];

    #[inline(always)]
    fn run(self) -> [i32; OUT] {
        self.layer.accumulate_here(self.x)
    }
}

/// A quantised network: a [`QuantizedDense`] or a tuple of them whose shapes chain.
pub trait QuantizedModule {
    /// What it takes, e.g. `[u8; 784]`.
    type Input;
    /// Its int8 output, e.g. `[i8; 10]`.
    type Output;
    /// The final layer's logits, [`LOGIT_BITS`] finer than the int8 output and not
    /// clamped, e.g. `[i32; 10]`.
    type Logits: AsRef<[i32]>;

    /// The int8 output.
    fn forward(&self, input: &Self::Input) -> Self::Output;

    /// The logits of the last layer, on one common scale for every class.
    fn logits(&self, input: &Self::Input) -> Self::Logits;

    /// The class: the index of the largest logit, the first on ties.
    fn predict(&self, input: &Self::Input) -> usize {
        argmax_i32(self.logits(input).as_ref())
    }
}

impl<const IN: usize, const OUT: usize, X: QuantizedInput> QuantizedModule
    for QuantizedDense<IN, OUT, X>
{
    type Input = [X; IN];
    type Output = [i8; OUT];
    type Logits = [i32; OUT];

    #[inline(always)]
    fn forward(&self, input: &[X; IN]) -> [i8; OUT] {
        let acc = self.accumulate(input);
        let mut y = [0i8; OUT];
        for (o, (y, &a)) in y.iter_mut().zip(&acc).enumerate() {
            *y = i8::saturate(self.requantize(o, a, 0));
        }
        y
    }

    #[inline(always)]
    fn logits(&self, input: &[X; IN]) -> [i32; OUT] {
        let acc = self.accumulate(input);
        let mut y = [0i32; OUT];
        for (o, (y, &a)) in y.iter_mut().zip(&acc).enumerate() {
            *y = self
                .requantize(o, a, LOGIT_BITS)
                .clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        }
        y
    }
}

/// The index of the largest value, the first on ties; 0 for no values.
pub fn argmax_i32(values: &[i32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// An input's position in a list of nonzero inputs: `u16` for layers of at
/// most 65,536 inputs, `usize` for wider ones.
trait Position: Copy + Default {
    /// The position `i` (which the type holds: the caller chose it so).
    fn from_index(i: usize) -> Self;
    /// The position as an index.
    fn index(self) -> usize;
}

impl Position for u16 {
    #[inline(always)]
    fn from_index(i: usize) -> Self {
        // Only chosen when every position is below 2¹⁶ (exact then).
        i as u16
    }
    #[inline(always)]
    fn index(self) -> usize {
        usize::from(self)
    }
}

impl Position for usize {
    #[inline(always)]
    fn from_index(i: usize) -> Self {
        i
    }
    #[inline(always)]
    fn index(self) -> usize {
        self
    }
}

/// Why a network could not be quantised.
#[cfg(feature = "std")]
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum QuantizeError {
    /// No calibration inputs were given.
    NoCalibrationData,
    /// A parameter, a calibration input or an activation is NaN or infinite.
    NotFinite {
        /// The layer, counting from 0.
        layer: usize,
    },
    /// The input scale is not a positive finite number.
    BadInputScale(f32),
    /// A rescaling multiplier is too large for the fixed-point format (the output
    /// scale is far finer than the input's), or a bias does not fit the accumulator.
    OutOfRange {
        /// The layer, counting from 0.
        layer: usize,
        /// The output channel.
        output: usize,
    },
    /// An output's `i32` accumulator could overflow: `Σ |w_q| · max |x| + |b_q|`
    /// (the largest sum any input can give) exceeds `i32::MAX` — too many inputs
    /// per output for int8 weights and this input type.
    AccumulatorOverflow {
        /// The layer, counting from 0.
        layer: usize,
        /// The output channel.
        output: usize,
    },
    /// A layer's outputs are 0 on every calibration input (all-zero inputs, or
    /// a layer that is dead on them): they say nothing about the range its
    /// outputs take, so no output scale can be calibrated.
    Uncalibrated {
        /// The layer, counting from 0.
        layer: usize,
    },
    /// The activation has no integer form (only LeakyReLU, ReLU and identity do).
    Unsupported {
        /// The activation's name.
        activation: &'static str,
    },
}

#[cfg(feature = "std")]
impl core::fmt::Display for QuantizeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoCalibrationData => write!(f, "no calibration inputs were given"),
            Self::NotFinite { layer } => write!(
                f,
                "layer {layer}: a parameter, input or activation is not finite"
            ),
            Self::BadInputScale(s) => write!(f, "the input scale {s} is not positive and finite"),
            Self::OutOfRange { layer, output } => write!(
                f,
                "layer {layer}, output {output}: the rescaling or the bias does not fit the fixed-point format"
            ),
            Self::AccumulatorOverflow { layer, output } => write!(
                f,
                "layer {layer}, output {output}: the 32-bit accumulator could overflow (too many inputs per output)"
            ),
            Self::Uncalibrated { layer } => write!(
                f,
                "layer {layer}: every output is 0 on the calibration inputs, so no output scale can be calibrated (are the inputs all zero?)"
            ),
            Self::Unsupported { activation } => {
                write!(f, "the activation {activation} has no integer form")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for QuantizeError {}

/// An activation that is linear on each side of 0, so that it is a choice of
/// multiplier in integer arithmetic: `f(x) = x` for `x > 0`, `slope · x` otherwise.
#[cfg(feature = "std")]
pub trait PiecewiseLinear: Activation {
    /// The slope for non-positive inputs.
    fn negative_slope(&self) -> f32;
}

#[cfg(feature = "std")]
impl PiecewiseLinear for LeakyReLU {
    fn negative_slope(&self) -> f32 {
        self.slope
    }
}

#[cfg(feature = "std")]
impl PiecewiseLinear for ReLU {
    fn negative_slope(&self) -> f32 {
        0.0
    }
}

#[cfg(feature = "std")]
impl PiecewiseLinear for Identity {
    fn negative_slope(&self) -> f32 {
        1.0
    }
}

/// The fixed-point form of a real multiplier `m`, or `None` if `m` is too large
/// (or not finite). `m = mantissa · 2^-shift` with the mantissa in `[2³⁰, 2³¹)`
/// for the most precision; a multiplier too small for [`MAX_SHIFT`] loses
/// mantissa bits instead, down to 0.
#[cfg(feature = "std")]
pub fn fixed_point(m: f64) -> Option<Requantize> {
    if !m.is_finite() {
        return None;
    }
    if m == 0.0 {
        return Some(Requantize::new(0, MAX_SHIFT));
    }
    let (negative, mut m) = (m < 0.0, m.abs());
    let mut shift: i32 = 31;
    while m < 0.5 {
        m *= 2.0;
        shift += 1;
    }
    while m >= 1.0 {
        m /= 2.0;
        shift -= 1;
    }
    // m ∈ [0.5, 1): the mantissa is in [2³⁰, 2³¹], 2³¹ after rounding up.
    let mut mantissa = (m * 2f64.powi(31)).round() as i64;
    if mantissa == 1 << 31 {
        mantissa >>= 1;
        shift -= 1;
    }
    if shift < i32::from(MIN_SHIFT) {
        return None;
    }
    if shift > i32::from(MAX_SHIFT) {
        // Dividing by a power of two is exact up to the rounding of the last bits.
        let excess = (shift - i32::from(MAX_SHIFT)).min(40);
        mantissa = (mantissa + (1 << (excess - 1))) >> excess;
        shift = i32::from(MAX_SHIFT);
    }
    let mantissa = if negative { -mantissa } else { mantissa };
    Some(Requantize::new(mantissa as i32, shift as u8))
}

/// A network quantised from layer `first_layer` on (see [`Quantize::quantize_from`]):
/// the int8 layers, their output scale, and the float outputs on the calibration
/// inputs (to calibrate what follows).
#[cfg(feature = "std")]
#[derive(Clone, Debug)]
pub struct Calibrated<Q, O> {
    /// The int8 layers.
    pub network: Q,
    /// Their output's scale: an int8 output `q` stands for `q · scale`.
    pub scale: f32,
    /// The float network's outputs on the calibration inputs.
    pub outputs: Vec<O>,
}

/// A float network that can be quantised to int8, with inputs of type `X`.
#[cfg(feature = "std")]
pub trait Quantize<X: QuantizedInput>: Module {
    /// The int8 network of the same shape (a [`QuantizedModule`]).
    type Quantized;

    /// Quantises layer `first_layer` onwards whose inputs have scale `input_scale`,
    /// calibrating every output scale on `inputs` (the float network's activations
    /// for calibration data). Returns the int8 network, its output scale, and its
    /// float outputs on `inputs` (to calibrate what follows).
    fn quantize_from(
        &self,
        first_layer: usize,
        input_scale: f32,
        inputs: &[Self::Input],
    ) -> Result<Calibrated<Self::Quantized, Self::Output>, QuantizeError>;

    /// How many layers the network has.
    const LAYERS: usize;
}

/// Quantises `network` to int8 with inputs of scale `input_scale` (a quantised
/// input `q` stands for `q · input_scale`; for pixels `p` scaled to `p / 255`,
/// `u8` inputs and 1/255), calibrating each layer's output scale as the largest
/// magnitude it reaches on `calibration` (float inputs) divided by 127.
///
/// Weights are scaled per output channel, symmetric: `s_w[o] = max |W[o][·]| / 127`.
/// Biases are rounded to the accumulator's scale `s_in · s_w[o]`.
///
/// ```
/// use mimic::{Dense, Identity, QuantizedModule, quantize};
///
/// let layer: Dense<2, 2, Identity> =
///     Dense::from_transposed([[1.0, -1.0], [0.5, 2.0]], [0.0, 0.25], Identity);
/// let calibration = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
/// let q = quantize::<_, u8>(&layer, 1.0 / 255.0, &calibration)?;
/// // 255 stands for 1.0: y = (1.0, −1.0 + 0.25) → class 0.
/// assert_eq!(q.predict(&[255, 0]), 0);
/// assert_eq!(q.predict(&[0, 255]), 1);
/// # Ok::<(), mimic::QuantizeError>(())
/// ```
#[cfg(feature = "std")]
pub fn quantize<L: Quantize<X>, X: QuantizedInput>(
    network: &L,
    input_scale: f32,
    calibration: &[L::Input],
) -> Result<L::Quantized, QuantizeError> {
    if calibration.is_empty() {
        return Err(QuantizeError::NoCalibrationData);
    }
    if !(input_scale.is_finite() && input_scale > 0.0) {
        return Err(QuantizeError::BadInputScale(input_scale));
    }
    network
        .quantize_from(0, input_scale, calibration)
        .map(|c| c.network)
}

/// `x / scale` rounded and clamped to `X`: how a float input becomes the int8
/// network's input.
#[cfg(feature = "std")]
pub fn quantize_input<X: QuantizedInput, const N: usize>(x: &[f32; N], scale: f32) -> [X; N] {
    x.map(|v| X::saturate((f64::from(v) / f64::from(scale)).round() as i64))
}

/// The output scale calibrated on a layer's float outputs: the largest
/// magnitude over 127, or an error if an output is NaN or infinite, or if every
/// output is 0 (any scale would be a guess).
#[cfg(feature = "std")]
pub(crate) fn output_scale<'a>(
    outputs: impl Iterator<Item = &'a f32>,
    layer: usize,
) -> Result<f32, QuantizeError> {
    // NaN stays NaN: `f32::max` would drop it at the next finite value.
    let largest = outputs.fold(0.0f32, |m, &v| {
        if m.is_nan() || !v.is_finite() {
            f32::NAN
        } else {
            m.max(v.abs())
        }
    });
    if !largest.is_finite() {
        return Err(QuantizeError::NotFinite { layer });
    }
    if largest == 0.0 {
        return Err(QuantizeError::Uncalibrated { layer });
    }
    Ok(largest / 127.0)
}

/// One output channel in int8 (see [`quantize_channel`]).
#[cfg(feature = "std")]
pub(crate) struct Channel {
    /// The weights, in the order given.
    pub(crate) weights: Vec<i8>,
    /// The bias in the accumulator's scale.
    pub(crate) bias: i32,
    /// The multiplier for positive accumulators.
    pub(crate) positive: Requantize,
    /// The multiplier for non-positive ones.
    pub(crate) negative: Requantize,
}

/// Quantises one output channel — its weights (every weight that meets one
/// output, in any order), bias and activation slope — for inputs of type `X`
/// and scale `input_scale`, and an output of scale `output_scale`: the scheme
/// every int8 layer shares. `layer` and `output` name the channel in errors.
///
/// Weights are symmetric, `s_w = max |w| / 127`; the bias is rounded to the
/// accumulator's scale `s_in · s_w` and must be below 2³⁰ in magnitude (so its
/// product with a mantissa stays below 2⁶²); and the largest sum any input can
/// give, `Σ |w_q| · max |x| + |b_q|`, must fit an `i32`, or the accumulator
/// could wrap: such a channel is refused, not quantised.
#[cfg(feature = "std")]
pub(crate) fn quantize_channel<X: QuantizedInput>(
    weights: &[f32],
    bias: f32,
    input_scale: f32,
    output_scale: f32,
    slope: f64,
    layer: usize,
    output: usize,
) -> Result<Channel, QuantizeError> {
    if !weights.iter().all(|w| w.is_finite()) || !bias.is_finite() {
        return Err(QuantizeError::NotFinite { layer });
    }
    let largest_weight = weights.iter().fold(0.0f32, |m, w| m.max(w.abs()));
    let weight_scale = if largest_weight > 0.0 {
        f64::from(largest_weight) / 127.0
    } else {
        1.0
    };
    let weights: Vec<i8> = weights
        .iter()
        .map(|&w| (f64::from(w) / weight_scale).round().clamp(-127.0, 127.0) as i8)
        .collect();
    let accumulator_scale = f64::from(input_scale) * weight_scale;
    let out_of_range = QuantizeError::OutOfRange { layer, output };
    let b = (f64::from(bias) / accumulator_scale).round();
    if !b.is_finite() || b.abs() >= f64::from(1u32 << 30) {
        return Err(out_of_range);
    }
    let largest_input = i64::from(X::MIN.unsigned_abs().max(X::MAX.unsigned_abs()));
    let largest_sum = weights
        .iter()
        .map(|&w| i64::from(w).abs() * largest_input)
        .fold(b.abs() as i64, i64::saturating_add);
    if largest_sum > i64::from(i32::MAX) {
        return Err(QuantizeError::AccumulatorOverflow { layer, output });
    }
    let m = accumulator_scale / f64::from(output_scale);
    Ok(Channel {
        weights,
        bias: b as i32,
        positive: fixed_point(m).ok_or(out_of_range.clone())?,
        negative: fixed_point(m * slope).ok_or(out_of_range)?,
    })
}

#[cfg(feature = "std")]
impl<const IN: usize, const OUT: usize, A: PiecewiseLinear, X: QuantizedInput> Quantize<X>
    for Dense<IN, OUT, A>
{
    type Quantized = QuantizedDense<IN, OUT, X>;
    const LAYERS: usize = 1;

    fn quantize_from(
        &self,
        layer: usize,
        input_scale: f32,
        inputs: &[[f32; IN]],
    ) -> Result<Calibrated<Self::Quantized, [f32; OUT]>, QuantizeError> {
        let outputs: Vec<[f32; OUT]> = inputs.iter().map(|x| self.forward(x)).collect();
        let output_scale = output_scale(outputs.iter().flatten(), layer)?;
        let slope = f64::from(self.activation().negative_slope());
        let mut weights_t = [[0i8; OUT]; IN];
        let mut bias = [0i32; OUT];
        let mut positive = [Requantize::new(0, MAX_SHIFT); OUT];
        let mut negative = positive;
        let mut column = Vec::with_capacity(IN);
        for o in 0..OUT {
            column.clear();
            column.extend(self.weights_transposed().iter().map(|row| row[o]));
            let channel = quantize_channel::<X>(
                &column,
                self.bias()[o],
                input_scale,
                output_scale,
                slope,
                layer,
                o,
            )?;
            for (row, &q) in weights_t.iter_mut().zip(&channel.weights) {
                row[o] = q;
            }
            bias[o] = channel.bias;
            positive[o] = channel.positive;
            negative[o] = channel.negative;
        }
        let layer = QuantizedDense::from_parts(weights_t, bias, positive, negative);
        Ok(Calibrated {
            network: layer,
            scale: output_scale,
            outputs,
        })
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::kernels::Isa;
    use crate::{Dense, Identity, Initialize, Initializer, LeakyReLU};
    use rand::{RngExt, SeedableRng};

    #[test]
    fn fixed_point_multipliers_are_accurate() {
        for m in [
            1e-9, 0.001, 0.1, 0.3333, 0.5, 0.75, 0.999_999, 1.0, 3.5, 1000.0, -0.25,
        ] {
            let r = fixed_point(m).unwrap();
            assert!(((r.value() - m) / m).abs() < 1e-8, "{m}: {r:?}");
            assert!((MIN_SHIFT..=MAX_SHIFT).contains(&r.shift()));
        }
        assert_eq!(fixed_point(0.0).unwrap().multiplier(), 0);
        assert!(fixed_point(1e12).is_none());
        assert!(fixed_point(f64::NAN).is_none());
        // Below 2⁻⁶² the mantissa shrinks instead of the shift growing.
        assert!(fixed_point(1e-25).unwrap().multiplier().abs() < 1 << 30);
    }

    #[test]
    fn requantization_rounds_half_up_and_never_overflows() {
        let half = Requantize::new(1 << 30, 31); // 0.5
        assert_eq!(half.apply(3, 0), 2); // 1.5 → 2
        assert_eq!(half.apply(-3, 0), -1); // −1.5 → −1
        assert_eq!(half.apply(4, LOGIT_BITS), 512);
        let big = Requantize::new(i32::MAX, MIN_SHIFT);
        assert!(big.apply(i32::MIN, 0) < 0 && big.apply(i32::MAX, 0) > 0);
        assert_eq!(Requantize::new(5, 0).shift(), MIN_SHIFT);
        assert_eq!(half.apply(4, 1000), half.apply(4, LOGIT_BITS));
        let extreme = Requantize::new(i32::MIN, MIN_SHIFT);
        assert_eq!(extreme.apply(i32::MIN, LOGIT_BITS), 1 << 61); // 2⁶² >> 1
        assert_eq!(Requantize::new(5, 200).shift(), MAX_SHIFT);
    }

    #[test]
    fn argmax_takes_the_first_of_ties() {
        assert_eq!(argmax_i32(&[1, 5, 5, -3]), 1);
        assert_eq!(argmax_i32(&[]), 0);
        assert_eq!(argmax_i32(&[-7]), 0);
    }

    /// A random 2-layer network quantised with u8 inputs agrees with the float one
    /// on most random inputs, and its int8 outputs track the float activations.
    #[test]
    fn quantized_network_tracks_the_float_one() {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(3);
        let net: (Dense<32, 16>, Dense<16, 4, LeakyReLU>) =
            Initialize::initialize(Initializer::He, &mut rng);
        let pixels: Vec<[u8; 32]> = (0..500)
            .map(|_| core::array::from_fn(|_| rng.random::<u8>()))
            .collect();
        let inputs: Vec<[f32; 32]> = pixels
            .iter()
            .map(|p| p.map(|v| f32::from(v) / 255.0))
            .collect();
        let q = quantize::<_, u8>(&net, 1.0 / 255.0, &inputs).unwrap();
        let agree = pixels
            .iter()
            .zip(&inputs)
            .filter(|(p, x)| q.predict(p) == crate::argmax(&net.forward(x)))
            .count();
        assert!(agree >= 480, "{agree} of 500");
        // The input path is exact: p/255 quantises back to p.
        assert_eq!(quantize_input::<u8, 32>(&inputs[0], 1.0 / 255.0), pixels[0]);
    }

    /// Skipping zero blocks and listing nonzero inputs gives the plain sum, for a
    /// width that is not a multiple of the block and inputs with empty blocks, on
    /// every instruction set.
    #[test]
    fn accumulation_is_the_plain_sum() {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(9);
        let weights: [[i8; 3]; 13] =
            core::array::from_fn(|_| core::array::from_fn(|_| rng.random()));
        let layer: QuantizedDense<13, 3, i8> = QuantizedDense::from_parts(
            weights,
            [5, -7, 0],
            [Requantize::new(1 << 30, 30); 3],
            [Requantize::new(1 << 30, 30); 3],
        );
        for trial in 0..200 {
            let x: [i8; 13] = core::array::from_fn(|i| {
                // Every other trial, inputs 0–7 are all zero (one skipped block).
                if trial % 2 == 0 && i < 8 || rng.random::<u8>() < 128 {
                    0
                } else {
                    rng.random()
                }
            });
            let expected: [i32; 3] = core::array::from_fn(|o| {
                [5, -7, 0][o]
                    + (0..13)
                        .map(|i| i32::from(x[i]) * i32::from(weights[i][o]))
                        .sum::<i32>()
            });
            // Every instruction set the dispatcher may choose gives the same sums.
            for isa in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
                Isa::force(isa);
                assert_eq!(layer.accumulate(&x), expected, "{isa:?}");
            }
            Isa::force(Isa::detect());
        }
    }

    /// A layer wider than 65,536 inputs reads input 65,536 as itself, not as
    /// input 0 (positions were narrowed to `u16`), on every instruction set.
    #[test]
    fn positions_past_u16_are_not_narrowed() {
        const IN: usize = (1 << 16) + 1;
        // The arrays are large for a test thread's stack: run on a bigger one.
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(|| {
                let mut weights = vec![[0i8; 1]; IN];
                weights[0] = [-3];
                weights[IN - 1] = [5];
                let layer: Box<QuantizedDense<IN, 1, i8>> = Box::new(QuantizedDense::from_parts(
                    weights.try_into().unwrap(),
                    [0],
                    [Requantize::new(1 << 30, 30)],
                    [Requantize::new(1 << 30, 30)],
                ));
                let mut x = Box::new([0i8; IN]);
                x[IN - 1] = 2;
                for isa in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
                    Isa::force(isa);
                    assert_eq!(layer.accumulate(&x), [10], "{isa:?}");
                }
                Isa::force(Isa::detect());
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn leaky_relu_is_a_second_multiplier() {
        // One input, weight 1, output scale = input scale: y = x, or 0.1·x.
        let layer: Dense<1, 1> = Dense::from_transposed([[1.0]], [0.0], LeakyReLU::new(0.1));
        let calibration = [[1.0f32], [-1.0]];
        let q = quantize::<_, i8>(&layer, 1.0 / 127.0, &calibration).unwrap();
        assert_eq!(q.forward(&[100]), [100]);
        assert_eq!(q.forward(&[-100]), [-10]);
        assert_eq!(q.forward(&[-127]), [-13]); // −12.7 rounds to −13
        assert_eq!(q.logits(&[-100]), [-2560]);
    }

    #[test]
    fn errors_are_values() {
        let layer: Dense<1, 1> = Dense::from_transposed([[1.0]], [0.0], LeakyReLU::new(0.1));
        assert_eq!(
            quantize::<_, i8>(&layer, 0.1, &[]),
            Err(QuantizeError::NoCalibrationData)
        );
        assert_eq!(
            quantize::<_, i8>(&layer, 0.0, &[[1.0]]),
            Err(QuantizeError::BadInputScale(0.0))
        );
        for calibration in [[[f32::NAN], [1.0]], [[1.0], [f32::INFINITY]]] {
            assert_eq!(
                quantize::<_, i8>(&layer, 0.1, &calibration),
                Err(QuantizeError::NotFinite { layer: 0 })
            );
        }
        let nan_bias: Dense<1, 1> =
            Dense::from_transposed([[1.0]], [f32::NAN], LeakyReLU::new(0.1));
        assert_eq!(
            quantize::<_, i8>(&nan_bias, 0.1, &[[0.0]]),
            Err(QuantizeError::NotFinite { layer: 0 })
        );
        let huge: Dense<1, 1> = Dense::from_transposed([[1.0]], [1e30], LeakyReLU::new(0.1));
        assert!(matches!(
            quantize::<_, i8>(&(layer.clone(), huge), 1.0, &[[1.0]]),
            Err(QuantizeError::OutOfRange {
                layer: 1,
                output: 0
            })
        ));
    }

    /// Calibrating on inputs that are all zero (outputs all zero) is refused:
    /// it used to succeed with an output scale of 1, chosen for no reason.
    #[test]
    fn calibrating_on_zeros_is_refused() {
        let layer: Dense<2, 2, Identity> =
            Dense::from_transposed([[1.0, -1.0], [0.5, 2.0]], [0.0, 0.0], Identity);
        assert_eq!(
            quantize::<_, u8>(&layer, 1.0 / 255.0, &[[0.0, 0.0]; 4]),
            Err(QuantizeError::Uncalibrated { layer: 0 })
        );
        assert!(quantize::<_, u8>(&layer, 1.0 / 255.0, &[[0.0, 0.0], [0.0, 1.0]]).is_ok());
    }

    #[test]
    fn any_input_is_total() {
        // Extreme weights, biases and inputs: wrapping and clamping, no panic.
        let layer: QuantizedDense<3, 2, u8> = QuantizedDense::from_parts(
            [[127, -127]; 3],
            [i32::MAX, i32::MIN],
            [Requantize::new(i32::MAX, MIN_SHIFT); 2],
            [Requantize::new(i32::MIN, MIN_SHIFT); 2],
        );
        let _ = layer.forward(&[255; 3]);
        let _ = layer.logits(&[255; 3]);
        assert_eq!(
            QuantizedDense::<784, 10, u8>::parameter_bytes(),
            7840 + 40 + 100
        );
    }
}
