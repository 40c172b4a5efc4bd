//! The crate builds on its own as `#![no_std]` without an allocator: `mimic`
//! enters its dependency tree with no features at all (no `std`, so no training,
//! no `rand`), and the library is built that way here — not only inside the
//! workspace's test build, where the dev-dependencies switch `mimic`'s `std` on.

use std::path::Path;
use std::process::Command;

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")));
    command
}

#[test]
fn builds_alone_without_std_or_alloc() {
    let source = include_str!("../../src/lib.rs");
    assert!(source.contains("#![no_std]"));
    assert!(!source.contains("extern crate alloc") && !source.contains("extern crate std"));

    let tree = cargo()
        .args(["tree", "-p", "mimic-firmware", "-e", "normal,features"])
        .args(["--prefix", "none", "--format", "{p} {f}"])
        .output()
        .expect("cargo tree");
    assert!(tree.status.success());
    let tree = String::from_utf8_lossy(&tree.stdout);
    let packages: Vec<&str> = tree.lines().filter_map(|l| l.split(' ').next()).collect();
    assert!(
        packages
            .iter()
            .all(|p| *p == "mimic-firmware" || *p == "mimic"),
        "{tree}"
    );
    assert!(!tree.contains("std") && !tree.contains("persist"), "{tree}");

    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/no-std-firmware");
    let build = cargo()
        .args(["build", "-p", "mimic-firmware", "--lib", "--quiet"])
        .env("CARGO_TARGET_DIR", target)
        .output()
        .expect("cargo build");
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
}
