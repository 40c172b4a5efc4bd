//! `mimic`: statically shaped neural networks and the MNIST student–teacher experiment.

pub mod data;
