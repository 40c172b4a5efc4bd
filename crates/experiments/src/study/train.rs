//! One training run: a network of a given shape, a [`Recipe`], a seed — and what
//! the run's outputs say on the validation split and the test set.

use mimic::{
    Adam, CrossEntropy, Distillation, Image, Initialize, Initializer, InputsOf, LabelSmoothing,
    Loss, Mse, Network, RateSchedule, Schedule, Sgd, SoftTarget, SparseRows, TrainError,
    module::{SparseTrain, Train},
};
use mimic_mnist::PIXELS;
use rand::SeedableRng;
use rand_pcg::Pcg64;

use super::recipe::{Optim, Recipe, Teaching};
use crate::experiment::stream_seed;
use crate::models::{
    CnnTeacher, Hidden16Student, Hidden32Student, LinearStudent, StrongTeacher, Student, Teacher,
    TeacherLogits,
};

/// The networks the study trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Net {
    /// The seed's 784→16→16→10 teacher (LeakyReLU(0.1) after every layer).
    SeedTeacher,
    /// The seed's 784→10 student (LeakyReLU(0.1) output).
    SeedStudent,
    /// The seed's teacher shape with logits out (LeakyReLU(0.1) hidden layers).
    TeacherLogits,
    /// 784→256→256→10, ReLU, logits out.
    Strong,
    /// 784→10, logits out.
    Linear,
    /// 784→16→10, ReLU, logits out.
    Hidden16,
    /// 784→32→10, ReLU, logits out.
    Hidden32,
    /// The convolutional teacher ([`CnnTeacher`]), trained on labels only.
    Cnn,
}

impl Net {
    /// "784→16→16→10 (seed)" etc.
    pub fn name(self) -> &'static str {
        match self {
            Net::SeedTeacher => "784→16→16→10 (seed's)",
            Net::SeedStudent => "784→10 (seed's)",
            Net::TeacherLogits => "784→16→16→10",
            Net::Strong => "784→256→256→10",
            Net::Linear => "784→10",
            Net::Hidden16 => "784→16→10",
            Net::Hidden32 => "784→32→10",
            Net::Cnn => "CNN 16-32",
        }
    }

    /// Trainable parameters.
    pub fn parameters(self) -> usize {
        match self {
            Net::SeedTeacher | Net::TeacherLogits => 784 * 16 + 16 + 16 * 16 + 16 + 16 * 10 + 10,
            Net::SeedStudent | Net::Linear => 784 * 10 + 10,
            Net::Strong => 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10,
            Net::Hidden16 => 784 * 16 + 16 + 16 * 10 + 10,
            Net::Hidden32 => 784 * 32 + 32 + 32 * 10 + 10,
            Net::Cnn => (25 * 16 + 16) + (16 * 25 * 32 + 32) + (800 * 10 + 10),
        }
    }

    /// Relative cost of one sample's step, for weighting progress (784→10 = 1).
    pub fn cost(self) -> f64 {
        match self {
            Net::SeedStudent | Net::Linear => 1.0,
            Net::SeedTeacher | Net::TeacherLogits | Net::Hidden16 => 1.6,
            Net::Hidden32 => 2.4,
            Net::Strong => 60.0,
            Net::Cnn => 2_000.0,
        }
    }
}

/// What a run learns from: inputs, their classes (possibly noisy), and the
/// teacher's logits for them when the recipe needs a teacher.
pub struct TrainData<'a> {
    /// The training inputs.
    pub inputs: &'a SparseRows<PIXELS>,
    /// Their classes (what "labels" means for this run).
    pub classes: &'a [usize],
    /// The teacher's logits for every input, for KD and MSE.
    pub teacher: Option<&'a [[f32; 10]]>,
}

/// A trained network's logits on the validation split and the test set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outputs {
    /// Logits for every validation image.
    pub validation: Vec<[f32; 10]>,
    /// Logits for every test image.
    pub test: Vec<[f32; 10]>,
    /// Logits for the extra inputs asked for (a teacher's transfer set).
    pub also: Vec<[f32; 10]>,
}

