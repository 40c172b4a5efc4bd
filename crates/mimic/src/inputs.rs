//! What a network can be trained and evaluated on: one input ([`Input`]) and a
//! collection of them ([`Inputs`]).
//!
//! A dense array `&[f32; N]` and a [`SparseVector`] are both inputs of any network
//! whose first layer takes `N` numbers, with bit-identical results; the sparse one
//! skips the zeros. Collections are slices (or `Vec`s) of dense rows and
//! [`SparseRows`]; every training and evaluation loop is written once over them.

use crate::module::{SparseTrain, Train};
#[cfg(feature = "std")]
use crate::sparse::SparseRows;
use crate::sparse::{Entries, SparseVector};

/// One input that a network of layers `L` can take.
pub trait Input<L: Train>: Copy {
    /// `L`'s output.
    fn forward(self, layers: &L) -> L::Output;
    /// `L`'s forward pass, keeping what backward needs.
    fn forward_trace(self, layers: &L) -> L::Trace;
    /// [`Input::forward_trace`] for a group of inputs at once
    /// ([`Train::forward_trace_group`]): the same bits as one after another.
    #[inline(always)]
    fn forward_trace_group<const S: usize>(inputs: [Self; S], layers: &L) -> [L::Trace; S] {
        inputs.map(|input| input.forward_trace(layers))
    }
    /// `L`'s per-sample SGD backward pass from `grad_output` ([`Train::backward`]).
    fn backward(
        self,
        layers: &mut L,
        trace: &L::Trace,
        grad_output: &L::Output,
        learning_rate: f32,
    );
    /// Adds `L`'s parameter gradient from `grad_output` into `gradients`
    /// ([`Train::gradient`]).
    fn gradient(self, layers: &L, trace: &L::Trace, grad_output: &L::Output, gradients: &mut L);
    /// [`Input::gradient`] for a group of inputs at once ([`Train::gradient_group`]):
    /// the same bits as one after another.
    fn gradient_group<const S: usize>(
        inputs: [Self; S],
        layers: &L,
        traces: [&L::Trace; S],
        grad_outputs: [&L::Output; S],
        gradients: &mut L,
    );

    /// Whether every number of the input is finite (no NaN, no infinity).
    fn finite(self) -> bool;

    /// Asks the CPU to start loading this input's data (a hint: the next sample
    /// of a shuffled epoch is far from the current one in memory).
    #[inline(always)]
    fn prefetch(self) {}

    /// Asks the CPU for the first cache line of each part of this input's data
    /// only: finds its pages (the address translation) ahead of [`Input::prefetch`].
    #[inline(always)]
    fn prefetch_start(self) {}
}

/// The numbers a dense input is made of: `f32`, and arrays of them to any
/// depth (`[f32; N]`, an [`Image`](crate::Image)). Sealed: these are all.
pub trait Values: sealed::Sealed {
    /// Every number, in memory order.
    fn values(&self) -> &[f32];

    /// Whether every number is finite (no NaN, no infinity).
    #[inline(always)]
    fn all_finite(&self) -> bool {
        finite(self.values())
    }
}

mod sealed {
    /// Only `f32` and arrays of `Sealed`: contiguous `f32`s, no padding.
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl<T: Sealed, const N: usize> Sealed for [T; N] {}
}

impl Values for f32 {
    #[inline(always)]
    fn values(&self) -> &[f32] {
        core::slice::from_ref(self)
    }
}

impl<T: Values, const N: usize> Values for [T; N] {
    #[inline(always)]
    fn values(&self) -> &[f32] {
        let len = core::mem::size_of::<Self>() / core::mem::size_of::<f32>();
        // SAFETY: `Values` is sealed: `T` is `f32` or an array of them to any
        // depth, so `Self` is `len` contiguous, initialised `f32`s with no
        // padding, borrowed for as long as `self`.
        unsafe { core::slice::from_raw_parts(self.as_ptr().cast::<f32>(), len) }
    }
}

/// Whether every value is finite: the largest exponent field is not all ones.
/// One pass of integer maxima with no early exit, so that it vectorises.
#[inline(always)]
pub(crate) fn finite(values: &[f32]) -> bool {
    const EXPONENT: u32 = 0x7f80_0000;
    values
        .iter()
        .fold(0, |m: u32, v| m.max(v.to_bits() & EXPONENT))
        < EXPONENT
}

/// A dense input: exactly what the first layer takes (`[f32; N]`, an
/// [`Image`](crate::Image), …).
impl<X: Values, L: Train<Input = X>> Input<L> for &X {
    #[inline(always)]
    fn forward(self, layers: &L) -> L::Output {
        layers.forward(self)
    }

    #[inline(always)]
    fn forward_trace(self, layers: &L) -> L::Trace {
        layers.forward_trace(self)
    }

    #[inline(always)]
    fn forward_trace_group<const S: usize>(inputs: [Self; S], layers: &L) -> [L::Trace; S] {
        layers.forward_trace_group(inputs)
    }

    #[inline(always)]
    fn backward(
        self,
        layers: &mut L,
        trace: &L::Trace,
        grad_output: &L::Output,
        learning_rate: f32,
    ) {
        layers.backward_without_input_gradient(self, trace, grad_output, learning_rate)
    }

    #[inline(always)]
    fn gradient(self, layers: &L, trace: &L::Trace, grad_output: &L::Output, gradients: &mut L) {
        layers.gradient_without_input_gradient(self, trace, grad_output, gradients)
    }

    #[inline(always)]
    fn gradient_group<const S: usize>(
        inputs: [Self; S],
        layers: &L,
        traces: [&L::Trace; S],
        grad_outputs: [&L::Output; S],
        gradients: &mut L,
    ) {
        layers.gradient_group_without_input_gradient(inputs, traces, grad_outputs, gradients)
    }

