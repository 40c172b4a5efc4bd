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

/// The real test set loads to the same data from every format a user may have:
/// gzip'd in two members beside raw labels, and CSV with a header row, `\r\n`
/// line endings and a byte-order mark (about 18 MB, parsed in batches on two
/// threads).
#[test]
fn every_format_of_the_real_test_set_agrees() {
    use std::io::Write;

    let dir = ensure_mnist(data_dir()).expect("fetch MNIST");
    let raw = Dataset::load_dir(&dir, Split::Test).unwrap();
    let out = std::env::temp_dir().join(format!("mimic-real-formats-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let images = std::fs::read(dir.join("t10k-images-idx3-ubyte")).unwrap();
    let mut members = Vec::new();
    for part in images.chunks(images.len() / 2 + 1) {
        let mut encoder = flate2::write::GzEncoder::new(&mut members, flate2::Compression::fast());
        encoder.write_all(part).unwrap();
        encoder.finish().unwrap();
    }
    std::fs::write(out.join("t10k-images-idx3-ubyte.gz"), members).unwrap();
    std::fs::copy(
        dir.join("t10k-labels-idx1-ubyte"),
        out.join("t10k-labels-idx1-ubyte"),
    )
    .unwrap();
    assert_eq!(Dataset::load_dir(&out, Split::Test).unwrap(), raw);

    let csv = out.join("plain.csv");
    raw.write_csv(&csv).unwrap();
    let header: String = std::iter::once("label".to_string())
        .chain((0..784).map(|k| format!("pixel{k}")))
        .collect::<Vec<_>>()
        .join(",");
    let text = std::fs::read_to_string(&csv).unwrap();
    let dos = format!("\u{feff}{header}\r\n{}", text.replace('\n', "\r\n"));
    std::fs::write(&csv, dos).unwrap();
    let start = std::time::Instant::now();
    assert_eq!(Dataset::from_csv(&csv).unwrap(), raw);
    eprintln!(
        "CSV test set with a header and CRLF loaded in {:?}",
        start.elapsed()
    );
    std::fs::remove_dir_all(&out).unwrap();
}
