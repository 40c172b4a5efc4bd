//! Every kind of bad data file gets its own error, whose message names the file,
//! the place and what was expected — on small files each test writes.

use std::path::{Path, PathBuf};

use mimic_mnist::{Dataset, Error, ErrorKind, Position, Split};

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mimic-data-errors-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn row(label: &str, pixels: usize, fill: &str) -> String {
    std::iter::once(label.to_string())
        .chain(std::iter::repeat_n(fill.to_string(), pixels))
        .collect::<Vec<_>>()
        .join(",")
        + "\n"
}

fn csv_error(name: &str, text: &str) -> (Error, String) {
    let path = dir(name).join("mnist_train.csv");
    std::fs::write(&path, text).unwrap();
    let error = Dataset::from_csv(&path).unwrap_err();
    (error, path.display().to_string())
}

fn idx_header(magic: u32, dims: &[u32]) -> Vec<u8> {
    std::iter::once(magic)
        .chain(dims.iter().copied())
        .flat_map(u32::to_be_bytes)
        .collect()
}

fn idx_error(name: &str, images: &[u8], labels: &[u8]) -> (Error, String, String) {
    let d = dir(name);
    let (i, l) = (
        d.join("train-images-idx3-ubyte"),
        d.join("train-labels-idx1-ubyte"),
    );
    std::fs::write(&i, images).unwrap();
    std::fs::write(&l, labels).unwrap();
    let error = Dataset::from_idx(&i, &l).unwrap_err();
    (error, i.display().to_string(), l.display().to_string())
}

fn one_image() -> Vec<u8> {
    let mut bytes = idx_header(0x803, &[1, 28, 28]);
    bytes.extend([0u8; 784]);
    bytes
}

fn one_label(label: u8) -> Vec<u8> {
    let mut bytes = idx_header(0x801, &[1]);
    bytes.push(label);
    bytes
}

#[test]
fn missing_files_say_how_to_get_the_data() {
    let empty = dir("missing");
    let error = Dataset::load_dir(&empty, Split::Test).unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::Missing { .. }));
    let message = error.to_string();
    assert!(
        message.contains(&empty.display().to_string())
            && message.contains("t10k-images-idx3-ubyte"),
        "{message}"
    );
    assert!(!message.contains("--"), "no example's flags: {message}");
}

#[test]
fn empty_files() {
    let (error, path) = csv_error("empty-csv", "");
    assert_eq!(
        error.to_string(),
        format!("{path}: the file is empty, expected MNIST samples")
    );
    let (error, images, _) = idx_error("empty-idx", &[], &one_label(1));
    assert!(matches!(error.kind(), ErrorKind::Empty { .. }));
    assert_eq!(
        error.to_string(),
        format!("{images}: the file is empty, expected MNIST samples")
    );
}

#[test]
fn wrong_column_count_names_file_and_line() {
    let (error, path) = csv_error("columns", &(row("1", 784, "0") + &row("2", 783, "0")));
    assert!(
        matches!(error.kind(), ErrorKind::Columns { found: 784, .. }),
        "{error:?}"
    );
    assert_eq!(
        error.position(),
        Some(Position {
            line: Some(2),
            record: Some(2),
            ..Position::default()
        })
    );
    assert_eq!(
        error.to_string(),
        format!(
            "{path}: line 2, sample 2: expected 785 columns (label, then 784 pixels), found 784"
        )
    );
}

#[test]
fn bad_pixels_and_labels_name_line_and_column() {
    let mut text = row("4", 784, "0");
    text = text.replacen(",0", ",12.5", 1);
    let (error, path) = csv_error("pixel-float", &text);
    assert_eq!(
        error.to_string(),
        format!(
            "{path}: line 1, column 2, sample 1: expected a pixel value, an integer from 0 to 255, found \"12.5\""
        )
    );
    let (error, path) = csv_error("pixel-range", &(row("4", 784, "0") + &row("4", 784, "256")));
    assert_eq!(
        error.to_string(),
        format!(
            "{path}: line 2, column 2, sample 2: expected a pixel value, an integer from 0 to 255, found \"256\""
        )
    );
    let (error, path) = csv_error("label-range", &row("10", 784, "0"));
    assert_eq!(
        error.to_string(),
        format!(
            "{path}: line 1, column 1, sample 1: expected a label, an integer from 0 to 9, found \"10\""
        )
    );
    let (error, _, labels) = idx_error("idx-label", &one_image(), &one_label(12));
    assert_eq!(
        error.to_string(),
        format!(
            "{labels}: sample 1, byte 8: expected a label, an integer from 0 to 9, found \"12\""
        )
    );
}

