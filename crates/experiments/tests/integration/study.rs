//! The distillation study's `--quick` configuration on real MNIST: the whole
//! pipeline (teachers, searches on the validation split, paired final runs,
//! comparisons, report, CSV, predictions, plots) and its guarantees — the test
//! set chooses nothing, the selection seed is not a final seed, every method of a
//! table gets as many candidates, results do not depend on the thread count.

use std::io::Read;

use mimic_experiments::cli::mnist;
use mimic_experiments::study::search::DIRECT_UNSMOOTHED;
use mimic_experiments::study::train::Net;
use mimic_experiments::study::{self, Phase, Run, StudyConfig, recipe::Teaching};

fn quick() -> StudyConfig {
    StudyConfig {
        command: "tests/study.rs".into(),
        ..StudyConfig::quick()
    }
}

fn key(r: &Run) -> (&'static str, String, &'static str, &'static str) {
    (r.question, r.condition.clone(), r.net.name(), r.arm)
}

#[test]
fn the_quick_study_runs_end_to_end_and_keeps_its_guarantees() {
    let (train, test) = mnist();
    let config = quick();
    config.check(train.len()).unwrap();
    let (runs, last) = crate::quick_study();
    let runs = runs.as_slice();
    assert_eq!(last.runs, runs.len());
    assert!(
        (last.done - last.total).abs() <= 1e-6 * last.total,
        "{last:?}"
    );

    // The test set chooses nothing; the selection seed is never a final seed
    // (each pipeline's seeds are the study's moved up by its index).
    for r in runs {
        let config = config.pipeline(r.pipeline);
        match r.phase {
            Phase::Search => {
                assert!(r.test.is_none(), "a search run was scored on the test set");
                assert_eq!(r.seed, config.selection_seed);
            }
            Phase::Final if r.arm != "teacher" => {
                assert!(
                    [&config.seeds, &config.coarse_seeds, &config.reference_seeds]
                        .iter()
                        .any(|s| s.contains(&r.seed))
                );
                assert!(r.test.is_some() || r.validation.is_none());
            }
            Phase::Final => {}
        }
    }
    // Equal tuning budgets: within every table (question, condition, network)
    // each method tries exactly as many candidates, the steps past a grid's
    // edges included; the seed's question too.
    let mut tables: Vec<(&str, &str, _)> = runs
        .iter()
        .filter(|r| r.phase == Phase::Search)
        .map(|r| (r.question, r.condition.as_str(), r.net))
        .collect();
    tables.sort_by_key(|t| format!("{t:?}"));
    tables.dedup();
    assert!(tables.len() >= 5, "{tables:?}");
    for (question, condition, net) in tables {
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for r in runs.iter().filter(|r| {
            r.phase == Phase::Search
                && (r.question, r.condition.as_str(), r.net) == (question, condition, net)
        }) {
            match counts.iter_mut().find(|(arm, _)| *arm == r.arm) {
                Some((_, n)) => *n += 1,
                None => counts.push((r.arm, 1)),
            }
        }
        assert!(counts.len() >= 2, "{question} {condition}: {counts:?}");
        assert!(
            counts.windows(2).all(|w| w[0].1 == w[1].1),
            "{question} {condition} {net:?}: {counts:?}"
        );
    }
    // Every pipeline repeats the whole pipeline from its own seeds: its own
    // teachers, selection seed and final seeds.
    let teachers = |net| -> Vec<&Run> {
        runs.iter()
            .filter(|r| r.question == "compression" && r.arm == "teacher" && r.net == net)
            .collect()
    };
    let (strong, cnn) = (teachers(Net::Strong), teachers(Net::Cnn));
    for t in [&strong, &cnn] {
        assert_eq!(
            t.iter().map(|r| r.pipeline).collect::<Vec<_>>(),
            (0..config.pipelines).collect::<Vec<_>>()
        );
    }
    // The convolutional teacher (one epoch on 6,000 images here) is a teacher.
    for r in &cnn {
        assert!(
            r.test.as_ref().unwrap().accuracy > 90.0,
            "{:?}",
            r.test.as_ref().map(|t| t.accuracy)
        );
    }
    let scores: Vec<_> = strong
        .iter()
        .map(|r| r.test.as_ref().unwrap().accuracy)
        .collect();
    assert!(scores.windows(2).any(|w| w[0] != w[1]), "{scores:?}");
    for p in 0..config.pipelines {
        let selection: std::collections::BTreeSet<u64> = runs
            .iter()
            .filter(|r| r.pipeline == p && r.phase == Phase::Search)
            .map(|r| r.seed)
            .collect();
        assert_eq!(
            selection.into_iter().collect::<Vec<_>>(),
            [p as u64 * study::PIPELINE_STRIDE]
        );
    }
    // Every final method of a table ran every final seed of every pipeline, so
    // comparisons pair; both teachers have their students.
    let finals: Vec<&Run> = runs
        .iter()
        .filter(|r| {
            r.phase == Phase::Final
                && r.question == "compression"
                && !["teacher", DIRECT_UNSMOOTHED].contains(&r.arm)
        })
        .collect();
    for r in &finals {
        let seeds = finals.iter().filter(|x| key(x) == key(r)).count();
        assert_eq!(seeds, config.seeds.len() * config.pipelines, "{:?}", key(r));
    }
    assert!(finals.iter().any(|r| r.arm == study::questions::KD_CNN));
    // The unsmoothed control runs exactly where direct chose smoothing, with
    // its best candidate without it and the same seeds (the omitted class has
    // nothing to choose: it takes the compression question's choice).
    let smooths =
        |r: &Run| matches!(r.recipe.teaching, Teaching::Labels { smoothing } if smoothing > 0.0);
    let what = |r: &Run| (key(r), r.pipeline, r.seed, r.recipe);
    for r in runs
        .iter()
        .filter(|r| r.phase == Phase::Final && r.arm == "direct" && r.question != "omitted class")
    {
        let controls: Vec<&Run> = runs
            .iter()
            .filter(|c| {
                c.arm == DIRECT_UNSMOOTHED
                    && (c.question, &c.condition, c.net, c.pipeline, c.seed)
                        == (r.question, &r.condition, r.net, r.pipeline, r.seed)
            })
            .collect();
        assert_eq!(controls.len(), usize::from(smooths(r)), "{:?}", what(r));
        for c in controls {
            assert!(!smooths(c) && c.phase == Phase::Final, "{:?}", what(c));
        }
    }
    // The strong teacher beats every 784→10 network; the omitted-class fix
    // recovers 3s a distilled student never saw.
    let teacher = runs
        .iter()
        .find(|r| r.question == "compression" && r.arm == "teacher")
        .and_then(|r| r.test.as_ref())
        .unwrap()
        .accuracy;
    for r in finals.iter().filter(|r| r.net.parameters() == 7_850) {
        assert!(r.test.as_ref().unwrap().accuracy < teacher);
    }
    let omitted: Vec<_> = runs
        .iter()
        .filter(|r| r.question == "omitted class" && r.arm == "kd")
        .filter_map(|r| r.test.as_ref()?.corrected)
        .collect();
    assert_eq!(omitted.len(), config.coarse_seeds.len() * config.pipelines);
    assert!(
        omitted
            .iter()
            .all(|c| c.class_after > c.class_before && c.class_after > 30.0),
        "{omitted:?}"
    );

    // The outputs: written, recomputable, honest about being the quick run.
    let dir = std::env::temp_dir().join(format!("mimic-study-{}", std::process::id()));
    let compared = study::report::write_outputs(&dir, &config, runs, &test.classes(), 1.0).unwrap();
    assert!(compared.len() >= 7);
    assert!(
        compared
            .iter()
            .all(|c| c.holm_p >= c.paired.p && c.holm_p <= 1.0)
    );
    // Intervals over pipelines: one mean difference per pipeline, of which the
    // overall one is the mean.
    for c in &compared {
        assert_eq!(c.per_pipeline.len(), config.pipelines, "{c:?}");
        let mean = c.per_pipeline.iter().sum::<f64>() / c.per_pipeline.len() as f64;
        assert!((mean - c.paired.mean).abs() < 1e-9, "{c:?}");
    }
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("reduced `--quick` run") && report.contains("tests/study.rs"));
    for section in [
        "## Questions",
        "## Answers",
        "## Teachers",
        "## The omitted class",
        "## Against the PyTorch reference",
        "## History",
        "## Files",
    ] {
        assert!(report.contains(section), "{section}");
    }
    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), runs.len() + 1);
    assert!(csv.starts_with("pipeline,question,"));
    assert!(
        csv.lines()
            .any(|l| l.starts_with(&format!("{},", config.pipelines - 1)))
    );
    // Every scored run's probabilities are saved, and its ECE and NLL in
    // results.csv recompute from them.
    let bytes = std::fs::read(dir.join(study::report::PROBABILITIES)).unwrap();
    let header = study::report::PROBABILITIES_HEADER;
    assert!(bytes[..header].starts_with(b"mimic distill_study probabilities"));
    let scored: Vec<&Run> = runs.iter().filter(|r| r.test.is_some()).collect();
    assert_eq!(bytes.len(), header + scored.len() * test.len() * 40);
    let labels: Vec<u8> = test.classes().iter().map(|&c| c as u8).collect();
    let rows: Vec<&str> = csv
        .lines()
        .skip(1)
        .filter(|l| l.contains(",final,"))
        .collect();
    let mut recomputed = 0;
    for (k, run) in scored.iter().enumerate() {
        let probs: Vec<[f32; 10]> = bytes[header + k * test.len() * 40..][..test.len() * 40]
            .chunks_exact(40)
            .map(|image| {
                std::array::from_fn(|c| {
                    f32::from_le_bytes(image[4 * c..4 * c + 4].try_into().unwrap())
                })
            })
            .collect();
        let scores = run.test.as_ref().unwrap();
        assert_eq!(probs, scores.probabilities);
        let ece = 100.0 * study::stats::ece(&probs, &labels, study::score::ECE_BINS);
        let nll = study::stats::nll(&probs, &labels);
        assert_eq!((ece, nll), (scores.ece, scores.nll));
        // The same figures as results.csv prints them.
        let row = rows
            .iter()
            .filter(|l| l.starts_with(&format!("{},", run.pipeline)))
            .find(|l| l.contains(&format!(",{ece:.4},{nll:.4},")));
        recomputed += usize::from(row.is_some());
    }
    assert_eq!(recomputed, scored.len());
    let mut predictions = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(dir.join("predictions.csv.gz")).unwrap())
        .read_to_string(&mut predictions)
        .unwrap();
    let rows: Vec<&str> = predictions.lines().skip(1).collect();
    let scored = runs
        .iter()
        .filter(|r| r.phase == Phase::Final && r.test.is_some())
        .count();
    assert_eq!(rows.len(), scored);
    assert!(
        rows.iter()
            .all(|row| row.rsplit(',').next().unwrap().len() == test.len())
    );
    for plot in study::report::PLOTS {
        let svg = std::fs::read_to_string(dir.join(plot)).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("<polyline"),
            "{plot}"
        );
        assert!(!svg.contains("NaN"), "{plot}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let (train, test) = mnist();
    // One pipeline: the runs of another are more of the same to the scheduler.
    let config = StudyConfig {
        pipelines: 1,
        seeds: vec![1, 2],
        label_budgets: vec![500],
        reference_seeds: vec![1],
        epochs: 1,
        teacher_epochs: 1,
        ..quick()
    };
    let run = |threads| {
        study::run(
            &train,
            &test,
            &StudyConfig {
                threads,
                ..config.clone()
            },
            &mut |_| {},
        )
        .into_iter()
        .map(|r| (key(&r), r.seed, r.validation, r.test.map(|t| t.predictions)))
        .collect::<Vec<_>>()
    };
    assert_eq!(run(1), run(2));
}
