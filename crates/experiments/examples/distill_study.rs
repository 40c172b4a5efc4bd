//! The distillation study: does a student distilled from a teacher beat the same
//! network trained directly — when it is compressed from a much larger teacher,
//! when labels are few or noisy, when a class is missing from its data? Writes
//! `report.md`, `results.csv`, `predictions.csv.gz` and plots.
//!
//! `cargo run --release --example distill_study -- --help`

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use mimic_experiments::cli::{self, DataArgs};
use mimic_experiments::study::{self, Progress, StudyConfig};

/// The distillation study on MNIST (about 5 minutes on 2 cores).
#[derive(Debug, Parser)]
#[command(version)]
struct Settings {
    #[command(flatten)]
    data: DataArgs,
    /// Where report.md, results.csv, predictions.csv.gz and the plots go
    #[arg(long, value_name = "DIR", default_value = "study")]
    out: PathBuf,
    /// Final seeds 1..=N (2 to 100) [default: 20; 3 with --quick]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(2..=100))]
    seeds: Option<u64>,
    /// Students' base budget in epochs (1 to 1000) [default: 10; 2 with --quick]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1000))]
    epochs: Option<u64>,
    /// A CI-sized run (8,000 training images, fewer seeds and epochs); its report
    /// says it is not the study. Flags given explicitly still apply
    #[arg(long)]
    quick: bool,
}

fn main() -> ExitCode {
    let settings = Settings::parse();
    let base = if settings.quick {
        StudyConfig::quick()
    } else {
        StudyConfig::default()
    };
    let mut config = StudyConfig {
        command: std::iter::once("cargo run --release --example distill_study --".to_string())
            .chain(std::env::args().skip(1))
            .collect::<Vec<_>>()
            .join(" "),
        ..base
    };
    if let Some(n) = settings.seeds {
        config.seeds = (1..=n).collect();
    }
    if let Some(epochs) = settings.epochs {
        config.epochs = epochs as usize;
    }
    let out = settings.out;
    // The outputs are checked before the study runs for minutes, not after.
    if let Err(e) = study::report::check_outputs(&out) {
        eprintln!("error: cannot write the report into {}: {e}", out.display());
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
    let runs = study::run(&train, &test, &config, &mut |p: Progress| {
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
    });
    if terminal {
        eprintln!();
    }
    let seconds = start.elapsed().as_secs_f64();
    let test_classes = test.classes();
    let compared = match study::report::write_outputs(&out, &config, &runs, &test_classes, seconds)
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot write the report into {}: {e}", out.display());
            return ExitCode::FAILURE;
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
    ExitCode::SUCCESS
}
