//! The firmware crate's tests: the C header against Rust, the no_std build, and the std build's predictions on all of MNIST.
//! (One test binary per crate, not one per file: each binary links the crate and
//! monomorphises its networks again, which is most of a fresh build's time.)

mod c_header;
mod no_std_build;
mod std_equality;
