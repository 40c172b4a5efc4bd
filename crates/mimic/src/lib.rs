//! `mimic`: statically shaped neural networks.
//!
//! Layers are [`Dense<IN, OUT>`](Dense) over arrays whose sizes are part of the
//! type; a network is a tuple of layers, and **a chain whose shapes don't fit does
//! not compile**. Training is seeded and bit-reproducible: the same seed gives the
//! same weights on every thread count and every instruction set.
//!
//! ```
//! use mimic::{CrossEntropy, Dense, Identity, Network, ReLU, Schedule, Sgd};
//!
//! // Your data: four points of XOR, and their classes.
//! let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
//! let classes = [0, 1, 1, 0];
//!
//! // 2 → 16 → 2, ReLU then raw logits for the softmax cross-entropy.
//! type Xor = (Dense<2, 16, ReLU>, Dense<16, 2, Identity>);
//! let mut net: Network<Xor, _> = Network::seeded(7, CrossEntropy);
//! net.fit(&inputs, &classes, &Schedule::new(Sgd::new(0.1)).epochs(500))?;
//! assert_eq!(net.predict_batch(&inputs, 1), classes);
//! # Ok::<(), mimic::TrainError>(())
//! ```
//!
//! A layer that doesn't fit its neighbour is a compile error:
//!
//! ```compile_fail
//! use mimic::{CrossEntropy, Dense, Network};
//! let bad: Network<(Dense<784, 16>, Dense<10, 10>), _> = Network::seeded(0, CrossEntropy);
//! ```
//!
//! # The pieces
//! - Define: [`Dense<IN, OUT, A>`](Dense) with an activation `A` — [`LeakyReLU`]
//!   (slope 0.1, the original program's, and the default), [`ReLU`], [`Sigmoid`],
//!   [`Identity`] (raw logits: the usual output layer before cross-entropy), or
//!   your own [`Activation`]. Chains are tuples of 2 to 12 layers; nest tuples
//!   for more. Convolutional networks: [`Conv2d`], [`MaxPool2d`], [`AvgPool2d`]
//!   and [`Flatten`] over [`Image`]s (rows viewed as images in place by
//!   [`images`]), every size checked when the program is built. A network too
//!   big for the stack is a `Network<Box<L>, F>` (see [`boxed`]). The traits
//!   every layer and chain implements are in [`module`].
//! - Losses: [`CrossEntropy`] (stable softmax), [`LabelSmoothing`], [`Mse`], and
//!   Hinton's [`Distillation`] towards a teacher's logits.
//! - Train: [`Network::train_step`] per sample, or [`Network::fit`] /
//!   [`Network::fit_with`] (a callback after every epoch) over any [`Inputs`] —
//!   dense rows or [`SparseRows`] (only the nonzero entries, much faster on
//!   images) — with a [`Schedule`]: an optimizer with its learning rate
//!   ([`Sgd`], [`Momentum`], [`Adam`], [`AdamW`]), epochs, shuffling,
//!   mini-batches, a [`RateSchedule`] and clipping.
//! - Evaluate: [`Network::forward`], [`Network::predict`] (dense or sparse
//!   input), and over many inputs [`Network::forward_batch`],
//!   [`Network::predict_batch`] (on any number of threads, the same bits),
//!   [`Network::accuracy`], [`Network::confusion`].
//! - Save: [`persist::save`] and [`persist::load`] (safetensors; feature
//!   `persist`, on by default).
//! - Deploy (with `std`): [`quantize`] to int8 ([`QuantizedDense`],
//!   [`QuantizedConv2d`], [`QuantizedPool2d`], [`QuantizedFlatten`]: per-channel
//!   weights, integer-only inference, also without `std`; details in
//!   [`quantized`]), and
//!   [`export`] to Rust `static`s built by `const` constructors or to a C header.
//!
//! # Size and the stack
//! Parameters live inline in their arrays: a `Dense<IN, OUT>` is `4·(IN·OUT + OUT)`
//! bytes, and a `Network<L, F>` held by value sits wherever you put it — on the
//! stack for a local variable. Training puts its gradient and optimizer buffers
//! on the heap, so a network trains wherever it fits: in an optimised build a
//! 2 MiB thread (Rust's default for spawned threads) holds and trains
//! 784→256→256→10 (1.07 MB) by value (a debug build copies moved values through
//! the stack, two or three times the network). Beyond about a third of the stack
//! (or in debug builds) use `Network<Box<L>, F>`: it is
//! built, trained and loaded directly on the heap, and only the activations
//! of one sample — or of a mini-batch's group of eight, when the group's take at
//! most 384 KiB (LeNet-5's: 265 KiB) — are on the stack.
//!
//! # Without `std`
//! With default features off (`default-features = false`), `mimic` is
//! `#![no_std]` and needs no allocator: [`Dense`] (including `const`
//! construction with [`Dense::from_transposed`], for weights compiled into
//! firmware), every activation, tuple chains, [`Module::forward`],
//! [`Network::forward`]/[`predict`](Network::predict)/[`train_step`](Network::train_step),
//! [`softmax`], the losses and [`argmax`], and int8 inference with
//! [`QuantizedDense`] (`const` construction with [`QuantizedDense::from_parts`]).
//! Training loops, seeded initialisation, batch inference and persistence need
//! the `std` feature.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod activation;
#[cfg(feature = "std")]
mod batches;
#[cfg(feature = "std")]
mod boxed;
mod conv;
mod depthwise;
mod distillation;
#[cfg(feature = "std")]
mod evaluate;
#[cfg(feature = "std")]
pub mod export;
#[cfg(feature = "std")]
mod fit;
mod flatten;
pub mod image;
mod init;
mod inputs;
mod kernels;
mod layer;
mod loss;
mod math;
pub mod module;
mod network;
#[cfg(feature = "std")]
mod optimizer;
#[cfg(feature = "persist")]
pub mod persist;
pub mod pool;
pub mod quantized;
#[cfg(feature = "std")]
mod rate;
mod setting;
pub mod sparse;
#[cfg(feature = "std")]
mod threads;
mod tuples;

