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

use mimic::data::{Dataset, Split, default_data_dir, ensure_mnist};
use mimic::study::{self, StudyConfig};

const HELP: &str = "The distillation study on MNIST.

Options:
  --data DIR      MNIST directory (default: fetch into data/mnist)
  --out DIR       where report.md, results.csv and the plots go (default: study)
  --seeds N       seeds 1..=N for the final runs (default 5)
  --epochs N      epochs of the tuned protocol (default 10)
  --quick         a reduced study: 2 seeds, 20,000 training images, KD at T=1,4 only
  --help          this text";

fn main() -> ExitCode {
    let mut config = StudyConfig {
        command: std::iter::once("cargo run --release --example distill_study --".to_string())
            .chain(std::env::args().skip(1))
            .collect::<Vec<_>>()
            .join(" "),
        ..StudyConfig::default()
    };
    let (mut data, mut out) = (None, PathBuf::from("study"));
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        let parsed: Result<(), String> = match flag.as_str() {
            "--help" | "-h" => {
                println!("{HELP}");
                return ExitCode::SUCCESS;
            }
            "--data" => value().map(|v| data = Some(PathBuf::from(v))),
            "--out" => value().map(|v| out = PathBuf::from(v)),
            "--seeds" => value()
                .and_then(|v| v.parse::<u64>().map_err(|e| format!("--seeds {v}: {e}")))
                .map(|n| config.seeds = (1..=n.max(1)).collect()),
            "--epochs" => value()
                .and_then(|v| v.parse().map_err(|e| format!("--epochs {v}: {e}")))
                .map(|n| config.tuned_epochs = n),
            "--quick" => {
                config.seeds = vec![1, 2];
                config.train_limit = Some(20_000);
                config.validation = 5_000;
                config.temperatures = vec![1.0, 4.0];
                config.tuned_epochs = config.tuned_epochs.min(3);
                Ok(())
            }
            _ => Err(format!("unknown option {flag}")),
        };
        if let Err(e) = parsed {
            eprintln!("error: {e}\n\n{HELP}");
            return ExitCode::from(2);
        }
    }

    let start = Instant::now();
    let loaded = match &data {
        Some(dir) => Ok(dir.clone()),
        None => ensure_mnist(&default_data_dir()).map_err(|e| e.to_string()),
    }
    .and_then(|dir| {
        let train = Dataset::load_dir(&dir, Split::Train).map_err(|e| e.to_string())?;
        Ok((
            train,
            Dataset::load_dir(&dir, Split::Test).map_err(|e| e.to_string())?,
        ))
    });
    let (train, test) = match loaded {
        Ok(sets) => sets,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };

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
