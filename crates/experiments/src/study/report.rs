//! Turning the study's runs into `report.md`, `results.csv` and SVG plots.

use std::fmt::Write as _;
use std::path::Path;

use crate::cli::write_atomically;

use super::svg::legacy::{Series, line_chart};
use super::{Method, Phase, Protocol, RunResult, Size, StudyConfig, Subject};

/// Mean and spread of one network's final runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Protocol.
    pub protocol: Protocol,
    /// Teacher or which student.
    pub subject: Subject,
    /// The learning rate the search chose.
    pub learning_rate: f32,
    /// Runs that finished (did not diverge).
    pub runs: usize,
    /// Runs that diverged.
    pub diverged: usize,
    /// Mean test accuracy.
    pub mean: f64,
    /// Sample standard deviation of the test accuracy.
    pub sd: f64,
    /// Standard error of the mean, `sd / √runs`.
    pub se: f64,
    /// Mean validation accuracy (what "best" is chosen by).
    pub validation: f64,
    /// Mean agreement with the teacher on the test set (students).
    pub fidelity: Option<f64>,
}

/// One [`Summary`] per protocol and network, over the final runs.
pub fn summarize(results: &[RunResult]) -> Vec<Summary> {
    let mut summaries: Vec<Summary> = Vec::new();
    for r in results.iter().filter(|r| r.phase == Phase::Final) {
        if summaries
            .iter()
            .any(|s| s.protocol == r.protocol && s.subject == r.subject)
        {
            continue;
        }
        let same: Vec<&RunResult> = results
            .iter()
            .filter(|x| {
                x.phase == Phase::Final && x.protocol == r.protocol && x.subject == r.subject
            })
            .collect();
        let tests: Vec<f64> = same
            .iter()
            .filter_map(|x| x.test_accuracy)
            .map(f64::from)
            .collect();
        // Final runs train on the validation split too; what chose them is the
        // search run at the same rate.
        let validations: Vec<f64> = results
            .iter()
            .filter(|x| {
                x.phase == Phase::Search && x.protocol == r.protocol && x.subject == r.subject
            })
            .filter(|x| x.learning_rate == r.learning_rate)
            .filter_map(|x| x.validation_accuracy.clone().ok())
            .map(f64::from)
            .collect();
        let fidelities: Vec<f64> = same
            .iter()
            .filter_map(|x| x.fidelity)
            .map(f64::from)
            .collect();
        let (mean, sd) = mean_sd(&tests);
        summaries.push(Summary {
            protocol: r.protocol,
            subject: r.subject,
            learning_rate: r.learning_rate,
            runs: tests.len(),
            diverged: same.len() - tests.len(),
            mean,
            sd,
            se: if tests.is_empty() {
                f64::NAN
            } else {
                sd / (tests.len() as f64).sqrt()
            },
            validation: mean_sd(&validations).0,
            fidelity: (!fidelities.is_empty()).then(|| mean_sd(&fidelities).0),
        });
    }
    summaries
}

/// Mean and sample standard deviation (0 for a single value, NaN for none).
fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

fn find(summaries: &[Summary], protocol: Protocol, subject: Subject) -> Option<&Summary> {
    summaries
        .iter()
        .find(|s| s.protocol == protocol && s.subject == subject)
}

/// The student of `size` with the best mean *validation* accuracy, among `methods`.
fn best(
    summaries: &[Summary],
    protocol: Protocol,
    size: Size,
    teacher_methods_only: bool,
) -> Option<&Summary> {
    summaries
        .iter()
        .filter(|s| s.protocol == protocol && s.runs > 0)
        .filter(|s| match s.subject {
            Subject::Student(z, m) => z == size && (!teacher_methods_only || m != Method::Direct),
            Subject::Teacher => false,
        })
        .max_by(|a, b| a.validation.total_cmp(&b.validation))
}

