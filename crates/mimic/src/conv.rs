//! The 2-D convolution layer, `y = f(W ⋆ x + b)`, over stack-allocated images.

use core::fmt;
#[cfg(feature = "std")]
use core::mem::MaybeUninit;

#[cfg(feature = "std")]
use rand::Rng;

use crate::activation::{Activation, LeakyReLU};
use crate::image::{
    Image, add_window, backward_from_gradient, input_row, shifted_rows, valid_outputs,
};
#[cfg(feature = "std")]
use crate::init::{Initialize, Initializer, Normal};
use crate::kernels::lanes::{self, LANES};
use crate::layer::CacheAligned;
use crate::module::{Module, Parameters, Train, Zipped};

mod group;

/// A convolution from a `C × H × W` image to a `CO × OH × OW` one: `CO` filters
/// of `C × K × K` weights, moved in steps of `S` over the input with `P` rows
/// and columns of zeros around it, each output plus its filter's bias, then the
/// activation `A`.
///
/// `Conv2d<C, H, W, CO, OH, OW, K, S, P, A>`: input shape, output shape, then
/// the kernel's size, stride (default 1) and padding (default 0). Stable Rust
/// cannot compute `OH` from the others inside a type, so the output size is
/// written out and **checked when the program is built**: a `Conv2d` whose
/// `OH ≠ (H + 2P − K) / S + 1` (or `OW` likewise) fails to build with an error
/// naming the layer's type, every size in it. As in PyTorch, the division rounds
/// down: with a stride above 1 the last rows or columns of the input may not be
/// reached.
///
/// LeNet-5's first layer, 1 × 28 × 28 to 6 × 28 × 28 by 5 × 5 filters with
/// padding 2:
///
/// ```
/// use mimic::{Conv2d, Module, ReLU};
///
/// type First = Conv2d<1, 28, 28, 6, 28, 28, 5, 1, 2, ReLU>;
/// let layer = First::zeros();
/// let y = layer.forward(&[[[1.0; 28]; 28]; 1]);
/// assert_eq!(y[5][27][27], 0.0);
/// ```
///
/// Weights are stored as PyTorch stores them, `[CO][C][K][K]`, starting on a
/// cache line. Every output sums its terms in one fixed order — input channel,
/// then kernel row, then kernel column, padding skipped, the bias last — and
/// the loops run over whole output rows, which is what vectorises, so every
/// instruction set gives the same bits.
#[derive(Clone, PartialEq)]
pub struct Conv2d<
    const C: usize,
    const H: usize,
    const W: usize,
    const CO: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize = 1,
    const P: usize = 0,
    A = LeakyReLU,
