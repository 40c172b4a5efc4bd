//! A convolution's backward pass for a group of samples at once, with the
//! samples side by side in the vector lanes.
//!
//! One image at a time, a convolution vectorises over an output row, which
//! fills registers badly (LeNet-5's second convolution has rows of 10) and
//! reads every filter again per image. A mini-batch's group of `G` samples
//! ([`Train::gradient_group`](crate::module::Train::gradient_group)) is laid
//! out as one image whose pixels are `[f32; G]` — sample `s`'s value of pixel
//! `(c, h, w)` at `[c][h][w][s]` — and every sum of the one-image passes runs
//! on whole `G`-lane vectors, a filter's weight broadcast to all lanes.
//!
//! **The same bits.** Each lane is one sample's sum, computed with the same
//! terms in the same order as [`Conv2d::apply_gradient`] and
//! [`Conv2d::input_gradient`] compute it for that sample alone; a parameter's
//! gradient then adds the samples' totals in order `0, 1, …, G − 1`, as `G`
//! calls of [`Train::gradient`](crate::module::Train::gradient) would. Where
//! a filter overlaps the padding, the one-image passes multiply by the zeros
//! of their shifted rows; the lanes multiply by a vector of zeros in the same
//! places.

use super::Conv2d;
use crate::activation::Activation;
use crate::image::{Image, input_row, valid_outputs};
use crate::kernels::lanes::{LANES, Lane, LaneWork, Lanes};

/// [`LANES`] images side by side: pixel `(c, h, w)` of sample `s` at `[c][h][w][s]`.
type Side<const C: usize, const H: usize, const W: usize> = [[[Lane; W]; H]; C];

/// Lays `G` (at most [`LANES`]) images out side by side.
#[inline(always)]
fn side_by_side<const C: usize, const H: usize, const W: usize, const G: usize>(
    images: [&Image<C, H, W>; G],
) -> Side<C, H, W> {
    let mut side = [[[[0.0; LANES]; W]; H]; C];
    for (s, image) in images.iter().enumerate() {
        for (side, image) in side.iter_mut().zip(image.iter()) {
            for (side, row) in side.iter_mut().zip(image) {
                for (lane, &v) in side.iter_mut().zip(row) {
                    lane[s] = v;
                }
            }
        }
    }
    side
}

/// The first `G` images of a side-by-side layout.
#[inline(always)]
fn apart<const C: usize, const H: usize, const W: usize, const G: usize>(
    side: &Side<C, H, W>,
    images: &mut [Image<C, H, W>; G],
) {
    for (s, image) in images.iter_mut().enumerate() {
        for (image, side) in image.iter_mut().zip(side) {
            for (row, side) in image.iter_mut().zip(side) {
                for (v, lane) in row.iter_mut().zip(side) {
                    *v = lane[s];
                }
            }
        }
    }
}

/// `dz = f'(y) ⊙ dy` of output channel `co` for the group, side by side (the
/// same product as [`Conv2d::output_delta`] for each sample). Each sample's
/// products are formed along its row, eight at a time, and the eight rows
/// transposed in registers into eight lane vectors; a row's last `OW mod 8`
/// values are placed one by one.
#[inline(always)]
fn channel_delta<
    L: Lanes,
    A: Activation,
    const CO: usize,
    const OH: usize,
    const OW: usize,
    const G: usize,
