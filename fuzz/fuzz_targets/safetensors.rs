//! The safetensors loader, into the seed's teacher: `Ok` or a `PersistError`, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mimic::{CrossEntropy, Dense, persist};

type Teacher = (Dense<784, 16>, Dense<16, 16>, Dense<16, 10>);

fuzz_target!(|data: &[u8]| {
    let _ = persist::from_bytes::<Teacher, CrossEntropy>(data, "fuzz.safetensors");
    let _ = persist::from_bytes::<(Dense<4, 3>, Dense<3, 2>), CrossEntropy>(data, "fuzz.safetensors");
});
