//! Trained networks on disk, in the safetensors format.
//!
//! Layer `i`'s weights are the tensor `i.weight` — shape `[OUT, IN]` for a dense
//! layer (the original program's orientation, PyTorch's `Linear.weight`),
//! `[CO, C, K, K]` for a convolution (PyTorch's `Conv2d.weight`), `[C, 1, K, K]`
//! for a depthwise one — and its bias `i.bias`, shape `[OUT]` or `[CO]`, both f32
//! little-endian. Layers are numbered first to last among those with parameters
//! (pooling and flattening have none). The metadata records the crate version,
//! each layer's activation and slope, the loss, the seed if known, and a SHA-256
//! checksum over every tensor and every other metadata entry: a flipped bit
//! anywhere — tensor data or header — is an error on loading, never a silently
//! different network. Any such file loads in Python with
//! `safetensors.numpy.load_file`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_pcg::Pcg64;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use sha2::{Digest, Sha256};

use crate::activation::{Activation, check_slope};
use crate::conv::Conv2d;
use crate::depthwise::DepthwiseConv2d;
use crate::distillation::Distillation;
use crate::flatten::Flatten;
use crate::init::{Initialize, Initializer};
use crate::layer::Dense;
use crate::loss::{CrossEntropy, LabelSmoothing, Mse};
use crate::module::Parameters;
use crate::network::Network;
use crate::pool::{Pool2d, Pooling};
use crate::setting::InvalidSetting;

mod files;
pub use files::{check_distinct, check_writable, write_atomically, write_together};

/// One layer's parameters in the file's orientation.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerTensors {
    /// The weights' shape: `[OUT, IN]` for a dense layer, `[CO, C, K, K]` for a
    /// convolution; its first entry is the bias's length.
    pub shape: Vec<usize>,
    /// `W`, row-major in that shape.
    pub weights: Vec<f32>,
    /// `b`.
    pub bias: Vec<f32>,
    /// [`Activation::NAME`].
    pub activation: &'static str,
    /// The activation's parameter, if any (LeakyReLU's slope).
    pub parameter: Option<f32>,
}

