//! A model saved by mimic loads in Python with `safetensors.numpy.load_file` and
//! gives the same numbers. The interpreter is `$MIMIC_PYTHON` (CI makes a venv
//! with `.ci/python-venv.sh`); without it the test is skipped, except under CI,
//! where a missing interpreter is a failure.

use std::process::Command;

use mimic::{CrossEntropy, Network, image::image, persist};
use mimic_experiments::models::{LeNet5, Teacher};

/// `$MIMIC_PYTHON`, or `None` (the test is skipped) outside CI.
fn python() -> Option<std::ffi::OsString> {
    let python = std::env::var_os("MIMIC_PYTHON");
    if python.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set MIMIC_PYTHON (see .ci/python-venv.sh)"
        );
        eprintln!(
            "skipped: set MIMIC_PYTHON to a Python with safetensors and numpy (bash .ci/python-venv.sh)"
        );
    }
    python
}

/// Runs `tests/python/{script}` on a model and its expected numbers, and
/// returns what it printed.
fn run_python(
    python: &std::ffi::OsStr,
    script: &str,
    model: &std::path::Path,
    expected: &std::path::Path,
) -> String {
    let script = format!("{}/tests/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let run = Command::new(python)
        .arg(script)
        .arg(model)
        .arg(expected)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "python failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    stdout
}

/// The 784-pixel input both tests run.
fn input() -> [f32; 784] {
    core::array::from_fn(|i| {
        if i % 3 == 0 {
            (i % 256) as f32 / 255.0
        } else {
            0.0
        }
    })
}

#[test]
fn numpy_reads_what_mimic_writes() {
    let Some(python) = python() else { return };
    let dir = std::env::temp_dir().join(format!("mimic-python-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let teacher: Network<Teacher, CrossEntropy> = Network::seeded(3, CrossEntropy);
    let model = dir.join("teacher.safetensors");
    persist::save(&teacher, &model, Some(3)).unwrap();

    let input = input();
    let output = teacher.forward(&input);
    let mut layers = Vec::new();
    persist::Layers::export(&teacher.layers, &mut layers);
    let mut shapes = serde_json::Map::new();
    let mut sums = serde_json::Map::new();
    for (i, layer) in layers.iter().enumerate() {
        shapes.insert(format!("{i}.weight"), serde_json::json!(layer.shape));
        shapes.insert(format!("{i}.bias"), serde_json::json!([layer.shape[0]]));
        sums.insert(
            format!("{i}.weight"),
            serde_json::json!(layer.weights.iter().map(|&w| f64::from(w)).sum::<f64>()),
        );
        sums.insert(
            format!("{i}.bias"),
            serde_json::json!(layer.bias.iter().map(|&b| f64::from(b)).sum::<f64>()),
        );
    }
    let expected = serde_json::json!({ "shapes": shapes, "sums": sums, "input": input.to_vec(), "output": output });
    let expected_path = dir.join("expected.json");
    std::fs::write(&expected_path, expected.to_string()).unwrap();

    let stdout = run_python(&python, "check_safetensors.py", &model, &expected_path);
    assert!(stdout.contains("6 tensors match"), "{stdout}");
    std::fs::remove_dir_all(dir).ok();
}

/// A LeNet-5 saved by mimic runs in NumPy from PyTorch's layouts alone and
/// gives mimic's logits.
#[test]
fn numpy_runs_a_saved_lenet() {
    let Some(python) = python() else { return };
    let dir = std::env::temp_dir().join(format!("mimic-python-lenet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lenet: Network<Box<LeNet5>, CrossEntropy> = Network::seeded(4, CrossEntropy);
    let model = dir.join("lenet.safetensors");
    persist::save(&lenet, &model, Some(4)).unwrap();
    let input = input();
    let output = lenet.forward(image::<1, 28, 28, 784>(&input));
    let expected_path = dir.join("expected.json");
    let expected = serde_json::json!({ "input": input.to_vec(), "output": output });
    std::fs::write(&expected_path, expected.to_string()).unwrap();
    let stdout = run_python(&python, "check_lenet.py", &model, &expected_path);
    assert!(stdout.contains("LeNet-5 logits within"), "{stdout}");
    std::fs::remove_dir_all(dir).ok();
}