/// Trains `net` by `recipe` from `seed` and returns its outputs on `validation`
/// and `test`. The seed fixes the initialisation (the same for every recipe of a
/// network) and, for Adam, the order of the data, so runs of one seed are paired.
/// Mini-batches run on `cores.threads` threads, which changes no bit of the
/// result, and sum their gradients in `cores.parts` parts, which does.
pub fn train(
    net: Net,
    recipe: &Recipe,
    data: &TrainData<'_>,
    eval: &Eval<'_>,
    seed: u64,
    cores: Cores,
) -> Result<Outputs, TrainError> {
    match net {
        Net::SeedTeacher => run::<Teacher>(recipe, data, eval, seed, cores),
        Net::SeedStudent => run::<Student>(recipe, data, eval, seed, cores),
        Net::TeacherLogits => run::<TeacherLogits>(recipe, data, eval, seed, cores),
        Net::Strong => run::<StrongTeacher>(recipe, data, eval, seed, cores),
        Net::Linear => run::<LinearStudent>(recipe, data, eval, seed, cores),
        Net::Hidden16 => run::<Hidden16Student>(recipe, data, eval, seed, cores),
        Net::Hidden32 => run::<Hidden32Student>(recipe, data, eval, seed, cores),
        Net::Cnn => run_images::<CnnTeacher>(recipe, data, eval, seed, cores),
    }
}

/// How a run uses the machine's cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cores {
    /// Threads of a mini-batch (no bit of the result depends on it).
    pub threads: usize,
    /// Fixed parts a mini-batch's gradient is summed in ([`Schedule::parts`]):
    /// another count adds the same numbers in another order, so it changes the
    /// results' last bits (the study's default is mimic's, 4).
    pub parts: usize,
}

/// The inputs a trained network is run on: MNIST's sparse rows, or (for a
/// convolutional network) the same images dense.
pub struct Eval<'a, X: ?Sized = SparseRows<PIXELS>> {
    /// The validation split.
    pub validation: &'a X,
    /// The test set.
    pub test: &'a X,
    /// Anything else (a teacher's transfer set).
    pub also: Option<&'a X>,
}

const INIT_STREAM: u64 = 11;
const ORDER_STREAM: u64 = 12;

fn run<L>(
    recipe: &Recipe,
    data: &TrainData<'_>,
    eval: &Eval<'_>,
    seed: u64,
    cores: Cores,
) -> Result<Outputs, TrainError>
where
    L: SparseTrain<PIXELS, Output = [f32; 10]> + Initialize + Sync,
{
    let init = match recipe.optim {
        Optim::SeedSgd => Initializer::Original,
        Optim::Adam | Optim::AdamConstant => Initializer::He,
        Optim::AdamConstantFanIn => Initializer::FanInVariance,
    };
    // Boxed: the strong teacher, its gradient and Adam's moments are megabytes.
    let mut rng = Pcg64::seed_from_u64(stream_seed(seed, INIT_STREAM));
    let layers: Box<L> = mimic::boxed(init, &mut rng);
    match recipe.teaching {
        Teaching::Labels { smoothing: 0.0 } => fit(
            Network::new(layers, CrossEntropy),
            data.inputs,
            data.classes,
            recipe,
            eval,
            (seed, cores),
        ),
        Teaching::Labels { smoothing } => fit(
            Network::new(layers, LabelSmoothing::new(smoothing)),
            data.inputs,
            data.classes,
            recipe,
            eval,
            (seed, cores),
        ),
        Teaching::Kd { temperature, alpha } => {
            // The teacher's softened distribution is worked out once per target,
            // not at every step of every epoch (same loss and gradient, bit for bit).
            let loss = Distillation::new(temperature, alpha);
            let soft: Vec<SoftTarget<10>> = teacher(data)?
                .iter()
                .zip(data.classes)
                .map(|(&logits, &class)| SoftTarget { logits, class })
                .collect();
            let prepared = loss.prepare(&soft);
            drop(soft);
            fit(
                Network::new(layers, loss.prepared()),
                data.inputs,
                &prepared,
                recipe,
                eval,
                (seed, cores),
            )
        }
        Teaching::Mse => fit(
            Network::new(layers, Mse),
            data.inputs,
            teacher(data)?,
            recipe,
            eval,
            (seed, cores),
        ),
    }
}

