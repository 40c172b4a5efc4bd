//! The core's peak f32 rate, measured rather than taken from a data sheet:
//! fourteen independent chains of multiply-adds in the widest vectors the CPU
//! has, each chain long enough that the loop around it costs nothing.
//!
//! Two rows per instruction set, as the two bound different code: *fused*
//! (`a · b + c` in one instruction, the core's advertised peak) and *multiply
//! then add* (two instructions and two roundings — how mimic's kernels compute,
//! as fusing would change the bits between ISAs). On AMD's Zen cores the two
//! peaks are equal (two multiply and two add pipes beside the two FMA ones);
//! on Intel's cores with AVX-512 the second is half the first.

/// Multiply-adds per chain in one call.
const ROUNDS: usize = 4096;
/// Independent chains: enough that each round (one instruction per chain for
/// each of the two pipes' kinds) takes longer than a chain's latency — a
/// multiply then an add, 6 cycles on Zen 3, 8 on Intel's cores — and few
/// enough that chains, `a` and `b` fit AVX2's 16 registers.
const CHAINS: usize = 14;

/// One row: its name, the FLOP one call of `run` does, and the loop.
pub struct Peak {
    pub name: &'static str,
    pub flop: u64,
    pub run: fn() -> f32,
}

/// The peaks this CPU can run: AVX-512F and AVX2 with FMA on x86-64, nothing
/// elsewhere.
pub fn peaks() -> Vec<Peak> {
    #[allow(unused_mut)] // empty off x86-64
    let mut peaks = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        let flop = |lanes: usize| (ROUNDS * CHAINS * lanes * 2) as u64;
        if is_x86_feature_detected!("avx512f") {
            peaks.push(Peak {
                name: "peak f32, fused multiply-add (AVX-512)",
                flop: flop(16),
                run: x86::fused_avx512_checked,
            });
            peaks.push(Peak {
                name: "peak f32, multiply then add (AVX-512)",
                flop: flop(16),
                run: x86::unfused_avx512_checked,
            });
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            peaks.push(Peak {
                name: "peak f32, fused multiply-add (AVX2)",
                flop: flop(8),
                run: x86::fused_avx2_checked,
            });
            peaks.push(Peak {
                name: "peak f32, multiply then add (AVX2)",
                flop: flop(8),
                run: x86::unfused_avx2_checked,
            });
        }
    }
    peaks
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{CHAINS, ROUNDS};
    use std::arch::x86_64::*;
    use std::hint::black_box;

    /// `acc ← acc · a + b` on every chain, `ROUNDS` times, fused (`$fused`
    /// compiled for `$features_fused`) and as a multiply then an add
    /// (`$unfused`); the chains' lanes summed so that nothing is dead code.
    /// `a` and `b` come through `black_box`, so the compiler cannot fold the
    /// loop; `acc` converges to 1 and stays normal.
    macro_rules! chains {
        ($fused:ident: $features_fused:literal, $unfused:ident: $features:literal,
         $v:ty, $lanes:literal, $set1:ident, $zero:ident, $store:ident,
         $fmadd:ident, $mul:ident, $add:ident) => {
            chains!(@one $fused, $features_fused, $v, $lanes, $set1, $zero, $store,
                |acc, a, b| $fmadd(acc, a, b));
            chains!(@one $unfused, $features, $v, $lanes, $set1, $zero, $store,
                |acc, a, b| $add($mul(acc, a), b));
        };
        (@one $name:ident, $features:literal, $v:ty, $lanes:literal, $set1:ident, $zero:ident,
         $store:ident, |$acc:ident, $a:ident, $b:ident| $step:expr) => {
            #[target_feature(enable = $features)]
            fn $name() -> f32 {
                let ($a, $b): ($v, $v) = ($set1(black_box(0.999)), $set1(black_box(0.001)));
                let mut chains: [$v; CHAINS] = [$zero(); CHAINS];
                for _ in 0..ROUNDS {
                    for chain in &mut chains {
                        let $acc = *chain;
                        *chain = $step;
                    }
                }
                let mut total = 0.0;
                for chain in chains {
                    let mut lanes = [0.0f32; $lanes];
                    // SAFETY: `lanes` holds exactly one vector's `$lanes` f32s;
                    // the store is unaligned.
                    unsafe { $store(lanes.as_mut_ptr(), chain) };
                    total += lanes.iter().sum::<f32>();
                }
                total
            }
        };
    }

    chains!(fused_avx2: "avx2,fma", unfused_avx2: "avx2", __m256, 8, _mm256_set1_ps,
        _mm256_setzero_ps, _mm256_storeu_ps, _mm256_fmadd_ps, _mm256_mul_ps, _mm256_add_ps);
    chains!(fused_avx512: "avx512f", unfused_avx512: "avx512f", __m512, 16, _mm512_set1_ps,
        _mm512_setzero_ps, _mm512_storeu_ps, _mm512_fmadd_ps, _mm512_mul_ps, _mm512_add_ps);

    /// A safe entry for each loop: it runs only where the CPU has the
    /// features (`peaks` lists it only there; elsewhere it returns NaN).
    macro_rules! checked {
        ($name:ident => $inner:ident, $($feature:tt),+) => {
            pub fn $name() -> f32 {
                if $(is_x86_feature_detected!($feature))&&+ {
                    // SAFETY: the CPU has every feature `$inner` is compiled
                    // for, checked just above.
                    unsafe { $inner() }
                } else {
                    f32::NAN
                }
            }
        };
    }

    checked!(fused_avx2_checked => fused_avx2, "avx2", "fma");
    checked!(unfused_avx2_checked => unfused_avx2, "avx2");
    checked!(fused_avx512_checked => fused_avx512, "avx512f");
    checked!(unfused_avx512_checked => unfused_avx512, "avx512f");
}
