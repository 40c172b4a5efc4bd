//! The IDX format of LeCun's MNIST files, raw or gzip'd: a big-endian header
//! (magic, counts, dimensions) followed by one byte per pixel or label.
//!
//! Files are read as streams, header first: the magic number, the dimensions and
//! the count are checked before any sample is read, and the header then bounds
//! everything after it. A raw file's size is compared with what its header implies
//! before the body is read; a gzip stream is inflated only as far as the header
//! says (one byte more shows whether it is longer), so neither a 2 GB file of
//! zeros nor a small gzip of a gigabyte of zeros costs more than a few bytes of
//! reading before it is rejected, and memory never exceeds the samples the header
//! counts and the data actually holds.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use super::error::reserve;
use mimic::SparseRows;

use super::{CLASSES, Dataset, Error, ErrorKind, PIXELS, Position, SIDE, Scaling, SparseDataset};

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;
const IMAGES_HEADER: usize = 16;
const LABELS_HEADER: usize = 8;
/// Deflate cannot expand data more than about 1032-fold, so a gzip stream of `n`
/// bytes inflates to at most `n × 1032`: the most worth reserving up front.
const MAX_INFLATION: u64 = 1032;

/// One IDX file opened for reading: a byte stream, raw or inflating.
struct Source<'a> {
    path: &'a Path,
    reader: Box<dyn Read + 'a>,
    gzip: bool,
    /// Size of the input, raw or gzip'd (known for regular files and bytes in
    /// memory).
    size: Option<u64>,
    /// Whether the input is a regular file at `path`, which can be opened again.
    file: bool,
}

impl<'a> Source<'a> {
    /// Wraps `reader` (of `size` bytes, if known), inflating it if it starts with
    /// the gzip magic `1f 8b`, whatever the file's name.
    fn new(path: &'a Path, mut reader: impl Read + 'a, size: Option<u64>) -> Result<Self, Error> {
        let mut magic = [0; 2];
        let n = read_full(&mut reader, &mut magic).map_err(io(path))?;
        if n == 0 {
            return Err(empty(path));
        }
        let reader = std::io::Cursor::new(magic[..n].to_vec()).chain(reader);
        if magic == [0x1f, 0x8b] {
            Ok(Self {
                path,
                // Members concatenated (`cat a.gz b.gz`) are one stream; bytes after
                // the last member must be another member, so garbage is an error.
                reader: Box::new(MultiGzDecoder::new(reader)),
                gzip: true,
                size,
                file: false,
            })
        } else {
            Ok(Self {
                path,
                reader: Box::new(reader),
                gzip: false,
                size,
                file: false,
            })
        }
    }

    /// Reads until `buf` is full or the stream ends; how many bytes were read.
    fn read_full(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        read_full(&mut self.reader, buf).map_err(|source| self.stream_error(source))
    }

    /// A read error: corrupt data in a gzip stream, else the file's I/O error.
    fn stream_error(&self, source: std::io::Error) -> Error {
        let path = self.path.to_path_buf();
        Error::from(if self.gzip {
            ErrorKind::Gzip { path, source }
        } else {
            ErrorKind::Io { path, source }
        })
    }

    /// Reads and checks the header: `magic`, then its `words` (each big-endian),
    /// returning them after the magic.
    fn header<const N: usize>(&mut self, magic: u32) -> Result<[u32; N], Error> {
        let mut bytes = [[0u8; 4]; N];
        let flat = bytes.as_flattened_mut();
        let n = self.read_full(flat)?;
        if n == 0 {
            return Err(empty(self.path));
        }
        let word = |k: usize| u32::from_be_bytes(bytes[k]);
        if n >= 4 && word(0) != magic {
            return Err(Error::from(ErrorKind::BadMagic {
                path: self.path.to_path_buf(),
                expected: magic,
                found: word(0),
            }));
        }
        if n < 4 * N {
            return Err(Error::from(ErrorKind::Length {
                path: self.path.to_path_buf(),
                expected: 4 * N as u64,
                found: n as u64,
            }));
        }
        Ok(std::array::from_fn(word))
    }

