//! The seed's CSV format: one sample per row, `label,p0,…,p783`, optionally after
//! a header row.
//!
//! The bytes are cut into lines here rather than by the csv crate, for two
//! reasons. Line numbers: `\n`, `\r\n` and a lone `\r` each end exactly one line,
//! blank lines and a UTF-8 byte-order mark are counted as they are, so an error's
//! line is the one an editor shows (the csv crate's count is off for `\r\n` and
//! `\r`). Memory: the file is read in batches of about [`BATCH`] bytes cut at line
//! breaks, and no line may be longer than [`MAX_LINE`], so a file without line
//! breaks (2 GB of zeros, say) is rejected after one batch instead of being
//! buffered whole. Batches are parsed in pairs on two threads; each counts its own
//! lines and samples, and an error's position is shifted by the batches before it
//! once those are known to be good, so the first error in file order wins and
//! names the line in the whole file.
//!
//! Fields are numbers, so quoting is only tolerated: a field's surrounding spaces
//! and one pair of surrounding double quotes are dropped; a quoted comma or line
//! break cannot be part of a valid pixel anyway.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use super::error::reserve;
use super::{CLASSES, Dataset, Error, ErrorKind, PIXELS, Position};

/// The longest line accepted: 785 fields of up to three digits and a comma each
/// is 3140 bytes; twice that and more leaves room for spaces and quotes.
pub(super) const MAX_LINE: usize = 8 << 10;
/// Bytes read before a batch is cut at its last line break.
const BATCH: usize = 1 << 20;
const BOM: &[u8] = b"\xef\xbb\xbf";

pub(super) fn read(path: &Path) -> Result<Dataset, Error> {
    let file = File::open(path).map_err(|source| {
        Error::from(ErrorKind::Io {
            path: path.to_path_buf(),
            source,
        })
    })?;
    read_from(file, path)
}