/// Reads layer `i`'s tensors after checking them: `read(i, shape, activation)`
/// returns its weights (row-major in `shape`), bias (`shape[0]` values) and
/// activation parameter.
pub type ReadLayer<'a> =
    dyn FnMut(usize, &[usize], &'static str) -> Result<Imported, PersistError> + 'a;

/// Networks whose layers can be written to and read from tensors: [`Dense`],
/// tuples of layers (numbered first to last) and boxed networks.
pub trait Layers: Initialize + Parameters {
    /// How many layers with parameters (dense and convolution layers).
    const COUNT: usize;
    /// How many parameters (weights and biases): with the header, what bounds
    /// the size of a file [`load`] will read.
    const PARAMETERS: usize;
    /// Appends each layer's tensors, first to last.
    fn export(&self, out: &mut Vec<LayerTensors>);
    /// Overwrites every layer, numbered from `first`, with what `read` returns.
    fn import(&mut self, first: usize, read: &mut ReadLayer<'_>) -> Result<(), PersistError>;
}

/// A layer's checked contents, as [`Layers::import`] receives them.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    /// `W`, row-major `OUT × IN`.
    pub weights: Vec<f32>,
    /// `b`.
    pub bias: Vec<f32>,
    /// The stored activation parameter, if any.
    pub parameter: Option<f32>,
}

impl<const IN: usize, const OUT: usize, A: Activation> Layers for Dense<IN, OUT, A> {
    const COUNT: usize = 1;
    const PARAMETERS: usize = IN * OUT + OUT;

    fn export(&self, out: &mut Vec<LayerTensors>) {
        let weights = (0..OUT)
            .flat_map(|o| (0..IN).map(move |i| (o, i)))
            .map(|(o, i)| self.weight(o, i))
            .collect();
        out.push(LayerTensors {
            shape: vec![OUT, IN],
            weights,
            bias: self.bias().to_vec(),
            activation: A::NAME,
            parameter: self.activation().parameter(),
        });
    }

    fn import(&mut self, first: usize, read: &mut ReadLayer<'_>) -> Result<(), PersistError> {
        let Imported {
            weights,
            bias,
            parameter,
        } = read(first, &[OUT, IN], A::NAME)?;
        for (k, &w) in weights.iter().enumerate().take(OUT * IN) {
            self.set_weight(k / IN, k % IN, w);
        }
        for (b, &v) in self.bias_mut().iter_mut().zip(&bias) {
            *b = v;
        }
        let activation = parameter.map_or(A::default(), |p| A::default().with_parameter(p));
        self.set_activation(activation);
        Ok(())
    }
}

/// A convolution's filters are the tensor `i.weight` of shape `[CO, C, K, K]`
/// (PyTorch's `Conv2d.weight`), its biases `i.bias` of shape `[CO]`.
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
    A: Activation,
> Layers for Conv2d<C, H, W, CO, OH, OW, K, S, P, A>
{
    const COUNT: usize = 1;
    const PARAMETERS: usize = CO * C * K * K + CO;

    fn export(&self, out: &mut Vec<LayerTensors>) {
        out.push(LayerTensors {
            shape: vec![CO, C, K, K],
            weights: self
                .weights()
                .as_flattened()
                .as_flattened()
                .as_flattened()
                .to_vec(),
            bias: self.bias().to_vec(),
            activation: A::NAME,
            parameter: self.activation().parameter(),
        });
    }

    fn import(&mut self, first: usize, read: &mut ReadLayer<'_>) -> Result<(), PersistError> {
        let Imported {
            weights,
            bias,
            parameter,
        } = read(first, &[CO, C, K, K], A::NAME)?;
        let flat = self
            .weights_mut()
            .as_flattened_mut()
            .as_flattened_mut()
            .as_flattened_mut();
        for (w, &v) in flat.iter_mut().zip(&weights) {
            *w = v;
        }
        for (b, &v) in self.bias_mut().iter_mut().zip(&bias) {
            *b = v;
        }
        let activation = parameter.map_or(A::default(), |p| A::default().with_parameter(p));
        self.set_activation(activation);
        Ok(())
    }
}

/// A depthwise convolution's filters are the tensor `i.weight` of shape
/// `[C, 1, K, K]` (PyTorch's `Conv2d(C, C, K, groups=C).weight`), its biases
/// `i.bias` of shape `[C]`.
impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    A: Activation,
> Layers for DepthwiseConv2d<C, H, W, OH, OW, K, S, P, A>
{
    const COUNT: usize = 1;
    const PARAMETERS: usize = C * K * K + C;

    fn export(&self, out: &mut Vec<LayerTensors>) {
        out.push(LayerTensors {
            shape: vec![C, 1, K, K],
            weights: self.weights().as_flattened().as_flattened().to_vec(),
            bias: self.bias().to_vec(),
            activation: A::NAME,
            parameter: self.activation().parameter(),
        });
    }

    fn import(&mut self, first: usize, read: &mut ReadLayer<'_>) -> Result<(), PersistError> {
        let Imported {
            weights,
            bias,
            parameter,
        } = read(first, &[C, 1, K, K], A::NAME)?;
        let flat = self.weights_mut().as_flattened_mut().as_flattened_mut();
        for (w, &v) in flat.iter_mut().zip(&weights) {
            *w = v;
        }
        for (b, &v) in self.bias_mut().iter_mut().zip(&bias) {
            *b = v;
        }
        let activation = parameter.map_or(A::default(), |p| A::default().with_parameter(p));
        self.set_activation(activation);
        Ok(())
    }
}

/// Pooling has no parameters: nothing in the file.
impl<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const K: usize,
    const S: usize,
    F: Pooling,
> Layers for Pool2d<C, H, W, OH, OW, K, S, F>
{
    const COUNT: usize = 0;
    const PARAMETERS: usize = 0;

    fn export(&self, _: &mut Vec<LayerTensors>) {}

    fn import(&mut self, _: usize, _: &mut ReadLayer<'_>) -> Result<(), PersistError> {
        Ok(())
    }
}

/// Flattening has no parameters: nothing in the file.
impl<const C: usize, const H: usize, const W: usize, const N: usize> Layers
    for Flatten<C, H, W, N>
{
    const COUNT: usize = 0;
    const PARAMETERS: usize = 0;

    fn export(&self, _: &mut Vec<LayerTensors>) {}

    fn import(&mut self, _: usize, _: &mut ReadLayer<'_>) -> Result<(), PersistError> {
        Ok(())
    }
}

/// A loss that a model file records and restores, with its settings (the
/// distillation temperature and weight): [`Mse`], [`CrossEntropy`], [`Distillation`].
pub trait StoredLoss: Sized {
    /// The name the file records, e.g. `"CrossEntropy"`.
    const NAME: &'static str;
    /// The loss's settings as `(key, value)` metadata (none for most losses).
    fn settings(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// The loss from its settings; `Err` says which setting is missing or not
    /// a number. (Whether the numbers are in range is [`StoredLoss::check`]'s.)
    fn restore(setting: &dyn Fn(&str) -> Option<String>) -> Result<Self, String>;
    /// Whether the settings are in their ranges: the predicate training uses
    /// ([`Loss::check`](crate::Loss::check)), so that what trains saves and
    /// what saves loads. The default, for losses without settings, accepts.
    fn check(&self) -> Result<(), InvalidSetting> {
        Ok(())
    }
}

impl StoredLoss for Mse {
    const NAME: &'static str = "Mse";
    fn restore(_: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        Ok(Mse)
    }
}

impl StoredLoss for CrossEntropy {
    const NAME: &'static str = "CrossEntropy";
    fn restore(_: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        Ok(CrossEntropy)
    }
}

impl StoredLoss for LabelSmoothing {
    const NAME: &'static str = "LabelSmoothing";
    fn settings(&self) -> Vec<(&'static str, String)> {
        vec![("loss.epsilon", self.epsilon.to_string())]
    }
    fn restore(setting: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let text = setting("loss.epsilon").ok_or("`loss.epsilon` is missing")?;
        text.parse()
            .map(LabelSmoothing::new)
            .map_err(|_| format!("`loss.epsilon`: expected a number, found {text:?}"))
    }
    fn check(&self) -> Result<(), InvalidSetting> {
        LabelSmoothing::check(self)
    }
}

impl StoredLoss for Distillation {
    const NAME: &'static str = "Distillation";
    fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("loss.temperature", self.temperature.to_string()),
            ("loss.alpha", self.alpha.to_string()),
        ]
    }
    fn restore(setting: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let number = |key: &str| -> Result<f32, String> {
            let text = setting(key).ok_or_else(|| format!("`{key}` is missing"))?;
            text.parse()
                .map_err(|_| format!("`{key}`: expected a number, found {text:?}"))
        };
        Ok(Distillation::new(
            number("loss.temperature")?,
            number("loss.alpha")?,
        ))
    }
    fn check(&self) -> Result<(), InvalidSetting> {
        Distillation::check(self)
    }
}

