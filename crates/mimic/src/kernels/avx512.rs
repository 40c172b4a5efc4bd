//! `Wᵀ·g` with AVX-512 (see `tiled.rs`): blocks of 16 rows transposed in
//! registers, so that 16 dot products advance together, one lane each.

use core::arch::x86_64::{
    __m512, _mm512_add_ps, _mm512_castpd_ps, _mm512_castps_pd, _mm512_maskz_loadu_ps,
    _mm512_mul_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_shuffle_f32x4, _mm512_storeu_ps,
    _mm512_unpackhi_pd, _mm512_unpackhi_ps, _mm512_unpacklo_pd, _mm512_unpacklo_ps,
};

/// Lanes in a register, and so rows in a block and columns in a tile.
const LANES: usize = 16;

/// A register of 16 floats.
type V = __m512;

tiled_row_dots!("avx512f");

#[inline]
#[target_feature(enable = "avx512f")]
fn zero() -> V {
    _mm512_setzero_ps()
}

/// The first `row.len()` (at most 16) floats of `row`, the other lanes 0.
#[inline]
#[target_feature(enable = "avx512f")]
fn load(row: &[f32]) -> V {
    let width = row.len().min(LANES);
    // Lanes 0..width: (2^width − 1) in 16 bits (2^16 − 1 by wrapping for 16).
    let mask = ((1u32 << width) as u16).wrapping_sub(1);
    // SAFETY: AVX-512F is enabled; a masked load reads only the lanes set in
    // `mask`, the first `width ≤ row.len()` floats from `row`'s start.
    unsafe { _mm512_maskz_loadu_ps(mask, row.as_ptr()) }
}

/// `sums + column · g`, lane by lane (two roundings, as the scalar code).
#[inline]
#[target_feature(enable = "avx512f")]
fn mul_add(sums: V, column: V, g: f32) -> V {
    _mm512_add_ps(sums, _mm512_mul_ps(column, _mm512_set1_ps(g)))
}

#[inline]
#[target_feature(enable = "avx512f")]
fn store(out: &mut [f32; LANES], v: V) {
    // SAFETY: AVX-512F is enabled; `out` is exactly 16 floats.
    unsafe { _mm512_storeu_ps(out.as_mut_ptr(), v) }
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
