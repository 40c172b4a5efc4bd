//! What can be wrong with a data file, said so a user can fix it.
//!
//! As in the csv crate: an [`Error`] is a box around an [`ErrorKind`] (one pointer
//! wide, cheap to return), positions are typed ([`Position`]), and each error's
//! `Display` says only its own part — the file, where, what was expected — while
//! `source()` gives the underlying cause (an I/O, gzip or CSV error), never both.

use std::fmt;
use std::path::{Path, PathBuf};

/// A data file that could not be found, read or parsed.
#[derive(Debug)]
pub struct Error(Box<ErrorKind>);

/// Where in a file: any of a 1-based line (CSV), a 0-based byte offset, a 1-based
/// record (sample) number and a 1-based column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// 1-based line of a text file.
    pub line: Option<u64>,
    /// 0-based byte offset into the (decompressed) file.
    pub byte: Option<u64>,
    /// 1-based number of the sample (CSV row, IDX image or label).
    pub record: Option<u64>,
    /// 1-based column of a CSV row (1 is the label).
    pub column: Option<u64>,
}

impl Position {
    /// A CSV position: line, record and column.
    pub fn csv(line: u64, record: u64, column: u64) -> Self {
        Self {
            line: Some(line),
            record: Some(record),
            column: Some(column),
            byte: None,
        }
    }

    /// An IDX position: record and byte.
    pub fn idx(record: u64, byte: u64) -> Self {
        Self {
            record: Some(record),
            byte: Some(byte),
            line: None,
            column: None,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(line) = self.line {
            parts.push(format!("line {line}"));
        }
        if let Some(column) = self.column {
            parts.push(format!("column {column}"));
        }
        if let Some(record) = self.record {
            parts.push(format!("sample {record}"));
        }
        if let Some(byte) = self.byte {
            parts.push(format!("byte {byte}"));
        }
        f.write_str(&parts.join(", "))
    }
}

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The files are not in the directory.
    Missing {
        /// Where we looked.
        dir: PathBuf,
        /// Which files would have done.
        wanted: String,
    },
    /// Only one file of an IDX pair is in the directory (and no CSV).
    Incomplete {
        /// Where we looked.
        dir: PathBuf,
        /// The file found.
        found: PathBuf,
        /// The file missing, by the names that would do.
        missing: String,
    },
    /// A file could not be opened, read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file has no samples at all.
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// An IDX file whose header counts 0 samples: well formed, but nothing to
    /// train or test on, so almost certainly not the file meant.
    ZeroSamples {
        /// The file.
        path: PathBuf,
    },
    /// A CSV file with a header row but no samples after it.
    NoRows {
        /// The file.
        path: PathBuf,
        /// Lines in the file (the header and any blank lines).
        lines: u64,
    },
    /// A CSV row with the wrong number of columns.
    Columns {
        /// The file.
        path: PathBuf,
        /// Where the row is.
        position: Position,
        /// Columns found (785 expected).
        found: usize,
    },
    /// A pixel that is not an integer in 0..=255.
    Pixel {
        /// The file.
        path: PathBuf,
        /// Where it is.
        position: Position,
        /// The text found.
        value: String,
    },
    /// A label that is not an integer in 0..=9.
    Label {
        /// The file.
        path: PathBuf,
        /// Where it is.
        position: Position,
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
        /// Rows found.
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
    /// A gzip'd IDX file whose header implies more bytes than its compressed size
    /// could ever inflate to (deflate expands at most about 1032-fold): rejected
    /// before inflating anything past the header.
    Overclaimed {
        /// The file.
        path: PathBuf,
        /// Bytes the header implies.
        expected: u64,
        /// Size of the gzip'd file.
        compressed: u64,
    },
    /// A stream that goes on past the end its header implies (a gzip'd IDX file
    /// is only inflated that far, so how much longer it is stays unknown).
    Excess {
        /// The file.
        path: PathBuf,
        /// Bytes the header implies.
        expected: u64,
    },
    /// A CSV line far longer than any MNIST row (785 numbers of at most three
    /// digits): rejected as soon as it is seen, so a huge file without line
    /// breaks is never buffered.
    LineTooLong {
        /// The file.
        path: PathBuf,
        /// Where the line starts.
        position: Position,
        /// The longest line accepted, in bytes.
        limit: usize,
    },
    /// The images and labels disagree on the number of samples.
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
    /// A gzip'd file that does not decompress.
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        source: std::io::Error,
    },
    /// The csv crate's reader failed. No longer produced — lines and fields are
    /// now split by this crate, to number lines exactly and bound their length —
    /// but kept so that code matching on it still compiles.
    Csv {
        /// The file.
        path: PathBuf,
        /// The csv crate's error.
        source: csv::Error,
    },
}

