//! Turning the study's runs into `report.md`, `results.csv`,
//! `predictions.csv.gz` and plots — every figure recomputed from the runs.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use super::StudyConfig;
use super::analysis::{Comparison, Metric, comparisons, finals, interval};
use super::plots::{Chart, Point, Series, format_number, render};
use super::questions::{KD_CNN, STUDENTS};
use super::recipe::Teaching;
use super::search::{Phase, Run};
use super::stats::Interval;
use super::train::Net;
use crate::cli::write_atomically;

/// The plots, by file name.
pub const PLOTS: [&str; 3] = ["compression.svg", "limited_labels.svg", "kd_search.svg"];

/// The PyTorch figures the reference ablation is compared with (test accuracy,
/// percent, 3 seeds, Adam), as the issue that asked for this study gives them.
pub const PYTORCH: [(&str, f64); 5] = [
    ("teacher", 95.94),
    ("direct", 93.10),
    ("kd", 93.16),
    ("kd T=4", 92.5),
    ("mse", 90.6),
];

/// The file of every scored run's test-set probabilities ([`probabilities`]).
pub const PROBABILITIES: &str = "probabilities.f32";

/// Bytes of [`PROBABILITIES`]'s text header, before the numbers.
pub const PROBABILITIES_HEADER: usize = 256;

/// The files `write_outputs` writes into its directory.
pub fn output_names() -> Vec<&'static str> {
    let mut names = vec![
        "report.md",
        "results.csv",
        "predictions.csv.gz",
        PROBABILITIES,
    ];
    names.extend(PLOTS);
    names
}

/// Checks, before any work, that `write_outputs` can write into `dir`: it exists
/// or can be created, and none of the files it writes is anything but a regular
/// file.
pub fn check_outputs(dir: &Path) -> std::io::Result<()> {
    crate::cli::check_output_dir(dir)?; // a device or file named as such
    for name in output_names() {
        mimic::persist::check_writable(&dir.join(name))
            .map_err(|e| std::io::Error::new(e.kind(), format!("{name}: {e}")))?;
    }
    Ok(())
}

/// Writes every output into `dir`, each atomically; returns the comparisons.
pub fn write_outputs(
    dir: &Path,
    config: &StudyConfig,
    runs: &[Run],
    test_classes: &[usize],
    seconds: f64,
) -> std::io::Result<Vec<Comparison>> {
    check_outputs(dir)?;
    let compared = comparisons(runs, test_classes);
    let calibrated = super::analysis::calibration(runs, test_classes);
    write_atomically(&dir.join("results.csv"), &results_csv(runs)?)?;
    write_atomically(&dir.join("predictions.csv.gz"), &predictions(runs)?)?;
    write_atomically(&dir.join(PROBABILITIES), &probabilities(runs))?;
    write_atomically(&dir.join(PLOTS[0]), compression_plot(&compared)?.as_bytes())?;
    write_atomically(
        &dir.join(PLOTS[1]),
        limited_plot(&compared, config)?.as_bytes(),
    )?;
    write_atomically(&dir.join(PLOTS[2]), search_plot(runs, config)?.as_bytes())?;
    let report = markdown(config, runs, (&compared, &calibrated), seconds);
    write_atomically(&dir.join("report.md"), report.as_bytes())?;
    Ok(compared)
}

fn teaching_fields(t: Teaching) -> [String; 3] {
    match t {
        Teaching::Labels { smoothing } => [smoothing.to_string(), String::new(), String::new()],
        Teaching::Kd { temperature, alpha } => {
            [String::new(), temperature.to_string(), alpha.to_string()]
        }
        Teaching::Mse => [String::new(), String::new(), String::new()],
    }
}

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Search => "search",
        Phase::Final => "final",
    }
}

