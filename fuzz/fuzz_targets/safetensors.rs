//! The safetensors loader, into the seed's teacher: `Ok` or a `PersistError`, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mimic::models::Teacher;
use mimic::{CrossEntropy, persist};

fuzz_target!(|data: &[u8]| {
    let _ = persist::from_bytes::<Teacher, _>(data, CrossEntropy, 0.03, "fuzz.safetensors");
    let _ = persist::from_bytes::<(mimic::Dense<4, 3>, mimic::Dense<3, 2>), _>(
        data,
        CrossEntropy,
        0.1,
        "fuzz.safetensors",
    );
});
