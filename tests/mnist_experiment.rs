//! The seed's experiment end to end on the real MNIST files (fetched on first use).
//!
//! Thresholds are the issue's, for the default seed and two more fixed in advance
//! (1 and 2). For reference, the seed's NumPy code over six unseeded runs gave a
//! teacher of 85.3–90.1%, students at lr ≤ 0.03 of 76.5–83.7%, direct 90.1–90.3%.

use std::path::PathBuf;
use std::sync::OnceLock;

use mimic::data::{Dataset, Split, default_data_dir, ensure_mnist};
use mimic::experiment::{Config, TeacherStudentReport, teacher_student};
use mimic::training::TrainError;

fn mnist() -> &'static (Dataset, Dataset) {
    static DATA: OnceLock<(Dataset, Dataset)> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = ensure_mnist(&default_data_dir()).expect("fetch MNIST");
        (
            Dataset::load_dir(&dir, Split::Train).expect("training set"),
            Dataset::load_dir(&dir, Split::Test).expect("test set"),
        )
    })
}

fn run(config: &Config) -> TeacherStudentReport {
    let (train, test) = mnist();
    teacher_student(train, test, config).expect("experiment runs")
}

/// Everything but the times.
fn numbers(report: &TeacherStudentReport) -> String {
    format!(
        "{:?} {:?} {:?}",
        report.teacher, report.students, report.benchmark
    )
}

#[test]
fn accuracies_meet_the_bar_for_three_seeds() {
    for seed in [Config::default().seed, 1, 2] {
        let report = run(&Config {
            seed,
            ..Config::default()
        });
        let teacher = report.teacher.accuracy;
        assert!(teacher >= 0.84, "seed {seed}: teacher {teacher}");
        assert!(
            report.teacher.accuracy_before < 0.3,
            "seed {seed}: untrained teacher"
        );
        for student in &report.students {
            if student.learning_rate <= 0.03 {
                let accuracy = student.result.clone().expect("student trains");
                assert!(
                    accuracy >= 0.75,
                    "seed {seed}: student lr {} got {accuracy}",
                    student.learning_rate
                );
            }
        }
        let direct = report.benchmark.accuracy;
        assert!(direct >= 0.895, "seed {seed}: benchmark {direct}");
        eprintln!("seed {seed}: {}", numbers(&report));
    }
}

#[test]
fn same_seed_same_numbers_whatever_the_thread_count() {
    let one = run(&Config {
        threads: 1,
        ..Config::default()
    });
    let two = run(&Config {
        threads: 2,
        ..Config::default()
    });
    let again = run(&Config::default());
    assert_eq!(numbers(&one), numbers(&two));
    assert_eq!(numbers(&one), numbers(&again));
    assert_ne!(
        numbers(&one),
        numbers(&run(&Config {
            seed: 7,
            ..Config::default()
        }))
    );
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mimic-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn csv_and_gzip_copies_give_identical_numbers() {
    let (train, test) = mnist();
    let dir = scratch_dir("copies");
    train
        .write_csv(dir.join("mnist_train.csv"))
        .expect("write csv");
    test.write_csv(dir.join("mnist_test.csv"))
        .expect("write csv");
    let start = std::time::Instant::now();
    let csv_train = Dataset::load_dir(&dir, Split::Train).expect("csv loads");
    eprintln!("CSV training set loaded in {:?}", start.elapsed());
    let csv_test = Dataset::load_dir(&dir, Split::Test).expect("csv loads");
    assert!(&csv_train == train && &csv_test == test, "CSV copy differs");

    let (images, labels) = Split::Train.idx_names();
    train
        .write_idx(
            dir.join(format!("{images}.gz")),
            dir.join(format!("{labels}.gz")),
            true,
        )
        .expect("gz");
    let (images, labels) = Split::Test.idx_names();
    test.write_idx(
        dir.join(format!("{images}.gz")),
        dir.join(format!("{labels}.gz")),
        true,
    )
    .expect("gz");
    let gz_train = Dataset::load_dir(&dir, Split::Train).expect("gz loads");
    let gz_test = Dataset::load_dir(&dir, Split::Test).expect("gz loads");
    assert!(
        &gz_train == train && &gz_test == test,
        "gzip'd copy differs"
    );

    let config = Config::default();
    let from_idx = numbers(&run(&config));
    let from_csv = numbers(&teacher_student(&csv_train, &csv_test, &config).expect("runs"));
    assert_eq!(from_idx, from_csv);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn divergence_is_reported_with_network_and_sample() {
    let (train, test) = mnist();
    // The seed's first attempt: raw 0..255 pixels. The teacher diverges and says where.
    let raw = Config {
        scaling: mimic::Scaling::Raw,
        ..Config::default()
    };
    let error = teacher_student(train, test, &raw).expect_err("raw pixels diverge");
    assert_eq!(error.network, "teacher");
    let TrainError::Diverged(at) = error.source else {
        panic!("{error:?}")
    };
    assert!(at.sample < train.len());
    assert!(
        error
            .source
            .to_string()
            .contains(&format!("sample {}", at.sample))
    );

    // A student with an absurd step diverges; the others are still reported.
    let config = Config {
        student_learning_rates: vec![0.01, 1e6],
        ..Config::default()
    };
    let report = run(&config);
    assert!(report.students[0].result.as_ref().is_ok_and(|&a| a > 0.75));
    assert!(
        matches!(report.students[1].result, Err(TrainError::Diverged(_))),
        "{:?}",
        report.students[1]
    );
}

#[test]
fn a_saved_teacher_reproduces_the_run() {
    let (train, test) = mnist();
    let config = Config::default();
    let first = run(&config);
    let path = scratch_dir("teacher").join("teacher.safetensors");
    mimic::persist::save(&first.teacher_network, &path, Some(config.seed)).expect("save");
    let loaded = mimic::persist::load(&path, mimic::CrossEntropy, config.teacher_learning_rate)
        .expect("load");
    let again =
        mimic::experiment::teacher_student_with(train, test, &config, Some(loaded)).expect("runs");
    assert!(again.teacher_loaded);
    assert_eq!(
        again.teacher.accuracy, first.teacher.accuracy,
        "re-measured accuracy"
    );
    assert_eq!(
        format!("{:?}", again.students),
        format!("{:?}", first.students)
    );
    std::fs::remove_file(&path).ok();
}