fn results_csv(runs: &[Run]) -> std::io::Result<Vec<u8>> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "pipeline",
        "question",
        "condition",
        "network",
        "parameters",
        "method",
        "phase",
        "seed",
        "teaching",
        "smoothing",
        "temperature",
        "alpha",
        "optimizer",
        "learning_rate",
        "epochs",
        "validation_accuracy",
        "test_accuracy",
        "ece",
        "nll",
        "agreement",
        "kl",
        "class_bias",
        "class_before",
        "class_after",
        "accuracy_after",
        "diverged",
        "seconds",
    ])?;
    let opt = |v: Option<f64>| v.map_or_else(String::new, |v| format!("{v:.4}"));
    for r in runs {
        let [smoothing, temperature, alpha] = teaching_fields(r.recipe.teaching);
        let t = r.test.as_ref();
        let c = t.and_then(|t| t.corrected);
        out.write_record([
            r.pipeline.to_string(),
            r.question.to_string(),
            r.condition.clone(),
            r.net.name().to_string(),
            r.net.parameters().to_string(),
            r.arm.to_string(),
            phase_name(r.phase).to_string(),
            r.seed.to_string(),
            r.recipe.teaching.family().to_string(),
            smoothing,
            temperature,
            alpha,
            format!("{:?}", r.recipe.optim),
            r.recipe.learning_rate.to_string(),
            r.recipe.epochs.to_string(),
            opt(r.validation),
            opt(t.map(|t| t.accuracy)),
            opt(t.map(|t| t.ece)),
            opt(t.map(|t| t.nll)),
            opt(t.and_then(|t| t.agreement)),
            opt(t.and_then(|t| t.kl)),
            opt(c.map(|c| f64::from(c.bias))),
            opt(c.map(|c| c.class_before)),
            opt(c.map(|c| c.class_after)),
            opt(c.map(|c| c.accuracy_after)),
            // A teacher trained on the validation split has no validation
            // score, but scores on the test set: it did not diverge.
            (r.validation.is_none() && t.is_none()).to_string(),
            format!("{:.3}", r.seconds),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error())
}

/// Every scored run's softmax probabilities for each test image, in the order of
/// `results.csv`'s rows with test scores: a text header padded with spaces to
/// [`PROBABILITIES_HEADER`] bytes, then runs × images × 10 classes of `f32`,
/// little-endian (NumPy: `np.fromfile(path, "<f4", offset=256).reshape(-1,
/// images, 10)`). ECE and NLL recompute from it exactly.
pub fn probabilities(runs: &[Run]) -> Vec<u8> {
    let scored: Vec<&super::score::Scores> = runs.iter().filter_map(|r| r.test.as_ref()).collect();
    let images = scored.first().map_or(0, |t| t.probabilities.len());
    let mut header = format!(
        "mimic distill_study probabilities, format 1: {} runs x {images} test images x 10 classes, f32 little-endian after these {PROBABILITIES_HEADER} bytes; runs in the order of results.csv's rows with test scores",
        scored.len()
    );
    header.truncate(PROBABILITIES_HEADER - 1);
    let mut out = format!("{header:<width$}\n", width = PROBABILITIES_HEADER - 1).into_bytes();
    out.reserve(scored.len() * images * 40);
    for t in scored {
        out.extend(
            t.probabilities
                .iter()
                .flatten()
                .flat_map(|p| p.to_le_bytes()),
        );
    }
    out
}

/// Every final run's predicted class for each test image, one run per line, as a
/// string of digits (image k is character k), gzip-compressed.
fn predictions(runs: &[Run]) -> std::io::Result<Vec<u8>> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "question",
        "condition",
        "network",
        "method",
        "seed",
        "predictions",
    ])?;
    for r in runs.iter().filter(|r| r.phase == Phase::Final) {
        let Some(t) = &r.test else { continue };
        let digits: String = t
            .predictions
            .iter()
            .map(|&p| char::from(b'0' + p))
            .collect();
        out.write_record([
            r.question,
            &r.condition,
            r.net.name(),
            r.arm,
            &r.seed.to_string(),
            &digits,
        ])?;
    }
    let csv = out.into_inner().map_err(|e| e.into_error())?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&csv)?;
    gz.finish()
}

fn metric(runs: &[&Run], f: impl Fn(&super::score::Scores) -> Option<f64>) -> Option<Interval> {
    let v: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.test.as_ref().and_then(&f))
        .collect();
    (!v.is_empty()).then(|| interval(&v))
}

/// The paired differences a plot shows for `categories` (each picks its
/// comparison): the pipeline-level 95% t-interval, and each pipeline's own mean
/// difference as a series of points without error bars.
fn difference_series<'a>(
    categories: impl Iterator<Item = Option<&'a Comparison>> + Clone,
) -> Vec<Series> {
    let pipelines = categories
        .clone()
        .flatten()
        .map(|c| c.per_pipeline.len())
        .max()
        .unwrap_or(0);
    let mut series = vec![Series {
        name: "KD − direct (95% t over pipelines)".into(),
        points: categories
            .clone()
            .enumerate()
            .filter_map(|(x, c)| {
                let i = c?.paired.interval;
                Some(Point {
                    x,
                    y: i.estimate,
                    low: i.low,
                    high: i.high,
                })
            })
            .collect(),
    }];
    for p in 0..pipelines {
        series.push(Series {
            name: format!("pipeline {p}"),
            points: categories
                .clone()
                .enumerate()
                .filter_map(|(x, c)| {
                    let y = *c?.per_pipeline.get(p)?;
                    Some(Point {
                        x,
                        y,
                        low: y,
                        high: y,
                    })
                })
                .collect(),
        });
    }
    series
}

