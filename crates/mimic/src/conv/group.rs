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
use crate::kernels::lanes::{self, LANES, Lane, LaneWork, Lanes};

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
) -> [Image<C, H, W>; G] {
    let mut images = [[[[0.0; W]; H]; C]; G];
    for (s, image) in images.iter_mut().enumerate() {
        for (image, side) in image.iter_mut().zip(side) {
            for (row, side) in image.iter_mut().zip(side) {
                for (v, lane) in row.iter_mut().zip(side) {
                    *v = lane[s];
                }
            }
        }
    }
    images
}

/// `dz = f'(y) ⊙ dy` of output channel `co` for the group, side by side (the
/// same product as [`Conv2d::output_delta`] for each sample).
#[inline(always)]
fn channel_delta<
    A: Activation,
    const CO: usize,
    const OH: usize,
    const OW: usize,
    const G: usize,
>(
    activation: &A,
    co: usize,
    ys: [&Image<CO, OH, OW>; G],
    dys: [&Image<CO, OH, OW>; G],
) -> [[Lane; OW]; OH] {
    let mut dz = [[[0.0; LANES]; OW]; OH];
    for (s, (y, dy)) in ys.iter().zip(dys).enumerate() {
        for ((dz, y), dy) in dz.iter_mut().zip(&y[co]).zip(&dy[co]) {
            for ((dz, &y), &g) in dz.iter_mut().zip(y).zip(dy) {
                dz[s] = activation.derivative_at_output(y) * g;
            }
        }
    }
    dz
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
struct Forward<'a, Layer, X, const G: usize> {
    layer: &'a Layer,
    xs: [&'a X; G],
}

/// How many outputs of a row a forward pass keeps in flight: each is a chain
/// of dependent additions, and enough chains side by side keep the adders busy.
const OUTPUTS: usize = 8;

/// The group's parameter gradients, added into a gradient buffer.
struct ParameterGradient<'a, Layer, X, Y, const G: usize> {
    layer: &'a Layer,
    gradients: &'a mut Layer,
    xs: [&'a X; G],
    ys: [&'a Y; G],
    dys: [&'a Y; G],
}

/// The group's gradients at the layer's input.
struct InputGradient<'a, Layer, Y, const G: usize> {
    layer: &'a Layer,
    ys: [&'a Y; G],
    dys: [&'a Y; G],
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

lane_work!(Forward<Image<C, H, W>> => {
    type Output = [Image<CO, OH, OW>; G];

    /// The bits of [`Module::forward`](crate::Module::forward) for each
    /// sample: each output's sum over input channel, kernel row (those in the
    /// padding skipped) and kernel column (those in it adding `w · 0`), then
    /// the bias, then the activation.
    #[inline(always)]
    fn run<L: Lanes>(self, l: L) -> [Image<CO, OH, OW>; G] {
        let layer = self.layer;
        let x = side_by_side(self.xs);
        let inside = inside::<W, OW, K, S, P>();
        // Written straight into each sample's image (no side-by-side copy of
        // the outputs: a group's are the largest buffer here).
        let mut ys = [[[[0.0; OW]; OH]; CO]; G];
        for (co, (filter, &b)) in layer.weights.iter().zip(&layer.bias).enumerate() {
            for oh in 0..OH {
                for first in (0..OW).step_by(OUTPUTS) {
                    let count = OUTPUTS.min(OW - first);
                    let mut sums = [l.zero(); OUTPUTS];
                    let all_inside =
                        inside.contains(&first) && inside.contains(&(first + count - 1));
                    for (x, kernel) in x.iter().zip(filter) {
                        for (kh, kernel_row) in kernel.iter().enumerate() {
                            let Some(ih) = input_row::<H, S, P>(oh, kh) else {
                                continue;
                            };
                            let x = &x[ih];
                            for (kw, &w) in kernel_row.iter().enumerate() {
                                let w = l.splat(w);
                                for (j, sum) in sums.iter_mut().enumerate().take(count) {
                                    let ow = first + j;
                                    let x = if all_inside {
                                        l.load(&x[ow * S + kw - P])
                                    } else {
                                        match (ow * S + kw).checked_sub(P) {
                                            Some(iw) if iw < W => l.load(&x[iw]),
                                            _ => l.zero(),
                                        }
                                    };
                                    *sum = l.mul_add(*sum, w, x);
                                }
                            }
                        }
                    }
                    let b = l.splat(b);
                    for (j, &sum) in sums.iter().enumerate().take(count) {
                        let mut z = [0.0; LANES];
                        l.store(&mut z, l.add(sum, b));
                        for (y, &z) in ys.iter_mut().zip(&z) {
                            y[co][oh][first + j] = z;
                        }
                    }
                }
            }
        }
        for y in &mut ys {
            crate::image::activate(&layer.activation, y);
        }
        ys
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

lane_work!(ParameterGradient<Image<C, H, W>, Image<CO, OH, OW>> => {
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
            let dz = channel_delta(&self.layer.activation, co, self.ys, self.dys);
            for (x, kernel) in x.iter().zip(filter.iter_mut()) {
                for (kh, kernel_row) in kernel.iter_mut().enumerate() {
                    // Each weight's sum down every output column (the `K`
                    // kernel columns in flight together), then across the
                    // columns in order.
                    let mut totals = [l.zero(); K];
                    for ow in 0..OW {
                        let mut columns = [l.zero(); K];
                        for (oh, dz) in dz.iter().enumerate() {
                            let Some(ih) = input_row::<H, S, P>(oh, kh) else {
                                continue;
                            };
                            let g = l.load(&dz[ow]);
                            if inside.contains(&ow) {
                                let x = &x[ih][ow * S - P..][..K];
                                for (column, x) in columns.iter_mut().zip(x) {
                                    *column = l.mul_add(*column, g, l.load(x));
                                }
                            } else {
                                for (kw, column) in columns.iter_mut().enumerate() {
                                    // A column of the padding meets zeros, as
                                    // in one image's shifted rows.
                                    let x = match (ow * S + kw).checked_sub(P) {
                                        Some(iw) if iw < W => l.load(&x[ih][iw]),
                                        _ => l.zero(),
                                    };
                                    *column = l.mul_add(*column, g, x);
                                }
                            }
                        }
                        for (total, &column) in totals.iter_mut().zip(&columns) {
                            *total = l.add(*total, column);
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
                for dz in &dz {
                    column = l.add(column, l.load(&dz[ow]));
                }
                total = l.add(total, column);
            }
            add_samples::<L, G>(l, b, total);
        }
    }
});

lane_work!(InputGradient<Image<CO, OH, OW>> => {
    type Output = [Image<C, H, W>; G];

    /// The bits of [`Conv2d::input_gradient`] for each sample.
    #[inline(always)]
    fn run<L: Lanes>(self, l: L) -> [Image<C, H, W>; G] {
        let layer = self.layer;
        let dz: [[[Lane; OW]; OH]; CO] =
            core::array::from_fn(|co| channel_delta(&layer.activation, co, self.ys, self.dys));
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
        apart(&dx)
    }
});

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
> Conv2d<C, H, W, CO, OH, OW, K, S, P, A>
{
    /// Each sample's output, the bits of [`Module::forward`](crate::Module::forward)
    /// for each. `G` must be [`LANES`] (at most it, or this panics).
    #[inline(always)]
    pub(super) fn forward_group<const G: usize>(
        &self,
        xs: [&Image<C, H, W>; G],
    ) -> [Image<CO, OH, OW>; G] {
        lanes::run(Forward { layer: self, xs })
    }

    /// Adds a group's parameter gradients into `self` (a gradient buffer),
    /// the bits of one sample after another; `layer` is the network's layer.
    /// `G` must be [`LANES`] (at most it, or this panics).
    #[inline(always)]
    pub(super) fn add_gradient_group<const G: usize>(
        &mut self,
        layer: &Self,
        xs: [&Image<C, H, W>; G],
        ys: [&Image<CO, OH, OW>; G],
        dys: [&Image<CO, OH, OW>; G],
    ) {
        lanes::run(ParameterGradient {
            layer,
            gradients: self,
            xs,
            ys,
            dys,
        })
    }

    /// Each sample's `dx`, the bits of [`Conv2d::input_gradient`] for each.
    /// `G` must be [`LANES`] (at most it, or this panics).
    #[inline(always)]
    pub(super) fn input_gradient_group<const G: usize>(
        &self,
        ys: [&Image<CO, OH, OW>; G],
        dys: [&Image<CO, OH, OW>; G],
    ) -> [Image<C, H, W>; G] {
        lanes::run(InputGradient {
            layer: self,
            ys,
            dys,
        })
    }
}

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
