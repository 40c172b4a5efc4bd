//! What a layer, or a chain of layers, can do: the traits every network is built on.
//!
//! A network is a tuple of layers, as in dfdx: `(Dense<784, 16>, Dense<16, 16>,
//! Dense<16, 10>)`. Each layer names its input and output types; a tuple is a
//! [`Module`] only if every layer's `Input` is exactly the previous layer's
//! `Output`, so a 16-output layer chained into a 10-input layer is a type error
//! that names both `[f32; 16]` and `[f32; 10]`. The tuple impls, for 2 to 12
//! layers, are in `tuples.rs`; longer chains nest tuples.

use crate::sparse::SparseVector;

/// Something with a forward pass from a fixed input type to a fixed output type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a chain of layers whose shapes fit",
    label = "not a `Module`",
    note = "a network is a layer such as `Dense<IN, OUT>` or `Conv2d<…>`, or a tuple of 2 to 12 of them whose shapes chain (each layer's input is the previous layer's output)",
    note = "for more than 12 layers, nest tuples: `((A, B, C), (D, E, F), …)` is a chain of chains"
)]
pub trait Module {
    /// What the module takes, e.g. `[f32; 784]`.
    type Input;
    /// What the module returns, e.g. `[f32; 10]`.
    type Output;

    /// Inference: the output for one input.
    fn forward(&self, input: &Self::Input) -> Self::Output;
}

/// One parameter slice beside the same slice of three same-shaped buffers (see
/// [`Parameters::zip_mut`]); all four have the same length.
pub type Zipped<'a> = (&'a mut [f32], &'a mut [f32], &'a mut [f32], &'a mut [f32]);

/// Access to every parameter, as flat slices in a fixed order (weights then bias,
/// first layer to last). Used by optimizers, finiteness checks and persistence.
pub trait Parameters {
    /// Calls `f` on each parameter slice.
    fn visit(&self, f: &mut dyn FnMut(&[f32]));
    /// Calls `f` on each parameter slice, mutably.
    fn visit_mut(&mut self, f: &mut dyn FnMut(&mut [f32]));
    /// Calls `f` on each parameter slice of `self` beside the same slice of three
    /// same-shaped buffers — a gradient and an optimizer's two state buffers — so
    /// that an update reads and writes all four in one pass.
    fn zip_mut(&mut self, a: &mut Self, b: &mut Self, c: &mut Self, f: &mut impl FnMut(Zipped<'_>));

    /// Whether every parameter is finite (no NaN, no infinity).
    fn all_finite(&self) -> bool {
        let mut finite = true;
        self.visit(&mut |p| finite &= p.iter().all(|v| v.is_finite()));
        finite
    }

    /// How many scalars the parameters hold.
    fn parameter_count(&self) -> usize {
        let mut count = 0;
        self.visit(&mut |p| count += p.len());
        count
    }
}

/// A module that can be trained by backpropagation. (Threads share a network
/// and each fills a gradient of the network's type, hence `Send + Sync`.)
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be trained as a chain of layers",
    label = "not trainable",
    note = "a trainable network is a layer such as `Dense<IN, OUT>` or `Conv2d<…>`, or a tuple of 2 to 12 of them whose shapes chain",
    note = "for more than 12 layers, nest tuples: `((A, B, C), (D, E, F), …)` is a chain of chains"
)]
pub trait Train: Module + Parameters + Sized + Send + Sync {
    /// What the forward pass keeps for the backward pass (each layer's output).
    type Trace;

    /// The forward pass, keeping what backward needs.
    fn forward_trace(&self, input: &Self::Input) -> Self::Trace;

    /// The module's output inside its trace.
    fn traced_output(trace: &Self::Trace) -> &Self::Output;

    /// [`Train::forward_trace`] for a group of `S` inputs at once: the same
    /// bits as each one alone, which is what this default does. A layer with
    /// a faster way overrides it (`Conv2d` computes the group side by side in
    /// the vector lanes); a tuple passes the group from layer to layer.
    #[inline(always)]
    fn forward_trace_group<const S: usize>(&self, inputs: [&Self::Input; S]) -> [Self::Trace; S] {
        inputs.map(|input| self.forward_trace(input))
    }

