//! The portable, AVX2 and AVX-512 builds of the kernels train bit-identical
//! networks: the ISA changes the speed, never a single bit of the result.
//! (Its own test binary: `Isa::force` is process-wide.)

use mimic::{
    Adam, Conv2d, CrossEntropy, Dense, Flatten, Identity, Initializer, Isa, MaxPool2d, Network,
    ReLU, Schedule, Sgd, images, module::Parameters,
};
use mimic_experiments::cli;
use mimic_experiments::experiment::Samples;
use mimic_experiments::models::Teacher;
use mimic_mnist::Scaling;

/// A small convolutional network: every convolution kernel path (a padded,
/// strided first layer; a second with rows narrow enough to be blocked).
type SmallCnn = (
    Conv2d<1, 28, 28, 6, 14, 14, 4, 2, 1, ReLU>,
    MaxPool2d<6, 14, 14, 7, 7, 2>,
    Conv2d<6, 7, 7, 8, 5, 5, 3, 1, 0, ReLU>,
    Flatten<8, 5, 5, 200>,
    Dense<200, 10, Identity>,
);

#[test]
fn every_isa_trains_the_same_bits() {
    let (train, test) = cli::mnist();
    let train = Samples::new(&train.truncated(5_000), Scaling::Divide255);
    let test = Samples::new(&test.truncated(2_000), Scaling::Divide255);
    let dense: Vec<[f32; 784]> = (0..2_000)
        .map(|k| train.inputs.get(k).unwrap().to_dense())
        .collect();
    let run = |isa| {
        Isa::force(isa);
        let mut cnn: Network<Box<SmallCnn>, CrossEntropy> = Network::seeded(5, CrossEntropy);
        let cnn_stats = cnn
            .fit(
                images::<1, 28, 28, 784>(&dense),
                &train.classes[..dense.len()],
                &Schedule::new(Adam::new(1e-3)).batch_size(32).shuffled(3),
            )
            .unwrap()[0];
        let mut teacher: Network<Teacher, CrossEntropy> =
            Network::seeded_with(Initializer::Original, 11, CrossEntropy);
        let stats = teacher
            .fit(
                &train.inputs,
                &train.classes,
                &Schedule::new(Sgd::new(0.03)),
            )
            .unwrap()[0];
        // Single steps from user code are dispatched on their own (not inside
        // an epoch's loop): dense, sparse, and accumulated.
        let mut stepped: Network<Teacher, CrossEntropy> =
            Network::seeded_with(Initializer::Original, 12, CrossEntropy);
        let mut gradients = stepped.layers.clone();
        gradients.visit_mut(&mut |p| p.fill(0.0));
        let mut losses = Vec::new();
        for k in 0..500 {
            let (input, class) = (train.inputs.get(k).unwrap(), &train.classes[k]);
            losses.push(stepped.train_step(input, class, 0.03).unwrap().to_bits());
            let dense = input.to_dense();
            losses.push(stepped.train_step(&dense, class, 0.03).unwrap().to_bits());
            let loss = stepped.accumulate_gradient(input, class, &mut gradients);
            losses.push(loss.unwrap().to_bits());
        }
        let mut bits = losses;
        for net in [&teacher.layers, &stepped.layers, &gradients] {
            net.visit(&mut |p| bits.extend(p.iter().map(|v| v.to_bits())));
        }
        bits.push(cnn_stats.mean_loss.to_bits() as u32);
        cnn.layers
            .visit(&mut |p| bits.extend(p.iter().map(|v| v.to_bits())));
        let out: Vec<u32> = teacher
            .forward_batch(&test.inputs, 1)
            .iter()
            .flatten()
            .map(|v| v.to_bits())
            .collect();
        (
            stats.mean_loss.to_bits(),
            bits,
            out,
            teacher.accuracy(&test.inputs, &test.classes).to_bits(),
        )
    };
    let portable = run(Isa::Portable);
    let avx2 = run(Isa::Avx2);
    let avx512 = run(Isa::Avx512);
    Isa::force(Isa::detect());
    assert!(portable == avx2, "portable and AVX2 differ");
    assert!(portable == avx512, "portable and AVX-512 differ");
    eprintln!("compared on {:?} (the widest this CPU has)", Isa::detect());
}
