//! `Wᵀ·g` by tiles transposed in registers, written once for every ISA that
//! has a transpose (`avx512.rs`, `avx2.rs`).
//!
//! Each output is a dot product `((0 + r₀g₀) + r₁g₁) + …` of a row of `Wᵀ`
//! with `g`, summed in order of `o`. Row by row, that is a chain of dependent
//! scalar adds across a vector's lanes; the plain loop over a block's columns
//! (`rows[i][o]` for a block of `i`) is what a compiler turns into one gather
//! per column, and gathers are slower than the scalar sums on some CPUs (AMD's
//! among them). Here a block of `LANES` rows is loaded, `LANES` columns at a
//! time, and transposed in registers, so the block's outputs advance together,
//! one lane each, in exactly the order of [`super::row_dots_plain`]: only values
//! move, so the bits are the same.

/// Defines `row_dots` for the ISA module it is invoked in, from that module's
/// `LANES`, vector type `V` and its `#[target_feature]` functions `zero`,
/// `load` (the first `row.len() ≤ LANES` floats, the rest 0), `transpose`,
/// `mul_add(sums, column, g)` (`sums + column·g`, rounded twice) and `store`.
macro_rules! tiled_row_dots {
    ($feature:literal) => {
        /// [`super::row_dots`], `LANES` rows at a time; rows left over are
        /// summed one by one (see `tiled.rs`).
        ///
        /// # Safety
        /// The CPU must support the instruction set this module is for.
        #[target_feature(enable = $feature)]
        pub(super) unsafe fn row_dots<const IN: usize, const OUT: usize>(
            rows: &[[f32; OUT]; IN],
            g: &[f32; OUT],
            out: &mut [f32; IN],
        ) {
            let (blocks, rest) = rows.as_chunks::<LANES>();
            let (outs, rest_out) = out.as_chunks_mut::<LANES>();
            for (block, out) in blocks.iter().zip(outs) {
                let mut sums = zero();
                for start in (0..OUT).step_by(LANES) {
                    let end = OUT.min(start + LANES);
                    // Lanes past `end - start` load as 0 and are never used.
                    let tile: [V; LANES] = core::array::from_fn(|i| load(&block[i][start..end]));
                    for (&column, &g) in transpose(tile).iter().zip(&g[start..end]) {
                        sums = mul_add(sums, column, g);
                    }
                }
                store(out, sums);
            }
            for (o, row) in rest_out.iter_mut().zip(rest) {
                *o = super::row_dot(row, g);
            }
        }

        /// [`super::row_dots_group`]: each block of `LANES` rows is transposed
        /// once, tile by tile, and every gradient of the group advances through
        /// it, one register of sums per gradient; rows left over are summed one
        /// by one.
        ///
        /// # Safety
        /// The CPU must support the instruction set this module is for.
        #[target_feature(enable = $feature)]
        pub(super) unsafe fn row_dots_group<const IN: usize, const OUT: usize, const S: usize>(
            rows: &[[f32; OUT]; IN],
            gs: &[[f32; OUT]; S],
            outs: &mut [[f32; IN]; S],
        ) {
            let (blocks, rest) = rows.as_chunks::<LANES>();
            for (b, block) in blocks.iter().enumerate() {
                let mut sums = [zero(); S];
                for start in (0..OUT).step_by(LANES) {
                    let end = OUT.min(start + LANES);
                    // Lanes past `end - start` load as 0 and are never used.
                    let tile: [V; LANES] = core::array::from_fn(|i| load(&block[i][start..end]));
                    for (c, &column) in transpose(tile)[..end - start].iter().enumerate() {
                        for (sum, g) in sums.iter_mut().zip(gs) {
                            *sum = mul_add(*sum, column, g[start + c]);
                        }
                    }
                }
                for (out, &sum) in outs.iter_mut().zip(&sums) {
                    let (chunks, _) = out.as_chunks_mut::<LANES>();
                    store(&mut chunks[b], sum);
                }
            }
            let done = blocks.len() * LANES;
            for (out, g) in outs.iter_mut().zip(gs) {
                for (o, row) in out[done..].iter_mut().zip(rest) {
                    *o = super::row_dot(row, g);
                }
            }
        }

        /// [`row_dots`], never inlined: one copy per size for large layers
        /// (`super::INLINE_UP_TO`).
        ///
        /// # Safety
        /// The CPU must support the instruction set this module is for.
        #[inline(never)]
        #[target_feature(enable = $feature)]
        pub(super) unsafe fn row_dots_apart<const IN: usize, const OUT: usize>(
            rows: &[[f32; OUT]; IN],
            g: &[f32; OUT],
            out: &mut [f32; IN],
        ) {
            // SAFETY: this function's own safety condition is `row_dots`'s.
            unsafe { row_dots(rows, g, out) }
        }

        /// [`row_dots_group`], never inlined (see [`row_dots_apart`]).
        ///
        /// # Safety
        /// The CPU must support the instruction set this module is for.
        #[inline(never)]
        #[target_feature(enable = $feature)]
        pub(super) unsafe fn row_dots_group_apart<
            const IN: usize,
            const OUT: usize,
            const S: usize,
        >(
            rows: &[[f32; OUT]; IN],
            gs: &[[f32; OUT]; S],
            outs: &mut [[f32; IN]; S],
        ) {
            // SAFETY: this function's own safety condition is `row_dots_group`'s.
            unsafe { row_dots_group(rows, gs, outs) }
        }
    };
}
