// A generated model file whose arrays do not fit the declared type: rows for 3
// inputs where the firmware declares `Dense<4, 2>`. The `const` constructor's
// array types are the layer's shape, so this is a compile error, not a run-time one.
// expect: error[E0308]: mismatched types
// expect: expected an array with a size of 4, found one with a size of 3
use mimic::{Dense, LeakyReLU};

type Model = Dense<4, 2>;

#[rustfmt::skip]
static MODEL: Model = Dense::from_transposed(
    [[0.5, -0.5], [0.25, 0.0], [1.0, 2.0]],
    [0.0, 0.1],
    LeakyReLU::new(0.1),
);

fn main() {
    let _ = &MODEL;
}
