//! The seed's experiments, end to end: the 784→10 benchmark trained on labels, and
//! the teacher–student run (a 784→16→16→10 teacher, then 784→10 students that
//! mimic its output vector with MSE).
//!
//! Each returns a report with every accuracy and the wall time of every phase;
//! examples decide how to print it.

use std::time::Instant;

use rand::SeedableRng;
use rand_pcg::Pcg64;

use crate::data::Dataset;
use crate::init::{Initialize, Initializer};
use crate::loss::{CrossEntropy, Mse};
use crate::models::{Student, Teacher};
use crate::network::Network;
use crate::sparse::Scaling;
use crate::training::{Samples, TrainError, accuracy, outputs, train_epoch};

/// A network of the experiment failed to train.
#[derive(Clone, Debug, PartialEq)]
pub struct ExperimentError {
    /// Which network: "teacher", "benchmark", ….
    pub network: &'static str,
    /// What went wrong, and at which sample.
    pub source: TrainError,
}

impl std::fmt::Display for ExperimentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the {} could not be trained: {}",
            self.network, self.source
        )
    }
}

impl std::error::Error for ExperimentError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The seed's six student learning rates.
pub const STUDENT_LEARNING_RATES: [f32; 6] = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3];

/// Everything that defines a run: same configuration and data ⇒ identical report
/// (apart from times).
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Seeds every random number (network initialisations).
    pub seed: u64,
    /// Passes over the training set, for every network.
    pub epochs: usize,
    /// The teacher's SGD step (the seed: 0.03).
    pub teacher_learning_rate: f32,
    /// One student per learning rate (the seed: [`STUDENT_LEARNING_RATES`]).
    pub student_learning_rates: Vec<f32>,
    /// The directly trained 784→10 benchmark's step (the seed: 0.001).
    pub benchmark_learning_rate: f32,
    /// Threads for the students (results do not depend on it).
    pub threads: usize,
    /// How pixels become inputs (the seed: divided by 255).
    pub scaling: Scaling,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            seed: 42,
            epochs: 1,
            teacher_learning_rate: 0.03,
            student_learning_rates: STUDENT_LEARNING_RATES.to_vec(),
            benchmark_learning_rate: 0.001,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            scaling: Scaling::Divide255,
        }
    }
}

/// The wall time of one named phase.
#[derive(Clone, Debug, PartialEq)]
pub struct Phase {
    /// What was done, e.g. "teacher training".
    pub name: &'static str,
    /// How long it took.
    pub seconds: f64,
}

/// Records phases in order.
#[derive(Debug, Default)]
pub struct Stopwatch {
    phases: Vec<Phase>,
}

impl Stopwatch {
    /// Runs `work`, recording its wall time as `name`.
    pub fn time<T>(&mut self, name: &'static str, work: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let result = work();
        self.phases.push(Phase {
            name,
            seconds: start.elapsed().as_secs_f64(),
        });
        result
    }

    /// The phases recorded so far.
    pub fn into_phases(self) -> Vec<Phase> {
        self.phases
    }
}

/// A network trained on labels: the benchmark, or the teacher.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassifierOutcome {
    /// Test accuracy of the freshly initialised network.
    pub accuracy_before: f32,
    /// Test accuracy after training.
    pub accuracy: f32,
    /// Mean training loss of each epoch.
    pub epoch_losses: Vec<f64>,
}

/// One student.
#[derive(Clone, Debug, PartialEq)]
pub struct StudentOutcome {
    /// Its SGD step.
    pub learning_rate: f32,
    /// Its test accuracy, or where its training diverged.
    pub result: Result<f32, TrainError>,
}

