//! The source `export` writes compiles: a sample of random networks — dense,
//! convolutional and their int8 forms, with weights of every kind of float
//! (subnormal, huge, −0), random slopes, and doc strings and header lines full
//! of line breaks, `*/` and other characters — written as Rust and as a C
//! header, then compiled by `cargo` (the Rust, against this crate) and `cc`.
//! Skipped, with the reason printed, only where a compiler is missing.

use std::path::Path;
use std::process::Command;

use mimic::export::{Export, ExportError, Item, c_header, rust_source};
use mimic::module::Parameters;
use mimic::{
    Conv2d, Dense, Flatten, Identity, Initialize, Initializer, LeakyReLU, MaxPool2d, ReLU, quantize,
};
use rand::{Rng, RngExt, SeedableRng};
use rand_pcg::Pcg64;

type Leaky = Dense<3, 2, LeakyReLU>;
type Mlp = (Dense<3, 4, ReLU>, Dense<4, 2, Identity>);
type Cnn = (
    Conv2d<1, 4, 4, 2, 4, 4, 3, 1, 1, ReLU>,
    MaxPool2d<2, 4, 4, 2, 2, 2>,
    Flatten<2, 2, 2, 8>,
    Dense<8, 2, Identity>,
);

const LEAKY: &str = "::mimic::Dense<3, 2, ::mimic::LeakyReLU>";
const MLP: &str = "(::mimic::Dense<3, 4, ::mimic::ReLU>, ::mimic::Dense<4, 2, ::mimic::Identity>)";
const MLP_INT8: &str = "(::mimic::QuantizedDense<3, 4, u8>, ::mimic::QuantizedDense<4, 2>)";
const CNN: &str = "(::mimic::Conv2d<1, 4, 4, 2, 4, 4, 3, 1, 1, ::mimic::ReLU>, \
    ::mimic::MaxPool2d<2, 4, 4, 2, 2, 2>, ::mimic::Flatten<2, 2, 2, 8>, \
    ::mimic::Dense<8, 2, ::mimic::Identity>)";
const CNN_INT8: &str = "(::mimic::QuantizedConv2d<1, 4, 4, 2, 4, 4, 3, 1, 1, u8>, \
    ::mimic::QuantizedPool2d<2, 4, 4, 2, 2, 2, 2, ::mimic::pool::Max>, \
    ::mimic::QuantizedFlatten<2, 2, 2, 8>, ::mimic::QuantizedDense<8, 2>)";

/// A float of any kind: usual, tiny, subnormal, huge, ±0.
fn float(rng: &mut impl Rng) -> f32 {
    match rng.random_range(0..10) {
        0 => f32::from_bits(rng.random_range(1..0x0080_0000)), // subnormal
        1 => [3.4028235e38, -3.4028235e38, 1e30, -1e-30][rng.random_range(0..4)],
        2 => [-0.0, 0.0][rng.random_range(0..2)],
        _ => rng.random_range(-2.0..2.0),
    }
}

/// Text a caller might pass as a doc string or header: line breaks, comment
/// ends and starts, quotes, backslashes, tabs, non-ASCII.
fn text(rng: &mut impl Rng) -> String {
    const PIECES: &[&str] = &[
        "a network",
        "\n",
        "\r\n",
        "\r",
        "*/",
        "/*",
        "//",
        "\\",
        "\"",
        "'",
        "\t",
        "é",
        "∑",
        "#",
        "??/",
        "*",
        "/",
        " ",
        "#endif",
        "}",
        "{",
    ];
    (0..rng.random_range(0..12))
        .map(|_| PIECES[rng.random_range(0..PIECES.len())])
        .collect()
}

/// A random network of type `L`: weights of every kind.
fn random<L: Initialize + Parameters>(rng: &mut Pcg64) -> L {
    let mut layers = L::initialize(Initializer::He, rng);
    layers.visit_mut(&mut |values| {
        for v in values {
            *v = float(rng);
        }
    });
    layers
}

