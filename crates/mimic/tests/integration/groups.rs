//! Mini-batches take their samples' backward passes in groups
//! (`Train::gradient_group`): `Dense` reads each weight row once per group.
//! The promise is that nothing changes but the speed: the gradients and the
//! input gradients are bit for bit those of one sample after another, on every
//! instruction set, for dense and sparse inputs, with the zeros a ReLU leaves
//! and sizes that fill and split the kernels' tiles.

use mimic::module::{SparseTrain, Train};
use mimic::{Dense, Identity, Initialize, Isa, LeakyReLU, Mse, Network, ReLU, SparseVector};
use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;

/// Sizes that are not multiples of any vector width.
type Odd = (
    Dense<37, 70, ReLU>,
    Dense<70, 33, LeakyReLU>,
    Dense<33, 5, Identity>,
);
/// The study's teacher, narrowed at the input.
type Wide = (
    Dense<100, 256, ReLU>,
    Dense<256, 256, ReLU>,
    Dense<256, 10, Identity>,
);

/// `S` inputs of length `N`, about `zeros` of their entries exactly zero.
fn inputs<const N: usize, const S: usize>(rng: &mut Pcg64, zeros: f32) -> [[f32; N]; S] {
    core::array::from_fn(|_| {
        core::array::from_fn(|_| {
            if rng.random::<f32>() < zeros {
                0.0
            } else {
                rng.random::<f32>() * 2.0 - 0.5
            }
        })
    })
}

fn bits<L: Train>(network: &L) -> Vec<u32> {
    let mut all = Vec::new();
    network.visit(&mut |p| all.extend(p.iter().map(|v| v.to_bits())));
    all
}

/// One group against the same samples one at a time, on every ISA: the
/// accumulated gradients (dense inputs, sparse inputs, and a first layer
/// that returns its input gradient) and every input gradient.
fn group_is_sequential<L, const N: usize, const S: usize, const O: usize>(seed: u64, zeros: f32)
where
    L: Train<Input = [f32; N], Output = [f32; O]> + SparseTrain<N> + Initialize + Clone,
{
    let mut rng = Pcg64::seed_from_u64(seed);
    let network: Network<Box<L>, _> = Network::seeded(seed, Mse);
    let layers = &network.layers;
    let xs: [[f32; N]; S] = inputs(&mut rng, zeros);
    let dys: [[f32; O]; S] = inputs(&mut rng, 0.1);
    let traces: Vec<L::Trace> = xs.iter().map(|x| layers.forward_trace(x)).collect();
    let sparse: Vec<(Vec<u32>, Vec<f32>)> = xs
        .iter()
        .map(|x| {
            (0..N)
                .filter(|&i| x[i] != 0.0)
                .map(|i| (i as u32, x[i]))
                .unzip()
        })
        .collect();
    let sparse: [SparseVector<'_, N>; S] =
        core::array::from_fn(|s| SparseVector::new(&sparse[s].0, &sparse[s].1).unwrap());
    let trace_refs: [&L::Trace; S] = core::array::from_fn(|s| &traces[s]);
    let dy_refs: [&[f32; O]; S] = core::array::from_fn(|s| &dys[s]);
    let zero = || Box::new((*network.layers).zeroed());
    for isa in [Isa::Portable, Isa::Avx2, Isa::Avx512] {
        Isa::force(isa);
        // Three gradients each, one per way in: dense with and without the
        // input gradient, and sparse.
        let mut one = [zero(), zero(), zero()];
        let mut group = [zero(), zero(), zero()];
        let mut dxs = Vec::new();
        for s in 0..S {
            dxs.push(layers.gradient(&xs[s], &traces[s], &dys[s], &mut one[0]));
            layers.gradient_without_input_gradient(&xs[s], &traces[s], &dys[s], &mut one[1]);
            layers.gradient_sparse(sparse[s], &traces[s], &dys[s], &mut one[2]);
        }
        let x_refs: [&[f32; N]; S] = core::array::from_fn(|s| &xs[s]);
        let group_dxs = layers.gradient_group(x_refs, trace_refs, dy_refs, &mut group[0]);
        layers.gradient_group_without_input_gradient(x_refs, trace_refs, dy_refs, &mut group[1]);
        layers.gradient_group_sparse(sparse, trace_refs, dy_refs, &mut group[2]);
        for (way, (a, b)) in one.iter().zip(&group).enumerate() {
            let (a, b) = (bits(&**a), bits(&**b));
            let first = a.iter().zip(&b).position(|(a, b)| a != b);
            assert!(
                first.is_none(),
                "gradient {way}, parameter {first:?}, {isa:?}, seed {seed}"
            );
        }
        for (s, (a, b)) in dxs.iter().zip(&group_dxs).enumerate() {
            let (a, b): (Vec<u32>, Vec<u32>) = (
                a.iter().map(|v| v.to_bits()).collect(),
                b.iter().map(|v| v.to_bits()).collect(),
            );
            assert_eq!(a, b, "input gradient of sample {s}, {isa:?}, seed {seed}");
        }
    }
    Isa::force(Isa::detect());
}

trait Zeroed {
    fn zeroed(&self) -> Self;
}

impl<L: Train + Clone> Zeroed for L {
    fn zeroed(&self) -> Self {
        let mut zero = self.clone();
        zero.visit_mut(&mut |p| p.fill(0.0));
        zero
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn a_group_is_one_sample_after_another(seed in any::<u64>(), zeros in 0.0f32..0.9) {
        group_is_sequential::<Odd, 37, 8, 5>(seed, zeros);
        group_is_sequential::<Odd, 37, 3, 5>(seed, zeros);
        group_is_sequential::<Wide, 100, 8, 10>(seed, zeros);
    }
}

#[test]
fn a_group_is_a_single_layer_too() {
    group_is_sequential::<Dense<300, 20, ReLU>, 300, 8, 20>(5, 0.5);
    group_is_sequential::<Dense<17, 1, Identity>, 17, 8, 1>(6, 0.0);
}
