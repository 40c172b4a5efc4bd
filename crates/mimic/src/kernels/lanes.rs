//! Eight samples side by side, one per vector lane: the arithmetic of kernels
//! that compute a group of samples at once, written once and run either with
//! AVX2 registers or with plain arrays.
//!
//! A kernel is a [`LaneWork`], generic over the [`Lanes`] it computes with;
//! [`run`] picks [`Avx`] where the CPU has AVX2 (or AVX-512, which includes
//! it) and [`Plain`] elsewhere, and compiles the kernel once for each. The
//! kernel says which dimension is in the lanes: left to itself, a compiler
//! may vectorise a group's loops across another dimension (the columns of a
//! filter, say) and spend its time shuffling. Every operation is a separate
//! multiply and add, each rounded, in both — the same bits.

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::{
    __m256, _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_set1_ps, _mm256_setzero_ps,
    _mm256_storeu_ps,
};

use super::Isa;

/// How many samples a lane vector holds.
pub(crate) const LANES: usize = 8;

/// A row of [`LANES`] values, one per sample.
pub(crate) type Lane = [f32; LANES];

/// Arithmetic on [`LANES`] samples at once. A value of a type implementing it
/// is a proof that the CPU can run its instructions.
pub(crate) trait Lanes: Copy {
    /// A vector of [`LANES`] floats.
    type V: Copy;
    /// All lanes 0.
    fn zero(self) -> Self::V;
    /// `x` in every lane.
    fn splat(self, x: f32) -> Self::V;
    /// Loads a row.
    fn load(self, row: &Lane) -> Self::V;
    /// Stores into a row.
    fn store(self, row: &mut Lane, v: Self::V);
    /// `a + b`, lane by lane.
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a · b`, lane by lane.
    fn mul(self, a: Self::V, b: Self::V) -> Self::V;
    /// `sum + a · b`, lane by lane, rounded twice (never fused).
    #[inline(always)]
    fn mul_add(self, sum: Self::V, a: Self::V, b: Self::V) -> Self::V {
        self.add(sum, self.mul(a, b))
    }
    /// The transpose of `LANES` rows: lane `l` of result `o` is lane `o` of
    /// `rows[l]` (eight samples' rows of eight values become eight lane
    /// vectors). Moves values only.
    fn transpose(self, rows: [Self::V; LANES]) -> [Self::V; LANES];
}

/// Plain arrays, for any CPU.
#[derive(Clone, Copy)]
pub(crate) struct Plain;

impl Lanes for Plain {
    type V = Lane;

    #[inline(always)]
    fn zero(self) -> Lane {
        [0.0; LANES]
    }

    #[inline(always)]
    fn splat(self, x: f32) -> Lane {
        [x; LANES]
    }

    #[inline(always)]
    fn load(self, row: &Lane) -> Lane {
        *row
    }

    #[inline(always)]
    fn store(self, row: &mut Lane, v: Lane) {
        *row = v;
    }

    #[inline(always)]
    fn add(self, a: Lane, b: Lane) -> Lane {
        core::array::from_fn(|l| a[l] + b[l])
    }

    #[inline(always)]
    fn mul(self, a: Lane, b: Lane) -> Lane {
        core::array::from_fn(|l| a[l] * b[l])
    }

    #[inline(always)]
    fn transpose(self, rows: [Lane; LANES]) -> [Lane; LANES] {
        core::array::from_fn(|o| core::array::from_fn(|l| rows[l][o]))
    }
}

/// AVX2's 256-bit registers. Made only by [`run`], after checking the CPU.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Avx(());

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx {
    type V = __m256;

    #[inline(always)]
    fn zero(self) -> __m256 {
        // Every method here rests on one fact: an `Avx` exists only inside
        // `run`'s AVX2 branch, taken when `Isa::current()` — never more than
        // the CPU has — is AVX2 or AVX-512 (whose CPUs all have AVX2).
        // SAFETY: as just said, the CPU has AVX2.
        unsafe { _mm256_setzero_ps() }
    }

    #[inline(always)]
    fn splat(self, x: f32) -> __m256 {
        // SAFETY: the CPU has AVX2 (see `zero`).
        unsafe { _mm256_set1_ps(x) }
    }

    #[inline(always)]
    fn load(self, row: &Lane) -> __m256 {
        // SAFETY: the CPU has AVX2 (see `zero`); `row` is exactly 8 floats.
        unsafe { _mm256_loadu_ps(row.as_ptr()) }
    }

    #[inline(always)]
    fn store(self, row: &mut Lane, v: __m256) {
        // SAFETY: the CPU has AVX2 (see `zero`); `row` is exactly 8 floats.
        unsafe { _mm256_storeu_ps(row.as_mut_ptr(), v) }
    }

    #[inline(always)]
    fn add(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: the CPU has AVX2 (see `zero`).
        unsafe { _mm256_add_ps(a, b) }
    }

    #[inline(always)]
    fn mul(self, a: __m256, b: __m256) -> __m256 {
        // SAFETY: the CPU has AVX2 (see `zero`).
        unsafe { _mm256_mul_ps(a, b) }
    }

    #[inline(always)]
    fn transpose(self, rows: [__m256; LANES]) -> [__m256; LANES] {
        // SAFETY: the CPU has AVX2 (see `zero`).
        unsafe { super::avx2::transpose(rows) }
    }
}

/// A kernel over lanes, compiled once per kind of [`Lanes`]. `run` must be
/// `#[inline(always)]`, and so must what it calls.
pub(crate) trait LaneWork {
    /// What the kernel returns.
    type Output;
    /// Runs the kernel with `lanes`' arithmetic.
    fn run<L: Lanes>(self, lanes: L) -> Self::Output;
}

/// Runs `work` with AVX2 registers if the CPU has them, else with plain
/// arrays; each copy is never inlined into its caller (one per kernel type).
#[inline(always)]
pub(crate) fn run<W: LaneWork>(work: W) -> W::Output {
    #[inline(never)]
    fn plain<W: LaneWork>(work: W) -> W::Output {
        work.run(Plain)
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(never)]
    #[target_feature(enable = "avx2")]
    fn avx<W: LaneWork>(work: W) -> W::Output {
        work.run(Avx(()))
    }

    match Isa::current() {
        // SAFETY: `Isa::current` never returns more than the CPU supports,
        // and every CPU with AVX-512 has AVX2.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 => unsafe { avx(work) },
        _ => plain(work),
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    struct Sum<'a>(&'a [Lane], &'a [Lane]);

    impl LaneWork for Sum<'_> {
        type Output = Lane;
        #[inline(always)]
        fn run<L: Lanes>(self, l: L) -> Lane {
            let mut sum = l.splat(0.5);
            for (a, b) in self.0.iter().zip(self.1) {
                sum = l.mul_add(sum, l.load(a), l.load(b));
            }
            let mut out = [0.0; LANES];
            l.store(&mut out, sum);
            out
        }
    }

    struct Transpose([Lane; LANES]);

    impl LaneWork for Transpose {
        type Output = [Lane; LANES];
        #[inline(always)]
        fn run<L: Lanes>(self, l: L) -> [Lane; LANES] {
            let columns = l.transpose(self.0.each_ref().map(|row| l.load(row)));
            let mut out = [[0.0; LANES]; LANES];
            for (out, column) in out.iter_mut().zip(columns) {
                l.store(out, column);
            }
            out
        }
    }

    /// Both kinds of lanes swap rows and columns.
    #[test]
    fn transpose_swaps_rows_and_columns() {
        let rows: [Lane; LANES] =
            core::array::from_fn(|i| core::array::from_fn(|l| (i * 100 + l) as f32));
        for t in [run(Transpose(rows)), Transpose(rows).run(Plain)] {
            for i in 0..LANES {
                for l in 0..LANES {
                    assert_eq!(t[l][i], rows[i][l], "row {i} lane {l}");
                }
            }
        }
    }

    /// Every kind of lanes gives the bits of the scalar sums.
    #[test]
    fn lanes_are_the_scalar_sums() {
        let a: Vec<Lane> = (0..37)
            .map(|i| core::array::from_fn(|l| ((i * 8 + l) % 13) as f32 / 7.0 - 0.9))
            .collect();
        let b: Vec<Lane> = (0..37)
            .map(|i| core::array::from_fn(|l| ((i * 5 + l * 3) % 17) as f32 / 3.0 - 2.1))
            .collect();
        let scalar: Lane = core::array::from_fn(|l| {
            a.iter()
                .zip(&b)
                .fold(0.5f32, |sum, (a, b)| sum + a[l] * b[l])
        });
        assert_eq!(run(Sum(&a, &b)), scalar);
        assert_eq!(Sum(&a, &b).run(Plain), scalar);
    }
}
