//! Hostile files — a gzip bomb named as training images, gigabytes of zeros named
//! as IDX or CSV — fail fast, with memory bounded by what the header promises
//! rather than by what the file could inflate to.
//!
//! Each case is checked twice: in process, for the error it gives and that it
//! comes within milliseconds (the old loader read or inflated everything first —
//! 1.4 s and 1 GB for the bomb, 26 s and 10 GB for the CSV — and then failed with
//! a different error), and in a child process under a 512 MiB address-space limit
//! (`ulimit -v`), where a loader that buffers gigabytes cannot allocate them (the
//! old one returned out-of-memory I/O errors there, not the format's error).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flate2::{Compress, Compression, Crc, FlushCompress};
use mimic_mnist::{Dataset, Error, ErrorKind, Scaling, SparseDataset};

const MIB: usize = 1 << 20;

/// A gzip member holding `prefix` then `mib` MiB of zeros, built in milliseconds:
/// after a full flush the deflate state is reset, so every MiB of zeros compresses
/// to the same bytes, which are repeated instead of compressed again. With
/// `good_crc` false the trailer's CRC is wrong, so a decoder that reads to the end
/// fails there — an error a loader that stops early never reaches.
fn gzip_of_zeros(prefix: &[u8], mib: usize, good_crc: bool) -> Vec<u8> {
    let mut deflate = Compress::new(Compression::best(), false);
    let mut block = |input: &[u8], flush: FlushCompress| {
        let mut out = Vec::with_capacity(input.len() + 4096);
        let start = deflate.total_in();
        loop {
            let done = (deflate.total_in() - start) as usize;
            deflate
                .compress_vec(&input[done..], &mut out, flush)
                .unwrap();
            if (deflate.total_in() - start) as usize == input.len() && out.len() < out.capacity() {
                return out;
            }
            out.reserve(1 << 16);
        }
    };
    let zeros = vec![0u8; MIB];
    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff];
    gz.extend(block(prefix, FlushCompress::Full));
    let first = block(&zeros, FlushCompress::Full);
    if mib > 1 {
        assert_eq!(block(&zeros, FlushCompress::Full), first, "flushes repeat");
    }
    for _ in 0..mib {
        gz.extend_from_slice(&first);
    }
    gz.extend(block(&[], FlushCompress::Finish));
    let mut crc = Crc::new();
    crc.update(prefix);
    let mut zeros_crc = Crc::new();
    zeros_crc.update(&zeros);
    for _ in 0..mib {
        crc.combine(&zeros_crc);
    }
    let sum = if good_crc { crc.sum() } else { !crc.sum() };
    gz.extend(sum.to_le_bytes());
    gz.extend(((prefix.len() + mib * MIB) as u32).to_le_bytes());
    gz
}

fn header(magic: u32, dims: &[u32]) -> Vec<u8> {
    std::iter::once(magic)
        .chain(dims.iter().copied())
        .flat_map(u32::to_be_bytes)
        .collect()
}

fn labels(count: u32) -> Vec<u8> {
    let mut bytes = header(0x801, &[count]);
    bytes.extend(std::iter::repeat_n(1, count as usize));
    bytes
}

/// A 2 GiB file of zeros that takes no disk space (as `truncate -s 2G` makes).
fn sparse_zeros(path: &Path, prefix: &[u8]) {
    let mut file = std::fs::File::create(path).unwrap();
    file.write_all(prefix).unwrap();
    file.set_len(2 << 30).unwrap();
}

/// The images in `dir` (gzip'd or not) and their one label.
fn files_of(dir: &Path) -> (PathBuf, PathBuf) {
    let images = dir.join("train-images-idx3-ubyte");
    let gz = images.with_extension("gz");
    let images = if gz.exists() { gz } else { images };
    (images, dir.join("train-labels-idx1-ubyte"))
}

/// Loads the images in `dir` (gzip'd or not) with their one label; how many.
fn images_of(dir: &Path) -> Result<usize, Error> {
    let (images, labels) = files_of(dir);
    Dataset::from_idx(images, labels).map(|d| d.len())
}

