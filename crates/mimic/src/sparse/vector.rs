//! One sparse vector, borrowed: its nonzero entries in one of two layouts.

use super::coded::CodedEntry;

/// The nonzero entries of a length-`N` vector: strictly increasing positions below
/// `N`, and their values. Validated on construction, so layers can index with the
/// positions without further checks.
///
/// Built from `u32` positions and `f32` values ([`SparseVector::new`]), or from
/// [`CodedEntry`]s — a position and a byte code in 32 bits — whose values a
/// 256-entry table gives ([`SparseVector::coded`]; what
/// [`SparseRows`](crate::SparseRows) lists rows of bytes into). Two vectors with the same entries are equal, whatever their
/// layout.
#[derive(Clone, Copy, Debug)]
pub struct SparseVector<'a, const N: usize> {
    entries: Entries<'a>,
}

/// How a sparse vector's entries are laid out; the kernels match on it once per
/// vector and run a loop compiled for each.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Entries<'a> {
    /// Any values: a `u32` position and an `f32` value per entry (8 bytes).
    Wide {
        indices: &'a [u32],
        values: &'a [f32],
    },
    /// Values that are bytes mapped through a table (pixels): a position and a
    /// byte code per entry, packed in 4 bytes; entry `k`'s value is
    /// `table[entries[k].code()]`.
    Coded {
        entries: &'a [CodedEntry],
        table: &'a [f32; 256],
        /// Whether every value of the table is finite (worked out once per
        /// table by [`SparseRows`](crate::SparseRows), not for every row).
        table_finite: bool,
    },
}

/// Whether `positions` are strictly increasing and below `n`.
fn valid(positions: impl Iterator<Item = u32>, n: usize) -> bool {
    // The smallest position the next one may have.
    let mut next = 0;
    for p in positions {
        let p = p as usize;
        if p < next {
            return false;
        }
        next = p + 1;
    }
    next <= n
}

impl<'a, const N: usize> SparseVector<'a, N> {
    /// `None` unless `indices` and `values` have the same length and the indices
    /// are strictly increasing and below `N`.
    ///
    /// ```
    /// use mimic::SparseVector;
    ///
    /// let x = SparseVector::<4>::new(&[1, 3], &[0.5, 2.0]).unwrap();
    /// assert_eq!(x.to_dense(), [0.0, 0.5, 0.0, 2.0]);
    /// assert!(SparseVector::<4>::new(&[3, 1], &[0.5, 2.0]).is_none());
    /// ```
    pub fn new(indices: &'a [u32], values: &'a [f32]) -> Option<Self> {
        (indices.len() == values.len() && valid(indices.iter().copied(), N)).then_some(Self {
            entries: Entries::Wide { indices, values },
        })
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
        Self {
            entries: Entries::Wide { indices, values },
        }
    }

    /// Entries whose values are bytes mapped through `table`: entry `k` is at
    /// position `entries[k].position()` with value `table[entries[k].code()]`.
    /// `None` unless the positions are strictly increasing and below `N`.
    ///
    /// ```
    /// use mimic::{sparse::CodedEntry, SparseVector};
    ///
    /// let table: [f32; 256] = core::array::from_fn(|p| p as f32 / 255.0);
    /// let entries = [CodedEntry::new(2, 255).unwrap()];
    /// let x = SparseVector::<3>::coded(&entries, &table).unwrap();
    /// assert_eq!(x, SparseVector::<3>::new(&[2], &[1.0]).unwrap());
    /// ```
    pub fn coded(entries: &'a [CodedEntry], table: &'a [f32; 256]) -> Option<Self> {
        valid(entries.iter().map(|e| e.position()), N).then_some(Self {
            entries: Entries::Coded {
                entries,
                table,
                table_finite: crate::inputs::finite(table),
            },
        })
    }

    /// [`SparseVector::coded`] without the checks.
    ///
    /// # Safety
    /// As for [`SparseVector::new_unchecked`]: the positions must be strictly
    /// increasing and below `N`.
    #[inline]
    pub unsafe fn coded_unchecked(entries: &'a [CodedEntry], table: &'a [f32; 256]) -> Self {
        debug_assert!(Self::coded(entries, table).is_some());
        Self {
            entries: Entries::Coded {
                entries,
                table,
                table_finite: crate::inputs::finite(table),
            },
        }
    }

