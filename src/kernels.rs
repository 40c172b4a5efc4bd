//! The inner loops of every dense layer, compiled three times (portable, AVX2,
//! AVX-512) and chosen at run time from what the CPU has, so a plain
//! `cargo build --release` gets wide vectors without any `RUSTFLAGS`.
//!
//! **All three give bit-identical results.** Every kernel fixes its order of
//! floating-point operations in the source: each output is a separate lane, sums
//! run in a fixed order over four rotating partial sums, and no multiply-add is
//! fused (Rust never contracts `a * b + c` on its own). Vectorising across
//! outputs changes none of the roundings, so the ISA only changes the speed —
//! `tests` below and `tests/isa.rs` check it bit for bit.

use std::sync::atomic::{AtomicU8, Ordering};

/// An instruction set the kernels are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Isa {
    /// Whatever the build targets (SSE2 on a default x86-64 build).
    Portable = 1,
    /// 256-bit AVX2.
    Avx2 = 2,
    /// 512-bit AVX-512F.
    Avx512 = 3,
}

static CHOSEN: AtomicU8 = AtomicU8::new(0);

impl Isa {
    /// The widest instruction set this CPU supports, or the one forced by
    /// [`Isa::force`] or the `MIMIC_ISA` environment variable (`portable`, `avx2`,
    /// `avx512`), never more than the CPU has.
    #[inline]
    pub fn current() -> Isa {
        match CHOSEN.load(Ordering::Relaxed) {
            1 => Isa::Portable,
            2 => Isa::Avx2,
            3 => Isa::Avx512,
            _ => {
                let wanted = std::env::var("MIMIC_ISA").ok().and_then(|s| Isa::parse(&s));
                let isa = wanted.map_or(Isa::detect(), |w| w.min(Isa::detect()));
                CHOSEN.store(isa as u8, Ordering::Relaxed);
                isa
            }
        }
    }

    /// Uses `isa` (or the best the CPU has, if less) from now on, in every thread.
    /// For benchmarks and tests: results do not depend on it.
    pub fn force(isa: Isa) {
        CHOSEN.store(isa.min(Isa::detect()) as u8, Ordering::Relaxed);
    }

    /// The widest instruction set the CPU has.
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Isa::Avx2;
            }
        }
        Isa::Portable
    }

    /// `portable`, `avx2` or `avx512`.
    pub fn parse(name: &str) -> Option<Isa> {
        match name.trim().to_ascii_lowercase().as_str() {
            "portable" => Some(Isa::Portable),
            "avx2" => Some(Isa::Avx2),
            "avx512" => Some(Isa::Avx512),
            _ => None,
        }
    }

    fn min(self, other: Isa) -> Isa {
        if (self as u8) <= (other as u8) {
            self
        } else {
            other
        }
    }
}

