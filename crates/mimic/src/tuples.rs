//! Tuples of layers are layers: every trait a [`Dense`](crate::Dense) implements,
//! implemented once, by one macro, for tuples of 2 to 12 layers.
//!
//! `chain!` turns a list of `(Type index)` pairs into the impls for that arity; the
//! `tuples!` line at the bottom calls it for every prefix of length ≥ 2 of the
//! twelve. Each layer after the first must take what the one before it returns —
//! `T: Module<Input = <Previous as Module>::Output>` — which is what makes a
//! mismatched chain a type error naming both sizes. Longer networks nest tuples:
//! a tuple of tuples is a chain of chains, with no limit but the compiler's.

#[cfg(feature = "std")]
use core::mem::MaybeUninit;

#[cfg(feature = "std")]
use rand::Rng;

#[cfg(feature = "std")]
use crate::init::{Initialize, Initializer};
use crate::module::{Module, Parameters, SparseTrain, Train, Update, Zipped};
use crate::sparse::SparseVector;

/// Prepares the lists `chain!(@emit …)` needs from `(Type index)` pairs: each
/// layer after the first paired with the one before it, the same pairs last
/// first (for the backward pass), and the last layer.
macro_rules! chain {
    (($A:ident $ai:tt) $(($T:ident $i:tt))+) => {
        chain!(@pair [($A $ai)] [] [] ($A $ai) $(($T $i))+);
    };
    (@pair $first:tt [$($pairs:tt)*] [$($reversed:tt)*] ($P:ident $pi:tt) ($T:ident $i:tt) $($rest:tt)*) => {
        chain!(@pair $first [$($pairs)* ($T $i after $P $pi)] [($T $i after $P $pi) $($reversed)*] ($T $i) $($rest)*);
    };
    (@pair [($A:ident $ai:tt)] [$(($T:ident $i:tt after $P:ident $pi:tt))+] [$(($BT:ident $bi:tt after $BP:ident $bpi:tt))+] ($L:ident $li:tt)) => {
        impl<$A: Module, $($T: Module<Input = <$P as Module>::Output>),+> Module for ($A, $($T),+) {
            type Input = <$A as Module>::Input;
            type Output = <$L as Module>::Output;

            #[inline(always)]
            fn forward(&self, input: &Self::Input) -> Self::Output {
                let y = self.$ai.forward(input);
                $(let y = self.$i.forward(&y);)+
                y
            }
        }

        impl<$A: Parameters, $($T: Parameters),+> Parameters for ($A, $($T),+) {
            fn visit(&self, f: &mut dyn FnMut(&[f32])) {
                self.$ai.visit(f);
                $(self.$i.visit(f);)+
            }

            fn visit_mut(&mut self, f: &mut dyn FnMut(&mut [f32])) {
                self.$ai.visit_mut(f);
                $(self.$i.visit_mut(f);)+
            }


            #[inline(always)]
            fn zip_mut(&mut self, a: &mut Self, b: &mut Self, c: &mut Self, f: &mut impl FnMut(Zipped<'_>)) {
                self.$ai.zip_mut(&mut a.$ai, &mut b.$ai, &mut c.$ai, f);
                $(self.$i.zip_mut(&mut a.$i, &mut b.$i, &mut c.$i, f);)+
            }
        }

        #[cfg(feature = "std")]
        impl<$A: Initialize, $($T: Initialize),+> Initialize for ($A, $($T),+) {
            /// Initialises the layers first to last, each in its place in the tuple.
            fn initialize_in_place<'s, R: Rng + ?Sized>(
                slot: &'s mut MaybeUninit<Self>,
                init: Initializer,
                rng: &mut R,
            ) -> &'s mut Self {
                let tuple = slot.as_mut_ptr();
                // SAFETY: `tuple` points to memory valid for a `Self`; `&raw mut`
                // names a field's place without reading it or making a reference
                // to uninitialised data, and a `MaybeUninit<X>` has `X`'s layout.
                unsafe { in_place::<$A, R>(&raw mut (*tuple).$ai, init, rng) };
                // SAFETY: as above, for each later field.
                $(unsafe { in_place::<$T, R>(&raw mut (*tuple).$i, init, rng) };)+
                // SAFETY: every field was initialised just above (`in_place`
                // checks that each layer initialised its own slot).
                unsafe { slot.assume_init_mut() }
            }
        }

        impl<$A: Train, $($T: Train<Input = <$P as Module>::Output>),+> Train for ($A, $($T),+) {
            type Trace = (<$A as Train>::Trace, $(<$T as Train>::Trace),+);

            #[inline(always)]
            #[allow(non_snake_case)] // each layer's trace is named after its type
            fn forward_trace(&self, input: &Self::Input) -> Self::Trace {
                let $A = self.$ai.forward_trace(input);
                $(let $T = self.$i.forward_trace(<$P as Train>::traced_output(&$P));)+
                ($A, $($T),+)
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
                chain!(@upper self, trace, update, g = grad_output; $(($BT $bi after $BP $bpi))+);
                self.$ai.backward(input, &trace.$ai, g, update.project(|p| &mut p.$ai))
            }

            #[inline(always)]
            fn backward_without_input_gradient(
                &mut self,
                input: &Self::Input,
                trace: &Self::Trace,
                grad_output: &Self::Output,
                mut update: Update<'_, Self>,
            ) {
                chain!(@upper self, trace, update, g = grad_output; $(($BT $bi after $BP $bpi))+);
                self.$ai.backward_without_input_gradient(input, &trace.$ai, g, update.project(|p| &mut p.$ai))
            }
        }

        impl<const N: usize, $A: SparseTrain<N>, $($T: Train<Input = <$P as Module>::Output>),+> SparseTrain<N>
            for ($A, $($T),+)
        {
            #[inline(always)]
            fn forward_sparse(&self, input: SparseVector<'_, N>) -> Self::Output {
                let y = self.$ai.forward_sparse(input);
                $(let y = self.$i.forward(&y);)+
                y
            }

            #[inline(always)]
            #[allow(non_snake_case)] // each layer's trace is named after its type
            fn forward_trace_sparse(&self, input: SparseVector<'_, N>) -> Self::Trace {
                let $A = self.$ai.forward_trace_sparse(input);
                $(let $T = self.$i.forward_trace(<$P as Train>::traced_output(&$P));)+
                ($A, $($T),+)
            }

            #[inline(always)]
            fn backward_sparse(
                &mut self,
                input: SparseVector<'_, N>,
                trace: &Self::Trace,
                grad_output: &Self::Output,
                mut update: Update<'_, Self>,
            ) {
                chain!(@upper self, trace, update, g = grad_output; $(($BT $bi after $BP $bpi))+);
                self.$ai.backward_sparse(input, &trace.$ai, g, update.project(|p| &mut p.$ai))
            }
        }

        #[cfg(feature = "persist")]
        impl<$A: crate::persist::Layers, $($T: crate::persist::Layers),+> crate::persist::Layers for ($A, $($T),+) {
            const COUNT: usize = $A::COUNT $(+ $T::COUNT)+;

            fn export(&self, out: &mut Vec<crate::persist::LayerTensors>) {
                self.$ai.export(out);
                $(self.$i.export(out);)+
            }

            fn import(
                &mut self,
                first: usize,
                read: &mut crate::persist::ReadLayer<'_>,
            ) -> Result<(), crate::persist::PersistError> {
                // Layer numbers continue across the tuple: each element starts
                // where the ones before it ended.
                let mut next = first;
                self.$ai.import(next, read)?;
                next += $A::COUNT;
                $(
                    self.$i.import(next, read)?;
                    next += $T::COUNT;
                )+
                let _ = next;
                Ok(())
            }
        }
    };
    // Backpropagates through every layer after the first, last to first, leaving
    // in `$g` the gradient at the first layer's output (shared by the three
    // backward passes above).
    (@upper $this:tt, $trace:ident, $update:ident, $g:ident = $grad:expr; $(($BT:ident $bi:tt after $BP:ident $bpi:tt))+) => {
        let $g = $grad;
        $(
            let $g = &$this.$bi.backward(
                <$BP as Train>::traced_output(&$trace.$bpi),
                &$trace.$bi,
                $g,
                $update.project(|p| &mut p.$bi),
            );
        )+
    };
}