    /// [`SparseVector::coded_unchecked`] with the table's finiteness already
    /// known.
    ///
    /// # Safety
    /// As for [`SparseVector::coded_unchecked`], and `table_finite` must be
    /// whether every value of `table` is finite.
    #[inline]
    pub(crate) unsafe fn coded_known(
        entries: &'a [CodedEntry],
        table: &'a [f32; 256],
        table_finite: bool,
    ) -> Self {
        debug_assert!(Self::coded(entries, table).is_some());
        debug_assert_eq!(table_finite, crate::inputs::finite(table));
        Self {
            entries: Entries::Coded {
                entries,
                table,
                table_finite,
            },
        }
    }

    /// The layout, for the kernels.
    #[inline(always)]
    pub(crate) fn entries(&self) -> Entries<'a> {
        self.entries
    }

    /// How many entries are listed.
    #[inline]
    pub fn len(&self) -> usize {
        match self.entries {
            Entries::Wide { indices, .. } => indices.len(),
            Entries::Coded { entries, .. } => entries.len(),
        }
    }

    /// Whether the vector is all zeros.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entry `k`: its position and value.
    fn entry(&self, k: usize) -> Option<(usize, f32)> {
        match self.entries {
            Entries::Wide { indices, values } => Some((*indices.get(k)? as usize, *values.get(k)?)),
            Entries::Coded { entries, table, .. } => {
                let e = entries.get(k)?;
                Some((e.position() as usize, e.value(table)))
            }
        }
    }

    /// The entries, as (position, value), in increasing order of position.
    ///
    /// ```
    /// use mimic::SparseVector;
    ///
    /// let x = SparseVector::<4>::new(&[0, 2], &[1.0, 3.0]).unwrap();
    /// assert_eq!(x.iter().collect::<Vec<_>>(), [(0, 1.0), (2, 3.0)]);
    /// ```
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (usize, f32)> + 'a {
        let this = *self;
        // k < len: `entry` is always `Some`.
        (0..self.len()).map(move |k| this.entry(k).unwrap_or((0, 0.0)))
    }

    /// The dense vector.
    pub fn to_dense(&self) -> [f32; N] {
        let mut dense = [0.0; N];
        for (i, v) in self.iter() {
            dense[i] = v;
        }
        dense
    }
}

impl<const N: usize> PartialEq for SparseVector<'_, N> {
    /// The same entries: positions and values (compared as `f32`s), whatever the
    /// layout.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

#[cfg(test)]
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
        let table = [0.25; 256];
        let coded = |positions: &[usize]| -> Vec<CodedEntry> {
            positions
                .iter()
                .map(|&p| CodedEntry::new(p, 1).unwrap())
                .collect()
        };
        assert!(SparseVector::<4>::coded(&coded(&[0, 3]), &table).is_some());
        assert!(SparseVector::<4>::coded(&coded(&[]), &table).is_some());
        assert!(SparseVector::<4>::coded(&coded(&[0, 4]), &table).is_none());
        assert!(SparseVector::<4>::coded(&coded(&[3, 3]), &table).is_none());
        assert!(SparseVector::<4>::coded(&coded(&[3, 2]), &table).is_none());
        assert!(SparseVector::<0>::coded(&coded(&[0]), &table).is_none());
    }

    #[test]
    fn layouts_with_the_same_entries_are_equal() {
        let table: [f32; 256] = core::array::from_fn(|p| p as f32 * 0.5);
        let entries = [
            CodedEntry::new(1, 2).unwrap(),
            CodedEntry::new(4, 6).unwrap(),
        ];
        let coded = SparseVector::<5>::coded(&entries, &table).unwrap();
        let wide = SparseVector::<5>::new(&[1, 4], &[1.0, 3.0]).unwrap();
        assert_eq!(coded, wide);
        assert_eq!(coded.to_dense(), [0.0, 1.0, 0.0, 0.0, 3.0]);
        assert_eq!(coded.len(), 2);
        assert_ne!(coded, SparseVector::<5>::new(&[1, 4], &[1.0, 3.5]).unwrap());
        assert_ne!(coded, SparseVector::<5>::new(&[1], &[1.0]).unwrap());
    }
}
