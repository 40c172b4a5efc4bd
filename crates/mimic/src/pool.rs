//! Pooling layers: the largest value ([`MaxPool2d`]) or the mean ([`AvgPool2d`])
//! of each `K × K` window, channel by channel. They have no parameters.

use core::fmt;
use core::marker::PhantomData;
#[cfg(feature = "std")]
use core::mem::MaybeUninit;

#[cfg(feature = "std")]
use rand::Rng;

use crate::image::Image;
#[cfg(feature = "std")]
use crate::init::{Initialize, Initializer};
use crate::module::{Module, Parameters, Train, Zipped};

/// How a window's values become one — [`Max`] or [`Mean`] — forward and
/// backward, for any shape (a [`Pool2d`] checks its shape before calling these).
pub trait Pooling: Copy + Default + fmt::Debug + PartialEq + Send + Sync + 'static {
    /// The layer's name in messages.
    const NAME: &'static str;

    /// Each `K × K` window, in steps of `S`, pooled into one value.
    fn pool<
        const C: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
        const K: usize,
        const S: usize,
    >(
        x: &Image<C, H, W>,
    ) -> Image<C, OH, OW>;

    /// Adds the gradient at the input `x` from the gradient `dy` at the
    /// output into `dx` (zeros, for one sample's gradient).
    fn unpool<
        const C: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
        const K: usize,
        const S: usize,
    >(
        x: &Image<C, H, W>,
        dy: &Image<C, OH, OW>,
        dx: &mut Image<C, H, W>,
    );
}

/// Pooling by the largest value of each window. A NaN in a window is its
/// maximum, so it is never hidden; the backward pass sends each output's
/// gradient to the first position (in reading order) holding the maximum.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Max;

/// Pooling by the mean of each window: summed row by row, divided by `K·K`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Mean;

/// The windows of output row `oh` in channel `x`: each one's maximum and
/// where it is (`dh·K + dw` inside the window), the first in reading order; a
/// NaN beats everything. The row's windows advance together, one position of
/// the window at a time, with selects rather than branches, so that the loop
/// over the row vectorises.
#[inline(always)]
fn row_max<const H: usize, const W: usize, const OW: usize, const K: usize, const S: usize>(
    x: &[[f32; W]; H],
    oh: usize,
) -> ([f32; OW], [u32; OW]) {
    let h0 = oh * S;
    let mut best: [f32; OW] = core::array::from_fn(|ow| x[h0][ow * S]);
    let mut at = [0u32; OW];
    for (dh, row) in x[h0..h0 + K].iter().enumerate() {
        for dw in 0..K {
            // The window's first value is where `best` starts.
            if dh == 0 && dw == 0 {
                continue;
            }
            let here = (dh * K + dw) as u32;
            for (ow, (best, at)) in best.iter_mut().zip(&mut at).enumerate() {
                let v = row[ow * S + dw];
                let take = !best.is_nan() & ((v > *best) | v.is_nan());
                *best = if take { v } else { *best };
                *at = if take { here } else { *at };
            }
        }
    }
    (best, at)
}

impl Pooling for Max {
    const NAME: &'static str = "MaxPool2d";

    #[inline(always)]
    fn pool<
        const C: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
        const K: usize,
        const S: usize,
    >(
        x: &Image<C, H, W>,
    ) -> Image<C, OH, OW> {
        core::array::from_fn(|c| core::array::from_fn(|oh| row_max::<H, W, OW, K, S>(&x[c], oh).0))
    }

    #[inline(always)]
    fn unpool<
        const C: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
        const K: usize,
        const S: usize,
    >(
        x: &Image<C, H, W>,
        dy: &Image<C, OH, OW>,
        dx: &mut Image<C, H, W>,
    ) {
        for ((dx, x), dy) in dx.iter_mut().zip(x).zip(dy) {
            for (oh, dy) in dy.iter().enumerate() {
                let (_, at) = row_max::<H, W, OW, K, S>(x, oh);
                for (ow, (&g, &at)) in dy.iter().zip(&at).enumerate() {
                    let (dh, dw) = (at as usize / K, at as usize % K);
                    dx[oh * S + dh][ow * S + dw] += g;
                }
            }
        }
    }
}

impl Pooling for Mean {
    const NAME: &'static str = "AvgPool2d";

