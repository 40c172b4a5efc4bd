//! Networks as source code: a Rust file of `static` items built by the `const`
//! constructors, and a C header with the same numbers and the inference code.
//!
//! The Rust file names each network's *type* (written by the user, e.g.
//! `crate::Student`) and builds the value with [`Dense::from_transposed`] or
//! [`QuantizedDense::from_parts`]: the arrays' lengths must equal the type's const
//! parameters, so a file generated from a network of another shape is a compile
//! error, and nothing is parsed at run time. Floats are written as Rust's shortest
//! decimal that reads back as the same `f32` (valid in C too, with an `f`
//! suffix), so both files hold exactly the trained numbers.
//!
//! The C header repeats the Rust operation order: a float layer adds the `k`-th
//! nonzero input's row into partial sum `k mod 4` and adds the four as
//! `(s0 + s1) + (s2 + s3)` before the bias (what `mimic::kernels` do), so compiled
//! without contraction into fused multiply-adds (`-ffp-contract=off`) its results
//! are the same floats; the int8 layers are integer arithmetic, equal anyway.

use std::fmt::Write as _;

use crate::activation::Activation;
use crate::conv::Conv2d;
use crate::flatten::Flatten;
use crate::layer::Dense;
use crate::pool::Pool2d;
use crate::quantized::{
    IntegerPooling, PiecewiseLinear, QuantizedConv2d, QuantizedDense, QuantizedFlatten,
    QuantizedInput, QuantizedPool2d, Requantize,
};

/// Why a network could not be written as source.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExportError {
    /// A parameter is NaN or infinite: it has no literal.
    NotFinite {
        /// The network's item name.
        item: String,
    },
    /// The activation is not one this module knows how to name.
    Unsupported {
        /// The activation's name.
        activation: &'static str,
    },
    /// An item name is not an identifier (letters, digits, `_`, not starting
    /// with a digit).
    BadName(String),
    /// An item's Rust type is empty, or holds what no type does (a line
    /// break, `{`, `}`, `=`, `/`, `#`, `!`, a quote) or unbalanced brackets:
    /// written after `static NAME:`, it would not compile or would be code.
    BadType(String),
    /// An item name or include guard is a keyword of Rust or C (`fn`, `int`,
    /// `self`, `_`, …), or an include guard that is a name the header's own
    /// code uses (`x`, `acc`, a helper function or macro) or that the C
    /// standard reserves (`__…`, `<stdint.h>`'s `INT8_MAX`, `int8_t`, …): as
    /// a macro it would change that code, and the source would not compile.
    Keyword(String),
    /// Two items would have the same name: the same in Rust, or the same but
    /// for case in C (its names are the items' in lower case).
    DuplicateName {
        /// The first item's name.
        first: String,
        /// The second item's name.
        second: String,
    },
}

impl core::fmt::Display for ExportError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotFinite { item } => write!(f, "{item}: a parameter is not finite"),
            Self::Unsupported { activation } => {
                write!(f, "the activation {activation} cannot be exported")
            }
            Self::BadName(name) => write!(f, "{name:?} is not an identifier"),
            Self::BadType(ty) => write!(f, "{ty:?} is not a Rust type"),
            Self::Keyword(name) => write!(
                f,
                "{name:?} is a keyword of Rust or C, or a name the generated header uses or the C standard reserves: expected another name"
            ),
            Self::DuplicateName { first, second } => write!(
                f,
                "items {first:?} and {second:?} would have the same name in the generated source"
            ),
        }
    }
}

impl std::error::Error for ExportError {}

/// One layer as the C header runs it: its arrays and the C statements of its
/// forward pass, written with the placeholders `$x` (the input array), `$y` (the
/// output array), `$sums` (float scratch) and `$acc` (`int32_t` scratch).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CLayer {
    /// Array definitions (weights, bias, multipliers), named `{prefix}_l{index}_…`.
    pub definitions: String,
    /// The C type of one input value: `float`, `uint8_t` or `int8_t`.
    pub input: &'static str,
    /// The C type of one output value.
    pub output: &'static str,
    /// How many values it outputs.
    pub outputs: usize,
    /// Statements computing `$y` from `$x`; `None` when the output is the input
    /// itself, read differently (a flatten).
    pub forward: Option<String>,
    /// For an int8 layer: statements computing the `int32_t` logits `$y` from
    /// `$x`, as `QuantizedModule::logits` does (used for the last layer). `None`
    /// for a float layer, whose output is its logits.
    pub logits: Option<String>,
    /// Floats of scratch `$sums` the statements need.
    pub float_scratch: usize,
    /// `int32_t`s of scratch `$acc` the statements need.
    pub int_scratch: usize,
}

/// A network (a layer, or a tuple of layers) that can be written as source.
pub trait Export {
    /// Appends a Rust expression that builds the network in a `const` context.
    fn rust_expression(&self, item: &str, out: &mut String) -> Result<(), ExportError>;

    /// Appends the network's layers, each named `{prefix}_l{index}`.
    fn c_layers(&self, prefix: &str, layers: &mut Vec<CLayer>) -> Result<(), ExportError>;
}

/// The activation's slope for non-positive inputs, if it has a literal: a NaN
/// or infinite slope would be written as `NaN` or `inf`, which is no number in
/// Rust or C.
fn finite_slope<A: PiecewiseLinear>(activation: &A, item: &str) -> Result<f32, ExportError> {
    let slope = activation.negative_slope();
    if slope.is_finite() {
        Ok(slope)
    } else {
        Err(ExportError::NotFinite { item: item.into() })
    }
}