> {
    weights: CacheAligned<[[[[f32; K]; K]; C]; CO]>,
    bias: [f32; CO],
    activation: A,
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
    A: Activation,
> Conv2d<C, H, W, CO, OH, OW, K, S, P, A>
{
    /// Evaluated wherever a layer is made: a shape that does not add up is a
    /// build error naming this type, and so every size.
    const SHAPE: () = {
        assert!(
            C > 0 && H > 0 && W > 0 && CO > 0 && K > 0,
            "Conv2d<C, H, W, CO, OH, OW, K, S, P>: every size must be at least 1"
        );
        assert!(
            S > 0,
            "Conv2d<C, H, W, CO, OH, OW, K, S, P>: the stride S must be at least 1"
        );
        assert!(
            K <= H + 2 * P && K <= W + 2 * P,
            "Conv2d<C, H, W, CO, OH, OW, K, S, P>: the kernel K is larger than the padded input"
        );
        assert!(
            OH == (H + 2 * P - K) / S + 1,
            "Conv2d<C, H, W, CO, OH, OW, K, S, P>: the output height must be OH = (H + 2·P − K) / S + 1"
        );
        assert!(
            OW == (W + 2 * P - K) / S + 1,
            "Conv2d<C, H, W, CO, OH, OW, K, S, P>: the output width must be OW = (W + 2·P − K) / S + 1"
        );
    };

    /// A layer with all parameters zero and the default activation.
    pub fn zeros() -> Self {
        let () = Self::SHAPE;
        Self {
            weights: CacheAligned([[[[0.0; K]; K]; C]; CO]),
            bias: [0.0; CO],
            activation: A::default(),
        }
    }

    /// A layer from its weights (`[CO][C][K][K]`, PyTorch's order), biases and
    /// activation, in a `const` context (weights compiled into a program).
    pub const fn from_parts(
        weights: [[[[f32; K]; K]; C]; CO],
        bias: [f32; CO],
        activation: A,
    ) -> Self {
        let () = Self::SHAPE;
        Self {
            weights: CacheAligned(weights),
            bias,
            activation,
        }
    }

    /// The same layer with another activation.
    pub fn with_activation(mut self, activation: A) -> Self {
        self.activation = activation;
        self
    }

    /// Replaces the activation (for example with one read from a saved model).
    pub fn set_activation(&mut self, activation: A) {
        self.activation = activation;
    }

    /// The activation applied after the convolution.
    pub fn activation(&self) -> &A {
        &self.activation
    }

    /// The filters, `[CO][C][K][K]` (output channel, input channel, row, column).
    pub fn weights(&self) -> &[[[[f32; K]; K]; C]; CO] {
        &self.weights
    }

    /// The filters, mutable.
    pub fn weights_mut(&mut self) -> &mut [[[[f32; K]; K]; C]; CO] {
        &mut self.weights
    }

    /// One bias per output channel.
    pub fn bias(&self) -> &[f32; CO] {
        &self.bias
    }

    /// The biases, mutable.
    pub fn bias_mut(&mut self) -> &mut [f32; CO] {
        &mut self.bias
    }

    /// `W ⋆ x + b`, before the activation.
    ///
    /// Each output sums `w · x` over input channel, kernel row and kernel
    /// column in that order, then adds the bias. Kernel rows that fall in the
    /// padding are skipped; kernel columns in it add `w · 0`, which leaves a
    /// sum started at `+0` unchanged (for finite weights): the same number
    /// as skipping them.
    #[inline(always)]
    pub fn pre_activation(&self, x: &Image<C, H, W>) -> Image<CO, OH, OW> {
        crate::kernels::apart(
            #[inline(always)]
            || {
                let shifted = shifted_rows::<C, H, W, OW, K, S, P>(x);
                let mut z = [[[0.0; OW]; OH]; CO];
                for ((z, filter), &b) in z.iter_mut().zip(self.weights.iter()).zip(&self.bias) {
                    for (oh, z) in z.iter_mut().enumerate() {
                        // One output row's sums, in registers for the whole filter.
                        let mut sum = [0.0f32; OW];
                        for (shifted, kernel) in shifted.iter().zip(filter) {
                            add_window::<H, OW, K, S, P>(&mut sum, oh, kernel, shifted);
                        }
                        for (z, s) in z.iter_mut().zip(sum) {
                            *z = s + b;
                        }
                    }
                }
                z
            },
        )
    }

    /// `dz = f'(y) ⊙ dy`: the gradient at the pre-activation.
    #[inline(always)]
    pub fn output_delta(&self, y: &Image<CO, OH, OW>, dy: &Image<CO, OH, OW>) -> Image<CO, OH, OW> {
        crate::image::output_delta(&self.activation, y, dy)
    }

    /// `dx`, the gradient passed back to the input. For each input channel,
    /// kernel column and input row, the output gradients reaching it are summed
    /// over output channel and kernel row in that order; the kernel columns'
    /// sums are then added into each input position in order of the column.
    #[inline(always)]
    pub fn input_gradient(&self, dz: &Image<CO, OH, OW>) -> Image<C, H, W> {
        crate::kernels::apart(
            #[inline(always)]
            || {
                let mut dx = [[[0.0; W]; H]; C];
                for (ci, dx) in dx.iter_mut().enumerate() {
                    for kw in 0..K {
                        let (w0, w1) = valid_outputs(kw, W, OW, S, P);
                        for oh in 0..OH {
                            // One sum per kernel row, all in flight together.
                            let mut sums = [[0.0f32; OW]; K];
                            for (dz, filter) in dz.iter().zip(self.weights.iter()) {
                                for (sum, kernel_row) in sums.iter_mut().zip(&filter[ci]) {
                                    let w = kernel_row[kw];
                                    for (s, &g) in sum.iter_mut().zip(&dz[oh]) {
                                        *s += w * g;
                                    }
                                }
                            }
                            for (kh, sum) in sums.iter().enumerate() {
                                let Some(ih) = input_row::<H, S, P>(oh, kh) else {
                                    continue;
                                };
                                for (ow, &s) in sum.iter().enumerate().take(w1).skip(w0) {
                                    dx[ih][ow * S + kw - P] += s;
                                }
                            }
                        }
                    }
                }
                dx
            },
        )
    }

    /// Replaces every parameter `p` by `f(p, g)`, where `g` is its gradient for
    /// the input `x` and pre-activation gradient `dz`: the update of per-sample
    /// SGD, or adding into a gradient accumulator.
    ///
    /// A weight's gradient `Σ dz[oh][ow] · x[ih][iw]` is summed column by column
    /// (`ow`) down the rows, then across the columns in order; a bias's likewise
    /// over `dz` alone.
    #[inline(always)]
    fn apply_gradient(
        &mut self,
        x: &Image<C, H, W>,
        dz: &Image<CO, OH, OW>,
        f: impl Fn(f32, f32) -> f32,
    ) {
        crate::kernels::apart(
            #[inline(always)]
            || {
                let shifted = shifted_rows::<C, H, W, OW, K, S, P>(x);
                for ((filter, b), dz) in self.weights.iter_mut().zip(&mut self.bias).zip(dz) {
                    for (kernel, shifted) in filter.iter_mut().zip(&shifted) {
                        for (kh, kernel_row) in kernel.iter_mut().enumerate() {
                            let totals = if OW > 16 {
                                Self::kernel_row_gradient_interleaved(dz, shifted, kh)
                            } else {
                                Self::kernel_row_gradient(dz, shifted, kh)
                            };
                            for (w, total) in kernel_row.iter_mut().zip(totals) {
                                *w = f(*w, total);
                            }
                        }
                    }
                    let mut columns = [0.0f32; OW];
                    for row in dz {
                        for (c, &g) in columns.iter_mut().zip(row) {
                            *c += g;
                        }
                    }
                    *b = f(*b, columns.iter().fold(0.0, |sum, &c| sum + c));
                }
            },
        )
    }

    /// The gradients of one kernel row's `K` weights: for each, the products
    /// summed down each output column, then across the columns in order.
    #[inline(always)]
    fn kernel_row_gradient(
        dz: &[[f32; OW]; OH],
        shifted: &[[[f32; OW]; H]; K],
        kh: usize,
    ) -> [f32; K] {
        core::array::from_fn(|kw| {
            let mut columns = [0.0f32; OW];
            for (oh, dz) in dz.iter().enumerate() {
                let Some(ih) = input_row::<H, S, P>(oh, kh) else {
                    continue;
                };
                for ((c, &g), &x) in columns.iter_mut().zip(dz).zip(&shifted[kw][ih]) {
                    *c += g * x;
                }
            }
            columns.iter().fold(0.0, |sum, &c| sum + c)
        })
    }

    /// [`Conv2d::kernel_row_gradient`] with the `K` weights' sums advancing
    /// together (independent adds in flight), for rows wide enough to fill
    /// several vector registers: the same sums in the same order, the same bits.
    #[inline(always)]
    fn kernel_row_gradient_interleaved(
        dz: &[[f32; OW]; OH],
        shifted: &[[[f32; OW]; H]; K],
        kh: usize,
    ) -> [f32; K] {
        let mut columns = [[0.0f32; OW]; K];
        for (oh, dz) in dz.iter().enumerate() {
            let Some(ih) = input_row::<H, S, P>(oh, kh) else {
                continue;
            };
            for (columns, shifted) in columns.iter_mut().zip(shifted) {
                for ((c, &g), &x) in columns.iter_mut().zip(dz).zip(&shifted[ih]) {
                    *c += g * x;
                }
            }
        }
        let mut totals = [0.0f32; K];
        for ow in 0..OW {
            for (total, columns) in totals.iter_mut().zip(&columns) {
                *total += columns[ow];
            }
        }
        totals
    }
}

/// Writes out the impl header of a trait for the layer's parameters (every
/// trait below has the same ten).
macro_rules! conv_impl {
    ($(#[$attr:meta])* $trait:path => $body:tt) => {
        $(#[$attr])*
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
            A: Activation,
        > $trait for Conv2d<C, H, W, CO, OH, OW, K, S, P, A>
        $body
    };
}

conv_impl!(Default => {
    fn default() -> Self {
        Self::zeros()
    }
});

conv_impl!(fmt::Debug => {
    /// Shapes and activation only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Conv2d<{C}×{H}×{W} → {CO}×{OH}×{OW}, {K}×{K}, stride {S}, padding {P}>({:?})",
            self.activation
        )
    }
});

conv_impl!(Module => {
    type Input = Image<C, H, W>;
    type Output = Image<CO, OH, OW>;

    #[inline(always)]
    fn forward(&self, x: &Image<C, H, W>) -> Image<CO, OH, OW> {
        crate::image::activated(&self.activation, &self.pre_activation(x))
    }
});

conv_impl!(Parameters => {
    fn visit(&self, f: &mut dyn FnMut(&[f32])) {
        f(self.weights.as_flattened().as_flattened().as_flattened());
        f(&self.bias);
    }

    fn visit_mut(&mut self, f: &mut dyn FnMut(&mut [f32])) {
        f(self
            .weights
            .as_flattened_mut()
            .as_flattened_mut()
            .as_flattened_mut());
        f(&mut self.bias);
    }

    #[inline(always)]
    fn zip_mut(
        &mut self,
        a: &mut Self,
        b: &mut Self,
        c: &mut Self,
        f: &mut impl FnMut(Zipped<'_>),
    ) {
        fn flat<const CO: usize, const C: usize, const K: usize>(
            w: &mut [[[[f32; K]; K]; C]; CO],
        ) -> &mut [f32] {
            w.as_flattened_mut().as_flattened_mut().as_flattened_mut()
        }
        f((
            flat(&mut self.weights),
            flat(&mut a.weights),
            flat(&mut b.weights),
            flat(&mut c.weights),
        ));
        f((&mut self.bias, &mut a.bias, &mut b.bias, &mut c.bias));
    }
});

conv_impl!(Train => {
    /// The backward pass needs only the layer's output.
    type Trace = Image<CO, OH, OW>;

    #[inline(always)]
    fn forward_trace(&self, x: &Image<C, H, W>) -> Image<CO, OH, OW> {
        self.forward(x)
    }

    #[inline(always)]
    fn traced_output(trace: &Image<CO, OH, OW>) -> &Image<CO, OH, OW> {
        trace
    }

    /// The group side by side in the vector lanes (`conv/group.rs`): the
    /// same bits as each sample alone.
    #[inline(always)]
    fn forward_trace_group<const G: usize>(
        &self,
        inputs: [&Image<C, H, W>; G],
    ) -> [Image<CO, OH, OW>; G] {
        if G == LANES {
            let mut ys = [[[[0.0; OW]; OH]; CO]; G];
            lanes::run(group::Forward {
                layer: self,
                xs: inputs,
                ys: &mut ys,
            });
            ys
        } else {
            inputs.map(|x| self.forward(x))
        }
    }

    backward_from_gradient!(Image<CO, OH, OW>);

    /// The group's samples side by side in the vector lanes (`conv/group.rs`):
    /// the same bits as one sample after another.
    #[inline(always)]
    fn gradient_group<const G: usize>(
        &self,
        inputs: [&Image<C, H, W>; G],
        traces: [&Image<CO, OH, OW>; G],
        grad_outputs: [&Image<CO, OH, OW>; G],
        gradients: &mut Self,
    ) -> [Image<C, H, W>; G] {
        if G == LANES {
            let mut dxs = [[[[0.0; W]; H]; C]; G];
            lanes::run(group::Gradient {
                layer: self,
                gradients,
                xs: inputs,
                ys: traces,
                dys: grad_outputs,
                dxs: &mut dxs,
            });
            dxs
        } else {
            core::array::from_fn(|s| self.gradient(inputs[s], traces[s], grad_outputs[s], gradients))
        }
    }

    #[inline(always)]
    fn gradient_group_without_input_gradient<const G: usize>(
        &self,
        inputs: [&Image<C, H, W>; G],
        traces: [&Image<CO, OH, OW>; G],
        grad_outputs: [&Image<CO, OH, OW>; G],
        gradients: &mut Self,
    ) {
        if G == LANES {
            lanes::run(group::ParameterGradient {
                layer: self,
                gradients,
                xs: inputs,
                ys: traces,
                dys: grad_outputs,
                deltas: None,
            });
        } else {
            for s in 0..G {
                self.gradient_without_input_gradient(inputs[s], traces[s], grad_outputs[s], gradients);
            }
        }
    }
});

conv_impl!(
    #[cfg(feature = "std")]
    Initialize => {
    /// Draws the weights in PyTorch's `[CO][C][K][K]` order, then the biases,
    /// with fan-in `C·K·K` and fan-out `CO·K·K` (PyTorch's for a convolution),
    /// writing each number straight into place.
    fn initialize_in_place<'s, R: Rng + ?Sized>(
        slot: &'s mut MaybeUninit<Self>,
        init: Initializer,
        rng: &mut R,
    ) -> &'s mut Self {
        let () = Self::SHAPE;
        let (weight_sd, bias_sd) = init.deviations(C * K * K, CO * K * K, A::RECOMMENDED);
        let mut normal = Normal::new();
        let mut draw = |sd: f64| {
            if sd > 0.0 {
                (sd * normal.sample(rng)) as f32
            } else {
                0.0
            }
        };
        let layer = slot.as_mut_ptr();
        // SAFETY: `layer` points to memory valid for a `Self`. `CacheAligned` is
        // `repr(C)` with one field, so the weights are `CO·C·K·K` contiguous f32
        // at the field's address (nested arrays have no padding); each is written
        // once through a raw pointer before the layer is used, and nothing
        // uninitialised is read.
        unsafe {
            let weights = (&raw mut (*layer).weights).cast::<f32>();
            for i in 0..CO * C * K * K {
                weights.add(i).write(draw(weight_sd));
            }
            (&raw mut (*layer).bias).write(core::array::from_fn(|_| draw(bias_sd)));
            (&raw mut (*layer).activation).write(A::default());
        }
        // SAFETY: all three fields were written above.
        unsafe { slot.assume_init_mut() }
    }
});

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::activation::Identity;

    /// The convolution computed as its definition, in f64.
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
        layer: &Conv2d<C, H, W, CO, OH, OW, K, S, P, Identity>,
        x: &Image<C, H, W>,
    ) -> Vec<f64> {
        let mut out = Vec::new();
        for co in 0..CO {
            for oh in 0..OH {
                for ow in 0..OW {
                    let mut sum = f64::from(layer.bias()[co]);
                    for ci in 0..C {
                        for kh in 0..K {
                            for kw in 0..K {
                                let (ih, iw) = (
                                    (oh * S + kh) as isize - P as isize,
                                    (ow * S + kw) as isize - P as isize,
                                );
                                if ih >= 0 && iw >= 0 && (ih as usize) < H && (iw as usize) < W {
                                    sum += f64::from(layer.weights()[co][ci][kh][kw])
                                        * f64::from(x[ci][ih as usize][iw as usize]);
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

    fn filled<const C: usize, const H: usize, const W: usize>(seed: usize) -> Image<C, H, W> {
        core::array::from_fn(|c| {
            core::array::from_fn(|h| {
                core::array::from_fn(|w| {
                    (((c * 31 + h * 7 + w * 3 + seed) % 13) as f32 - 6.0) / 8.0
                })
            })
        })
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
    >() {
        let mut layer = Conv2d::<C, H, W, CO, OH, OW, K, S, P, Identity>::zeros();
        for (i, w) in layer
            .weights_mut()
            .as_flattened_mut()
            .as_flattened_mut()
            .as_flattened_mut()
            .iter_mut()
            .enumerate()
        {
            *w = ((i * 5 % 11) as f32 - 5.0) / 16.0;
        }
        *layer.bias_mut() = core::array::from_fn(|c| c as f32 / 4.0);
        let x = filled::<C, H, W>(1);
        let y = layer.forward(&x);
        for (got, want) in y
            .as_flattened()
            .as_flattened()
            .iter()
            .zip(reference(&layer, &x))
        {
            assert!((f64::from(*got) - want).abs() < 1e-4, "{got} vs {want}");
        }
    }

    #[test]
    fn forward_is_the_definition_for_strides_and_paddings() {
        check::<1, 5, 5, 2, 5, 5, 3, 1, 1>();
        check::<2, 6, 7, 3, 2, 3, 3, 2, 0>();
        check::<3, 7, 5, 2, 4, 3, 3, 2, 1>();
        check::<1, 4, 4, 1, 6, 6, 1, 1, 1>();
        check::<2, 8, 8, 2, 3, 3, 4, 3, 1>();
    }

    #[test]
    fn a_one_by_one_convolution_is_a_dense_layer_per_pixel() {
        let layer = Conv2d::<2, 1, 1, 2, 1, 1, 1, 1, 0, Identity>::from_parts(
            [[[[1.0]], [[2.0]]], [[[-1.0]], [[0.5]]]],
            [0.5, -0.5],
            Identity,
        );
        let dense =
            crate::Dense::<2, 2, Identity>::from_rows(&[[1.0, 2.0], [-1.0, 0.5]], [0.5, -0.5]);
        let y = layer.forward(&[[[3.0]], [[-2.0]]]);
        assert_eq!([y[0][0][0], y[1][0][0]], dense.forward(&[3.0, -2.0]));
    }
}
