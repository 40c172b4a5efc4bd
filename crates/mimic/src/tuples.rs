//! Tuples of layers are layers: every trait a [`Dense`](crate::Dense) implements
//! — forward, training, sparse inputs, initialisation, persistence, int8
//! quantisation and inference, export — implemented once, by one macro, for
//! tuples of 2 to 12 layers.
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
use crate::export::{CLayer, Export, ExportError};
#[cfg(feature = "std")]
use crate::init::{Initialize, Initializer};
use crate::module::{Module, Parameters, SparseTrain, Train, Zipped};
use crate::quantized::QuantizedModule;
#[cfg(feature = "std")]
use crate::quantized::{Calibrated, Quantize, QuantizeError, QuantizedInput};
use crate::sparse::SparseVector;

/// The next of an array's `S` values, taken `S` times by
/// [`Train::forward_trace_group`]'s `from_fn`.
#[inline(always)]
fn each<T, const S: usize>(values: &mut core::array::IntoIter<T, S>) -> T {
    match values.next() {
        Some(value) => value,
        None => unreachable!("an array of S values is taken S times"),
    }
}

/// Prepares the lists the impls need from `(Type index)` pairs: each layer
/// after the first paired with the one before it, the same pairs last first
/// (for the backward pass), every layer but the last (for int8 logits), and
/// the last layer.
macro_rules! chain {
    (($A:ident $ai:tt) $(($T:ident $i:tt))+) => {
        chain!(@pair [($A $ai)] [] [] [] ($A $ai) $(($T $i))+);
    };
    (@pair $first:tt [$($pairs:tt)*] [$($reversed:tt)*] [$($init:tt)*] ($P:ident $pi:tt) ($T:ident $i:tt) $($rest:tt)*) => {
        chain!(@pair $first [$($pairs)* ($T $i after $P $pi)] [($T $i after $P $pi) $($reversed)*] [$($init)* ($P $pi)] ($T $i) $($rest)*);
    };
    (@pair [($A:ident $ai:tt)] [$(($T:ident $i:tt after $P:ident $pi:tt))+] [$(($BT:ident $bi:tt after $BP:ident $bpi:tt))+] [$(($IT:ident $ii:tt))+] ($L:ident $li:tt)) => {
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

            /// Layer by layer, each for the whole group; then each sample's
            /// traces gathered into its tuple.
            #[inline(always)]
            #[allow(non_snake_case)] // each layer's traces are named after its type
            fn forward_trace_group<const S: usize>(&self, inputs: [&Self::Input; S]) -> [Self::Trace; S] {
                let $A = self.$ai.forward_trace_group(inputs);
                $(let $T = self.$i.forward_trace_group($P.each_ref().map(<$P as Train>::traced_output));)+
                let mut $A = $A.into_iter();
                $(let mut $T = $T.into_iter();)+
                core::array::from_fn(|_| (each(&mut $A), $(each(&mut $T)),+))
            }

            #[inline(always)]
            fn backward(
                &mut self,
                input: &Self::Input,
                trace: &Self::Trace,
                grad_output: &Self::Output,
                learning_rate: f32,
            ) -> Self::Input {
                chain!(@upper backward self, trace, learning_rate, g = grad_output; $(($BT $bi after $BP $bpi))+);
                self.$ai.backward(input, &trace.$ai, g, learning_rate)
            }

            #[inline(always)]
            fn backward_without_input_gradient(
                &mut self,
                input: &Self::Input,
                trace: &Self::Trace,
                grad_output: &Self::Output,
                learning_rate: f32,
            ) {
                chain!(@upper backward self, trace, learning_rate, g = grad_output; $(($BT $bi after $BP $bpi))+);
                self.$ai.backward_without_input_gradient(input, &trace.$ai, g, learning_rate)
            }

            #[inline(always)]
            fn gradient(
                &self,
                input: &Self::Input,
                trace: &Self::Trace,
                grad_output: &Self::Output,
                gradients: &mut Self,
            ) -> Self::Input {
                chain!(@upper gradient self, trace, gradients, g = grad_output; $(($BT $bi after $BP $bpi))+);
                self.$ai.gradient(input, &trace.$ai, g, &mut gradients.$ai)
            }

            #[inline(always)]
            fn gradient_without_input_gradient(
                &self,
                input: &Self::Input,
                trace: &Self::Trace,
                grad_output: &Self::Output,
                gradients: &mut Self,
            ) {
                chain!(@upper gradient self, trace, gradients, g = grad_output; $(($BT $bi after $BP $bpi))+);
                self.$ai.gradient_without_input_gradient(input, &trace.$ai, g, &mut gradients.$ai)
            }

            #[inline(always)]
            fn gradient_group<const S: usize>(
                &self,
                inputs: [&Self::Input; S],
                traces: [&Self::Trace; S],
                grad_outputs: [&Self::Output; S],
                gradients: &mut Self,
            ) -> [Self::Input; S] {
                chain!(@upper group self, traces, gradients, g = grad_outputs; $(($BT $bi after $BP $bpi))+);
                self.$ai.gradient_group(inputs, traces.map(|t| &t.$ai), g, &mut gradients.$ai)
            }

            #[inline(always)]
            fn gradient_group_without_input_gradient<const S: usize>(
                &self,
                inputs: [&Self::Input; S],
                traces: [&Self::Trace; S],
                grad_outputs: [&Self::Output; S],
                gradients: &mut Self,
            ) {
                chain!(@upper group self, traces, gradients, g = grad_outputs; $(($BT $bi after $BP $bpi))+);
                self.$ai.gradient_group_without_input_gradient(inputs, traces.map(|t| &t.$ai), g, &mut gradients.$ai)
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
                learning_rate: f32,
            ) {
                chain!(@upper backward self, trace, learning_rate, g = grad_output; $(($BT $bi after $BP $bpi))+);
                self.$ai.backward_sparse(input, &trace.$ai, g, learning_rate)
            }

            #[inline(always)]
            fn gradient_sparse(
                &self,
                input: SparseVector<'_, N>,
                trace: &Self::Trace,
                grad_output: &Self::Output,
                gradients: &mut Self,
            ) {
                chain!(@upper gradient self, trace, gradients, g = grad_output; $(($BT $bi after $BP $bpi))+);
                self.$ai.gradient_sparse(input, &trace.$ai, g, &mut gradients.$ai)
            }

            #[inline(always)]
            fn gradient_group_sparse<const S: usize>(
                &self,
                inputs: [SparseVector<'_, N>; S],
                traces: [&Self::Trace; S],
                grad_outputs: [&Self::Output; S],
                gradients: &mut Self,
            ) {
                chain!(@upper group self, traces, gradients, g = grad_outputs; $(($BT $bi after $BP $bpi))+);
                self.$ai.gradient_group_sparse(inputs, traces.map(|t| &t.$ai), g, &mut gradients.$ai)
            }
        }

        #[cfg(feature = "persist")]
        impl<$A: crate::persist::Layers, $($T: crate::persist::Layers),+> crate::persist::Layers for ($A, $($T),+) {
            const COUNT: usize = $A::COUNT $(+ $T::COUNT)+;
            const PARAMETERS: usize = $A::PARAMETERS $(+ $T::PARAMETERS)+;

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

        impl<$A: QuantizedModule, $($T: QuantizedModule<Input = <$P as QuantizedModule>::Output>),+>
            QuantizedModule for ($A, $($T),+)
        {
            type Input = <$A as QuantizedModule>::Input;
            type Output = <$L as QuantizedModule>::Output;
            type Logits = <$L as QuantizedModule>::Logits;

            #[inline(always)]
            fn forward(&self, input: &Self::Input) -> Self::Output {
                let y = self.$ai.forward(input);
                $(let y = self.$i.forward(&y);)+
                y
            }

            /// Every layer but the last gives its int8 output; the last its logits.
            #[inline(always)]
            fn logits(&self, input: &Self::Input) -> Self::Logits {
                let _y = input;
                $(let _y = &self.$ii.forward(_y);)+
                self.$li.logits(_y)
            }
        }

        /// Quantised layer by layer: each layer's output scale is the next one's
        /// input scale, calibrated on the float activations.
        #[cfg(feature = "std")]
        impl<X: QuantizedInput, $A: Quantize<X>, $($T: Quantize<i8> + Module<Input = <$P as Module>::Output>),+>
            Quantize<X> for ($A, $($T),+)
        {
            type Quantized = ($A::Quantized, $($T::Quantized),+);
            const LAYERS: usize = $A::LAYERS $(+ $T::LAYERS)+;

            #[allow(non_snake_case)] // each layer's result is named after its type
            fn quantize_from(
                &self,
                layer: usize,
                input_scale: f32,
                inputs: &[Self::Input],
            ) -> Result<Calibrated<Self::Quantized, Self::Output>, QuantizeError> {
                let Calibrated { network: $A, scale, outputs } =
                    self.$ai.quantize_from(layer, input_scale, inputs)?;
                let layer = layer + $A::LAYERS;
                $(
                    let Calibrated { network: $T, scale, outputs } =
                        self.$i.quantize_from(layer, scale, &outputs)?;
                    let layer = layer + $T::LAYERS;
                )+
                let _ = layer;
                Ok(Calibrated { network: ($A, $($T),+), scale, outputs })
            }
        }

        /// The layers' expressions in a tuple; their C layers in order.
        #[cfg(feature = "std")]
        impl<$A: Export, $($T: Export),+> Export for ($A, $($T),+) {
            fn rust_expression(&self, item: &str, out: &mut String) -> Result<(), ExportError> {
                out.push_str("(\n");
                self.$ai.rust_expression(item, out)?;
                out.push_str(",\n");
                $(
                    self.$i.rust_expression(item, out)?;
                    out.push_str(",\n");
                )+
                out.push(')');
                Ok(())
            }

            fn c_layers(&self, prefix: &str, layers: &mut Vec<CLayer>) -> Result<(), ExportError> {
                self.$ai.c_layers(prefix, layers)?;
                $(self.$i.c_layers(prefix, layers)?;)+
                Ok(())
            }
        }
    };
    // Backpropagates through every layer after the first, last to first, leaving
    // in `$g` the gradient at the first layer's output (shared by the three
    // backward passes above).
    // The layers after the first, last to first: each one's ∂loss/∂input is the
    // ∂loss/∂output of the one before it.
    (@upper backward $this:tt, $trace:ident, $rate:ident, $g:ident = $grad:expr; $(($BT:ident $bi:tt after $BP:ident $bpi:tt))+) => {
        let $g = $grad;
        $(
            let $g = &$this.$bi.backward(
                <$BP as Train>::traced_output(&$trace.$bpi),
                &$trace.$bi,
                $g,
                $rate,
            );
        )+
    };
    // A group of samples: `$g` holds one gradient per sample.
    (@upper group $this:tt, $traces:ident, $gradients:ident, $g:ident = $grad:expr; $(($BT:ident $bi:tt after $BP:ident $bpi:tt))+) => {
        let $g = $grad;
        $(
            let $g = $this.$bi.gradient_group(
                $traces.map(|t| <$BP as Train>::traced_output(&t.$bpi)),
                $traces.map(|t| &t.$bi),
                $g,
                &mut $gradients.$bi,
            );
            let $g = $g.each_ref();
        )+
    };
    (@upper gradient $this:tt, $trace:ident, $gradients:ident, $g:ident = $grad:expr; $(($BT:ident $bi:tt after $BP:ident $bpi:tt))+) => {
        let $g = $grad;
        $(
            let $g = &$this.$bi.gradient(
                <$BP as Train>::traced_output(&$trace.$bpi),
                &$trace.$bi,
                $g,
                &mut $gradients.$bi,
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

#[cfg(all(test, feature = "std"))]
mod tests {
    use crate::export::{Item, c_header, rust_source};
    use crate::{CrossEntropy, Dense, Identity, Network, QuantizedModule, quantize};

    type Seven = (
        Dense<6, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 3, Identity>,
    );
    type Twelve = (
        Dense<6, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 3, Identity>,
    );
    /// Twelve layers as a chain of chains.
    type Nested = (
        (Dense<6, 8>, Dense<8, 8>, Dense<8, 8>),
        Seven2,
        (Dense<8, 8>, Dense<8, 3, Identity>),
    );
    type Seven2 = (
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
        Dense<8, 8>,
    );

    fn inputs() -> Vec<[f32; 6]> {
        (0..64)
            .map(|k| core::array::from_fn(|i| ((k * 7 + i * 3) % 11) as f32 / 10.0))
            .collect()
    }

    /// Every trait of a layer holds for a chain of `layers` layers: it quantises
    /// (and its int8 logits are finite integers of the right length) and exports
    /// to Rust and C with one entry per layer.
    fn deploys<L>(network: &L, layers: usize)
    where
        L: crate::quantized::Quantize<u8, Input = [f32; 6]> + crate::export::Export,
        L::Quantized: QuantizedModule<Input = [u8; 6]>,
    {
        let data = inputs();
        let int8 = quantize::<_, u8>(network, 1.0 / 255.0, &data).unwrap();
        let pixels = data[3].map(|v| (v * 255.0).round() as u8);
        assert_eq!(int8.logits(&pixels).as_ref().len(), 3);
        assert!(int8.predict(&pixels) < 3);
        let item = Item {
            name: "NET",
            ty: "crate::Net",
            doc: "A deep test network.",
            network,
        };
        let rust = rust_source("test", &[item]).unwrap();
        assert_eq!(
            rust.matches("::mimic::Dense::from_transposed(").count(),
            layers
        );
        let item = Item {
            name: "NET",
            ty: "crate::Net",
            doc: "A deep test network.",
            network,
        };
        let c = c_header("NET_H", "test", &[item]).unwrap();
        assert!(c.contains(&format!("net_l{}_weights", layers - 1)));
        assert!(!c.contains(&format!("net_l{layers}_")));
    }

    #[test]
    fn seven_and_twelve_layers_quantize_and_export() {
        let seven: Network<Seven, _> = Network::seeded(1, CrossEntropy);
        deploys(&seven.layers, 7);
        let twelve: Network<Twelve, _> = Network::seeded(2, CrossEntropy);
        deploys(&twelve.layers, 12);
        // Nested chains are chains: the same draws, the same int8 network.
        let nested: Network<Nested, _> = Network::seeded(2, CrossEntropy);
        deploys(&nested.layers, 12);
        let data = inputs();
        let flat = quantize::<_, u8>(&twelve.layers, 1.0 / 255.0, &data).unwrap();
        let deep = quantize::<_, u8>(&nested.layers, 1.0 / 255.0, &data).unwrap();
        for x in &data {
            let pixels = x.map(|v| (v * 255.0).round() as u8);
            assert_eq!(flat.logits(&pixels), deep.logits(&pixels));
        }
    }
}