    /// The most bytes the stream can yield: a raw file's size, or what its gzip'd
    /// size can inflate to.
    fn bound(&self) -> Option<u64> {
        let factor = if self.gzip { MAX_INFLATION } else { 1 };
        self.size.map(|size| size.saturating_mul(factor))
    }

    /// Checks the count against the file before any sample is read: zero samples,
    /// a raw file whose size is not what the header implies, and a gzip'd file too
    /// small to ever inflate to it are errors.
    fn check_count(&self, count: u32, header: usize, unit: usize) -> Result<u64, Error> {
        if count == 0 {
            return Err(Error::from(ErrorKind::ZeroSamples {
                path: self.path.to_path_buf(),
            }));
        }
        let expected = header as u64 + u64::from(count) * unit as u64;
        match self.size {
            Some(found) if !self.gzip && found != expected => Err(Error::from(ErrorKind::Length {
                path: self.path.to_path_buf(),
                expected,
                found,
            })),
            Some(compressed) if self.gzip && self.bound() < Some(expected) => {
                Err(Error::from(ErrorKind::Overclaimed {
                    path: self.path.to_path_buf(),
                    expected,
                    compressed,
                }))
            }
            _ => Ok(expected),
        }
    }

    /// How many samples of `unit` bytes to reserve room for: those counted, but
    /// never more than the input could hold.
    fn capacity(&self, count: u32, unit: usize) -> usize {
        let fit = self.bound().map_or(u64::MAX, |b| b / unit as u64 + 1);
        usize::try_from(u64::from(count).min(fit)).unwrap_or(0)
    }

    /// After the last sample: the stream must end here. One more byte is read,
    /// which for gzip also checks the stream's CRC and length trailer.
    fn check_end(&mut self, expected: u64) -> Result<(), Error> {
        let mut extra = [0u8; 1];
        if self.read_full(&mut extra)? > 0 {
            return Err(Error::from(ErrorKind::Excess {
                path: self.path.to_path_buf(),
                expected,
            }));
        }
        Ok(())
    }

