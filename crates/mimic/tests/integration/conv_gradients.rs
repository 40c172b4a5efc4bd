//! Gradients of the convolutional layers against central finite differences of
//! an independent f64 reference (see `gradients.rs` for why f64): a convolution
//! (Sigmoid, so smooth), a max or average pool, a flatten and a dense layer,
//! for shapes with and without padding, strides 1 to 3, overlapping and
//! separate pooling windows. Every weight, bias and input is differenced.

use mimic::module::{Parameters, Train};
use mimic::pool::{Max, Mean, Pool2d, Pooling};
use mimic::{Conv2d, Dense, DepthwiseConv2d, Flatten, Identity, Image, Loss, Mse, Sigmoid};
use proptest::prelude::*;

/// The network under test.
type Net<
    const C: usize,
    const H: usize,
    const W: usize,
    const CO: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const PH: usize,
    const PW: usize,
    const PK: usize,
    const PS: usize,
    const N: usize,
    F,
> = (
    Conv2d<C, H, W, CO, OH, OW, K, S, P, Sigmoid>,
    Pool2d<CO, OH, OW, PH, PW, PK, PS, F>,
    Flatten<CO, PH, PW, N>,
    Dense<N, 3, Identity>,
);

/// The sizes of one case, at run time, for the reference.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    c: usize,
    h: usize,
    w: usize,
    co: usize,
    oh: usize,
    ow: usize,
    k: usize,
    s: usize,
    p: usize,
    ph: usize,
    pw: usize,
    pk: usize,
    ps: usize,
    max: bool,
    /// One filter per channel (`co = c`) instead of `co` filters over every channel.
    depthwise: bool,
}

/// The convolution's pre-activation, by its definition (padding reads 0).
fn ref_conv(z: Sizes, weights: &[f64], bias: &[f64], x: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; z.co * z.oh * z.ow];
    for co in 0..z.co {
        for oh in 0..z.oh {
            for ow in 0..z.ow {
                let mut sum = bias[co];
                for ci in 0..z.c {
                    for kh in 0..z.k {
                        for kw in 0..z.k {
                            let ih = (oh * z.s + kh) as isize - z.p as isize;
                            let iw = (ow * z.s + kw) as isize - z.p as isize;
                            let inside =
                                (0..z.h as isize).contains(&ih) && (0..z.w as isize).contains(&iw);
                            if inside && (!z.depthwise || ci == co) {
                                let filter = if z.depthwise { co } else { co * z.c + ci };
                                let w = weights[(filter * z.k + kh) * z.k + kw];
                                sum += w * x[(ci * z.h + ih as usize) * z.w + iw as usize];
                            }
                        }
                    }
                }
                out[(co * z.oh + oh) * z.ow + ow] = sum;
            }
        }
    }
    out
}

/// The pool of `y` (`co × oh × ow`), and the smallest gap between a max
/// window's largest value and its runner-up (∞ for average pools).
fn ref_pool(z: Sizes, y: &[f64]) -> (Vec<f64>, f64) {
    let mut out = Vec::new();
    let mut gap = f64::INFINITY;
    for c in 0..z.co {
        for ph in 0..z.ph {
            for pw in 0..z.pw {
                let mut window: Vec<f64> = (0..z.pk)
                    .flat_map(|kh| (0..z.pk).map(move |kw| (kh, kw)))
                    .map(|(kh, kw)| y[(c * z.oh + ph * z.ps + kh) * z.ow + pw * z.ps + kw])
                    .collect();
                if z.max {
                    window.sort_by(|a, b| b.total_cmp(a));
                    if window.len() > 1 {
                        gap = gap.min(window[0] - window[1]);
                    }
                    out.push(window[0]);
                } else {
                    out.push(window.iter().sum::<f64>() / window.len() as f64);
                }
            }
        }
    }
    (out, gap)
}

/// The loss of the whole network from its flat parameters (mimic's order:
/// conv weights, conv biases, dense `Wᵀ`, dense bias) and the pools' gap.
fn ref_loss(z: Sizes, params: &[f64], x: &[f64], target: &[f64; 3]) -> (f64, f64) {
    let conv_weights = if z.depthwise { z.co } else { z.co * z.c } * z.k * z.k;
    let (weights, rest) = params.split_at(conv_weights);
    let (bias, rest) = rest.split_at(z.co);
    let y: Vec<f64> = ref_conv(z, weights, bias, x)
        .iter()
        .map(|v| 1.0 / (1.0 + (-v).exp()))
        .collect();
    let (flat, gap) = ref_pool(z, &y);
    let n = flat.len();
    let (dense_t, dense_bias) = rest.split_at(n * 3);
    let loss = (0..3)
        .map(|o| {
            let out = dense_bias[o] + (0..n).map(|i| dense_t[i * 3 + o] * flat[i]).sum::<f64>();
            (out - target[o]).powi(2)
        })
        .sum::<f64>()
        / 3.0;
    (loss, gap)
}