/// The Rust expression of an activation.
fn rust_activation<A: PiecewiseLinear>(activation: &A, item: &str) -> Result<String, ExportError> {
    let slope = finite_slope(activation, item)?;
    Ok(match A::NAME {
        "leaky_relu" => format!("::mimic::LeakyReLU::new({slope:?})"),
        "relu" => "::mimic::ReLU".into(),
        "identity" => "::mimic::Identity".into(),
        other => return Err(ExportError::Unsupported { activation: other }),
    })
}

/// Appends `[a, b, …]` of the items `f` writes.
fn list<T>(out: &mut String, items: &[T], mut f: impl FnMut(&mut String, &T)) {
    out.push('[');
    for (k, item) in items.iter().enumerate() {
        if k > 0 {
            out.push_str(", ");
        }
        f(out, item);
    }
    out.push(']');
}

fn float(out: &mut String, x: f32) {
    // `{:?}` is the shortest decimal that reads back as `x`, always with a `.` or
    // an exponent, so it is a float literal in Rust and (with `f`) in C.
    let _ = write!(out, "{x:?}");
}

fn all_finite<const IN: usize, const OUT: usize, A>(
    layer: &Dense<IN, OUT, A>,
    item: &str,
) -> Result<(), ExportError>
where
    A: Activation,
{
    let finite = layer
        .weights_transposed()
        .iter()
        .flatten()
        .all(|w| w.is_finite())
        && layer.bias().iter().all(|b| b.is_finite());
    if finite {
        Ok(())
    } else {
        Err(ExportError::NotFinite { item: item.into() })
    }
}

impl<const IN: usize, const OUT: usize, A: PiecewiseLinear> Export for Dense<IN, OUT, A> {
    fn rust_expression(&self, item: &str, out: &mut String) -> Result<(), ExportError> {
        all_finite(self, item)?;
        let activation = rust_activation(self.activation(), item)?;
        out.push_str("::mimic::Dense::from_transposed(\n[");
        for row in self.weights_transposed() {
            list(out, row, |out, &w| float(out, w));
            out.push_str(",\n");
        }
        out.push_str("],\n");
        list(out, self.bias(), |out, &b| float(out, b));
        let _ = write!(out, ",\n{activation},\n)");
        Ok(())
    }

    fn c_layers(&self, prefix: &str, layers: &mut Vec<CLayer>) -> Result<(), ExportError> {
        all_finite(self, prefix)?;
        let name = format!("{prefix}_l{}", layers.len());
        let mut definitions = format!("static const float {name}_weights[{IN}][{OUT}] = {{\n");
        for row in self.weights_transposed() {
            definitions.push('{');
            for &w in row {
                float(&mut definitions, w);
                definitions.push_str("f,");
            }
            definitions.push_str("},\n");
        }
        let _ = write!(
            definitions,
            "}};\nstatic const float {name}_bias[{OUT}] = {{"
        );
        for &b in self.bias() {
            float(&mut definitions, b);
            definitions.push_str("f,");
        }
        definitions.push_str("};\n");
        let slope = finite_slope(self.activation(), prefix)?;
        layers.push(CLayer {
            definitions,
            input: "float",
            output: "float",
            outputs: OUT,
            forward: Some(format!(
                "mimic_dense_f32(&{name}_weights[0][0], {name}_bias, {IN}, {OUT}, {slope:?}f, $x, $y, $sums);"
            )),
            logits: None,
            float_scratch: 4 * OUT,
            int_scratch: 0,
        });
        Ok(())
    }
}

fn rust_requantize(out: &mut String, r: &Requantize) {
    let _ = write!(
        out,
        "::mimic::Requantize::new({}, {})",
        r.multiplier(),
        r.shift()
    );
}

fn c_integers<T: core::fmt::Display>(out: &mut String, values: impl Iterator<Item = T>) {
    out.push('{');
    for v in values {
        let _ = write!(out, "{v},");
    }
    out.push('}');
}

impl<const IN: usize, const OUT: usize, X: QuantizedInput> Export for QuantizedDense<IN, OUT, X> {
    fn rust_expression(&self, _item: &str, out: &mut String) -> Result<(), ExportError> {
        out.push_str("::mimic::QuantizedDense::from_parts(\n[");
        for row in self.weights_transposed() {
            list(out, row, |out, w| {
                let _ = write!(out, "{w}");
            });
            out.push_str(",\n");
        }
        out.push_str("],\n");
        list(out, self.bias(), |out, b| {
            let _ = write!(out, "{b}");
        });
        out.push_str(",\n");
        list(out, self.positive(), rust_requantize);
        out.push_str(",\n");
        list(out, self.negative(), rust_requantize);
        out.push_str(",\n)");
        Ok(())
    }

    fn c_layers(&self, prefix: &str, layers: &mut Vec<CLayer>) -> Result<(), ExportError> {
        let name = format!("{prefix}_l{}", layers.len());
        let mut definitions = format!("static const int8_t {name}_weights[{IN}][{OUT}] = {{\n");
        for row in self.weights_transposed() {
            c_integers(&mut definitions, row.iter());
            definitions.push_str(",\n");
        }
        definitions.push_str("};\n");
        c_multipliers(
            &mut definitions,
            &name,
            self.bias(),
            self.positive(),
            self.negative(),
        );
        let accumulate = format!(
            "mimic_accumulate_{}(&{name}_weights[0][0], {name}_bias, {IN}, {OUT}, $x, $acc);",
            c_suffix::<X>()
        );
        layers.push(int8_layer::<X>(definitions, &name, accumulate, OUT, 1));
        Ok(())
    }
}