/// Why a model could not be saved or loaded. Every message names the file (or
/// `<bytes>`, or what `from_bytes` was told), and the tensor or metadata key
/// concerned where one is: a tensor of the wrong kind, shape or name is named,
/// but a flipped bit that leaves the file well-formed changes what the
/// checksum covers, and is reported as a [`PersistError::Checksum`] mismatch,
/// which cannot say where the change is.
#[derive(Debug)]
#[non_exhaustive]
pub enum PersistError {
    /// Reading or writing the file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Not a well-formed safetensors file (truncated, bad header, …).
    Format {
        /// Where the bytes came from.
        origin: String,
        /// What the safetensors parser said.
        source: safetensors::SafeTensorError,
    },
    /// A well-formed file that `mimic` did not write, or that lacks a key.
    Metadata {
        /// Where the bytes came from.
        origin: String,
        /// The metadata key.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The checksum does not match: the file was changed after it was written.
    Checksum {
        /// Where the bytes came from.
        origin: String,
        /// The checksum stored in the file.
        stored: String,
        /// The checksum of what the file holds.
        computed: String,
    },
    /// A tensor the network needs is not in the file.
    MissingTensor {
        /// Where the bytes came from.
        origin: String,
        /// Its name.
        name: String,
    },
    /// The file holds a tensor the network has no place for.
    UnexpectedTensor {
        /// Where the bytes came from.
        origin: String,
        /// Its name.
        name: String,
    },
    /// A tensor that is not f32.
    Dtype {
        /// Where the bytes came from.
        origin: String,
        /// Its name.
        name: String,
        /// Its dtype.
        found: String,
    },
    /// A weight or bias is NaN or infinite: no usable network (refused by
    /// [`save`] and by [`load`] alike).
    NotFinite {
        /// Where the bytes came from, or where they were to go.
        origin: String,
    },
    /// A setting of the loss or of an activation is out of its range (refused
    /// by [`save`] and by [`load`] alike, with the predicate training uses).
    Setting {
        /// Where the bytes came from, or where they were to go.
        origin: String,
        /// The setting, its value and its range.
        source: InvalidSetting,
    },
    /// A tensor whose shape differs from the network's.
    Shape {
        /// Where the bytes came from.
        origin: String,
        /// Its name.
        name: String,
        /// Its shape in the file.
        found: Vec<usize>,
        /// The shape the network's type demands.
        expected: Vec<usize>,
    },
}

impl fmt::Display for PersistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PersistError::Io { path, .. } => {
                write!(
                    f,
                    "{}: the file could not be read or written",
                    path.display()
                )
            }
            PersistError::Format { origin, .. } => {
                write!(f, "{origin}: not a valid safetensors file")
            }
            PersistError::Metadata {
                origin,
                key,
                problem,
            } => write!(f, "{origin}: metadata `{key}`: {problem}"),
            PersistError::Checksum {
                origin,
                stored,
                computed,
            } => write!(
                f,
                "{origin}: checksum mismatch, the file was modified or corrupted (stored {stored}, contents give {computed})"
            ),
            PersistError::MissingTensor { origin, name } => {
                write!(f, "{origin}: tensor `{name}` is missing")
            }
            PersistError::UnexpectedTensor { origin, name } => {
                write!(
                    f,
                    "{origin}: tensor `{name}` does not belong to this network"
                )
            }
            PersistError::Dtype {
                origin,
                name,
                found,
            } => {
                write!(
                    f,
                    "{origin}: tensor `{name}` has dtype {found}, but the network expects F32"
                )
            }
            PersistError::NotFinite { origin } => write!(
                f,
                "{origin}: a weight or bias is NaN or infinite: no usable network"
            ),
            PersistError::Setting { origin, .. } => {
                write!(f, "{origin}: a setting of the network is out of range")
            }
            PersistError::Shape {
                origin,
                name,
                found,
                expected,
            } => write!(
                f,
                "{origin}: tensor `{name}` has shape {found:?}, but the network expects {expected:?}"
            ),
        }
    }
}

