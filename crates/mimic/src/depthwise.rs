//! The depthwise convolution: one `K × K` filter per channel, the first half of
//! the depthwise-separable convolution that microcontroller networks use.

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
use crate::module::{Module, Parameters, Train, Zipped};

/// A depthwise convolution of a `C × H × W` image: channel `c` of the output is
/// channel `c` of the input convolved with its own `K × K` filter (stride `S`,
/// zero padding `P`), plus its bias, then the activation `A` — PyTorch's
/// `Conv2d(C, C, K, groups=C)`.
///
/// `DepthwiseConv2d<C, H, W, OH, OW, K, S, P, A>`; the output size is checked
/// when the program is built, as for [`Conv2d`](crate::Conv2d). Followed by a
/// 1 × 1 [`Conv2d`](crate::Conv2d) (`Conv2d<C, OH, OW, CO, OH, OW, 1>`, the
/// pointwise half), it is a depthwise-separable convolution: `C·K² + C·CO`
/// weights where a full convolution has `C·CO·K²`.
///
/// ```
/// use mimic::{Conv2d, DepthwiseConv2d, Module, ReLU};
///
/// // 8 × 14 × 14 → depthwise 3 × 3 (padding 1) → pointwise to 16 channels.
/// type Separable = (
///     DepthwiseConv2d<8, 14, 14, 14, 14, 3, 1, 1, ReLU>,
///     Conv2d<8, 14, 14, 16, 14, 14, 1, 1, 0, ReLU>,
/// );
/// let layers: Separable = Default::default();
/// assert_eq!(layers.forward(&[[[1.0; 14]; 14]; 8])[15][0][0], 0.0);
/// ```
///
/// Each output sums its window's terms row by row, padding rows skipped and
/// padding columns adding `w · 0` (which changes no sum of finite terms), then
/// adds the bias: one fixed order, the same bits on every instruction set.
#[derive(Clone, PartialEq)]
pub struct DepthwiseConv2d<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize = 1,
    const P: usize = 0,
    A = LeakyReLU,
> {
    weights: [[[f32; K]; K]; C],
    bias: [f32; C],
    activation: A,
}

impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    A: Activation,
> DepthwiseConv2d<C, H, W, OH, OW, K, S, P, A>
{
    /// Evaluated wherever a layer is made: a shape that does not add up is a
    /// build error naming this type, and so every size.
    const SHAPE: () = {
        assert!(
            C > 0 && H > 0 && W > 0 && K > 0 && S > 0,
            "DepthwiseConv2d<C, H, W, OH, OW, K, S, P>: every size and the stride must be at least 1"
        );
        assert!(
            K <= H + 2 * P && K <= W + 2 * P,
            "DepthwiseConv2d<C, H, W, OH, OW, K, S, P>: the kernel K is larger than the padded input"
        );
        assert!(
            OH == (H + 2 * P - K) / S + 1 && OW == (W + 2 * P - K) / S + 1,
            "DepthwiseConv2d<C, H, W, OH, OW, K, S, P>: the output must be OH = (H + 2·P − K) / S + 1 by OW = (W + 2·P − K) / S + 1"
        );
    };

    /// A layer with all parameters zero and the default activation.
    pub fn zeros() -> Self {
        let () = Self::SHAPE;
        Self {
            weights: [[[0.0; K]; K]; C],
            bias: [0.0; C],
            activation: A::default(),
        }
    }

    /// A layer from its filters (`[C][K][K]`; PyTorch's weight is `[C, 1, K, K]`),
    /// biases and activation, in a `const` context.
    pub const fn from_parts(weights: [[[f32; K]; K]; C], bias: [f32; C], activation: A) -> Self {
        let () = Self::SHAPE;
        Self {
            weights,
            bias,
            activation,
        }
    }

    /// The filters, `[C][K][K]`.
    pub fn weights(&self) -> &[[[f32; K]; K]; C] {
        &self.weights
    }

    /// The filters, mutable.
    pub fn weights_mut(&mut self) -> &mut [[[f32; K]; K]; C] {
        &mut self.weights
    }

    /// One bias per channel.
    pub fn bias(&self) -> &[f32; C] {
        &self.bias
    }

    /// The biases, mutable.
    pub fn bias_mut(&mut self) -> &mut [f32; C] {
        &mut self.bias
    }

    /// The activation applied after the convolution.
    pub fn activation(&self) -> &A {
        &self.activation
    }

    /// Replaces the activation (for example with one read from a saved model).
    pub fn set_activation(&mut self, activation: A) {
        self.activation = activation;
    }

    /// `W ⋆ x + b` per channel, before the activation.
    #[inline(always)]
    pub fn pre_activation(&self, x: &Image<C, H, W>) -> Image<C, OH, OW> {
        crate::kernels::apart(
            #[inline(always)]
            || {
                let shifted = shifted_rows::<C, H, W, OW, K, S, P>(x);
                let mut z = [[[0.0; OW]; OH]; C];
                for (((z, shifted), kernel), &b) in z
                    .iter_mut()
                    .zip(&shifted)
                    .zip(&self.weights)
                    .zip(&self.bias)
                {
                    for (oh, z) in z.iter_mut().enumerate() {
                        let mut sum = [0.0f32; OW];
                        add_window::<H, OW, K, S, P>(&mut sum, oh, kernel, shifted);
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
    fn output_delta(&self, y: &Image<C, OH, OW>, dy: &Image<C, OH, OW>) -> Image<C, OH, OW> {
        crate::image::output_delta(&self.activation, y, dy)
    }

    /// `dx`: each input position gathers `w · dz` in the order output row,
    /// kernel row, kernel column.
    #[inline(always)]
    fn input_gradient(&self, dz: &Image<C, OH, OW>) -> Image<C, H, W> {
        crate::kernels::apart(
            #[inline(always)]
            || {
                let mut dx = [[[0.0; W]; H]; C];
                for ((dx, dz), kernel) in dx.iter_mut().zip(dz).zip(&self.weights) {
                    for (oh, dz) in dz.iter().enumerate() {
                        for (kh, kernel_row) in kernel.iter().enumerate() {
                            let Some(ih) = input_row::<H, S, P>(oh, kh) else {
                                continue;
                            };
                            for (kw, &w) in kernel_row.iter().enumerate() {
                                let (w0, w1) = valid_outputs(kw, W, OW, S, P);
                                for (ow, &g) in dz.iter().enumerate().take(w1).skip(w0) {
                                    dx[ih][ow * S + kw - P] += w * g;
                                }
                            }
                        }
                    }
                }
                dx
            },
        )
    }

    /// Replaces every parameter `p` by `f(p, g)` for its gradient `g`: each
    /// weight's products summed down each output column, then across the
    /// columns in order; a bias's likewise over `dz` alone.
    #[inline(always)]
    fn apply_gradient(
        &mut self,
        x: &Image<C, H, W>,
        dz: &Image<C, OH, OW>,
        f: impl Fn(f32, f32) -> f32,
    ) {
        crate::kernels::apart(
            #[inline(always)]
            || {
                let shifted = shifted_rows::<C, H, W, OW, K, S, P>(x);
                for (((kernel, b), dz), shifted) in self
                    .weights
                    .iter_mut()
                    .zip(&mut self.bias)
                    .zip(dz)
                    .zip(&shifted)
                {
                    for (kh, kernel_row) in kernel.iter_mut().enumerate() {
                        for (w, shifted) in kernel_row.iter_mut().zip(shifted) {
                            let mut columns = [0.0f32; OW];
                            for (oh, dz) in dz.iter().enumerate() {
                                let Some(ih) = input_row::<H, S, P>(oh, kh) else {
                                    continue;
                                };
                                for ((c, &g), &x) in columns.iter_mut().zip(dz).zip(&shifted[ih]) {
                                    *c += g * x;
                                }
                            }
                            *w = f(*w, columns.iter().fold(0.0, |sum, &c| sum + c));
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
}

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
    A: Activation,
> DepthwiseConv2d<C, H, W, OH, OW, K, S, P, A>
{
    /// The same layer as a full [`Conv2d`](crate::Conv2d) whose filter for
    /// channel `c` is this layer's filter on channel `c` and zero on every
    /// other: the same outputs, bit for bit, for finite inputs (a zero weight
    /// adds `±0`, which changes no sum started at `+0`). How a depthwise layer
    /// is quantised and exported, at the cost of `C` times the weights; on the
    /// heap, since that is `C² · K²` floats.
    pub fn to_convolution(&self) -> Box<crate::Conv2d<C, H, W, C, OH, OW, K, S, P, A>> {
        use rand::SeedableRng;
        // `Zeros` draws nothing; the generator is only there for the type.
        let mut full: Box<crate::Conv2d<C, H, W, C, OH, OW, K, S, P, A>> =
            crate::init::boxed(Initializer::Zeros, &mut rand_pcg::Pcg64::seed_from_u64(0));
        for (c, (filter, kernel)) in full.weights_mut().iter_mut().zip(&self.weights).enumerate() {
            filter[c] = *kernel;
        }
        *full.bias_mut() = self.bias;
        full.set_activation(self.activation);
        full
    }
}

/// Writes out the impl header of every trait below for the layer's parameters.
macro_rules! depthwise_impl {
    ($(#[$attr:meta])* $trait:path => $body:tt) => {
        $(#[$attr])*
        impl<
            const C: usize,
            const H: usize,
            const W: usize,
            const OH: usize,
            const OW: usize,
            const K: usize,
            const S: usize,
            const P: usize,
            A: Activation,
        > $trait for DepthwiseConv2d<C, H, W, OH, OW, K, S, P, A>
        $body
    };
}

depthwise_impl!(Default => {
    fn default() -> Self {
        Self::zeros()
    }
});

depthwise_impl!(fmt::Debug => {
    /// Shapes and activation only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DepthwiseConv2d<{C}×{H}×{W} → {C}×{OH}×{OW}, {K}×{K}, stride {S}, padding {P}>({:?})",
            self.activation
        )
    }
});

depthwise_impl!(Module => {
    type Input = Image<C, H, W>;
    type Output = Image<C, OH, OW>;

    #[inline(always)]
    fn forward(&self, x: &Image<C, H, W>) -> Image<C, OH, OW> {
        crate::image::activated(&self.activation, &self.pre_activation(x))
    }
});

depthwise_impl!(Parameters => {
    fn visit(&self, f: &mut dyn FnMut(&[f32])) {
        f(self.weights.as_flattened().as_flattened());
        f(&self.bias);
    }

    fn visit_mut(&mut self, f: &mut dyn FnMut(&mut [f32])) {
        f(self.weights.as_flattened_mut().as_flattened_mut());
        f(&mut self.bias);
    }

    #[inline(always)]
    fn zip_mut(&mut self, a: &mut Self, b: &mut Self, c: &mut Self, f: &mut impl FnMut(Zipped<'_>)) {
        f((
            self.weights.as_flattened_mut().as_flattened_mut(),
            a.weights.as_flattened_mut().as_flattened_mut(),
            b.weights.as_flattened_mut().as_flattened_mut(),
            c.weights.as_flattened_mut().as_flattened_mut(),
        ));
        f((&mut self.bias, &mut a.bias, &mut b.bias, &mut c.bias));
    }
});

depthwise_impl!(Train => {
    /// The backward pass needs only the layer's output.
    type Trace = Image<C, OH, OW>;

    #[inline(always)]
    fn forward_trace(&self, x: &Image<C, H, W>) -> Image<C, OH, OW> {
        self.forward(x)
    }

    #[inline(always)]
    fn traced_output(trace: &Image<C, OH, OW>) -> &Image<C, OH, OW> {
        trace
    }

    backward_from_gradient!(Image<C, OH, OW>);
});

depthwise_impl!(
    #[cfg(feature = "std")]
    Initialize => {
    /// Draws the filters in `[C][K][K]` order, then the biases, with fan-in
    /// and fan-out `K·K` (PyTorch's for a convolution with one group per
    /// channel).
    fn initialize_in_place<'s, R: Rng + ?Sized>(
        slot: &'s mut MaybeUninit<Self>,
        init: Initializer,
        rng: &mut R,
    ) -> &'s mut Self {
        let () = Self::SHAPE;
        let (weight_sd, bias_sd) = init.deviations(K * K, K * K, A::RECOMMENDED);
        let mut normal = Normal::new();
        let mut draw = |sd: f64| if sd > 0.0 { (sd * normal.sample(rng)) as f32 } else { 0.0 };
        let weights: [[[f32; K]; K]; C] =
            core::array::from_fn(|_| core::array::from_fn(|_| core::array::from_fn(|_| draw(weight_sd))));
        let bias = core::array::from_fn(|_| draw(bias_sd));
        slot.write(Self { weights, bias, activation: A::default() })
    }
});
