//! The seed's CSV format: one sample per row, `label,p0,…,p783`, no header.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use super::{CLASSES, Dataset, Error, ErrorKind, PIXELS, Position};

pub(super) fn read(path: &Path) -> Result<Dataset, Error> {
    let bytes = std::fs::read(path).map_err(|source| {
        Error::from(ErrorKind::Io {
            path: path.to_path_buf(),
            source,
        })
    })?;
    parse(&bytes, path)
}

/// Parses CSV from any reader; `path` only names it in errors.
pub(super) fn read_from(mut source: impl Read, path: &Path) -> Result<Dataset, Error> {
    let mut bytes = Vec::new();
    source.read_to_end(&mut bytes).map_err(|source| {
        Error::from(ErrorKind::Io {
            path: path.to_path_buf(),
            source,
        })
    })?;
    parse(&bytes, path)
}

/// Parses a whole file. A large file without quotes is cut at a line break near
/// its middle and the halves are parsed on two threads (the 110 MB training set
/// in about half the time); errors still name the line in the whole file, and the
/// first error in file order wins.
fn parse(bytes: &[u8], path: &Path) -> Result<Dataset, Error> {
    let cut = (bytes.len() > 1 << 20 && !bytes.contains(&b'"'))
        .then(|| bytes[bytes.len() / 2..].iter().position(|&b| b == b'\n'))
        .flatten()
        .map(|offset| bytes.len() / 2 + offset + 1);
    let (images, labels) = match cut {
        Some(cut) => {
            let (first, second) = bytes.split_at(cut);
            let lines_before = first.iter().filter(|&&b| b == b'\n').count() as u64;
            let (a, b) = std::thread::scope(|scope| {
                let second = scope.spawn(|| parse_chunk(second, lines_before, path));
                (parse_chunk(first, 0, path), second.join())
            });
            let (mut images, mut labels) = a?;
            let records_before = images.len() as u64;
            let (more_images, more_labels) = match b {
                Ok(parsed) => parsed.map_err(|e| e.records_after(records_before))?,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            images.extend(more_images);
            labels.extend(more_labels);
            (images, labels)
        }
        None => parse_chunk(bytes, 0, path)?,
    };
    if images.is_empty() {
        return Err(Error::from(ErrorKind::Empty {
            path: path.to_path_buf(),
        }));
    }
    Ok(Dataset { images, labels })
}

/// Parses rows; `lines_before` is the number of lines in the file before `bytes`.
fn parse_chunk(
    bytes: &[u8],
    lines_before: u64,
    path: &Path,
) -> Result<(Vec<[u8; PIXELS]>, Vec<u8>), Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true) // a wrong column count gets our own error, naming the line
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    let mut record = csv::ByteRecord::new();
    while reader
        .read_byte_record(&mut record)
        .map_err(|source| csv_error(path, source))?
    {
        let line = lines_before + record.position().map_or(0, |p| p.line());
        let sample = images.len() as u64 + 1;
        let position = |column: usize| Position::csv(line, sample, column as u64);
        if record.len() != PIXELS + 1 {
            return Err(Error::from(ErrorKind::Columns {
                path: path.to_path_buf(),
                position: Position {
                    column: None,
                    ..position(0)
                },
                found: record.len(),
            }));
        }
        let text = |field: &[u8]| String::from_utf8_lossy(field).into_owned();
        let label = parse_u8(&record[0])
            .filter(|&l| usize::from(l) < CLASSES)
            .ok_or_else(|| {
                Error::from(ErrorKind::Label {
                    path: path.to_path_buf(),
                    position: position(1),
                    value: text(&record[0]),
                })
            })?;
        let mut image = [0u8; PIXELS];
        for (k, (pixel, field)) in image.iter_mut().zip(record.iter().skip(1)).enumerate() {
            *pixel = parse_u8(field).ok_or_else(|| {
                Error::from(ErrorKind::Pixel {
                    path: path.to_path_buf(),
                    position: position(k + 2),
                    value: text(field),
                })
            })?;
        }
        images.push(image);
        labels.push(label);
    }
    Ok((images, labels))
}

/// A decimal integer in 0..=255 (leading zeros allowed), or `None`.
fn parse_u8(field: &[u8]) -> Option<u8> {
    if field.is_empty() || field.len() > 3 + field.iter().take_while(|&&b| b == b'0').count() {
        return None;
    }
    let mut value: u32 = 0;
    for &b in field {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(b - b'0');
    }
    u8::try_from(value).ok()
}

fn csv_error(path: &Path, source: csv::Error) -> Error {
    Error::from(ErrorKind::Csv {
        path: path.to_path_buf(),
        source,
    })
}

pub(super) fn write(data: &Dataset, path: &Path) -> Result<(), Error> {
    let io = |source| {
        Error::from(ErrorKind::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).map_err(io)?);
    let mut line = Vec::with_capacity(4 * (PIXELS + 1));
    for (image, label) in data.iter() {
        line.clear();
        line.push(b'0' + label);
        for &p in image {
            line.push(b',');
            push_decimal(&mut line, p);
        }
        line.push(b'\n');
        out.write_all(&line).map_err(io)?;
    }
    out.flush().map_err(io)
}

fn push_decimal(out: &mut Vec<u8>, value: u8) {
    if value >= 100 {
        out.push(b'0' + value / 100);
    }
    if value >= 10 {
        out.push(b'0' + value / 10 % 10);
    }
    out.push(b'0' + value % 10);
}

#[cfg(test)]
mod tests {
    use super::parse_u8;

    #[test]
    fn parses_bytes() {
        assert_eq!(parse_u8(b"0"), Some(0));
        assert_eq!(parse_u8(b"255"), Some(255));
        assert_eq!(parse_u8(b"007"), Some(7));
        assert_eq!(parse_u8(b"256"), None);
        assert_eq!(parse_u8(b"99999999999999999999"), None);
        assert_eq!(parse_u8(b"1.5"), None);
        assert_eq!(parse_u8(b"-1"), None);
        assert_eq!(parse_u8(b""), None);
    }
}