/// As [`images_of`], straight into nonzero pixels.
fn sparse_of(dir: &Path) -> Result<usize, Error> {
    let (images, labels) = files_of(dir);
    SparseDataset::from_idx(images, labels, Scaling::Divide255).map(|d| d.len())
}

/// The hostile cases: a name, a loader run on its files, and the error expected.
type Case = (
    &'static str,
    fn(&Path) -> Result<usize, Error>,
    fn(&ErrorKind) -> bool,
);

const CASES: [Case; 11] = [
    // 1 GiB of zeros gzip'd (about 1 MB): the magic number is wrong at byte 0.
    (
        "gzip-bomb",
        |d| images_of(&d.join("bomb")),
        |k| matches!(k, ErrorKind::BadMagic { .. }),
    ),
    // A valid header for one image, then 1 GiB of zeros: longer than it says.
    (
        "gzip-long",
        |d| images_of(&d.join("long")),
        |k| matches!(k, ErrorKind::Excess { .. }),
    ),
    // A header claiming 2^32 - 1 images, then 1 GiB of zeros: the ~1 MB of gzip
    // cannot inflate to 3.4 TB, so nothing past the header is inflated.
    (
        "gzip-claim",
        |d| images_of(&d.join("claim")),
        |k| {
            matches!(
                k,
                ErrorKind::Overclaimed {
                    expected: 3367254359296,
                    ..
                }
            )
        },
    ),
    // 2 GiB of raw zeros as images.
    (
        "raw-zeros",
        |d| images_of(&d.join("raw")),
        |k| matches!(k, ErrorKind::BadMagic { .. }),
    ),
    // A valid header for one image, then 2 GiB of zeros: the size is checked first.
    (
        "raw-long",
        |d| images_of(&d.join("raw-long")),
        |k| {
            matches!(
                k,
                ErrorKind::Length {
                    expected: 800,
                    found: 2147483648,
                    ..
                }
            )
        },
    ),
    // 2 GiB of zeros as CSV: one line, far longer than any MNIST row.
    (
        "csv-zeros",
        |d| Dataset::from_csv(d.join("mnist_train.csv")).map(|d| d.len()),
        |k| matches!(k, ErrorKind::LineTooLong { .. }),
    ),
    // The IDX cases again, read straight into nonzero pixels: the same errors.
    (
        "gzip-bomb-sparse",
        |d| sparse_of(&d.join("bomb")),
        |k| matches!(k, ErrorKind::BadMagic { .. }),
    ),
    (
        "gzip-long-sparse",
        |d| sparse_of(&d.join("long")),
        |k| matches!(k, ErrorKind::Excess { .. }),
    ),
    (
        "gzip-claim-sparse",
        |d| sparse_of(&d.join("claim")),
        |k| {
            matches!(
                k,
                ErrorKind::Overclaimed {
                    expected: 3367254359296,
                    ..
                }
            )
        },
    ),
    (
        "raw-zeros-sparse",
        |d| sparse_of(&d.join("raw")),
        |k| matches!(k, ErrorKind::BadMagic { .. }),
    ),
    (
        "raw-long-sparse",
        |d| sparse_of(&d.join("raw-long")),
        |k| {
            matches!(
                k,
                ErrorKind::Length {
                    expected: 800,
                    found: 2147483648,
                    ..
                }
            )
        },
    ),
];

/// Writes every case's files into `dir`: about 3 MB on disk (the 2 GiB files
/// are sparse).
fn write_cases(dir: &Path) {
    for (sub, images) in [
        ("bomb", gzip_of_zeros(&[], 1024, false)),
        (
            "long",
            gzip_of_zeros(&header(0x803, &[1, 28, 28]), 1024, false),
        ),
        (
            "claim",
            gzip_of_zeros(&header(0x803, &[u32::MAX, 28, 28]), 1024, false),
        ),
    ] {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("train-images-idx3-ubyte.gz"), images).unwrap();
        std::fs::write(d.join("train-labels-idx1-ubyte"), labels(1)).unwrap();
    }
    for (sub, prefix) in [("raw", vec![]), ("raw-long", header(0x803, &[1, 28, 28]))] {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d).unwrap();
        sparse_zeros(&d.join("train-images-idx3-ubyte"), &prefix);
        std::fs::write(d.join("train-labels-idx1-ubyte"), labels(1)).unwrap();
    }
    sparse_zeros(&dir.join("mnist_train.csv"), &[]);
}

