//! Files that are well formed but hold no samples are errors, not empty data
//! sets: an IDX header counting 0, and a CSV of nothing but blank lines.

use mimic_mnist::{Dataset, ErrorKind};

fn header(magic: u32, dims: &[u32]) -> Vec<u8> {
    std::iter::once(magic)
        .chain(dims.iter().copied())
        .flat_map(u32::to_be_bytes)
        .collect()
}

fn one_label() -> Vec<u8> {
    let mut bytes = header(0x801, &[1]);
    bytes.push(7);
    bytes
}

fn one_image() -> Vec<u8> {
    let mut bytes = header(0x803, &[1, 28, 28]);
    bytes.extend([0; 784]);
    bytes
}

#[test]
fn idx_images_counting_zero() {
    let images = header(0x803, &[0, 28, 28]);
    let error = Dataset::from_idx_bytes(&images, &header(0x801, &[0]), ("i", "l")).unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::ZeroSamples { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "i: the header says the file holds 0 samples, expected MNIST samples"
    );
}

#[test]
fn idx_labels_counting_zero() {
    let error =
        Dataset::from_idx_bytes(&one_image(), &header(0x801, &[0]), ("i", "l")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "l: the header says the file holds 0 samples, expected MNIST samples"
    );
    assert!(Dataset::from_idx_bytes(&one_image(), &one_label(), ("i", "l")).is_ok());
}

#[test]
fn gzip_idx_counting_zero() {
    let dir = std::env::temp_dir().join(format!("mimic-zero-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (i, l) = (dir.join("i.gz"), dir.join("l.gz"));
    Dataset::default().write_idx(&i, &l, true).unwrap();
    let error = Dataset::from_idx(&i, &l).unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::ZeroSamples { .. }),
        "{error:?}"
    );
    assert_eq!(error.path(), i);
}

#[test]
fn csv_of_blank_lines() {
    for text in ["", "\n", "\n\n\r\n", "\r"] {
        let error = Dataset::from_csv_reader(text.as_bytes(), "b.csv").unwrap_err();
        assert!(
            matches!(error.kind(), ErrorKind::Empty { .. }),
            "{text:?}: {error:?}"
        );
        assert_eq!(
            error.to_string(),
            "b.csv: the file is empty, expected MNIST samples"
        );
    }
}
