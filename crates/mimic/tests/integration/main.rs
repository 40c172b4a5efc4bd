//! mimic's integration tests: shapes that must not compile, determinism, gradients against f64 finite differences, large networks, optimizers, persistence, user data.
//! (One test binary per crate, not one per file: each binary links the crate and
//! monomorphises its networks again, which is most of a fresh build's time.)

mod cnn;
mod compile_fail;
mod conv_gradients;
mod determinism;
mod distillation_gradients;
mod export_compiles;
mod gradients;
mod groups;
mod optimizers;
mod persist;
mod persist_settings;
mod settings;
mod threads;
mod user_data;
