//! CSV files as users have them: with a header row (`label,1x1,…` as in the
//! Kaggle/pjreddie files, or `label,pixel0,…` as pandas writes), which is skipped
//! and still counted as a line; a header with no rows after it is an error.

use mimic_mnist::{Dataset, ErrorKind, Position};

fn row(label: u8, pixel: u8) -> String {
    std::iter::once(label.to_string())
        .chain(std::iter::repeat_n(pixel.to_string(), 784))
        .collect::<Vec<_>>()
        .join(",")
}

fn header(pixel: impl Fn(usize) -> String) -> String {
    std::iter::once("label".to_string())
        .chain((0..784).map(pixel))
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn header_rows_are_skipped() {
    let headers = [
        header(|k| format!("{}x{}", k / 28 + 1, k % 28 + 1)),
        header(|k| format!("pixel{k}")),
        "\"label\",\"pixel0\"".to_string(),
    ];
    for header in headers {
        for end in ["\n", "\r\n"] {
            let text = format!(
                "\u{feff}{header}{end}{}{end}{}{end}",
                row(3, 0),
                row(9, 255)
            );
            let data = Dataset::from_csv_reader(text.as_bytes(), "h.csv").unwrap();
            assert_eq!(data.labels(), [3, 9]);
            assert_eq!((data.images()[0][0], data.images()[1][783]), (0, 255));
        }
    }
}

#[test]
fn lines_count_the_header_and_samples_do_not() {
    let text = format!(
        "{}\n\n{}\n{}\n",
        header(|k| format!("pixel{k}")),
        row(1, 0),
        row(1, 0)
    )
    .replacen(",0\n", ",256\n", 2);
    let error = Dataset::from_csv_reader(text.as_bytes(), "h.csv").unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::Pixel { .. }), "{error:?}");
    assert_eq!(error.position(), Some(Position::csv(3, 1, 785)));
}

#[test]
fn only_the_first_row_may_be_a_header() {
    let text = format!("{}\nlabel,0\n", row(1, 0));
    let error = Dataset::from_csv_reader(text.as_bytes(), "h.csv").unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::Columns { .. }),
        "{error:?}"
    );
    let text = format!("{}\n{}\n", row(1, 0), row(1, 0).replacen('1', "one", 1));
    let error = Dataset::from_csv_reader(text.as_bytes(), "h.csv").unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::Label { .. }), "{error:?}");
    // A first row whose label is a bad number is not taken for a header.
    let error = Dataset::from_csv_reader(row(10, 0).as_bytes(), "h.csv").unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::Label { .. }), "{error:?}");
}

#[test]
fn a_header_without_rows_is_an_error() {
    let text = format!("{}\r\n\r\n", header(|k| format!("pixel{k}")));
    let error = Dataset::from_csv_reader(text.as_bytes(), "h.csv").unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::NoRows { lines: 2, .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "h.csv: no samples in its 2 lines, only a header: expected MNIST samples after it"
    );
}
