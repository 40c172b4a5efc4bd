//! The seed's experiments, as steps a reader can follow: prepare MNIST, train the
//! 784→16→16→10 teacher on the labels, record its output vector for every
//! training image, train 784→10 students to reproduce those vectors (MSE), and
//! train the same 784→10 network directly on the labels (the benchmark).
//!
//! Each step is a `mimic` call (`Network::fit`, `forward_batch`, `accuracy`);
//! what this module adds is the seed's choices — its initialisation, its learning
//! rates, which generator each network draws from — and a report of every
//! accuracy and the wall time of every phase.

use std::time::Instant;

use mimic::{CrossEntropy, Initializer, Mse, Network, Schedule, Sgd, SparseRows, TrainError};
use mimic_mnist::{Dataset, PIXELS, Scaling, SparseDataset};

use crate::json::number;
use crate::models::{Student, Teacher};

/// The seed's six student learning rates.
pub const STUDENT_LEARNING_RATES: [f32; 6] = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3];
/// The teacher's learning rate in the seed.
pub const TEACHER_LEARNING_RATE: f32 = 0.03;
/// The benchmark's learning rate in the seed.
pub const BENCHMARK_LEARNING_RATE: f32 = 0.001;

/// A data set as the networks take it: nonzero pixels, scaled, and class indices.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Samples {
    /// The images, nonzero pixels only.
    pub inputs: SparseRows<PIXELS>,
    /// Their classes, 0–9.
    pub classes: Vec<usize>,
}

impl Samples {
    /// Lists every image's nonzero pixels once, scaled as `scaling` says.
    pub fn new(data: &Dataset, scaling: Scaling) -> Self {
        Self {
            inputs: data.sparse_inputs(scaling),
            classes: data.classes(),
        }
    }