    /// Per-sample SGD: backpropagates `grad_output` (∂loss/∂output), moves every
    /// parameter by `−learning_rate ·` its gradient as soon as that is known,
    /// and returns ∂loss/∂input (computed before the layer's own update).
    fn backward(
        &mut self,
        input: &Self::Input,
        trace: &Self::Trace,
        grad_output: &Self::Output,
        learning_rate: f32,
    ) -> Self::Input;

    /// As [`Train::backward`], for a first layer: nobody needs ∂loss/∂input, so
    /// it is never computed.
    fn backward_without_input_gradient(
        &mut self,
        input: &Self::Input,
        trace: &Self::Trace,
        grad_output: &Self::Output,
        learning_rate: f32,
    );

    /// Backpropagates `grad_output`, adds every parameter's gradient into the
    /// same-shaped `gradients` (mini-batches sum them) and returns ∂loss/∂input.
    /// The layer itself is only read, so several threads can each accumulate
    /// their own samples' gradients from one network.
    fn gradient(
        &self,
        input: &Self::Input,
        trace: &Self::Trace,
        grad_output: &Self::Output,
        gradients: &mut Self,
    ) -> Self::Input;

    /// As [`Train::gradient`], for a first layer: ∂loss/∂input is never computed.
    fn gradient_without_input_gradient(
        &self,
        input: &Self::Input,
        trace: &Self::Trace,
        grad_output: &Self::Output,
        gradients: &mut Self,
    );

    /// [`Train::gradient`] for a group of `S` samples at once, returning each
    /// one's ∂loss/∂input: the same bits as calling it for sample 0, 1, … in
    /// turn (every parameter's gradient still adds the samples in that order),
    /// which is what this default does. A layer with a faster way overrides it:
    /// `Dense` reads each weight row once for the group instead of once per
    /// sample. Mini-batches call it; a tuple passes the group down layer by layer.
    #[inline(always)]
    fn gradient_group<const S: usize>(
        &self,
        inputs: [&Self::Input; S],
        traces: [&Self::Trace; S],
        grad_outputs: [&Self::Output; S],
        gradients: &mut Self,
    ) -> [Self::Input; S] {
        core::array::from_fn(|s| self.gradient(inputs[s], traces[s], grad_outputs[s], gradients))
    }

    /// [`Train::gradient_group`] for a first layer: ∂loss/∂input is never computed.
    #[inline(always)]
    fn gradient_group_without_input_gradient<const S: usize>(
        &self,
        inputs: [&Self::Input; S],
        traces: [&Self::Trace; S],
        grad_outputs: [&Self::Output; S],
        gradients: &mut Self,
    ) {
        for s in 0..S {
            self.gradient_without_input_gradient(inputs[s], traces[s], grad_outputs[s], gradients);
        }
    }
}

/// A trainable module whose first layer can take a sparse input (only the nonzero
/// entries of a length-`N` vector), skipping the work zeros would cost. Results
/// are bit-identical to the dense methods of [`Module`] and [`Train`].
pub trait SparseTrain<const N: usize>: Train<Input = [f32; N]> {
    /// [`Module::forward`] from a sparse input.
    fn forward_sparse(&self, input: SparseVector<'_, N>) -> Self::Output;

    /// [`Train::forward_trace`] from a sparse input.
    fn forward_trace_sparse(&self, input: SparseVector<'_, N>) -> Self::Trace;

    /// [`Train::backward_without_input_gradient`] from a sparse input.
    fn backward_sparse(
        &mut self,
        input: SparseVector<'_, N>,
        trace: &Self::Trace,
        grad_output: &Self::Output,
        learning_rate: f32,
    );

    /// [`Train::gradient_without_input_gradient`] from a sparse input.
    fn gradient_sparse(
        &self,
        input: SparseVector<'_, N>,
        trace: &Self::Trace,
        grad_output: &Self::Output,
        gradients: &mut Self,
    );

    /// [`Train::gradient_group_without_input_gradient`] from sparse inputs (by
    /// default, [`SparseTrain::gradient_sparse`] for each sample in turn).
    #[inline(always)]
    fn gradient_group_sparse<const S: usize>(
        &self,
        inputs: [SparseVector<'_, N>; S],
        traces: [&Self::Trace; S],
        grad_outputs: [&Self::Output; S],
        gradients: &mut Self,
    ) {
        for s in 0..S {
            self.gradient_sparse(inputs[s], traces[s], grad_outputs[s], gradients);
        }
    }
}
