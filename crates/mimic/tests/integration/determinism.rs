//! Same seed ⇒ bit-identical weights, outputs and training trajectories; the
//! He and Xavier initialisations have the deviations they promise.

use mimic::{CrossEntropy, Dense, Initialize, Initializer, Network, module::Parameters};

type Teacher = (Dense<784, 16>, Dense<16, 16>, Dense<16, 10>);
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;

fn bits<P: Parameters>(p: &P) -> Vec<u32> {
    let mut out = Vec::new();
    p.visit(&mut |s| out.extend(s.iter().map(|v| v.to_bits())));
    out
}

/// MNIST-like inputs: about 19% nonzero pixels with values k/255.
fn inputs(seed: u64, n: usize) -> Vec<([f32; 784], usize)> {
    let mut rng = Pcg64::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let x = core::array::from_fn(|_| {
                if rng.random::<f32>() < 0.19 {
                    f32::from(rng.random::<u8>()) / 255.0
                } else {
                    0.0
                }
            });
            (x, rng.random_range(0..10))
        })
        .collect()
}

#[test]
fn same_seed_same_everything() {
    let data = inputs(9, 3000);
    let run = || {
        let mut net: Network<Teacher, CrossEntropy> = Network::seeded(42, CrossEntropy);
        let initial = bits(&net.layers);
        let losses: Vec<u32> = data
            .iter()
            .map(|(x, c)| net.train_step(x, c, 0.03).unwrap().to_bits())
            .collect();
        let outputs: Vec<u32> = data
            .iter()
            .take(50)
            .flat_map(|(x, _)| net.forward(x))
            .map(f32::to_bits)
            .collect();
        (initial, losses, outputs, bits(&net.layers))
    };
    let (a, b) = (run(), run());
    assert_eq!(a.0, b.0, "initial weights");
    assert_eq!(a.1, b.1, "loss trajectory");
    assert_eq!(a.2, b.2, "outputs");
    assert_eq!(a.3, b.3, "final weights");
    let other: Network<Teacher, CrossEntropy> = Network::seeded(43, CrossEntropy);
    assert_ne!(a.0, bits(&other.layers), "another seed, other weights");
}

fn deviation(values: &[f32]) -> f64 {
    (values.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / values.len() as f64).sqrt()
}

#[test]
fn he_and_xavier_have_their_deviations() {
    let mut rng = Pcg64::seed_from_u64(5);
    let he = Dense::<784, 32>::initialize(Initializer::He, &mut rng);
    let xavier = Dense::<784, 32>::initialize(Initializer::Xavier, &mut rng);
    let seed = Dense::<784, 32>::initialize(Initializer::Original, &mut rng);
    let w = |l: &Dense<784, 32>| l.weights_transposed().as_flattened().to_vec();
    let ratio = |got: f64, want: f64| (got / want - 1.0).abs();
    assert!(ratio(deviation(&w(&he)), (2.0f64 / 784.0).sqrt()) < 0.03);
    assert!(ratio(deviation(&w(&xavier)), (2.0f64 / (784.0 + 32.0)).sqrt()) < 0.03);
    assert!(ratio(deviation(&w(&seed)), 1.0 / (784.0 * 32.0)) < 0.03);
    assert!(he.bias().iter().chain(xavier.bias()).all(|&b| b == 0.0));
    assert!(
        seed.bias().iter().any(|&b| b != 0.0),
        "the seed's scheme draws biases too"
    );
}
