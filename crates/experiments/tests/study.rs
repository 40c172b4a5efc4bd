//! A reduced distillation study on real MNIST: the whole pipeline (search on a
//! validation split, final runs, report, CSV, plots) and the direction of the main
//! result — a one-pass 784→10 student distilled from a well-trained teacher beats
//! the same network trained on the labels.

use mimic_experiments::cli::mnist;
use mimic_experiments::study::{self, Method, Phase, Protocol, Size, StudyConfig, Subject};

fn reduced() -> StudyConfig {
    StudyConfig {
        seeds: vec![1, 2],
        temperatures: vec![1.0, 4.0],
        train_limit: Some(20_000),
        validation: 5_000,
        tuned_epochs: 3,
        command: "tests/study.rs".into(),
        ..StudyConfig::default()
    }
}

#[test]
fn reduced_study_writes_its_report_and_keeps_the_main_result() {
    let (train, test) = mnist();
    let config = reduced();
    let mut seen = 0;
    let results = study::run(&train, &test, &config, &mut |p| {
        assert_eq!(p.done, seen + 1);
        seen = p.done;
    });
    assert_eq!(seen, results.len());
    let methods = config.methods().len();
    let per_protocol =
        |p: Protocol| p.learning_rates().len() * (1 + 3 * methods) + 2 * (1 + 3 * methods);
    let expected: usize = Protocol::ALL
        .iter()
        .map(|&p| {
            per_protocol(p) - p.learning_rates().len() + p.teacher_protocol().learning_rates().len()
        })
        .sum();
    assert_eq!(results.len(), expected);
    assert!(
        results
            .iter()
            .filter(|r| r.phase == Phase::Final)
            .all(|r| r.test_accuracy.is_some() || r.validation_accuracy.is_err())
    );
    assert!(
        results
            .iter()
            .filter(|r| r.phase == Phase::Search)
            .all(|r| r.test_accuracy.is_none()),
        "search runs never see the test set"
    );

    let summaries = study::summarize(&results);
    let mean = |protocol, method| {
        summaries
            .iter()
            .find(|s| s.protocol == protocol && s.subject == Subject::Student(Size::Linear, method))
            .map(|s| (s.mean, s.fidelity.unwrap_or(0.0)))
            .expect("summary")
    };
    let (direct, direct_fidelity) = mean(Protocol::SeedStrongTeacher, Method::Direct);
    let best_kd = config
        .methods()
        .into_iter()
        .filter(|m| matches!(m, Method::Kd { .. }))
        .map(|m| mean(Protocol::SeedStrongTeacher, m))
        .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a });
    assert!(
        best_kd.0 > direct,
        "distilled {} vs direct {direct}",
        best_kd.0
    );
    assert!(
        best_kd.1 > direct_fidelity,
        "a distilled student agrees with its teacher more often"
    );

    let dir = std::env::temp_dir().join(format!("mimic-study-{}", std::process::id()));
    study::write_outputs(&dir, &config, &results, 1.0).unwrap();
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("## Targets") && report.contains("tests/study.rs"));
    for p in Protocol::ALL {
        assert!(
            report.contains(&format!("## {} protocol", p.name())),
            "{}",
            p.name()
        );
        for plot in ["accuracy_vs_temperature", "accuracy_vs_learning_rate"] {
            let svg =
                std::fs::read_to_string(dir.join(format!("{plot}_{}.svg", p.name()))).unwrap();
            assert!(svg.starts_with("<svg") && svg.contains("<polyline"));
        }
    }
    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), results.len() + 1);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let (train, test) = mnist();
    let config = StudyConfig {
        seeds: vec![3],
        protocols: vec![Protocol::Seed],
        sizes: vec![Size::Hidden16],
        temperatures: vec![2.0],
        alphas: vec![1.0],
        train_limit: Some(6_000),
        validation: 1_000,
        ..StudyConfig::default()
    };
    let run = |threads| {
        let results = study::run(
            &train,
            &test,
            &StudyConfig {
                threads,
                ..config.clone()
            },
            &mut |_| {},
        );
        results
            .into_iter()
            .map(|r| {
                (
                    r.learning_rate,
                    r.validation_accuracy,
                    r.test_accuracy,
                    r.fidelity,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn a_study_that_would_train_on_nothing_is_refused() {
    let config = reduced(); // 20,000 images, 5,000 held out
    assert!(config.check(60_000).is_ok());
    assert!(
        config
            .check(5_000)
            .unwrap_err()
            .contains("5000 training images")
    );
    let no_seeds = StudyConfig {
        seeds: Vec::new(),
        ..reduced()
    };
    assert!(no_seeds.check(60_000).is_err());
}
