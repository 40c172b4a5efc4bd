//! The distillation study: does a student distilled from a teacher beat the same
//! network trained directly — when it is compressed from a much larger teacher,
//! when labels are few or noisy, when a class is missing from its data? Writes
//! `report.md`, `results.csv`, `predictions.csv.gz`, `probabilities.f32` and plots.
//!
//! `--shard K/N` runs part K of N of the study and writes it as
//! `part-K-of-N.json.gz`; `--merge DIR…` writes the report from every part (see
//! `mimic_experiments::study::shard`).
//!
//! `cargo run --release --example distill_study -- --help`

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use mimic_experiments::cli::{self, DataArgs};
use mimic_experiments::study::part::Part;
use mimic_experiments::study::shard::Shard;
use mimic_experiments::study::{self, Progress, StudyConfig};

/// The distillation study on MNIST (about 26 minutes on 2 cores).
#[derive(Debug, Parser)]
#[command(version)]
struct Settings {
    #[command(flatten)]
    data: DataArgs,
    /// Where report.md, results.csv, predictions.csv.gz, probabilities.f32 and the plots go
    #[arg(long, value_name = "DIR", default_value = "study")]
    out: PathBuf,
    /// Repetitions of the whole pipeline (selection seed, teachers, data draws),
    /// 1 to 20 [default: 5; 2 with --quick]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=20))]
    pipelines: Option<u64>,
    /// Final seeds 1..=N of each pipeline (2 to 100) [default: 4; 2 with --quick]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(2..=100))]
    seeds: Option<u64>,
    /// Parts each mini-batch's gradient is summed in (1 to 64) [default: 4]. Another
    /// count changes only the rounding of the results: a rerun with it shows
    /// which answers survive rounding alone
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..=64))]
    parts: Option<u64>,
    /// Students' base budget in epochs (1 to 1000) [default: 10; 2 with --quick]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1000))]
    epochs: Option<u64>,
    /// A CI-sized run (8,000 training images, fewer seeds and epochs); its report
    /// says it is not the study. Flags given explicitly still apply
    #[arg(long)]
    quick: bool,
    /// Run only part K of N (K from 0) of the study's independent runs, and write
    /// it into --out as part-K-of-N.json.gz for --merge
    #[arg(long, value_name = "K/N", conflicts_with = "merge")]
    shard: Option<Shard>,
    /// Write the report into --out from the parts in these directories (written
    /// by --shard) instead of running the study; settings come from the parts
    #[arg(long, value_name = "DIR", num_args = 1.., conflicts_with_all = ["pipelines", "seeds", "parts", "epochs", "quick", "data"])]
    merge: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let settings = Settings::parse();
    let command = std::iter::once("cargo run --release --example distill_study --".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    if !settings.merge.is_empty() {
        return merge(&settings.merge, &settings.out, command);
    }
    let base = if settings.quick {
        StudyConfig::quick()
    } else {
        StudyConfig::default()
    };
    let mut config = StudyConfig { command, ..base };
    if let Some(n) = settings.pipelines {
        config.pipelines = n as usize;
    }
    if let Some(n) = settings.seeds {
        config.seeds = (1..=n).collect();
    }
    if let Some(k) = settings.parts {
        config.parts = k as usize;
    }
    if let Some(epochs) = settings.epochs {
        config.epochs = epochs as usize;
    }
    let out = settings.out;
    // The outputs are checked before the study runs for minutes, not after.
    let (checked, what) = match settings.shard {
        Some(shard) => (Part::check(&out, shard), "part"),
        None => (study::report::check_outputs(&out), "report"),
    };
    if let Err(e) = checked {
        eprintln!("error: cannot write the {what} into {}: {e}", out.display());
        return ExitCode::FAILURE;
    }

    let start = Instant::now();
    let (train, test) = match settings.data.load() {
        Ok(sets) => sets,
        Err(e) => return cli::report_error(e.as_ref()),
    };
    if let Err(e) = config.check(train.len()) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }

    let terminal = std::io::stderr().is_terminal();
    let mut last_line = 0.0;
    let mut bar = |p: Progress| {
        let fraction = (p.done / p.total.max(1e-9)).min(1.0);
        let eta = p.eta().map_or_else(|| "?".into(), |s| format!("{s:.0} s"));
        if terminal {
            let filled = (40.0 * fraction) as usize;
            eprint!(
                "\r[{}{}] {:>3.0}%  {} runs  {:.0} s  ETA {eta}  ",
                "#".repeat(filled),
                " ".repeat(40 - filled),
                100.0 * fraction,
                p.runs,
                p.elapsed,
            );
            let _ = std::io::stderr().flush();
        } else if p.elapsed - last_line >= 30.0 {
            last_line = p.elapsed;
            eprintln!(
                "{:.0}% of the work, {} runs, {:.0} s, ETA {eta}",
                100.0 * fraction,
                p.runs,
                p.elapsed
            );
        }
    };
    if let Some(shard) = settings.shard {
        let part = Part::run(&train, &test, &config, shard, &mut bar);
        if terminal {
            eprintln!();
        }
        return match part.write(&out) {
            Ok(path) => {
                let share = part.share();
                println!(
                    "part {shard}: {} lanes, {} teachers trained, {} runs in {:.0} s; written to {}",
                    share.lanes.len(),
                    share.trains.len(),
                    part.runs.len(),
                    part.seconds,
                    path.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot write the part into {}: {e}", out.display());
                ExitCode::FAILURE
            }
        };
    }
    let runs = study::run(&train, &test, &config, &mut bar);
    if terminal {
        eprintln!();
    }
    let seconds = start.elapsed().as_secs_f64();
    let test_classes = test.classes();
    match write(&out, &config, &runs, &test_classes, seconds) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

/// Writes the report of the parts in `dirs` into `out`.
fn merge(dirs: &[PathBuf], out: &Path, command: String) -> ExitCode {
    if let Err(e) = study::report::check_outputs(out) {
        eprintln!("error: cannot write the report into {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    let merged = match study::merge::merge(dirs) {
        Ok(m) => m,
        Err(e) => return cli::report_error(&e),
    };
    let config = StudyConfig {
        command,
        ..merged.config
    };
    println!("{} parts merged", merged.parts.len());
    match write(
        out,
        &config,
        &merged.runs,
        &merged.test_classes,
        merged.seconds,
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

/// Writes the report, CSVs and plots of `runs` into `out`, and prints the answers.
fn write(
    out: &Path,
    config: &StudyConfig,
    runs: &[study::Run],
    test_classes: &[usize],
    seconds: f64,
) -> Result<(), ExitCode> {
    let compared = match study::report::write_outputs(out, config, runs, test_classes, seconds) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot write the report into {}: {e}", out.display());
            return Err(ExitCode::FAILURE);
        }
    };
    for c in &compared {
        println!(
            "{:<15} {:<10} {:<22} {} − direct: {} points (Holm p {:.4}): {}",
            c.question,
            c.net.name(),
            c.condition,
            c.method,
            c.paired.interval,
            c.holm_p,
            c.verdict()
        );
    }
    println!(
        "{} runs in {seconds:.0} s; report in {}",
        runs.len(),
        out.join("report.md").display()
    );
    Ok(())
}