/// Everything the teacher–student run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct TeacherStudentReport {
    /// The configuration that produced it.
    pub config: Config,
    /// The 784→16→16→10 teacher.
    pub teacher: ClassifierOutcome,
    /// The 784→10 students, in the configuration's order.
    pub students: Vec<StudentOutcome>,
    /// The same 784→10 network trained directly on labels.
    pub benchmark: ClassifierOutcome,
    /// Wall time of each phase, in order.
    pub phases: Vec<Phase>,
    /// The trained (or loaded) teacher, e.g. to save.
    pub teacher_network: Network<Teacher, CrossEntropy>,
    /// Whether the teacher was given rather than trained.
    pub teacher_loaded: bool,
}

/// A generator for one named part of a run, so that (for example) every student
/// starts from the same weights whatever else the run draws.
pub fn stream(seed: u64, part: u64) -> Pcg64 {
    Pcg64::seed_from_u64(seed ^ part.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

const TEACHER_STREAM: u64 = 1;
const STUDENT_STREAM: u64 = 2;

/// Trains a classifier on the labels for `epochs` passes (the seed's order) and
/// measures it before and after, each step recorded in `watch` under `label`.
pub fn train_classifier<L>(
    network: &mut Network<L, CrossEntropy>,
    train: &Samples,
    test: &Samples,
    epochs: usize,
    watch: &mut Stopwatch,
    names: [&'static str; 3],
) -> Result<ClassifierOutcome, TrainError>
where
    L: crate::module::SparseTrain<{ crate::data::PIXELS }, Output = [f32; 10]>,
{
    let [before_name, train_name, eval_name] = names;
    let accuracy_before = watch.time(before_name, || accuracy(network, test));
    let targets = train.class_targets();
    let epoch_losses = watch.time(train_name, || {
        (0..epochs)
            .map(|epoch| {
                train_epoch(network, &train.images, &targets, None, epoch).map(|s| s.mean_loss)
            })
            .collect::<Result<Vec<_>, _>>()
    })?;
    let accuracy = watch.time(eval_name, || accuracy(network, test));
    Ok(ClassifierOutcome {
        accuracy_before,
        accuracy,
        epoch_losses,
    })
}

/// Lists both sets' nonzero pixels once, scaled as configured.
fn prepare(
    train: &Dataset,
    test: &Dataset,
    config: &Config,
    watch: &mut Stopwatch,
) -> (Samples, Samples) {
    watch.time("listing nonzero pixels", || {
        (
            Samples::with_scaling(train, config.scaling),
            Samples::with_scaling(test, config.scaling),
        )
    })
}

/// The 784→10 benchmark alone: LeakyReLU, cross-entropy on labels.
pub fn benchmark(
    train: &Dataset,
    test: &Dataset,
    config: &Config,
    watch: &mut Stopwatch,
) -> Result<ClassifierOutcome, ExperimentError> {
    let (train, test) = prepare(train, test, config, watch);
    benchmark_prepared(&train, &test, config, watch)
}

fn benchmark_prepared(
    train: &Samples,
    test: &Samples,
    config: &Config,
    watch: &mut Stopwatch,
) -> Result<ClassifierOutcome, ExperimentError> {
    let mut network = Network::new(
        Student::initialize(Initializer::Seed, &mut stream(config.seed, STUDENT_STREAM)),
        CrossEntropy,
        config.benchmark_learning_rate,
    );
    train_classifier(
        &mut network,
        train,
        test,
        config.epochs,
        watch,
        [
            "benchmark evaluation before",
            "benchmark training",
            "benchmark evaluation",
        ],
    )
    .map_err(|source| ExperimentError {
        network: "784→10 benchmark",
        source,
    })
}

/// The seed's experiment: train the teacher on labels, compute its output vector
/// for every training image once, train one student per learning rate to match
/// those vectors with MSE (concurrently; the result does not depend on the number of
/// threads), and train the benchmark on labels. Every 784→10 network starts from
/// the same weights, so they differ only in what they learn from.
///
/// A diverging student is reported in its [`StudentOutcome`]; a diverging teacher or
/// benchmark is an error.
pub fn teacher_student(
    train: &Dataset,
    test: &Dataset,
    config: &Config,
) -> Result<TeacherStudentReport, ExperimentError> {
    teacher_student_with(train, test, config, None)
}

/// [`teacher_student`], with an already trained teacher if `pretrained` is given:
/// its training is skipped and its accuracy measured again.
pub fn teacher_student_with(
    train: &Dataset,
    test: &Dataset,
    config: &Config,
    pretrained: Option<Network<Teacher, CrossEntropy>>,
) -> Result<TeacherStudentReport, ExperimentError> {
    let mut watch = Stopwatch::default();
    let (train, test) = prepare(train, test, config, &mut watch);
    let (train, test) = (&train, &test);
    let teacher_loaded = pretrained.is_some();
    let (teacher, teacher_outcome) = match pretrained {
        Some(teacher) => {
            let measured = watch.time("teacher evaluation", || accuracy(&teacher, test));
            let outcome = ClassifierOutcome {
                accuracy_before: measured,
                accuracy: measured,
                epoch_losses: Vec::new(),
            };
            (teacher, outcome)
        }
        None => train_teacher(train, test, config, &mut watch)?,
    };
    let targets = watch.time("teacher outputs", || outputs(&teacher, &train.images));
    let initial = Student::initialize(Initializer::Seed, &mut stream(config.seed, STUDENT_STREAM));
    let students = watch.time("students training and evaluation", || {
        train_students(&initial, train, test, &targets, config)
    });
    let benchmark = benchmark_prepared(train, test, config, &mut watch)?;
    Ok(TeacherStudentReport {
        config: config.clone(),
        teacher: teacher_outcome,
        students,
        benchmark,
        phases: watch.into_phases(),
        teacher_network: teacher,
        teacher_loaded,
    })
}

/// The seed's teacher, trained on the labels.
fn train_teacher(
    train: &Samples,
    test: &Samples,
    config: &Config,
    watch: &mut Stopwatch,
) -> Result<(Network<Teacher, CrossEntropy>, ClassifierOutcome), ExperimentError> {
    let mut teacher: Network<Teacher, CrossEntropy> = Network::new(
        Teacher::initialize(Initializer::Seed, &mut stream(config.seed, TEACHER_STREAM)),
        CrossEntropy,
        config.teacher_learning_rate,
    );
    let outcome = train_classifier(
        &mut teacher,
        train,
        test,
        config.epochs,
        watch,
        [
            "teacher evaluation before",
            "teacher training",
            "teacher evaluation",
        ],
    )
    .map_err(|source| ExperimentError {
        network: "teacher",
        source,
    })?;
    Ok((teacher, outcome))
}

/// Trains one student per learning rate on `targets`, spread over `config.threads`.
fn train_students(
    initial: &Student,
    train: &Samples,
    test: &Samples,
    targets: &[[f32; 10]],
    config: &Config,
) -> Vec<StudentOutcome> {
    let train_one = |learning_rate: f32| {
        let mut student = Network::new(initial.clone(), Mse, learning_rate);
        let result = (0..config.epochs)
            .try_for_each(|epoch| {
                train_epoch(&mut student, &train.images, targets, None, epoch).map(drop)
            })
            .map(|()| accuracy(&student, test));
        StudentOutcome {
            learning_rate,
            result,
        }
    };
    let rates = &config.student_learning_rates;
    let threads = config.threads.clamp(1, rates.len().max(1));
    let mut outcomes: Vec<Option<StudentOutcome>> = vec![None; rates.len()];
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let train_one = &train_one;
                scope.spawn(move || {
                    (t..rates.len())
                        .step_by(threads)
                        .map(|k| (k, train_one(rates[k])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for worker in workers {
            // A worker only panics if training code has a bug; re-raise it here.
            for (k, outcome) in worker
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e))
            {
                outcomes[k] = Some(outcome);
            }
        }
    });
    outcomes.into_iter().flatten().collect()
}

impl ClassifierOutcome {
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "accuracy_before": self.accuracy_before,
            "accuracy": self.accuracy,
            "epoch_losses": self.epoch_losses,
        })
    }
}

