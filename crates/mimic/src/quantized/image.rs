//! Images of integers: what int8 convolutional layers take and give.

/// A `C × H × W` image of `X` (`u8` pixels or `i8` activations), as
/// [`Image`](crate::Image) is of `f32`.
pub type QuantizedImage<X, const C: usize, const H: usize, const W: usize> = [[[X; W]; H]; C];

/// The logits of a layer whose output is an image (a convolution or pooling
/// layer last in a network): `[[[i32; W]; H]; C]`, read as one flat list of
/// classes in `C`, `H`, `W` order (PyTorch's `flatten` order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageLogits<const C: usize, const H: usize, const W: usize>(
    /// The logits, channel by channel, row by row.
    pub [[[i32; W]; H]; C],
);

impl<const C: usize, const H: usize, const W: usize> AsRef<[i32]> for ImageLogits<C, H, W> {
    fn as_ref(&self) -> &[i32] {
        self.0.as_flattened().as_flattened()
    }
}

/// Asserts, where it is used, that `N = C · H · W` and that no size is 0.
struct SameLength<const C: usize, const H: usize, const W: usize, const N: usize>;

impl<const C: usize, const H: usize, const W: usize, const N: usize> SameLength<C, H, W, N> {
    const CHECK: () = assert!(
        N > 0 && crate::image::is_volume(C, H, W, N),
        "an image of C × H × W values must come from a row of N = C · H · W values"
    );
}

/// One flat row of `N = C · H · W` values — raw pixels, say — as a `C × H × W`
/// image, in place: no copy, the same memory. `N = C · H · W` is checked when
/// the program is built.
///
/// ```
/// use mimic::quantized::quantized_image;
///
/// let pixels = [7u8; 784];
/// let image = quantized_image::<u8, 1, 28, 28, 784>(&pixels);
/// assert_eq!(image[0][27][27], 7);
/// ```
pub fn quantized_image<X, const C: usize, const H: usize, const W: usize, const N: usize>(
    row: &[X; N],
) -> &QuantizedImage<X, C, H, W> {
    let () = SameLength::<C, H, W, N>::CHECK;
    // SAFETY: `[[[X; W]; H]; C]` is `C · H · W` consecutive `X` with no padding
    // (arrays have none) and `X`'s alignment: exactly the layout of `[X; N]`,
    // since `N = C · H · W` (checked above when the program is built). The
    // reference borrows `row` for its lifetime.
    unsafe { &*row.as_ptr().cast::<QuantizedImage<X, C, H, W>>() }
}