fn flat_parameters(net: &impl Parameters) -> Vec<f32> {
    let mut all = Vec::new();
    net.visit(&mut |p| all.extend_from_slice(p));
    all
}

/// Checks every parameter's and every input's gradient for the network with
/// parameters `values` (cycled) and input `pixels` (cycled).
#[allow(clippy::too_many_arguments)]
fn check<
    const C: usize,
    const H: usize,
    const W: usize,
    const CO: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const PH: usize,
    const PW: usize,
    const PK: usize,
    const PS: usize,
    const N: usize,
    F: Pooling,
>(
    values: &[f32],
    pixels: &[f32],
    target: [f32; 3],
) -> Result<(), TestCaseError> {
    let sizes = Sizes {
        c: C,
        h: H,
        w: W,
        co: CO,
        oh: OH,
        ow: OW,
        k: K,
        s: S,
        p: P,
        ph: PH,
        pw: PW,
        pk: PK,
        ps: PS,
        max: F::NAME == "MaxPool2d",
        depthwise: false,
    };
    check_network::<Net<C, H, W, CO, OH, OW, K, S, P, PH, PW, PK, PS, N, F>, C, H, W>(
        sizes, values, pixels, target,
    )
}

/// As [`check`], with a depthwise convolution first.
#[allow(clippy::too_many_arguments)]
fn check_depthwise<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const PH: usize,
    const PW: usize,
    const PK: usize,
    const PS: usize,
    const N: usize,
    F: Pooling,
>(
    values: &[f32],
    pixels: &[f32],
    target: [f32; 3],
) -> Result<(), TestCaseError> {
    let sizes = Sizes {
        c: C,
        h: H,
        w: W,
        co: C,
        oh: OH,
        ow: OW,
        k: K,
        s: S,
        p: P,
        ph: PH,
        pw: PW,
        pk: PK,
        ps: PS,
        max: F::NAME == "MaxPool2d",
        depthwise: true,
    };
    type Depthwise<
        const C: usize,
        const H: usize,
        const W: usize,
        const OH: usize,
        const OW: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const PH: usize,
        const PW: usize,
        const PK: usize,
        const PS: usize,
        const N: usize,
        F,
    > = (
        DepthwiseConv2d<C, H, W, OH, OW, K, S, P, Sigmoid>,
        Pool2d<C, OH, OW, PH, PW, PK, PS, F>,
        Flatten<C, PH, PW, N>,
        Dense<N, 3, Identity>,
    );
    check_network::<Depthwise<C, H, W, OH, OW, K, S, P, PH, PW, PK, PS, N, F>, C, H, W>(
        sizes, values, pixels, target,
    )
}