impl TeacherStudentReport {
    /// The configuration, every accuracy and every phase time, as pretty JSON.
    pub fn to_json(&self) -> String {
        let students: Vec<_> = self
            .students
            .iter()
            .map(|s| match &s.result {
                Ok(accuracy) => serde_json::json!({
                    "learning_rate": s.learning_rate,
                    "accuracy": accuracy,
                }),
                Err(error) => serde_json::json!({
                    "learning_rate": s.learning_rate,
                    "accuracy": null,
                    "error": error.to_string(),
                }),
            })
            .collect();
        let value = serde_json::json!({
            "throughput": self.throughput_json(),
            "isa": format!("{:?}", crate::kernels::Isa::current()),
            "experiment": "teacher_student",
            "teacher_loaded": self.teacher_loaded,
            "config": config_json(&self.config),
            "teacher": self.teacher.to_json(),
            "students": students,
            "benchmark": self.benchmark.to_json(),
            "phases": phases_json(&self.phases),
            "total_seconds": self.phases.iter().map(|p| p.seconds).sum::<f64>(),
        });
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }
}

/// Dense-equivalent FLOP of one teacher training step: forward 2·12,960, weight
/// update 2·12,960, input gradients of the two upper layers 2·416. (MNIST's zero
/// pixels make the work actually done about a fifth of the first layer's share.)
pub const TEACHER_STEP_FLOP: f64 = 52_672.0;
/// Dense-equivalent FLOP of one 784→10 training step: forward and update, 2·2·7,840.
pub const STUDENT_STEP_FLOP: f64 = 31_360.0;

