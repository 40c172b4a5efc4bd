//! Sparse inputs: only the nonzero entries of a vector.
//!
//! Only 19.1% of MNIST's training pixels are nonzero, and a zero input contributes
//! nothing to a layer's output nor to its weights' update. Listing the nonzero
//! pixels once per image, up front, lets the first layer do a fifth of the dense
//! work in both the forward pass and the update.

use crate::data::{PIXELS, scale_pixel};

/// The nonzero entries of a length-`N` vector: strictly increasing indices below
/// `N`, and their values. Validated on construction, so layers can index with them
/// without further checks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SparseVector<'a, const N: usize> {
    indices: &'a [u32],
    values: &'a [f32],
}

impl<'a, const N: usize> SparseVector<'a, N> {
    /// `None` unless `indices` and `values` have the same length and the indices
    /// are strictly increasing and below `N`.
    pub fn new(indices: &'a [u32], values: &'a [f32]) -> Option<Self> {
        let increasing = indices.windows(2).all(|w| w[0] < w[1]);
        let in_range = indices.last().is_none_or(|&last| (last as usize) < N);
        (indices.len() == values.len() && increasing && in_range)
            .then_some(Self { indices, values })
    }

    /// Trusted parts: only for callers that built them increasing and in range.
    /// (Kernels index safely anyway; a wrong list gives wrong numbers or a panic,
    /// never undefined behaviour.)
    #[inline]
    pub(crate) fn from_parts(indices: &'a [u32], values: &'a [f32]) -> Self {
        Self { indices, values }
    }

    /// The positions of the nonzero entries.
    pub fn indices(&self) -> &'a [u32] {
        self.indices
    }

    /// The nonzero entries' values.
    pub fn values(&self) -> &'a [f32] {
        self.values
    }

    /// How many entries are listed.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether the vector is all zeros.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// The dense vector.
    pub fn to_dense(&self) -> [f32; N] {
        let mut dense = [0.0; N];
        for (&i, &v) in self.indices.iter().zip(self.values) {
            dense[i as usize] = v;
        }
        dense
    }
}

/// How pixels become network inputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scaling {
    /// `p / 255`, in `[0, 1]`: what the seed settled on.
    #[default]
    Divide255,
    /// The raw byte values 0–255: the seed's first attempt, which overflowed its
    /// softmax and trained to 9.8%. Kept to show that `mimic` reports the divergence.
    Raw,
}

/// Many images as one sparse matrix (compressed rows), pixels already divided by 255.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SparseImages {
    /// Row `k` is `offsets[k]..offsets[k + 1]` of `indices` and `values`.
    offsets: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f32>,
}

impl SparseImages {
    /// Lists the nonzero pixels of every image, scaled by 1/255 exactly as
    /// [`scale_pixels`](crate::data::scale_pixels) does.
    pub fn new(images: &[[u8; PIXELS]]) -> Self {
        Self::with_scaling(images, Scaling::Divide255)
    }

    /// Lists the nonzero pixels of every image, scaled as `scaling` says.
    pub fn with_scaling(images: &[[u8; PIXELS]], scaling: Scaling) -> Self {
        // Per-image counts first (u16 lanes vectorise well), so the rows' places in
        // the shared buffers are known and both cores can fill their halves.
        let counts: Vec<u16> = images
            .iter()
            .map(|im| im.iter().map(|&p| u16::from(p != 0)).sum())
            .collect();
        let mut offsets = Vec::with_capacity(images.len() + 1);
        offsets.push(0);
        for &c in &counts {
            offsets.push(offsets[offsets.len() - 1] + usize::from(c));
        }
        let total = offsets[images.len()];
        let mut indices = vec![0u32; total];
        let mut values = vec![0.0f32; total];
        let half = images.len() / 2;
        let (first_indices, second_indices) = indices.split_at_mut(offsets[half]);
        let (first_values, second_values) = values.split_at_mut(offsets[half]);
        std::thread::scope(|scope| {
            scope.spawn(|| fill(&images[half..], scaling, second_indices, second_values));
            fill(&images[..half], scaling, first_indices, first_values);
        });
        Self {
            offsets,
            indices,
            values,
        }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Image `k`, if it exists.
    #[inline]
    pub fn get(&self, k: usize) -> Option<SparseVector<'_, PIXELS>> {
        let (&start, &end) = (self.offsets.get(k)?, self.offsets.get(k + 1)?);
        // Built by `new`: increasing indices below PIXELS, equal lengths.
        Some(SparseVector {
            indices: self.indices.get(start..end)?,
            values: self.values.get(start..end)?,
        })
    }

    /// Every image, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = SparseVector<'_, PIXELS>> + '_ {
        self.offsets.windows(2).map(|w| SparseVector {
            indices: &self.indices[w[0]..w[1]],
            values: &self.values[w[0]..w[1]],
        })
    }

    /// The fraction of pixels that are nonzero.
    pub fn density(&self) -> f64 {
        self.indices.len() as f64 / (self.len().max(1) * PIXELS) as f64
    }
}

/// Writes the nonzero pixels of `images`, in order, into `indices` and `values`,
/// which have exactly the room they need.
fn fill(images: &[[u8; PIXELS]], scaling: Scaling, indices: &mut [u32], values: &mut [f32]) {
    let mut n = 0;
    let mut slot = [(0u32, 0.0f32); PIXELS];
    for image in images {
        // Without a branch per pixel: every pixel goes to slot `k`, and `k` only
        // advances past nonzero ones; whole runs of 16 zeros (the margins) are skipped.
        let mut k = 0;
        for (chunk, pixels) in image.chunks_exact(16).enumerate() {
            if pixels.iter().all(|&p| p == 0) {
                continue;
            }
            for (j, &pixel) in pixels.iter().enumerate() {
                let value = match scaling {
                    Scaling::Divide255 => scale_pixel(pixel),
                    Scaling::Raw => f32::from(pixel),
                };
                slot[k] = ((chunk * 16 + j) as u32, value);
                k += usize::from(pixel != 0);
            }
        }
        for ((i, v), &(index, value)) in indices[n..n + k]
            .iter_mut()
            .zip(&mut values[n..n + k])
            .zip(&slot)
        {
            *i = index;
            *v = value;
        }
        n += k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::scale_pixels;

    #[test]
    fn validation() {
        assert!(SparseVector::<4>::new(&[0, 3], &[1.0, 2.0]).is_some());
        assert!(SparseVector::<4>::new(&[0, 4], &[1.0, 2.0]).is_none());
        assert!(SparseVector::<4>::new(&[2, 1], &[1.0, 2.0]).is_none());
        assert!(SparseVector::<4>::new(&[1, 1], &[1.0, 2.0]).is_none());
        assert!(SparseVector::<4>::new(&[1], &[1.0, 2.0]).is_none());
        assert_eq!(
            SparseVector::<3>::new(&[1], &[5.0]).unwrap().to_dense(),
            [0.0, 5.0, 0.0]
        );
    }

    #[test]
    fn images_round_trip() {
        let mut a = [0u8; PIXELS];
        a[3] = 255;
        a[700] = 51;
        let b = [0u8; PIXELS];
        let sparse = SparseImages::new(&[a, b]);
        assert_eq!(sparse.len(), 2);
        assert_eq!(sparse.get(0).unwrap().to_dense(), scale_pixels(&a));
        assert!(sparse.get(1).unwrap().is_empty());
        assert!(sparse.get(2).is_none());
        assert_eq!(sparse.iter().count(), 2);
    }
}
