//! Facts about the real MNIST files, fetched on first use.

use mimic_mnist::{Dataset, Split, ensure_mnist};

/// Where the tests keep MNIST: `$MIMIC_DATA_DIR`, or `data/mnist` at the repository root.
fn data_dir() -> std::path::PathBuf {
    std::env::var_os("MIMIC_DATA_DIR").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist"),
        std::path::PathBuf::from,
    )
}

#[test]
fn the_real_files_are_mnist() {
    let dir = ensure_mnist(data_dir()).expect("fetch MNIST");
    assert_eq!(ensure_mnist(&dir).expect("idempotent"), dir);
    let start = std::time::Instant::now();
    let train = Dataset::load_dir(&dir, Split::Train).unwrap();
    eprintln!("raw IDX training set loaded in {:?}", start.elapsed());
    let test = Dataset::load_dir(&dir, Split::Test).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_eq!(&train.labels()[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert_eq!(
        train.class_counts(),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        test.class_counts(),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    let nonzero = train.images().iter().flatten().filter(|&&p| p != 0).count();
    let density = nonzero as f64 / (60_000.0 * 784.0);
    assert!((density - 0.191).abs() < 0.001, "{density}");
}
