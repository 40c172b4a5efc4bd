//! Compile-time chaining of layers.
//!
//! A network is a tuple of layers, as in dfdx: `(Dense<784, 16>, Dense<16, 16>,
//! Dense<16, 10>)`. Each layer names its input and output types; a tuple is a
//! [`Module`] only if every layer's `Input` is exactly the previous layer's
//! `Output`, so a 16-output layer chained into a 10-input layer is a type error
//! that names both `[f32; 16]` and `[f32; 10]`.

use rand::Rng;

use crate::init::{Initialize, Initializer};
use crate::sparse::SparseVector;

/// Something with a forward pass from a fixed input type to a fixed output type.
pub trait Module {
    /// What the module takes, e.g. `[f32; 784]`.
    type Input;
    /// What the module returns, e.g. `[f32; 10]`.
    type Output;

    /// Inference: the output for one input.
    fn forward(&self, input: &Self::Input) -> Self::Output;
}

/// What the backward pass does with each layer's parameter gradient.
pub enum Update<'a, P> {
    /// Per-sample SGD, applied at once: `W -= lr · db · xᵀ`, `b -= lr · db`.
    Sgd {
        /// The step size.
        learning_rate: f32,
    },
    /// Add the gradient into a same-shaped accumulator (mini-batches, momentum).
    Accumulate(&'a mut P),
}

impl<P> Update<'_, P> {
    /// The same update for a part of `P` (one layer of a tuple).
    pub fn project<Q>(&mut self, part: impl FnOnce(&mut P) -> &mut Q) -> Update<'_, Q> {
        match self {
            Update::Sgd { learning_rate } => Update::Sgd {
                learning_rate: *learning_rate,
            },
            Update::Accumulate(gradients) => Update::Accumulate(part(gradients)),
        }
    }
}

/// Access to every parameter, as flat slices in a fixed order (weights then bias,
/// first layer to last). Used by optimizers, finiteness checks and persistence.
pub trait Parameters {
    /// Calls `f` on each parameter slice.
    fn visit(&self, f: &mut dyn FnMut(&[f32]));
    /// Calls `f` on each parameter slice, mutably.
    fn visit_mut(&mut self, f: &mut dyn FnMut(&mut [f32]));
    /// Calls `f` on each parameter slice of `self` beside the same slice of `other`.
    fn zip_mut(&mut self, other: &Self, f: &mut dyn FnMut(&mut [f32], &[f32]));

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

/// A module that can be trained by backpropagation.
pub trait Train: Module + Parameters + Sized {
    /// What the forward pass keeps for the backward pass (each layer's output).
    type Trace;

    /// The forward pass, keeping what backward needs.
    fn forward_trace(&self, input: &Self::Input) -> Self::Trace;

    /// The module's output inside its trace.
    fn traced_output(trace: &Self::Trace) -> &Self::Output;

    /// Backpropagates `grad_output` (∂loss/∂output), updates or accumulates the
    /// parameter gradients, and returns ∂loss/∂input (computed before any update).
    fn backward(
        &mut self,
        input: &Self::Input,
        trace: &Self::Trace,
        grad_output: &Self::Output,
        update: Update<'_, Self>,
    ) -> Self::Input;

    /// As [`Train::backward`], for a first layer: nobody needs ∂loss/∂input, so
    /// it is never computed.
    fn backward_without_input_gradient(
        &mut self,
        input: &Self::Input,
        trace: &Self::Trace,
        grad_output: &Self::Output,
        update: Update<'_, Self>,
    );
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
        update: Update<'_, Self>,
    );
}

