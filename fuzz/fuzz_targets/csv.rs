//! The CSV loader returns `Ok` or a `DataError` for any bytes; it never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mimic::data::Dataset::from_csv_reader(data, "fuzz.csv");
});