impl TeacherStudentReport {
    /// Steps per second and dense-equivalent GFLOP/s of each training phase.
    fn throughput_json(&self) -> serde_json::Value {
        let samples = 60_000.0 * self.config.epochs as f64;
        let phase = |name: &str| {
            self.phases
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.seconds)
        };
        let rate = |name: &str, steps: f64, flop: f64| {
            phase(name).map(|s| {
                serde_json::json!({
                    "phase": name,
                    "steps": steps,
                    "microseconds_per_step": 1e6 * s / steps,
                    "steps_per_second": steps / s,
                    "dense_equivalent_gflops": steps * flop / s / 1e9,
                })
            })
        };
        let students = samples * self.students.len() as f64;
        serde_json::json!([
            rate("teacher training", samples, TEACHER_STEP_FLOP),
            rate(
                "students training and evaluation",
                students,
                STUDENT_STEP_FLOP
            ),
            rate("benchmark training", samples, STUDENT_STEP_FLOP),
        ])
    }
}

/// The benchmark's report as pretty JSON (for the `mnist_small` example).
pub fn benchmark_json(config: &Config, outcome: &ClassifierOutcome, phases: &[Phase]) -> String {
    let value = serde_json::json!({
        "experiment": "mnist_small",
        "config": config_json(config),
        "benchmark": outcome.to_json(),
        "phases": phases_json(phases),
        "total_seconds": phases.iter().map(|p| p.seconds).sum::<f64>(),
    });
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

fn config_json(config: &Config) -> serde_json::Value {
    serde_json::json!({
        "seed": config.seed,
        "epochs": config.epochs,
        "teacher_learning_rate": config.teacher_learning_rate,
        "student_learning_rates": config.student_learning_rates,
        "benchmark_learning_rate": config.benchmark_learning_rate,
        "threads": config.threads,
        "scaling": format!("{:?}", config.scaling),
    })
}

fn phases_json(phases: &[Phase]) -> serde_json::Value {
    phases
        .iter()
        .map(|p| serde_json::json!({ "name": p.name, "seconds": p.seconds }))
        .collect()
}