/// Runs the cases named in `$MIMIC_HOSTILE_CASE` (all if unset) on `dir`,
/// printing each one's time.
fn run_cases(dir: &Path) {
    let only = std::env::var("MIMIC_HOSTILE_CASE").ok();
    for (name, load, expected) in CASES {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let start = Instant::now();
        let result = load(dir);
        let elapsed = start.elapsed();
        eprintln!("{name}: {elapsed:?}: {:?}", result.as_ref().ok());
        let Err(error) = result else {
            panic!("{name}: loaded");
        };
        assert!(expected(error.kind()), "{name}: {error:?}");
        // Generous for a loaded 2-core machine; each case takes milliseconds.
        assert!(elapsed < Duration::from_secs(2), "{name}: {elapsed:?}");
    }
}

#[test]
fn the_zero_bomb_helper_makes_valid_gzip() {
    let gz = gzip_of_zeros(b"abc", 3, true);
    let mut inflated = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(gz.as_slice()),
        &mut inflated,
    )
    .unwrap();
    assert_eq!(inflated.len(), 3 + 3 * MIB);
    assert!(inflated.starts_with(b"abc") && inflated[3..].iter().all(|&b| b == 0));
    let bad = gzip_of_zeros(b"abc", 3, false);
    assert!(
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(bad.as_slice()),
            &mut inflated
        )
        .is_err()
    );
}

/// Both checks share the files, which are removed afterwards (kept if a check
/// fails, to look at).
#[test]
fn hostile_files_fail_fast_even_in_512_mib() {
    let dir = std::env::temp_dir().join(format!("mimic-hostile-{}", std::process::id()));
    write_cases(&dir);
    run_cases(&dir);
    #[cfg(target_os = "linux")]
    run_child_in_512_mib(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The child's half of `run_child_in_512_mib`: does nothing unless the
/// parent set `$MIMIC_HOSTILE_DIR`.
#[test]
fn hostile_child() {
    if let Some(dir) = std::env::var_os("MIMIC_HOSTILE_DIR") {
        run_cases(Path::new(&dir));
    }
}

/// Runs the cases in a child process limited to 512 MiB of address space, where
/// a loader that buffers gigabytes fails to allocate them.
#[cfg(target_os = "linux")]
fn run_child_in_512_mib(dir: &Path) {
    let exe = std::env::current_exe().unwrap();
    // `ulimit -v` is in KiB; `exec` keeps the limit for the test binary, which
    // runs only `hostile_child`, on one thread.
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 524288 && exec \"$0\" hostile_inputs::hostile_child --exact --test-threads=1 --nocapture")
        .arg(&exe)
        .env("MIMIC_HOSTILE_DIR", dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{}\n{stderr}", output.status);
    for (name, _, _) in CASES {
        assert!(
            stderr.contains(&format!("{name}: ")),
            "{name} ran: {stderr}"
        );
    }
}

/// A gzip'd stream shorter than its header says gives the exact length found; a
/// longer one is cut off one byte past the end.
#[test]
fn gzip_streams_are_held_to_their_header() {
    let gz = |bytes: &[u8]| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    };
    let mut two = header(0x803, &[2, 28, 28]);
    two.extend([0; 784]);
    let error = Dataset::from_idx_bytes(&gz(&two), &gz(&labels(2)), ("i", "l")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "i: truncated or padded: the header implies 1584 bytes, found 800"
    );
    let mut long_labels = labels(1);
    long_labels.push(1);
    let mut one = header(0x803, &[1, 28, 28]);
    one.extend([0; 784]);
    let error = Dataset::from_idx_bytes(&gz(&one), &gz(&long_labels), ("i", "l")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "l: padded: the header implies 9 bytes, found more"
    );
    assert!(Dataset::from_idx_bytes(&gz(&one), &gz(&labels(1)), ("i", "l")).is_ok());
}
