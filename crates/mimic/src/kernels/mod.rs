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

use core::sync::atomic::{AtomicU8, Ordering};

use crate::sparse::{CodedEntry, Entries, SparseVector};

#[cfg(target_arch = "x86_64")]
#[macro_use]
mod tiled;

pub(crate) mod lanes;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

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
    #[inline(always)]
    pub fn current() -> Isa {
        match CHOSEN.load(Ordering::Relaxed) {
            1 => Isa::Portable,
            2 => Isa::Avx2,
            3 => Isa::Avx512,
            _ => {
                #[cfg(feature = "std")]
                let wanted = std::env::var("MIMIC_ISA").ok().and_then(|s| Isa::parse(&s));
                #[cfg(not(feature = "std"))]
                let wanted: Option<Isa> = None;
                let isa = wanted.map_or(Isa::detect(), |w| w.min(Isa::detect()));
                CHOSEN.store(isa as u8, Ordering::Relaxed);
                isa
            }
        }
    }

    /// Runs `work` compiled for the current instruction set: [`Work::run`]
    /// and everything it inlines (every layer's passes are `#[inline(always)]`)
    /// are generated for AVX-512, AVX2 and the portable baseline, and the copy
    /// for this CPU runs. The result is the same bits under each; only the
    /// speed differs. `Network`'s methods do this themselves; this is for
    /// calling a layer's own `forward` or `backward` at full speed (the
    /// benches do).
    ///
    /// ```
    /// use mimic::{Image, Isa, MaxPool2d, Module, Work};
    ///
    /// struct Pool<'a>(&'a MaxPool2d<6, 28, 28, 14, 14, 2>, &'a Image<6, 28, 28>);
    /// impl Work for Pool<'_> {
    ///     type Output = Image<6, 14, 14>;
    ///     #[inline(always)]
    ///     fn run(self) -> Self::Output {
    ///         self.0.forward(self.1)
    ///     }
    /// }
    /// let (pool, x) = (MaxPool2d::new(), [[[1.0; 28]; 28]; 6]);
    /// assert_eq!(Isa::dispatch(Pool(&pool, &x)), pool.forward(&x));
    /// ```
    #[inline]
    pub fn dispatch<W: Work>(work: W) -> W::Output {
        dispatch(work)
    }

    /// Uses `isa` (or the best the CPU has, if less) from now on, in every thread.
    /// For benchmarks and tests: results do not depend on it.
    pub fn force(isa: Isa) {
        CHOSEN.store(isa.min(Isa::detect()) as u8, Ordering::Relaxed);
    }

    /// The widest instruction set the CPU has (without `std`, which detects
    /// CPU features, always [`Isa::Portable`]: the code then uses whatever the
    /// build's target features allow).
    pub fn detect() -> Isa {
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
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
        let name = name.trim();
        [
            ("portable", Isa::Portable),
            ("avx2", Isa::Avx2),
            ("avx512", Isa::Avx512),
        ]
        .into_iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|(_, isa)| isa)
    }

    fn min(self, other: Isa) -> Isa {
        if (self as u8) <= (other as u8) {
            self
        } else {
            other
        }
    }
}

/// A piece of work — typically a whole loop, such as an epoch — to be compiled
/// once per [`Isa`] and run by [`Isa::dispatch`]. `run` must be
/// `#[inline(always)]`, and so must what it calls, for all of it to be
/// generated for each instruction set (a closure would not be inlined
/// reliably, which is why this is a trait).
pub trait Work {
    /// What the work returns.
    type Output;
    /// Does the work.
    fn run(self) -> Self::Output;
}

