//! The experiments' integration tests on real MNIST: the Python round trip of saved models, the study, the study sharded over processes and merged, training options. (`isa.rs` is its own binary: it forces the instruction set process-wide.)
//! (One test binary per crate, not one per file: each binary links the crate and
//! monomorphises its networks again, which is most of a fresh build's time.)

mod persist_python;
mod shard;
mod study;
mod training_options;
