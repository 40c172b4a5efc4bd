//! A model saved by mimic loads in Python with `safetensors.numpy.load_file` and
//! gives the same numbers. The interpreter is `$MIMIC_PYTHON` (CI makes a venv
//! with `.ci/python-venv.sh`); without it the test is skipped, except under CI,
//! where a missing interpreter is a failure.

use std::process::Command;

use mimic::{CrossEntropy, Network, persist};
use mimic_experiments::models::Teacher;

#[test]
fn numpy_reads_what_mimic_writes() {
    let Some(python) = std::env::var_os("MIMIC_PYTHON") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set MIMIC_PYTHON (see .ci/python-venv.sh)"
        );
        eprintln!(
            "skipped: set MIMIC_PYTHON to a Python with safetensors and numpy (bash .ci/python-venv.sh)"
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!("mimic-python-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let teacher: Network<Teacher, CrossEntropy> = Network::seeded(3, CrossEntropy);
    let model = dir.join("teacher.safetensors");
    persist::save(&teacher, &model, Some(3)).unwrap();

    let input: Vec<f32> = (0..784)
        .map(|i| {
            if i % 3 == 0 {
                (i % 256) as f32 / 255.0
            } else {
                0.0
            }
        })
        .collect();
    let output = teacher.forward(&input.clone().try_into().unwrap());
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
    let expected =
        serde_json::json!({ "shapes": shapes, "sums": sums, "input": input, "output": output });
    let expected_path = dir.join("expected.json");
    std::fs::write(&expected_path, expected.to_string()).unwrap();

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/check_safetensors.py"
    );
    let run = Command::new(&python)
        .arg(script)
        .arg(&model)
        .arg(&expected_path)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "python failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("6 tensors match"), "{stdout}");
    std::fs::remove_dir_all(dir).ok();
}
