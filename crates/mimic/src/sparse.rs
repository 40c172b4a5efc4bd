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
            let mut listed = Self::default();
            listed.append_listed(rows, value);
            listed
        }

        /// Appends `rows` after the rows already listed, as [`SparseRows::from_rows`]
        /// lists them, in one pass over the entries on the calling thread: for rows
        /// arriving in pieces (a file read a block at a time), listed while the
        /// piece is still in cache and without ever holding them all densely.
        /// Listing a whole input at once, or in any split into pieces, gives the
        /// same rows.
        ///
        /// ```
        /// use mimic::SparseRows;
        ///
        /// let mut rows = SparseRows::<3>::default();
        /// rows.extend_from_rows(&[[0u8, 7, 0]], f32::from);
        /// rows.extend_from_rows(&[[1u8, 0, 2], [0, 0, 0]], f32::from);
        /// assert_eq!(rows, SparseRows::from_rows(&[[0u8, 7, 0], [1, 0, 2], [0, 0, 0]], f32::from));
        /// ```
        pub fn extend_from_rows<T, V>(&mut self, rows: &[[T; N]], value: V)
        where
            T: Copy + Default + PartialEq,
            V: Fn(T) -> f32,
        {
            self.offsets.reserve(rows.len());
            for row in rows {
                self.push_row(row, &value);
            }
        }

        /// Lists one row after the others, without a branch per entry: within a
        /// block of 16, every entry is written at the next free place, which only
        /// advances past nonzero ones, so the zeros are overwritten by what
        /// follows. Whole blocks of zeros (an image's margins) are skipped.
        fn push_row<T, V>(&mut self, row: &[T; N], value: &V)
        where
            T: Copy + Default + PartialEq,
            V: Fn(T) -> f32,
        {
            let zero = T::default();
            // Room for the whole row: a block's 16 places start at or before its
            // first entry's index, so they fit in the row's N.
            self.indices.reserve(N);
            self.values.reserve(N);
            let start = self.indices.len();
            let (Some(to_indices), Some(to_values)) = (
                self.indices.spare_capacity_mut().get_mut(..N),
                self.values.spare_capacity_mut().get_mut(..N),
            ) else {
                return; // `reserve` made the room: never taken.
            };
            let mut k = 0;
            let (blocks, rest) = row.as_chunks::<16>();
            for (block, entries) in blocks.iter().enumerate() {
                if entries.iter().all(|&x| x == zero) {
                    continue;
                }
                let base = block * 16;
                // k counts the row's nonzeros before this block: k ≤ base.
                let (Some(indices), Some(values)) =
                    (to_indices.get_mut(k..k + 16), to_values.get_mut(k..k + 16))
                else {
                    break; // k + 16 ≤ base + 16 ≤ N: never taken.
                };
                let mut found = 0;
                for (j, &x) in entries.iter().enumerate() {
                    // found ≤ j < 16.
                    indices[found & 15].write((base + j) as u32);
                    values[found & 15].write(value(x));
                    found += usize::from(x != zero);
                }
                k += found;
            }
            let base = blocks.len() * 16;
            for (j, &x) in rest.iter().enumerate() {
                if x != zero {
                    // k ≤ base + j < N.
                    to_indices[k].write((base + j) as u32);
                    to_values[k].write(value(x));
                    k += 1;
                }
            }
            // SAFETY: the first k places past the lists' ends were written: each
            // place p < k was written when the count of nonzeros was p, and the
            // count only grew past p after writing it. They are within the
            // capacity (`to_indices` and `to_values` are slices of it), and they
            // hold the row's nonzero indices in increasing order, below N.
            unsafe {
                self.indices.set_len(start + k);
                self.values.set_len(start + k);
            }
            self.offsets.push(start + k);
        }

        /// Appends `rows`, counted then listed on two threads for large inputs.
        fn append_listed<T, V>(&mut self, rows: &[[T; N]], value: V)
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
            let (first_counts, second_counts) = if half < rows.len() {
                std::thread::scope(|scope| {
                    let second = scope.spawn(|| count(&rows[half..]));
                    let first = count(&rows[..half]);
                    // A worker panics only if `count` does, which it cannot.
                    (first, second.join().unwrap_or_default())
                })
            } else {
                (count(rows), Vec::new())
            };
            let start = self.indices.len();
            self.offsets.reserve(rows.len());
            for c in first_counts.into_iter().chain(second_counts) {
                self.offsets.push(self.offsets[self.offsets.len() - 1] + c);
            }
            let end = self.offsets[self.offsets.len() - 1];
            let middle = self.offsets[self.offsets.len() - 1 - (rows.len() - half)];
            self.indices.resize(end, 0);
            self.values.resize(end, 0.0);
            let (first_indices, second_indices) =
                self.indices[start..end].split_at_mut(middle - start);
            let (first_values, second_values) =
                self.values[start..end].split_at_mut(middle - start);
            let value = &value;
            if half < rows.len() {
                std::thread::scope(|scope| {
                    scope.spawn(move || fill(&rows[half..], value, second_indices, second_values));
                    fill(&rows[..half], value, first_indices, first_values);
                });
            } else {
                fill(rows, value, first_indices, first_values);
            }
        }

        /// Makes room for `rows` more rows holding `entries` more nonzero entries in
        /// all, or says that the memory cannot be had: so a caller listing input
        /// of untrusted size can fail cleanly rather than abort.
        pub fn try_reserve(
            &mut self,
            rows: usize,
            entries: usize,
        ) -> Result<(), std::collections::TryReserveError> {
            self.offsets.try_reserve(rows)?;
            self.indices.try_reserve(entries)?;
            self.values.try_reserve(entries)
        }

        /// How many nonzero entries are listed, in all rows.
        pub fn entries(&self) -> usize {
            self.indices.len()
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
        let mut k = 0;
        for row in rows {
            // Without a branch per entry: within a block of 16, every entry is
            // written at the next free place, which only advances past nonzero
            // ones, so the zeros are overwritten by what follows. Whole blocks of
            // zeros (an image's margins) are skipped. The slices were sized by
            // counting the same entries, so the places of the nonzeros exist;
            // where the 16 places a block may write run past the end, its nonzeros
            // are gathered in a small buffer first.
            let (blocks, rest) = row.as_chunks::<16>();
            for (block, entries) in blocks.iter().enumerate() {
                if entries.iter().all(|&x| x == zero) {
                    continue;
                }
                let base = block * 16;
                match (indices.get_mut(k..k + 16), values.get_mut(k..k + 16)) {
                    (Some(to_indices), Some(to_values)) => {
                        let mut found = 0;
                        for (j, &x) in entries.iter().enumerate() {
                            // found ≤ j < 16: the place exists.
                            to_indices[found & 15] = (base + j) as u32;
                            to_values[found & 15] = value(x);
                            found += usize::from(x != zero);
                        }
                        k += found;
                    }
                    _ => k += gather(entries, base, value, &mut indices[k..], &mut values[k..]),
                }
            }
            k += gather(
                rest,
                blocks.len() * 16,
                value,
                &mut indices[k..],
                &mut values[k..],
            );
        }
    }

    /// Writes the nonzero entries of `entries` (at most 16; the first is entry
    /// `base` of its row) at the start of `indices` and `values`; how many.
    fn gather<T: Copy + Default + PartialEq>(
        entries: &[T],
        base: usize,
        value: &impl Fn(T) -> f32,
        indices: &mut [u32],
        values: &mut [f32],
    ) -> usize {
        let zero = T::default();
        let (mut found_indices, mut found_values) = ([0u32; 16], [0.0f32; 16]);
        let mut found = 0;
        for (j, &x) in entries.iter().take(16).enumerate() {
            // found ≤ j < 16: the place exists.
            found_indices[found & 15] = (base + j) as u32;
            found_values[found & 15] = value(x);
            found += usize::from(x != zero);
        }
        indices[..found].copy_from_slice(&found_indices[..found]);
        values[..found].copy_from_slice(&found_values[..found]);
        found
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
            let mut extended = SparseRows::default();
            extended.extend_from_rows(&rows, |x| x);
            assert_eq!(extended, sparse);
            assert_eq!(sparse.len(), count);
            for (k, row) in rows.iter().enumerate() {
                assert_eq!(&sparse.get(k).unwrap().to_dense(), row);
            }
            assert!(sparse.get(count).is_none());
            assert_eq!(sparse.iter().count(), count);
        }
    }

    #[test]
    fn rows_listed_in_pieces_are_the_rows_listed_at_once() {
        let rows: Vec<[u8; 50]> = (0..3000)
            .map(|k: usize| core::array::from_fn(|i| ((i * 13 + k * 7) % 11 % 3 * 100) as u8))
            .collect();
        let value = |p: u8| f32::from(p) / 255.0;
        let whole = SparseRows::from_rows(&rows, value);
        // Pieces on one thread (< 1024 rows) and on two, empty ones included.
        for cuts in [
            &[0, 1, 500, 500, 3000][..],
            &[0, 1500, 2999, 3000],
            &[0, 3000],
        ] {
            let mut pieces = SparseRows::default();
            for w in cuts.windows(2) {
                pieces.extend_from_rows(&rows[w[0]..w[1]], value);
            }
            assert_eq!(pieces, whole, "{cuts:?}");
        }
        assert_eq!(whole.len(), 3000);
        for (k, row) in rows.iter().enumerate() {
            assert_eq!(whole.get(k).unwrap().to_dense(), row.map(value));
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
