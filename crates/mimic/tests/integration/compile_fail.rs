//! Shape errors are compile errors, for the right reason.
//!
//! Each file in `tests/compile_fail/` must fail to build with the lines its
//! `// expect:` comments name (the error code, and a message naming both sizes);
//! each file in `tests/compile_pass/` must build, proving the harness itself
//! works. Only those meaningful lines are compared — not whole snapshots of the
//! compiler's output, which change with unrelated source lines or compiler
//! versions. The cases are built, not just checked: an error raised by a `const`
//! assertion during monomorphisation (`zero_sized_layer`) appears only in
//! `cargo build`. All cases are binaries of one throwaway crate, built by one
//! `cargo build --keep-going`, so `mimic` and its dependencies compile once.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Case {
    name: String,
    source: PathBuf,
    expect: Vec<String>,
}

fn cases(dir: &str) -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut cases: Vec<Case> = std::fs::read_dir(&root)
        .expect("case directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|source| {
            let text = std::fs::read_to_string(&source).expect("case source");
            let expect = text
                .lines()
                .filter_map(|l| l.strip_prefix("// expect: "))
                .map(str::to_string)
                .collect();
            let name = source
                .file_stem()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            Case {
                name,
                source,
                expect,
            }
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

/// Builds every case as a binary of one throwaway crate that depends on `mimic`
/// (without `persist`, which no case needs: fewer dependencies to build);
/// returns each binary's rendered diagnostics and whether any error was found.
fn build(cases: &[Case]) -> Vec<(String, bool)> {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = manifest_dir.join("target").join("shape-cases");
    std::fs::create_dir_all(&dir).expect("case crate");
    let mut manifest = format!(
        "[package]\nname = \"shape-cases\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[workspace]\n\n[dependencies]\nmimic = {{ path = {:?}, default-features = false, features = [\"std\"] }}\n",
        manifest_dir
    );
    for case in cases {
        manifest += &format!(
            "\n[[bin]]\nname = {:?}\npath = {:?}\n",
            case.name, case.source
        );
    }
    std::fs::write(dir.join("Cargo.toml"), manifest).expect("manifest");
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--bins",
            "--keep-going",
            "--quiet",
            "--message-format=json",
        ])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        // Only diagnostics matter: no debug information to write.
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .output()
        .expect("run cargo build");
    let stdout = String::from_utf8_lossy(&output.stdout);
    cases
        .iter()
        .map(|case| {
            let mut rendered = String::new();
            let mut failed = false;
            for line in stdout.lines() {
                let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                if message["reason"] != "compiler-message"
                    || message["target"]["name"] != case.name.as_str()
                {
                    continue;
                }
                failed |= message["message"]["level"] == "error";
                rendered += message["message"]["rendered"].as_str().unwrap_or_default();
            }
            (rendered, failed)
        })
        .collect()
}

#[test]
fn shape_mismatches_do_not_compile_and_correct_shapes_do() {
    let failing = cases("tests/compile_fail");
    let passing = cases("tests/compile_pass");
    assert!(failing.len() >= 3 && !passing.is_empty());
    let all: Vec<Case> = failing.into_iter().chain(passing).collect();
    let results = build(&all);
    for (case, (rendered, failed)) in all.iter().zip(&results) {
        if case.expect.is_empty() {
            assert!(!failed, "{} should compile:\n{rendered}", case.name);
            continue;
        }
        assert!(failed, "{} should not compile", case.name);
        for line in &case.expect {
            assert!(
                rendered.contains(line.as_str()),
                "{}: expected `{line}` in:\n{rendered}",
                case.name
            );
        }
    }
}
