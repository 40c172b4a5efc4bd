//! [`QuantizedFlatten`]: an int8 image as the flat vector an int8 dense layer takes.

#[cfg(feature = "std")]
use std::vec::Vec;

#[cfg(feature = "std")]
use super::{Calibrated, Quantize, QuantizeError};
use super::{LOGIT_BITS, QuantizedInput, QuantizedModule};
#[cfg(feature = "std")]
use crate::flatten::Flatten;
#[cfg(feature = "std")]
use crate::module::Module;

/// A `C × H × W` image of `X` as its `N = C · H · W` values, channel by channel
/// and row by row, as [`Flatten`](crate::Flatten). No parameters, no arithmetic.
pub struct QuantizedFlatten<const C: usize, const H: usize, const W: usize, const N: usize, X = i8>(
    core::marker::PhantomData<X>,
);

impl<const C: usize, const H: usize, const W: usize, const N: usize, X: QuantizedInput>
    QuantizedFlatten<C, H, W, N, X>
{
    /// `N = C · H · W`, checked when the program is built.
    const SHAPE: () = assert!(
        N > 0 && crate::image::is_volume(C, H, W, N),
        "QuantizedFlatten<C, H, W, N>: the length must be N = C · H · W"
    );

    /// The layer, in a `const` context.
    ///
    /// ```
    /// use mimic::quantized::QuantizedFlatten;
    /// use mimic::QuantizedModule;
    ///
    /// static FLAT: QuantizedFlatten<2, 1, 2, 4> = QuantizedFlatten::new();
    /// assert_eq!(FLAT.forward(&[[[1, 2]], [[3, 4]]]), [1, 2, 3, 4]);
    /// ```
    pub const fn new() -> Self {
        let () = Self::SHAPE;
        Self(core::marker::PhantomData)
    }
}

impl<const C: usize, const H: usize, const W: usize, const N: usize, X: QuantizedInput> Default
    for QuantizedFlatten<C, H, W, N, X>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const C: usize, const H: usize, const W: usize, const N: usize, X> Clone
    for QuantizedFlatten<C, H, W, N, X>
{
    fn clone(&self) -> Self {
        *self
    }
}

impl<const C: usize, const H: usize, const W: usize, const N: usize, X> Copy
    for QuantizedFlatten<C, H, W, N, X>
{
}

impl<const C: usize, const H: usize, const W: usize, const N: usize, X> PartialEq
    for QuantizedFlatten<C, H, W, N, X>
{
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<const C: usize, const H: usize, const W: usize, const N: usize, X> Eq
    for QuantizedFlatten<C, H, W, N, X>
{
}

impl<const C: usize, const H: usize, const W: usize, const N: usize, X: QuantizedInput>
    core::fmt::Debug for QuantizedFlatten<C, H, W, N, X>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "QuantizedFlatten<{C}×{H}×{W} → {N}, {}>", X::RUST)
    }
}

impl<const C: usize, const H: usize, const W: usize, const N: usize, X: QuantizedInput>
    QuantizedModule for QuantizedFlatten<C, H, W, N, X>
{
    type Input = [[[X; W]; H]; C];
    type Output = [X; N];
    type Logits = [i32; N];

    fn forward(&self, input: &[[[X; W]; H]; C]) -> [X; N] {
        let () = Self::SHAPE;
        let mut y = [X::default(); N];
        y.copy_from_slice(input.as_flattened().as_flattened());
        y
    }

    /// The values, [`LOGIT_BITS`] finer.
    fn logits(&self, input: &[[[X; W]; H]; C]) -> [i32; N] {
        self.forward(input).map(|v| v.widen() << LOGIT_BITS)
    }
}

/// Flattening keeps the input's scale; it has nothing to calibrate.
#[cfg(feature = "std")]
impl<const C: usize, const H: usize, const W: usize, const N: usize, X: QuantizedInput> Quantize<X>
    for Flatten<C, H, W, N>
{
    type Quantized = QuantizedFlatten<C, H, W, N, X>;
    const LAYERS: usize = 1;

    fn quantize_from(
        &self,
        _layer: usize,
        input_scale: f32,
        inputs: &[Self::Input],
    ) -> Result<Calibrated<Self::Quantized, Self::Output>, QuantizeError> {
        Ok(Calibrated {
            network: QuantizedFlatten::new(),
            scale: input_scale,
            outputs: inputs.iter().map(|x| self.forward(x)).collect::<Vec<_>>(),
        })
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn flattening_is_reading_order_and_logits_are_finer() {
        let flat = QuantizedFlatten::<2, 1, 2, 4, u8>::new();
        assert_eq!(flat.forward(&[[[1, 2]], [[3, 255]]]), [1, 2, 3, 255]);
        assert_eq!(
            flat.logits(&[[[1, 2]], [[3, 255]]]),
            [256, 512, 768, 255 << 8]
        );
        assert_eq!(flat.predict(&[[[1, 2]], [[3, 255]]]), 3);
    }
}