/// Implements the traits for one tuple arity. `rest` lists every layer after the
/// first with its index, its trace's name and the layer before it; `backward`
/// lists the same, last layer first.
macro_rules! chain {
    (
        first: $A:ident $ta:ident;
        rest: $($T:ident $i:tt $t:ident after $P:ident $tp:ident),+;
        backward: $($BT:ident $bi:tt after $BP:ident $bp:tt),+;
        last: $L:ident $li:tt
    ) => {
        impl<$A: Module, $($T: Module<Input = <$P as Module>::Output>),+> Module for ($A, $($T),+) {
            type Input = <$A as Module>::Input;
            type Output = <$L as Module>::Output;

            #[inline(always)]
            fn forward(&self, input: &Self::Input) -> Self::Output {
                let y = self.0.forward(input);
                $(let y = self.$i.forward(&y);)+
                y
            }
        }

        impl<$A: Parameters, $($T: Parameters),+> Parameters for ($A, $($T),+) {
            fn visit(&self, f: &mut dyn FnMut(&[f32])) {
                self.0.visit(f);
                $(self.$i.visit(f);)+
            }

            fn visit_mut(&mut self, f: &mut dyn FnMut(&mut [f32])) {
                self.0.visit_mut(f);
                $(self.$i.visit_mut(f);)+
            }

            fn zip_mut(&mut self, other: &Self, f: &mut dyn FnMut(&mut [f32], &[f32])) {
                self.0.zip_mut(&other.0, f);
                $(self.$i.zip_mut(&other.$i, f);)+
            }
        }

        impl<$A: Initialize, $($T: Initialize),+> Initialize for ($A, $($T),+) {
            /// Initialises the layers first to last.
            fn initialize<R: Rng + ?Sized>(init: Initializer, rng: &mut R) -> Self {
                let first = $A::initialize(init, rng);
                (first, $($T::initialize(init, rng)),+)
            }
        }

        impl<$A: Train, $($T: Train<Input = <$P as Module>::Output>),+> Train for ($A, $($T),+) {
            type Trace = (<$A as Train>::Trace, $(<$T as Train>::Trace),+);

            #[inline(always)]
            fn forward_trace(&self, input: &Self::Input) -> Self::Trace {
                let $ta = self.0.forward_trace(input);
                $(let $t = self.$i.forward_trace(<$P as Train>::traced_output(&$tp));)+
                ($ta, $($t),+)
            }

            #[inline(always)]
            fn traced_output(trace: &Self::Trace) -> &Self::Output {
                <$L as Train>::traced_output(&trace.$li)
            }

            #[inline(always)]
            fn backward(
                &mut self,
                input: &Self::Input,
                trace: &Self::Trace,
                grad_output: &Self::Output,
                mut update: Update<'_, Self>,
            ) -> Self::Input {
                chain!(@upper self, trace, update, g = grad_output; $($BT $bi after $BP $bp),+);
                self.0.backward(input, &trace.0, g, update.project(|p| &mut p.0))
            }

            #[inline(always)]
            fn backward_without_input_gradient(
                &mut self,
                input: &Self::Input,
                trace: &Self::Trace,
                grad_output: &Self::Output,
                mut update: Update<'_, Self>,
            ) {
                chain!(@upper self, trace, update, g = grad_output; $($BT $bi after $BP $bp),+);
                self.0.backward_without_input_gradient(input, &trace.0, g, update.project(|p| &mut p.0))
            }
        }

        impl<const N: usize, $A: SparseTrain<N>, $($T: Train<Input = <$P as Module>::Output>),+> SparseTrain<N>
            for ($A, $($T),+)
        {
            #[inline(always)]
            fn forward_sparse(&self, input: SparseVector<'_, N>) -> Self::Output {
                let y = self.0.forward_sparse(input);
                $(let y = self.$i.forward(&y);)+
                y
            }

            #[inline(always)]
            fn forward_trace_sparse(&self, input: SparseVector<'_, N>) -> Self::Trace {
                let $ta = self.0.forward_trace_sparse(input);
                $(let $t = self.$i.forward_trace(<$P as Train>::traced_output(&$tp));)+
                ($ta, $($t),+)
            }

            #[inline(always)]
            fn backward_sparse(
                &mut self,
                input: SparseVector<'_, N>,
                trace: &Self::Trace,
                grad_output: &Self::Output,
                mut update: Update<'_, Self>,
            ) {
                chain!(@upper self, trace, update, g = grad_output; $($BT $bi after $BP $bp),+);
                self.0.backward_sparse(input, &trace.0, g, update.project(|p| &mut p.0))
            }
        }
    };
    // Backpropagates through every layer after the first, last to first, leaving
    // in `$g` the gradient at the first layer's output (shared by the three
    // backward passes above).
    (@upper $this:tt, $trace:ident, $update:ident, $g:ident = $grad:expr; $($BT:ident $bi:tt after $BP:ident $bp:tt),+) => {
        let $g = $grad;
        $(
            let $g = &$this.$bi.backward(
                <$BP as Train>::traced_output(&$trace.$bp),
                &$trace.$bi,
                $g,
                $update.project(|p| &mut p.$bi),
            );
        )+
    };
}

chain! {
    first: A ta;
    rest: B 1 tb after A ta;
    backward: B 1 after A 0;
    last: B 1
}
chain! {
    first: A ta;
    rest: B 1 tb after A ta, C 2 tc after B tb;
    backward: C 2 after B 1, B 1 after A 0;
    last: C 2
}
chain! {
    first: A ta;
    rest: B 1 tb after A ta, C 2 tc after B tb, D 3 td after C tc;
    backward: D 3 after C 2, C 2 after B 1, B 1 after A 0;
    last: D 3
}
chain! {
    first: A ta;
    rest: B 1 tb after A ta, C 2 tc after B tb, D 3 td after C tc, E 4 te after D td;
    backward: E 4 after D 3, D 3 after C 2, C 2 after B 1, B 1 after A 0;
    last: E 4
}