impl Error {
    /// What went wrong, in detail.
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    /// The error's parts, by value.
    pub fn into_kind(self) -> ErrorKind {
        *self.0
    }

    /// The file (or directory) concerned.
    pub fn path(&self) -> &Path {
        use ErrorKind::*;
        match &*self.0 {
            Missing { dir: path, .. }
            | Incomplete { dir: path, .. }
            | Io { path, .. }
            | Empty { path }
            | ZeroSamples { path }
            | NoRows { path, .. }
            | Columns { path, .. }
            | Pixel { path, .. }
            | Label { path, .. }
            | BadMagic { path, .. }
            | Dimensions { path, .. }
            | Length { path, .. }
            | Excess { path, .. }
            | Overclaimed { path, .. }
            | LineTooLong { path, .. }
            | Gzip { path, .. }
            | Csv { path, .. } => path,
            CountMismatch { labels_path, .. } => labels_path,
        }
    }

    /// Where in the file, for errors about one place in it.
    pub fn position(&self) -> Option<Position> {
        match &*self.0 {
            ErrorKind::Columns { position, .. }
            | ErrorKind::Pixel { position, .. }
            | ErrorKind::Label { position, .. }
            | ErrorKind::LineTooLong { position, .. } => Some(*position),
            _ => None,
        }
    }
}

impl Error {
    /// The same error, its line and sample numbers counted after `lines` earlier
    /// lines and `records` earlier samples (for a file parsed in pieces).
    pub(crate) fn after(mut self, lines: u64, records: u64) -> Self {
        if let ErrorKind::Columns { position, .. }
        | ErrorKind::Pixel { position, .. }
        | ErrorKind::Label { position, .. }
        | ErrorKind::LineTooLong { position, .. } = &mut *self.0
        {
            position.line = position.line.map(|l| l + lines);
            position.record = position.record.map(|r| r + records);
        }
        self
    }
}

/// Makes room for `extra` more items in `vec`, or returns an I/O error
/// (`OutOfMemory`) naming `path`: a file too large for the memory available is an
/// error like any other, never an abort.
pub(crate) fn reserve<T>(vec: &mut Vec<T>, extra: usize, path: &Path) -> Result<(), Error> {
    vec.try_reserve(extra).map_err(|_| {
        Error::from(ErrorKind::Io {
            path: path.to_path_buf(),
            source: std::io::ErrorKind::OutOfMemory.into(),
        })
    })
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error(Box::new(kind))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ErrorKind::*;
        match &*self.0 {
            Missing { dir, wanted } => {
                write!(f, "MNIST not found in {}: expected {wanted}", dir.display())
            }
            Incomplete {
                dir,
                found,
                missing,
            } => write!(
                f,
                "MNIST incomplete in {}: found {}, but not {missing}: expected both IDX files",
                dir.display(),
                found.display()
            ),
            Io { path, .. } => write!(f, "{}: cannot read or write the file", path.display()),
            Empty { path } => write!(
                f,
                "{}: the file is empty, expected MNIST samples",
                path.display()
            ),
            ZeroSamples { path } => write!(
                f,
                "{}: the header says the file holds 0 samples, expected MNIST samples",
                path.display()
            ),
            NoRows { path, lines } => write!(
                f,
                "{}: no samples in its {lines} lines, only a header: expected MNIST samples after it",
                path.display()
            ),
            Columns {
                path,
                position,
                found,
            } => write!(
                f,
                "{}: {position}: expected 785 columns (label, then 784 pixels), found {found}",
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
            Label {
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
            Overclaimed {
                path,
                expected,
                compressed,
            } => write!(
                f,
                "{}: truncated: the header implies {expected} bytes, more than {compressed} bytes of gzip data can hold",
                path.display()
            ),
            Excess { path, expected } => write!(
                f,
                "{}: padded: the header implies {expected} bytes, found more",
                path.display()
            ),
            LineTooLong {
                path,
                position,
                limit,
            } => write!(
                f,
                "{}: {position}: a line longer than {limit} bytes, expected 785 numbers (label, then 784 pixels)",
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
            Gzip { path, .. } => write!(f, "{}: corrupt gzip data", path.display()),
            Csv { path, .. } => write!(f, "{}: not readable as CSV", path.display()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.0 {
            ErrorKind::Io { source, .. } | ErrorKind::Gzip { source, .. } => Some(source),
            ErrorKind::Csv { source, .. } => Some(source),
            _ => None,
        }
    }
}
