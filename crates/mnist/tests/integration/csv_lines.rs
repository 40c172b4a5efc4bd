//! A CSV error names the line an editor shows, whatever ends the lines (`\n`,
//! `\r\n`, a lone `\r`, or a mix), with blank lines and a byte-order mark, in
//! small files and in large ones parsed in batches on two threads; and a line
//! longer than any MNIST row is rejected where it starts.

use mimic_mnist::{Dataset, Error, ErrorKind, Position};

fn fields(label: &str, pixels: usize) -> String {
    std::iter::once(label.to_string())
        .chain(std::iter::repeat_n("0".to_string(), pixels))
        .collect::<Vec<_>>()
        .join(",")
}

/// Lines of a file, each with its own ending; the file's text.
fn join(lines: &[(String, &str)]) -> Vec<u8> {
    lines
        .iter()
        .flat_map(|(text, end)| [text.as_bytes(), end.as_bytes()])
        .flatten()
        .copied()
        .collect()
}

fn error(bytes: &[u8]) -> Error {
    Dataset::from_csv_reader(bytes, "f.csv").unwrap_err()
}

/// `good` valid rows, then one with 784 columns; every line ends with `end`.
fn bad_row_after(good: usize, end: &'static str) -> Vec<(String, &'static str)> {
    let mut lines: Vec<_> = (0..good).map(|_| (fields("1", 784), end)).collect();
    lines.push((fields("1", 783), end));
    lines
}

fn columns_at(error: &Error, line: u64, record: u64) {
    assert!(
        matches!(error.kind(), ErrorKind::Columns { found: 784, .. }),
        "{error:?}"
    );
    assert_eq!(
        error.position(),
        Some(Position {
            line: Some(line),
            record: Some(record),
            ..Position::default()
        }),
        "{error}"
    );
}

#[test]
fn every_line_ending() {
    for end in ["\n", "\r\n", "\r"] {
        columns_at(&error(&join(&bad_row_after(3, end))), 4, 4);
    }
    // Mixed, as after editing on two systems.
    let mut lines = bad_row_after(4, "\n");
    lines[0].1 = "\r\n";
    lines[1].1 = "\r";
    columns_at(&error(&join(&lines)), 5, 5);
}

#[test]
fn blank_lines_and_a_byte_order_mark_count() {
    for end in ["\n", "\r\n", "\r"] {
        let mut lines = vec![(String::new(), end), (fields("2", 784), end)];
        lines.extend([(String::new(), end), ("  ".into(), end)]);
        lines.extend(bad_row_after(1, end));
        let mut bytes = b"\xef\xbb\xbf".to_vec();
        bytes.extend(join(&lines));
        // Lines: blank, row 1, blank, blank, row 2, bad row 3 on line 6.
        columns_at(&error(&bytes), 6, 3);
    }
    let mut bytes = b"\xef\xbb\xbf".to_vec();
    bytes.extend(join(&[(fields("7", 784), "\r\n")]));
    assert_eq!(
        Dataset::from_csv_reader(bytes.as_slice(), "f")
            .unwrap()
            .labels(),
        [7]
    );
}

#[test]
fn pixel_and_label_errors_name_line_and_column() {
    let lines = [
        (fields("1", 784), "\r\n"),
        (String::new(), "\r\n"),
        (fields("1", 784).replacen(",0", ",300", 2), "\r\n"),
    ];
    let e = error(&join(&lines));
    assert!(matches!(e.kind(), ErrorKind::Pixel { .. }), "{e:?}");
    assert_eq!(e.position(), Some(Position::csv(3, 2, 2)));
    assert_eq!(
        e.to_string(),
        "f.csv: line 3, column 2, sample 2: expected a pixel value, an integer from 0 to 255, found \"300\""
    );
    let lines = [(String::new(), "\r"), (fields("12", 784), "\r")];
    assert_eq!(
        error(&join(&lines)).position(),
        Some(Position::csv(2, 1, 1))
    );
}

/// Large files are cut into batches at line breaks and parsed two at a time: the
/// line of an error is still counted over the whole file, with every kind of
/// line ending, blank lines between batches, and a `\r\n` placed across the
/// first 1 MiB boundary (where a batch could be cut between `\r` and `\n`).
#[test]
fn large_files_count_lines_across_batches() {
    for end in ["\n", "\r\n", "\r"] {
        let mut lines: Vec<(String, &str)> = Vec::new();
        let mut rows = 0;
        for k in 0..6000 {
            if k % 7 == 3 {
                lines.push((String::new(), end));
            } else {
                lines.push((fields(&(k % 10).to_string(), 784), end));
                rows += 1;
            }
        }
        let good = join(&lines);
        assert!(good.len() > 6 << 20, "many batches");
        assert_eq!(
            Dataset::from_csv_reader(good.as_slice(), "f")
                .unwrap()
                .len(),
            rows
        );
        for bad in [10, 2000, 5999] {
            let mut lines = lines.clone();
            let rows_before = lines[..bad].iter().filter(|(t, _)| !t.is_empty()).count() as u64;
            lines[bad] = (fields("1", 783), end);
            columns_at(&error(&join(&lines)), bad as u64 + 1, rows_before + 1);
        }
    }
    // A `\r\n` at bytes 2^20 - 1 and 2^20, after rows and blank lines.
    let mut bytes = Vec::new();
    let mut line = 0u64;
    while bytes.len() + 2000 < 1 << 20 {
        bytes.extend(fields("3", 784).bytes().chain(*b"\n"));
        line += 1;
    }
    while bytes.len() < (1 << 20) - 1 {
        bytes.push(b'\n');
        line += 1;
    }
    bytes.extend(b"\r\n");
    line += 1;
    for _ in 0..1000 {
        bytes.extend(fields("3", 784).bytes().chain(*b"\r\n"));
        line += 1;
    }
    bytes.extend(fields("3", 783).bytes().chain(*b"\r\n"));
    line += 1;
    let e = error(&bytes);
    assert_eq!(e.position().and_then(|p| p.line), Some(line), "{e}");
}

#[test]
fn a_line_longer_than_any_row_is_rejected_where_it_starts() {
    let mut lines = vec![(fields("1", 784), "\r\n"); 3];
    lines.push(("0,".repeat(5000), "\r\n"));
    lines.push((fields("1", 784), "\r\n"));
    let e = error(&join(&lines));
    assert!(
        matches!(e.kind(), ErrorKind::LineTooLong { limit: 8192, .. }),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "f.csv: line 4, sample 4: a line longer than 8192 bytes, expected 785 numbers (label, then 784 pixels)"
    );
    // No line break at all in 3 MiB, after a valid row: rejected at line 2.
    let mut bytes = join(&[(fields("1", 784), "\n")]);
    bytes.extend(std::iter::repeat_n(b'7', 3 << 20));
    let e = error(&bytes);
    assert!(matches!(e.kind(), ErrorKind::LineTooLong { .. }), "{e:?}");
    assert_eq!(e.position().and_then(|p| p.line), Some(2));
    // Long rows with spaces and quotes, but within the limit, still load.
    let padded = std::iter::once("\"5\"".to_string())
        .chain(std::iter::repeat_n(" \"255\" ".to_string(), 784))
        .collect::<Vec<_>>()
        .join(",");
    assert!(padded.len() < 8192);
    let data = Dataset::from_csv_reader(padded.as_bytes(), "f").unwrap();
    assert_eq!((data.labels(), data.images()[0][783]), (&[5u8][..], 255));
}