/// `u8` or `i8`: the suffix of the C helpers for inputs of type `X`.
fn c_suffix<X: QuantizedInput>() -> &'static str {
    if X::MIN < 0 { "i8" } else { "u8" }
}

/// The bias and the two multipliers' arrays of an int8 layer named `name`.
fn c_multipliers(
    definitions: &mut String,
    name: &str,
    bias: &[i32],
    positive: &[Requantize],
    negative: &[Requantize],
) {
    let n = bias.len();
    let _ = write!(definitions, "static const int32_t {name}_bias[{n}] = ");
    c_integers(definitions, bias.iter());
    for (side, values) in [("positive", positive), ("negative", negative)] {
        let _ = write!(
            definitions,
            ";\nstatic const int32_t {name}_{side}_multiplier[{n}] = "
        );
        c_integers(definitions, values.iter().map(|r| r.multiplier()));
        let _ = write!(
            definitions,
            ";\nstatic const uint8_t {name}_{side}_shift[{n}] = "
        );
        c_integers(definitions, values.iter().map(|r| r.shift()));
    }
    definitions.push_str(";\n");
}

/// An int8 layer whose `accumulate` statement fills `$acc` with `outputs`
/// accumulators, `plane` consecutive ones per output channel; rescaled to int8
/// for the next layer, or to logits.
fn int8_layer<X: QuantizedInput>(
    definitions: String,
    name: &str,
    accumulate: String,
    outputs: usize,
    plane: usize,
) -> CLayer {
    let multipliers = format!(
        "{name}_positive_multiplier, {name}_positive_shift, {name}_negative_multiplier, {name}_negative_shift"
    );
    CLayer {
        definitions,
        input: X::C,
        output: "int8_t",
        outputs,
        forward: Some(format!(
            "{accumulate}\n    mimic_requantize_i8($acc, {multipliers}, {outputs}, {plane}, $y);"
        )),
        logits: Some(format!(
            "{accumulate}\n    mimic_requantize_logits($acc, {multipliers}, {outputs}, {plane}, $y);"
        )),
        float_scratch: 0,
        int_scratch: outputs,
    }
}

fn all_finite_conv(weights: &[f32], bias: &[f32], item: &str) -> Result<(), ExportError> {
    if weights.iter().chain(bias).all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(ExportError::NotFinite { item: item.into() })
    }
}

/// `[[[[w, …], …], …], …]` of a filter bank, one output channel per line.
fn rust_filters<T, const K: usize, const C: usize>(
    out: &mut String,
    filters: &[[[[T; K]; K]; C]],
    mut f: impl FnMut(&mut String, &T),
) {
    out.push('[');
    for filter in filters {
        list(out, filter, |out, kernel| {
            list(out, kernel, |out, row| list(out, row, &mut f));
        });
        out.push_str(",\n");
    }
    out.push(']');
}

/// A filter bank as a C initialiser, flat (`[CO][C][K][K]` in order).
fn c_filters<T: Copy>(out: &mut String, values: &[T], mut f: impl FnMut(&mut String, T)) {
    out.push('{');
    for (k, &v) in values.iter().enumerate() {
        f(out, v);
        out.push(',');
        if k % 25 == 24 {
            out.push('\n');
        }
    }
    out.push('}');
}

impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const CO: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    A: PiecewiseLinear,
> Export for Conv2d<C, H, W, CO, OH, OW, K, S, P, A>
{
    fn rust_expression(&self, item: &str, out: &mut String) -> Result<(), ExportError> {
        let flat = self.weights().as_flattened().as_flattened().as_flattened();
        all_finite_conv(flat, self.bias(), item)?;
        let activation = rust_activation(self.activation(), item)?;
        out.push_str("::mimic::Conv2d::from_parts(\n");
        rust_filters(out, self.weights(), |out, &w| float(out, w));
        out.push_str(",\n");
        list(out, self.bias(), |out, &b| float(out, b));
        let _ = write!(out, ",\n{activation},\n)");
        Ok(())
    }

    fn c_layers(&self, prefix: &str, layers: &mut Vec<CLayer>) -> Result<(), ExportError> {
        let flat = self.weights().as_flattened().as_flattened().as_flattened();
        all_finite_conv(flat, self.bias(), prefix)?;
        let name = format!("{prefix}_l{}", layers.len());
        let mut definitions = format!("static const float {name}_weights[{}] = ", flat.len());
        c_filters(&mut definitions, flat, |out, w| {
            float(out, w);
            out.push('f');
        });
        let _ = write!(definitions, ";\nstatic const float {name}_bias[{CO}] = {{");
        for &b in self.bias() {
            float(&mut definitions, b);
            definitions.push_str("f,");
        }
        definitions.push_str("};\n");
        let slope = finite_slope(self.activation(), prefix)?;
        layers.push(CLayer {
            definitions,
            input: "float",
            output: "float",
            outputs: CO * OH * OW,
            forward: Some(format!(
                "mimic_conv_f32({name}_weights, {name}_bias, {C}, {H}, {W}, {CO}, {OH}, {OW}, {K}, {S}, {P}, {slope:?}f, $x, $y);"
            )),
            logits: None,
            float_scratch: 0,
            int_scratch: 0,
        });
        Ok(())
    }
}

