//! Images: the `C × H × W` arrays convolutional layers take and return, and
//! views of flat rows as images without copying them.
//!
//! An image is `[[[f32; W]; H]; C]`, channel by channel, each channel row by row
//! (PyTorch's `C × H × W` order for one sample). Its sizes are part of its type,
//! so a layer returning `6 × 14 × 14` chained into one taking `6 × 12 × 12` names
//! both shapes in a type error, where a flat `[f32; 1176]` against `[f32; 864]`
//! would name only the lengths — and two different shapes of the same length
//! would not be an error at all.
//!
//! A data set of flat rows — MNIST's `[f32; 784]` — is a data set of images as
//! it lies in memory: [`images`] views the rows as `1 × 28 × 28` images in place.

use crate::activation::Activation;

/// A `C × H × W` image (channels, height, width): `[[[f32; W]; H]; C]`.
pub type Image<const C: usize, const H: usize, const W: usize> = [[[f32; W]; H]; C];

/// Asserts, where it is used, that `N = C · H · W`.
struct SameLength<const C: usize, const H: usize, const W: usize, const N: usize>;

impl<const C: usize, const H: usize, const W: usize, const N: usize> SameLength<C, H, W, N> {
    const CHECK: () = assert!(
        is_volume(C, H, W, N),
        "an image of C × H × W values must come from a row of N = C · H · W values"
    );
}

/// The rows of `rows` as `C × H × W` images, in place: no copy, the same memory.
/// `N = C · H · W` is checked when the program is built.
///
/// ```
/// use mimic::image::{Image, images};
///
/// let rows = vec![[0.5f32; 784]; 3];
/// let pictures: &[Image<1, 28, 28>] = images(&rows);
/// assert_eq!(pictures.len(), 3);
/// assert_eq!(pictures[2][0][27][27], 0.5);
/// ```
pub fn images<const C: usize, const H: usize, const W: usize, const N: usize>(
    rows: &[[f32; N]],
) -> &[Image<C, H, W>] {
    let () = SameLength::<C, H, W, N>::CHECK;
    // SAFETY: `[[[f32; W]; H]; C]` is `C · H · W` consecutive f32 with no padding
    // (arrays have none) and f32's alignment, exactly the layout of `[f32; N]`
    // since `N = C · H · W` (the assertion above, checked at build time); so
    // `rows.len()` rows of one are the same bytes as as many of the other, and the
    // returned slice borrows `rows` for its lifetime.
    unsafe { core::slice::from_raw_parts(rows.as_ptr().cast::<Image<C, H, W>>(), rows.len()) }
}

/// One flat row as a `C × H × W` image, in place (see [`images`]).
pub fn image<const C: usize, const H: usize, const W: usize, const N: usize>(
    row: &[f32; N],
) -> &Image<C, H, W> {
    &images::<C, H, W, N>(core::slice::from_ref(row))[0]
}

/// `f(z)` for every value of an image: a convolution's activation.
///
/// Into a new image rather than in place: in place, `if z > 0 { z } else { 0 }`
/// leaves only the zeros to store, which the compiler turns into masked vector
/// stores, microcoded and slow on AMD's cores.
#[inline(always)]
pub(crate) fn activated<A: Activation, const C: usize, const H: usize, const W: usize>(
    activation: &A,
    z: &Image<C, H, W>,
) -> Image<C, H, W> {
    let mut y = [[[0.0; W]; H]; C];
    let flat = y.as_flattened_mut().as_flattened_mut();
    for (y, &z) in flat.iter_mut().zip(z.as_flattened().as_flattened()) {
        *y = activation.apply(z);
    }
    y
}

/// `f'(y) ⊙ dy` for every value of an image: the gradient at a convolution's
/// pre-activation from the gradient at its output `y`.
#[inline(always)]
pub(crate) fn output_delta<A: Activation, const C: usize, const H: usize, const W: usize>(
    activation: &A,
    y: &Image<C, H, W>,
    dy: &Image<C, H, W>,
) -> Image<C, H, W> {
    let mut dz = [[[0.0; W]; H]; C];
    let flat = dz.as_flattened_mut().as_flattened_mut();
    let (y, dy) = (
        y.as_flattened().as_flattened(),
        dy.as_flattened().as_flattened(),
    );
    for ((d, &y), &g) in flat.iter_mut().zip(y).zip(dy) {
        *d = activation.derivative_at_output(y) * g;
    }
    dz
}

/// Whether `n = c · h · w` (without overflowing).
pub(crate) const fn is_volume(c: usize, h: usize, w: usize, n: usize) -> bool {
    match c.checked_mul(h) {
        Some(ch) => match ch.checked_mul(w) {
            Some(chw) => chw == n,
            None => false,
        },
        None => false,
    }
}

/// The output positions `o` in `0..output` whose input position `o·S + k − P`
/// (for kernel offset `k`, stride `S`, padding `P`) lies inside `0..input`: a
/// window's valid outputs, so that no loop ever reads padding.
#[inline(always)]
pub(crate) const fn valid_outputs(
    k: usize,
    input: usize,
    output: usize,
    stride: usize,
    padding: usize,
) -> (usize, usize) {
    // o·S + k ≥ P  ⇔  o ≥ ⌈(P − k) / S⌉ (when P > k);
    // o·S + k − P ≤ input − 1  ⇔  o ≤ (input − 1 + P − k) / S.
    let first = if padding > k {
        (padding - k).div_ceil(stride)
    } else {
        0
    };
    let end = if input + padding > k {
        let end = (input + padding - k - 1) / stride + 1;
        if end < output { end } else { output }
    } else {
        0
    };
    if end > first {
        (first, end)
    } else {
        (first, first)
    }
}

