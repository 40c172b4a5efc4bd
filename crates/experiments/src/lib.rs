//! The MNIST student–teacher experiment and the distillation study, built on
//! `mimic` and `mimic-mnist`: what the examples in `examples/` run.
//!
//! - [`experiment`]: the seed's steps (teacher, its outputs, students, benchmark)
//!   and their report.
//! - [`study`]: the distillation study, its statistics, report and plots.
//! - [`cli`]: what every example's command line shares: MNIST's location, loading,
//!   writing outputs, reporting errors.
//! - [`models`]: the seed's networks, one type each.
#![deny(missing_docs)]

pub mod cli;
pub mod experiment;
pub mod json;
pub mod models;
pub mod study;

/// The README's code, compiled as doctests so that it cannot drift from the API:
/// blocks that need MNIST (`no_run`) are compiled, the rest also run.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