fn comparison<'a>(
    compared: &'a [Comparison],
    (question, condition, net): (&str, &str, Net),
    method: &str,
) -> Option<&'a Comparison> {
    compared.iter().find(|c| {
        c.question == question && c.condition == condition && c.net == net && c.method == method
    })
}

fn compression_plot(compared: &[Comparison]) -> std::io::Result<String> {
    let teachers = [("kd", "MLP"), (KD_CNN, "CNN")];
    let pairs: Vec<(Net, &str, &str)> = STUDENTS
        .iter()
        .flat_map(|&net| teachers.map(|(method, teacher)| (net, method, teacher)))
        .filter(|&(net, method, _)| {
            comparison(compared, ("compression", "", net), method).is_some()
        })
        .collect();
    let cells = pairs
        .iter()
        .map(|&(net, method, _)| comparison(compared, ("compression", "", net), method));
    render(&Chart {
        title: format!(
            "Students of the {} and the CNN teacher: distilled − direct, paired",
            Net::Strong.name()
        ),
        x_label: "student, from which teacher".into(),
        y_label: "test accuracy difference (points)".into(),
        categories: pairs
            .iter()
            .map(|(net, _, teacher)| format!("{} ({teacher})", net.name()))
            .collect(),
        series: difference_series(cells),
    })
}

fn limited_plot(compared: &[Comparison], config: &StudyConfig) -> std::io::Result<String> {
    let conditions: Vec<String> = config
        .label_budgets
        .iter()
        .map(|n| format!("{n} labels"))
        .collect();
    let cells = conditions
        .iter()
        .map(|c| comparison(compared, ("limited labels", c, Net::Hidden32), "kd"));
    render(&Chart {
        title: "784→32→10 with few labels: distilled − direct, paired".into(),
        x_label: "labelled training images".into(),
        y_label: "test accuracy difference (points)".into(),
        categories: config.label_budgets.iter().map(|n| n.to_string()).collect(),
        series: difference_series(cells),
    })
}

