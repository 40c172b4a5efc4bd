//! A network far larger than a thread's stack is built, trained and used on the
//! heap (`Network<Box<L>, F>`). CI also runs this test in a debug build, where
//! nothing is optimised away and every temporary would be a real stack copy.

use mimic::{CrossEntropy, Dense, Network, Parameters, Schedule, SparseRows};

type Big = (Dense<784, 1024>, Dense<1024, 1024>, Dense<1024, 10>);

#[test]
fn a_784_1024_1024_10_network_trains_in_a_default_test_thread() {
    // 7.4 MB of parameters (1,863,690 of them) against a 2 MiB thread stack.
    let worker = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let mut net: Network<Box<Big>, _> = Network::seeded(3, CrossEntropy, 0.01);
            assert_eq!(net.layers.parameter_count(), 1_863_690);
            let inputs: Vec<[f32; 784]> = (0..8)
                .map(|k| core::array::from_fn(|i| if (i + k) % 7 == 0 { 0.5 } else { 0.0 }))
                .collect();
            let classes: Vec<usize> = (0..8).map(|k| k % 10).collect();
            let before = net.predict_batch(&inputs);
            net.train_step(&inputs[0], &classes[0]).unwrap();
            let sparse = SparseRows::from_dense(&inputs);
            let stats = net
                .fit(
                    &sparse,
                    &classes,
                    &Schedule::epochs(3).batch_size(4).momentum(0.9),
                )
                .unwrap();
            assert!(stats[2].mean_loss < stats[0].mean_loss, "{stats:?}");
            assert!(net.is_finite());
            assert_eq!(before.len(), 8);
        })
        .expect("spawn");
    worker.join().expect("trains without overflowing the stack");
}