    /// The error for a body that ended after `found` bytes, `expected` expected.
    fn short(&self, expected: u64, found: u64) -> Error {
        Error::from(ErrorKind::Length {
            path: self.path.to_path_buf(),
            expected,
            found,
        })
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| {
        Error::from(ErrorKind::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

fn empty(path: &Path) -> Error {
    Error::from(ErrorKind::Empty {
        path: path.to_path_buf(),
    })
}

/// Like `read_exact`, but says how far it got when the stream ends early.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Opens a file as a [`Source`], its size taken from the file system when it is a
/// regular file (a pipe's size is unknown, and then only the stream decides).
fn open(path: &Path) -> Result<Source<'_>, Error> {
    let file = File::open(path).map_err(io(path))?;
    let metadata = file.metadata().map_err(io(path))?;
    let size = metadata.is_file().then_some(metadata.len());
    let mut source = Source::new(path, std::io::BufReader::with_capacity(1 << 16, file), size)?;
    source.file = size.is_some();
    Ok(source)
}

pub(super) fn read(images_path: &Path, labels_path: &Path) -> Result<Dataset, Error> {
    let images = read_dense(open(images_path)?)?;
    let labels = read_labels(open(labels_path)?)?;
    pair(images_path, images, labels_path, labels)
}

/// Reads IDX images straight into their nonzero pixels, scaled as `scaling` says,
/// and their labels: one pass over the bytes, a block of images at a time, so the
/// images are never all held densely.
pub(super) fn read_sparse(
    images_path: &Path,
    labels_path: &Path,
    scaling: Scaling,
) -> Result<SparseDataset, Error> {
    let inputs = read_listed(open(images_path)?, scaling)?;
    let labels = read_labels(open(labels_path)?)?;
    pair_sparse(images_path, inputs, labels_path, labels)
}

/// Parses IDX images and labels already in memory (each raw or gzip'd); the paths
/// only name them in errors.
pub(super) fn from_bytes(
    images_path: &Path,
    image_bytes: &[u8],
    labels_path: &Path,
    label_bytes: &[u8],
) -> Result<Dataset, Error> {
    let size = |bytes: &[u8]| Some(bytes.len() as u64);
    let images = read_dense(Source::new(images_path, image_bytes, size(image_bytes))?)?;
    let labels = read_labels(Source::new(labels_path, label_bytes, size(label_bytes))?)?;
    pair(images_path, images, labels_path, labels)
}

/// As [`from_bytes`], straight into nonzero pixels as [`read_sparse`] reads them.
pub(super) fn from_bytes_sparse(
    images_path: &Path,
    image_bytes: &[u8],
    labels_path: &Path,
    label_bytes: &[u8],
    scaling: Scaling,
) -> Result<SparseDataset, Error> {
    let size = |bytes: &[u8]| Some(bytes.len() as u64);
    let source = Source::new(images_path, image_bytes, size(image_bytes))?;
    let inputs = read_listed(source, scaling)?;
    let labels = read_labels(Source::new(labels_path, label_bytes, size(label_bytes))?)?;
    pair_sparse(images_path, inputs, labels_path, labels)
}

fn mismatch(images_path: &Path, images: usize, labels_path: &Path, labels: usize) -> Error {
    Error::from(ErrorKind::CountMismatch {
        images_path: images_path.to_path_buf(),
        images,
        labels_path: labels_path.to_path_buf(),
        labels,
    })
}

fn pair(
    images_path: &Path,
    images: Vec<[u8; PIXELS]>,
    labels_path: &Path,
    labels: Vec<u8>,
) -> Result<Dataset, Error> {
    if images.len() != labels.len() {
        return Err(mismatch(
            images_path,
            images.len(),
            labels_path,
            labels.len(),
        ));
    }
    Ok(Dataset { images, labels })
}

fn pair_sparse(
    images_path: &Path,
    inputs: SparseRows<PIXELS>,
    labels_path: &Path,
    labels: Vec<u8>,
) -> Result<SparseDataset, Error> {
    if inputs.len() != labels.len() {
        return Err(mismatch(
            images_path,
            inputs.len(),
            labels_path,
            labels.len(),
        ));
    }
    Ok(SparseDataset { inputs, labels })
}

/// Images read per block: 1.6 MB, small enough to stay in cache between reading
/// and listing, large enough that each half is worth a thread.
pub(super) const BLOCK: usize = 2048;

/// Every image, densely.
fn read_dense(source: Source<'_>) -> Result<Vec<[u8; PIXELS]>, Error> {
    let mut images = Vec::new();
    read_images(source, |source, block| {
        if images.capacity() - images.len() < block.len() {
            // The first block reserves for every image counted (at most what
            // the input can hold); later ones only if the data outruns that.
            let extra = source.capacity.max(block.len());
            reserve(&mut images, extra, source.path)?;
        }
        images.extend_from_slice(block);
        Ok(())
    })?;
    Ok(images)
}

/// Every image, as its nonzero pixels, listed a block at a time. A raw file of
/// the size its header implies is read in two halves on two threads, the second
/// from its own handle on the file (seeked past the first half); the halves'
/// rows are then joined, in order.
fn read_listed(mut source: Source<'_>, scaling: Scaling) -> Result<SparseRows<PIXELS>, Error> {
    let (count, expected) = image_header(&mut source)?;
    let count = u64::from(count);
    let table = scaling.table();
    let value = |p: u8| table[usize::from(p)];
    let halves = source.file && !source.gzip && source.size == Some(expected);
    let half = if halves && count >= 2 * BLOCK as u64 {
        count / 2
    } else {
        count
    };
    let path = source.path;
    let (first, second) = std::thread::scope(|scope| {
        let second = (half < count).then(|| {
            scope.spawn(move || {
                let mut rest = reopen(path, half, expected)?;
                let listed = list_images(&mut rest, half..count, count - half, value)?;
                rest.check_end(expected)?;
                Ok::<_, Error>(listed)
            })
        });
        // Room for every image counted (at most what the input can hold), so
        // the second half is appended without copying the first.
        let room = source.capacity(count as u32, PIXELS) as u64;
        let first = list_images(&mut source, 0..half, room, value);
        (first, second.map(|worker| worker.join()))
    });
    let mut inputs = first?;
    match second {
        None => source.check_end(expected)?,
        Some(Ok(second)) => inputs.append(&second?),
        // Listing panics only if `SparseRows` does: the same panic, here.
        Some(Err(panic)) => std::panic::resume_unwind(panic),
    }
    Ok(inputs)
}

/// `path` opened again, at image `first`: a raw stream of the rest of a file
/// of `size` bytes.
fn reopen(path: &Path, first: u64, size: u64) -> Result<Source<'_>, Error> {
    use std::io::{Seek, SeekFrom};
    let mut file = File::open(path).map_err(io(path))?;
    file.seek(SeekFrom::Start(
        IMAGES_HEADER as u64 + first * PIXELS as u64,
    ))
    .map_err(io(path))?;
    Ok(Source {
        path,
        reader: Box::new(file),
        gzip: false,
        size: Some(size),
        file: true,
    })
}

/// Images `range` of an image file, read from where `source` is (image
/// `range.start`) and listed a block at a time, with room asked for `room`
/// images in all.
fn list_images(
    source: &mut Source<'_>,
    range: core::ops::Range<u64>,
    room: u64,
    value: impl Fn(u8) -> f32 + Copy + Sync,
) -> Result<SparseRows<PIXELS>, Error> {
    // Coded: each pixel kept as its byte and position (4 bytes an entry, not 8).
    let mut inputs = SparseRows::from_bytes(&[], value);
    let path = source.path;
    let oom = |_| {
        Error::from(ErrorKind::Io {
            path: path.to_path_buf(),
            source: std::io::ErrorKind::OutOfMemory.into(),
        })
    };
    read_body(source, range, |block| {
        // Room for the most a block can hold, asked for before it is listed, so
        // that memory running out is an error rather than an abort. After the
        // first block, room for `room` images at that block's density (and a
        // tenth more) is asked for once, so the lists are not copied as they
        // grow; memory not written is never touched, so a guess too high costs
        // nothing.
        let most = block.len() * PIXELS;
        let first = inputs.is_empty();
        inputs.try_reserve(block.len(), most).map_err(oom)?;
        inputs.extend_from_bytes(block, value);
        if first {
            let rest = usize::try_from(room)
                .unwrap_or(usize::MAX)
                .saturating_sub(block.len());
            let per_image = inputs.entries().div_ceil(block.len());
            let guess = (rest.saturating_mul(per_image) / 10).saturating_mul(11);
            // Only a guess: if it cannot be had, each block still asks for its own.
            let _ = inputs.try_reserve(rest, guess.saturating_add(most));
        }
        Ok(())
    })?;
    Ok(inputs)
}

/// Checks an image file's header: the number of images and the length of the
/// file it implies.
fn image_header(source: &mut Source<'_>) -> Result<(u32, u64), Error> {
    let [count, rows, cols] = source
        .header::<4>(IMAGES_MAGIC)
        .map(|w| [w[1], w[2], w[3]])?;
    if (rows as usize, cols as usize) != (SIDE, SIDE) {
        return Err(Error::from(ErrorKind::Dimensions {
            path: source.path.to_path_buf(),
            rows,
            cols,
        }));
    }
    let expected = source.check_count(count, IMAGES_HEADER, PIXELS)?;
    Ok((count, expected))
}

/// What a block of images is handed with: the file and how many images it
/// could hold.
struct Body<'a> {
    path: &'a Path,
    capacity: usize,
}

/// Checks the header, then hands `sink` the images a block at a time, in order.
fn read_images(
    mut source: Source<'_>,
    mut sink: impl FnMut(&Body<'_>, &[[u8; PIXELS]]) -> Result<(), Error>,
) -> Result<(), Error> {
    let (count, expected) = image_header(&mut source)?;
    let body = Body {
        path: source.path,
        capacity: source.capacity(count, PIXELS),
    };
    read_body(&mut source, 0..u64::from(count), |block| sink(&body, block))?;
    source.check_end(expected)
}

/// Hands `sink` images `range`, read from where `source` is (image
/// `range.start`), a block at a time, in order.
fn read_body(
    source: &mut Source<'_>,
    range: core::ops::Range<u64>,
    mut sink: impl FnMut(&[[u8; PIXELS]]) -> Result<(), Error>,
) -> Result<(), Error> {
    let images = range.end.saturating_sub(range.start);
    // One block's buffer, reused: never more than the input could hold.
    let fit = source.capacity(u32::try_from(images).unwrap_or(u32::MAX), PIXELS);
    let len = fit.clamp(1, BLOCK);
    let mut block = Vec::new();
    reserve(&mut block, len, source.path)?;
    block.resize(len, [0u8; PIXELS]);
    let mut done = 0u64;
    while done < images {
        let want = (images - done).min(block.len() as u64) as usize;
        let bytes = block[..want].as_flattened_mut();
        let n = source.read_full(bytes)?;
        if n < bytes.len() {
            let expected = IMAGES_HEADER as u64 + range.end * PIXELS as u64;
            let found = IMAGES_HEADER as u64 + (range.start + done) * PIXELS as u64 + n as u64;
            return Err(source.short(expected, found));
        }
        sink(&block[..want])?;
        done += want as u64;
    }
    Ok(())
}

fn read_labels(mut source: Source<'_>) -> Result<Vec<u8>, Error> {
    let [_, count] = source.header::<2>(LABELS_MAGIC)?;
    let expected = source.check_count(count, LABELS_HEADER, 1)?;
    let mut labels = Vec::new();
    reserve(&mut labels, source.capacity(count, 1), source.path)?;
    // Bounded by the count, one byte past it to see whether the stream is longer.
    let mut body = (&mut source.reader).take(u64::from(count));
    body.read_to_end(&mut labels)
        .map_err(|error| source.stream_error(error))?;
    if labels.len() < count as usize {
        return Err(source.short(expected, (LABELS_HEADER + labels.len()) as u64));
    }
    if let Some(k) = labels.iter().position(|&l| usize::from(l) >= CLASSES) {
        return Err(Error::from(ErrorKind::Label {
            path: source.path.to_path_buf(),
            position: Position::idx(k as u64 + 1, (LABELS_HEADER + k) as u64),
            value: labels[k].to_string(),
        }));
    }
    source.check_end(expected)?;
    Ok(labels)
}

pub(super) fn write(
    data: &Dataset,
    images_path: &Path,
    labels_path: &Path,
    gzip: bool,
) -> Result<(), Error> {
    let count = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let mut image_bytes = Vec::with_capacity(IMAGES_HEADER + data.len() * PIXELS);
    for word in [IMAGES_MAGIC, count, SIDE as u32, SIDE as u32] {
        image_bytes.extend_from_slice(&word.to_be_bytes());
    }
    image_bytes.extend(data.images.iter().flatten());
    let mut label_bytes = Vec::with_capacity(LABELS_HEADER + data.len());
    for word in [LABELS_MAGIC, count] {
        label_bytes.extend_from_slice(&word.to_be_bytes());
    }
    label_bytes.extend_from_slice(&data.labels);
    write_file(images_path, &image_bytes, gzip)?;
    write_file(labels_path, &label_bytes, gzip)
}

fn write_file(path: &Path, bytes: &[u8], gzip: bool) -> Result<(), Error> {
    let io = |source| {
        Error::from(ErrorKind::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    let file = BufWriter::new(File::create(path).map_err(io)?);
    if gzip {
        let mut encoder = GzEncoder::new(file, Compression::fast());
        encoder.write_all(bytes).map_err(io)?;
        encoder.finish().map_err(io)?.flush().map_err(io)
    } else {
        let mut file = file;
        file.write_all(bytes).map_err(io)?;
        file.flush().map_err(io)
    }
}