/// One case's networks, boxed for a list of items.
struct Case {
    networks: Vec<(Box<dyn Export>, &'static str)>,
}

fn case(rng: &mut Pcg64) -> Case {
    let mut networks: Vec<(Box<dyn Export>, &'static str)> = Vec::new();
    let mut leaky: Leaky = random(rng);
    let slope = match rng.random_range(0..6) {
        0 => float(rng),
        1 => [f32::NAN, f32::INFINITY, -1.5][rng.random_range(0..3)],
        _ => rng.random_range(0.0..1.0),
    };
    leaky.set_activation(LeakyReLU::new(slope));
    networks.push((Box::new(leaky), LEAKY));
    let mlp: Mlp = random(rng);
    let calibration: Vec<[f32; 3]> = (0..8)
        .map(|_| core::array::from_fn(|_| rng.random_range(0.0..1.0)))
        .collect();
    if let Ok(int8) = quantize::<_, u8>(&mlp, 1.0 / 255.0, &calibration) {
        networks.push((Box::new(int8), MLP_INT8));
    }
    networks.push((Box::new(mlp), MLP));
    let cnn: Cnn = random(rng);
    let images: Vec<[[[f32; 4]; 4]; 1]> = (0..8)
        .map(|_| {
            [core::array::from_fn(|_| {
                core::array::from_fn(|_| rng.random_range(0.0..1.0))
            })]
        })
        .collect();
    if let Ok(int8) = quantize::<_, u8>(&cnn, 1.0 / 255.0, &images) {
        networks.push((Box::new(int8), CNN_INT8));
    }
    networks.push((Box::new(cnn), CNN));
    Case { networks }
}

/// Whether `program --version` runs.
fn available(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn exported_random_networks_compile_in_rust_and_c() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut rng = Pcg64::seed_from_u64(24);
    let cases: Vec<Case> = (0..16).map(|_| case(&mut rng)).collect();
    let mut owned = Vec::new();
    for (k, case) in cases.iter().enumerate() {
        for (i, (network, ty)) in case.networks.iter().enumerate() {
            owned.push((
                format!("NET_{k}_{i}"),
                text(&mut rng),
                network.as_ref(),
                *ty,
            ));
        }
    }
    let header = text(&mut rng);
    let mut kept = Vec::new();
    let (mut written, mut refused) = (0, 0);
    for (name, doc, network, ty) in &owned {
        let item = Item {
            name,
            ty,
            doc,
            network: *network,
        };
        let one = std::slice::from_ref(&item);
        match (rust_source(&header, one), c_header("G", &header, one)) {
            (Ok(_), Ok(_)) => {
                kept.push(item);
                written += 1;
            }
            // Only a non-finite parameter or slope may be refused here.
            (Err(ExportError::NotFinite { .. }), Err(ExportError::NotFinite { .. })) => {
                refused += 1
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    let items_rust = rust_source(&header, &kept).unwrap();
    let items_c = c_header("NETS_H", &header, &kept).unwrap();
    assert!(
        written >= 40 && refused >= 1,
        "{written} written, {refused} refused"
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/export-cases");
    std::fs::create_dir_all(dir.join("src")).unwrap();

    if available(&cargo) {
        let manifest = format!(
            "[package]\nname = \"export-cases\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[workspace]\n\n[lib]\npath = \"src/lib.rs\"\n\n[dependencies]\nmimic = {{ path = {:?}, default-features = false, features = [\"std\"] }}\n",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
        std::fs::write(
            dir.join("src/lib.rs"),
            "#![allow(clippy::all, non_upper_case_globals)]\n".to_string() + &items_rust,
        )
        .unwrap();
        let built = Command::new(&cargo)
            .args(["build", "--lib", "--quiet"])
            .current_dir(&dir)
            // Shares the compile-fail cases' build of mimic (same features).
            .env(
                "CARGO_TARGET_DIR",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("target/shape-cases/target"),
            )
            .env("CARGO_PROFILE_DEV_DEBUG", "0")
            .output()
            .expect("run cargo build");
        assert!(
            built.status.success(),
            "the generated Rust does not compile:\n{}",
            String::from_utf8_lossy(&built.stderr)
        );
    } else {
        eprintln!("skipped compiling the Rust: {cargo} is missing");
    }

    if available(&cc) {
        std::fs::write(dir.join("nets.h"), &items_c).unwrap();
        let main = dir.join("main.c");
        // Twice: the include guard holds.
        std::fs::write(
            &main,
            "#include \"nets.h\"\n#include \"nets.h\"\nint main(void) { return 0; }\n",
        )
        .unwrap();
        let compiled = Command::new(&cc)
            .args([
                "-std=c99",
                "-ffp-contract=off",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-c",
            ])
            .arg(&main)
            .arg("-o")
            .arg(dir.join("main.o"))
            .output()
            .expect("run cc");
        assert!(
            compiled.status.success(),
            "the generated C does not compile:\n{}",
            String::from_utf8_lossy(&compiled.stderr)
        );
    } else {
        eprintln!("skipped compiling the C: {cc} is missing");
    }
}