>(
    l: L,
    activation: &A,
    co: usize,
    ys: [&Image<CO, OH, OW>; G],
    dys: [&Image<CO, OH, OW>; G],
    dz: &mut [[Lane; OW]; OH],
) {
    // Loops rather than closures here and in every lane kernel: a closure
    // that the compiler does not inline is compiled without AVX2, and the
    // arithmetic inside it becomes calls.
    for (oh, dz) in dz.iter_mut().enumerate() {
        let mut first = 0;
        if G == LANES {
            while first + LANES <= OW {
                let mut rows = [l.zero(); LANES];
                for (row, (y, dy)) in rows.iter_mut().zip(ys.iter().zip(&dys)) {
                    let y = &y[co][oh][first..][..LANES];
                    let dy = &dy[co][oh][first..][..LANES];
                    let mut products = [0.0; LANES];
                    for ((p, &y), &g) in products.iter_mut().zip(y).zip(dy) {
                        *p = activation.derivative_at_output(y) * g;
                    }
                    *row = l.load(&products);
                }
                for (dz, column) in dz[first..][..LANES].iter_mut().zip(l.transpose(rows)) {
                    l.store(dz, column);
                }
                first += LANES;
            }
        }
        for (s, (y, dy)) in ys.iter().zip(&dys).enumerate() {
            for ((dz, &y), &g) in dz[first..]
                .iter_mut()
                .zip(&y[co][oh][first..])
                .zip(&dy[co][oh][first..])
            {
                dz[s] = activation.derivative_at_output(y) * g;
            }
        }
    }
}

/// Adds each of the first `G` lanes of `total`, sample 0 first, to `p`.
#[inline(always)]
fn add_samples<L: Lanes, const G: usize>(l: L, p: &mut f32, total: L::V) {
    let mut lanes = [0.0; LANES];
    l.store(&mut lanes, total);
    for t in lanes.into_iter().take(G) {
        *p += t;
    }
}

/// The group's outputs.
pub(super) struct Forward<'a, Layer, X, Y, const G: usize> {
    pub(super) layer: &'a Layer,
    pub(super) xs: [&'a X; G],
    pub(super) ys: &'a mut [Y; G],
}

/// How many outputs of a row a forward pass keeps in flight: each is a chain
/// of dependent additions, and enough chains side by side keep the adders busy.
const OUTPUTS: usize = 8;