/// A network that takes a 1×28×28 image: the sparse rows are made dense once
/// for the run (the network's input is a view of them, not a copy per step).
/// Only the labels teach it (it is a teacher).
fn run_images<L>(
    recipe: &Recipe,
    data: &TrainData<'_>,
    eval: &Eval<'_>,
    seed: u64,
    cores: Cores,
) -> Result<Outputs, TrainError>
where
    L: Train<Input = Image<1, 28, 28>, Output = [f32; 10]> + Initialize + Sync,
{
    let Teaching::Labels { smoothing: 0.0 } = recipe.teaching else {
        // The study asks an image network only for labels; anything else is
        // the study's bug, reported rather than panicked on.
        return Err(TrainError::Setting {
            name: "teaching of an image network",
            value: f32::NAN,
            expected: "the labels, without smoothing",
        });
    };
    let dense = |rows: &SparseRows<PIXELS>| -> Vec<[f32; PIXELS]> {
        rows.iter().map(|row| row.to_dense()).collect()
    };
    let fit_rows = dense(data.inputs);
    let (validation, test) = (dense(eval.validation), dense(eval.test));
    // A teacher's transfer set is its training set: no second copy.
    let also = eval
        .also
        .filter(|&x| !std::ptr::eq(x, data.inputs))
        .map(dense);
    fn images(rows: &[[f32; PIXELS]]) -> &[Image<1, 28, 28>] {
        mimic::images::<1, 28, 28, PIXELS>(rows)
    }
    let eval = Eval {
        validation: images(&validation),
        test: images(&test),
        also: eval
            .also
            .map(|_| images(also.as_deref().unwrap_or(&fit_rows))),
    };
    let mut rng = Pcg64::seed_from_u64(stream_seed(seed, INIT_STREAM));
    let layers: Box<L> = mimic::boxed(Initializer::He, &mut rng);
    fit(
        Network::new(layers, CrossEntropy),
        images(&fit_rows),
        data.classes,
        recipe,
        &eval,
        (seed, cores),
    )
}

fn teacher<'a>(data: &TrainData<'a>) -> Result<&'a [[f32; 10]], TrainError> {
    // A recipe that needs a teacher without one is the study's bug, not the
    // data's; it is reported as an empty training set rather than a panic.
    data.teacher.ok_or(TrainError::LengthMismatch {
        inputs: data.inputs.len(),
        targets: 0,
    })
}

fn fit<L, F, X>(
    mut network: Network<Box<L>, F>,
    inputs: &X,
    targets: &[F::Target],
    recipe: &Recipe,
    eval: &Eval<'_, X>,
    (seed, cores): (u64, Cores),
) -> Result<Outputs, TrainError>
where
    L: Train<Output = [f32; 10]> + Initialize + Sync,
    F: Loss<[f32; 10]> + Sync,
    F::Target: Sized + Sync,
    X: InputsOf<Box<L>> + ?Sized,
{
    match recipe.optim {
        Optim::SeedSgd => {
            let schedule = Schedule::new(Sgd::new(recipe.learning_rate)).epochs(recipe.epochs);
            network.fit(inputs, targets, &schedule)?;
        }
        Optim::Adam | Optim::AdamConstant | Optim::AdamConstantFanIn => {
            let rate = if recipe.optim == Optim::Adam {
                RateSchedule::Cosine {
                    warmup: 0,
                    floor: 0.0,
                }
            } else {
                RateSchedule::Constant
            };
            let schedule = Schedule::new(Adam::new(recipe.learning_rate))
                .epochs(recipe.epochs)
                .batch_size(64)
                .rate_schedule(rate)
                .shuffled(stream_seed(seed, ORDER_STREAM))
                .threads(cores.threads)
                .parts(cores.parts);
            network.fit(inputs, targets, &schedule)?;
        }
    }
    Ok(Outputs {
        validation: network.forward_batch(eval.validation, 1),
        test: network.forward_batch(eval.test, 1),
        also: eval
            .also
            .map_or_else(Vec::new, |x| network.forward_batch(x, 1)),
    })
}
