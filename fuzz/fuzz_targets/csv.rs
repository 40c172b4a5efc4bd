//! The CSV loader returns `Ok` or a `mimic_mnist::Error` for any bytes; it never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mimic_mnist::Dataset::from_csv_reader(data, "fuzz.csv");
});
