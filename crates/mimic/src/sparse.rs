//! Sparse inputs: only the nonzero entries of a vector.
//!
//! A zero input contributes nothing to a layer's output nor to its weights'
//! update. Listing each row's nonzero entries once, up front, lets the first layer
//! skip the rest in both the forward pass and the update (on MNIST, where 19.1% of
//! pixels are nonzero, a fifth of the dense work), with bit-identical results.

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

    /// Parts that are not checked.
    ///
    /// # Safety
    /// `indices` and `values` must have the same length and the indices must be
    /// strictly increasing and below `N`: kernels read rows at these indices
    /// without bounds checks.
    #[inline]
    pub unsafe fn new_unchecked(indices: &'a [u32], values: &'a [f32]) -> Self {
        debug_assert!(Self::new(indices, values).is_some());
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

#[cfg(feature = "std")]
mod rows {
    use super::SparseVector;

    /// Many length-`N` rows, each as its nonzero entries (compressed sparse rows): the
    /// fast representation of inputs that are mostly zeros, such as images. Built from
    /// dense rows of any element type, mapped to `f32` by a function of your choice.
    ///
    /// ```
    /// use mimic::SparseRows;
    ///
    /// let pixels: Vec<[u8; 4]> = vec![[0, 255, 0, 51], [0, 0, 0, 0]];
    /// let rows = SparseRows::from_rows(&pixels, |p| f32::from(p) / 255.0);
    /// assert_eq!(rows.get(0).unwrap().indices(), &[1, 3]);
    /// assert_eq!(rows.get(0).unwrap().to_dense(), [0.0, 1.0, 0.0, 0.2]);
    /// assert!(rows.get(1).unwrap().is_empty());
    /// ```
    #[derive(Clone, Debug, PartialEq)]
    pub struct SparseRows<const N: usize> {
        /// Row `k` is `offsets[k]..offsets[k + 1]` of `indices` and `values`.
        offsets: Vec<usize>,
        indices: Vec<u32>,
        values: Vec<f32>,
    }

    impl<const N: usize> Default for SparseRows<N> {
        fn default() -> Self {
            Self {
                offsets: vec![0],
                indices: Vec::new(),
                values: Vec::new(),
            }
        }
    }

    impl<const N: usize> SparseRows<N> {
        /// The nonzero entries of dense `f32` rows.
        pub fn from_dense(rows: &[[f32; N]]) -> Self {
            Self::from_rows(rows, |x| x)
        }

        /// The entries of `rows` that are not `T::default()` (zero), each mapped to
        /// `f32` by `value`; the result is what `value` gives for every entry, with the
        /// zero entries left out (so `value(T::default())` should be 0). Rows are
        /// listed on two threads for large inputs; the result does not depend on it.
        pub fn from_rows<T, V>(rows: &[[T; N]], value: V) -> Self
        where
            T: Copy + Default + PartialEq + Sync,
            V: Fn(T) -> f32 + Sync,
        {
            // Per-row counts first, so the rows' places in the shared buffers are known
            // and both cores can fill their halves; the two halves are counted on
            // the two cores too.
            let zero = T::default();
            let half = if rows.len() >= 1024 {
                rows.len() / 2
            } else {
                rows.len()
            };
            let count = |rows: &[[T; N]]| -> Vec<usize> {
                let nonzero = |row: &[T; N]| row.iter().map(|&x| usize::from(x != zero)).sum();
                rows.iter().map(nonzero).collect()
            };
            let (first_counts, second_counts) = std::thread::scope(|scope| {
                let second = scope.spawn(|| count(&rows[half..]));
                let first = count(&rows[..half]);
                // A worker panics only if `count` does, which it cannot.
                (first, second.join().unwrap_or_default())
            });
            let mut offsets = Vec::with_capacity(rows.len() + 1);
            offsets.push(0);
            for c in first_counts.into_iter().chain(second_counts) {
                offsets.push(offsets[offsets.len() - 1] + c);
            }
            let total = offsets[rows.len()];
            let mut indices = vec![0u32; total];
            let mut values = vec![0.0f32; total];
            let (first_indices, second_indices) = indices.split_at_mut(offsets[half]);
            let (first_values, second_values) = values.split_at_mut(offsets[half]);
            let value = &value;
            std::thread::scope(|scope| {
                if half < rows.len() {
                    scope.spawn(move || fill(&rows[half..], value, second_indices, second_values));
                }
                fill(&rows[..half], value, first_indices, first_values);
            });
            Self {
                offsets,
                indices,
                values,
            }
        }

        /// Number of rows.
        pub fn len(&self) -> usize {
            self.offsets.len() - 1
        }

        /// Whether there are no rows.
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }

        /// Row `k`, if it exists.
        #[inline]
        pub fn get(&self, k: usize) -> Option<SparseVector<'_, N>> {
            let (&start, &end) = (self.offsets.get(k)?, self.offsets.get(k + 1)?);
            let (indices, values) = (self.indices.get(start..end)?, self.values.get(start..end)?);
            // SAFETY: every row was listed by `fill`: increasing indices below N, one
            // value per index (the buffers are private and never changed after).
            Some(unsafe { SparseVector::new_unchecked(indices, values) })
        }

        /// Asks the CPU to load where row `k` starts and ends (a hint).
        #[inline(always)]
        pub(crate) fn prefetch_offsets(&self, k: usize) {
            if let Some(bounds) = self.offsets.get(k..k + 2) {
                crate::kernels::prefetch(bounds);
            }
        }

        /// Every row, in order.
        pub fn iter(&self) -> impl ExactSizeIterator<Item = SparseVector<'_, N>> + '_ {
            self.offsets.windows(2).map(|w| {
                // SAFETY: as in `get`; `offsets` is non-decreasing and ends at the
                // buffers' length, so the ranges are in bounds.
                unsafe {
                    SparseVector::new_unchecked(&self.indices[w[0]..w[1]], &self.values[w[0]..w[1]])
                }
            })
        }

        /// The rows `k` for `k` in `keep`, in that order (e.g. a subset or a split).
        pub fn select(&self, keep: impl IntoIterator<Item = usize>) -> Self {
            let mut selected = Self::default();
            for row in keep.into_iter().filter_map(|k| self.get(k)) {
                selected.indices.extend_from_slice(row.indices());
                selected.values.extend_from_slice(row.values());
                selected.offsets.push(selected.indices.len());
            }
            selected
        }

        /// The fraction of entries that are nonzero.
        pub fn density(&self) -> f64 {
            self.indices.len() as f64 / (self.len().max(1) * N) as f64
        }
    }

    /// Writes the nonzero entries of `rows`, in order, into `indices` and `values`,
    /// which have exactly the room they need.
    fn fill<const N: usize, T: Copy + Default + PartialEq>(
        rows: &[[T; N]],
        value: &impl Fn(T) -> f32,
        indices: &mut [u32],
        values: &mut [f32],
    ) {
        let zero = T::default();
        let mut n = 0;
        for row in rows {
            // Without a branch per entry: within a block of 16, each entry is
            // written at the next free place of a small buffer, which only
            // advances past nonzero ones; the block's nonzeros are then copied out.
            // Whole blocks of zeros (an image's margins) are skipped. The slices
            // were sized by counting the same entries, so the places exist.
            let (row_indices, row_values) = (&mut indices[n..], &mut values[n..]);
            let mut k = 0;
            for (block, entries) in row.chunks(16).enumerate() {
                if entries.iter().all(|&x| x == zero) {
                    continue;
                }
                let (mut found_indices, mut found_values) = ([0u32; 16], [0.0f32; 16]);
                let mut found = 0;
                for (j, &x) in entries.iter().enumerate() {
                    // found ≤ j < 16: the place exists.
                    found_indices[found] = (block * 16 + j) as u32;
                    found_values[found] = value(x);
                    found += usize::from(x != zero);
                }
                row_indices[k..k + found].copy_from_slice(&found_indices[..found]);
                row_values[k..k + found].copy_from_slice(&found_values[..found]);
                k += found;
            }
            n += k;
        }
    }
}
#[cfg(feature = "std")]
pub use rows::SparseRows;

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

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
    fn rows_round_trip_on_one_thread_and_two() {
        for count in [3, 2500] {
            let rows: Vec<[f32; 37]> = (0..count)
                .map(|k| {
                    core::array::from_fn(|i| {
                        if (i * 7 + k) % 5 == 0 {
                            (i + k) as f32
                        } else {
                            0.0
                        }
                    })
                })
                .collect();
            let sparse = SparseRows::from_dense(&rows);
            assert_eq!(sparse.len(), count);
            for (k, row) in rows.iter().enumerate() {
                assert_eq!(&sparse.get(k).unwrap().to_dense(), row);
            }
            assert!(sparse.get(count).is_none());
            assert_eq!(sparse.iter().count(), count);
        }
    }

    #[test]
    fn bytes_are_mapped_and_zeros_skipped() {
        let mut a = [0u8; 784];
        a[3] = 255;
        a[700] = 51;
        let sparse = SparseRows::from_rows(&[a, [0; 784]], |p| f32::from(p) / 255.0);
        assert_eq!(sparse.get(0).unwrap().indices(), &[3, 700]);
        assert_eq!(sparse.get(0).unwrap().values(), &[1.0, 0.2]);
        assert!(sparse.get(1).unwrap().is_empty());
        let picked = sparse.select([1, 0]);
        assert!(picked.get(0).unwrap().is_empty());
        assert_eq!(picked.get(1), sparse.get(0));
    }
}