/// Rust: the layer's own `const` constructor. C: the equivalent full
/// convolution ([`DepthwiseConv2d::to_convolution`](crate::DepthwiseConv2d::to_convolution)),
/// whose zero weights change no sum, so the same floats.
impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    A: PiecewiseLinear,
> Export for crate::DepthwiseConv2d<C, H, W, OH, OW, K, S, P, A>
{
    fn rust_expression(&self, item: &str, out: &mut String) -> Result<(), ExportError> {
        all_finite_conv(
            self.weights().as_flattened().as_flattened(),
            self.bias(),
            item,
        )?;
        let activation = rust_activation(self.activation(), item)?;
        out.push_str("::mimic::DepthwiseConv2d::from_parts(\n");
        out.push('[');
        for kernel in self.weights() {
            list(out, kernel, |out, row| {
                list(out, row, |out, &w| float(out, w))
            });
            out.push_str(",\n");
        }
        out.push_str("],\n");
        list(out, self.bias(), |out, &b| float(out, b));
        let _ = write!(out, ",\n{activation},\n)");
        Ok(())
    }

    fn c_layers(&self, prefix: &str, layers: &mut Vec<CLayer>) -> Result<(), ExportError> {
        self.to_convolution().c_layers(prefix, layers)
    }
}

impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const CO: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    X: QuantizedInput,
> Export for QuantizedConv2d<C, H, W, CO, OH, OW, K, S, P, X>
{
    fn rust_expression(&self, _item: &str, out: &mut String) -> Result<(), ExportError> {
        out.push_str("::mimic::quantized::QuantizedConv2d::from_parts(\n");
        rust_filters(out, self.weights(), |out, w| {
            let _ = write!(out, "{w}");
        });
        out.push_str(",\n");
        list(out, self.bias(), |out, b| {
            let _ = write!(out, "{b}");
        });
        out.push_str(",\n");
        list(out, self.positive(), rust_requantize);
        out.push_str(",\n");
        list(out, self.negative(), rust_requantize);
        out.push_str(",\n)");
        Ok(())
    }

    fn c_layers(&self, prefix: &str, layers: &mut Vec<CLayer>) -> Result<(), ExportError> {
        let name = format!("{prefix}_l{}", layers.len());
        let flat = self.weights().as_flattened().as_flattened().as_flattened();
        let mut definitions = format!("static const int8_t {name}_weights[{}] = ", flat.len());
        c_filters(&mut definitions, flat, |out, w| {
            let _ = write!(out, "{w}");
        });
        definitions.push_str(";\n");
        c_multipliers(
            &mut definitions,
            &name,
            self.bias(),
            self.positive(),
            self.negative(),
        );
        let accumulate = format!(
            "mimic_conv_{}({name}_weights, {name}_bias, {C}, {H}, {W}, {CO}, {OH}, {OW}, {K}, {S}, {P}, $x, $acc);",
            c_suffix::<X>()
        );
        layers.push(int8_layer::<X>(
            definitions,
            &name,
            accumulate,
            CO * OH * OW,
            OH * OW,
        ));
        Ok(())
    }
}

/// `C, H, W, OH, OW, K, S, mean`: a pooling layer's arguments in C.
fn pool_arguments<F: IntegerPooling>(dims: [usize; 7]) -> String {
    let [c, h, w, oh, ow, k, s] = dims;
    format!(
        "{c}, {h}, {w}, {oh}, {ow}, {k}, {s}, {}",
        i32::from(F::MEAN)
    )
}

impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    F: IntegerPooling,
> Export for Pool2d<C, H, W, OH, OW, K, S, F>
{
    fn rust_expression(&self, _item: &str, out: &mut String) -> Result<(), ExportError> {
        out.push_str("::mimic::pool::Pool2d::new()");
        Ok(())
    }

    fn c_layers(&self, _prefix: &str, layers: &mut Vec<CLayer>) -> Result<(), ExportError> {
        let arguments = pool_arguments::<F>([C, H, W, OH, OW, K, S]);
        layers.push(CLayer {
            input: "float",
            output: "float",
            outputs: C * OH * OW,
            forward: Some(format!("mimic_pool_f32($x, {arguments}, $y);")),
            ..CLayer::default()
        });
        Ok(())
    }
}

impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    F: IntegerPooling,
    X: QuantizedInput,
> Export for QuantizedPool2d<C, H, W, OH, OW, K, S, F, X>
{
    fn rust_expression(&self, _item: &str, out: &mut String) -> Result<(), ExportError> {
        out.push_str("::mimic::quantized::QuantizedPool2d::new()");
        Ok(())
    }

    fn c_layers(&self, _prefix: &str, layers: &mut Vec<CLayer>) -> Result<(), ExportError> {
        let arguments = pool_arguments::<F>([C, H, W, OH, OW, K, S]);
        let suffix = c_suffix::<X>();
        layers.push(CLayer {
            input: X::C,
            output: X::C,
            outputs: C * OH * OW,
            forward: Some(format!("mimic_pool_{suffix}($x, {arguments}, $y);")),
            logits: Some(format!("mimic_pool_logits_{suffix}($x, {arguments}, $y);")),
            ..CLayer::default()
        });
        Ok(())
    }
}

impl<const C: usize, const H: usize, const W: usize, const N: usize> Export
    for Flatten<C, H, W, N>
{
    fn rust_expression(&self, _item: &str, out: &mut String) -> Result<(), ExportError> {
        out.push_str("::mimic::Flatten::new()");
        Ok(())
    }

    /// In C an image is already its flat array: nothing to do.
    fn c_layers(&self, _prefix: &str, layers: &mut Vec<CLayer>) -> Result<(), ExportError> {
        layers.push(CLayer {
            input: "float",
            output: "float",
            outputs: N,
            ..CLayer::default()
        });
        Ok(())
    }
}

