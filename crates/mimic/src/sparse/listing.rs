//! Listing a dense row's nonzero entries, without a branch per entry.

use core::mem::MaybeUninit;

use super::coded::CodedEntry;

/// Appends the nonzero entries of `row` to `indices` and `values` — entry `i` as
/// `position(i)` and `value(x)` — in increasing order of position.
///
/// Within a block of 16, every entry is written at the next free place, which
/// only advances past nonzero ones, so the zeros are overwritten by what
/// follows; whole blocks of zeros (an image's margins) are skipped. So the loop
/// has no branch per entry for the CPU to mispredict on noisy data.
#[inline(always)]
pub(super) fn push_row<const N: usize, T, I, V>(
    row: &[T; N],
    indices: &mut Vec<I>,
    values: &mut Vec<V>,
    position: impl Fn(usize) -> I,
    value: impl Fn(T) -> V,
) where
    T: Copy + Default + PartialEq,
{
    let zero = T::default();
    // Room for the whole row: a block's 16 places start at or before its first
    // entry's position, so they fit in the row's N.
    let start = indices.len();
    let (Some(to_indices), Some(to_values)) = (room::<N, _>(indices), room::<N, _>(values)) else {
        return; // `room` reserves it: never taken.
    };
    let mut k = 0;
    let (blocks, rest) = row.as_chunks::<16>();
    for (block, entries) in blocks.iter().enumerate() {
        if entries.iter().all(|&x| x == zero) {
            continue;
        }
        let base = block * 16;
        // k counts the row's nonzeros before this block: k ≤ base.
        let (Some(block_indices), Some(block_values)) =
            (to_indices.get_mut(k..k + 16), to_values.get_mut(k..k + 16))
        else {
            break; // k + 16 ≤ base + 16 ≤ N: never taken.
        };
        let mut found = 0;
        for (j, &x) in entries.iter().enumerate() {
            // found ≤ j < 16.
            block_indices[found & 15].write(position(base + j));
            block_values[found & 15].write(value(x));
            found += usize::from(x != zero);
        }
        k += found;
    }
    let base = blocks.len() * 16;
    for (j, &x) in rest.iter().enumerate() {
        if x != zero {
            // k ≤ base + j < N.
            to_indices[k].write(position(base + j));
            to_values[k].write(value(x));
            k += 1;
        }
    }
    // SAFETY: the first k places past the lists' ends were written: each place
    // p < k was written when the count of nonzeros was p, and the count only grew
    // past p after writing it. They are within the capacity (`to_indices` and
    // `to_values` are slices of it), and they hold the row's nonzero entries.
    unsafe {
        indices.set_len(start + k);
        values.set_len(start + k);
    }
}

/// Places past a list's end, not yet written.
type Places<'a, T> = &'a mut [MaybeUninit<T>];

/// The next `N` places past the end of `list` (reserved first), to be written
/// and then taken in with `set_len`; `None` only if `reserve` did not make the
/// room, which it always does (it aborts or panics otherwise).
#[inline(always)]
fn room<const N: usize, T>(list: &mut Vec<T>) -> Option<Places<'_, T>> {
    list.reserve(N);
    list.spare_capacity_mut().get_mut(..N)
}