    #[inline(always)]
    fn finite(self) -> bool {
        self.all_finite()
    }

    #[inline(always)]
    fn prefetch(self) {
        crate::kernels::prefetch(core::slice::from_ref(self));
    }
}

impl<const N: usize, L: SparseTrain<N>> Input<L> for SparseVector<'_, N> {
    #[inline(always)]
    fn forward(self, layers: &L) -> L::Output {
        layers.forward_sparse(self)
    }

    #[inline(always)]
    fn forward_trace(self, layers: &L) -> L::Trace {
        layers.forward_trace_sparse(self)
    }

    #[inline(always)]
    fn backward(
        self,
        layers: &mut L,
        trace: &L::Trace,
        grad_output: &L::Output,
        learning_rate: f32,
    ) {
        layers.backward_sparse(self, trace, grad_output, learning_rate)
    }

    #[inline(always)]
    fn gradient(self, layers: &L, trace: &L::Trace, grad_output: &L::Output, gradients: &mut L) {
        layers.gradient_sparse(self, trace, grad_output, gradients)
    }

    #[inline(always)]
    fn gradient_group<const S: usize>(
        inputs: [Self; S],
        layers: &L,
        traces: [&L::Trace; S],
        grad_outputs: [&L::Output; S],
        gradients: &mut L,
    ) {
        layers.gradient_group_sparse(inputs, traces, grad_outputs, gradients)
    }

    #[inline(always)]
    fn finite(self) -> bool {
        match self.entries() {
            Entries::Wide { values, .. } => finite(values),
            // The table's 256 values, at once; if one is not finite, the
            // entries that use a code.
            Entries::Coded {
                entries,
                table,
                table_finite,
            } => {
                table_finite
                    || entries
                        .iter()
                        .all(|e| table[usize::from(e.code())].is_finite())
            }
        }
    }

    #[inline(always)]
    fn prefetch(self) {
        match self.entries() {
            Entries::Wide { indices, values } => {
                crate::kernels::prefetch(indices);
                crate::kernels::prefetch(values);
            }
            Entries::Coded { entries, .. } => crate::kernels::prefetch(entries),
        }
    }

    #[inline(always)]
    fn prefetch_start(self) {
        match self.entries() {
            Entries::Wide { indices, values } => {
                crate::kernels::prefetch(indices.get(..1).unwrap_or_default());
                crate::kernels::prefetch(values.get(..1).unwrap_or_default());
            }
            Entries::Coded { entries, .. } => {
                crate::kernels::prefetch(entries.get(..1).unwrap_or_default());
            }
        }
    }
}

/// Many inputs, indexed from 0: the rows of a data set.
pub trait Inputs: Sync {
    /// One row, as the network takes it.
    type Row<'a>: Copy
    where
        Self: 'a;

    /// How many rows.
    fn len(&self) -> usize;

    /// Row `k`, if it exists.
    fn row(&self, k: usize) -> Option<Self::Row<'_>>;

    /// Asks the CPU to start loading what finding row `k` reads (a hint, for a
    /// row needed a few samples from now; nothing by default).
    #[inline(always)]
    fn prefetch_index(&self, _k: usize) {}

    /// Whether there are no rows.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Rows of any dense input type: `[f32; N]`, [`Image`](crate::Image)s, …
impl<X: Sync> Inputs for [X] {
    type Row<'a>
        = &'a X
    where
        X: 'a;

    #[inline(always)]
    fn len(&self) -> usize {
        <[X]>::len(self)
    }

    #[inline(always)]
    fn row(&self, k: usize) -> Option<&X> {
        self.get(k)
    }
}

impl<X: Sync, const M: usize> Inputs for [X; M] {
    type Row<'a>
        = &'a X
    where
        X: 'a;

    #[inline(always)]
    fn len(&self) -> usize {
        M
    }

    #[inline(always)]
    fn row(&self, k: usize) -> Option<&X> {
        self.get(k)
    }
}

#[cfg(feature = "std")]
impl<X: Sync> Inputs for Vec<X> {
    type Row<'a>
        = &'a X
    where
        X: 'a;

    #[inline(always)]
    fn len(&self) -> usize {
        self.as_slice().len()
    }

    #[inline(always)]
    fn row(&self, k: usize) -> Option<&X> {
        self.get(k)
    }
}

/// A collection of inputs that a network of layers `L` can take row by row: any
/// [`Inputs`] whose rows are [`Input`]s of `L` (dense rows of `L`'s input
/// length, or [`SparseRows`](crate::SparseRows) of it). Implemented for every
/// such collection; it names that bound once for every method that takes data.
pub trait InputsOf<L: Train>: Inputs {
    /// Row `k` as an input of `L`, if it exists.
    fn input(&self, k: usize) -> Option<impl Input<L> + '_>;
}

impl<L: Train, X: Inputs + ?Sized> InputsOf<L> for X
where
    for<'a> X::Row<'a>: Input<L>,
{
    #[inline(always)]
    fn input(&self, k: usize) -> Option<impl Input<L> + '_> {
        self.row(k)
    }
}

#[cfg(feature = "std")]
impl<const N: usize> Inputs for SparseRows<N> {
    type Row<'a> = SparseVector<'a, N>;

    #[inline(always)]
    fn len(&self) -> usize {
        SparseRows::len(self)
    }

    #[inline(always)]
    fn row(&self, k: usize) -> Option<SparseVector<'_, N>> {
        self.get(k)
    }

    #[inline(always)]
    fn prefetch_index(&self, k: usize) {
        self.prefetch_offsets(k);
    }
}
