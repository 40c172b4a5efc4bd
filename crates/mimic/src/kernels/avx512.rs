//! `Wᵀ·g` with AVX-512: blocks of 16 rows transposed in registers, so that 16
//! dot products advance together, one lane each.
//!
//! The plain loop over a block's columns (`rows[i][o]` for 16 values of `i`)
//! is what a compiler vectorises into one gather per column, and gathers are
//! slower than the scalar sums on some CPUs (AMD's among them); the shuffles of
//! a 16×16 transpose are cheap everywhere. Only values move: every output is
//! `((0 + r₀g₀) + r₁g₁) + …` in order of `o`, as in [`super::row_dots_plain`].

use core::arch::x86_64::{
    __m512, _mm512_add_ps, _mm512_castpd_ps, _mm512_castps_pd, _mm512_maskz_loadu_ps,
    _mm512_mul_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_shuffle_f32x4, _mm512_storeu_ps,
    _mm512_unpackhi_pd, _mm512_unpackhi_ps, _mm512_unpacklo_pd, _mm512_unpacklo_ps,
};

/// Lanes in a register, and so rows in a block and columns in a tile.
const LANES: usize = 16;

/// [`super::row_dots`], 16 rows at a time; rows left over (fewer than 16) are
/// summed one by one.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn row_dots<const IN: usize, const OUT: usize>(
    rows: &[[f32; OUT]; IN],
    g: &[f32; OUT],
    out: &mut [f32; IN],
) {
    let blocks = rows.chunks_exact(LANES).zip(out.chunks_exact_mut(LANES));
    for (block, out) in blocks {
        let mut sums = _mm512_setzero_ps();
        for start in (0..OUT).step_by(LANES) {
            let width = LANES.min(OUT - start);
            // The lanes `start..start + width` of every row in the block; the
            // lanes past `width` read as 0 and are never used.
            let mask = (1u32 << width) as u16;
            let mask = mask.wrapping_sub(1);
            let tile: [__m512; LANES] = core::array::from_fn(|i| {
                let row = &block[i][start..start + width];
                // SAFETY: AVX-512F is enabled (this function's contract); a masked
                // load reads only the lanes set in `mask`, the first `width`
                // floats from `row`'s start, and `row` has exactly `width`.
                unsafe { _mm512_maskz_loadu_ps(mask, row.as_ptr()) }
            });
            let columns = transpose(tile);
            for (&column, &g) in columns.iter().zip(&g[start..start + width]) {
                sums = _mm512_add_ps(sums, _mm512_mul_ps(column, _mm512_set1_ps(g)));
            }
        }
        // SAFETY: AVX-512F is enabled; `out` is a chunk of exactly 16 floats.
        unsafe { _mm512_storeu_ps(out.as_mut_ptr(), sums) };
    }
    let rest = rows.chunks_exact(LANES).remainder();
    let out = out.chunks_exact_mut(LANES).into_remainder();
    for (o, row) in out.iter_mut().zip(rest) {
        *o = super::row_dot(row, g);
    }
}

/// The transpose of a 16×16 tile, row `i` in register `i`: lane `l` of result
/// `o` is lane `o` of `r[l]`.
///
/// Four rounds of shuffles: pairs of 32-bit values, then pairs of 64-bit pairs,
/// then 128-bit quarters twice. After the second round, register `4m + c` holds
/// column `4q + c` of rows `4m..4m + 4` in its quarter `q`; the last two rounds
/// gather the four quarters of each column into one register.
#[inline]
#[target_feature(enable = "avx512f")]
fn transpose(r: [__m512; LANES]) -> [__m512; LANES] {
    // (Straight-line loops over fixed pairs, so that every register stays a
    // register: index arithmetic chosen by branches would be kept as a loop
    // through memory.)
    let zero = _mm512_setzero_ps();
    // Round 1: quarter q of t[2k] = r[2k][4q], r[2k+1][4q], r[2k][4q+1], r[2k+1][4q+1];
    // of t[2k+1] the same for 4q+2 and 4q+3.
    let mut t = [zero; LANES];
    for k in 0..LANES / 2 {
        t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    // Round 2: quarter q of u[4m + c] = column 4q + c of rows 4m..4m+4.
    let mut u = [zero; LANES];
    for m in 0..LANES / 4 {
        let pd = |j: usize| _mm512_castps_pd(t[4 * m + j]);
        u[4 * m] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(0), pd(2)));
        u[4 * m + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(0), pd(2)));
        u[4 * m + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(1), pd(3)));
        u[4 * m + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(1), pd(3)));
    }
    // Round 3: row groups (m, m+1) for m = 0, 2 pair up: v[4m + c] takes their
    // even quarters (columns c and 8+c), v[4m + 4 + c] their odd ones (4+c, 12+c).
    let mut v = [zero; LANES];
    for m in [0, 2] {
        for c in 0..4 {
            let (a, b) = (u[4 * m + c], u[4 * m + 4 + c]);
            v[4 * m + c] = _mm512_shuffle_f32x4::<EVEN_QUARTERS>(a, b);
            v[4 * m + 4 + c] = _mm512_shuffle_f32x4::<ODD_QUARTERS>(a, b);
        }
    }
    // Round 4: v[4s + c] (rows 0..8) and v[8 + 4s + c] (rows 8..16) hold
    // columns 4s + c (even quarters) and 4s + c + 8 (odd ones).
    let mut columns = [zero; LANES];
    for s in 0..2 {
        for c in 0..4 {
            let (a, b) = (v[4 * s + c], v[8 + 4 * s + c]);
            columns[4 * s + c] = _mm512_shuffle_f32x4::<EVEN_QUARTERS>(a, b);
            columns[4 * s + c + 8] = _mm512_shuffle_f32x4::<ODD_QUARTERS>(a, b);
        }
    }
    columns
}

/// `_mm512_shuffle_f32x4` selector: quarters 0 and 2 of the first operand, then
/// quarters 0 and 2 of the second.
const EVEN_QUARTERS: i32 = 0b10_00_10_00;
/// Quarters 1 and 3 of each operand.
const ODD_QUARTERS: i32 = 0b11_01_11_01;

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use core::arch::x86_64::_mm512_loadu_ps;

    #[test]
    fn transpose_swaps_rows_and_columns() {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            return;
        }
        let m: [[f32; LANES]; LANES] =
            core::array::from_fn(|i| core::array::from_fn(|l| (i * 100 + l) as f32));
        let mut t = [[0.0f32; LANES]; LANES];
        // SAFETY: AVX-512F was detected above; each pointer is to 16 floats.
        unsafe {
            let rows = core::array::from_fn(|i| _mm512_loadu_ps(m[i].as_ptr()));
            for (out, column) in t.iter_mut().zip(transpose(rows)) {
                _mm512_storeu_ps(out.as_mut_ptr(), column);
            }
        }
        for i in 0..LANES {
            for l in 0..LANES {
                assert_eq!(t[l][i], m[i][l], "row {i} lane {l}");
            }
        }
    }
}
