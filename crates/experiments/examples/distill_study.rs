//! The distillation study: every student size trained directly, by the seed's MSE
//! logit matching, and by Hinton's KD over a grid of temperatures, under the seed's
//! protocol and a tuned one, over several seeds; learning rates chosen on a
//! validation split. Writes `report.md`, `results.csv` and SVG plots.
//!
//! `cargo run --release --example distill_study -- --help`

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use mimic_experiments::cli::{self, DataArgs};
use mimic_experiments::study::{self, StudyConfig};

/// The distillation study on MNIST.
#[derive(Debug, Parser)]
#[command(version)]
struct Settings {
    #[command(flatten)]
    data: DataArgs,
    /// Where report.md, results.csv and the plots go
    #[arg(long, value_name = "DIR", default_value = "study")]
    out: PathBuf,
    /// Seeds 1..=N for the final runs (1 to 100) [default: 5; 2 with --quick]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100))]
    seeds: Option<u64>,
    /// Epochs of the tuned protocol (1 to 1000) [default: 15; 3 with --quick]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1000))]
    epochs: Option<u64>,
    /// A reduced study: 20,000 training images, KD at T=1,4 only, and the smaller
    /// defaults above (flags given explicitly still apply)
    #[arg(long)]
    quick: bool,
}

fn main() -> ExitCode {
    let settings = Settings::parse();
    let mut config = StudyConfig {
        command: std::iter::once("cargo run --release --example distill_study --".to_string())
            .chain(std::env::args().skip(1))
            .collect::<Vec<_>>()
            .join(" "),
        ..StudyConfig::default()
    };
    if settings.quick {
        config.seeds = vec![1, 2];
        config.train_limit = Some(20_000);
        config.validation = 5_000;
        config.temperatures = vec![1.0, 4.0];
        config.tuned_epochs = 3;
    }
    if let Some(n) = settings.seeds {
        config.seeds = (1..=n).collect();
    }
    if let Some(epochs) = settings.epochs {
        config.tuned_epochs = epochs as usize;
    }
    let out = settings.out;
    // The outputs are checked before the study runs for minutes, not after.
    if let Err(e) = study::report::check_outputs(&out, &config) {
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
    let results = study::run(&train, &test, &config, &mut |p| {
        if terminal {
            let filled = 40 * p.done / p.total.max(1);
            eprint!(
                "\r[{}{}] {}/{} runs, {:.0} s ",
                "#".repeat(filled),
                " ".repeat(40 - filled),
                p.done,
                p.total,
                start.elapsed().as_secs_f64()
            );
            let _ = std::io::stderr().flush();
        } else if p.done % 25 == 0 || p.done == p.total {
            eprintln!(
                "{}/{} runs, {:.0} s",
                p.done,
                p.total,
                start.elapsed().as_secs_f64()
            );
        }
    });
    if terminal {
        eprintln!();
    }
    let seconds = start.elapsed().as_secs_f64();
    if let Err(e) = study::write_outputs(&out, &config, &results, seconds) {
        eprintln!("error: cannot write the report into {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    for (claim, numbers, met) in study::report::findings(&study::summarize(&results)) {
        println!(
            "{} {claim}: {numbers}",
            if met { "[met]    " } else { "[not met]" }
        );
    }
    println!(
        "{} runs in {seconds:.0} s; report in {}",
        results.len(),
        out.join("report.md").display()
    );
    ExitCode::SUCCESS
}