/// Validation accuracy of the compression question's KD candidates by
/// temperature (best over rates; one line per student and α), with the binomial
/// 95% interval of one validation split: what the choice was made on, and how
/// close it was.
fn search_plot(runs: &[Run], config: &StudyConfig) -> std::io::Result<String> {
    // T = 16 is tried only past the grid's edge; a temperature that no candidate
    // of pipeline 0 tried is left off the chart.
    let tried = |t: f32| {
        runs.iter().any(|r| {
            r.phase == Phase::Search
                && r.pipeline == 0
                && r.question == "compression"
                && matches!(r.recipe.teaching, Teaching::Kd { temperature, .. } if temperature == t)
        })
    };
    let temperatures: Vec<f32> = [1.0_f32, 2.0, 4.0, 8.0, 16.0]
        .into_iter()
        .filter(|&t| tried(t))
        .collect();
    let n = config.validation as f64;
    let series = STUDENTS
        .iter()
        .flat_map(|&net| [0.5_f32, 1.0].map(move |a| (net, a)))
        .map(|(net, alpha)| Series {
            name: format!("{} α={alpha}", net.name()),
            points: temperatures
                .iter()
                .enumerate()
                .filter_map(|(k, &t)| {
                    let best = runs
                        .iter()
                        .filter(|r| {
                            r.phase == Phase::Search
                                && r.pipeline == 0
                                && r.question == "compression"
                                && r.net == net
                                && r.recipe.teaching
                                    == Teaching::Kd {
                                        temperature: t,
                                        alpha,
                                    }
                        })
                        .filter_map(|r| r.validation)
                        .fold(None, |b: Option<f64>, v| Some(b.map_or(v, |b| b.max(v))))?;
                    let p = best / 100.0;
                    let half = 100.0 * 1.96 * (p * (1.0 - p) / n).sqrt();
                    Some(Point {
                        x: k,
                        y: best,
                        low: best - half,
                        high: best + half,
                    })
                })
                .collect(),
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    render(&Chart {
        title:
            "Pipeline 0's KD candidates on the validation split (best rate; binomial 95% interval)"
                .into(),
        x_label: "temperature T".into(),
        y_label: "validation accuracy (%)".into(),
        categories: temperatures.iter().map(|t| t.to_string()).collect(),
        series,
    })
}

fn pct(i: Option<Interval>) -> String {
    i.map_or_else(
        || "–".into(),
        |i| format!("{:.2} [{:.2}, {:.2}]", i.estimate, i.low, i.high),
    )
}

fn p_value(p: f64) -> String {
    if p < 0.0001 {
        "<0.0001".into()
    } else {
        format!("{p:.4}")
    }
}

fn markdown(
    config: &StudyConfig,
    runs: &[Run],
    (compared, calibration): (&[Comparison], &[Comparison]),
    seconds: f64,
) -> String {
    let mut m = String::new();
    let finals_n = runs.iter().filter(|r| r.phase == Phase::Final).count();
    let _ = writeln!(m, "# Does distillation help? The distillation study\n");
    if config.quick {
        let _ = writeln!(
            m,
            "> **This is the reduced `--quick` run (CI-sized: {} training images, {} seeds, {} epochs). It is not the study; its numbers answer nothing.**\n",
            config.train_limit.unwrap_or(0),
            config.seeds.len(),
            config.epochs
        );
    }
    let _ = writeln!(
        m,
        "Produced by `{}` in {:.0} s ({} runs, {} final; {} threads). Every number below is recomputed from `results.csv` and `predictions.csv.gz`.\n",
        config.command,
        seconds,
        runs.len(),
        finals_n,
        config.threads
    );
    m.push_str(&questions_text(config));
    m.push_str(&protocol_text(config, runs));
    m.push_str(&answers(compared));
    m.push_str(&teachers_table(runs));
    m.push_str(&calibration_text(runs, calibration));
    m.push_str(&tables(runs, compared));
    m.push_str(&omitted_text(runs));
    m.push_str(&reference_text(runs, config));
    m.push_str(&files_text(runs));
    let _ = writeln!(
        m,
        "## History\n\nHow the study came to this protocol, and how its answers moved between earlier runs: [HISTORY.md](HISTORY.md).\n"
    );
    m
}

/// What the study writes beside this report.
fn files_text(runs: &[Run]) -> String {
    let scored = runs.iter().filter(|r| r.test.is_some()).count();
    let images = runs
        .iter()
        .find_map(|r| r.test.as_ref())
        .map_or(0, |t| t.probabilities.len());
    let megabytes = (PROBABILITIES_HEADER + scored * images * 40) as f64 / 1e6;
    format!(
        "## Files\n\n\
- `results.csv`: every run, one row each (search and final; teachers included), with its settings and figures.\n\
- `predictions.csv.gz`: every final run's predicted class for each test image, in the order of the test set.\n\
- `{PROBABILITIES}` ({megabytes:.0} MB, written by every run of the study but too large for the repository): the softmax probabilities of the {scored} runs with test scores, in the order of their rows in `results.csv`, each over the {images} test images and 10 classes, as little-endian `f32` after a {PROBABILITIES_HEADER}-byte text header (NumPy: `np.fromfile(\"{PROBABILITIES}\", \"<f4\", offset={PROBABILITIES_HEADER}).reshape({scored}, {images}, 10)`). Every ECE and NLL above recomputes from it exactly.\n\
- `compression.svg`, `limited_labels.svg`, `kd_search.svg`: the plots above.\n\n"
    )
}

fn protocol_text(config: &StudyConfig, runs: &[Run]) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "## Protocol\n");
    let _ = writeln!(
        m,
        "- **Data.** MNIST's training set less its last {} images (the validation split) is the fit split every network trains on; every setting is chosen on the validation split; the 10,000 test images are scored and never consulted. Pixels ÷ 255.",
        config.validation
    );
    let _ = writeln!(
        m,
        "- **Pipelines and seeds.** The whole pipeline — selection seed, teachers, labelled subsets and label noise — is repeated {} times, each time from its own seeds: pipeline p (0 to {}) trains its candidates with selection seed {} + {}·p, which is never a final seed, and the chosen setting of every method with final seeds {}–{} + {}·p ({} per pipeline). A seed fixes a network's initialisation and the order its data is shuffled in, so the methods' runs of one seed are paired; each teacher is trained once per pipeline, with its selection seed. The reference ablation runs in pipeline 0 only.",
        config.pipelines,
        config.pipelines.saturating_sub(1),
        config.selection_seed,
        super::PIPELINE_STRIDE,
        config.seeds.first().unwrap_or(&0),
        config.seeds.last().unwrap_or(&0),
        super::PIPELINE_STRIDE,
        config.seeds.len()
    );
    let params = STUDENTS.map(Net::parameters);
    let (smallest, largest) = (params.iter().min(), params.iter().max());
    let strong = Net::Strong.parameters();
    let _ = writeln!(
        m,
        "- **Training.** Students and strong teachers: He initialisation, Adam (β 0.9, 0.999) on mini-batches of 64, the rate decayed to 0 by a cosine over the run, data shuffled every epoch. Students' base budget: {} epochs. The strong teacher, {} ({} parameters), trains {} epochs; every student ({} to {} parameters) is {}.",
        config.epochs,
        Net::Strong.name(),
        thousands(strong),
        config.teacher_epochs,
        thousands(*smallest.unwrap_or(&0)),
        thousands(*largest.unwrap_or(&0)),
        if largest < Some(&strong) {
            "strictly smaller"
        } else {
            "not smaller"
        }
    );
    let _ = writeln!(
        m,
        "- **The convolutional teacher** ({}: conv 16@5×5, padding 2 → max pool 2 → conv 32@5×5 → max pool 2 → 800→10, ReLU; {} parameters) trains {} epochs on the fit split's images as 1×28×28, Adam at 0.004 (the best of 0.001, 0.002 and 0.004 on pipeline 0's validation split) with the same cosine decay; its students are the compression question's, distilled over the same grid as from the multilayer teacher (`{}` in the tables).",
        Net::Cnn.name(),
        thousands(Net::Cnn.parameters()),
        config.cnn_epochs,
        KD_CNN
    );
    let _ = writeln!(
        m,
        "- **Equal tuning budgets.** KD chooses among T ∈ {{1, 2, 4, 8}} × α × rate ∈ {{0.001, 0.003}}, direct among label smoothing ε × epochs ∈ {{base, 2 × base}} × rate — so the direct network may train twice as long as the student it is compared with. Where the choice lands on an edge of a grid (a rate, the top T or ε), one more candidate past that edge is tried and may be chosen; every method of a table gets the same number of these extra candidates (where it has fewer edges to step past, rates between the grid's). Questions with few labels choose on a fifth as many validation labels as they have labelled images. Each method's candidates in pipeline 0 (every pipeline searches the same grids), counted in `results.csv`:\n\n{}",
        candidate_counts(runs)
    );
    let _ = writeln!(
        m,
        "- **KD** is `α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1−α)·CE(s, label)`; **MSE** the seed's matching of the teacher's output vector."
    );
    let _ = writeln!(
        m,
        "- **Statistics.** Runs are paired by seed within a pipeline. Each comparison's difference is the mean of the pipelines' mean differences, with a 95% t-interval over pipelines ({} − 1 degrees of freedom: it includes what rerunning the whole pipeline changes) and a 95% bootstrap interval that resamples pipelines, the seeds within them *and* test images ({} resamples). p-values are two-sided paired t-tests over the pipelines' means, adjusted by Holm across every comparison in the answer table. The verdict is generated from these numbers: a method beats (or loses to) direct only when its Holm-adjusted p < 0.05, both intervals lie above (below) 0 *and* at least 4 in 5 pipelines (every pipeline, if fewer than 5) have a difference of that sign; otherwise it is \"not shown\".",
        config.pipelines,
        super::analysis::RESAMPLES
    );
    let _ = writeln!(
        m,
        "- **Calibration** on the test set: ECE over 15 equal-width confidence bins (percent), NLL (nats), top-1 agreement with the teacher (percent) and KL(teacher ‖ student) (nats), each mean [95% t-interval] over seeds.\n"
    );
    m
}