/// The headline comparisons, as markdown table rows `| claim | numbers | verdict |`.
pub fn findings(summaries: &[Summary]) -> Vec<(String, String, bool)> {
    let mut rows = Vec::new();
    let pct = |v: f64| format!("{:.2}%", 100.0 * v);
    for protocol in [Protocol::Seed, Protocol::SeedStrongTeacher] {
        let direct = find(
            summaries,
            protocol,
            Subject::Student(Size::Linear, Method::Direct),
        );
        let (Some(d), Some(b)) = (direct, best(summaries, protocol, Size::Linear, true)) else {
            continue;
        };
        let diff = b.mean - d.mean;
        let se = (b.se.powi(2) + d.se.powi(2)).sqrt();
        rows.push((
            format!(
                "{} protocol: best distilled 784→10 beats direct 784→10 by > 2 SE of the difference",
                protocol.name()
            ),
            format!(
                "{} {} ± {:.2} vs direct {} ± {:.2}: difference {:+.2} points, SE {:.2}",
                student_name(b),
                pct(b.mean),
                100.0 * b.se,
                pct(d.mean),
                100.0 * d.se,
                100.0 * diff,
                100.0 * se
            ),
            diff > 2.0 * se,
        ));
    }
    if let Some(t) = find(summaries, Protocol::Tuned, Subject::Teacher) {
        rows.push((
            "tuned protocol: teacher ≥ 96%".into(),
            format!("{} ± {:.2}", pct(t.mean), 100.0 * t.se),
            t.mean >= 0.96,
        ));
        if let Some(b) = best(summaries, Protocol::Tuned, Size::Linear, false) {
            rows.push((
                "tuned protocol: best 784→10 student ≥ 93.2%".into(),
                format!("{}: {} ± {:.2}", student_name(b), pct(b.mean), 100.0 * b.se),
                b.mean >= 0.932,
            ));
        }
        if let Some(b) = best(summaries, Protocol::Tuned, Size::Hidden32, false) {
            rows.push((
                "tuned protocol: best 784→32→10 within 1 point of the teacher".into(),
                format!(
                    "{}: {} vs teacher {} ({:+.2} points)",
                    student_name(b),
                    pct(b.mean),
                    pct(t.mean),
                    100.0 * (b.mean - t.mean)
                ),
                t.mean - b.mean <= 0.01,
            ));
        }
    }
    rows
}

fn student_name(s: &Summary) -> String {
    match s.subject {
        Subject::Teacher => "teacher".into(),
        Subject::Student(size, method) => format!("{} {}", size.name(), method.name()),
    }
}

/// The files `write_outputs` writes into its directory.
pub fn output_names(config: &StudyConfig) -> Vec<String> {
    let mut names = vec!["results.csv".to_string(), "report.md".to_string()];
    for &protocol in &config.protocols {
        names.push(format!("accuracy_vs_temperature_{}.svg", protocol.name()));
        names.push(format!("accuracy_vs_learning_rate_{}.svg", protocol.name()));
    }
    names
}

/// Checks, before any work, that `write_outputs` can write into `dir`: it exists
/// or can be created, and none of the files it writes is anything but a regular
/// file.
pub fn check_outputs(dir: &Path, config: &StudyConfig) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for name in output_names(config) {
        mimic::persist::check_writable(&dir.join(&name))
            .map_err(|e| std::io::Error::new(e.kind(), format!("{name}: {e}")))?;
    }
    Ok(())
}

/// Writes `report.md`, `results.csv` and the plots into `dir`, each atomically.
pub fn write_outputs(
    dir: &Path,
    config: &StudyConfig,
    results: &[RunResult],
    seconds: f64,
) -> std::io::Result<()> {
    check_outputs(dir, config)?;
    let summaries = summarize(results);
    write_atomically(&dir.join("results.csv"), &csv_bytes(results)?)?;
    let mut plots = Vec::new();
    for &protocol in &config.protocols {
        let name = format!("accuracy_vs_temperature_{}.svg", protocol.name());
        let plot = temperature_plot(&summaries, protocol, config);
        write_atomically(&dir.join(&name), plot.as_bytes())?;
        plots.push(name);
        let name = format!("accuracy_vs_learning_rate_{}.svg", protocol.name());
        write_atomically(
            &dir.join(&name),
            learning_rate_plot(results, protocol).as_bytes(),
        )?;
        plots.push(name);
    }
    let report = markdown(config, &summaries, &plots, results.len(), seconds);
    write_atomically(&dir.join("report.md"), report.as_bytes())
}