// Define: layers, activations, chains.
pub use activation::{Activation, Identity, LeakyReLU, ReLU, Sigmoid};
pub use conv::Conv2d;
pub use depthwise::DepthwiseConv2d;
pub use flatten::Flatten;
pub use image::{Image, images};
pub use layer::Dense;
pub use module::Module;
pub use network::{Network, StepError, argmax};
pub use pool::{AvgPool2d, MaxPool2d};
// Initialise.
pub use init::Initializer;
#[cfg(feature = "std")]
pub use init::{Initialize, boxed};
// Data.
pub use inputs::{Input, Inputs, InputsOf, Values};
#[cfg(feature = "std")]
pub use sparse::SparseRows;
pub use sparse::SparseVector;
// Losses.
pub use distillation::{Distillation, PreparedDistillation, PreparedTarget, SoftTarget};
pub use loss::{CrossEntropy, LabelSmoothing, Loss, LossError, Mse, log_sum_exp, softmax};
// Train.
#[cfg(feature = "std")]
pub use fit::{Divergence, EpochStats, Schedule, TrainError};
#[cfg(feature = "std")]
pub use optimizer::{Adam, AdamW, Momentum, Optimizer, Sgd};
#[cfg(feature = "std")]
pub use rate::RateSchedule;
pub use setting::InvalidSetting;
// Evaluate.
#[cfg(feature = "std")]
pub use evaluate::{ConfusionMatrix, accuracy};
// Deploy: int8 (the rest of it in `quantized`).
#[cfg(feature = "std")]
pub use quantized::{QuantizeError, quantize, quantize_input};
pub use quantized::{
    QuantizedConv2d, QuantizedDense, QuantizedFlatten, QuantizedModule, QuantizedPool2d, Requantize,
};
// The instruction set the kernels run on.
pub use kernels::{Isa, Work};