fn answers(compared: &[Comparison]) -> String {
    let mut m = String::from("## Answers\n\n");
    let headers = ["method %", "direct %", "better than direct?"];
    m.push_str(&comparison_table(compared, headers, None));
    let _ = writeln!(m, "\n± is the sd over every seed of every pipeline.\n");
    m
}

/// The calibration claims: KD's ECE and NLL against direct's, with the label
/// smoothing direct chose (which calibrates by itself) counted beside them.
fn calibration_text(runs: &[Run], calibration: &[Comparison]) -> String {
    let mut m = String::from(
        "## Calibration\n\nKD − direct in ECE (percent) and NLL (nats) on the test set, paired and over pipelines as in the answers, Holm-adjusted across these comparisons; lower is better calibrated. Direct may choose label smoothing, which calibrates by itself: the last column counts the pipelines where it did, and each KD method is also compared with *direct ε=0* — direct's best setting without smoothing (chosen on validation like the other, trained with the same final seeds; where direct chose no smoothing, its own runs). Every final run's per-image test probabilities are in `probabilities.f32` (see *Files*). Where direct never chose smoothing, the comparison with direct ε=0 would repeat the one with direct and is left out.\n\n",
    );
    let smoothing = |c: &Comparison| {
        let mut chosen: Vec<(usize, f32)> = runs
            .iter()
            .filter(|r| {
                r.phase == Phase::Final
                    && r.arm == "direct"
                    && r.question == c.question
                    && r.condition == c.condition
                    && r.net == c.net
            })
            .filter_map(|r| match r.recipe.teaching {
                Teaching::Labels { smoothing } => Some((r.pipeline, smoothing)),
                _ => None,
            })
            .collect();
        chosen.dedup_by_key(|x| x.0);
        let smoothed = chosen.iter().filter(|x| x.1 > 0.0).count();
        if c.baseline == "direct" {
            format!("{smoothed} of {}", chosen.len())
        } else {
            format!("none (direct smoothed in {smoothed} of {})", chosen.len())
        }
    };
    let headers = ["KD", "direct", "KD better calibrated?"];
    let extra: (&str, &dyn Fn(&Comparison) -> String) = ("direct smoothed labels", &smoothing);
    m.push_str(&comparison_table(calibration, headers, Some(extra)));
    m.push('\n');
    m
}