/// Runs `work` compiled for the current [`Isa`]: `work.run()` and everything it
/// inlines is generated for AVX-512, AVX2 or the portable baseline.
#[inline]
#[cfg_attr(not(feature = "std"), allow(dead_code))]
pub(crate) fn dispatch<W: Work>(work: W) -> W::Output {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn avx2<W: Work>(work: W) -> W::Output {
        work.run()
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn avx512<W: Work>(work: W) -> W::Output {
        work.run()
    }

    // A function of its own on x86-64, like the others: inlined, the portable
    // copy's frame (a group's traces: up to a few hundred KB) would be added to
    // the caller's, on top of the frame of the copy that runs.
    #[cfg_attr(target_arch = "x86_64", inline(never))]
    fn portable<W: Work>(work: W) -> W::Output {
        work.run()
    }

    match Isa::current() {
        // SAFETY: `Isa::current` never returns more than the CPU supports.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { avx512(work) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { avx2(work) },
        _ => portable(work),
    }
}

/// Runs `work` in a copy compiled for the CPU's ISA that is never inlined into
/// its caller: for a layer's passes that are large in code and in work (a
/// convolution over a whole image), which are then compiled once per ISA and
/// layer type instead of once per loop that uses the layer and per ISA of
/// that loop ([`INLINE_UP_TO`] says why that matters). A closure's type
/// belongs to the function it is written in, so every network with the same
/// layer shares its copies. Write the closure `#[inline(always)] || …`, so
/// that its body is compiled inside each copy with that copy's vectors.
#[inline(always)]
pub(crate) fn apart<R>(work: impl FnOnce() -> R) -> R {
    #[inline(never)]
    fn portable<R>(work: impl FnOnce() -> R) -> R {
        work()
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(never)]
    #[target_feature(enable = "avx2")]
    fn avx2<R>(work: impl FnOnce() -> R) -> R {
        work()
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(never)]
    #[target_feature(enable = "avx512f")]
    fn avx512<R>(work: impl FnOnce() -> R) -> R {
        work()
    }

    match Isa::current() {
        // SAFETY: `Isa::current` never returns more than the CPU supports.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { avx512(work) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { avx2(work) },
        _ => portable(work),
    }
}

/// Layers with at most this many weights (`IN · OUT`) have their kernels
/// inlined where they are called; larger ones call one copy per ISA and size.
///
/// Every network calls its kernels from inside code that [`dispatch`]
/// compiled once per ISA (an epoch of per-sample steps, one group of a
/// mini-batch, a batch's forward passes, one step). A
/// small layer's kernel is a few dozen instructions: it is inlined there and
/// compiled with that loop's vectors, with no call (arguments and result
/// through memory) and no run-time choice. A large layer's kernel runs long
/// enough that a call costs nothing; it is never inlined, so its unrolled
/// loops are compiled once per ISA and size, not once per loop that uses the
/// layer and per ISA of that loop (nine copies of each kernel per loop, most
/// of them never run, and most of a build's time). The bits are the same
/// either way: only where the code lives changes.
const INLINE_UP_TO: usize = 1024;

/// Defines `pub fn $name`: `$body` inlined for small layers, otherwise a call
/// to a copy compiled for the CPU's ISA ([`INLINE_UP_TO`]).
macro_rules! kernel {
    (
        $(#[$doc:meta])*
        pub fn $name:ident $(<const $S:ident: usize>)? ($($arg:ident: $ty:ty),*) $(-> $ret:ty)? $body:block
    ) => {
        $(#[$doc])*
        #[inline(always)]
        pub(crate) fn $name<const IN: usize, const OUT: usize $(, const $S: usize)?>($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn portable<const IN: usize, const OUT: usize $(, const $S: usize)?>($($arg: $ty),*) $(-> $ret)? $body

            #[inline(never)]
            fn portable_apart<const IN: usize, const OUT: usize $(, const $S: usize)?>($($arg: $ty),*) $(-> $ret)? {
                portable::<IN, OUT $(, $S)?>($($arg),*)
            }

            #[cfg(target_arch = "x86_64")]
            #[inline(never)]
            #[target_feature(enable = "avx2")]
            fn avx2_apart<const IN: usize, const OUT: usize $(, const $S: usize)?>($($arg: $ty),*) $(-> $ret)? {
                portable::<IN, OUT $(, $S)?>($($arg),*)
            }

            #[cfg(target_arch = "x86_64")]
            #[inline(never)]
            #[target_feature(enable = "avx512f")]
            fn avx512_apart<const IN: usize, const OUT: usize $(, const $S: usize)?>($($arg: $ty),*) $(-> $ret)? {
                portable::<IN, OUT $(, $S)?>($($arg),*)
            }

            if IN * OUT <= INLINE_UP_TO {
                // Every call from a network runs inside a loop that `dispatch`
                // compiled for the CPU's ISA: the body, inlined there, is
                // compiled with that loop's vectors.
                portable::<IN, OUT $(, $S)?>($($arg),*)
            } else {
                match Isa::current() {
                    // SAFETY: `Isa::current` never returns more than the CPU supports.
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx512 => unsafe { avx512_apart::<IN, OUT $(, $S)?>($($arg),*) },
                    // SAFETY: as above.
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx2 => unsafe { avx2_apart::<IN, OUT $(, $S)?>($($arg),*) },
                    _ => portable_apart::<IN, OUT $(, $S)?>($($arg),*),
                }
            }
        }
    };
}

/// Asks the CPU to bring every cache line of `data` towards the core. Only a
/// hint: it changes no value, and does nothing on other architectures.
#[inline(always)]
pub(crate) fn prefetch<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        let start = data.as_ptr().cast::<i8>();
        // From the start of the line `data` starts in, so that the line its last
        // byte is in is asked for too (stepping from `data`'s own start misses
        // it whenever `data` does not start on a line boundary).
        let misalignment = start as usize % 64;
        let end = misalignment + core::mem::size_of_val(data);
        for offset in (0..end).step_by(64) {
            // `wrapping_*` arithmetic: no dereference, and a prefetch of any
            // address is harmless.
            let line = start.wrapping_sub(misalignment).wrapping_add(offset);
            // SAFETY: `_mm_prefetch` needs SSE, which every x86_64 CPU has (it is
            // part of the x86_64 baseline); a prefetch reads nothing a program can
            // observe and never faults, whatever the address.
            unsafe {
                core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(line)
            };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

/// Row `i` of `rows`, for an index a [`SparseVector<IN>`] guarantees is below `IN`.
///
/// Only ever called with an index taken from a `SparseVector<'_, IN>`, whose
/// indices are below `IN` by construction: `SparseVector::new` and
/// `SparseVector::coded` check them, and the only other constructors,
/// `new_unchecked` and `coded_unchecked`, are `unsafe fn`s whose callers promise it.
#[inline(always)]
fn row<const IN: usize, const OUT: usize>(rows: &[[f32; OUT]; IN], i: u32) -> &[f32; OUT] {
    debug_assert!((i as usize) < IN);
    // SAFETY: `i` comes from a `SparseVector<'_, IN>` (see above), so it is below
    // IN, and `rows` has exactly IN rows.
    unsafe { rows.get_unchecked(i as usize) }
}

/// Row `i` of `rows`, mutable; see [`row`].
#[inline(always)]
fn row_mut<const IN: usize, const OUT: usize>(
    rows: &mut [[f32; OUT]; IN],
    i: u32,
) -> &mut [f32; OUT] {
    debug_assert!((i as usize) < IN);
    // SAFETY: as in `row`: `i` comes from a `SparseVector<'_, IN>`, so it is below IN.
    unsafe { rows.get_unchecked_mut(i as usize) }
}

/// Adds `v · w` to `sum`, lane by lane.
#[inline(always)]
fn add_scaled<const OUT: usize>(sum: &mut [f32; OUT], v: f32, w: &[f32; OUT]) {
    for (s, &w) in sum.iter_mut().zip(w) {
        *s += v * w;
    }
}

/// `(s0 + s1) + (s2 + s3)`, lane by lane.
#[inline(always)]
fn combine<const OUT: usize>(sums: &[[f32; OUT]; 4]) -> [f32; OUT] {
    let mut total = [0.0; OUT];
    for (o, t) in total.iter_mut().enumerate() {
        *t = (sums[0][o] + sums[1][o]) + (sums[2][o] + sums[3][o]);
    }
    total
}

/// How many output lanes [`gather`] sums at once: its four partial sums of this
/// many lanes are 16 AVX-512 registers, so they stay in registers. A wider
/// layer's sums would not (784→256: 64 registers' worth), and every entry would
/// load and store all of them; it is summed in blocks of this many lanes instead.
const LANES_AT_ONCE: usize = 64;

/// The `$out` lanes of a sum computed [`LANES_AT_ONCE`] lanes at a time by
/// `$block` (an expression of `$first`: lanes `$first..$first + LANES_AT_ONCE`,
/// for `$out` above `LANES_AT_ONCE`), the last block ending at the last lane: it
/// may redo some of the previous block's lanes, with the same result, as lanes
/// are independent. (A macro, not a function taking a closure: a closure
/// holding a whole pass over the entries is not reliably inlined, and a pass
/// called out of line is much slower than one compiled into its loop.)
macro_rules! in_blocks {
    ($out:expr, |$first:ident| $block:expr) => {{
        let mut total = [0.0; $out];
        let mut start = 0;
        while start < $out {
            let $first = start.min($out - LANES_AT_ONCE);
            let end = $first + LANES_AT_ONCE;
            let lanes: [f32; LANES_AT_ONCE] = $block;
            // Lanes before `start` were summed by the previous block, identically.
            total[start..end].copy_from_slice(&lanes[start - $first..]);
            start = end;
        }
        total
    }};
}

/// `Σₖ value(values[k]) · rows[position(positions[k])]` in four rotating partial
/// sums (the `k`-th entry goes to sum `k mod 4`) added as `(s0 + s1) + (s2 + s3)`;
/// for either layout of a [`SparseVector`]'s entries (a coded vector passes its
/// one list as both `positions` and `values`).
///
/// Up to [`LANES_AT_ONCE`] outputs are summed in one pass over the entries; a
/// wider layer in blocks of that many lanes, one pass each, the last block
/// ending at the last lane (so it may redo some of the previous block's lanes,
/// with the same result). Each lane sees the same operations in the same order
/// either way: lanes are independent.
#[inline(always)]
fn gather<const IN: usize, const OUT: usize, P: Copy, V: Copy>(
    rows: &[[f32; OUT]; IN],
    positions: &[P],
    values: &[V],
    position: impl Fn(P) -> u32,
    value: impl Fn(V) -> f32,
) -> [f32; OUT] {
    if OUT <= LANES_AT_ONCE {
        return gather_lanes::<IN, OUT, OUT, P, V>(rows, 0, positions, values, &position, &value);
    }
    in_blocks!(OUT, |first| gather_lanes::<IN, OUT, LANES_AT_ONCE, P, V>(
        rows, first, positions, values, &position, &value,
    ))
}

/// [`gather`] for the `W` lanes `first..first + W` of each row. Asked for lanes
/// past `OUT` (which [`gather`] never does), it returns zeros.
#[inline(always)]
fn gather_lanes<const IN: usize, const OUT: usize, const W: usize, P: Copy, V: Copy>(
    rows: &[[f32; OUT]; IN],
    first: usize,
    positions: &[P],
    values: &[V],
    position: &impl Fn(P) -> u32,
    value: &impl Fn(V) -> f32,
) -> [f32; W] {
    if first.checked_add(W).is_none_or(|end| end > OUT) {
        return [0.0; W];
    }
    let lanes = |p: P| -> &[f32; W] {
        let row = row(rows, position(p));
        // SAFETY: `first + W ≤ OUT` (checked above), so lanes `first..first + W`
        // of a row of OUT floats are W floats inside it, and `[f32; W]` has the
        // alignment of `f32`.
        unsafe { &*row.as_ptr().add(first).cast::<[f32; W]>() }
    };
    let mut sums = [[0.0f32; W]; 4];
    let chunks = positions.chunks_exact(4).zip(values.chunks_exact(4));
    for (pos, val) in chunks {
        for lane in 0..4 {
            add_scaled(&mut sums[lane], value(val[lane]), lanes(pos[lane]));
        }
    }
    let tail = positions
        .chunks_exact(4)
        .remainder()
        .iter()
        .zip(values.chunks_exact(4).remainder());
    for (lane, (&p, &v)) in tail.enumerate() {
        add_scaled(&mut sums[lane], value(v), lanes(p));
    }
    combine(&sums)
}

/// `rows[position(positions[k])] += value(values[k]) · g` for every `k`.
#[inline(always)]
fn scatter<const IN: usize, const OUT: usize, P: Copy, V: Copy>(
    rows: &mut [[f32; OUT]; IN],
    positions: &[P],
    values: &[V],
    position: impl Fn(P) -> u32,
    value: impl Fn(V) -> f32,
    g: &[f32; OUT],
) {
    for (&p, &v) in positions.iter().zip(values) {
        add_scaled(row_mut(rows, position(p)), value(v), g);
    }
}

kernel! {
    /// `Σₖ xₖ · rows[iₖ]` over the nonzero entries `(iₖ, xₖ)` of `x`: the weighted
    /// sum of the rows of the nonzero inputs, accumulated in four rotating partial
    /// sums (the `k`-th nonzero entry goes to sum `k mod 4`) added as
    /// `(s0 + s1) + (s2 + s3)`. Four independent chains hide the adder's latency;
    /// the order is fixed, whatever the ISA or the layout of `x`.
    pub fn gather_sum(rows: &[[f32; OUT]; IN], x: SparseVector<'_, IN>) -> [f32; OUT] {
        match x.entries() {
            Entries::Wide { indices, values } => gather(rows, indices, values, |i| i, |v| v),
            Entries::Coded { entries, table, .. } => gather(
                rows,
                entries,
                entries,
                CodedEntry::position,
                |e| e.value(table),
            ),
        }
    }
}

kernel! {
    /// [`gather_sum`] for an input with no zero entry (a hidden layer's input), where
    /// the `k`-th nonzero entry is entry `k`: the same operations in the same order,
    /// without listing the entries first.
    pub fn dense_sum(rows: &[[f32; OUT]; IN], x: &[f32; IN]) -> [f32; OUT] {
        // As in `gather`: a wide layer's four partial sums would not stay in
        // registers, so it is summed [`LANES_AT_ONCE`] lanes at a time.
        if OUT <= LANES_AT_ONCE {
            return dense_lanes::<IN, OUT, OUT>(rows, 0, x);
        }
        in_blocks!(OUT, |first| dense_lanes::<IN, OUT, LANES_AT_ONCE>(rows, first, x))
    }
}

/// [`dense_sum`] for the `W` lanes `first..first + W` of each row (zeros if
/// they are not all inside a row, which [`dense_sum`] never asks for).
#[inline(always)]
fn dense_lanes<const IN: usize, const OUT: usize, const W: usize>(
    rows: &[[f32; OUT]; IN],
    first: usize,
    x: &[f32; IN],
) -> [f32; W] {
    if first.checked_add(W).is_none_or(|end| end > OUT) {
        return [0.0; W];
    }
    let lanes = |row: &[f32; OUT]| -> &[f32; W] {
        // SAFETY: `first + W ≤ OUT` (checked above), so lanes `first..first + W`
        // of a row of OUT floats are W floats inside it, and `[f32; W]` has the
        // alignment of `f32`.
        unsafe { &*row.as_ptr().add(first).cast::<[f32; W]>() }
    };
    let mut sums = [[0.0f32; W]; 4];
    let chunks = rows.chunks_exact(4).zip(x.chunks_exact(4));
    for (rows4, x4) in chunks {
        for lane in 0..4 {
            add_scaled(&mut sums[lane], x4[lane], lanes(&rows4[lane]));
        }
    }
    let tail = rows
        .chunks_exact(4)
        .remainder()
        .iter()
        .zip(x.chunks_exact(4).remainder());
    for (lane, (r, &v)) in tail.enumerate() {
        add_scaled(&mut sums[lane], v, lanes(r));
    }
    combine(&sums)
}

kernel! {
    /// `rows[iₖ] += xₖ · g` for every nonzero entry `(iₖ, xₖ)` of `x`: a rank-one
    /// update of the rows of the nonzero inputs (each row is touched once, so
    /// order is irrelevant).
    pub fn scatter_add(rows: &mut [[f32; OUT]; IN], x: SparseVector<'_, IN>, g: &[f32; OUT]) {
        match x.entries() {
            Entries::Wide { indices, values } => scatter(rows, indices, values, |i| i, |v| v, g),
            Entries::Coded { entries, table, .. } => scatter(
                rows,
                entries,
                entries,
                CodedEntry::position,
                |e| e.value(table),
                g,
            ),
        }
    }
}

kernel! {
    /// [`scatter_add`] for a dense `x`: rows of zero inputs are skipped, exactly as
    /// the sparse version never sees them.
    pub fn scatter_add_dense(rows: &mut [[f32; OUT]; IN], x: &[f32; IN], g: &[f32; OUT]) {
        for (r, &v) in rows.iter_mut().zip(x) {
            if v != 0.0 {
                add_scaled(r, v, g);
            }
        }
    }
}

kernel! {
    /// [`scatter_add_dense`] for a group of `S` samples: `rows[i] += xₛ[i] · gₛ`
    /// for s = 0, 1, … in turn, row by row. Each row is read from memory once
    /// for the group and stays in L1 while the samples' products are added, where
    /// one sample at a time reads (and writes back) every row once per sample.
    /// Each row still receives the samples in order, and zero inputs are
    /// skipped as one sample at a time skips them, so the bits are the same.
    pub fn scatter_add_group<const S: usize>(
        rows: &mut [[f32; OUT]; IN],
        xs: [&[f32; IN]; S],
        gs: &[[f32; OUT]; S]
    ) {
        for (i, row) in rows.iter_mut().enumerate() {
            // The samples whose input i is nonzero, one bit each: a layer after
            // a ReLU has many zeros, and a row none of the group uses is not
            // touched at all.
            let mut used = 0u64;
            for (s, x) in xs.iter().enumerate() {
                used |= u64::from(x[i] != 0.0) << (s % 64);
            }
            for (s, (x, g)) in xs.iter().zip(gs).enumerate() {
                if used >> (s % 64) & 1 == 1 {
                    add_scaled(row, x[i], g);
                }
            }
        }
    }
}

/// [`row_dots`] for a group of `S` gradients: `outs[s][i] = Σₒ rows[i][o] ·
/// gs[s][o]`, each summed exactly as [`row_dots`] sums it. With AVX-512 or
/// AVX2 a block of rows is transposed in registers once for the whole group
/// (`tiled.rs`), so `rows` is read once per group instead of once per sample.
#[inline(always)]
pub(crate) fn row_dots_group<const IN: usize, const OUT: usize, const S: usize>(
    rows: &[[f32; OUT]; IN],
    gs: &[[f32; OUT]; S],
    outs: &mut [[f32; IN]; S],
) {
    let small = IN * OUT <= INLINE_UP_TO;
    match Isa::current() {
        // SAFETY: `Isa::current` never returns more than the CPU supports.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if small => unsafe { avx512::row_dots_group(rows, gs, outs) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { avx512::row_dots_group_apart(rows, gs, outs) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 if small => unsafe { avx2::row_dots_group(rows, gs, outs) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { avx2::row_dots_group_apart(rows, gs, outs) },
        _ => {
            for (g, out) in gs.iter().zip(outs) {
                row_dots_plain(rows, g, out);
            }
        }
    }
}

/// `out[i] = Σₒ rows[i][o] · g[o]` in order of `o`: `Wᵀ·g` for a transposed weight matrix.
///
/// Each `out[i]` is `((0 + r₀g₀) + r₁g₁) + …`, one chain per output: summed row
/// by row, a run of dependent scalar adds across a vector's lanes. With
/// AVX-512 or AVX2, blocks of 16 or 8 rows are transposed in registers first
/// (`tiled.rs`), so that the chains of a block's outputs run side by side,
/// one lane each; every output still sees the same operations in the same
/// order, so the bits are the same as [`row_dots_plain`]'s.
#[inline(always)]
pub(crate) fn row_dots<const IN: usize, const OUT: usize>(
    rows: &[[f32; OUT]; IN],
    g: &[f32; OUT],
    out: &mut [f32; IN],
) {
    let small = IN * OUT <= INLINE_UP_TO;
    match Isa::current() {
        // SAFETY: `Isa::current` never returns more than the CPU supports.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if small => unsafe { avx512::row_dots(rows, g, out) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { avx512::row_dots_apart(rows, g, out) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 if small => unsafe { avx2::row_dots(rows, g, out) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { avx2::row_dots_apart(rows, g, out) },
        _ => row_dots_plain(rows, g, out),
    }
}

kernel! {
    /// [`row_dots`] one row at a time.
    pub fn row_dots_plain(rows: &[[f32; OUT]; IN], g: &[f32; OUT], out: &mut [f32; IN]) {
        for (o, row) in out.iter_mut().zip(rows) {
            *o = row_dot(row, g);
        }
    }
}

/// `Σₒ row[o] · g[o]`, in order of `o`, from 0.
#[inline(always)]
fn row_dot<const OUT: usize>(row: &[f32; OUT], g: &[f32; OUT]) -> f32 {
    let mut sum = 0.0;
    for (&w, &g) in row.iter().zip(g) {
        sum += w * g;
    }
    sum
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    fn random_case(seed: u64) -> ([[f32; 16]; 100], Vec<u32>, Vec<f32>, [f32; 100]) {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
        let rows = core::array::from_fn(|_| core::array::from_fn(|_| rng.random::<f32>() - 0.5));
        let indices: Vec<u32> = (0..100).filter(|_| rng.random::<f32>() < 0.3).collect();
        let values = indices.iter().map(|_| rng.random::<f32>()).collect();
        let dense = core::array::from_fn(|_| rng.random::<f32>() + 0.1);
        (rows, indices, values, dense)
    }

    #[test]
    fn every_isa_gives_the_same_bits() {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for seed in 0..20 {
            let (rows, indices, values, dense) = random_case(seed);
            // Coded entries: values k/255 as bytes k: values k/255 as bytes k.
            let codes: Vec<u8> = values.iter().map(|v| (v * 255.0) as u8).collect();
            let table: [f32; 256] = core::array::from_fn(|k| k as f32 / 255.0);
            let entries: Vec<CodedEntry> = (indices.iter().zip(&codes))
                .map(|(&i, &c)| CodedEntry::new(i as usize, c).unwrap())
                .collect();
            let coded = SparseVector::<100>::coded(&entries, &table).unwrap();
            let values: Vec<f32> = codes.iter().map(|&c| table[usize::from(c)]).collect();
            let x = SparseVector::<100>::new(&indices, &values).unwrap();
            let g: [f32; 16] = core::array::from_fn(|o| o as f32 * 0.37 - 2.0);
            let mut results = Vec::new();
            for isa in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
                Isa::force(isa);
                let mut updated = rows;
                scatter_add(&mut updated, x, &g);
                scatter_add(&mut updated, coded, &g);
                scatter_add_dense(&mut updated, &x.to_dense(), &g);
                let mut dots = [0.0; 100];
                row_dots(&rows, &g, &mut dots);
                assert_eq!(bits(&gather_sum(&rows, x)), bits(&gather_sum(&rows, coded)));
                results.push([
                    bits(&gather_sum(&rows, x)),
                    bits(&dense_sum(&rows, &dense)),
                    bits(updated.as_flattened()),
                    bits(&dots),
                ]);
            }
            Isa::force(Isa::detect());
            assert!(results.windows(2).all(|w| w[0] == w[1]), "seed {seed}");
        }
    }

    /// `row_dots` against the plain per-row sums, bit for bit, for widths that
    /// fill, split and pad its tiles and heights that leave rows over.
    fn row_dots_are_the_plain_sums<const IN: usize, const OUT: usize>(seed: u64) {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
        let rows: [[f32; OUT]; IN] =
            core::array::from_fn(|_| core::array::from_fn(|_| rng.random::<f32>() - 0.5));
        let g: [f32; OUT] = core::array::from_fn(|_| rng.random::<f32>() * 3.0 - 1.5);
        for isa in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
            Isa::force(isa);
            let mut out = [f32::NAN; IN];
            row_dots(&rows, &g, &mut out);
            for (row, &o) in rows.iter().zip(&out) {
                let mut sum = 0.0f32;
                for (&w, &g) in row.iter().zip(&g) {
                    sum += w * g;
                }
                assert_eq!(sum.to_bits(), o.to_bits(), "{IN}×{OUT}, {isa:?}");
            }
        }
        Isa::force(Isa::detect());
    }

    #[test]
    fn row_dots_sum_each_row_in_order() {
        row_dots_are_the_plain_sums::<16, 16>(1);
        row_dots_are_the_plain_sums::<16, 10>(2);
        row_dots_are_the_plain_sums::<32, 1>(3);
        row_dots_are_the_plain_sums::<37, 33>(4);
        row_dots_are_the_plain_sums::<5, 16>(5);
        row_dots_are_the_plain_sums::<128, 256>(6);
    }

    /// A layer wider than `LANES_AT_ONCE`, summed in blocks, against the four
    /// rotating sums of every lane written out plainly, bit for bit, on every
    /// ISA: `gather_sum`, and with every entry listed `dense_sum` too.
    fn wide_gathers_are_the_plain_sums<const OUT: usize>(seed: u64) {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
        let rows: Vec<[[f32; OUT]; 40]> = vec![core::array::from_fn(|_| {
            core::array::from_fn(|_| rng.random::<f32>() - 0.5)
        })];
        for count in [0, 1, 3, 4, 7, 13, 40] {
            // `count` distinct positions, increasing, as a sparse vector lists them.
            let mut indices: Vec<u32> = (0..40).collect();
            while indices.len() > count {
                indices.remove(rng.random_range(0..indices.len()));
            }
            let values: Vec<f32> = indices.iter().map(|_| rng.random::<f32>()).collect();
            let x = SparseVector::<40>::new(&indices, &values).unwrap();
            let mut sums = [[0.0f32; OUT]; 4];
            for (k, (&i, &v)) in indices.iter().zip(&values).enumerate() {
                for o in 0..OUT {
                    sums[k % 4][o] += v * rows[0][i as usize][o];
                }
            }
            let expected: Vec<u32> = (0..OUT)
                .map(|o| ((sums[0][o] + sums[1][o]) + (sums[2][o] + sums[3][o])).to_bits())
                .collect();
            for isa in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
                Isa::force(isa);
                let got = gather_sum(&rows[0], x).map(f32::to_bits);
                assert_eq!(
                    got.as_slice(),
                    expected.as_slice(),
                    "{OUT} wide, {count} entries, {isa:?}"
                );
                if count == 40 {
                    // Every entry listed: `dense_sum`'s case, summed in the same blocks.
                    let dense: [f32; 40] = values.as_slice().try_into().unwrap();
                    let got = dense_sum(&rows[0], &dense).map(f32::to_bits);
                    assert_eq!(
                        got.as_slice(),
                        expected.as_slice(),
                        "dense, {OUT} wide, {isa:?}"
                    );
                }
            }
        }
        Isa::force(Isa::detect());
    }

    #[test]
    fn wide_layers_are_summed_in_blocks_with_the_same_bits() {
        wide_gathers_are_the_plain_sums::<10>(1);
        wide_gathers_are_the_plain_sums::<64>(2);
        wide_gathers_are_the_plain_sums::<65>(3);
        wide_gathers_are_the_plain_sums::<100>(4);
        wide_gathers_are_the_plain_sums::<128>(5);
        wide_gathers_are_the_plain_sums::<256>(6);
    }

    #[test]
    fn dense_sum_is_gather_sum_without_zeros() {
        let (rows, _, _, dense) = random_case(3);
        let indices: Vec<u32> = (0..100).collect();
        let x = SparseVector::<100>::new(&indices, &dense).unwrap();
        assert_eq!(gather_sum(&rows, x), dense_sum(&rows, &dense));
    }

    #[test]
    fn gather_sum_is_the_weighted_sum() {
        let rows = [[1.0, 2.0], [10.0, 20.0], [100.0, 200.0]];
        let x = SparseVector::<3>::new(&[0, 2], &[1.0, 0.5]).unwrap();
        assert_eq!(gather_sum(&rows, x), [51.0, 102.0]);
        let empty = SparseVector::<3>::new(&[], &[]).unwrap();
        assert_eq!(gather_sum(&rows, empty), [0.0, 0.0]);
    }

    #[test]
    fn parse_and_force() {
        assert_eq!(Isa::parse(" AVX2 "), Some(Isa::Avx2));
        assert_eq!(Isa::parse("sse"), None);
        assert!(Isa::Portable.min(Isa::Avx512) == Isa::Portable);
    }
}