/// Calls `chain!` for every prefix of at least two of the given layers.
macro_rules! tuples {
    (@each [$($done:tt)+]) => {
        chain!($($done)+);
    };
    (@each [$($done:tt)+] $next:tt $($rest:tt)*) => {
        chain!($($done)+);
        tuples!(@each [$($done)+ $next] $($rest)*);
    };
    ($first:tt $second:tt $($rest:tt)*) => {
        tuples!(@each [$first $second] $($rest)*);
    };
}

tuples!((A 0) (B 1) (C 2) (D 3) (E 4) (F 5) (G 6) (H 7) (I 8) (J 9) (K 10) (L 11));

#[cfg(feature = "std")]
/// Initialises the layer at `field` in place.
///
/// # Safety
/// `field` must be valid for writes of an `X` and properly aligned (a field of a
/// tuple being initialised).
#[inline]
unsafe fn in_place<X: Initialize, R: Rng + ?Sized>(field: *mut X, init: Initializer, rng: &mut R) {
    // SAFETY: the caller guarantees `field` is valid and aligned for an `X`, and
    // `MaybeUninit<X>` has the same layout as `X` and may hold anything.
    let slot = unsafe { &mut *field.cast::<MaybeUninit<X>>() };
    crate::init::initialize_slot(slot, init, rng);
}
