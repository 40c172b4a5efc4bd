//! What can be wrong with a data file, said so a user can fix it.

use std::fmt;
use std::path::PathBuf;

/// A data file that could not be loaded. Every message names the file and, where
/// there is one, the line (CSV, 1-based) or byte offset (IDX), and says what was
/// expected and what was found.
#[derive(Debug)]
#[non_exhaustive]
pub enum DataError {
    /// The files are not in the directory.
    Missing {
        /// Where we looked.
        dir: PathBuf,
        /// Which files would have done.
        wanted: String,
    },
    /// A file could not be opened, read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file has no data at all.
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A CSV row with the wrong number of columns.
    Columns {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// Columns found (785 expected).
        found: usize,
    },
    /// A pixel that is not an integer in 0..=255.
    Pixel {
        /// The file.
        path: PathBuf,
        /// Where: "line 3, column 17".
        position: String,
        /// The text found.
        value: String,
    },
    /// A label that is not an integer in 0..=9.
    LabelOutOfRange {
        /// The file.
        path: PathBuf,
        /// Where: "line 3, column 1" or "label 7 (byte 14)".
        position: String,
        /// The text or number found.
        value: String,
    },
    /// An IDX file that does not start with the expected magic number.
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The magic number expected.
        expected: u32,
        /// The first four bytes, big-endian.
        found: u32,
    },
    /// IDX images that are not 28×28.
    Dimensions {
        /// The file.
        path: PathBuf,
        /// Rows × columns found.
        rows: u32,
        /// Columns found.
        cols: u32,
    },
    /// A file shorter (or longer) than its header says.
    Length {
        /// The file.
        path: PathBuf,
        /// Bytes the header implies.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The image and label files disagree on the number of samples.
    CountMismatch {
        /// The image file.
        images_path: PathBuf,
        /// Images it holds.
        images: usize,
        /// The label file.
        labels_path: PathBuf,
        /// Labels it holds.
        labels: usize,
    },
    /// A `.gz` file that does not decompress.
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        source: std::io::Error,
    },
    /// The CSV reader itself failed (e.g. invalid quoting).
    Csv {
        /// The file.
        path: PathBuf,
        /// The csv crate's error.
        source: csv::Error,
    },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DataError::*;
        match self {
            Missing { dir, wanted } => write!(
                f,
                "MNIST not found in {}: expected {wanted}. Fetch it with `cargo run --release --example fetch_mnist` (see README.md)",
                dir.display()
            ),
            Io { path, source } => write!(f, "{}: {source}", path.display()),
            Empty { path } => write!(
                f,
                "{}: the file is empty, expected MNIST samples",
                path.display()
            ),
            Columns { path, line, found } => write!(
                f,
                "{}: line {line}: expected 785 columns (label, then 784 pixels), found {found}",
                path.display()
            ),
            Pixel {
                path,
                position,
                value,
            } => write!(
                f,
                "{}: {position}: expected a pixel value, an integer from 0 to 255, found {value:?}",
                path.display()
            ),
            LabelOutOfRange {
                path,
                position,
                value,
            } => write!(
                f,
                "{}: {position}: expected a label, an integer from 0 to 9, found {value:?}",
                path.display()
            ),
            BadMagic {
                path,
                expected,
                found,
            } => write!(
                f,
                "{}: not an MNIST IDX file: expected magic number 0x{expected:08x}, found 0x{found:08x}",
                path.display()
            ),
            Dimensions { path, rows, cols } => write!(
                f,
                "{}: expected 28×28 images, found {rows}×{cols}",
                path.display()
            ),
            Length {
                path,
                expected,
                found,
            } => write!(
                f,
                "{}: truncated or padded: the header implies {expected} bytes, found {found}",
                path.display()
            ),
            CountMismatch {
                images_path,
                images,
                labels_path,
                labels,
            } => write!(
                f,
                "{} holds {images} images but {} holds {labels} labels: expected as many of each",
                images_path.display(),
                labels_path.display()
            ),
            Gzip { path, source } => write!(f, "{}: corrupt gzip data: {source}", path.display()),
            Csv { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DataError::Io { source, .. } | DataError::Gzip { source, .. } => Some(source),
            DataError::Csv { source, .. } => Some(source),
            _ => None,
        }
    }
}