/// Parses CSV from any reader; `path` only names it in errors.
pub(super) fn read_from(source: impl Read, path: &Path) -> Result<Dataset, Error> {
    let mut batches = Batches {
        reader: source,
        pending: Vec::new(),
        done: false,
    };
    let io = |source| {
        Error::from(ErrorKind::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    let mut data = Dataset::default();
    let mut lines = 0;
    let mut start = true;
    // Until the first non-blank line, batches go one at a time: that line may be
    // a header, and only the batch holding it can tell.
    let mut seen_row = false;
    while let Some(first) = batches.next().map_err(io)? {
        let start = std::mem::take(&mut start);
        if !seen_row {
            let chunk = parse_chunk(&first, start, true, path).map_err(|e| e.after(lines, 0))?;
            seen_row = chunk.seen_row;
            lines += chunk.lines;
            chunk.append_to(&mut data, path)?;
            continue;
        }
        let second = batches.next().map_err(io)?;
        let (a, b) = std::thread::scope(|scope| {
            let b = second
                .as_deref()
                .map(|second| scope.spawn(move || parse_chunk(second, false, false, path)));
            (
                parse_chunk(&first, start, false, path),
                b.map(|handle| handle.join()),
            )
        });
        let a = a.map_err(|e| e.after(lines, data.len() as u64))?;
        lines += a.lines;
        a.append_to(&mut data, path)?;
        if let Some(b) = b {
            let b = match b {
                Ok(parsed) => parsed.map_err(|e| e.after(lines, data.len() as u64))?,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            lines += b.lines;
            b.append_to(&mut data, path)?;
        }
    }
    if data.is_empty() {
        return Err(Error::from(if seen_row {
            ErrorKind::NoRows {
                path: path.to_path_buf(),
                lines,
            }
        } else {
            ErrorKind::Empty {
                path: path.to_path_buf(),
            }
        }));
    }
    Ok(data)
}

/// The reader cut into batches of whole lines.
struct Batches<R> {
    reader: R,
    /// Read but not yet handed out: the start of a line.
    pending: Vec<u8>,
    done: bool,
}

impl<R: Read> Batches<R> {
    /// The next batch: at least [`BATCH`] bytes (unless the file ends) up to the
    /// last line break in them. If there is none, a line is longer than
    /// [`MAX_LINE`]: its first `MAX_LINE + 1` bytes are the last batch, and the
    /// parser names the line.
    fn next(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        let mut eof = false;
        while self.pending.len() < BATCH {
            let start = self.pending.len();
            self.pending.resize(BATCH, 0);
            match self.reader.read(&mut self.pending[start..]) {
                Ok(n) => {
                    self.pending.truncate(start + n);
                    if n == 0 {
                        eof = true;
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                    self.pending.truncate(start);
                }
                Err(e) => return Err(e),
            }
        }
        if eof {
            self.done = true;
            return Ok((!self.pending.is_empty()).then(|| std::mem::take(&mut self.pending)));
        }
        // A `\r` as the very last byte may be the first half of `\r\n`: cutting
        // there would count one line break as two lines.
        let last = self.pending.len() - 1;
        let cut = self
            .pending
            .iter()
            .rposition(|&b| b == b'\n')
            .into_iter()
            .chain(self.pending[..last].iter().rposition(|&b| b == b'\r'))
            .max();
        match cut {
            Some(at) => {
                let rest = self.pending.split_off(at + 1);
                Ok(Some(std::mem::replace(&mut self.pending, rest)))
            }
            None => {
                self.done = true;
                self.pending.truncate(MAX_LINE + 1);
                Ok(Some(std::mem::take(&mut self.pending)))
            }
        }
    }
}

/// What one batch held.
struct Chunk {
    images: Vec<[u8; PIXELS]>,
    labels: Vec<u8>,
    /// Lines in the batch (its last may lack a line break).
    lines: u64,
    /// Whether a non-blank line (a header or a sample) was seen.
    seen_row: bool,
}

impl Chunk {
    fn append_to(self, data: &mut Dataset, path: &Path) -> Result<(), Error> {
        reserve(&mut data.images, self.images.len(), path)?;
        reserve(&mut data.labels, self.labels.len(), path)?;
        data.images.extend(self.images);
        data.labels.extend(self.labels);
        Ok(())
    }
}

/// Parses the lines of one batch, numbering lines and samples from 1. `start`:
/// the batch starts the file (a byte-order mark is skipped); `header_allowed`: no
/// non-blank line came before, so the first may be a header.
fn parse_chunk(
    bytes: &[u8],
    start: bool,
    mut header_allowed: bool,
    path: &Path,
) -> Result<Chunk, Error> {
    let mut rest = if start {
        bytes.strip_prefix(BOM).unwrap_or(bytes)
    } else {
        bytes
    };
    let mut chunk = Chunk {
        images: Vec::with_capacity(bytes.len() / (2 * (PIXELS + 1))),
        labels: Vec::new(),
        lines: 0,
        seen_row: false,
    };
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .unwrap_or(rest.len());
        let line = &rest[..end];
        let next = match rest.get(end..end + 2) {
            Some(b"\r\n") => end + 2,
            _ => (end + 1).min(rest.len()),
        };
        rest = &rest[next..];
        chunk.lines += 1;
        let sample = chunk.images.len() as u64 + 1;
        let position = |column: Option<u64>| Position {
            line: Some(chunk.lines),
            record: Some(sample),
            column,
            byte: None,
        };
        if line.len() > MAX_LINE {
            return Err(Error::from(ErrorKind::LineTooLong {
                path: path.to_path_buf(),
                position: position(None),
                limit: MAX_LINE,
            }));
        }
        if line.trim_ascii().is_empty() {
            continue;
        }
        chunk.seen_row = true;
        let first = field(line.split(|&b| b == b',').next().unwrap_or_default());
        if std::mem::take(&mut header_allowed) && first.iter().any(u8::is_ascii_alphabetic) {
            // A header (`label,pixel0,…` or `label,1x1,…`): a label is never
            // written with letters, so nothing is lost by skipping it.
            continue;
        }
        let found = line.iter().filter(|&&b| b == b',').count() + 1;
        if found != PIXELS + 1 {
            return Err(Error::from(ErrorKind::Columns {
                path: path.to_path_buf(),
                position: position(None),
                found,
            }));
        }
        let text = |field: &[u8]| String::from_utf8_lossy(field).into_owned();
        let mut fields = line.split(|&b| b == b',').map(field);
        let label_field = fields.next().unwrap_or_default();
        let label = parse_u8(label_field)
            .filter(|&l| usize::from(l) < CLASSES)
            .ok_or_else(|| {
                Error::from(ErrorKind::Label {
                    path: path.to_path_buf(),
                    position: position(Some(1)),
                    value: text(label_field),
                })
            })?;
        let mut image = [0u8; PIXELS];
        for (k, (pixel, field)) in image.iter_mut().zip(fields).enumerate() {
            *pixel = parse_u8(field).ok_or_else(|| {
                Error::from(ErrorKind::Pixel {
                    path: path.to_path_buf(),
                    position: position(Some(k as u64 + 2)),
                    value: text(field),
                })
            })?;
        }
        chunk.images.push(image);
        chunk.labels.push(label);
    }
    Ok(chunk)
}

/// A field without its surrounding spaces and one pair of surrounding quotes.
fn field(raw: &[u8]) -> &[u8] {
    let trimmed = raw.trim_ascii();
    trimmed
        .strip_prefix(b"\"")
        .and_then(|f| f.strip_suffix(b"\""))
        .map_or(trimmed, <[u8]>::trim_ascii)
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
    use super::{field, parse_u8};

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

    #[test]
    fn fields_lose_spaces_and_quotes() {
        assert_eq!(field(b" 12 "), b"12");
        assert_eq!(field(b" \" 7\" "), b"7");
        assert_eq!(field(b"\""), b"\"");
    }
}