impl std::error::Error for PersistError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PersistError::Io { source, .. } => Some(source),
            PersistError::Format { source, .. } => Some(source),
            PersistError::Setting { source, .. } => Some(source),
            _ => None,
        }
    }
}

const FORMAT: &str = "mimic";

/// SHA-256 over every tensor (name, shape, bytes) and every other metadata entry, in
/// sorted order, as lowercase hex.
fn checksum<'a>(
    tensors: impl IntoIterator<Item = (&'a str, &'a [usize], &'a [u8])>,
    metadata: &BTreeMap<String, String>,
) -> String {
    let mut hash = Sha256::new();
    let mut sorted: Vec<_> = tensors.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    for (name, shape, data) in sorted {
        hash.update(name.as_bytes());
        hash.update([0]);
        for &d in shape {
            hash.update((d as u64).to_le_bytes());
        }
        hash.update((data.len() as u64).to_le_bytes());
        hash.update(data);
    }
    for (key, value) in metadata.iter().filter(|(k, _)| *k != "checksum") {
        hash.update((key.len() as u64).to_le_bytes());
        hash.update(key.as_bytes());
        hash.update((value.len() as u64).to_le_bytes());
        hash.update(value.as_bytes());
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The network's parameters as safetensors bytes; `seed` is recorded if given.
/// A network [`from_bytes`] would refuse is refused here: a NaN or infinite
/// parameter ([`PersistError::NotFinite`]), a loss setting or a LeakyReLU slope
/// out of its range ([`PersistError::Setting`]).
pub fn to_bytes<L: Layers, F: StoredLoss>(
    network: &Network<L, F>,
    seed: Option<u64>,
) -> Result<Vec<u8>, PersistError> {
    to_bytes_for(network, seed, "<bytes>")
}

/// [`to_bytes`], naming `origin` (where the bytes are to go) in errors.
fn to_bytes_for<L: Layers, F: StoredLoss>(
    network: &Network<L, F>,
    seed: Option<u64>,
    origin: &str,
) -> Result<Vec<u8>, PersistError> {
    let setting = |source| PersistError::Setting {
        origin: origin.into(),
        source,
    };
    if !network.layers.all_finite() {
        return Err(PersistError::NotFinite {
            origin: origin.into(),
        });
    }
    network.loss.check().map_err(setting)?;
    let mut layers = Vec::with_capacity(L::COUNT);
    network.layers.export(&mut layers);
    for parameter in layers.iter().filter_map(|l| l.parameter) {
        check_slope(parameter).map_err(setting)?;
    }
    let mut metadata = BTreeMap::new();
    metadata.insert("format".to_string(), FORMAT.to_string());
    metadata.insert(
        "mimic_version".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    );
    metadata.insert("layers".to_string(), layers.len().to_string());
    metadata.insert("loss".to_string(), F::NAME.to_string());
    for (key, value) in network.loss.settings() {
        metadata.insert(key.to_string(), value);
    }
    if let Some(seed) = seed {
        metadata.insert("seed".to_string(), seed.to_string());
    }
    let mut bytes: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        metadata.insert(format!("{i}.activation"), layer.activation.to_string());
        if let Some(p) = layer.parameter {
            metadata.insert(format!("{i}.slope"), p.to_string());
        }
        let le = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        bytes.push((
            format!("{i}.weight"),
            layer.shape.clone(),
            le(&layer.weights),
        ));
        bytes.push((format!("{i}.bias"), vec![layer.shape[0]], le(&layer.bias)));
    }
    let sum = checksum(
        bytes
            .iter()
            .map(|(n, s, d)| (n.as_str(), s.as_slice(), d.as_slice())),
        &metadata,
    );
    metadata.insert("checksum".to_string(), sum);
    let format_error = |source| PersistError::Format {
        origin: origin.into(),
        source,
    };
    let views = bytes
        .iter()
        .map(|(name, shape, data)| {
            Ok((
                name.clone(),
                TensorView::new(Dtype::F32, shape.clone(), data).map_err(format_error)?,
            ))
        })
        .collect::<Result<Vec<_>, PersistError>>()?;
    let bytes =
        safetensors::serialize(views, Some(metadata.into_iter().collect::<HashMap<_, _>>()))
            .map_err(format_error)?;
    Ok(canonical(bytes))
}

/// The same safetensors file with its JSON header's keys sorted, so that the
/// same network always gives the same bytes. (`safetensors::serialize` takes the
/// metadata as a `HashMap`, whose order changes from process to process.) The
/// header is re-written compactly and padded with spaces to a multiple of 8
/// bytes, as the format asks; tensor data and offsets are unchanged.
fn canonical(bytes: Vec<u8>) -> Vec<u8> {
    let parsed = bytes.get(..8).and_then(|n| {
        let n = usize::try_from(u64::from_le_bytes(n.try_into().ok()?)).ok()?;
        let header = bytes.get(8..8usize.checked_add(n)?)?;
        // serde_json's `Map` is a `BTreeMap`: parsing sorts every object's keys.
        let value: serde_json::Value = serde_json::from_slice(header).ok()?;
        Some((n, serde_json::to_vec(&value).ok()?))
    });
    let Some((old_length, mut header)) = parsed else {
        return bytes; // not reached for what `serialize` returns
    };
    header.resize(header.len().div_ceil(8) * 8, b' ');
    let mut out = Vec::with_capacity(8 + header.len() + bytes.len() - 8 - old_length);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&bytes[8 + old_length..]);
    out
}

