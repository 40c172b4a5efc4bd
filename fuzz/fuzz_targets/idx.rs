//! The IDX loader, on an image file and a label file cut from one input at a point
//! its first two bytes choose.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let rest = &data[2..];
    let cut = usize::from(u16::from_le_bytes([data[0], data[1]])) % (rest.len() + 1);
    let (images, labels) = rest.split_at(cut);
    let _ = mimic_mnist::Dataset::from_idx_bytes(images, labels, ("images", "labels"));
});