/// The group's parameter gradients, added into a gradient buffer: from
/// every channel's `dz` side by side (`D`) if given, else from each channel's
/// computed in turn (a first layer's `dz` is needed only here, and one
/// channel at a time takes less stack).
pub(super) struct ParameterGradient<'a, Layer, X, Y, D, const G: usize> {
    pub(super) layer: &'a Layer,
    pub(super) gradients: &'a mut Layer,
    pub(super) xs: [&'a X; G],
    pub(super) ys: [&'a Y; G],
    pub(super) dys: [&'a Y; G],
    pub(super) deltas: Option<&'a D>,
}

/// The group's gradients at the layer's input, from every channel's `dz`.
struct InputGradient<'a, Layer, D, X, const G: usize> {
    layer: &'a Layer,
    deltas: &'a D,
    dxs: &'a mut [X; G],
}

/// Both: the parameter gradients added into a gradient buffer, then the
/// gradients at the input, from one computation of `dz`.
pub(super) struct Gradient<'a, Layer, X, Y, const G: usize> {
    pub(super) layer: &'a Layer,
    pub(super) gradients: &'a mut Layer,
    pub(super) xs: [&'a X; G],
    pub(super) ys: [&'a Y; G],
    pub(super) dys: [&'a Y; G],
    pub(super) dxs: &'a mut [X; G],
}

/// Writes the impl header of [`LaneWork`] for a kernel over a [`Conv2d`]
/// (the layer's ten parameters and the group size `G`).
macro_rules! lane_work {
    ($work:ident<$($arg:ty),+> => $body:tt) => {
        impl<
            const C: usize,
            const H: usize,
            const W: usize,
            const CO: usize,
            const OH: usize,
            const OW: usize,
            const K: usize,
            const S: usize,
            const P: usize,
            A: Activation,
            const G: usize,
        > LaneWork for $work<'_, Conv2d<C, H, W, CO, OH, OW, K, S, P, A>, $($arg,)+ G>
        $body
    };
}

lane_work!(Forward<Image<C, H, W>, Image<CO, OH, OW>> => {
    type Output = ();

    /// The bits of [`Module::forward`](crate::Module::forward) for each
    /// sample: each output's sum over input channel, kernel row (those in the
    /// padding skipped) and kernel column (those in it adding `w · 0`), then
    /// the bias, then the activation.
    #[inline(always)]
    fn run<L: Lanes>(self, l: L) {
        let layer = self.layer;
        let x = side_by_side(self.xs);
        let inside = inside::<W, OW, K, S, P>();
        // A row's outputs in three ranges: those whose windows reach into the
        // padding on the left, those inside, those on the right — so that the
        // inside ones, most of a row, load without a check per column.
        let left = inside.start.min(OW);
        let right = inside.end.clamp(left, OW);
        // Written straight into each sample's image in the caller's array (no
        // side-by-side copy of the outputs, nor a copy on return: a group's
        // are the largest buffer here).
        let ys = self.ys;
        for (co, (filter, &b)) in layer.weights.iter().zip(&layer.bias).enumerate() {
            let b = l.splat(b);
            for oh in 0..OH {
                for (start, end) in [(0, left), (left, right), (right, OW)] {
                    let checked = start != left || end != right;
                    // `OUTPUTS`, then 4, 2, 1 at a time: sums in registers, a
                    // width the compiler knows (a run-time count kept the
                    // sums in memory, and the edges cost as much as the rest).
                    let mut at = start;
                    while at < end {
                        let left = end - at;
                        if left >= OUTPUTS {
                            store_outputs(l, &layer.activation, ys, co, oh, at, &outputs::<L, C, H, W, K, S, P, OUTPUTS>(l, &x, filter, oh, at, checked), b);
                            at += OUTPUTS;
                        } else if left >= 4 {
                            store_outputs(l, &layer.activation, ys, co, oh, at, &outputs::<L, C, H, W, K, S, P, 4>(l, &x, filter, oh, at, checked), b);
                            at += 4;
                        } else if left >= 2 {
                            store_outputs(l, &layer.activation, ys, co, oh, at, &outputs::<L, C, H, W, K, S, P, 2>(l, &x, filter, oh, at, checked), b);
                            at += 2;
                        } else {
                            store_outputs(l, &layer.activation, ys, co, oh, at, &outputs::<L, C, H, W, K, S, P, 1>(l, &x, filter, oh, at, checked), b);
                            at += 1;
                        }
                    }
                }
            }
        }
    }
});

/// The output columns whose window lies wholly inside the input (all `K`
/// kernel columns of it).
#[inline(always)]
fn inside<const W: usize, const OW: usize, const K: usize, const S: usize, const P: usize>()
-> core::ops::Range<usize> {
    P.div_ceil(S)..if W + P >= K {
        ((W + P - K) / S + 1).min(OW)
    } else {
        0
    }
}

/// Adds the bias `b` to the sums of outputs `first ..` of row `oh` of channel
/// `co`, applies the activation and writes each lane into its sample's image.
///
/// The activation is applied here, on the way out, rather than to the images
/// in place afterwards: in place, `if z > 0 { z } else { 0 }` leaves only the
/// zeros to store, which the compiler turned into masked vector stores —
/// microcoded and slow on AMD's cores (a quarter of the first convolution's
/// forward pass).
#[inline(always)]
#[allow(clippy::too_many_arguments)] // the layer's shape, then the data
fn store_outputs<
    L: Lanes,
    A: Activation,
    const CO: usize,
    const OH: usize,
    const OW: usize,
    const G: usize,
>(
    l: L,
    activation: &A,
    ys: &mut [Image<CO, OH, OW>; G],
    co: usize,
    oh: usize,
    first: usize,
    sums: &[L::V],
    b: L::V,
) {
    if let Ok(&sums) = <&[L::V; LANES]>::try_from(sums) {
        // Eight outputs of eight samples: transposed in registers, so that
        // each sample's eight are one store into its row.
        let mut rows = [l.zero(); LANES];
        for (row, &sum) in rows.iter_mut().zip(&sums) {
            *row = l.load(&activated_lanes(l, activation, sum, b));
        }
        let rows = l.transpose(rows);
        for (y, &row) in ys.iter_mut().zip(&rows) {
            if let Some(y) = y[co][oh][first..].first_chunk_mut::<LANES>() {
                l.store(y, row);
            }
        }
    } else {
        for (j, &sum) in sums.iter().enumerate() {
            for (y, &z) in ys.iter_mut().zip(&activated_lanes(l, activation, sum, b)) {
                y[co][oh][first + j] = z;
            }
        }
    }
}

/// `f(sum + b)` lane by lane (a function, not a closure: the lane kernels'
/// closures may be compiled without the kernel's instruction set).
#[inline(always)]
fn activated_lanes<L: Lanes, A: Activation>(l: L, activation: &A, sum: L::V, b: L::V) -> Lane {
    let mut z = [0.0; LANES];
    l.store(&mut z, l.add(sum, b));
    for z in &mut z {
        *z = activation.apply(*z);
    }
    z
}

/// The sums (before the bias) of outputs `first .. first + N` of row `oh`:
/// over input channel, kernel row (those in the padding skipped) and kernel
/// column, as one image's pass. Unless `checked`, every window lies inside
/// the input and loads without a check; where it is, a kernel column in the
/// padding meets zeros, as in one image's shifted rows.
#[inline(always)]
#[allow(clippy::too_many_arguments)] // the layer's shape, then the data
fn outputs<
    L: Lanes,
    const C: usize,
    const H: usize,
    const W: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const N: usize,
>(
    l: L,
    x: &Side<C, H, W>,
    filter: &[[[f32; K]; K]; C],
    oh: usize,
    first: usize,
    checked: bool,
) -> [L::V; N] {
    let mut sums = [l.zero(); N];
    for (x, kernel) in x.iter().zip(filter) {
        for (kh, kernel_row) in kernel.iter().enumerate() {
            let Some(ih) = input_row::<H, S, P>(oh, kh) else {
                continue;
            };
            let x = &x[ih];
            if checked {
                for (kw, &w) in kernel_row.iter().enumerate() {
                    let w = l.splat(w);
                    for (j, sum) in sums.iter_mut().enumerate() {
                        let x = match ((first + j) * S + kw).checked_sub(P) {
                            Some(iw) if iw < W => l.load(&x[iw]),
                            _ => l.zero(),
                        };
                        *sum = l.mul_add(*sum, w, x);
                    }
                }
            } else {
                // The row's `K` weights in registers, and each input vector
                // loaded once and used for every output whose window holds
                // it (as kernel column `i − j·S` of output `j`). For each
                // output the columns still come in order `0, 1, …, K − 1`.
                // Taken kernel column by kernel column instead, the compiler
                // kept the overlapping input vectors in registers beside the
                // sums and spilled.
                let mut weights = [l.zero(); K];
                for (w, &k) in weights.iter_mut().zip(kernel_row) {
                    *w = l.splat(k);
                }
                let x = &x[first * S - P..][..(N - 1) * S + K];
                for (i, x) in x.iter().enumerate() {
                    let x = l.load(x);
                    for (j, sum) in sums.iter_mut().enumerate() {
                        // Kernel column `i − j·S`, if it is one.
                        if let Some(kw) = i.checked_sub(j * S)
                            && let Some(&w) = weights.get(kw)
                        {
                            *sum = l.mul_add(*sum, w, x);
                        }
                    }
                }
            }
        }
    }
    sums
}

lane_work!(ParameterGradient<Image<C, H, W>, Image<CO, OH, OW>, [[[Lane; OW]; OH]; CO]> => {
    type Output = ();

    /// The bits of [`Conv2d::apply_gradient`] with `f = p + g` for sample 0,
    /// 1, … in turn.
    #[inline(always)]
    fn run<L: Lanes>(self, l: L) {
        let x = side_by_side(self.xs);
        let inside = inside::<W, OW, K, S, P>();
        let gradients = self.gradients;
        for (co, (filter, b)) in gradients
            .weights
            .iter_mut()
            .zip(&mut gradients.bias)
            .enumerate()
        {
            let computed;
            let dz = match self.deltas {
                Some(all) => &all[co],
                None => {
                    let mut dz = [[[0.0; LANES]; OW]; OH];
                    channel_delta(l, &self.layer.activation, co, self.ys, self.dys, &mut dz);
                    computed = dz;
                    &computed
                }
            };
            for (x, kernel) in x.iter().zip(filter.iter_mut()) {
                for (kh, kernel_row) in kernel.iter_mut().enumerate() {
                    // Each weight's sum down every output column (over the
                    // output rows whose input row is not padding, which the
                    // one-image pass skips), then across the columns in order;
                    // two columns in flight where both windows lie inside.
                    let (first, end) = valid_outputs(kh, H, OH, S, P);
                    let rows = first..end;
                    let mut totals = [l.zero(); K];
                    let mut ow = 0;
                    while ow < OW {
                        if ow + 1 < OW && inside.contains(&ow) && inside.contains(&(ow + 1)) {
                            let [a, b] = columns::<L, H, W, OH, OW, K, S, P, 2>(
                                l,
                                x,
                                dz,
                                rows.clone(),
                                kh,
                                ow,
                                true,
                            );
                            for (total, (&a, &b)) in totals.iter_mut().zip(a.iter().zip(&b)) {
                                *total = l.add(l.add(*total, a), b);
                            }
                            ow += 2;
                        } else {
                            let [column] = columns::<L, H, W, OH, OW, K, S, P, 1>(
                                l,
                                x,
                                dz,
                                rows.clone(),
                                kh,
                                ow,
                                inside.contains(&ow),
                            );
                            for (total, &column) in totals.iter_mut().zip(&column) {
                                *total = l.add(*total, column);
                            }
                            ow += 1;
                        }
                    }
                    for (w, &total) in kernel_row.iter_mut().zip(&totals) {
                        add_samples::<L, G>(l, w, total);
                    }
                }
            }
            let mut total = l.zero();
            for ow in 0..OW {
                let mut column = l.zero();
                for dz in dz {
                    column = l.add(column, l.load(&dz[ow]));
                }
                total = l.add(total, column);
            }
            add_samples::<L, G>(l, b, total);
        }
    }
});

/// The sums of the `N` output columns from `ow` for kernel row `kh`: for
/// each column and kernel column, `Σ dz · x` down the output rows `rows`, in
/// order — `N × K` independent sums in flight. Where `inside`, every window
/// lies inside the input, and each input row's vectors are loaded once for
/// the `N` columns where windows overlap; elsewhere a kernel column in the
/// padding meets zeros, as in one image's shifted rows.
#[inline(always)]
#[allow(clippy::too_many_arguments)] // the layer's shape, then the data
fn columns<
    L: Lanes,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const N: usize,
>(
    l: L,
    x: &[[Lane; W]; H],
    dz: &[[Lane; OW]; OH],
    rows: core::ops::Range<usize>,
    kh: usize,
    ow: usize,
    inside: bool,
) -> [[L::V; K]; N] {
    let mut columns = [[l.zero(); K]; N];
    for oh in rows {
        let x = &x[oh * S + kh - P];
        let dz = &dz[oh][ow..][..N];
        for (n, (columns, dz)) in columns.iter_mut().zip(dz).enumerate() {
            let g = l.load(dz);
            let first = (ow + n) * S;
            if inside {
                let x = &x[first - P..][..K];
                for (column, x) in columns.iter_mut().zip(x) {
                    *column = l.mul_add(*column, g, l.load(x));
                }
            } else {
                for (kw, column) in columns.iter_mut().enumerate() {
                    let x = match (first + kw).checked_sub(P) {
                        Some(iw) if iw < W => l.load(&x[iw]),
                        _ => l.zero(),
                    };
                    *column = l.mul_add(*column, g, x);
                }
            }
        }
    }
    columns
}

lane_work!(InputGradient<[[[Lane; OW]; OH]; CO], Image<C, H, W>> => {
    type Output = ();

    /// The bits of [`Conv2d::input_gradient`] for each sample, written into
    /// the caller's array.
    #[inline(always)]
    fn run<L: Lanes>(self, l: L) {
        let layer = self.layer;
        let dz = self.deltas;
        let mut dx: Side<C, H, W> = [[[[0.0; LANES]; W]; H]; C];
        for (ci, dx) in dx.iter_mut().enumerate() {
            for kw in 0..K {
                let (w0, w1) = valid_outputs(kw, W, OW, S, P);
                for oh in 0..OH {
                    for kh in 0..K {
                        let Some(ih) = input_row::<H, S, P>(oh, kh) else {
                            continue;
                        };
                        // Summed over output channel in order, every output
                        // column in flight together.
                        let mut sums = [l.zero(); OW];
                        for (dz, filter) in dz.iter().zip(layer.weights.iter()) {
                            let w = l.splat(filter[ci][kh][kw]);
                            for (sum, g) in sums.iter_mut().zip(&dz[oh]) {
                                *sum = l.mul_add(*sum, w, l.load(g));
                            }
                        }
                        for (ow, &sum) in sums.iter().enumerate().take(w1).skip(w0) {
                            let dx = &mut dx[ih][ow * S + kw - P];
                            l.store(dx, l.add(l.load(dx), sum));
                        }
                    }
                }
            }
        }
        apart(&dx, self.dxs);
    }
});

lane_work!(Gradient<Image<C, H, W>, Image<CO, OH, OW>> => {
    type Output = ();

    #[inline(always)]
    fn run<L: Lanes>(self, l: L) {
        let layer = self.layer;
        let mut deltas = [[[[0.0; LANES]; OW]; OH]; CO];
        for (co, dz) in deltas.iter_mut().enumerate() {
            channel_delta(l, &layer.activation, co, self.ys, self.dys, dz);
        }
        ParameterGradient {
            layer,
            gradients: self.gradients,
            xs: self.xs,
            ys: self.ys,
            dys: self.dys,
            deltas: Some(&deltas),
        }
        .run(l);
        InputGradient {
            layer,
            deltas: &deltas,
            dxs: self.dxs,
        }
        .run(l);
    }
});

#[cfg(test)]
mod tests {
    use crate::activation::{LeakyReLU, ReLU};
    use crate::conv::Conv2d;
    use crate::image::Image;
    use crate::module::{Module, Parameters, Train};

    /// Deterministic values in [−1, 1) with some exact zeros.
    fn value(i: usize) -> f32 {
        let v = (i.wrapping_mul(2_654_435_761) >> 7) % 997;
        if v.is_multiple_of(11) {
            0.0
        } else {
            v as f32 / 498.5 - 1.0
        }
    }

    fn image<const C: usize, const H: usize, const W: usize>(seed: usize) -> Image<C, H, W> {
        core::array::from_fn(|c| {
            core::array::from_fn(|h| {
                core::array::from_fn(|w| value(seed * 100_003 + (c * H + h) * W + w))
            })
        })
    }

    fn bits<L: Parameters>(layer: &L) -> Vec<u32> {
        let mut bits = Vec::new();
        layer.visit(&mut |p| bits.extend(p.iter().map(|v| v.to_bits())));
        bits
    }

    /// A group's gradients and input gradients are bit for bit those of its
    /// samples one after another, into a buffer that already holds a sum.
    fn same_bits<
        const C: usize,
        const H: usize,
        const W: usize,
        const CO: usize,
        const OH: usize,
        const OW: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        A: crate::activation::Activation,
    >() {
        const G: usize = 8;
        let mut layer = Conv2d::<C, H, W, CO, OH, OW, K, S, P, A>::zeros();
        let mut i = 0;
        layer.visit_mut(&mut |p| {
            for v in p {
                *v = value(i) / 2.0;
                i += 1;
            }
        });
        let mut start = layer.clone();
        start.visit_mut(&mut |p| p.iter_mut().for_each(|v| *v /= 3.0));
        let xs: [Image<C, H, W>; G] = core::array::from_fn(|s| image(s + 1));
        let ys: [Image<CO, OH, OW>; G] = core::array::from_fn(|s| layer.forward(&xs[s]));
        let dys: [Image<CO, OH, OW>; G] = core::array::from_fn(|s| image(s + 50));
        let flat = |y: &Image<CO, OH, OW>| -> Vec<u32> {
            y.as_flattened()
                .as_flattened()
                .iter()
                .map(|v| v.to_bits())
                .collect()
        };
        let traced = layer.forward_trace_group(xs.each_ref());
        for (a, b) in ys.iter().zip(&traced) {
            assert_eq!(flat(a), flat(b));
        }

        let mut one_by_one = start.clone();
        let dx_one: Vec<Image<C, H, W>> = (0..G)
            .map(|s| layer.gradient(&xs[s], &ys[s], &dys[s], &mut one_by_one))
            .collect();
        let mut grouped = start.clone();
        let dx_group =
            layer.gradient_group(xs.each_ref(), ys.each_ref(), dys.each_ref(), &mut grouped);
        assert_eq!(bits(&one_by_one), bits(&grouped));
        for (a, b) in dx_one.iter().zip(&dx_group) {
            let a = a.as_flattened().as_flattened().iter().map(|v| v.to_bits());
            let b = b.as_flattened().as_flattened().iter().map(|v| v.to_bits());
            assert!(a.eq(b));
        }
        let mut first = start.clone();
        layer.gradient_group_without_input_gradient(
            xs.each_ref(),
            ys.each_ref(),
            dys.each_ref(),
            &mut first,
        );
        assert_eq!(bits(&one_by_one), bits(&first));
    }

    /// A group of other than `LANES` samples goes one sample at a time.
    #[test]
    fn other_group_sizes_go_one_by_one() {
        type Layer = Conv2d<2, 6, 6, 3, 4, 4, 3, 1, 0, ReLU>;
        let mut layer = Layer::zeros();
        let mut i = 0;
        layer.visit_mut(&mut |p| {
            for v in p {
                *v = value(i);
                i += 1;
            }
        });
        let xs: [Image<2, 6, 6>; 3] = core::array::from_fn(|s| image(s + 1));
        let ys: [Image<3, 4, 4>; 3] = core::array::from_fn(|s| layer.forward(&xs[s]));
        let dys: [Image<3, 4, 4>; 3] = core::array::from_fn(|s| image(s + 9));
        assert_eq!(layer.forward_trace_group(xs.each_ref()), ys);
        let mut one_by_one = Layer::zeros();
        let dx_one: Vec<_> = (0..3)
            .map(|s| layer.gradient(&xs[s], &ys[s], &dys[s], &mut one_by_one))
            .collect();
        let mut grouped = Layer::zeros();
        let dx = layer.gradient_group(xs.each_ref(), ys.each_ref(), dys.each_ref(), &mut grouped);
        assert_eq!(bits(&one_by_one), bits(&grouped));
        assert_eq!(dx_one, dx);
        assert!(bits(&grouped).iter().any(|&b| b != 0));
    }

    #[test]
    fn a_group_is_its_samples_one_after_another() {
        same_bits::<1, 28, 28, 6, 28, 28, 5, 1, 2, ReLU>();
        same_bits::<6, 14, 14, 16, 10, 10, 5, 1, 0, ReLU>();
        same_bits::<1, 28, 28, 8, 13, 13, 3, 2, 0, ReLU>();
        same_bits::<2, 7, 9, 3, 4, 5, 3, 2, 1, LeakyReLU>();
        same_bits::<3, 5, 5, 2, 2, 2, 4, 3, 2, LeakyReLU>();
        same_bits::<2, 6, 6, 2, 8, 8, 1, 1, 1, ReLU>();
    }
}
