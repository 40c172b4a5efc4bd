//! What the examples share: command-line flags, loading MNIST, printing.
//! (Each example includes it with `mod support;`.)

use std::path::PathBuf;
use std::process::ExitCode;

use mimic::data::{Dataset, Split, default_data_dir, fetch::ensure_mnist};
use mimic::experiment::{Config, Phase};

/// The flags every experiment example takes.
pub struct Args {
    /// `--data DIR`: where MNIST is (default: fetched into `data/mnist`).
    pub data: Option<PathBuf>,
    /// `--json PATH`: write the full report there.
    pub json: Option<PathBuf>,
    /// Seed, epochs, … .
    pub config: Config,
    /// Flags only one example understands, as `(flag, value)`.
    pub extra: Vec<(String, String)>,
}

/// Parses `std::env::args`; `Err` carries the text to print and whether it is the
/// help asked for (rather than a usage error).
pub fn parse_args(about: &str, extra_flags: &[&str]) -> Result<Args, (String, bool)> {
    let usage = format!(
        "{about}\n\nOptions:\n  --data DIR     MNIST directory (raw IDX, IDX.gz or CSV; default: fetch into data/mnist)\n  --seed N       seed for every random number (default {seed})\n  --epochs N     passes over the training set (default 1)\n  --json PATH    also write configuration, accuracies and phase times as JSON\n  --scaling S    how pixels become inputs: divide255 (default) or raw (the seed's overflowing first attempt)\n{extra}  --help         this text",
        seed = Config::default().seed,
        extra = extra_flags
            .iter()
            .map(|f| format!("  {f}\n"))
            .collect::<String>(),
    );
    let mut args = Args {
        data: None,
        json: None,
        config: Config::default(),
        extra: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err((usage, true));
        }
        let known_extra = extra_flags
            .iter()
            .any(|f| f.split_whitespace().next() == Some(&flag));
        if !matches!(
            flag.as_str(),
            "--data" | "--seed" | "--epochs" | "--json" | "--scaling"
        ) && !known_extra
        {
            return Err((format!("unknown option {flag}\n\n{usage}"), false));
        }
        let Some(value) = it.next() else {
            return Err((format!("{flag} needs a value\n\n{usage}"), false));
        };
        let bad = |what: &str| (format!("{flag} {value}: expected {what}\n\n{usage}"), false);
        match flag.as_str() {
            "--data" => args.data = Some(value.into()),
            "--json" => args.json = Some(value.into()),
            "--seed" => {
                args.config.seed = value.parse().map_err(|_| bad("a non-negative integer"))?
            }
            "--epochs" => {
                args.config.epochs = value.parse().map_err(|_| bad("a positive integer"))?;
                if args.config.epochs == 0 {
                    return Err(bad("a positive integer"));
                }
            }
            "--scaling" => {
                args.config.scaling = match value.as_str() {
                    "divide255" => mimic::Scaling::Divide255,
                    "raw" => mimic::Scaling::Raw,
                    _ => return Err(bad("divide255 or raw")),
                }
            }
            _ => args.extra.push((flag, value)),
        }
    }
    Ok(args)
}

/// An example's start: its flags, and MNIST loaded (with the loading time as a
/// phase). On `--help` or any error, prints it and returns the exit code.
pub fn start(
    about: &str,
    extra_flags: &[&str],
) -> Result<(Args, Dataset, Dataset, Phase), ExitCode> {
    let args = parse_args(about, extra_flags).map_err(|(text, help)| {
        if help {
            println!("{text}");
            ExitCode::SUCCESS
        } else {
            eprintln!("{text}");
            ExitCode::from(2)
        }
    })?;
    let clock = std::time::Instant::now();
    let (train, test) = load_mnist(args.data.as_ref()).map_err(|e| report_error(e.as_ref()))?;
    let loading = Phase {
        name: "loading MNIST",
        seconds: clock.elapsed().as_secs_f64(),
    };
    Ok((args, train, test, loading))
}

/// Loads the training and test sets from `--data`, or fetches MNIST on first use.
pub fn load_mnist(
    data: Option<&PathBuf>,
) -> Result<(Dataset, Dataset), Box<dyn std::error::Error>> {
    let dir = match data {
        Some(dir) => dir.clone(),
        None => ensure_mnist(&default_data_dir())?,
    };
    Ok((
        Dataset::load_dir(&dir, Split::Train)?,
        Dataset::load_dir(&dir, Split::Test)?,
    ))
}

/// Prints phase times as an aligned table.
pub fn print_phases(phases: &[Phase]) {
    println!("\n{:<34} {:>10}", "phase", "seconds");
    for phase in phases {
        println!("{:<34} {:>10.3}", phase.name, phase.seconds);
    }
    println!(
        "{:<34} {:>10.3}",
        "total",
        phases.iter().map(|p| p.seconds).sum::<f64>()
    );
}

/// Writes `json` to `path` if given.
pub fn write_json(path: Option<&PathBuf>, json: &str) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(path) = path {
        std::fs::write(path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Prints an error with its chain of causes.
pub fn report_error(error: &dyn std::error::Error) -> ExitCode {
    eprintln!("error: {error}");
    let mut shown = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !shown.contains(&text) {
            eprintln!("  caused by: {text}");
        }
        shown = text;
        source = cause.source();
    }
    ExitCode::FAILURE
}