impl<const C: usize, const H: usize, const W: usize, const N: usize, X: QuantizedInput> Export
    for QuantizedFlatten<C, H, W, N, X>
{
    fn rust_expression(&self, _item: &str, out: &mut String) -> Result<(), ExportError> {
        out.push_str("::mimic::quantized::QuantizedFlatten::new()");
        Ok(())
    }

    /// Nothing to do but as the last layer, where the values are the logits.
    fn c_layers(&self, _prefix: &str, layers: &mut Vec<CLayer>) -> Result<(), ExportError> {
        layers.push(CLayer {
            input: X::C,
            output: X::C,
            outputs: N,
            logits: Some(format!(
                "mimic_widen_logits_{}($x, {N}, $y);",
                c_suffix::<X>()
            )),
            ..CLayer::default()
        });
        Ok(())
    }
}

/// One network to write: a `static` item `name` of type `ty` (a path the
/// generated file can name, e.g. `crate::Student`).
pub struct Item<'a> {
    /// The item's name, e.g. `STUDENT`.
    pub name: &'a str,
    /// Its Rust type, as written in the generated file.
    pub ty: &'a str,
    /// Its documentation, one line.
    pub doc: &'a str,
    /// The network.
    pub network: &'a dyn Export,
}

/// Rust's keywords, strict and reserved (edition 2024), and `_`: none can name
/// a `static`.
const RUST_KEYWORDS: &[&str] = &[
    "_", "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
    "extern", "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod",
    "move", "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait",
    "true", "type", "union", "unsafe", "use", "where", "while", "abstract", "become", "box", "do",
    "final", "macro", "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// C's keywords (C99 to C23), and the macros the header's `<stdint.h>` and
/// `<stdbool.h>` may define in their place.
const C_KEYWORDS: &[&str] = &[
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "_Bool",
    "_Complex",
    "_Imaginary",
    "_Alignas",
    "_Alignof",
    "_Atomic",
    "_Generic",
    "_Noreturn",
    "_Static_assert",
    "_Thread_local",
    "_BitInt",
    "_Decimal32",
    "_Decimal64",
    "_Decimal128",
    "alignas",
    "alignof",
    "bool",
    "constexpr",
    "false",
    "nullptr",
    "static_assert",
    "thread_local",
    "true",
    "typeof",
    "typeof_unqual",
];

/// An identifier (letters, digits, `_`, not starting with a digit) that is no
/// keyword of Rust or C.
fn check_name(name: &str) -> Result<(), ExportError> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(ExportError::BadName(name.into()));
    }
    if RUST_KEYWORDS.contains(&name) || C_KEYWORDS.contains(&name) {
        return Err(ExportError::Keyword(name.into()));
    }
    Ok(())
}

/// A Rust type as an item's `ty`: not empty, none of the characters that
/// would end the `static` item or start a comment, an attribute or a macro,
/// and `<>`, `()` and `[]` balanced.
fn check_type(ty: &str) -> Result<(), ExportError> {
    let forbidden = |c: char| c.is_control() || "{}=/#!\"`\\@$".contains(c);
    let mut open = Vec::new();
    let mut balanced = true;
    let mut previous = ' ';
    for c in ty.chars() {
        let arrow = previous == '-' && c == '>'; // `fn(u8) -> u8`
        previous = c;
        match c {
            _ if arrow => {}
            '<' | '(' | '[' => open.push(c),
            '>' | ')' | ']' => {
                let expected = match c {
                    '>' => '<',
                    ')' => '(',
                    _ => '[',
                };
                balanced &= open.pop() == Some(expected);
            }
            _ => {}
        }
    }
    if ty.trim().is_empty() || ty.chars().any(forbidden) || !balanced || !open.is_empty() {
        return Err(ExportError::BadType(ty.into()));
    }
    Ok(())
}

/// Whether the C standard reserves `name` as a macro that the header's
/// `<stdint.h>` may define or use: `__…`, `_` and a capital, `INT…`/`UINT…`
/// limits and constants (`INT8_MAX`, `UINT32_C`), other limits, and `…_t`
/// types.
fn reserved_in_c(name: &str) -> bool {
    let b = name.as_bytes();
    let integer = name.starts_with("INT") || name.starts_with("UINT");
    let limit = ["_MAX", "_MIN", "_C"].iter().any(|end| name.ends_with(end));
    name.starts_with("__")
        || b.len() > 1 && b[0] == b'_' && b[1].is_ascii_uppercase()
        || integer && limit
        || name.ends_with("_t")
        || matches!(
            name,
            "SIZE_MAX"
                | "PTRDIFF_MAX"
                | "PTRDIFF_MIN"
                | "SIG_ATOMIC_MAX"
                | "SIG_ATOMIC_MIN"
                | "WCHAR_MAX"
                | "WCHAR_MIN"
                | "WINT_MAX"
                | "WINT_MIN"
                | "NULL"
        )
}

/// Every identifier in the C `code`, outside its comments.
fn c_identifiers(code: &str) -> std::collections::HashSet<&str> {
    let mut identifiers = std::collections::HashSet::new();
    let mut rest = code;
    while !rest.is_empty() {
        // The code up to the next comment; then past the comment.
        let (text, after) = match (rest.find("/*"), rest.find("//")) {
            (Some(a), b) if b.is_none_or(|b| a < b) => {
                let end = rest[a..].find("*/").map_or(rest.len(), |e| a + e + 2);
                (&rest[..a], &rest[end..])
            }
            (_, Some(b)) => {
                let end = rest[b..].find('\n').map_or(rest.len(), |e| b + e);
                (&rest[..b], &rest[end..])
            }
            _ => (rest, ""),
        };
        identifiers.extend(
            text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|t| t.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')),
        );
        rest = after;
    }
    identifiers
}

