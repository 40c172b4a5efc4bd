//! The IDX loader's gzip path: the input is taken as a gzip'd image file, beside a
//! valid label file of one label.
#![no_main]
use libfuzzer_sys::fuzz_target;

const LABELS: [u8; 9] = [0, 0, 8, 1, 0, 0, 0, 1, 7];

fuzz_target!(|data: &[u8]| {
    let mut gz = vec![0x1f, 0x8b];
    gz.extend_from_slice(data);
    let _ = mimic_mnist::Dataset::from_idx_bytes(&gz, &LABELS, ("images.gz", "labels"));
});
