//! `mimic`: statically shaped neural networks and the MNIST student–teacher
//! (knowledge distillation) experiment.
//!
//! Layers are [`Dense<IN, OUT>`](Dense) over stack-allocated arrays; a network is a
//! tuple of layers whose shapes the compiler checks:
//!
//! ```
//! use mimic::{CrossEntropy, Dense, Network};
//!
//! // The seed's teacher: 784→16→16→10, LeakyReLU(0.1) everywhere.
//! let mut teacher: Network<(Dense<784, 16>, Dense<16, 16>, Dense<16, 10>), _> =
//!     Network::seeded(42, CrossEntropy, 0.03);
//! let image = [0.5_f32; 784];
//! let loss = teacher.train_step(&image, &7).unwrap();
//! assert!(loss.is_finite());
//! assert!(teacher.predict(&image) < 10);
//! ```
//!
//! A layer that doesn't fit its neighbour is a compile error:
//!
//! ```compile_fail
//! use mimic::{CrossEntropy, Dense, Network};
//! let bad: Network<(Dense<784, 16>, Dense<10, 10>), _> = Network::seeded(0, CrossEntropy, 0.1);
//! ```

pub mod activation;
pub mod data;
pub mod distillation;
pub mod experiment;
pub mod init;
pub mod kernels;
pub mod layer;
pub mod loss;
pub mod models;
pub mod module;
pub mod network;
pub mod optimizer;
pub mod persist;
pub mod sparse;
pub mod study;
pub mod training;

pub use activation::{Activation, Identity, LeakyReLU, ReLU, Sigmoid};
pub use distillation::{Distillation, SoftTarget};
pub use init::{Initialize, Initializer};
pub use layer::Dense;
pub use loss::{CrossEntropy, Loss, LossError, Mse, log_sum_exp, softmax};
pub use module::{Module, Parameters, SparseTrain, Train, Update};
pub use network::{Network, StepError};
pub use sparse::{Scaling, SparseImages, SparseVector};