/// Checks every item's name, and that no two are the same as `same` compares
/// them (exactly for Rust, ignoring case for C).
fn check_names(items: &[Item<'_>], same: fn(&str, &str) -> bool) -> Result<(), ExportError> {
    for (j, item) in items.iter().enumerate() {
        check_name(item.name)?;
        if let Some(first) = items[..j].iter().find(|i| same(i.name, item.name)) {
            return Err(ExportError::DuplicateName {
                first: first.name.into(),
                second: item.name.into(),
            });
        }
    }
    Ok(())
}

/// `text` as the inside of one comment line, in Rust or C: control characters
/// (a line break would end the comment and make the rest code) become spaces,
/// `*/` (which would end a C comment) becomes `* /`, `/*` (a warning inside
/// one) `/ *`, and `??` (the start of C99's trigraphs, `??/` a backslash)
/// `? ?`.
fn comment_text(text: &str) -> String {
    let mut text = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .replace("*/", "* /")
        .replace("/*", "/ *");
    // `???` becomes `? ??` in one pass: again until none is left.
    while text.contains("??") {
        text = text.replace("??", "? ?");
    }
    text
}

/// `text`'s lines, each as [`comment_text`]: what a multi-line comment holds.
fn comment_lines(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split('\n').map(comment_text)
}

/// A Rust source file defining one `static` per item, built by `const`
/// constructors; `header` is written first as `//` comments (say what produced
/// the file). The items are marked `#[rustfmt::skip]`: the arrays are written
/// one input row per line.
///
/// ```
/// use mimic::export::{Item, rust_source};
/// use mimic::{Dense, Identity};
///
/// let layer: Dense<2, 1, Identity> = Dense::from_transposed([[0.5], [-1.0]], [0.25], Identity);
/// let source = rust_source(
///     "an example",
///     &[Item { name: "LAYER", ty: "mimic::Dense<2, 1, mimic::Identity>", doc: "A layer.", network: &layer }],
/// )?;
/// assert!(source.contains("pub static LAYER: mimic::Dense<2, 1, mimic::Identity> ="));
/// assert!(source.contains("[0.5],\n[-1.0],"));
/// # Ok::<(), mimic::export::ExportError>(())
/// ```
pub fn rust_source(header: &str, items: &[Item<'_>]) -> Result<String, ExportError> {
    check_names(items, |a, b| a == b)?;
    for item in items {
        check_type(item.ty)?;
    }
    let mut out = String::new();
    for line in header.lines().flat_map(comment_lines) {
        let _ = writeln!(out, "// {line}");
    }
    for item in items {
        out.push('\n');
        for line in comment_lines(item.doc) {
            let _ = writeln!(out, "/// {line}");
        }
        let _ = write!(
            out,
            "#[rustfmt::skip]\npub static {}: {} = ",
            item.name, item.ty
        );
        item.network.rust_expression(item.name, &mut out)?;
        out.push_str(";\n");
    }
    Ok(out)
}

/// The C helpers every header carries: the float and int8 layers and the argmax,
/// in the Rust operation order (see the module documentation). A real C file, so
/// that editors, compilers and linters read it as C.
const C_HELPERS: &str = include_str!("export_runtime.h");

/// A C header (C99) with every item's numbers and, per item, `NAME_predict(x)`:
/// for a float network `x` is `const float *`, for an int8 one it is the first
/// layer's input type (`const uint8_t *` for pixels). `guard` is the include guard.
pub fn c_header(guard: &str, header: &str, items: &[Item<'_>]) -> Result<String, ExportError> {
    check_name(guard)?;
    check_names(items, |a, b| a.eq_ignore_ascii_case(b))?;
    let mut out = String::new();
    for line in header.lines().flat_map(comment_lines) {
        let _ = writeln!(out, "/* {line} */");
    }
    let _ = write!(out, "#ifndef {guard}\n#define {guard}\n\n");
    let body_start = out.len();
    out.push_str(C_HELPERS);
    for item in items {
        let name = item.name.to_ascii_lowercase();
        let mut layers = Vec::new();
        item.network.c_layers(&name, &mut layers)?;
        let doc = comment_lines(item.doc).collect::<Vec<_>>().join(" ");
        let _ = write!(out, "\n/* {}: {doc} */\n", item.name);
        for layer in &layers {
            out.push_str(&layer.definitions);
        }
        c_predict(&mut out, &name, &layers);
    }
    // The guard is defined as a macro (of nothing) before the code: it must be
    // no name the code uses, nor one `<stdint.h>` may.
    if reserved_in_c(guard) || c_identifiers(&out[body_start..]).contains(guard) {
        return Err(ExportError::Keyword(guard.into()));
    }
    let _ = writeln!(out, "\n#endif /* {guard} */");
    Ok(out)
}

/// `NAME_predict`: the layers in order, intermediate results on the stack; the
/// last layer's logits (int8) or outputs (float) give the class.
fn c_predict(out: &mut String, name: &str, layers: &[CLayer]) {
    let float_scratch = layers.iter().map(|l| l.float_scratch).max().unwrap_or(0);
    let int_scratch = layers.iter().map(|l| l.int_scratch).max().unwrap_or(0);
    let input = layers.first().map_or("float", |l| l.input);
    let _ = writeln!(
        out,
        "static inline int {name}_predict(const {input} *x) {{\n    float sums[{}];\n    int32_t acc[{}];\n    (void)sums; (void)acc;",
        float_scratch.max(1),
        int_scratch.max(1)
    );
    let mut previous = "x".to_string();
    let last = layers.len().saturating_sub(1);
    for (k, layer) in layers.iter().enumerate() {
        let statements = |code: &str, y: &str| {
            code.replace("$x", &previous)
                .replace("$y", y)
                .replace("$sums", "sums")
                .replace("$acc", "acc")
        };
        if k == last
            && let Some(logits) = &layer.logits
        {
            let n = layer.outputs;
            let _ = writeln!(
                out,
                "    {{\n        int32_t logits[{n}];\n        {}\n        return mimic_argmax_i32(logits, {n});\n    }}",
                statements(logits, "logits").replace("\n    ", "\n        ")
            );
            out.push_str("}\n");
            return;
        }
        if let Some(forward) = &layer.forward {
            let y = format!("h{k}");
            let _ = writeln!(
                out,
                "    {} {y}[{}];\n    {}",
                layer.output,
                layer.outputs,
                statements(forward, &y)
            );
            previous = y;
        }
        if k == last {
            let _ = writeln!(
                out,
                "    return mimic_argmax_f32({previous}, {});",
                layer.outputs
            );
        }
    }
    if layers.is_empty() {
        out.push_str("    return 0;\n");
    }
    out.push_str("}\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Identity, LeakyReLU, QuantizedModule, Sigmoid, quantize};

    #[test]
    fn floats_round_trip_through_their_literals() {
        for x in [
            0.1f32,
            -1.0e-7,
            3.4028235e38,
            1.0,
            -0.0,
            f32::MIN_POSITIVE,
            0.33333334,
        ] {
            let mut s = String::new();
            float(&mut s, x);
            assert_eq!(s.parse::<f32>().unwrap().to_bits(), x.to_bits(), "{s}");
            assert!(s.contains('.') || s.contains('e'), "{s}");
        }
    }

    #[test]
    fn rust_source_names_the_type_and_every_number() {
        let net: (Dense<2, 2>, Dense<2, 1, Identity>) = (
            Dense::from_transposed([[1.5, -2.0], [0.0, 1e-6]], [0.5, 0.0], LeakyReLU::new(0.2)),
            Dense::from_transposed([[1.0], [-1.0]], [3.0], Identity),
        );
        let source = rust_source(
            "made by a test",
            &[Item {
                name: "NET",
                ty: "crate::Net",
                doc: "A test network.",
                network: &net,
            }],
        )
        .unwrap();
        assert!(source.starts_with("// made by a test\n"));
        assert!(
            source.contains(
                "/// A test network.\n#[rustfmt::skip]\npub static NET: crate::Net = (\n"
            )
        );
        assert!(source.contains(
            "[1.5, -2.0],\n[0.0, 1e-6],\n],\n[0.5, 0.0],\n::mimic::LeakyReLU::new(0.2),"
        ));
        assert!(source.contains("::mimic::Identity,"));
        let q = quantize::<_, u8>(&net, 1.0 / 255.0, &[[1.0, 0.5], [0.0, 1.0]]).unwrap();
        assert!(q.predict(&[255, 0]) == 0);
        let source = rust_source(
            "",
            &[Item {
                name: "Q",
                ty: "Q",
                doc: "",
                network: &q,
            }],
        )
        .unwrap();
        assert!(
            source.contains("::mimic::QuantizedDense::from_parts(\n[[127, -127],"),
            "{source}"
        );
    }

    #[test]
    fn what_cannot_be_written_is_an_error() {
        let bad: Dense<1, 1, Identity> = Dense::from_transposed([[f32::NAN]], [0.0], Identity);
        let item = |network: &'static dyn Export, name: &'static str| Item {
            name,
            ty: "T",
            doc: "",
            network,
        };
        let bad: &'static Dense<1, 1, Identity> = Box::leak(Box::new(bad));
        assert_eq!(
            rust_source("", &[item(bad, "BAD")]),
            Err(ExportError::NotFinite { item: "BAD".into() })
        );
        assert!(c_header("G", "", &[item(bad, "BAD")]).is_err());
        let good: &'static Dense<1, 1, Identity> =
            Box::leak(Box::new(Dense::from_transposed([[1.0]], [0.0], Identity)));
        assert_eq!(
            rust_source("", &[item(good, "not a name")]),
            Err(ExportError::BadName("not a name".into()))
        );
        assert!(c_header("bad guard", "", &[]).is_err());
        for ty in [
            "",
            " ",
            "u8 = 0; fn evil() {}",
            "T\n",
            "Dense<1, 1",
            "T /* x */",
            "[f32; 2]]",
        ] {
            let item = Item {
                name: "X",
                ty,
                doc: "",
                network: good,
            };
            assert_eq!(
                rust_source("", &[item]),
                Err(ExportError::BadType(ty.into())),
                "{ty:?}"
            );
        }
        for ty in [
            "mimic::Dense<1, 1, mimic::Identity>",
            "&'static (T, [u8; 2])",
            "fn(u8) -> u8",
        ] {
            let item = Item {
                name: "X",
                ty,
                doc: "",
                network: good,
            };
            assert!(rust_source("", &[item]).is_ok(), "{ty:?}");
        }
        // Sigmoid has no integer or piecewise-linear form: not `Export` at all.
        let _: Dense<1, 1, Sigmoid> = Dense::zeros();
    }

    /// A NaN or infinite LeakyReLU slope is refused: it used to be written as
    /// `NaN` or `inff`, which compiles in neither language.
    #[test]
    fn non_finite_slopes_are_refused() {
        for slope in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let layer: Dense<1, 1> = Dense::from_transposed([[1.0]], [0.0], LeakyReLU::new(slope));
            let items = [Item {
                name: "NET",
                ty: "T",
                doc: "",
                network: &layer,
            }];
            let expected = Err(ExportError::NotFinite { item: "NET".into() });
            assert_eq!(rust_source("", &items), expected);
            assert_eq!(
                c_header("G", "", &items),
                Err(ExportError::NotFinite { item: "net".into() })
            );
        }
    }

    /// Keywords of either language, guards the header's code would see as
    /// macros, and names that would collide are refused.
    #[test]
    fn keywords_and_colliding_names_are_refused() {
        let layer: Dense<1, 1, Identity> = Dense::from_transposed([[1.0]], [0.0], Identity);
        let item = |name| Item {
            name,
            ty: "T",
            doc: "",
            network: &layer,
        };
        for keyword in ["fn", "self", "Self", "_", "int", "static", "while"] {
            assert_eq!(
                rust_source("", &[item(keyword)]),
                Err(ExportError::Keyword(keyword.into())),
            );
            assert_eq!(
                c_header("G", "", &[item(keyword)]),
                Err(ExportError::Keyword(keyword.into())),
            );
            assert_eq!(
                c_header(keyword, "", &[]),
                Err(ExportError::Keyword(keyword.into()))
            );
        }
        // A guard is a macro: no name the header's code uses, nor a reserved one.
        for guard in [
            "MIMIC_ACCUMULATE",
            "mimic_dense_f32",
            "x",
            "acc",
            "net_predict",
            "net_l0_weights",
            "INT8_MAX",
            "uint8_t",
            "__GUARD",
            "_Guard",
        ] {
            assert_eq!(
                c_header(guard, "", &[item("NET")]),
                Err(ExportError::Keyword(guard.into())),
            );
        }
        // Names the code does not use are fine, even close ones; and items
        // may be named anything that is not a keyword.
        assert!(c_header("MIMIC_STUDENT_H", "", &[item("mimic_dense_f32")]).is_ok());
        assert!(c_header("NET", "the x and acc", &[item("NET")]).is_ok());
        let duplicate = |first: &str, second: &str| ExportError::DuplicateName {
            first: first.into(),
            second: second.into(),
        };
        // In C the names are lowered: `Net` and `NET` are one.
        assert_eq!(
            c_header("G", "", &[item("Net"), item("NET")]),
            Err(duplicate("Net", "NET"))
        );
        assert!(rust_source("", &[item("Net"), item("NET")]).is_ok());
        assert_eq!(
            rust_source("", &[item("NET"), item("NET")]),
            Err(duplicate("NET", "NET"))
        );
    }

    /// Line breaks and `*/` in a doc string or a header line stay inside their
    /// comments: nothing the caller writes there becomes code.
    #[test]
    fn comments_cannot_become_code() {
        let layer: Dense<1, 1, Identity> = Dense::from_transposed([[1.0]], [0.0], Identity);
        let evil = "line one\npub static INJECTED: u8 = 0; */ int injected; /*\rdone";
        let items = [Item {
            name: "NET",
            ty: "T",
            doc: evil,
            network: &layer,
        }];
        let rust = rust_source(evil, &items).unwrap();
        for line in rust.lines() {
            assert!(
                line.is_empty()
                    || line.starts_with("//")
                    || !line.contains("INJECTED") && !line.contains("injected"),
                "{line}"
            );
        }
        assert!(
            rust.contains("/// line one\n/// pub static INJECTED"),
            "{rust}"
        );
        let c = c_header("G", evil, &items).unwrap();
        for line in c.lines().filter(|l| l.contains("injected")) {
            assert!(line.starts_with("/*") && line.ends_with("*/"), "{line}");
            assert_eq!(line.matches("*/").count(), 1, "{line}");
        }
        assert!(!c.contains('\r'));
        assert_eq!(comment_text("a ???/ b /*/ c"), "a ? ? ?/ b / * / c");
    }

    #[test]
    fn c_header_has_arrays_and_a_predict_function() {
        let layer: Dense<2, 1, Identity> =
            Dense::from_transposed([[0.5], [-1.0]], [0.25], Identity);
        let header = c_header(
            "NET_H",
            "test",
            &[Item {
                name: "NET",
                ty: "",
                doc: "d",
                network: &layer,
            }],
        )
        .unwrap();
        assert!(
            header.contains("static const float net_l0_weights[2][1] = {\n{0.5f,},\n{-1.0f,},\n};")
        );
        assert!(header.contains("static inline int net_predict(const float *x)"));
        assert!(header.contains("#ifndef NET_H\n#define NET_H"));
    }

    #[test]
    fn a_depthwise_layer_exports_its_own_constructor_and_a_full_convolution_in_c() {
        let layer = crate::DepthwiseConv2d::<2, 3, 3, 3, 3, 3, 1, 1, Identity>::from_parts(
            [
                [[1.0, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 0.25]],
                [[0.0; 3]; 3],
            ],
            [0.5, -0.5],
            Identity,
        );
        let item = || Item {
            name: "NET",
            ty: "crate::Net",
            doc: "d",
            network: &layer,
        };
        let rust = rust_source("test", &[item()]).unwrap();
        assert!(
            rust.contains("::mimic::DepthwiseConv2d::from_parts("),
            "{rust}"
        );
        assert!(
            rust.contains("[[1.0, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 0.25]]"),
            "{rust}"
        );
        let header = c_header("NET_H", "test", &[item()]).unwrap();
        // Two filters of two channels: 2 · 2 · 3 · 3 weights, zero off the diagonal.
        assert!(header.contains("net_l0_weights[36]"), "{header}");
        assert!(
            header
                .contains("mimic_conv_f32(net_l0_weights, net_l0_bias, 2, 3, 3, 2, 3, 3, 3, 1, 1,"),
            "{header}"
        );
    }
}
