//! The experiments' integration tests on real MNIST: the Python round trip of saved models, the study, training options. (`isa.rs` is its own binary: it forces the instruction set process-wide.)
//! (One test binary per crate, not one per file: each binary links the crate and
//! monomorphises its networks again, which is most of a fresh build's time.)

mod persist_python;
mod study;
mod training_options;