    /// Samples loaded straight into nonzero pixels ([`SparseDataset`]).
    pub fn from_sparse(data: SparseDataset) -> Self {
        let classes = data.classes();
        Self {
            inputs: data.into_parts().0,
            classes,
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.classes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }
}

/// The seed a part of a run draws from, so that (for example) every student
/// starts from the same weights whatever else the run draws.
pub fn stream_seed(seed: u64, part: u64) -> u64 {
    seed ^ part.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

const TEACHER_STREAM: u64 = 1;
const STUDENT_STREAM: u64 = 2;

/// The original program's untrained teacher: its initialisation, cross-entropy
/// (trained at [`TEACHER_LEARNING_RATE`]).
pub fn seed_teacher(seed: u64) -> Network<Teacher, CrossEntropy> {
    Network::seeded_with(
        Initializer::Original,
        stream_seed(seed, TEACHER_STREAM),
        CrossEntropy,
    )
}

/// The weights every 784→10 network of a run starts from (students and benchmark).
pub fn seed_student(seed: u64) -> Student {
    Network::<Student, Mse>::seeded_with(
        Initializer::Original,
        stream_seed(seed, STUDENT_STREAM),
        Mse,
    )
    .layers
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

/// Trains a classifier on the labels for `epochs` passes in file order (the seed's
/// per-sample SGD) and measures it on `test` before and after, timing the three
/// as the phases "`name` evaluation before", "`name` training" and "`name`
/// evaluation".
pub fn train_classifier<L>(
    network: &mut Network<L, CrossEntropy>,
    name: &str,
    train: &Samples,
    test: &Samples,
    epochs: usize,
    learning_rate: f32,
    watch: &mut Stopwatch,
) -> Result<ClassifierOutcome, TrainError>
where
    L: mimic::module::SparseTrain<PIXELS, Output = [f32; 10]> + mimic::Initialize + Sync,
{
    let accuracy_before = watch.time(format!("{name} evaluation before"), || {
        network.accuracy(&test.inputs, &test.classes)
    });
    let schedule = Schedule::new(Sgd::new(learning_rate)).epochs(epochs);
    let stats = watch.time(format!("{name} training"), || {
        network.fit(&train.inputs, &train.classes, &schedule)
    })?;
    let accuracy = watch.time(format!("{name} evaluation"), || {
        network.accuracy(&test.inputs, &test.classes)
    });
    Ok(ClassifierOutcome {
        accuracy_before,
        accuracy,
        epoch_losses: stats.iter().map(|s| s.mean_loss).collect(),
    })
}

/// One student.
#[derive(Clone, Debug, PartialEq)]
pub struct StudentOutcome {
    /// Its SGD step.
    pub learning_rate: f32,
    /// Its test accuracy, or where its training diverged.
    pub result: Result<f32, TrainError>,
}

/// Trains one student per learning rate from `initial` towards the teacher's
/// `targets` (MSE, `epochs` passes in file order), spread over `threads` threads
/// (the results do not depend on how many), and scores each on `test`.
pub fn train_students(
    initial: &Student,
    learning_rates: &[f32],
    train: &Samples,
    targets: &[[f32; 10]],
    test: &Samples,
    epochs: usize,
    threads: usize,
) -> Vec<StudentOutcome> {
    let train_one = |learning_rate: f32| {
        let mut student = Network::new(initial.clone(), Mse);
        let result = student
            .fit(
                &train.inputs,
                targets,
                &Schedule::new(Sgd::new(learning_rate)).epochs(epochs),
            )
            .map(|_| student.accuracy(&test.inputs, &test.classes));
        StudentOutcome {
            learning_rate,
            result,
        }
    };
    let threads = threads.clamp(1, learning_rates.len().max(1));
    let mut outcomes: Vec<Option<StudentOutcome>> = vec![None; learning_rates.len()];
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let train_one = &train_one;
                scope.spawn(move || {
                    (t..learning_rates.len())
                        .step_by(threads)
                        .map(|k| (k, train_one(learning_rates[k])))
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

/// The wall time of one named phase.
#[derive(Clone, Debug, PartialEq)]
pub struct Phase {
    /// What was done, e.g. "teacher training".
    pub name: String,
    /// How long it took.
    pub seconds: f64,
    /// Whether it ran on another thread beside the phases before it (so its time
    /// is not part of the run's total).
    pub beside: bool,
}

/// The wall time of a sequence of phases: those not run beside others.
pub fn total_seconds(phases: &[Phase]) -> f64 {
    phases.iter().filter(|p| !p.beside).map(|p| p.seconds).sum()
}

/// Records phases in order.
#[derive(Debug, Default)]
pub struct Stopwatch {
    phases: Vec<Phase>,
}

impl Stopwatch {
    /// Runs `work`, recording its wall time as `name`.
    pub fn time<T>(&mut self, name: impl Into<String>, work: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let result = work();
        self.phases.push(Phase {
            name: name.into(),
            seconds: start.elapsed().as_secs_f64(),
            beside: false,
        });
        result
    }

    /// Appends the phases of `other`, which ran on another thread beside the
    /// phases recorded so far.
    pub fn beside(&mut self, other: Stopwatch) {
        self.phases.extend(
            other
                .phases
                .into_iter()
                .map(|p| Phase { beside: true, ..p }),
        );
    }

    /// The phases recorded so far.
    pub fn phases(&self) -> &[Phase] {
        &self.phases
    }
}

/// Everything the teacher–student run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct TeacherStudentReport {
    /// Seed of every initialisation.
    pub seed: u64,
    /// Passes over the training set, for every network.
    pub epochs: usize,
    /// How pixels became inputs.
    pub scaling: Scaling,
    /// Training samples used.
    pub training_samples: usize,
    /// Threads the students used.
    pub threads: usize,
    /// The 784→16→16→10 teacher (`None` if it was loaded rather than trained).
    pub teacher: ClassifierOutcome,
    /// Whether the teacher was loaded rather than trained.
    pub teacher_loaded: bool,
    /// The 784→10 students, in the order of their learning rates.
    pub students: Vec<StudentOutcome>,
    /// The same 784→10 network trained directly on labels.
    pub benchmark: ClassifierOutcome,
    /// Wall time of each phase, in order.
    pub phases: Vec<Phase>,
}

/// Dense-equivalent FLOP of one teacher training step: forward 2·12,960, weight
/// update 2·12,960, input gradients of the two upper layers 2·416. (MNIST's zero
/// pixels make the work actually done about a fifth of the first layer's share.)
pub const TEACHER_STEP_FLOP: f64 = 52_672.0;
/// Dense-equivalent FLOP of one 784→10 training step: forward and update, 2·2·7,840.
pub const STUDENT_STEP_FLOP: f64 = 31_360.0;

impl TeacherStudentReport {
    /// Every number and every phase time, as pretty JSON (numbers printed as the
    /// f32 they are).
    pub fn to_json(&self) -> String {
        let students: Vec<_> = self
            .students
            .iter()
            .map(|s| match &s.result {
                Ok(accuracy) => serde_json::json!({
                    "learning_rate": number(s.learning_rate),
                    "accuracy": number(*accuracy),
                }),
                Err(error) => serde_json::json!({
                    "learning_rate": number(s.learning_rate),
                    "accuracy": null,
                    "error": error.to_string(),
                }),
            })
            .collect();
        let value = serde_json::json!({
            "experiment": "teacher_student",
            "isa": format!("{:?}", mimic::Isa::current()),
            "config": {
                "seed": self.seed,
                "epochs": self.epochs,
                "scaling": format!("{:?}", self.scaling),
                "training_samples": self.training_samples,
                "threads": self.threads,
                "teacher_learning_rate": number(TEACHER_LEARNING_RATE),
                "student_learning_rates": self.students.iter().map(|s| number(s.learning_rate)).collect::<Vec<_>>(),
                "benchmark_learning_rate": number(BENCHMARK_LEARNING_RATE),
            },
            "teacher_loaded": self.teacher_loaded,
            "teacher": classifier_json(&self.teacher),
            "students": students,
            "benchmark": classifier_json(&self.benchmark),
            "throughput": self.throughput_json(),
            "phases": phases_json(&self.phases),
            "total_seconds": total_seconds(&self.phases),
        });
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }

    /// Steps per second and dense-equivalent GFLOP/s of each training phase,
    /// counted from the samples actually trained on.
    fn throughput_json(&self) -> serde_json::Value {
        let samples = (self.training_samples * self.epochs) as f64;
        let rate = |name: &str, steps: f64, flop: f64| {
            let seconds = self.phases.iter().find(|p| p.name == name)?.seconds;
            Some(serde_json::json!({
                "phase": name,
                "steps": steps,
                "microseconds_per_step": 1e6 * seconds / steps,
                "steps_per_second": steps / seconds,
                "dense_equivalent_gflops": steps * flop / seconds / 1e9,
            }))
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

fn classifier_json(outcome: &ClassifierOutcome) -> serde_json::Value {
    serde_json::json!({
        "accuracy_before": number(outcome.accuracy_before),
        "accuracy": number(outcome.accuracy),
        "epoch_losses": outcome.epoch_losses,
    })
}

/// Phase times as a JSON array.
pub fn phases_json(phases: &[Phase]) -> serde_json::Value {
    phases
        .iter()
        .map(|p| serde_json::json!({ "name": p.name, "seconds": p.seconds, "beside_previous": p.beside }))
        .collect()
}

/// The benchmark's report as pretty JSON (for the `mnist_small` example).
pub fn benchmark_json(
    seed: u64,
    epochs: usize,
    outcome: &ClassifierOutcome,
    phases: &[Phase],
) -> String {
    let value = serde_json::json!({
        "experiment": "mnist_small",
        "config": { "seed": seed, "epochs": epochs, "learning_rate": number(BENCHMARK_LEARNING_RATE) },
        "benchmark": classifier_json(outcome),
        "phases": phases_json(phases),
        "total_seconds": phases.iter().map(|p| p.seconds).sum::<f64>(),
    });
    serde_json::to_string_pretty(&value).unwrap_or_default()
}
