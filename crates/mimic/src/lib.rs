//! `mimic`: statically shaped neural networks.
//!
//! Layers are [`Dense<IN, OUT>`](Dense) over arrays whose sizes are part of the
//! type; a network is a tuple of layers, and **a chain whose shapes don't fit does
//! not compile**. Training is seeded and bit-reproducible: the same seed gives the
//! same weights on every thread count and every instruction set.
//!
//! ```
//! use mimic::{CrossEntropy, Dense, Network, ReLU, Schedule};
//!
//! // Your data: four points of XOR, and their classes.
//! let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
//! let classes = [0, 1, 1, 0];
//!
//! // 2 → 16 → 2, ReLU then raw logits for the softmax cross-entropy.
//! type Xor = (Dense<2, 16, ReLU>, Dense<16, 2, mimic::Identity>);
//! let mut net: Network<Xor, _> = Network::seeded(7, CrossEntropy, 0.1);
//! net.fit(&inputs, &classes, &Schedule::epochs(500))?;
//! assert_eq!(net.predict_batch(&inputs), classes);
//! # Ok::<(), mimic::TrainError>(())
//! ```
//!
//! A layer that doesn't fit its neighbour is a compile error:
//!
//! ```compile_fail
//! use mimic::{CrossEntropy, Dense, Network};
//! let bad: Network<(Dense<784, 16>, Dense<10, 10>), _> = Network::seeded(0, CrossEntropy, 0.1);
//! ```
//!
//! # The pieces
//! - Layers and activations: [`Dense`], [`LeakyReLU`] (the default), [`ReLU`],
//!   [`Sigmoid`], [`Identity`], or your own [`Activation`].
//! - Chains: tuples of 2 to 12 layers; nest tuples for more. A network too big for
//!   the stack is a `Network<Box<L>, F>` (see [`boxed`]).
//! - Losses: [`CrossEntropy`] (stable softmax), [`Mse`], and Hinton's
//!   [`Distillation`] towards a teacher's logits.
//! - Training: [`Network::train_step`] per sample, or [`Network::fit`] over any
//!   [`Inputs`] — dense rows or [`SparseRows`] (only the nonzero entries, much
//!   faster on images) — with a [`Schedule`] of epochs, shuffling, mini-batches,
//!   momentum and decay.
//! - Inference: [`Network::forward`], [`Network::predict`], and over many inputs
//!   [`Network::forward_batch`], [`Network::predict_batch`] (optionally on several
//!   threads), [`Network::accuracy`], [`Network::confusion`].
//! - Saving: [`persist::save`] and [`persist::load`] (safetensors; feature
//!   `persist`, on by default).
//! - Deployment (with `std`): `quantize` to int8 ([`QuantizedDense`],
//!   integer-only inference, also without `std`), and `export` to Rust `static`s
//!   built by `const` constructors or to a C header.
//!
//! # Size and the stack
//! Parameters live inline in their arrays: a `Dense<IN, OUT>` is `4·(IN·OUT + OUT)`
//! bytes, and a `Network<L, F>` held by value sits wherever you put it — on the
//! stack for a local variable. A thread's stack is 2 MiB by default (8 MiB for
//! `main` on Linux), so beyond about a million parameters use
//! `Network<Box<L>, F>`: it is built, trained and loaded directly on the heap, and
//! only one sample's activations are on the stack.
//!
//! # Without `std`
//! With default features off (`default-features = false`), `mimic` is
//! `#![no_std]` and needs no allocator: [`Dense`] (including `const`
//! construction with [`Dense::from_transposed`], for weights compiled into
//! firmware), every activation, tuple chains, [`Module::forward`],
//! [`Network::forward`]/[`predict`](Network::predict)/[`train_step`](Network::train_step),
//! [`softmax`], the losses and [`argmax`], and int8 inference with
//! [`QuantizedDense`] (`const` construction with [`QuantizedDense::from_parts`]).
//! Training loops, seeded
//! initialisation, batch inference and persistence need the `std` feature.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod activation;
#[cfg(feature = "std")]
mod boxed;
mod distillation;
#[cfg(feature = "std")]
mod evaluate;
#[cfg(feature = "std")]
pub mod export;
#[cfg(feature = "std")]
mod fit;
mod init;
mod inputs;
pub mod kernels;
mod layer;
mod loss;
mod math;
mod module;
mod network;
#[cfg(feature = "std")]
mod optimizer;
#[cfg(feature = "persist")]
pub mod persist;
mod quantized;
#[cfg(feature = "std")]
mod rate;
mod sparse;
mod tuples;

pub use activation::{Activation, Identity, LeakyReLU, ReLU, Sigmoid};
pub use distillation::{Distillation, PreparedDistillation, PreparedTarget, SoftTarget};
#[cfg(feature = "std")]
pub use evaluate::{ConfusionMatrix, accuracy};
#[cfg(feature = "std")]
pub use fit::{Divergence, EpochStats, Schedule, TrainError};
pub use init::Initializer;
#[cfg(feature = "std")]
pub use init::{Initialize, boxed};
pub use inputs::{Input, Inputs};
pub use layer::Dense;
pub use loss::{CrossEntropy, LabelSmoothing, Loss, LossError, Mse, log_sum_exp, softmax};
pub use module::{Module, Parameters, SparseTrain, Train, Update, Zipped};
pub use network::{Network, StepError, argmax};
#[cfg(feature = "std")]
pub use optimizer::{Adam, AdamW, Momentum, Optimizer, Sgd};
#[cfg(feature = "std")]
pub use quantized::{
    Calibrated, PiecewiseLinear, Quantize, QuantizeError, fixed_point, quantize, quantize_input,
};
pub use quantized::{
    LOGIT_BITS, MAX_SHIFT, MIN_SHIFT, QuantizedDense, QuantizedInput, QuantizedModule, Requantize,
    argmax_i32,
};
#[cfg(feature = "std")]
pub use rate::LearningRate;
#[cfg(feature = "std")]
pub use sparse::SparseRows;
pub use sparse::{CodedEntry, SparseVector};