/// A column after the verdict: its header, and its cell for a comparison.
type Extra<'a> = (&'a str, &'a dyn Fn(&Comparison) -> String);

/// One row per comparison: both means (`method`, `baseline` name their
/// columns), the paired difference with its intervals, each pipeline's
/// difference, the Holm p, the verdict (`verdict` names it) and `extra`.
fn comparison_table(
    compared: &[Comparison],
    [method, baseline, verdict]: [&str; 3],
    extra: Option<Extra<'_>>,
) -> String {
    let mut m = String::new();
    let (extra_header, extra_rule) =
        extra.map_or((String::new(), ""), |(h, _)| (format!(" {h} |"), "---|"));
    let _ = writeln!(
        m,
        "| question | network | condition | method | {method} | {baseline} | difference [95% t over pipelines] | [95% bootstrap, pipelines × seeds × images] | each pipeline | same sign | Holm p | {verdict} |{extra_header}"
    );
    let _ = writeln!(
        m,
        "|---|---|---|---|---|---|---|---|---|---|---|---|{extra_rule}"
    );
    for c in compared {
        let what = match c.metric {
            Metric::Accuracy => "",
            Metric::OmittedClassCorrected => " (3s, after bias fix)",
            Metric::Ece => " (ECE %)",
            Metric::Nll => " (NLL)",
        };
        let d = if c.metric == Metric::Nll { 3 } else { 2 };
        // Each pipeline's difference with as many decimals as the interval.
        let e = super::stats::decimals(c.paired.interval.width()).max(d);
        let _ = writeln!(
            m,
            "| {} | {} | {}{what} | {} | {:.d$} ± {:.d$} | {:.d$} ± {:.d$} | {} | {} | {} | {} of {} | {} | **{}** |{}",
            c.question,
            c.net.name(),
            if c.condition.is_empty() {
                "–"
            } else {
                &c.condition
            },
            if c.baseline == "direct" {
                c.method.to_string()
            } else {
                format!("{} vs {}", c.method, c.baseline)
            },
            c.method_mean,
            c.method_sd,
            c.baseline_mean,
            c.baseline_sd,
            c.paired.interval,
            c.bootstrap.map_or_else(
                || "–".into(),
                |b| {
                    let d = super::stats::decimals(b.high - b.low);
                    format!("[{:.d$}, {:.d$}]", b.low, b.high)
                }
            ),
            c.per_pipeline
                .iter()
                .map(|x| format!("{x:+.e$}"))
                .collect::<Vec<_>>()
                .join(", "),
            c.agreeing(),
            c.per_pipeline.len(),
            p_value(c.holm_p),
            c.verdict(),
            extra.map_or_else(String::new, |(_, cell)| format!(" {} |", cell(c))),
        );
    }
    m
}

/// How many candidates each method of each table tried, from the search runs.
fn candidate_counts(runs: &[Run]) -> String {
    let mut rows: Vec<(String, Vec<(&str, usize)>)> = Vec::new();
    for run in runs
        .iter()
        .filter(|r| r.phase == Phase::Search && r.pipeline == 0)
    {
        let table = format!(
            "| {} | {} | {} |",
            run.question,
            if run.condition.is_empty() {
                "–"
            } else {
                &run.condition
            },
            run.net.name()
        );
        let at = match rows.iter().position(|(t, _)| *t == table) {
            Some(at) => at,
            None => {
                rows.push((table, Vec::new()));
                rows.len() - 1
            }
        };
        let arms = &mut rows[at].1;
        match arms.iter_mut().find(|(arm, _)| *arm == run.arm) {
            Some((_, n)) => *n += 1,
            None => arms.push((run.arm, 1)),
        }
    }
    let mut m = String::from(
        "| question | condition | network | candidates per method |\n|---|---|---|---|\n",
    );
    for (table, arms) in rows {
        let counts: Vec<String> = arms.iter().map(|(arm, n)| format!("{arm} {n}")).collect();
        let _ = writeln!(m, "{table} {} |", counts.join(", "));
    }
    m
}