fn csv_bytes(results: &[RunResult]) -> std::io::Result<Vec<u8>> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "protocol",
        "phase",
        "network",
        "method",
        "temperature",
        "alpha",
        "learning_rate",
        "seed",
        "validation_accuracy",
        "test_accuracy",
        "fidelity",
        "diverged",
        "seconds",
    ])?;
    for r in results {
        let (network, method, t, a) = match r.subject {
            Subject::Teacher => (
                "784→16→16→10".to_string(),
                "teacher".to_string(),
                String::new(),
                String::new(),
            ),
            Subject::Student(size, m) => {
                let (t, a) = match m {
                    Method::Kd { temperature, alpha } => {
                        (temperature.to_string(), alpha.to_string())
                    }
                    _ => (String::new(), String::new()),
                };
                let kind = match m {
                    Method::Direct => "direct",
                    Method::Mse => "mse",
                    Method::Kd { .. } => "kd",
                };
                (size.name().to_string(), kind.to_string(), t, a)
            }
        };
        let opt = |v: Option<f32>| v.map(|v| v.to_string()).unwrap_or_default();
        out.write_record([
            r.protocol.name().to_string(),
            if r.phase == Phase::Search {
                "search"
            } else {
                "final"
            }
            .to_string(),
            network,
            method,
            t,
            a,
            r.learning_rate.to_string(),
            r.seed.to_string(),
            opt(r.validation_accuracy.clone().ok()),
            opt(r.test_accuracy),
            opt(r.fidelity),
            r.validation_accuracy.is_err().to_string(),
            format!("{:.3}", r.seconds),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error())
}

fn temperature_plot(summaries: &[Summary], protocol: Protocol, config: &StudyConfig) -> String {
    let mut series = Vec::new();
    for &size in &config.sizes {
        for &alpha in &config.alphas {
            let points = config
                .temperatures
                .iter()
                .filter_map(|&temperature| {
                    let s = find(
                        summaries,
                        protocol,
                        Subject::Student(size, Method::Kd { temperature, alpha }),
                    )?;
                    (s.runs > 0).then_some((f64::from(temperature), s.mean))
                })
                .collect();
            series.push(Series {
                label: format!("{} KD α={alpha}", size.name()),
                points,
                dashed: false,
            });
        }
        if let Some(d) = find(summaries, protocol, Subject::Student(size, Method::Direct)) {
            let (lo, hi) = (
                config.temperatures.iter().copied().fold(f32::MAX, f32::min),
                config.temperatures.iter().copied().fold(f32::MIN, f32::max),
            );
            series.push(Series {
                label: format!("{} direct", size.name()),
                points: vec![(f64::from(lo), d.mean), (f64::from(hi), d.mean)],
                dashed: true,
            });
        }
    }
    line_chart(
        &format!(
            "Test accuracy against temperature ({} protocol, mean of seeds)",
            protocol.name()
        ),
        "temperature T",
        "test accuracy",
        true,
        &series,
    )
}

fn learning_rate_plot(results: &[RunResult], protocol: Protocol) -> String {
    let mut series: Vec<Series> = Vec::new();
    for r in results
        .iter()
        .filter(|r| r.protocol == protocol && r.phase == Phase::Search)
    {
        let label = match r.subject {
            Subject::Teacher => "teacher".to_string(),
            Subject::Student(
                Size::Linear,
                m @ (Method::Direct | Method::Mse | Method::Kd { alpha: 1.0, .. }),
            ) => format!("784→10 {}", m.name()),
            Subject::Student(..) => continue,
        };
        let Ok(accuracy) = r.validation_accuracy.clone() else {
            continue;
        };
        let point = (f64::from(r.learning_rate), f64::from(accuracy));
        match series.iter_mut().find(|s| s.label == label) {
            Some(s) => s.points.push(point),
            None => series.push(Series {
                label,
                points: vec![point],
                dashed: false,
            }),
        }
    }
    for s in &mut series {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    line_chart(
        &format!(
            "Validation accuracy against learning rate ({} protocol, search seed)",
            protocol.name()
        ),
        "learning rate",
        "validation accuracy",
        true,
        &series,
    )
}

fn markdown(
    config: &StudyConfig,
    summaries: &[Summary],
    plots: &[String],
    runs: usize,
    seconds: f64,
) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Distillation study\n");
    let _ = writeln!(md, "Produced by:\n\n```sh\n{}\n```\n", config.command);
    let _ = writeln!(
        md,
        "{runs} training runs in {seconds:.0} s on {} threads. Seeds {:?}. The last {} training images are held out as a \
         validation split. Each network's learning rate is chosen from the same grid as every network of its protocol, \
         by training on the rest with the first seed and scoring on the validation split; then every seed is trained at \
         that rate on the whole training set and scored on the 10,000 test images. The test set never chooses anything: \
         \"best\" below means best validation accuracy, and \"validation\" in the tables is that of the search run. \
         Students learn from the teacher of their own seed; fidelity is how often a student predicts the teacher's class \
         on the test set. SE is the standard error of the mean over seeds.\n",
        config.threads, config.seeds, config.validation
    );
    let _ = writeln!(
        md,
        "- **seed** protocol: one pass in file order, per-sample SGD, the seed's initialisation, for the teacher and \
         the students; rates {:?}.\n\
         - **seed-strong-teacher**: the students of the seed protocol, learning from the tuned protocol's teacher.\n\
         - **tuned** protocol: {} epochs, shuffled per epoch, mini-batches of 32, momentum 0.9, rate × 0.85 per epoch, He \
         initialisation; rates {:?}.\n\
         - KD: `α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1−α)·CE(s, label)`; MSE: the seed's logit matching.\n",
        Protocol::Seed.learning_rates(),
        config.tuned_epochs,
        Protocol::Tuned.learning_rates()
    );
    let _ = writeln!(
        md,
        "## Targets\n\n| claim | measured | met |\n|---|---|---|"
    );
    for (claim, numbers, met) in findings(summaries) {
        let _ = writeln!(
            md,
            "| {claim} | {numbers} | {} |",
            if met { "yes" } else { "**no**" }
        );
    }
    for &protocol in &config.protocols {
        let _ = writeln!(
            md,
            "\n## {} protocol\n\n| network | method | lr | test accuracy (mean ± sd) | SE | validation | fidelity | runs |\n|---|---|---|---|---|---|---|---|",
            protocol.name()
        );
        for s in summaries.iter().filter(|s| s.protocol == protocol) {
            let (network, method) = match s.subject {
                Subject::Teacher => ("784→16→16→10 teacher".to_string(), "labels".to_string()),
                Subject::Student(size, m) => (size.name().to_string(), m.name()),
            };
            let runs = if s.diverged > 0 {
                format!("{} ({} diverged)", s.runs, s.diverged)
            } else {
                s.runs.to_string()
            };
            let _ = writeln!(
                md,
                "| {network} | {method} | {} | {:.2}% ± {:.2} | {:.2} | {:.2}% | {} | {runs} |",
                s.learning_rate,
                100.0 * s.mean,
                100.0 * s.sd,
                100.0 * s.se,
                100.0 * s.validation,
                s.fidelity
                    .map_or("–".to_string(), |f| format!("{:.2}%", 100.0 * f)),
            );
        }
    }
    let _ = writeln!(md, "\n## Plots\n");
    for plot in plots {
        let _ = writeln!(md, "![{plot}]({plot})\n");
    }
    md
}
