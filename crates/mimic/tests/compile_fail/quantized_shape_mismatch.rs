// The int8 form of the same mistake: a generated int8 layer with 3 outputs per
// input row where the firmware declares `QuantizedDense<2, 2, u8>`.
// expect: error[E0308]: mismatched types
// expect: expected an array with a size of 2, found one with a size of 3
use mimic::{QuantizedDense, Requantize};

type Model = QuantizedDense<2, 2, u8>;

#[rustfmt::skip]
static MODEL: Model = QuantizedDense::from_parts(
    [[1, 2, 3], [4, 5, 6]],
    [0, 0],
    [Requantize::new(1 << 30, 40); 2],
    [Requantize::new(1 << 27, 40); 2],
);

fn main() {
    let _ = &MODEL;
}