/// Checks every gradient of `Net` (a convolution, a pool, a flatten and a
/// dense layer of `sizes`) against the f64 reference.
fn check_network<Net, const C: usize, const H: usize, const W: usize>(
    sizes: Sizes,
    values: &[f32],
    pixels: &[f32],
    target: [f32; 3],
) -> Result<(), TestCaseError>
where
    Net: Train<Input = Image<C, H, W>, Output = [f32; 3]> + Default + Clone + PartialEq,
{
    let mut net: Net = Default::default();
    let mut next = values.iter().cycle();
    net.visit_mut(&mut |p| p.iter_mut().for_each(|v| *v = *next.next().unwrap()));
    let mut next = pixels.iter().cycle();
    let x: Image<C, H, W> = core::array::from_fn(|_| {
        core::array::from_fn(|_| core::array::from_fn(|_| *next.next().unwrap()))
    });

    // mimic's gradients.
    let trace = net.forward_trace(&x);
    let output = Net::traced_output(&trace);
    let (loss, dy) = Mse.loss_and_gradient(output, &target).unwrap();
    let mut gradients: Net = Default::default();
    let dx = net.gradient(&x, &trace, &dy, &mut gradients);
    let analytic = flat_parameters(&gradients);

    // The f64 reference at the same point, and its finite differences.
    let mut params: Vec<f64> = flat_parameters(&net)
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    let mut input: Vec<f64> = x
        .as_flattened()
        .as_flattened()
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    let (reference, gap) = ref_loss(sizes, &params, &input, &target.map(f64::from));
    prop_assume!(gap > 1e-3, "a max window is nearly tied");
    prop_assert!(
        (reference - f64::from(loss)).abs() <= 1e-4 * reference.abs() + 1e-6,
        "the reference is another function: {reference} vs {loss}"
    );
    let h = 1e-6;
    let difference = |values: &mut Vec<f64>, i: usize, other: &[f64], params_first: bool| {
        let x0 = values[i];
        let at = |v: f64, values: &mut Vec<f64>| {
            values[i] = v;
            if params_first {
                ref_loss(sizes, values, other, &target.map(f64::from)).0
            } else {
                ref_loss(sizes, other, values, &target.map(f64::from)).0
            }
        };
        let d = (at(x0 + h, values) - at(x0 - h, values)) / (2.0 * h);
        values[i] = x0;
        d
    };
    let numeric: Vec<f64> = (0..params.len())
        .map(|i| {
            let other = input.clone();
            difference(&mut params, i, &other, true)
        })
        .collect();
    let numeric_dx: Vec<f64> = (0..input.len())
        .map(|i| {
            let other = params.clone();
            difference(&mut input, i, &other, false)
        })
        .collect();

    let scale = numeric
        .iter()
        .chain(&numeric_dx)
        .fold(0.0f64, |m, v| m.max(v.abs()));
    let tolerance = |r: f64| 2e-3 * r.abs() + 1e-4 * scale + 1e-6;
    for (i, (&a, &r)) in analytic.iter().zip(&numeric).enumerate() {
        prop_assert!(
            (f64::from(a) - r).abs() <= tolerance(r),
            "parameter {i}: analytic {a:e}, finite difference {r:e}"
        );
    }
    for (i, (&a, &r)) in dx
        .as_flattened()
        .as_flattened()
        .iter()
        .zip(&numeric_dx)
        .enumerate()
    {
        prop_assert!(
            (f64::from(a) - r).abs() <= tolerance(r),
            "input {i}: analytic {a:e}, finite difference {r:e}"
        );
    }
    Ok(())
}

fn values() -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(-0.8f32..0.8, 97)
}

fn pixels() -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(-1.0f32..1.0, 89)
}

fn target() -> impl Strategy<Value = [f32; 3]> {
    prop::array::uniform3(-1.0f32..1.0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Padding 1, stride 1; separate 2 × 2 max windows.
    #[test]
    fn padded_convolution_then_max_pool(v in values(), x in pixels(), t in target()) {
        check::<1, 6, 6, 2, 6, 6, 3, 1, 1, 3, 3, 2, 2, 18, Max>(&v, &x, t)?;
    }

    /// Stride 2 that leaves a column unread; 1 × 1 average "pool".
    #[test]
    fn strided_convolution_then_identity_pool(v in values(), x in pixels(), t in target()) {
        check::<2, 7, 5, 3, 3, 2, 3, 2, 0, 3, 2, 1, 1, 18, Mean>(&v, &x, t)?;
    }

    /// A 2 × 2 kernel; overlapping average windows (stride 1).
    #[test]
    fn overlapping_average_windows(v in values(), x in pixels(), t in target()) {
        check::<3, 5, 6, 2, 4, 5, 2, 1, 0, 3, 4, 2, 1, 24, Mean>(&v, &x, t)?;
    }

    /// Stride 2 with padding 1; max windows.
    #[test]
    fn strided_padded_convolution(v in values(), x in pixels(), t in target()) {
        check::<2, 8, 8, 2, 4, 4, 3, 2, 1, 2, 2, 2, 2, 8, Max>(&v, &x, t)?;
    }

    /// A kernel as large as the image with padding 2; overlapping 3 × 3 max windows, stride 2.
    #[test]
    fn large_kernel_overlapping_max_windows(v in values(), x in pixels(), t in target()) {
        check::<1, 5, 5, 1, 5, 5, 5, 1, 2, 2, 2, 3, 2, 4, Max>(&v, &x, t)?;
    }

    /// Stride 3, padding 1, a non-square input.
    #[test]
    fn stride_three(v in values(), x in pixels(), t in target()) {
        check::<2, 9, 7, 2, 3, 2, 4, 3, 1, 3, 2, 1, 1, 12, Mean>(&v, &x, t)?;
    }

    /// A depthwise convolution, padding 1; separate max windows.
    #[test]
    fn depthwise_padded(v in values(), x in pixels(), t in target()) {
        check_depthwise::<3, 6, 6, 6, 6, 3, 1, 1, 3, 3, 2, 2, 27, Max>(&v, &x, t)?;
    }

    /// A depthwise convolution, stride 2, non-square; overlapping average windows.
    #[test]
    fn depthwise_strided(v in values(), x in pixels(), t in target()) {
        check_depthwise::<2, 9, 7, 4, 3, 3, 2, 0, 3, 2, 2, 1, 12, Mean>(&v, &x, t)?;
    }
}
