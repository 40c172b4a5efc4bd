//! Many sparse rows (compressed sparse rows), kept in the layout their values allow.

use std::sync::Arc;

use super::coded::CodedEntry;
use super::listing::{push_bytes, push_row};
use super::vector::SparseVector;

/// Many length-`N` rows, each as its nonzero entries (compressed sparse rows): the
/// fast representation of inputs that are mostly zeros, such as images.
///
/// Rows of bytes ([`SparseRows::from_bytes`]) keep each entry as a
/// [`CodedEntry`] — its position and the byte itself in 4 bytes — the byte's
/// value looked up in a 256-entry table of what your function maps bytes to
/// (MNIST's training set: 36 MB), and fewer cache lines to read per row. Rows of anything else
/// ([`SparseRows::from_rows`]) keep a 4-byte position and an `f32`: 8 bytes an
/// entry. Results do not depend on the layout: the values are the same bits.
///
/// ```
/// use mimic::SparseRows;
///
/// let pixels: Vec<[u8; 4]> = vec![[0, 255, 0, 51], [0, 0, 0, 0]];
/// let rows = SparseRows::from_bytes(&pixels, |p| f32::from(p) / 255.0);
/// assert_eq!(rows.get(0).unwrap().iter().collect::<Vec<_>>(), [(1, 1.0), (3, 0.2)]);
/// assert_eq!(rows.get(0).unwrap().to_dense(), [0.0, 1.0, 0.0, 0.2]);
/// assert!(rows.get(1).unwrap().is_empty());
/// assert_eq!(rows.bytes_per_entry(), 4);
/// ```
#[derive(Clone, Debug)]
pub struct SparseRows<const N: usize> {
    /// Row `k` is `offsets[k]..offsets[k + 1]` of the storage's lists.
    offsets: Vec<usize>,
    storage: Storage,
}

/// A row index past the last row, given to [`SparseRows::try_select`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowOutOfRange {
    /// The index given.
    pub row: usize,
    /// How many rows there are.
    pub rows: usize,
}

impl core::fmt::Display for RowOutOfRange {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "row {} is out of range: expected an index in 0..{}",
            self.row, self.rows
        )
    }
}

impl std::error::Error for RowOutOfRange {}

/// The entries of all rows, one after the other.
#[derive(Clone, Debug)]
enum Storage {
    /// Any values.
    Wide { indices: Vec<u32>, values: Vec<f32> },
    /// Bytes, and the table of their values (shared by copies and selections,
    /// which then see at once that their tables are the same).
    Coded {
        entries: Vec<CodedEntry>,
        table: Arc<[f32; 256]>,
        /// Whether every value of the table is finite (checked once).
        finite: bool,
    },
}