fn teachers_table(runs: &[Run]) -> String {
    let mut m = String::new();
    let _ = writeln!(
        m,
        "## Teachers\n\n| pipeline | question | condition | network | training | validation % | test % | ECE % | NLL |\n|---|---|---|---|---|---|---|---|---|"
    );
    for r in runs.iter().filter(|r| r.arm == "teacher") {
        let t = r.test.as_ref();
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.pipeline,
            r.question,
            if r.condition.is_empty() {
                "–"
            } else {
                &r.condition
            },
            r.net.name(),
            r.recipe,
            match (r.validation, t) {
                (Some(v), _) => format!("{v:.2}"),
                (None, Some(_)) => "– (trained on it)".into(),
                (None, None) => "diverged".into(),
            },
            t.map_or_else(|| "–".into(), |t| format!("{:.2}", t.accuracy)),
            t.map_or_else(|| "–".into(), |t| format!("{:.2}", t.ece)),
            t.map_or_else(|| "–".into(), |t| format!("{:.3}", t.nll)),
        );
    }
    m.push('\n');
    m
}

fn tables(runs: &[Run], compared: &[Comparison]) -> String {
    let mut m = String::new();
    let _ = writeln!(
        m,
        "## Every final setting\n\nWhat each method chose on the validation split in each pipeline, and its test figures over that pipeline's final seeds (mean [95% t-interval]).\n"
    );
    let _ = writeln!(
        m,
        "| question | network | condition | method | pipeline | chosen setting | validation % (selection seed) | test % | ECE % | NLL | agreement with teacher % | KL to teacher |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    let mut seen: Vec<(&str, String, Net, &str, usize)> = Vec::new();
    for r in runs
        .iter()
        .filter(|r| r.phase == Phase::Final && r.arm != "teacher")
    {
        let key = (r.question, r.condition.clone(), r.net, r.arm, r.pipeline);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let f: Vec<&Run> = finals(runs, r.question, &r.condition, r.net, r.arm)
            .into_iter()
            .filter(|f| f.pipeline == r.pipeline)
            .collect();
        let chosen_validation = runs
            .iter()
            .find(|s| {
                s.phase == Phase::Search
                    && s.pipeline == r.pipeline
                    && s.question == r.question
                    && s.condition == r.condition
                    && s.net == r.net
                    && s.arm == r.arm
                    && s.recipe == r.recipe
            })
            .and_then(|s| s.validation);
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.question,
            r.net.name(),
            if r.condition.is_empty() {
                "–"
            } else {
                &r.condition
            },
            r.arm,
            r.pipeline,
            r.recipe,
            chosen_validation.map_or_else(|| "(not searched)".into(), |v| format!("{v:.2}")),
            pct(metric(&f, |t| Some(t.accuracy))),
            pct(metric(&f, |t| Some(t.ece))),
            metric(&f, |t| Some(t.nll)).map_or_else(
                || "–".into(),
                |i| format!("{:.3} [{:.3}, {:.3}]", i.estimate, i.low, i.high)
            ),
            pct(metric(&f, |t| t.agreement)),
            metric(&f, |t| t.kl).map_or_else(
                || "–".into(),
                |i| format!("{:.3} [{:.3}, {:.3}]", i.estimate, i.low, i.high)
            ),
        );
    }
    let widened = runs.iter().filter(|r| r.phase == Phase::Search).count();
    let _ = writeln!(
        m,
        "\n{widened} candidate runs in all (every one in `results.csv`, phase `search`). Diverged runs: {}. {} comparisons in the answer table, Holm-adjusted together.\n",
        runs.iter()
            .filter(|r| r.validation.is_none() && r.test.is_none())
            .count(),
        compared.len()
    );
    let _ = writeln!(
        m,
        "![students](compression.svg)\n\n![few labels](limited_labels.svg)\n\n![KD search](kd_search.svg)\n"
    );
    m
}

fn omitted_text(runs: &[Run]) -> String {
    let mut m = String::new();
    let _ = writeln!(
        m,
        "## The omitted class\n\n784→32→10 trained on the fit split without its 3s (as Hinton et al. did with a transfer set lacking 3s), then the 3-logit's bias raised by the amount that maximises validation accuracy. Hinton et al.'s larger distilled network got 86.8% of the test 3s right before its fix and 98.6% after, with a bias (3.5) chosen on the test set itself; here the test set chooses nothing. Figures over every pipeline's seeds.\n"
    );
    let _ = writeln!(
        m,
        "| method | test % (all) | 3s right before fix % | bias chosen | 3s right after % | test % after |\n|---|---|---|---|---|---|"
    );
    for arm in ["direct", "kd"] {
        let f = finals(
            runs,
            "omitted class",
            "no 3s in the transfer set",
            Net::Hidden32,
            arm,
        );
        if f.is_empty() {
            continue;
        }
        let c = |g: fn(&super::score::Corrected) -> f64| {
            metric(&f, move |t| t.corrected.as_ref().map(g))
        };
        let _ = writeln!(
            m,
            "| {arm} | {} | {} | {} | {} | {} |",
            pct(metric(&f, |t| Some(t.accuracy))),
            pct(c(|c| c.class_before)),
            pct(c(|c| f64::from(c.bias))),
            pct(c(|c| c.class_after)),
            pct(c(|c| c.accuracy_after)),
        );
    }
    m.push('\n');
    m
}

