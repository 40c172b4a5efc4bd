//! `Wᵀ·g` with AVX2 (see `tiled.rs`): blocks of 8 rows transposed in
//! registers, so that 8 dot products advance together, one lane each.

use core::arch::x86_64::{
    __m256, _mm256_add_ps, _mm256_castpd_ps, _mm256_castps_pd, _mm256_cmpgt_epi32,
    _mm256_maskload_ps, _mm256_mul_ps, _mm256_permute2f128_ps, _mm256_set1_epi32, _mm256_set1_ps,
    _mm256_setr_epi32, _mm256_setzero_ps, _mm256_storeu_ps, _mm256_unpackhi_pd, _mm256_unpackhi_ps,
    _mm256_unpacklo_pd, _mm256_unpacklo_ps,
};

/// Lanes in a register, and so rows in a block and columns in a tile.
const LANES: usize = 8;

/// A register of 8 floats.
type V = __m256;

tiled_row_dots!("avx2");

#[inline]
#[target_feature(enable = "avx2")]
fn zero() -> V {
    _mm256_setzero_ps()
}

/// The first `row.len()` (at most 8) floats of `row`, the other lanes 0.
#[inline]
#[target_feature(enable = "avx2")]
fn load(row: &[f32]) -> V {
    let width = row.len().min(LANES) as i32;
    // All ones in lanes 0..width: width > lane.
    let mask = _mm256_cmpgt_epi32(
        _mm256_set1_epi32(width),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    );
    // SAFETY: AVX2 is enabled; a masked load reads only the lanes whose mask is
    // set, the first `width ≤ row.len()` floats from `row`'s start.
    unsafe { _mm256_maskload_ps(row.as_ptr(), mask) }
}

/// `sums + column · g`, lane by lane (two roundings, as the scalar code).
#[inline]
#[target_feature(enable = "avx2")]
fn mul_add(sums: V, column: V, g: f32) -> V {
    _mm256_add_ps(sums, _mm256_mul_ps(column, _mm256_set1_ps(g)))
}

#[inline]
#[target_feature(enable = "avx2")]
fn store(out: &mut [f32; LANES], v: V) {
    // SAFETY: AVX2 is enabled; `out` is exactly 8 floats.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v) }
}

/// The transpose of an 8×8 tile, row `i` in register `i`: lane `l` of result
/// `o` is lane `o` of `r[l]`. Three rounds of shuffles: pairs of 32-bit values
/// and of 64-bit pairs within each 128-bit half (after which register `4m + c`
/// holds column `4h + c` of rows `4m..4m + 4` in its half `h`), then the halves.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn transpose(r: [V; LANES]) -> [V; LANES] {
    let zero = _mm256_setzero_ps();
    let mut t = [zero; LANES];
    for k in 0..LANES / 2 {
        t[2 * k] = _mm256_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm256_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    let mut u = [zero; LANES];
    for m in 0..LANES / 4 {
        let pd = |j: usize| _mm256_castps_pd(t[4 * m + j]);
        u[4 * m] = _mm256_castpd_ps(_mm256_unpacklo_pd(pd(0), pd(2)));
        u[4 * m + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(pd(0), pd(2)));
        u[4 * m + 2] = _mm256_castpd_ps(_mm256_unpacklo_pd(pd(1), pd(3)));
        u[4 * m + 3] = _mm256_castpd_ps(_mm256_unpackhi_pd(pd(1), pd(3)));
    }
    // Column c: the low halves of u[c] (rows 0..4) and u[4 + c] (rows 4..8);
    // column 4 + c: their high halves.
    let mut columns = [zero; LANES];
    for c in 0..4 {
        columns[c] = _mm256_permute2f128_ps::<LOW_HALVES>(u[c], u[4 + c]);
        columns[4 + c] = _mm256_permute2f128_ps::<HIGH_HALVES>(u[c], u[4 + c]);
    }
    columns
}

/// `_mm256_permute2f128_ps` selector: the low half of each operand.
const LOW_HALVES: i32 = 0x20;
/// The high half of each operand.
const HIGH_HALVES: i32 = 0x31;

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use core::arch::x86_64::_mm256_loadu_ps;

    #[test]
    fn transpose_swaps_rows_and_columns() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        let m: [[f32; LANES]; LANES] =
            core::array::from_fn(|i| core::array::from_fn(|l| (i * 100 + l) as f32));
        let mut t = [[0.0f32; LANES]; LANES];
        // SAFETY: AVX2 was detected above; each pointer is to 8 floats.
        unsafe {
            let rows = core::array::from_fn(|i| _mm256_loadu_ps(m[i].as_ptr()));
            for (out, column) in t.iter_mut().zip(transpose(rows)) {
                _mm256_storeu_ps(out.as_mut_ptr(), column);
            }
        }
        for i in 0..LANES {
            for l in 0..LANES {
                assert_eq!(t[l][i], m[i][l], "row {i} lane {l}");
            }
        }
    }
}
