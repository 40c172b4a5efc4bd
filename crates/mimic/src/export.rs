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
use crate::layer::Dense;
use crate::quantized::{PiecewiseLinear, QuantizedDense, QuantizedInput, Requantize};

/// Why a network could not be written as source.
#[derive(Clone, Debug, PartialEq, Eq)]
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
}

impl core::fmt::Display for ExportError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotFinite { item } => write!(f, "{item}: a parameter is not finite"),
            Self::Unsupported { activation } => {
                write!(f, "the activation {activation} cannot be exported")
            }
            Self::BadName(name) => write!(f, "{name:?} is not an identifier"),
        }
    }
}

impl std::error::Error for ExportError {}

/// One layer as the C header describes it.
#[derive(Clone, Debug, PartialEq)]
pub enum CLayer {
    /// A float layer: weights `[inputs][outputs]`, bias, LeakyReLU slope.
    Float {
        /// Inputs.
        inputs: usize,
        /// Outputs.
        outputs: usize,
        /// Array definitions (weights, bias), named by the prefix given.
        definitions: String,
        /// The slope for non-positive pre-activations (1 = identity).
        slope: f32,
    },
    /// An int8 layer.
    Int8 {
        /// Inputs.
        inputs: usize,
        /// Outputs.
        outputs: usize,
        /// Array definitions (weights, bias, multipliers, shifts).
        definitions: String,
        /// The input's C type, `uint8_t` or `int8_t`.
        input: &'static str,
    },
}

/// A network (a layer, or a tuple of layers) that can be written as source.
pub trait Export {
    /// Appends a Rust expression that builds the network in a `const` context.
    fn rust_expression(&self, item: &str, out: &mut String) -> Result<(), ExportError>;

    /// Appends the network's layers, each named `{prefix}_l{index}`.
    fn c_layers(&self, prefix: &str, layers: &mut Vec<CLayer>) -> Result<(), ExportError>;
}

/// The Rust expression of an activation.
fn rust_activation<A: PiecewiseLinear>(activation: &A) -> Result<String, ExportError> {
    Ok(match A::NAME {
        "leaky_relu" => format!("::mimic::LeakyReLU::new({:?})", activation.negative_slope()),
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
        let activation = rust_activation(self.activation())?;
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
        layers.push(CLayer::Float {
            inputs: IN,
            outputs: OUT,
            definitions,
            slope: self.activation().negative_slope(),
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
        let _ = write!(
            definitions,
            "}};\nstatic const int32_t {name}_bias[{OUT}] = "
        );
        c_integers(&mut definitions, self.bias().iter());
        for (side, values) in [("positive", self.positive()), ("negative", self.negative())] {
            let _ = write!(
                definitions,
                ";\nstatic const int32_t {name}_{side}_multiplier[{OUT}] = "
            );
            c_integers(&mut definitions, values.iter().map(|r| r.multiplier()));
            let _ = write!(
                definitions,
                ";\nstatic const uint8_t {name}_{side}_shift[{OUT}] = "
            );
            c_integers(&mut definitions, values.iter().map(|r| r.shift()));
        }
        definitions.push_str(";\n");
        layers.push(CLayer::Int8 {
            inputs: IN,
            outputs: OUT,
            definitions,
            input: X::C,
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

fn check_name(name: &str) -> Result<(), ExportError> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ExportError::BadName(name.into()))
    }
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
    let mut out = String::new();
    for line in header.lines() {
        let _ = writeln!(out, "// {line}");
    }
    for item in items {
        check_name(item.name)?;
        let _ = write!(
            out,
            "\n/// {}\n#[rustfmt::skip]\npub static {}: {} = ",
            item.doc, item.name, item.ty
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
    let mut out = String::new();
    for line in header.lines() {
        let _ = writeln!(out, "/* {line} */");
    }
    let _ = write!(out, "#ifndef {guard}\n#define {guard}\n\n{C_HELPERS}");
    for item in items {
        check_name(item.name)?;
        let name = item.name.to_ascii_lowercase();
        let mut layers = Vec::new();
        item.network.c_layers(&name, &mut layers)?;
        let _ = write!(out, "\n/* {}: {} */\n", item.name, item.doc);
        for layer in &layers {
            match layer {
                CLayer::Float { definitions, .. } | CLayer::Int8 { definitions, .. } => {
                    out.push_str(definitions);
                }
            }
        }
        c_predict(&mut out, &name, &layers);
    }
    let _ = writeln!(out, "\n#endif /* {guard} */");
    Ok(out)
}

/// `NAME_predict`: the layers in order, intermediate results on the stack.
fn c_predict(out: &mut String, name: &str, layers: &[CLayer]) {
    let last = layers.len().saturating_sub(1);
    let widest = layers
        .iter()
        .map(|l| match l {
            CLayer::Float { outputs, .. } | CLayer::Int8 { outputs, .. } => *outputs,
        })
        .max()
        .unwrap_or(1);
    let input = match layers.first() {
        Some(CLayer::Int8 { input, .. }) => *input,
        _ => "float",
    };
    let _ = writeln!(
        out,
        "static inline int {name}_predict(const {input} *x) {{\n    float sums[4 * {widest}];\n    int32_t acc[{widest}];\n    (void)sums; (void)acc;"
    );
    let mut previous = "x".to_string();
    for (k, layer) in layers.iter().enumerate() {
        let l = format!("{name}_l{k}");
        match layer {
            CLayer::Float {
                inputs,
                outputs,
                slope,
                ..
            } => {
                let _ = writeln!(
                    out,
                    "    float h{k}[{outputs}];\n    mimic_dense_f32(&{l}_weights[0][0], {l}_bias, {inputs}, {outputs}, {slope:?}f, {previous}, h{k}, sums);"
                );
                if k == last {
                    let _ = writeln!(out, "    return mimic_argmax_f32(h{k}, {outputs});");
                }
            }
            CLayer::Int8 {
                inputs,
                outputs,
                input,
                ..
            } => {
                let accumulate = if *input == "uint8_t" {
                    "mimic_accumulate_u8"
                } else {
                    "mimic_accumulate_i8"
                };
                let multipliers = format!(
                    "{l}_positive_multiplier, {l}_positive_shift, {l}_negative_multiplier, {l}_negative_shift"
                );
                let _ = writeln!(
                    out,
                    "    {accumulate}(&{l}_weights[0][0], {l}_bias, {inputs}, {outputs}, {previous}, acc);"
                );
                if k == last {
                    let _ = writeln!(
                        out,
                        "    {{\n        int32_t logits[{outputs}];\n        mimic_requantize_logits(acc, {multipliers}, {outputs}, logits);\n        return mimic_argmax_i32(logits, {outputs});\n    }}"
                    );
                } else {
                    let _ = writeln!(
                        out,
                        "    int8_t h{k}[{outputs}];\n    mimic_requantize_i8(acc, {multipliers}, {outputs}, h{k});"
                    );
                }
            }
        }
        previous = format!("h{k}");
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
        // Sigmoid has no integer or piecewise-linear form: not `Export` at all.
        let _: Dense<1, 1, Sigmoid> = Dense::zeros();
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
}
