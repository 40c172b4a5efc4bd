//! Every loader returns `Ok` or a typed error on arbitrary bytes — random, and
//! valid files mutated (bits flipped, bytes overwritten, truncated, extended) —
//! and never panics.

use mimic::{CrossEntropy, Dense, Mse, Network, persist};
use mimic_mnist::{Dataset, PIXELS, Scaling, SparseDataset};

type Student = Dense<784, 10>;
use proptest::prelude::*;

fn valid() -> Dataset {
    let images = (0..3)
        .map(|k| core::array::from_fn(|i| ((i * 7 + k * 31) % 256) as u8))
        .collect();
    Dataset::new(images, vec![0, 5, 9]).unwrap()
}

fn valid_idx(gzip: bool) -> (Vec<u8>, Vec<u8>) {
    // A directory per call: tests run on several threads, and each removes its own.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("mimic-props-{}-{gzip}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (i, l) = (dir.join("i"), dir.join("l"));
    valid().write_idx(&i, &l, gzip).unwrap();
    let bytes = (std::fs::read(&i).unwrap(), std::fs::read(&l).unwrap());
    std::fs::remove_dir_all(&dir).ok();
    bytes
}

fn valid_csv() -> Vec<u8> {
    let path = std::env::temp_dir().join(format!("mimic-props-{}.csv", std::process::id()));
    valid().write_csv(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).ok();
    bytes
}

/// Applies edits to `bytes`: (position, kind, value), then truncates or extends.
fn mutate(
    mut bytes: Vec<u8>,
    edits: &[(usize, u8, u8)],
    cut: Option<usize>,
    tail: &[u8],
) -> Vec<u8> {
    for &(position, kind, value) in edits {
        if bytes.is_empty() {
            break;
        }
        let at = position % bytes.len();
        match kind % 3 {
            0 => bytes[at] ^= 1 << (value % 8),
            1 => bytes[at] = value,
            _ => {
                bytes.remove(at);
            }
        }
    }
    if let Some(cut) = cut {
        bytes.truncate(cut % (bytes.len() + 1));
    }
    bytes.extend_from_slice(tail);
    bytes
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn csv_never_panics(random in proptest::collection::vec(any::<u8>(), 0..4000), edits in edits(), cut in proptest::option::of(any::<usize>()), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
        let _ = Dataset::from_csv_reader(random.as_slice(), "random.csv");
        let mutated = mutate(valid_csv(), &edits, cut, &tail);
        if let Ok(data) = Dataset::from_csv_reader(mutated.as_slice(), "mutated.csv") {
            prop_assert!(data.labels().iter().all(|&l| l <= 9));
        }
    }

    #[test]
    fn idx_never_panics(random in proptest::collection::vec(any::<u8>(), 0..3000), split in any::<usize>(), edits in edits(), cut in proptest::option::of(any::<usize>()), gzip in any::<bool>()) {
        let at = split % (random.len() + 1);
        let _ = Dataset::from_idx_bytes(&random[..at], &random[at..], ("i", "l"));
        let (images, labels) = valid_idx(gzip);
        let images = mutate(images, &edits, cut, &[]);
        if let Ok(data) = Dataset::from_idx_bytes(&images, &labels, ("i", "l")) {
            prop_assert_eq!(data.images().len(), data.labels().len());
            prop_assert!(data.images().iter().all(|im| im.len() == PIXELS));
        }
        let labels = mutate(labels, &edits, cut, &[]);
        let _ = Dataset::from_idx_bytes(&valid_idx(gzip).0, &labels, ("i", "l"));
    }

    /// Reading straight into nonzero pixels gives what the dense loader reads,
    /// listed — or the very same error.
    #[test]
    fn sparse_and_dense_idx_loaders_agree(random in proptest::collection::vec(any::<u8>(), 0..3000), split in any::<usize>(), edits in edits(), cut in proptest::option::of(any::<usize>()), gzip in any::<bool>()) {
        let at = split % (random.len() + 1);
        let (images, labels) = valid_idx(gzip);
        let mutated_images = mutate(images.clone(), &edits, cut, &[]);
        let mutated_labels = mutate(labels.clone(), &edits, cut, &[]);
        for (images, labels) in [
            (&random[..at], &random[at..]),
            (&mutated_images[..], &labels[..]),
            (&images[..], &mutated_labels[..]),
        ] {
            let dense = Dataset::from_idx_bytes(images, labels, ("i", "l"));
            let sparse = SparseDataset::from_idx_bytes(images, labels, ("i", "l"), Scaling::Divide255);
            match (dense, sparse) {
                (Ok(dense), Ok(sparse)) => {
                    prop_assert_eq!(sparse, SparseDataset::from_dataset(&dense, Scaling::Divide255));
                }
                (Err(dense), Err(sparse)) => prop_assert_eq!(dense.to_string(), sparse.to_string()),
                (dense, sparse) => prop_assert!(false, "dense {:?}, sparse {:?}", dense.map(|d| d.len()), sparse.map(|s| s.len())),
            }
        }
    }

    #[test]
    fn safetensors_never_panics(random in proptest::collection::vec(any::<u8>(), 0..2000), edits in edits(), cut in proptest::option::of(any::<usize>()), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
        let _ = persist::from_bytes::<Student, Mse>(&random, "random");
        let network: Network<(mimic::Dense<4, 3>, mimic::Dense<3, 2>), CrossEntropy> = Network::seeded(1, CrossEntropy);
        let bytes = persist::to_bytes(&network, Some(1)).unwrap();
        let mutated = mutate(bytes.clone(), &edits, cut, &tail);
        let loaded = persist::from_bytes::<(mimic::Dense<4, 3>, mimic::Dense<3, 2>), CrossEntropy>(&mutated, "mutated");
        // A changed file never loads as a (silently) different network.
        if let Ok(loaded) = loaded {
            prop_assert_eq!(loaded, network);
        }
    }
}

#[test]
fn a_header_claiming_four_billion_images_is_rejected_before_allocating() {
    let mut images = vec![0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 28, 0, 0, 0, 28];
    images.extend_from_slice(&[0; 784]);
    let labels = [0, 0, 8, 1, 0, 0, 0, 1, 3];
    let error = Dataset::from_idx_bytes(&images, &labels, ("i", "l")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "i: truncated or padded: the header implies 3367254359296 bytes, found 800"
    );
}