/// Appends the nonzero bytes of `row` to `entries`, with their positions, in
/// increasing order of position. `N` must be at most [`CodedEntry::POSITIONS`],
/// so that positions fit.
///
/// Faster than [`push_row`] for bytes: a block of 64 is turned into a mask of its
/// nonzero bytes (a few vector compares), and the loop then visits only the set
/// bits, so a row costs about one step per nonzero byte rather than one per byte
/// of every block that has any.
#[inline(always)]
pub(super) fn push_bytes<const N: usize>(row: &[u8; N], entries: &mut Vec<CodedEntry>) {
    let start = entries.len();
    let Some(to_entries) = room::<N, _>(entries) else {
        return; // `room` reserves it: never taken.
    };
    let mut k = 0;
    let (blocks, rest) = row.as_chunks::<64>();
    for (block, bytes) in blocks.iter().enumerate() {
        let mut mask = nonzero_mask(bytes);
        let base = block * 64;
        while mask != 0 {
            let j = mask.trailing_zeros() as usize & 63;
            // k counts the nonzero bytes before this one: k < N.
            if let Some(entry) = to_entries.get_mut(k) {
                entry.write(CodedEntry::truncated(base + j, bytes[j]));
            }
            k += 1;
            mask &= mask - 1;
        }
    }
    let base = blocks.len() * 64;
    for (j, &x) in rest.iter().enumerate() {
        if x != 0 {
            if let Some(entry) = to_entries.get_mut(k) {
                entry.write(CodedEntry::truncated(base + j, x));
            }
            k += 1;
        }
    }
    // k ≤ N always (one count per nonzero byte of the row); `min` for the proof.
    let k = k.min(N);
    // SAFETY: the first k places past the list's end were written, one per
    // nonzero byte in order (each `get_mut(k)` succeeded, as k < N), within the
    // capacity (`to_entries` is a slice of it).
    unsafe { entries.set_len(start + k) };
}

/// Bit `j` set if `bytes[j]` is not zero.
#[inline(always)]
fn nonzero_mask(bytes: &[u8; 64]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_setzero_si128,
        };
        let (quarters, _) = bytes.as_chunks::<16>();
        let mut zeros = 0u64;
        for (q, quarter) in quarters.iter().enumerate() {
            // SAFETY: SSE2 is part of the x86_64 baseline, so these instructions
            // exist on every CPU this code runs on; the load reads the 16 bytes of
            // `quarter`, which are in bounds (`loadu`: no alignment needed).
            let found = unsafe {
                let v = _mm_loadu_si128(quarter.as_ptr().cast::<__m128i>());
                _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128()))
            };
            zeros |= u64::from(found as u16) << (16 * q);
        }
        !zeros
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        bytes
            .iter()
            .enumerate()
            .fold(0u64, |mask, (j, &x)| mask | (u64::from(x != 0) << j))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_the_nonzeros_of_every_block_and_the_rest() {
        // 37 entries: two blocks of 16 (the first all zeros) and 5 more.
        let mut row = [0u8; 37];
        for i in [16, 17, 31, 32, 36] {
            row[i] = i as u8;
        }
        let (mut indices, mut values) = (vec![7u16], vec![7u8]);
        push_row(&row, &mut indices, &mut values, |i| i as u16, |x| x);
        assert_eq!(indices, [7, 16, 17, 31, 32, 36]);
        assert_eq!(values, [7, 16, 17, 31, 32, 36]);
        push_row(&[0u8; 37], &mut indices, &mut values, |i| i as u16, |x| x);
        assert_eq!(indices.len(), 6);
    }

    #[test]
    fn bytes_are_listed_as_rows_are() {
        // 150 bytes: two blocks of 64 and 22 more, with zeros, runs and edges.
        for seed in 0..50u32 {
            let row: [u8; 150] = core::array::from_fn(|i| {
                let h = (i as u32 ^ seed).wrapping_mul(2_654_435_761) >> 24;
                if h.is_multiple_of(3) { h as u8 } else { 0 }
            });
            let (mut indices, mut values) = (Vec::new(), Vec::new());
            push_row(&row, &mut indices, &mut values, |i| i as u16, |x| x);
            let first = CodedEntry::new(1, 1).unwrap();
            let mut entries = vec![first];
            push_bytes(&row, &mut entries);
            assert_eq!(entries[0], first);
            let positions: Vec<u16> = entries[1..].iter().map(|e| e.position() as u16).collect();
            let codes: Vec<u8> = entries[1..].iter().map(|e| e.code()).collect();
            assert_eq!(positions, indices, "{seed}");
            assert_eq!(codes, values, "{seed}");
        }
    }
}