    #[inline(always)]
    fn pool<
        const C: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
        const K: usize,
        const S: usize,
    >(
        x: &Image<C, H, W>,
    ) -> Image<C, OH, OW> {
        let n = (K * K) as f32;
        core::array::from_fn(|c| {
            core::array::from_fn(|oh| {
                core::array::from_fn(|ow| {
                    let (h0, w0) = (oh * S, ow * S);
                    let mut sum = 0.0;
                    for row in &x[c][h0..h0 + K] {
                        for &v in &row[w0..w0 + K] {
                            sum += v;
                        }
                    }
                    sum / n
                })
            })
        })
    }

    #[inline(always)]
    fn unpool<
        const C: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
        const K: usize,
        const S: usize,
    >(
        _: &Image<C, H, W>,
        dy: &Image<C, OH, OW>,
        dx: &mut Image<C, H, W>,
    ) {
        let n = (K * K) as f32;
        for (dx, dy) in dx.iter_mut().zip(dy) {
            for (oh, dy) in dy.iter().enumerate() {
                for (ow, &g) in dy.iter().enumerate() {
                    let (h0, w0) = (oh * S, ow * S);
                    let g = g / n;
                    for row in &mut dx[h0..h0 + K] {
                        for v in &mut row[w0..w0 + K] {
                            *v += g;
                        }
                    }
                }
            }
        }
    }
}

/// Pools each `K × K` window, in steps of `S`, of a `C × H × W` image into one
/// value of a `C × OH × OW` image. Use it as [`MaxPool2d`] or [`AvgPool2d`].
///
/// The windows must cover the input exactly — `(H − K)` and `(W − K)` multiples
/// of `S` — and `OH = (H − K) / S + 1`, `OW` likewise; both are **checked when
/// the program is built**, so a pool that would silently drop the input's last
/// rows, or whose declared output size is wrong, does not build.
pub struct Pool2d<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    F,
>(PhantomData<F>);

/// The largest value of each `K × K` window, in steps of `S` (by default `K`:
/// windows side by side). `MaxPool2d<C, H, W, OH, OW, K, S>`; LeNet-5's first
/// pool halves 6 × 28 × 28:
///
/// ```
/// use mimic::{MaxPool2d, Module};
///
/// let pool = MaxPool2d::<6, 28, 28, 14, 14, 2>::new();
/// let mut x = [[[0.0; 28]; 28]; 6];
/// x[1][3][2] = 5.0;
/// assert_eq!(pool.forward(&x)[1][1][1], 5.0);
/// ```
///
/// See [`Max`] for NaNs and ties.
pub type MaxPool2d<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize = K,
> = Pool2d<C, H, W, OH, OW, K, S, Max>;

/// The mean of each `K × K` window, in steps of `S` (by default `K`).
/// `AvgPool2d<C, H, W, OH, OW, K, S>`; see [`Mean`].
pub type AvgPool2d<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize = K,
> = Pool2d<C, H, W, OH, OW, K, S, Mean>;

impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    F: Pooling,
> Pool2d<C, H, W, OH, OW, K, S, F>
{
    /// Evaluated wherever a layer is made: a shape that does not add up is a
    /// build error naming this type, and so every size.
    const SHAPE: () = {
        assert!(
            C > 0 && K > 0 && S > 0 && K <= H && K <= W,
            "Pool2d<C, H, W, OH, OW, K, S>: sizes must be at least 1 and the window K no larger than the input"
        );
        assert!(
            (H - K).is_multiple_of(S) && (W - K).is_multiple_of(S),
            "Pool2d<C, H, W, OH, OW, K, S>: the windows must cover the input exactly: (H − K) and (W − K) multiples of the stride S"
        );
        assert!(
            OH == (H - K) / S + 1 && OW == (W - K) / S + 1,
            "Pool2d<C, H, W, OH, OW, K, S>: the output must be OH = (H − K) / S + 1 by OW = (W − K) / S + 1"
        );
    };

    /// The layer (it has no parameters).
    pub const fn new() -> Self {
        let () = Self::SHAPE;
        Self(PhantomData)
    }
}