/// Whether two tables hold the same bits.
fn same_bits(a: &[f32; 256], b: &[f32; 256]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Whether two shared tables hold the same bits (at once if they are one table).
fn same_table(a: &Arc<[f32; 256]>, b: &Arc<[f32; 256]>) -> bool {
    Arc::ptr_eq(a, b) || same_bits(a, b)
}

impl Storage {
    /// No entries, in the same layout (and with the same table).
    fn empty_like(&self) -> Self {
        match self {
            Storage::Wide { .. } => Storage::Wide {
                indices: Vec::new(),
                values: Vec::new(),
            },
            Storage::Coded { table, finite, .. } => Storage::Coded {
                entries: Vec::new(),
                table: Arc::clone(table),
                finite: *finite,
            },
        }
    }

    fn len(&self) -> usize {
        match self {
            Storage::Wide { indices, .. } => indices.len(),
            Storage::Coded { entries, .. } => entries.len(),
        }
    }

    /// The lists of the wide layout, into which coded entries are first converted.
    fn widen(&mut self) -> (&mut Vec<u32>, &mut Vec<f32>) {
        match self {
            Storage::Wide { indices, values } => (indices, values),
            Storage::Coded { entries, table, .. } => {
                let indices = entries.iter().map(|e| e.position()).collect();
                let values = entries.iter().map(|e| e.value(table)).collect();
                *self = Storage::Wide { indices, values };
                self.widen() // now wide: returns at once
            }
        }
    }

    /// Appends entries `range` of `from`: copied if the layouts are the same,
    /// else converted to the wide layout.
    fn extend_from(&mut self, from: &Storage, range: core::ops::Range<usize>) {
        match (&mut *self, from) {
            (
                Storage::Coded { entries, table, .. },
                Storage::Coded {
                    entries: from_entries,
                    table: from_table,
                    ..
                },
            ) if same_table(table, from_table) => {
                entries.extend_from_slice(from_entries.get(range).unwrap_or_default());
            }
            (
                _,
                Storage::Wide {
                    indices: from_indices,
                    values: from_values,
                },
            ) => {
                // Wide already, or converted: `widen` returns the lists.
                let (indices, values) = self.widen();
                indices.extend_from_slice(from_indices.get(range.clone()).unwrap_or_default());
                values.extend_from_slice(from_values.get(range).unwrap_or_default());
            }
            (
                _,
                Storage::Coded {
                    entries: from_entries,
                    table: from_table,
                    ..
                },
            ) => {
                let (indices, values) = self.widen();
                let from_entries = from_entries.get(range).unwrap_or_default();
                indices.extend(from_entries.iter().map(|e| e.position()));
                values.extend(from_entries.iter().map(|e| e.value(from_table)));
            }
        }
    }
}

impl<const N: usize> Default for SparseRows<N> {
    /// No rows, in the wide layout.
    fn default() -> Self {
        Self {
            offsets: vec![0],
            storage: Storage::Wide {
                indices: Vec::new(),
                values: Vec::new(),
            },
        }
    }
}

impl<const N: usize> PartialEq for SparseRows<N> {
    /// The same rows, entry for entry, whatever their layouts.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<const N: usize> SparseRows<N> {
    /// Whether positions below `N` fit in a [`CodedEntry`].
    const NARROW: bool = N <= CodedEntry::POSITIONS;

    /// The nonzero entries of dense `f32` rows.
    pub fn from_dense(rows: &[[f32; N]]) -> Self {
        Self::from_rows(rows, |x| x)
    }

    /// The entries of `rows` that are not `T::default()` (zero), each mapped to
    /// `f32` by `value`; the result is what `value` gives for every entry, with the
    /// zero entries left out (so `value(T::default())` should be 0). Rows are
    /// listed on two threads for large inputs; the result does not depend on it.
    /// For rows of bytes, [`SparseRows::from_bytes`] keeps them in half the
    /// memory.
    pub fn from_rows<T, V>(rows: &[[T; N]], value: V) -> Self
    where
        T: Copy + Default + PartialEq + Sync,
        V: Fn(T) -> f32 + Sync,
    {
        Self::default().listed_in_two(rows, |listed, rows| listed.extend_from_rows(rows, &value))
    }

    /// The nonzero bytes of `rows` (pixels, say), whose values are `value(byte)`:
    /// kept as [`CodedEntry`]s (position and byte) and a table of `value` at all
    /// 256 bytes, 4 bytes an entry (positions of 2²⁴ and above need the wide
    /// layout, which rows longer than that get). `value(0)` should be 0: zero bytes are left out.
    /// Rows are listed on two threads for large inputs; the result does not
    /// depend on it.
    pub fn from_bytes<V>(rows: &[[u8; N]], value: V) -> Self
    where
        V: Fn(u8) -> f32 + Sync,
    {
        let mut empty = Self::default();
        empty.extend_from_bytes(&[], &value);
        empty.listed_in_two(rows, |listed, rows| listed.extend_from_bytes(rows, &value))
    }

    /// `self` with `rows` appended by `list`, on two threads if there are many
    /// (the second half listed on its own, then appended).
    fn listed_in_two<T: Sync>(
        mut self,
        rows: &[[T; N]],
        list: impl Fn(&mut Self, &[[T; N]]) + Sync,
    ) -> Self {
        if rows.len() < 1024 {
            list(&mut self, rows);
            return self;
        }
        let (first, second) = rows.split_at(rows.len() / 2);
        let empty = Self {
            offsets: vec![0],
            storage: self.storage.empty_like(),
        };
        let listed = std::thread::scope(|scope| {
            let worker = scope.spawn(|| {
                let mut listed = empty;
                list(&mut listed, second);
                listed
            });
            list(&mut self, first);
            worker.join()
        });
        match listed {
            Ok(listed) => self.append(&listed),
            // Only `list` can panic (if `value` does): the same panic, here.
            Err(panic) => std::panic::resume_unwind(panic),
        }
        self
    }

    /// Appends `rows` after the rows already listed, as [`SparseRows::from_rows`]
    /// lists them, in one pass over the entries on the calling thread: for rows
    /// arriving in pieces (a file read a block at a time), listed while the
    /// piece is still in cache and without ever holding them all densely.
    /// Listing a whole input at once, or in any split into pieces, gives the
    /// same rows. Rows kept coded are converted to the wide layout first.
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
        let (indices, values) = self.storage.widen();
        for row in rows {
            push_row(row, indices, values, |i| i as u32, &value);
            self.offsets.push(indices.len());
        }
    }

    /// Appends rows of bytes, as [`SparseRows::from_bytes`] lists them: coded
    /// if the rows so far are coded with the same table (or there are no
    /// entries yet), else in the wide layout.
    ///
    /// ```
    /// use mimic::SparseRows;
    ///
    /// let half = |p: u8| f32::from(p) / 2.0;
    /// let mut rows = SparseRows::<3>::from_bytes(&[], half);
    /// rows.try_reserve(2, 6).unwrap();
    /// rows.extend_from_bytes(&[[0, 7, 0]], half);
    /// rows.extend_from_bytes(&[[1, 0, 2]], half);
    /// assert_eq!(rows, SparseRows::from_bytes(&[[0, 7, 0], [1, 0, 2]], half));
    /// assert_eq!(rows.bytes_per_entry(), 4);
    /// ```
    pub fn extend_from_bytes<V>(&mut self, rows: &[[u8; N]], value: V)
    where
        V: Fn(u8) -> f32,
    {
        let table: [f32; 256] = core::array::from_fn(|p| value(p as u8));
        let mut coded = matches!(&self.storage,
            Storage::Coded { table: kept, .. } if same_bits(kept, &table));
        if !coded && self.storage.len() == 0 && Self::NARROW {
            self.storage = Storage::Coded {
                entries: Vec::new(),
                finite: crate::inputs::finite(&table),
                table: Arc::new(table),
            };
            coded = true;
        }
        match &mut self.storage {
            Storage::Coded { entries, .. } if coded => {
                self.offsets.reserve(rows.len());
                for row in rows {
                    // N ≤ 2²⁴ (NARROW), so positions fit in a CodedEntry.
                    push_bytes(row, entries);
                    self.offsets.push(entries.len());
                }
            }
            _ => self.extend_from_rows(rows, |p| table[usize::from(p)]),
        }
    }

    /// Appends the rows of `other`, after these.
    pub fn append(&mut self, other: &Self) {
        let base = self.storage.len();
        self.storage
            .extend_from(&other.storage, 0..other.storage.len());
        self.offsets
            .extend(other.offsets.iter().skip(1).map(|&end| base + end));
    }

    /// Makes room for `rows` more rows holding `entries` more nonzero entries in
    /// all, in the current layout, or says that the memory cannot be had: so a
    /// caller listing input of untrusted size can fail cleanly rather than abort.
    pub fn try_reserve(
        &mut self,
        rows: usize,
        entries: usize,
    ) -> Result<(), std::collections::TryReserveError> {
        self.offsets.try_reserve(rows)?;
        match &mut self.storage {
            Storage::Wide { indices, values } => {
                indices.try_reserve(entries)?;
                values.try_reserve(entries)
            }
            Storage::Coded { entries: coded, .. } => coded.try_reserve(entries),
        }
    }

    /// How many nonzero entries are listed, in all rows.
    pub fn entries(&self) -> usize {
        self.storage.len()
    }

    /// Bytes of memory an entry takes: 4 coded, 8 wide.
    pub fn bytes_per_entry(&self) -> usize {
        match self.storage {
            Storage::Wide { .. } => 8,
            Storage::Coded { .. } => core::mem::size_of::<CodedEntry>(),
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

    /// The entries `start..end`, as a row.
    #[inline(always)]
    fn view(&self, start: usize, end: usize) -> SparseVector<'_, N> {
        match &self.storage {
            Storage::Wide { indices, values } => {
                let indices = indices.get(start..end).unwrap_or_default();
                let values = values.get(start..end).unwrap_or_default();
                // SAFETY: `start..end` is a row's range (or, never, empty): its
                // entries were listed by `push_row` or copied from rows that were,
                // in increasing order of position, each below N, one value per
                // position (the lists are private and only ever appended to).
                unsafe { SparseVector::new_unchecked(indices, values) }
            }
            Storage::Coded {
                entries,
                table,
                finite,
            } => {
                let entries = entries.get(start..end).unwrap_or_default();
                // SAFETY: as above (listed by `push_bytes`, or copied), and
                // `finite` was worked out from this table when it was made.
                unsafe { SparseVector::coded_known(entries, table, *finite) }
            }
        }
    }

    /// Row `k`, if it exists.
    #[inline]
    pub fn get(&self, k: usize) -> Option<SparseVector<'_, N>> {
        let (&start, &end) = (self.offsets.get(k)?, self.offsets.get(k + 1)?);
        Some(self.view(start, end))
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
        self.offsets.windows(2).map(|w| self.view(w[0], w[1]))
    }

    /// The rows `k` for `k` in `keep`, in that order (e.g. a subset or a split),
    /// in the same layout; an index that is not a row is an error naming it
    /// (it used to be skipped silently, leaving the rows and their targets out
    /// of step).
    ///
    /// ```
    /// use mimic::SparseRows;
    ///
    /// let rows = SparseRows::from_dense(&[[1.0, 0.0], [0.0, 2.0]]);
    /// assert_eq!(rows.try_select([1, 1, 0])?.len(), 3);
    /// let error = rows.try_select([0, 2]).unwrap_err();
    /// assert_eq!((error.row, error.rows), (2, 2));
    /// # Ok::<(), mimic::sparse::RowOutOfRange>(())
    /// ```
    pub fn try_select(&self, keep: impl IntoIterator<Item = usize>) -> Result<Self, RowOutOfRange> {
        let mut selected = Self {
            offsets: vec![0],
            storage: self.storage.empty_like(),
        };
        for k in keep {
            let (Some(&start), Some(&end)) = (self.offsets.get(k), self.offsets.get(k + 1)) else {
                return Err(RowOutOfRange {
                    row: k,
                    rows: self.len(),
                });
            };
            selected.storage.extend_from(&self.storage, start..end);
            selected.offsets.push(selected.storage.len());
        }
        Ok(selected)
    }

    /// [`SparseRows::try_select`] for indices known to be rows.
    ///
    /// # Panics
    /// If an index is not a row (as indexing a slice out of bounds does): use
    /// [`SparseRows::try_select`] for indices that may not be.
    pub fn select(&self, keep: impl IntoIterator<Item = usize>) -> Self {
        self.try_select(keep)
            .unwrap_or_else(|error| panic!("SparseRows::select: {error}"))
    }

    /// The fraction of entries that are nonzero.
    pub fn density(&self) -> f64 {
        self.entries() as f64 / (self.len().max(1) * N) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let coded = SparseRows::from_bytes(&rows, value);
        assert_eq!(coded, whole);
        assert_eq!((coded.bytes_per_entry(), whole.bytes_per_entry()), (4, 8));
        // Pieces on one thread (< 1024 rows) and on two, empty ones included.
        for cuts in [
            &[0, 1, 500, 500, 3000][..],
            &[0, 1500, 2999, 3000],
            &[0, 3000],
        ] {
            let mut pieces = SparseRows::default();
            let mut coded_pieces = SparseRows::default();
            for w in cuts.windows(2) {
                pieces.extend_from_rows(&rows[w[0]..w[1]], value);
                coded_pieces.extend_from_bytes(&rows[w[0]..w[1]], value);
            }
            assert_eq!(pieces, whole, "{cuts:?}");
            assert_eq!(coded_pieces, whole, "{cuts:?}");
            assert_eq!(coded_pieces.bytes_per_entry(), 4);
        }
        assert_eq!(whole.len(), 3000);
        for (k, row) in rows.iter().enumerate() {
            assert_eq!(whole.get(k).unwrap().to_dense(), row.map(value));
            assert_eq!(coded.get(k).unwrap().to_dense(), row.map(value));
        }
    }

    #[test]
    fn layouts_mix_by_converting_to_wide() {
        let bytes = [[0u8, 3, 0, 9], [5, 0, 0, 0]];
        let half = |p: u8| f32::from(p) / 2.0;
        let mut rows = SparseRows::from_bytes(&bytes, half);
        // Another table: the rows so far are converted, values kept.
        rows.extend_from_bytes(&bytes[..1], f32::from);
        assert_eq!(rows.bytes_per_entry(), 8);
        assert_eq!(rows.get(0).unwrap().to_dense(), [0.0, 1.5, 0.0, 4.5]);
        assert_eq!(rows.get(2).unwrap().to_dense(), [0.0, 3.0, 0.0, 9.0]);
        // Coded rows appended to wide ones, and wide ones to coded.
        let mut wide = SparseRows::from_dense(&[[1.0, 0.0, 0.0, 0.0]]);
        wide.append(&SparseRows::from_bytes(&bytes, half));
        assert_eq!(wide.len(), 3);
        assert_eq!(wide.get(2).unwrap().to_dense(), [2.5, 0.0, 0.0, 0.0]);
        let mut coded = SparseRows::from_bytes(&bytes, half);
        coded.append(&SparseRows::from_dense(&[[0.0, 0.0, 7.0, 0.0]]));
        assert_eq!(coded.bytes_per_entry(), 8);
        assert_eq!(coded.get(2).unwrap().to_dense(), [0.0, 0.0, 7.0, 0.0]);
        // Rows of up to 2²⁴ can be coded, longer ones cannot.
        let long = SparseRows::<{ 1 << 24 }>::from_bytes(&[], half);
        assert_eq!(long.bytes_per_entry(), 4);
        let longer = SparseRows::<{ (1 << 24) + 1 }>::from_bytes(&[], half);
        assert_eq!(longer.bytes_per_entry(), 8);
    }

    #[test]
    fn bytes_are_mapped_and_zeros_skipped() {
        let mut a = [0u8; 784];
        a[3] = 255;
        a[700] = 51;
        let sparse = SparseRows::from_bytes(&[a, [0; 784]], |p| f32::from(p) / 255.0);
        let row: Vec<_> = sparse.get(0).unwrap().iter().collect();
        assert_eq!(row, [(3, 1.0), (700, 0.2)]);
        assert!(sparse.get(1).unwrap().is_empty());
        let picked = sparse.select([1, 0]);
        assert_eq!(picked.len(), 2);
        assert!(picked.get(0).unwrap().is_empty());
        assert_eq!(picked.get(1), sparse.get(0));
        assert_eq!(picked.bytes_per_entry(), 4);
    }

    /// An index that is not a row is an error naming it, not skipped.
    #[test]
    fn selecting_a_missing_row_is_an_error() {
        let sparse = SparseRows::from_bytes(&[[0u8, 7], [9, 0]], f32::from);
        assert_eq!(
            sparse.try_select([1, 0, 5]).unwrap_err(),
            RowOutOfRange { row: 5, rows: 2 }
        );
        assert_eq!(
            RowOutOfRange { row: 5, rows: 2 }.to_string(),
            "row 5 is out of range: expected an index in 0..2"
        );
        let outcome = std::panic::catch_unwind(|| sparse.select([2]));
        assert!(outcome.is_err(), "select panics as slice indexing does");
        assert_eq!(sparse.try_select([1, 1]).unwrap().len(), 2);
    }
}
