//! The portable, AVX2 and AVX-512 builds of the kernels train bit-identical
//! networks: the ISA changes the speed, never a single bit of the result.
//! (Its own test binary: `Isa::force` is process-wide.)

use mimic::data::{Dataset, Split, default_data_dir, ensure_mnist};
use mimic::kernels::Isa;
use mimic::models::Teacher;
use mimic::training::{Samples, accuracy, outputs, train_epoch};
use mimic::{CrossEntropy, Network, Parameters};

#[test]
fn every_isa_trains_the_same_bits() {
    let dir = ensure_mnist(&default_data_dir()).expect("fetch MNIST");
    let train = Samples::new(
        &Dataset::load_dir(&dir, Split::Train)
            .unwrap()
            .truncated(5_000),
    );
    let test = Samples::new(
        &Dataset::load_dir(&dir, Split::Test)
            .unwrap()
            .truncated(2_000),
    );
    let labels = train.class_targets();
    let run = |isa| {
        Isa::force(isa);
        let mut teacher: Network<Teacher, CrossEntropy> = Network::seeded(11, CrossEntropy, 0.03);
        let stats = train_epoch(&mut teacher, &train.images, &labels, None, 0).unwrap();
        let mut bits = Vec::new();
        teacher
            .layers
            .visit(&mut |p| bits.extend(p.iter().map(|v| v.to_bits())));
        let out: Vec<u32> = outputs(&teacher, &test.images)
            .iter()
            .flatten()
            .map(|v| v.to_bits())
            .collect();
        (
            stats.mean_loss.to_bits(),
            bits,
            out,
            accuracy(&teacher, &test).to_bits(),
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