/// Writes out the impl header of a trait for the layer's parameters, with
/// `F: Pooling` (`pooling`) or any `F` (`any`).
macro_rules! pool_impl {
    ($(#[$attr:meta])* pooling $trait:path => $body:tt) => {
        $(#[$attr])*
        impl<
            const C: usize,
            const H: usize,
            const W: usize,
            const OH: usize,
            const OW: usize,
            const K: usize,
            const S: usize,
            F: Pooling,
        > $trait for Pool2d<C, H, W, OH, OW, K, S, F>
        $body
    };
    ($(#[$attr:meta])* any $trait:path => $body:tt) => {
        $(#[$attr])*
        impl<
            const C: usize,
            const H: usize,
            const W: usize,
            const OH: usize,
            const OW: usize,
            const K: usize,
            const S: usize,
            F,
        > $trait for Pool2d<C, H, W, OH, OW, K, S, F>
        $body
    };
}

pool_impl!(any Clone => {
    fn clone(&self) -> Self {
        *self
    }
});

pool_impl!(any Copy => {});

pool_impl!(any PartialEq => {
    fn eq(&self, _: &Self) -> bool {
        true
    }
});

pool_impl!(pooling Default => {
    fn default() -> Self {
        Self::new()
    }
});

pool_impl!(pooling fmt::Debug => {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}<{C}×{H}×{W} → {C}×{OH}×{OW}, {K}×{K}, stride {S}>",
            F::NAME
        )
    }
});

pool_impl!(pooling Module => {
    type Input = Image<C, H, W>;
    type Output = Image<C, OH, OW>;

    #[inline(always)]
    fn forward(&self, x: &Image<C, H, W>) -> Image<C, OH, OW> {
        F::pool::<C, H, W, OH, OW, K, S>(x)
    }
});

pool_impl!(any Parameters => {
    fn visit(&self, _: &mut dyn FnMut(&[f32])) {}
    fn visit_mut(&mut self, _: &mut dyn FnMut(&mut [f32])) {}
    #[inline(always)]
    fn zip_mut(
        &mut self,
        _: &mut Self,
        _: &mut Self,
        _: &mut Self,
        _: &mut impl FnMut(Zipped<'_>),
    ) {
    }
});

pool_impl!(pooling Train => {
    /// The output; the backward pass finds each window's maximum again in the input.
    type Trace = Image<C, OH, OW>;

    #[inline(always)]
    fn forward_trace(&self, x: &Image<C, H, W>) -> Image<C, OH, OW> {
        F::pool::<C, H, W, OH, OW, K, S>(x)
    }

    #[inline(always)]
    fn traced_output(trace: &Image<C, OH, OW>) -> &Image<C, OH, OW> {
        trace
    }

    #[inline(always)]
    fn backward(
        &mut self,
        x: &Image<C, H, W>,
        _: &Image<C, OH, OW>,
        dy: &Image<C, OH, OW>,
        _: f32,
    ) -> Image<C, H, W> {
        let mut dx = [[[0.0; W]; H]; C];
        F::unpool::<C, H, W, OH, OW, K, S>(x, dy, &mut dx);
        dx
    }

    #[inline(always)]
    fn backward_without_input_gradient(
        &mut self,
        _: &Image<C, H, W>,
        _: &Image<C, OH, OW>,
        _: &Image<C, OH, OW>,
        _: f32,
    ) {
    }

    #[inline(always)]
    fn gradient(
        &self,
        x: &Image<C, H, W>,
        _: &Image<C, OH, OW>,
        dy: &Image<C, OH, OW>,
        _: &mut Self,
    ) -> Image<C, H, W> {
        let mut dx = [[[0.0; W]; H]; C];
        F::unpool::<C, H, W, OH, OW, K, S>(x, dy, &mut dx);
        dx
    }

    #[inline(always)]
    fn gradient_without_input_gradient(
        &self,
        _: &Image<C, H, W>,
        _: &Image<C, OH, OW>,
        _: &Image<C, OH, OW>,
        _: &mut Self,
    ) {
    }

    /// Each sample's gradient added straight into its place in the group's
    /// array, rather than made apart and moved in.
    #[inline(always)]
    fn gradient_group<const G: usize>(
        &self,
        inputs: [&Image<C, H, W>; G],
        _: [&Image<C, OH, OW>; G],
        grad_outputs: [&Image<C, OH, OW>; G],
        _: &mut Self,
    ) -> [Image<C, H, W>; G] {
        let mut dx = [[[[0.0; W]; H]; C]; G];
        for ((dx, x), dy) in dx.iter_mut().zip(inputs).zip(grad_outputs) {
            F::unpool::<C, H, W, OH, OW, K, S>(x, dy, dx);
        }
        dx
    }
});

pool_impl!(#[cfg(feature = "std")] pooling Initialize => {
    /// Nothing to draw.
    fn initialize_in_place<'s, R: Rng + ?Sized>(
        slot: &'s mut MaybeUninit<Self>,
        _: Initializer,
        _: &mut R,
    ) -> &'s mut Self {
        slot.write(Self::new())
    }
});

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn max_pool_takes_each_windows_largest_and_routes_its_gradient_there() {
        let x = [[
            [1.0, 5.0, 2.0, 2.0],
            [3.0, 0.0, 2.0, 1.0],
            [-1.0, -2.0, 7.0, 7.0],
            [-3.0, -4.0, 0.0, 0.0],
        ]];
        let mut pool = MaxPool2d::<1, 4, 4, 2, 2, 2>::new();
        let y = pool.forward(&x);
        assert_eq!(y, [[[5.0, 2.0], [-1.0, 7.0]]]);
        let dx = pool.backward(&x, &y, &[[[1.0, 2.0], [3.0, 4.0]]], 0.1);
        // Ties go to the first position in reading order.
        assert_eq!(
            dx,
            [[
                [0.0, 1.0, 2.0, 0.0],
                [0.0, 0.0, 0.0, 0.0],
                [3.0, 0.0, 4.0, 0.0],
                [0.0; 4]
            ]]
        );
    }

    /// Max pooling as first written, one window at a time with branches: the
    /// maximum and its position, the first in reading order; a NaN wins.
    fn window_max(x: &[[f32; 7]; 7], h0: usize, w0: usize, k: usize) -> (f32, usize, usize) {
        let mut best = (x[h0][w0], h0, w0);
        for (h, row) in x.iter().enumerate().skip(h0).take(k) {
            for (w, &v) in row.iter().enumerate().skip(w0).take(k) {
                if !best.0.is_nan() && (v > best.0 || v.is_nan()) {
                    best = (v, h, w);
                }
            }
        }
        best
    }

    /// Ties, NaNs, infinities and overlapping windows: the same maxima, and
    /// the gradients in the same places in the same order.
    #[test]
    fn max_pool_is_the_window_by_window_definition() {
        let values = [
            0.5,
            -1.0,
            0.5,
            f32::NAN,
            2.0,
            f32::INFINITY,
            -0.0,
            0.0,
            2.0,
            -3.5,
        ];
        for seed in 0..40 {
            let x: Image<1, 7, 7> = [core::array::from_fn(|h| {
                core::array::from_fn(|w| values[(h * 7 + w) * (seed + 3) % 11 % values.len()])
            })];
            let dy: Image<1, 3, 3> = [core::array::from_fn(|h| {
                core::array::from_fn(|w| (h * 3 + w) as f32 - 4.0)
            })];
            let pool = MaxPool2d::<1, 7, 7, 3, 3, 3, 2>::new();
            let y = pool.forward(&x);
            let mut dx_want = [[0.0f32; 7]; 7];
            for oh in 0..3 {
                for ow in 0..3 {
                    let (v, h, w) = window_max(&x[0], oh * 2, ow * 2, 3);
                    assert_eq!(y[0][oh][ow].to_bits(), v.to_bits(), "seed {seed}");
                    dx_want[h][w] += dy[0][oh][ow];
                }
            }
            let dx = pool.gradient(&x, &y, &dy, &mut MaxPool2d::new());
            assert_eq!(dx[0], dx_want, "seed {seed}");
        }
    }

    #[test]
    fn a_nan_is_a_windows_maximum() {
        let x = [[[1.0, f32::NAN], [3.0, 0.0]]];
        assert!(MaxPool2d::<1, 2, 2, 1, 1, 2>::new().forward(&x)[0][0][0].is_nan());
        let x = [[[f32::NAN, 9.0], [3.0, 0.0]]];
        assert!(MaxPool2d::<1, 2, 2, 1, 1, 2>::new().forward(&x)[0][0][0].is_nan());
    }

    #[test]
    fn average_pool_takes_means_and_spreads_gradients_over_overlapping_windows() {
        let x = [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]];
        let mut pool = AvgPool2d::<1, 3, 3, 2, 2, 2, 1>::new();
        let y = pool.forward(&x);
        assert_eq!(y, [[[3.0, 4.0], [6.0, 7.0]]]);
        let dx = pool.backward(&x, &y, &[[[4.0, 4.0], [4.0, 4.0]]], 0.1);
        assert_eq!(dx, [[[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]]);
    }
}
