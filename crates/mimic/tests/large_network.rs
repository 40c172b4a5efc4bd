//! A network far larger than a thread's stack is built, trained and used on the
//! heap (`Network<Box<L>, F>`). CI also runs this test in a debug build, where
//! nothing is optimised away and every temporary would be a real stack copy.
//! (Its own test binary, so that the debug build compiles this file alone.)

use mimic::{CrossEntropy, Dense, Momentum, Network, Schedule, SparseRows, module::Parameters};

type Big = (Dense<784, 1024>, Dense<1024, 1024>, Dense<1024, 10>);

#[test]
fn a_784_1024_1024_10_network_trains_in_a_default_test_thread() {
    // 7.4 MB of parameters (1,863,690 of them) against a 2 MiB thread stack.
    let worker = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let mut net: Network<Box<Big>, _> = Network::seeded(3, CrossEntropy);
            assert_eq!(net.layers.parameter_count(), 1_863_690);
            let inputs: Vec<[f32; 784]> = (0..8)
                .map(|k| core::array::from_fn(|i| if (i + k) % 7 == 0 { 0.5 } else { 0.0 }))
                .collect();
            let classes: Vec<usize> = (0..8).map(|k| k % 10).collect();
            let before = net.predict_batch(&inputs, 1);
            net.train_step(&inputs[0], &classes[0], 0.01).unwrap();
            let sparse = SparseRows::from_dense(&inputs);
            let stats = net
                .fit(
                    &sparse,
                    &classes,
                    &Schedule::new(Momentum::new(0.01)).epochs(3).batch_size(4),
                )
                .unwrap();
            assert!(stats[2].mean_loss < stats[0].mean_loss, "{stats:?}");
            assert!(net.is_finite());
            assert_eq!(before.len(), 8);
        })
        .expect("spawn");
    worker.join().expect("trains without overflowing the stack");
}

/// The study's strong teacher, 784→256→256→10 (1.07 MB of parameters), held by
/// value — not boxed — trains through `fit` with Adam in a 2 MiB thread: `fit`
/// keeps its gradient and moment buffers (three more networks' worth) on the
/// heap, and the stack holds only the network and one sample's activations.
/// In an optimised build only: a debug build copies every moved value through
/// the stack (a network built by value is there two or three times), which is
/// what the boxed network above is for.
#[cfg(not(debug_assertions))]
#[test]
fn a_784_256_256_10_network_by_value_trains_in_a_default_test_thread() {
    use mimic::{Adam, Identity};

    type Wide = (Dense<784, 256>, Dense<256, 256>, Dense<256, 10, Identity>);
    let worker = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let mut net: Network<Wide, _> = Network::seeded(4, CrossEntropy);
            let inputs: Vec<[f32; 784]> = (0..64)
                .map(|k| core::array::from_fn(|i| if (i + k) % 5 == 0 { 0.5 } else { 0.0 }))
                .collect();
            let classes: Vec<usize> = (0..64).map(|k| k % 10).collect();
            let schedule = Schedule::new(Adam::new(1e-3))
                .epochs(3)
                .batch_size(16)
                .shuffled(1);
            let stats = net.fit(&inputs, &classes, &schedule).unwrap();
            assert!(stats[2].mean_loss < stats[0].mean_loss, "{stats:?}");
            assert!(net.is_finite());
        })
        .expect("spawn");
    worker.join().expect("trains without overflowing the stack");
}
