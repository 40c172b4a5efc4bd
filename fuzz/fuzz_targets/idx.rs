//! The IDX loader, on an image file and a label file cut from one input at a point
//! its first two bytes choose; reading straight into nonzero pixels must give what
//! the dense loader reads, listed, or the very same error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mimic_mnist::{Dataset, Scaling, SparseDataset};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let rest = &data[2..];
    let cut = usize::from(u16::from_le_bytes([data[0], data[1]])) % (rest.len() + 1);
    let (images, labels) = rest.split_at(cut);
    let names = ("images", "labels");
    let dense = Dataset::from_idx_bytes(images, labels, names);
    let sparse = SparseDataset::from_idx_bytes(images, labels, names, Scaling::Divide255);
    match (dense, sparse) {
        (Ok(dense), Ok(sparse)) => {
            assert!(sparse == SparseDataset::from_dataset(&dense, Scaling::Divide255));
        }
        (Err(dense), Err(sparse)) => assert_eq!(dense.to_string(), sparse.to_string()),
        (dense, sparse) => panic!(
            "dense {:?}, sparse {:?}",
            dense.map(|d| d.len()),
            sparse.map(|s| s.len())
        ),
    }
});
