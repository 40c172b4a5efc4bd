//! The IDX format of LeCun's MNIST files, raw or gzip'd: a big-endian header
//! (magic, counts, dimensions) followed by one byte per pixel or label.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use super::{CLASSES, Dataset, Error, ErrorKind, PIXELS, Position, SIDE};

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;
const IMAGES_HEADER: usize = 16;
const LABELS_HEADER: usize = 8;
/// More images than MNIST will ever have; bounds what a gzip stream may inflate to.
const MAX_IMAGES: u64 = 1 << 24;

pub(super) fn read(images_path: &Path, labels_path: &Path) -> Result<Dataset, Error> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::from(ErrorKind::Io { path, source })
    };
    let image_bytes = std::fs::read(images_path).map_err(io(images_path))?;
    let label_bytes = std::fs::read(labels_path).map_err(io(labels_path))?;
    from_bytes(images_path, image_bytes, labels_path, label_bytes)
}

/// Parses IDX images and labels already in memory (each raw or gzip'd); the paths
/// only name them in errors.
pub(super) fn from_bytes(
    images_path: &Path,
    image_bytes: Vec<u8>,
    labels_path: &Path,
    label_bytes: Vec<u8>,
) -> Result<Dataset, Error> {
    let image_bytes = inflate_if_gzip(
        images_path,
        image_bytes,
        IMAGES_HEADER as u64 + MAX_IMAGES * PIXELS as u64,
    )?;
    let label_bytes = inflate_if_gzip(labels_path, label_bytes, LABELS_HEADER as u64 + MAX_IMAGES)?;
    let images = parse_images(images_path, &image_bytes)?;
    let labels = parse_labels(labels_path, &label_bytes)?;
    if images.len() != labels.len() {
        return Err(Error::from(ErrorKind::CountMismatch {
            images_path: images_path.to_path_buf(),
            images: images.len(),
            labels_path: labels_path.to_path_buf(),
            labels: labels.len(),
        }));
    }
    Ok(Dataset { images, labels })
}

/// The bytes, inflated if they start with the gzip magic `1f 8b`. At most
/// `limit + 1` bytes are inflated, so a small "gzip bomb" cannot exhaust memory;
/// the buffer grows with the data actually present, never with a header's claim.
fn inflate_if_gzip(path: &Path, raw: Vec<u8>, limit: u64) -> Result<Vec<u8>, Error> {
    if raw.is_empty() {
        return Err(Error::from(ErrorKind::Empty {
            path: path.to_path_buf(),
        }));
    }
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let mut inflated = Vec::new();
    GzDecoder::new(raw.as_slice())
        .take(limit + 1)
        .read_to_end(&mut inflated)
        .map_err(|source| {
            Error::from(ErrorKind::Gzip {
                path: path.to_path_buf(),
                source,
            })
        })?;
    if inflated.is_empty() {
        return Err(Error::from(ErrorKind::Empty {
            path: path.to_path_buf(),
        }));
    }
    Ok(inflated)
}

/// Reads the big-endian `u32` at `offset` of a header already known to be long enough.
fn be_u32(bytes: &[u8], offset: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_be_bytes(word)
}

/// Checks the magic number and that the header is complete.
fn check_header(path: &Path, bytes: &[u8], magic: u32, header: usize) -> Result<(), Error> {
    if bytes.len() >= 4 && be_u32(bytes, 0) != magic {
        return Err(Error::from(ErrorKind::BadMagic {
            path: path.to_path_buf(),
            expected: magic,
            found: be_u32(bytes, 0),
        }));
    }
    if bytes.len() < header {
        return Err(Error::from(ErrorKind::Length {
            path: path.to_path_buf(),
            expected: header as u64,
            found: bytes.len() as u64,
        }));
    }
    Ok(())
}

/// A header counting no samples describes a valid but useless file: an error,
/// so a training run never starts on nothing.
fn check_count(path: &Path, count: u32) -> Result<(), Error> {
    if count == 0 {
        return Err(Error::from(ErrorKind::ZeroSamples {
            path: path.to_path_buf(),
        }));
    }
    Ok(())
}

fn check_length(path: &Path, bytes: &[u8], expected: u64) -> Result<(), Error> {
    if bytes.len() as u64 != expected {
        return Err(Error::from(ErrorKind::Length {
            path: path.to_path_buf(),
            expected,
            found: bytes.len() as u64,
        }));
    }
    Ok(())
}

fn parse_images(path: &Path, bytes: &[u8]) -> Result<Vec<[u8; PIXELS]>, Error> {
    check_header(path, bytes, IMAGES_MAGIC, IMAGES_HEADER)?;
    let (count, rows, cols) = (be_u32(bytes, 4), be_u32(bytes, 8), be_u32(bytes, 12));
    if (rows as usize, cols as usize) != (SIDE, SIDE) {
        return Err(Error::from(ErrorKind::Dimensions {
            path: path.to_path_buf(),
            rows,
            cols,
        }));
    }
    check_count(path, count)?;
    // Checked against the real length before anything is allocated for it.
    check_length(
        path,
        bytes,
        IMAGES_HEADER as u64 + u64::from(count) * PIXELS as u64,
    )?;
    let pixels = &bytes[IMAGES_HEADER..];
    let mut images = Vec::with_capacity(count as usize);
    for chunk in pixels.chunks_exact(PIXELS) {
        let mut image = [0; PIXELS];
        image.copy_from_slice(chunk);
        images.push(image);
    }
    Ok(images)
}

fn parse_labels(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, Error> {
    check_header(path, bytes, LABELS_MAGIC, LABELS_HEADER)?;
    let count = be_u32(bytes, 4);
    check_count(path, count)?;
    check_length(path, bytes, LABELS_HEADER as u64 + u64::from(count))?;
    let labels = &bytes[LABELS_HEADER..];
    if let Some(k) = labels.iter().position(|&l| usize::from(l) >= CLASSES) {
        return Err(Error::from(ErrorKind::Label {
            path: path.to_path_buf(),
            position: Position::idx(k as u64 + 1, (LABELS_HEADER + k) as u64),
            value: labels[k].to_string(),
        }));
    }
    Ok(labels.to_vec())
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