/// Every input row as each kernel column of a `K × K` window in steps of `S`
/// with padding `P` sees it: `shifted[c][kw][ih][ow]` is `x[c][ih][ow·S + kw − P]`,
/// or 0 where that is padding. With it, a kernel weight meets a whole output row
/// as one contiguous, full-length array (what vectorises) for every stride and
/// padding.
#[inline(always)]
pub(crate) fn shifted_rows<
    const C: usize,
    const H: usize,
    const W: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    const P: usize,
>(
    x: &Image<C, H, W>,
) -> [[[[f32; OW]; H]; K]; C] {
    let mut shifted = [[[[0.0; OW]; H]; K]; C];
    for (shifted, x) in shifted.iter_mut().zip(x) {
        for (kw, shifted) in shifted.iter_mut().enumerate() {
            let (w0, w1) = valid_outputs(kw, W, OW, S, P);
            for (shifted, x) in shifted.iter_mut().zip(x) {
                for (ow, v) in shifted.iter_mut().enumerate().take(w1).skip(w0) {
                    *v = x[ow * S + kw - P];
                }
            }
        }
    }
    shifted
}

/// The input row that output row `oh` reads with kernel row `kh` (stride `S`,
/// padding `P`), or `None` where that is padding.
#[inline(always)]
pub(crate) fn input_row<const H: usize, const S: usize, const P: usize>(
    oh: usize,
    kh: usize,
) -> Option<usize> {
    (oh * S + kh).checked_sub(P).filter(|&ih| ih < H)
}

/// Adds a `K × K` kernel met with one channel's shifted rows ([`shifted_rows`])
/// to the sums of output row `oh`: `sum[ow] += w · x`, kernel row by kernel
/// row and, within a row, column by column (the order both convolutions'
/// forward passes fix).
#[inline(always)]
pub(crate) fn add_window<
    const H: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    const P: usize,
>(
    sum: &mut [f32; OW],
    oh: usize,
    kernel: &[[f32; K]; K],
    shifted: &[[[f32; OW]; H]; K],
) {
    for (kh, kernel_row) in kernel.iter().enumerate() {
        let Some(ih) = input_row::<H, S, P>(oh, kh) else {
            continue;
        };
        for (&w, shifted) in kernel_row.iter().zip(shifted) {
            for (s, &x) in sum.iter_mut().zip(&shifted[ih]) {
                *s += w * x;
            }
        }
    }
}

/// The four backward methods of [`Train`](crate::module::Train) for a layer
/// over images whose inherent `output_delta` (∂loss/∂pre-activation),
/// `input_gradient` (∂loss/∂input) and `apply_gradient(x, dz, f)` (each
/// parameter `p` becomes `f(p, its gradient)`) do the work: per-sample SGD
/// updates in place after the input's gradient is taken; accumulation adds
/// into the gradient buffer. Used by both convolutions.
macro_rules! backward_from_gradient {
    ($out:ty) => {
        #[inline(always)]
        fn backward(
            &mut self,
            x: &Image<C, H, W>,
            y: &$out,
            dy: &$out,
            learning_rate: f32,
        ) -> Image<C, H, W> {
            let dz = self.output_delta(y, dy);
            let dx = self.input_gradient(&dz); // before the update, as for Dense
            self.apply_gradient(x, &dz, |p, g| p - learning_rate * g);
            dx
        }

        #[inline(always)]
        fn backward_without_input_gradient(
            &mut self,
            x: &Image<C, H, W>,
            y: &$out,
            dy: &$out,
            learning_rate: f32,
        ) {
            let dz = self.output_delta(y, dy);
            self.apply_gradient(x, &dz, |p, g| p - learning_rate * g);
        }

        #[inline(always)]
        fn gradient(
            &self,
            x: &Image<C, H, W>,
            y: &$out,
            dy: &$out,
            gradients: &mut Self,
        ) -> Image<C, H, W> {
            let dz = self.output_delta(y, dy);
            gradients.apply_gradient(x, &dz, |p, g| p + g);
            self.input_gradient(&dz)
        }

        #[inline(always)]
        fn gradient_without_input_gradient(
            &self,
            x: &Image<C, H, W>,
            y: &$out,
            dy: &$out,
            gradients: &mut Self,
        ) {
            let dz = self.output_delta(y, dy);
            gradients.apply_gradient(x, &dz, |p, g| p + g);
        }
    };
}
pub(crate) use backward_from_gradient;

#[cfg(test)]
mod tests {
    use super::*;

    /// The range is exactly the outputs whose input position is inside.
    #[test]
    fn valid_outputs_are_those_reading_inside_the_input() {
        for input in 1..9 {
            for stride in 1..4 {
                for padding in 0..4 {
                    for k in 0..(input + 2 * padding).min(6) {
                        let output = (input + 2 * padding - k.max(1)) / stride + 1;
                        let (first, end) = valid_outputs(k, input, output, stride, padding);
                        for o in 0..output {
                            let at = (o * stride + k) as isize - padding as isize;
                            let inside = at >= 0 && (at as usize) < input;
                            assert_eq!(
                                inside,
                                (first..end).contains(&o),
                                "input {input}, stride {stride}, padding {padding}, k {k}, o {o}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn rows_are_images_in_place() {
        let rows: Vec<[f32; 12]> = (0..2)
            .map(|r| core::array::from_fn(|i| (r * 12 + i) as f32))
            .collect();
        let views: &[Image<3, 2, 2>] = images(&rows);
        assert_eq!(views[1][2][1][0], 22.0);
        assert_eq!(image::<1, 3, 4, 12>(&rows[0])[0][2][3], 11.0);
        assert!(core::ptr::eq(
            views.as_ptr().cast::<f32>(),
            rows.as_ptr().cast()
        ));
    }
}
