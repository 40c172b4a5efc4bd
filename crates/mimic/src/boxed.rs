//! A boxed network is a network: `Box<L>` does everything `L` does, so layers too
//! large for the stack live on the heap behind the same API.
//!
//! ```
//! use mimic::{CrossEntropy, Dense, Network};
//!
//! // 784→1024→1024→10 holds 7.4 MB of parameters: far more than a thread's stack.
//! type Big = (Dense<784, 1024>, Dense<1024, 1024>, Dense<1024, 10>);
//! let mut net: Network<Box<Big>, CrossEntropy> = Network::seeded(7, CrossEntropy);
//! net.train_step(&[0.5; 784], &3, 0.01)?;
//! # Ok::<(), mimic::StepError>(())
//! ```
//!
//! Building goes through [`Initialize::initialize_in_place`], so the parameters are
//! drawn straight into the heap allocation; training allocates its gradient
//! buffers the same way. What stays on the stack is one sample's activations.

use core::mem::MaybeUninit;

use rand::Rng;

use crate::init::{Initialize, Initializer, boxed};
use crate::module::{Module, Parameters, SparseTrain, Train, Zipped};
use crate::sparse::SparseVector;

impl<L: Module> Module for Box<L> {
    type Input = L::Input;
    type Output = L::Output;

    #[inline(always)]
    fn forward(&self, input: &Self::Input) -> Self::Output {
        (**self).forward(input)
    }
}

impl<L: Parameters> Parameters for Box<L> {
    fn visit(&self, f: &mut dyn FnMut(&[f32])) {
        (**self).visit(f)
    }

    fn visit_mut(&mut self, f: &mut dyn FnMut(&mut [f32])) {
        (**self).visit_mut(f)
    }

    #[inline(always)]
    fn zip_mut(
        &mut self,
        a: &mut Self,
        b: &mut Self,
        c: &mut Self,
        f: &mut impl FnMut(Zipped<'_>),
    ) {
        (**self).zip_mut(a, b, c, f)
    }
}

impl<L: Train> Train for Box<L> {
    type Trace = L::Trace;

    #[inline(always)]
    fn forward_trace(&self, input: &Self::Input) -> Self::Trace {
        (**self).forward_trace(input)
    }

    #[inline(always)]
    fn traced_output(trace: &Self::Trace) -> &Self::Output {
        L::traced_output(trace)
    }

    #[inline(always)]
    fn forward_trace_group<const S: usize>(&self, inputs: [&Self::Input; S]) -> [Self::Trace; S] {
        (**self).forward_trace_group(inputs)
    }

    #[inline(always)]
    fn backward(
        &mut self,
        input: &Self::Input,
        trace: &Self::Trace,
        grad_output: &Self::Output,
        learning_rate: f32,
    ) -> Self::Input {
        (**self).backward(input, trace, grad_output, learning_rate)
    }

    #[inline(always)]
    fn backward_without_input_gradient(
        &mut self,
        input: &Self::Input,
        trace: &Self::Trace,
        grad_output: &Self::Output,
        learning_rate: f32,
    ) {
        (**self).backward_without_input_gradient(input, trace, grad_output, learning_rate)
    }

    #[inline(always)]
    fn gradient(
        &self,
        input: &Self::Input,
        trace: &Self::Trace,
        grad_output: &Self::Output,
        gradients: &mut Self,
    ) -> Self::Input {
        (**self).gradient(input, trace, grad_output, gradients)
    }

    #[inline(always)]
    fn gradient_without_input_gradient(
        &self,
        input: &Self::Input,
        trace: &Self::Trace,
        grad_output: &Self::Output,
        gradients: &mut Self,
    ) {
        (**self).gradient_without_input_gradient(input, trace, grad_output, gradients)
    }

    #[inline(always)]
    fn gradient_group<const S: usize>(
        &self,
        inputs: [&Self::Input; S],
        traces: [&Self::Trace; S],
        grad_outputs: [&Self::Output; S],
        gradients: &mut Self,
    ) -> [Self::Input; S] {
        (**self).gradient_group(inputs, traces, grad_outputs, gradients)
    }

    #[inline(always)]
    fn gradient_group_without_input_gradient<const S: usize>(
        &self,
        inputs: [&Self::Input; S],
        traces: [&Self::Trace; S],
        grad_outputs: [&Self::Output; S],
        gradients: &mut Self,
    ) {
        (**self).gradient_group_without_input_gradient(inputs, traces, grad_outputs, gradients)
    }
}

impl<const N: usize, L: SparseTrain<N>> SparseTrain<N> for Box<L> {
    #[inline(always)]
    fn forward_sparse(&self, input: SparseVector<'_, N>) -> Self::Output {
        (**self).forward_sparse(input)
    }

    #[inline(always)]
    fn forward_trace_sparse(&self, input: SparseVector<'_, N>) -> Self::Trace {
        (**self).forward_trace_sparse(input)
    }

    #[inline(always)]
    fn backward_sparse(
        &mut self,
        input: SparseVector<'_, N>,
        trace: &Self::Trace,
        grad_output: &Self::Output,
        learning_rate: f32,
    ) {
        (**self).backward_sparse(input, trace, grad_output, learning_rate)
    }

    #[inline(always)]
    fn gradient_sparse(
        &self,
        input: SparseVector<'_, N>,
        trace: &Self::Trace,
        grad_output: &Self::Output,
        gradients: &mut Self,
    ) {
        (**self).gradient_sparse(input, trace, grad_output, gradients)
    }

    #[inline(always)]
    fn gradient_group_sparse<const S: usize>(
        &self,
        inputs: [SparseVector<'_, N>; S],
        traces: [&Self::Trace; S],
        grad_outputs: [&Self::Output; S],
        gradients: &mut Self,
    ) {
        (**self).gradient_group_sparse(inputs, traces, grad_outputs, gradients)
    }
}

impl<L: Initialize> Initialize for Box<L> {
    /// Allocates `L` on the heap and initialises it there.
    fn initialize_in_place<'s, R: Rng + ?Sized>(
        slot: &'s mut MaybeUninit<Self>,
        init: Initializer,
        rng: &mut R,
    ) -> &'s mut Self {
        slot.write(boxed(init, rng))
    }
}

#[cfg(feature = "persist")]
impl<L: crate::persist::Layers> crate::persist::Layers for Box<L> {
    const COUNT: usize = L::COUNT;
    const PARAMETERS: usize = L::PARAMETERS;

    fn export(&self, out: &mut Vec<crate::persist::LayerTensors>) {
        (**self).export(out)
    }

    fn import(
        &mut self,
        first: usize,
        read: &mut crate::persist::ReadLayer<'_>,
    ) -> Result<(), crate::persist::PersistError> {
        (**self).import(first, read)
    }
}