/// A network of type `L` from safetensors bytes, with the loss (and its settings)
/// as the file records them. Every tensor's presence, dtype and
/// shape, every activation, the loss and the checksum are checked; `origin` names
/// the bytes in errors.
pub fn from_bytes<L: Layers, F: StoredLoss>(
    bytes: &[u8],
    origin: &str,
) -> Result<Network<L, F>, PersistError> {
    let origin = origin.to_string();
    check_offsets(bytes, &origin)?;
    let file = SafeTensors::deserialize(bytes).map_err(|source| PersistError::Format {
        origin: origin.clone(),
        source,
    })?;
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|source| PersistError::Format {
        origin: origin.clone(),
        source,
    })?;
    let metadata: BTreeMap<String, String> = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let meta_error = |key: &str, problem: String| PersistError::Metadata {
        origin: origin.clone(),
        key: key.into(),
        problem,
    };
    let get = |key: &str| {
        metadata
            .get(key)
            .ok_or_else(|| meta_error(key, "missing: expected a model saved by mimic".into()))
    };
    if get("format")? != FORMAT {
        return Err(meta_error("format", format!("expected \"{FORMAT}\"")));
    }
    let mut tensors = file.tensors();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    if get("loss")? != F::NAME {
        return Err(meta_error(
            "loss",
            format!(
                "the file was trained with {}, but loaded with {}",
                get("loss")?,
                F::NAME
            ),
        ));
    }
    let loss = F::restore(&|key| metadata.get(key).cloned())
        .map_err(|problem| meta_error("loss", problem))?;
    let setting = |source| PersistError::Setting {
        origin: origin.clone(),
        source,
    };
    loss.check().map_err(setting)?;
    // Files of mimic 0.2 also record the network's learning rate, which networks
    // no longer hold (it is the optimizer's): it is covered by the checksum
    // like every entry, and otherwise ignored.
    let expected_names: Vec<String> = (0..L::COUNT)
        .flat_map(|i| [format!("{i}.weight"), format!("{i}.bias")])
        .collect();
    if let Some((name, _)) = tensors.iter().find(|(n, _)| !expected_names.contains(n)) {
        return Err(PersistError::UnexpectedTensor {
            origin: origin.clone(),
            name: name.clone(),
        });
    }
    let tensor = |name: &str, expected: Vec<usize>| -> Result<Vec<f32>, PersistError> {
        let view = file.tensor(name).map_err(|_| PersistError::MissingTensor {
            origin: origin.clone(),
            name: name.into(),
        })?;
        if view.dtype() != Dtype::F32 {
            return Err(PersistError::Dtype {
                origin: origin.clone(),
                name: name.into(),
                found: format!("{:?}", view.dtype()),
            });
        }
        if view.shape() != expected.as_slice() {
            return Err(PersistError::Shape {
                origin: origin.clone(),
                name: name.into(),
                found: view.shape().to_vec(),
                expected,
            });
        }
        Ok(view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    };
    // Built in place (on the heap for a boxed network), then overwritten.
    // `Zeros` draws no random numbers; the generator is only there for the type.
    let mut layers = L::initialize(Initializer::Zeros, &mut Pcg64::seed_from_u64(0));
    layers.import(0, &mut |i, shape, activation| {
        let weights = tensor(&format!("{i}.weight"), shape.to_vec())?;
        let bias = tensor(&format!("{i}.bias"), shape[..1].to_vec())?;
        let key = format!("{i}.activation");
        let stored = get(&key)?;
        if stored != activation {
            return Err(meta_error(
                &key,
                format!("the file has {stored}, but the network's layer {i} is {activation}"),
            ));
        }
        let parameter = match metadata.get(&format!("{i}.slope")) {
            Some(text) => {
                let slope = text.parse::<f32>().map_err(|_| {
                    meta_error(
                        &format!("{i}.slope"),
                        format!("expected a number, found {text:?}"),
                    )
                })?;
                check_slope(slope).map_err(setting)?;
                Some(slope)
            }
            None => None,
        };
        Ok(Imported {
            weights,
            bias,
            parameter,
        })
    })?;
    if !layers.all_finite() {
        return Err(PersistError::NotFinite {
            origin: origin.clone(),
        });
    }
    // Last, so that a file of the wrong shape says which tensor is wrong; a file
    // that passed every check above may still have been altered.
    let stored = get("checksum")?;
    let computed = checksum(
        tensors
            .iter()
            .map(|(n, v)| (n.as_str(), v.shape(), v.data())),
        &metadata,
    );
    if *stored != computed {
        return Err(PersistError::Checksum {
            origin: origin.clone(),
            stored: stored.clone(),
            computed,
        });
    }
    Ok(Network { layers, loss })
}