fn reference_text(runs: &[Run], config: &StudyConfig) -> String {
    let mut m = String::new();
    let mut conditions: Vec<&str> = Vec::new();
    for r in runs.iter().filter(|r| r.question == "reference") {
        if !conditions.contains(&r.condition.as_str()) {
            conditions.push(&r.condition);
        }
    }
    let _ = writeln!(
        m,
        "## Against the PyTorch reference\n\nA PyTorch run on this machine (3 seeds, Adam, test set) gave the figures below for the seed's shapes. mimic here: Adam at a constant 0.001, batch 64, shuffled, seeds {:?}, KD at α = 1 — varied one factor at a time from the seed's setting towards what a PyTorch script does by default: the output activation (the seed's LeakyReLU(0.1) on the logits, or none, which is what `nn.Linear` gives), the epochs, the training images (the fit split, or every training image — a script that reports only test accuracy holds nothing out) and the initialisation (He, or the variance of `nn.Linear`'s default, drawn from a normal). Each cell: mimic's mean [95% t-interval] over seeds and its gap to PyTorch. Runs on every training image have no clean validation score; nothing here is chosen by one.\n",
        config.reference_seeds
    );
    let _ = write!(m, "| network | PyTorch % |");
    for c in &conditions {
        let _ = write!(m, " {c} |");
    }
    let _ = writeln!(m, "\n|---|---|{}", "---|".repeat(conditions.len()));
    let mut within = vec![0; conditions.len()];
    for (arm, torch) in PYTORCH {
        let name = match arm {
            "teacher" => "784→16→16→10 teacher",
            "direct" => "784→10 direct",
            "kd" => "784→10 KD T=1",
            "kd T=4" => "784→10 KD T=4",
            _ => "784→10 MSE logit matching",
        };
        let _ = write!(m, "| {name} | {torch:.2} |");
        for (k, condition) in conditions.iter().enumerate() {
            let v: Vec<f64> = runs
                .iter()
                .filter(|r| r.question == "reference" && r.condition == *condition && r.arm == arm)
                .filter(|r| r.phase == Phase::Final)
                .filter_map(|r| r.test.as_ref().map(|t| t.accuracy))
                .collect();
            if v.is_empty() {
                let _ = write!(m, " – |");
                continue;
            }
            let i = interval(&v);
            let gap = i.estimate - torch;
            within[k] += usize::from(gap.abs() <= 0.15);
            let _ = write!(m, " {} ({gap:+.2}) |", pct(Some(i)));
        }
        m.push('\n');
    }
    let _ = write!(m, "\nWithin 0.15 points of PyTorch:");
    for (c, n) in conditions.iter().zip(&within) {
        let _ = write!(m, " {n} of {} rows with {c};", PYTORCH.len());
    }
    let _ = writeln!(
        m,
        " the teacher rows are one teacher each (selection seed), so they carry no interval.\n"
    );
    m
}

/// 25450 as `25,450`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

fn questions_text(config: &StudyConfig) -> String {
    let students: Vec<String> = STUDENTS.iter().map(|n| n.name().to_string()).collect();
    let students = match students.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => students.concat(),
    };
    let budgets: Vec<String> = config.label_budgets.iter().map(|&n| thousands(n)).collect();
    format!(
        "## Questions\n\n\
1. **The seed's question.** Under the seed's protocol (one pass, per-sample SGD, file order), does its 784→10 student, trained by MSE on its teacher's outputs, beat the same network trained on the labels?\n\
2. **Compression.** With every label, does a student distilled from a much larger teacher — the multilayer {strong} or a convolutional network — beat the same student trained directly, when each method gets the same number of tuned candidates — for {students}?\n\
3. **Few labels.** With {budgets} labelled images and the rest of the fit split unlabelled, does 784→32→10 distilled (over all the images) from a teacher trained on the labelled ones beat 784→32→10 trained on the labelled ones?\n\
4. **Label noise.** With {noise}% of the labels replaced by another class, does distillation from a teacher trained on those labels beat direct training on them?\n\
5. **An omitted class.** Trained on images with no 3s, can a distilled student recognise 3s — before and after raising the 3's bias by an amount chosen on validation?\n\
6. **Calibration and agreement.** Are distilled students better calibrated (ECE, NLL), and closer to their teacher (agreement, KL), than direct ones?\n\
7. **The reference.** Does mimic reach what PyTorch reached with Adam on the seed's shapes — and if not, which setting explains the gap?\n\n",
        strong = Net::Strong.name(),
        budgets = or_list(&budgets),
        noise = format_number(100.0 * config.noise),
    )
}