#[test]
fn bad_magic() {
    let mut images = one_image();
    images[3] = 0x01;
    let (error, path, _) = idx_error("magic", &images, &one_label(1));
    assert_eq!(
        error.to_string(),
        format!(
            "{path}: not an MNIST IDX file: expected magic number 0x00000803, found 0x00000801"
        )
    );
}

#[test]
fn dimensions_other_than_28_by_28() {
    let mut images = idx_header(0x803, &[1, 32, 24]);
    images.extend([0u8; 32 * 24]);
    let (error, path, _) = idx_error("dims", &images, &one_label(1));
    assert_eq!(
        error.to_string(),
        format!("{path}: expected 28×28 images, found 32×24")
    );
}

#[test]
fn truncated_files() {
    let images = one_image();
    let (error, path, _) = idx_error("truncated", &images[..500], &one_label(1));
    assert_eq!(
        error.to_string(),
        format!("{path}: truncated or padded: the header implies 800 bytes, found 500")
    );
    let (error, _, labels) = idx_error("truncated-header", &images, &one_label(1)[..5]);
    assert_eq!(
        error.to_string(),
        format!("{labels}: truncated or padded: the header implies 8 bytes, found 5")
    );
}

#[test]
fn image_and_label_counts_must_agree() {
    let mut labels = idx_header(0x801, &[2]);
    labels.extend([1, 2]);
    let (error, images, labels) = idx_error("counts", &one_image(), &labels);
    assert_eq!(
        error.to_string(),
        format!("{images} holds 1 images but {labels} holds 2 labels: expected as many of each")
    );
}

#[test]
fn corrupt_gzip() {
    let d = dir("gzip");
    let data = Dataset::new(vec![[9u8; 784]], vec![3]).unwrap();
    let (i, l) = (
        d.join("train-images-idx3-ubyte.gz"),
        d.join("train-labels-idx1-ubyte.gz"),
    );
    data.write_idx(&i, &l, true).unwrap();
    assert_eq!(
        Dataset::load_dir(&d, Split::Train).unwrap(),
        data,
        "the gzip'd copy loads"
    );
    let mut bytes = std::fs::read(&i).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    bytes.truncate(bytes.len() - 4);
    std::fs::write(&i, &bytes).unwrap();
    let error = Dataset::load_dir(&d, Split::Train).unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::Gzip { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!("{}: corrupt gzip data", i.display())
    );
    assert!(
        std::error::Error::source(&error).is_some(),
        "the decoder's error is the source"
    );
}

#[test]
fn unreadable_path_is_an_io_error_naming_it() {
    let error = Dataset::from_csv(Path::new("/nonexistent/mnist_train.csv")).unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::Io { .. }));
    assert_eq!(
        error.to_string(),
        "/nonexistent/mnist_train.csv: cannot read or write the file"
    );
    let cause = std::error::Error::source(&error).expect("the OS error is the source");
    assert!(!error.to_string().contains(&cause.to_string()), "said once");
}

#[test]
fn line_numbers_hold_across_the_parallel_halves_of_a_large_file() {
    // Over 1 MB, so the loader parses two halves on two threads.
    let mut text: String = (0..2000)
        .map(|k| row(&(k % 10).to_string(), 784, "0"))
        .collect();
    let good = dir("large-good").join("mnist_train.csv");
    std::fs::write(&good, &text).unwrap();
    assert_eq!(Dataset::from_csv(&good).unwrap().len(), 2000);
    text = (0..2000)
        .map(|k| {
            if k == 1499 {
                row("1", 700, "0")
            } else {
                row("1", 784, "0")
            }
        })
        .collect();
    let (error, path) = csv_error("large-bad", &text);
    assert_eq!(
        error.to_string(),
        format!(
            "{path}: line 1500, sample 1500: expected 785 columns (label, then 784 pixels), found 701"
        )
    );
}