/// Rejects a header whose tensor offsets point past the end of the file before the
/// safetensors parser sees it: offsets near `u64::MAX` make that parser's length
/// arithmetic overflow, a panic wherever overflow checks are on (debug builds,
/// fuzzing). Anything else malformed is left to the parser's own errors.
fn check_offsets(bytes: &[u8], origin: &str) -> Result<(), PersistError> {
    let Some(length) = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    else {
        return Ok(());
    };
    let Some(header) = usize::try_from(length)
        .ok()
        .and_then(|n| bytes.get(8..8usize.checked_add(n)?))
    else {
        return Ok(());
    };
    let Ok(serde_json::Value::Object(entries)) =
        serde_json::from_slice::<serde_json::Value>(header)
    else {
        return Ok(());
    };
    let data = (bytes.len() - 8 - header.len()) as u64;
    for (name, entry) in &entries {
        let offsets = entry
            .get("data_offsets")
            .and_then(|o| o.as_array())
            .into_iter()
            .flatten();
        if offsets
            .filter_map(serde_json::Value::as_u64)
            .any(|offset| offset > data)
        {
            return Err(PersistError::Metadata {
                origin: origin.to_string(),
                key: name.clone(),
                problem: format!("data offsets beyond the {data} bytes of tensor data in the file"),
            });
        }
    }
    Ok(())
}

