//! The C headers against Rust: `c/student.h` with `tests/c/classify_mnist.c`,
//! and `c/cnn.h` with `tests/c/classify_cnn.c`, compiled with the system `cc`,
//! classify the 10,000 MNIST test images exactly as the Rust crate does, f32
//! and int8.
//!
//! The f32 path is equal float for float because the header repeats Rust's
//! operation order and is compiled with `-ffp-contract=off` (no fused
//! multiply-adds); the int8 path is integer arithmetic.

use std::path::{Path, PathBuf};
use std::process::Command;

use mimic_firmware::{classify, classify_cnn, classify_cnn_int8, classify_int8};
use mimic_mnist::{Dataset, Split};

#[test]
fn c_predictions_equal_rust_predictions() {
    same_predictions("classify_mnist", classify, classify_int8);
}

#[test]
fn c_cnn_predictions_equal_rust_predictions() {
    same_predictions("classify_cnn", classify_cnn, classify_cnn_int8);
}

/// `tests/c/{program}.c` prints the same f32 and int8 classes as `f32` and `int8`.
fn same_predictions(program: &str, f32: fn(&[u8; 784]) -> usize, int8: fn(&[u8; 784]) -> usize) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var_os("MIMIC_DATA_DIR")
        .map_or_else(|| root.join("../../data/mnist"), PathBuf::from);
    let test = Dataset::load_dir(mimic_mnist::ensure_mnist(dir).expect("MNIST"), Split::Test)
        .expect("MNIST");
    let scratch =
        std::env::temp_dir().join(format!("mimic-firmware-{program}-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch directory");
    let images = scratch.join("images.bin");
    std::fs::write(&images, test.images().concat()).expect("images");
    let binary = scratch.join(program);
    let compiled = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args([
            "-std=c99",
            "-O2",
            "-ffp-contract=off",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-I",
        ])
        .arg(root.join("c"))
        .arg(root.join(format!("tests/c/{program}.c")))
        .arg("-o")
        .arg(&binary)
        .output()
        .expect("run cc");
    assert!(
        compiled.status.success(),
        "cc failed:\n{}",
        String::from_utf8_lossy(&compiled.stderr)
    );
    let run = Command::new(&binary)
        .arg(&images)
        .output()
        .expect("run the C program");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let c: Vec<(usize, usize)> = String::from_utf8(run.stdout)
        .expect("text")
        .lines()
        .map(|line| {
            let (a, b) = line.split_once(' ').expect("two predictions");
            (a.parse().expect("class"), b.parse().expect("class"))
        })
        .collect();
    let rust: Vec<(usize, usize)> = test
        .images()
        .iter()
        .map(|image| (f32(image), int8(image)))
        .collect();
    assert_eq!(c.len(), 10_000);
    let f32_agree = c.iter().zip(&rust).filter(|(c, r)| c.0 == r.0).count();
    let int8_agree = c.iter().zip(&rust).filter(|(c, r)| c.1 == r.1).count();
    assert_eq!((f32_agree, int8_agree), (10_000, 10_000));
    std::fs::remove_dir_all(&scratch).ok();
}
