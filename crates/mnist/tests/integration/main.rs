//! mimic-mnist's integration tests: every format, every malformed and hostile input, real MNIST.
//! (One test binary per crate, not one per file: each binary links the crate and
//! monomorphises its networks again, which is most of a fresh build's time.)

mod csv_header;
mod csv_lines;
mod data_errors;
mod data_real;
mod hostile_inputs;
mod idx_formats;
mod loader_props;
mod zero_samples;
