//! IDX files as users have them: gzip'd in several members (`cat a.gz b.gz`),
//! and a directory with one file of the pair raw and the other gzip'd. Bytes
//! after the gzip data are an error, and a directory with half a pair says which
//! half it found.

use std::io::Write;
use std::path::PathBuf;

use flate2::Compression;
use flate2::write::GzEncoder;
use mimic_mnist::{Dataset, ErrorKind, Split};

fn data() -> Dataset {
    let images = (0..5)
        .map(|k| core::array::from_fn(|i| ((i * 3 + k * 17) % 256) as u8))
        .collect();
    Dataset::new(images, vec![0, 4, 9, 2, 7]).unwrap()
}

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mimic-idx-formats-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The raw IDX bytes of `data()`: (images, labels).
fn raw(test: &str) -> (Vec<u8>, Vec<u8>) {
    let d = dir(&format!("raw-{test}"));
    let (i, l) = (d.join("i"), d.join("l"));
    data().write_idx(&i, &l, false).unwrap();
    (std::fs::read(i).unwrap(), std::fs::read(l).unwrap())
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn gzip_members_concatenated_are_one_stream() {
    let (images, labels) = raw("gzip_members_concatenated_are_one_stream");
    // Cut inside the header, inside an image, and between images.
    for cuts in [
        vec![5],
        vec![1000],
        vec![16 + 784, 16 + 3 * 784],
        vec![1, 2, 3],
    ] {
        let mut members = Vec::new();
        let mut from = 0;
        for &to in cuts.iter().chain([images.len()].iter()) {
            members.extend(gz(&images[from..to]));
            from = to;
        }
        let loaded = Dataset::from_idx_bytes(&members, &gz(&labels), ("i", "l"));
        assert_eq!(loaded.unwrap(), data(), "{cuts:?}");
    }
    let (a, b) = labels.split_at(9);
    let labels = [gz(a), gz(b)].concat();
    assert_eq!(
        Dataset::from_idx_bytes(&gz(&images), &labels, ("i", "l")).unwrap(),
        data()
    );
}

#[test]
fn bytes_after_the_gzip_data_are_an_error() {
    let (images, labels) = raw("bytes_after_the_gzip_data_are_an_error");
    for garbage in [&b"garbage"[..], b"\n", &[0; 512], &[0x1f, 0x8b]] {
        let padded = [gz(&images), garbage.to_vec()].concat();
        let error = Dataset::from_idx_bytes(&padded, &gz(&labels), ("i", "l")).unwrap_err();
        assert!(
            matches!(error.kind(), ErrorKind::Gzip { .. }),
            "{garbage:?}: {error:?}"
        );
        assert_eq!(error.to_string(), "i: corrupt gzip data");
        let padded = [gz(&labels), garbage.to_vec()].concat();
        let error = Dataset::from_idx_bytes(&gz(&images), &padded, ("i", "l")).unwrap_err();
        assert!(matches!(error.kind(), ErrorKind::Gzip { .. }), "{error:?}");
    }
}

#[test]
fn a_directory_may_mix_raw_and_gzip() {
    let (images, labels) = raw("a_directory_may_mix_raw_and_gzip");
    for (name, images_gz, labels_gz) in [("raw-gz", false, true), ("gz-raw", true, false)] {
        let d = dir(name);
        let write = |file: &str, bytes: &[u8], gzip: bool| {
            let (path, bytes) = if gzip {
                (d.join(format!("{file}.gz")), gz(bytes))
            } else {
                (d.join(file), bytes.to_vec())
            };
            std::fs::write(path, bytes).unwrap();
        };
        write("t10k-images-idx3-ubyte", &images, images_gz);
        write("t10k-labels-idx1-ubyte", &labels, labels_gz);
        assert_eq!(
            Dataset::load_dir(&d, Split::Test).unwrap(),
            data(),
            "{name}"
        );
    }
}

#[test]
fn half_a_pair_is_named() {
    let (images, labels) = raw("half_a_pair_is_named");
    let d = dir("images-only");
    let found = d.join("train-images-idx3-ubyte");
    std::fs::write(&found, &images).unwrap();
    let error = Dataset::load_dir(&d, Split::Train).unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::Incomplete { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "MNIST incomplete in {}: found {}, but not train-labels-idx1-ubyte (or train-labels-idx1-ubyte.gz): expected both IDX files",
            d.display(),
            found.display()
        )
    );
    let d = dir("labels-only");
    let found = d.join("t10k-labels-idx1-ubyte.gz");
    std::fs::write(&found, gz(&labels)).unwrap();
    let error = Dataset::load_dir(&d, Split::Test).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "MNIST incomplete in {}: found {}, but not t10k-images-idx3-ubyte (or t10k-images-idx3-ubyte.gz): expected both IDX files",
            d.display(),
            found.display()
        )
    );
    // A complete CSV beside half a pair is loaded instead.
    data().write_csv(d.join("mnist_test.csv")).unwrap();
    assert_eq!(Dataset::load_dir(&d, Split::Test).unwrap(), data());
}