/// Saves the network to `path` atomically: the bytes go to a temporary file in the
/// same directory, which is flushed to disk and then renamed over `path`, so a
/// crash leaves either the old file or the new one, never half of one. Saves
/// from any number of threads, to one path or many, each use their own
/// temporary file; a replaced file keeps its permission bits (see
/// [`write_atomically`]). What [`load`] would refuse is not saved (see
/// [`to_bytes`]).
pub fn save<L: Layers, F: StoredLoss>(
    network: &Network<L, F>,
    path: impl AsRef<Path>,
    seed: Option<u64>,
) -> Result<(), PersistError> {
    let path = path.as_ref();
    let io = |source| PersistError::Io {
        path: path.to_path_buf(),
        source,
    };
    check_writable(path).map_err(io)?;
    let bytes = to_bytes_for(network, seed, &path.display().to_string())?;
    write_atomically(path, &bytes).map_err(io)
}

/// The header a file written by [`save`] may have at most: its JSON lists each
/// layer's tensors and a few metadata keys, a few kilobytes for the deepest
/// chain; a file claiming more is not one of mimic's.
const HEADER_LIMIT: u64 = 1 << 20;

/// Reads `path` whole if it is a regular file no larger than a network of
/// `parameters` parameters can be saved as: a FIFO or a device is refused
/// before it is opened (opening a FIFO waits for a writer), and a file too
/// large is refused before it is read.
fn read_bounded(path: &Path, parameters: usize) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind, Read};
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "not a regular file: refusing to read it",
        ));
    }
    let limit = (parameters as u64)
        .saturating_mul(4)
        .saturating_add(HEADER_LIMIT);
    if meta.len() > limit {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!(
                "{} bytes: more than a network of {parameters} parameters is saved as (at most {limit})",
                meta.len()
            ),
        ));
    }
    let mut bytes = Vec::new();
    // Bounded again while reading: the file may have grown since.
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!(
                "more than {limit} bytes: more than a network of {parameters} parameters is saved as"
            ),
        ));
    }
    Ok(bytes)
}

/// Loads a network of type `L` saved by [`save`], with the loss
/// the file records.
pub fn load<L: Layers, F: StoredLoss>(
    path: impl AsRef<Path>,
) -> Result<Network<L, F>, PersistError> {
    let path = path.as_ref();
    let bytes = read_bounded(path, L::PARAMETERS).map_err(|source| PersistError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    from_bytes(&bytes, &path.display().to_string())
}