/// Defines `pub fn $name` that dispatches to copies of `$body` compiled for each ISA.
macro_rules! kernel {
    (
        $(#[$doc:meta])*
        pub fn $name:ident<const $N:ident: usize>($($arg:ident: $ty:ty),*) $(-> $ret:ty)? $body:block
    ) => {
        $(#[$doc])*
        #[inline]
        pub fn $name<const $N: usize>($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn portable<const $N: usize>($($arg: $ty),*) $(-> $ret)? $body

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
            fn avx2<const $N: usize>($($arg: $ty),*) $(-> $ret)? { portable::<$N>($($arg),*) }

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f")]
            fn avx512<const $N: usize>($($arg: $ty),*) $(-> $ret)? { portable::<$N>($($arg),*) }

            match Isa::current() {
                // SAFETY: `Isa::current` never returns more than the CPU supports.
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => unsafe { avx512::<$N>($($arg),*) },
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => unsafe { avx2::<$N>($($arg),*) },
                _ => portable::<$N>($($arg),*),
            }
        }
    };
}

kernel! {
    /// `Σₖ values[k] · rows[indices[k]]`: the weighted sum of the rows named by
    /// `indices`, accumulated in four rotating partial sums (entry `k` goes to sum
    /// `k mod 4`) that are added as `(s0 + s1) + (s2 + s3)`. Four independent chains
    /// hide the adder's latency; the order is fixed, whatever the ISA.
    /// Indices must be in range (the caller's types guarantee it).
    pub fn gather_sum<const OUT: usize>(rows: &[[f32; OUT]], indices: &[u32], values: &[f32]) -> [f32; OUT] {
        let mut sums = [[0.0f32; OUT]; 4];
        let chunks = indices.chunks_exact(4).zip(values.chunks_exact(4));
        let tail = indices.chunks_exact(4).remainder().iter().zip(values.chunks_exact(4).remainder());
        for (idx, val) in chunks {
            for lane in 0..4 {
                let row = &rows[idx[lane] as usize];
                for (s, &w) in sums[lane].iter_mut().zip(row) {
                    *s += val[lane] * w;
                }
            }
        }
        for (lane, (&i, &v)) in tail.enumerate() {
            for (s, &w) in sums[lane].iter_mut().zip(&rows[i as usize]) {
                *s += v * w;
            }
        }
        let mut total = [0.0; OUT];
        for (o, t) in total.iter_mut().enumerate() {
            *t = (sums[0][o] + sums[1][o]) + (sums[2][o] + sums[3][o]);
        }
        total
    }
}

kernel! {
    /// `rows[indices[k]] += values[k] · g` for every `k`: a rank-one update of the
    /// rows named by `indices` (each row is touched once, so order is irrelevant).
    pub fn scatter_add<const OUT: usize>(rows: &mut [[f32; OUT]], indices: &[u32], values: &[f32], g: &[f32; OUT]) {
        for (&i, &v) in indices.iter().zip(values) {
            for (w, &gi) in rows[i as usize].iter_mut().zip(g) {
                *w += v * gi;
            }
        }
    }
}

kernel! {
    /// `out[i] = Σₒ rows[i][o] · g[o]` in order of `o`: `Wᵀ·g` for a transposed weight matrix.
    pub fn row_dots<const OUT: usize>(rows: &[[f32; OUT]], g: &[f32; OUT], out: &mut [f32]) {
        for (o, row) in out.iter_mut().zip(rows) {
            let mut sum = 0.0;
            for (&w, &gi) in row.iter().zip(g) {
                sum += w * gi;
            }
            *o = sum;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    fn random_case(seed: u64) -> (Vec<[f32; 16]>, Vec<u32>, Vec<f32>) {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
        let rows: Vec<[f32; 16]> = (0..100)
            .map(|_| core::array::from_fn(|_| rng.random::<f32>() - 0.5))
            .collect();
        let indices: Vec<u32> = (0..100).filter(|_| rng.random::<f32>() < 0.3).collect();
        let values = indices.iter().map(|_| rng.random::<f32>()).collect();
        (rows, indices, values)
    }

    #[test]
    fn every_isa_gives_the_same_bits() {
        for seed in 0..20 {
            let (rows, indices, values) = random_case(seed);
            let g: [f32; 16] = core::array::from_fn(|o| o as f32 * 0.37 - 2.0);
            let mut results = Vec::new();
            for isa in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
                Isa::force(isa);
                let sum = gather_sum(&rows, &indices, &values);
                let mut updated = rows.clone();
                scatter_add(&mut updated, &indices, &values, &g);
                let mut dots = vec![0.0; rows.len()];
                row_dots(&rows, &g, &mut dots);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                results.push((bits(&sum), bits(updated.as_flattened()), bits(&dots)));
            }
            Isa::force(Isa::detect());
            assert!(results.windows(2).all(|w| w[0] == w[1]), "seed {seed}");
        }
    }

    #[test]
    fn gather_sum_is_the_weighted_sum() {
        let rows = [[1.0, 2.0], [10.0, 20.0], [100.0, 200.0]];
        assert_eq!(gather_sum(&rows, &[0, 2], &[1.0, 0.5]), [51.0, 102.0]);
        assert_eq!(gather_sum::<2>(&rows, &[], &[]), [0.0, 0.0]);
    }

    #[test]
    fn parse_and_force() {
        assert_eq!(Isa::parse(" AVX2 "), Some(Isa::Avx2));
        assert_eq!(Isa::parse("sse"), None);
        assert!(Isa::Portable.min(Isa::Avx512) == Isa::Portable);
    }
}
