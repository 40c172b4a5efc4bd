//! [`Flatten`]: an image as the flat vector a [`Dense`](crate::Dense) layer takes.

use core::fmt;
#[cfg(feature = "std")]
use core::mem::MaybeUninit;

#[cfg(feature = "std")]
use rand::Rng;

use crate::image::Image;
#[cfg(feature = "std")]
use crate::init::{Initialize, Initializer};
use crate::module::{Module, Parameters, Train, Zipped};

/// A `C × H × W` image as a vector of its `N = C · H · W` values, channel by
/// channel and row by row (PyTorch's `flatten` order). `N` is written out and
/// checked when the program is built: `Flatten<16, 5, 5, 400>` builds,
/// `Flatten<16, 5, 5, 256>` does not.
///
/// ```
/// use mimic::{Flatten, Module};
///
/// let x = [[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]];
/// assert_eq!(Flatten::<2, 2, 2, 8>::new().forward(&x), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Flatten<const C: usize, const H: usize, const W: usize, const N: usize>;

impl<const C: usize, const H: usize, const W: usize, const N: usize> Flatten<C, H, W, N> {
    /// Evaluated wherever the layer is made: a wrong length is a build error
    /// naming this type, and so every size.
    const SHAPE: () = assert!(
        N > 0 && crate::image::is_volume(C, H, W, N),
        "Flatten<C, H, W, N>: the length must be N = C · H · W"
    );

    /// The layer (it has no parameters).
    pub const fn new() -> Self {
        let () = Self::SHAPE;
        Self
    }
}

impl<const C: usize, const H: usize, const W: usize, const N: usize> Default
    for Flatten<C, H, W, N>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const C: usize, const H: usize, const W: usize, const N: usize> fmt::Debug
    for Flatten<C, H, W, N>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flatten<{C}×{H}×{W} → {N}>")
    }
}

impl<const C: usize, const H: usize, const W: usize, const N: usize> Module
    for Flatten<C, H, W, N>
{
    type Input = Image<C, H, W>;
    type Output = [f32; N];

    #[inline(always)]
    fn forward(&self, x: &Image<C, H, W>) -> [f32; N] {
        let () = Self::SHAPE;
        let mut y = [0.0; N];
        y.copy_from_slice(x.as_flattened().as_flattened());
        y
    }
}

impl<const C: usize, const H: usize, const W: usize, const N: usize> Parameters
    for Flatten<C, H, W, N>
{
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
}

impl<const C: usize, const H: usize, const W: usize, const N: usize> Train for Flatten<C, H, W, N> {
    /// The flat vector.
    type Trace = [f32; N];

    #[inline(always)]
    fn forward_trace(&self, x: &Image<C, H, W>) -> [f32; N] {
        self.forward(x)
    }

    #[inline(always)]
    fn traced_output(trace: &[f32; N]) -> &[f32; N] {
        trace
    }

    #[inline(always)]
    fn backward(
        &mut self,
        _: &Image<C, H, W>,
        _: &[f32; N],
        dy: &[f32; N],
        _: f32,
    ) -> Image<C, H, W> {
        let mut dx = [[[0.0; W]; H]; C];
        dx.as_flattened_mut().as_flattened_mut().copy_from_slice(dy);
        dx
    }

    #[inline(always)]
    fn backward_without_input_gradient(
        &mut self,
        _: &Image<C, H, W>,
        _: &[f32; N],
        _: &[f32; N],
        _: f32,
    ) {
    }

    #[inline(always)]
    fn gradient(
        &self,
        _: &Image<C, H, W>,
        _: &[f32; N],
        dy: &[f32; N],
        _: &mut Self,
    ) -> Image<C, H, W> {
        let mut dx = [[[0.0; W]; H]; C];
        dx.as_flattened_mut().as_flattened_mut().copy_from_slice(dy);
        dx
    }

    #[inline(always)]
    fn gradient_without_input_gradient(
        &self,
        _: &Image<C, H, W>,
        _: &[f32; N],
        _: &[f32; N],
        _: &mut Self,
    ) {
    }
}

#[cfg(feature = "std")]
impl<const C: usize, const H: usize, const W: usize, const N: usize> Initialize
    for Flatten<C, H, W, N>
{
    /// Nothing to draw.
    fn initialize_in_place<'s, R: Rng + ?Sized>(
        slot: &'s mut MaybeUninit<Self>,
        _: Initializer,
        _: &mut R,
    ) -> &'s mut Self {
        slot.write(Self::new())
    }
}
