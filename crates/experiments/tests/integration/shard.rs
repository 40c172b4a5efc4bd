//! The `--quick` study divided into three parts run by three processes, merged:
//! the same runs, `results.csv` (but for its timing column), `report.md` (but for
//! the line that gives the command and the time), predictions and plots as a
//! single process. And parts that do not make one study — one given twice, one
//! missing, one with other settings, version, data or number of parts — refused
//! with the part named.
//!
//! The three processes are this test binary run again, each with only the ignored
//! test `shard::study_part_child` selected and the part to run in its
//! environment: the library entry point the example's `--shard` calls
//! ([`Part::run`] and [`Part::write`]), in a separate process, with no need to find
//! (or trust the freshness of) the example's binary.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mimic_experiments::cli::mnist;
use mimic_experiments::study::merge::{self, MergeError};
use mimic_experiments::study::part::Part;
use mimic_experiments::study::shard::Shard;
use mimic_experiments::study::{self, Run, StudyConfig};

/// The part a child process runs (`K/N`), and where it writes it.
const CHILD_SHARD: &str = "MIMIC_TEST_STUDY_SHARD";
const CHILD_OUT: &str = "MIMIC_TEST_STUDY_PARTS";

fn quick() -> StudyConfig {
    StudyConfig {
        command: "tests/shard.rs".into(),
        ..StudyConfig::quick()
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mimic-shard-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One part of the quick study, in a process the test below starts; does nothing
/// when run any other way.
#[test]
#[ignore = "a child process of three_processes_merge_into_what_one_process_writes"]
fn study_part_child() {
    let (Ok(shard), Some(out)) = (std::env::var(CHILD_SHARD), std::env::var_os(CHILD_OUT)) else {
        return;
    };
    let shard: Shard = shard.parse().unwrap();
    let (train, test) = mnist();
    let part = Part::run(&train, &test, &quick(), shard, &mut |_| {});
    part.write(Path::new(&out)).unwrap();
}

fn without_seconds(runs: &[Run]) -> Vec<Run> {
    runs.iter()
        .map(|r| Run {
            seconds: 0.0,
            ..r.clone()
        })
        .collect()
}

/// `results.csv` without its `seconds` column.
fn results(dir: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_path(dir.join("results.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    let seconds = header.iter().position(|h| h == "seconds").unwrap();
    let mut rows = vec![header.iter().map(String::from).collect::<Vec<_>>()];
    for record in reader.records() {
        let record = record.unwrap();
        rows.push(
            record
                .iter()
                .enumerate()
                .filter(|&(k, _)| k != seconds)
                .map(|(_, v)| v.to_string())
                .collect(),
        );
    }
    rows
}

/// `report.md` without the line that names the command line and the time.
fn report(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let produced = text
        .lines()
        .filter(|l| l.starts_with("Produced by"))
        .count();
    assert_eq!(produced, 1);
    text.lines()
        .filter(|l| !l.starts_with("Produced by"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn gunzip(path: &Path) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[test]
fn three_processes_merge_into_what_one_process_writes() {
    // MNIST first, so that in a fresh clone it is fetched once, not by four
    // processes at once.
    let (_, test) = mnist();
    let parts = scratch("parts");
    let start = std::time::Instant::now();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..3)
        .map(|k| {
            Command::new(&exe)
                .args(["shard::study_part_child", "--exact", "--ignored"])
                .args(["--test-threads=1", "--quiet"])
                .env(CHILD_SHARD, format!("{k}/3"))
                .env(CHILD_OUT, &parts)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();

    // Meanwhile, the whole study in this process (or by the test beside this one).
    let config = quick();
    let single = &crate::quick_study().0;
    let one = scratch("single");
    study::report::write_outputs(&one, &config, single, &test.classes(), 1.0).unwrap();
    let single_seconds = start.elapsed().as_secs_f64();

    for (k, child) in children.into_iter().enumerate() {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "part {k}/3 failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let all_seconds = start.elapsed().as_secs_f64();
    eprintln!(
        "the quick study: in this process (shared with the end-to-end test) {single_seconds:.1} s, and its three parts in three processes done {all_seconds:.1} s after the start (all at once on this machine's cores)"
    );

    let merged = merge::merge(std::slice::from_ref(&parts)).unwrap();
    assert_eq!(merged.parts.len(), 3);
    assert_eq!(without_seconds(&merged.runs), without_seconds(single));
    assert_eq!(merged.config, config);
    assert_eq!(merged.test_classes, test.classes());
    let many = scratch("merged");
    study::report::write_outputs(
        &many,
        &merged.config,
        &merged.runs,
        &merged.test_classes,
        merged.seconds,
    )
    .unwrap();
    assert_eq!(results(&many), results(&one));
    assert_eq!(results(&one).len(), single.len() + 1);
    assert_eq!(report(&many), report(&one));
    assert_eq!(
        gunzip(&many.join("predictions.csv.gz")),
        gunzip(&one.join("predictions.csv.gz"))
    );
    let probabilities = study::report::PROBABILITIES;
    assert!(
        std::fs::read(many.join(probabilities)).unwrap()
            == std::fs::read(one.join(probabilities)).unwrap()
    );
    for plot in study::report::PLOTS {
        assert_eq!(
            std::fs::read(many.join(plot)).unwrap(),
            std::fs::read(one.join(plot)).unwrap(),
            "{plot}"
        );
    }

    refusals(&parts);
    for dir in [parts, one, many] {
        std::fs::remove_dir_all(dir).ok();
    }
}

/// Parts that do not make one study are refused, each with the part named.
fn refusals(parts: &Path) {
    let part = |k: usize| parts.join(Shard { index: k, count: 3 }.file_name());
    // Each part read once (a part of the quick study is tens of megabytes).
    let read_once: Vec<Part> = (0..3).map(|k| Part::read(&part(k)).unwrap()).collect();
    let read = |k: usize| read_once[k].clone();
    let copy = |k, to: &Path| std::fs::copy(part(k), to.join(part(k).file_name().unwrap()));

    // Part 1 given twice (in two directories).
    let twice = scratch("twice");
    copy(1, &twice).unwrap();
    let e = merge::merge(&[parts.to_path_buf(), twice.clone()]).unwrap_err();
    assert!(
        matches!(e, MergeError::Overlap { part, .. } if part.index == 1),
        "{e:?}"
    );
    let message = e.to_string();
    assert!(
        message.starts_with("part 1/3 is given twice: "),
        "{message}"
    );
    assert!(
        message.contains(&part(1).display().to_string())
            && message.contains(&twice.join("part-1-of-3.json.gz").display().to_string()),
        "{message}"
    );

    // Part 1 missing.
    let missing = scratch("missing");
    copy(0, &missing).unwrap();
    copy(2, &missing).unwrap();
    let e = merge::merge(std::slice::from_ref(&missing)).unwrap_err();
    assert!(
        matches!(e, MergeError::Missing { part, .. } if part.index == 1),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "part 1/3 (part-1-of-3.json.gz) is missing: not in {}",
            missing.display()
        )
    );

    // A part with other settings (other final seeds), from another version, on
    // other data, or of another number of parts.
    let altered = |name: &str, k: usize, change: &dyn Fn(&mut Part)| {
        let dir = scratch(name);
        for j in (0..3).filter(|&j| j != k) {
            copy(j, &dir).unwrap();
        }
        let mut odd = read(k);
        change(&mut odd);
        let written = odd.write(&dir).unwrap();
        let e = merge::merge(std::slice::from_ref(&dir)).unwrap_err();
        std::fs::remove_dir_all(&dir).ok();
        (e, written)
    };
    let mismatched = |name: &str, change: &dyn Fn(&mut Part)| altered(name, 1, change);
    let (e, odd) = mismatched("seeds", &|p| {
        p.settings["seeds"] = serde_json::json!([1, 2, 3])
    });
    assert!(
        matches!(&e, MergeError::Mismatch { path, .. } if *path == odd),
        "{e:?}"
    );
    let message = e.to_string();
    assert!(
        message.starts_with(&format!(
            "{}: not part of the same study as ",
            odd.display()
        )) && message.ends_with("different settings: seeds: [1,2,3] here, [1,2] in the first part"),
        "{message}"
    );

    let (e, odd) = mismatched("version", &|p| p.version = "0.1.0".into());
    assert!(
        matches!(&e, MergeError::Version { path, .. } if *path == odd),
        "{e:?}"
    );
    assert!(
        e.to_string().starts_with(&format!(
            "{}: written by version 0.1.0 of the study, expected ",
            odd.display()
        )),
        "{e}"
    );

    let (e, odd) = mismatched("data", &|p| p.data = "fnv1a64:0000000000000000".into());
    assert!(
        matches!(&e, MergeError::Mismatch { path, .. } if *path == odd),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("trained on other MNIST files"),
        "{e}"
    );

    // A teacher two parts trained, with other bits in one of them (as another
    // build or a machine with other arithmetic would give).
    let (k, teacher) = (0..3)
        .flat_map(|k| read_once[k].teachers.iter().map(move |t| (k, t.index)))
        .find(|&(k, t)| (0..k).any(|j| read_once[j].teachers.iter().any(|u| u.index == t)))
        .expect("some teacher trained by two parts");
    let (e, odd) = altered("teacher", k, &|p| {
        for t in p.teachers.iter_mut().filter(|t| t.index == teacher) {
            t.print = "fnv1a64:0000000000000000".into();
        }
    });
    assert!(
        matches!(&e, MergeError::Mismatch { path, .. } if *path == odd),
        "{e:?}"
    );
    assert!(e.to_string().contains("its copy of the teacher"), "{e}");

    // Part 2 of 4 beside parts 0 and 2 of 3.
    let (e, odd) = mismatched("count", &|p| p.shard = Shard { index: 2, count: 4 });
    assert!(
        matches!(&e, MergeError::Mismatch { path, .. } if *path == odd),
        "{e:?}"
    );
    assert!(
        e.to_string().ends_with("a part of 4 parts, the first of 3"),
        "{e}"
    );

    // A damaged file, and a directory with no parts.
    let damaged = scratch("damaged");
    std::fs::write(damaged.join("part-0-of-1.json.gz"), b"not gzip").unwrap();
    let e = merge::merge(std::slice::from_ref(&damaged)).unwrap_err();
    assert!(matches!(e, MergeError::Malformed { .. }), "{e:?}");
    assert!(
        e.to_string().starts_with(&format!(
            "{}: not a usable part: ",
            damaged.join("part-0-of-1.json.gz").display()
        )),
        "{e}"
    );
    let empty = scratch("empty");
    let e = merge::merge(std::slice::from_ref(&empty)).unwrap_err();
    assert!(matches!(e, MergeError::NoParts { .. }), "{e:?}");
    for dir in [twice, missing, damaged, empty] {
        std::fs::remove_dir_all(dir).ok();
    }
}
