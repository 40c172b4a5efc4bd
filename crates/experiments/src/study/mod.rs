//! The distillation study: can a 784→10 student distilled from the teacher beat
//! the same network trained directly on the labels?
//!
//! For each protocol (the seed's single pass of per-sample SGD, and a tuned one with
//! epochs, mini-batches and momentum), every network — the teacher, and each student
//! size trained directly, by the seed's MSE logit matching, or by Hinton's KD over a
//! grid of temperatures and weights — gets the same budget and the same learning-rate
//! search: each candidate rate is tried with the first seed, judged on a validation
//! split held out of the training set (never on the test set), and the best rate is
//! then run for every seed. Only those final runs are scored on the test set.

pub mod report;
pub mod stats;
mod svg;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rand::SeedableRng;
use rand_pcg::Pcg64;

pub use report::{Summary, summarize, write_outputs};

use mimic::{
    CrossEntropy, Distillation, Initialize, Initializer, Loss, Momentum, Mse, Network, Schedule,
    SoftTarget, SparseTrain, TrainError, accuracy as agreement,
};
use mimic_mnist::{Dataset, PIXELS, Scaling};

use crate::experiment::Samples;
use crate::models::{Student, StudentHidden16, StudentHidden32, Teacher};

/// How networks are trained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// The seed's, for everyone: one pass in file order, per-sample SGD, the seed's
    /// initialisation — teacher included.
    Seed,
    /// Students under the seed's protocol, learning from the tuned protocol's
    /// teacher: a small network trained cheaply from a well-trained large one.
    SeedStrongTeacher,
    /// Several epochs, shuffled, mini-batches of 32, momentum 0.9, decaying rate, He init.
    Tuned,
}

impl Protocol {
    /// All three.
    pub const ALL: [Protocol; 3] = [Protocol::Seed, Protocol::SeedStrongTeacher, Protocol::Tuned];

    /// A short name for tables and file names.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Seed => "seed",
            Protocol::SeedStrongTeacher => "seed-strong-teacher",
            Protocol::Tuned => "tuned",
        }
    }

    /// The protocol the teacher is trained under.
    pub fn teacher_protocol(self) -> Protocol {
        match self {
            Protocol::Seed => Protocol::Seed,
            Protocol::SeedStrongTeacher | Protocol::Tuned => Protocol::Tuned,
        }
    }

    fn schedule(self, config: &StudyConfig, seed: u64) -> Schedule<Momentum> {
        match self {
            // Momentum 0 is plain SGD: the seed's per-sample path.
            Protocol::Seed | Protocol::SeedStrongTeacher => Schedule::seed().momentum(0.0),
            Protocol::Tuned => Schedule::epochs(config.tuned_epochs)
                .batch_size(32)
                .momentum(0.9)
                .decay(0.85)
                .shuffled(seed),
        }
    }

    fn initializer(self) -> Initializer {
        match self {
            Protocol::Seed | Protocol::SeedStrongTeacher => Initializer::Seed,
            Protocol::Tuned => Initializer::He,
        }
    }

    /// The learning rates searched.
    pub fn learning_rates(self) -> &'static [f32] {
        match self {
            Protocol::Seed | Protocol::SeedStrongTeacher => &[0.001, 0.003, 0.01, 0.03, 0.1],
            Protocol::Tuned => &[0.003, 0.01, 0.03, 0.1, 0.3],
        }
    }
}

/// The student architectures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Size {
    /// 784→10, the seed's student.
    Linear,
    /// 784→16→10.
    Hidden16,
    /// 784→32→10.
    Hidden32,
}

impl Size {
    /// All sizes, smallest first.
    pub const ALL: [Size; 3] = [Size::Linear, Size::Hidden16, Size::Hidden32];

    /// "784→10" etc.
    pub fn name(self) -> &'static str {
        match self {
            Size::Linear => "784→10",
            Size::Hidden16 => "784→16→10",
            Size::Hidden32 => "784→32→10",
        }
    }
}

/// What a student learns from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// Cross-entropy on the labels: no teacher.
    Direct,
    /// The seed's MSE against the teacher's output vector.
    Mse,
    /// Hinton's KD at temperature `T` with soft weight `alpha`.
    Kd {
        /// Temperature.
        temperature: f32,
        /// Weight of the soft term.
        alpha: f32,
    },
}

impl Method {
    /// "direct", "mse", "kd T=2 α=0.5".
    pub fn name(self) -> String {
        match self {
            Method::Direct => "direct".into(),
            Method::Mse => "mse".into(),
            Method::Kd { temperature, alpha } => format!("kd T={temperature} α={alpha}"),
        }
    }
}

/// Who a run trained.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Subject {
    /// The 784→16→16→10 teacher.
    Teacher,
    /// A student.
    Student(Size, Method),
}

/// Whether a run chose a learning rate or measured a final result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Learning-rate search on the validation split.
    Search,
    /// A final run, scored on the test set.
    Final,
}

/// The study's knobs.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyConfig {
    /// Seeds of the final runs; the first also drives the search.
    pub seeds: Vec<u64>,
    /// Protocols to run.
    pub protocols: Vec<Protocol>,
    /// Student sizes.
    pub sizes: Vec<Size>,
    /// Temperatures of the KD grid.
    pub temperatures: Vec<f32>,
    /// Soft weights of the KD grid.
    pub alphas: Vec<f32>,
    /// Samples held out of the training set for validation.
    pub validation: usize,
    /// Use only the first `n` training samples (before the validation split), for quick runs.
    pub train_limit: Option<usize>,
    /// Epochs of the tuned protocol.
    pub tuned_epochs: usize,
    /// Worker threads (results do not depend on it).
    pub threads: usize,
    /// The command line that produced the study, quoted in the report.
    pub command: String,
}

impl Default for StudyConfig {
    fn default() -> Self {
        Self {
            seeds: vec![1, 2, 3, 4, 5],
            protocols: Protocol::ALL.to_vec(),
            sizes: Size::ALL.to_vec(),
            temperatures: vec![1.0, 2.0, 4.0, 8.0],
            alphas: vec![0.5, 1.0],
            validation: 10_000,
            train_limit: None,
            tuned_epochs: 15,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            command: String::new(),
        }
    }
}

impl StudyConfig {
    /// Every method: direct, MSE, then KD over the grid.
    pub fn methods(&self) -> Vec<Method> {
        let mut methods = vec![Method::Direct, Method::Mse];
        for &alpha in &self.alphas {
            for &temperature in &self.temperatures {
                methods.push(Method::Kd { temperature, alpha });
            }
        }
        methods
    }

    /// Whether the study can run on `training` images: some seeds and epochs, and
    /// more training images (after `train_limit`) than the validation split holds
    /// out — otherwise the searches would train on nothing and still report.
    pub fn check(&self, training: usize) -> Result<(), String> {
        let available = self.train_limit.map_or(training, |n| n.min(training));
        if self.seeds.is_empty() || self.tuned_epochs == 0 {
            return Err("expected at least one seed and one epoch".into());
        }
        if available <= self.validation {
            return Err(format!(
                "{available} training images, but the study holds out {} for validation: expected more training images than that",
                self.validation
            ));
        }
        Ok(())
    }
}

/// One training run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// Protocol.
    pub protocol: Protocol,
    /// Search or final.
    pub phase: Phase,
    /// Teacher or which student.
    pub subject: Subject,
    /// Its learning rate.
    pub learning_rate: f32,
    /// Its seed.
    pub seed: u64,
    /// Accuracy on the validation split, or the divergence.
    pub validation_accuracy: Result<f32, TrainError>,
    /// Accuracy on the test set (final runs only).
    pub test_accuracy: Option<f32>,
    /// How often it predicts the teacher's class on the test set (final student runs).
    pub fidelity: Option<f32>,
    /// Wall time of the run.
    pub seconds: f64,
}

/// Progress of a long study: `done` of `total` runs, and the last one finished.
pub struct Progress<'a> {
    /// Runs finished.
    pub done: usize,
    /// Runs in all.
    pub total: usize,
    /// The run just finished.
    pub last: &'a RunResult,
}

/// The data every run shares: searches train on `fit` and are judged on
/// `validation`; final runs train on `full` (the two together) and are judged on `test`.
struct Split {
    fit: Samples,
    validation: Samples,
    full: Samples,
    test: Samples,
}

impl Split {
    fn training(&self, phase: Phase) -> &Samples {
        match phase {
            Phase::Search => &self.fit,
            Phase::Final => &self.full,
        }
    }
}

/// A seed's teacher, as its students need it.
struct TeacherOutputs {
    logits: Vec<[f32; 10]>,
    soft: Vec<SoftTarget<10>>,
    test_predictions: Vec<usize>,
}

/// Runs the whole study. `progress` is called after every run (from this thread).
pub fn run(
    train: &Dataset,
    test: &Dataset,
    config: &StudyConfig,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Vec<RunResult> {
    let limited = config
        .train_limit
        .map_or_else(|| train.clone(), |n| train.truncated(n));
    let (fit_set, validation) = limited.split_off_last(config.validation);
    let split = Split {
        full: Samples::new(&limited, Scaling::Divide255),
        fit: Samples::new(&fit_set, Scaling::Divide255),
        validation: Samples::new(&validation, Scaling::Divide255),
        test: Samples::new(test, Scaling::Divide255),
    };
    let methods = config.methods();
    let students = config.sizes.len() * methods.len();
    let total: usize = config
        .protocols
        .iter()
        .map(|p| {
            p.teacher_protocol().learning_rates().len()
                + p.learning_rates().len() * students
                + config.seeds.len() * (1 + students)
        })
        .sum();
    let mut done = 0;
    let mut report = |r: &RunResult| {
        done += 1;
        progress(Progress {
            done,
            total,
            last: r,
        });
    };
    let mut results = Vec::with_capacity(total);
    for &protocol in &config.protocols {
        results.extend(run_protocol(
            protocol,
            &split,
            config,
            &methods,
            &mut report,
        ));
    }
    results
}

fn run_protocol(
    protocol: Protocol,
    split: &Split,
    config: &StudyConfig,
    methods: &[Method],
    report: &mut dyn FnMut(&RunResult),
) -> Vec<RunResult> {
    let search_seed = config.seeds.first().copied().unwrap_or(1);
    let teacher_protocol = protocol.teacher_protocol();
    // The teacher's rate on the search seed (trained on the fit split), then one
    // teacher per seed at that rate (trained on the full training set).
    let rates = teacher_protocol.learning_rates();
    let search_teachers = Mutex::new(Vec::new());
    let searched = parallel(config.threads, rates, report, |&lr| {
        let (result, outputs) = train_teacher(
            teacher_protocol,
            protocol,
            split,
            config,
            lr,
            search_seed,
            Phase::Search,
        );
        lock(&search_teachers).push((lr, outputs));
        result
    });
    let teacher_rate = best_rate(&searched);
    let mut results = searched;
    let search_teachers = search_teachers
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    let Some((_, search_teacher)) = search_teachers.iter().find(|(lr, _)| *lr == teacher_rate)
    else {
        return results;
    };
    let seeds = &config.seeds;
    let teachers = Mutex::new(Vec::new());
    results.extend(parallel(config.threads, seeds, report, |&seed| {
        let (result, outputs) = train_teacher(
            teacher_protocol,
            protocol,
            split,
            config,
            teacher_rate,
            seed,
            Phase::Final,
        );
        lock(&teachers).push((seed, outputs));
        result
    }));
    let teachers = teachers.into_inner().unwrap_or_else(|e| e.into_inner());
    // Each student's rate on the search seed, then every seed at that rate.
    let rates = protocol.learning_rates();
    for &size in &config.sizes {
        let jobs: Vec<(Method, f32)> = methods
            .iter()
            .flat_map(|&m| rates.iter().map(move |&lr| (m, lr)))
            .collect();
        let searched = parallel(config.threads, &jobs, report, |&(method, lr)| {
            let job = StudentJob {
                protocol,
                size,
                method,
                learning_rate: lr,
                seed: search_seed,
                phase: Phase::Search,
            };
            train_student(&job, split, config, search_teacher)
        });
        let finals: Vec<(Method, f32, u64)> = methods
            .iter()
            .flat_map(|&m| {
                let tried: Vec<RunResult> = searched
                    .iter()
                    .filter(|r| r.subject == Subject::Student(size, m))
                    .cloned()
                    .collect();
                let lr = best_rate(&tried);
                seeds.iter().map(move |&s| (m, lr, s))
            })
            .collect();
        results.extend(searched);
        results.extend(parallel(
            config.threads,
            &finals,
            report,
            |&(method, lr, seed)| {
                let job = StudentJob {
                    protocol,
                    size,
                    method,
                    learning_rate: lr,
                    seed,
                    phase: Phase::Final,
                };
                let teacher = teachers
                    .iter()
                    .find(|(s, _)| *s == seed)
                    .map_or(search_teacher, |(_, t)| t);
                train_student(&job, split, config, teacher)
            },
        ));
    }
    results
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The rate with the best validation accuracy (the smallest on ties; diverged runs lose).
fn best_rate(runs: &[RunResult]) -> f32 {
    let score = |r: &RunResult| r.validation_accuracy.clone().unwrap_or(-1.0);
    runs.iter()
        .fold(None::<&RunResult>, |best, r| match best {
            Some(b) if score(b) >= score(r) => Some(b),
            _ => Some(r),
        })
        .map_or(0.01, |r| r.learning_rate)
}

/// Runs `work` on every job over `threads` workers, reporting each result as it
/// arrives; returns the results in job order (independent of scheduling).
fn parallel<J: Sync>(
    threads: usize,
    jobs: &[J],
    report: &mut dyn FnMut(&RunResult),
    work: impl Fn(&J) -> RunResult + Sync,
) -> Vec<RunResult> {
    let next = AtomicUsize::new(0);
    let (send, receive) = std::sync::mpsc::channel();
    let mut slots: Vec<Option<RunResult>> = vec![None; jobs.len()];
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, jobs.len().max(1)) {
            let send = send.clone();
            let (next, work) = (&next, &work);
            // Large networks and their gradient buffers live on the stack.
            let spawned = std::thread::Builder::new()
                .stack_size(32 << 20)
                .spawn_scoped(scope, move || {
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(k) else { break };
                        if send.send((k, work(job))).is_err() {
                            break;
                        }
                    }
                });
            if spawned.is_err() {
                break; // fewer workers; the jobs still get done by those that started
            }
        }
        drop(send);
        for (k, result) in receive {
            report(&result);
            slots[k] = Some(result);
        }
    });
    slots.into_iter().flatten().collect()
}

/// Trains a teacher under `trained_as`, recorded under the study protocol `recorded_as`.
fn train_teacher(
    trained_as: Protocol,
    recorded_as: Protocol,
    split: &Split,
    config: &StudyConfig,
    learning_rate: f32,
    seed: u64,
    phase: Phase,
) -> (RunResult, TeacherOutputs) {
    let start = Instant::now();
    let mut teacher: Network<Teacher, _> =
        Network::seeded_with(trained_as.initializer(), seed, CrossEntropy, learning_rate);
    let training = split.training(phase);
    let schedule = trained_as.schedule(config, seed);
    let trained = teacher.fit(&training.inputs, &training.classes, &schedule);
    let validation = &split.validation;
    let validation_accuracy =
        trained.map(|_| teacher.accuracy(&validation.inputs, &validation.classes));
    let logits = teacher.forward_batch(&training.inputs);
    let soft = logits
        .iter()
        .zip(&training.classes)
        .map(|(&logits, &class)| SoftTarget { logits, class })
        .collect();
    let test_predictions = teacher.predict_batch(&split.test.inputs);
    let test_accuracy =
        (phase == Phase::Final).then(|| teacher.accuracy(&split.test.inputs, &split.test.classes));
    let result = RunResult {
        protocol: recorded_as,
        phase,
        subject: Subject::Teacher,
        learning_rate,
        seed,
        validation_accuracy,
        test_accuracy,
        fidelity: None,
        seconds: start.elapsed().as_secs_f64(),
    };
    (
        result,
        TeacherOutputs {
            logits,
            soft,
            test_predictions,
        },
    )
}

struct StudentJob {
    protocol: Protocol,
    size: Size,
    method: Method,
    learning_rate: f32,
    seed: u64,
    phase: Phase,
}

fn train_student(
    job: &StudentJob,
    split: &Split,
    config: &StudyConfig,
    teacher: &TeacherOutputs,
) -> RunResult {
    match job.size {
        Size::Linear => train_sized::<Student>(job, split, config, teacher),
        Size::Hidden16 => train_sized::<StudentHidden16>(job, split, config, teacher),
        Size::Hidden32 => train_sized::<StudentHidden32>(job, split, config, teacher),
    }
}

fn train_sized<L>(
    job: &StudentJob,
    split: &Split,
    config: &StudyConfig,
    teacher: &TeacherOutputs,
) -> RunResult
where
    L: SparseTrain<PIXELS, Output = [f32; 10]> + Initialize + Sync,
{
    let start = Instant::now();
    // Every method starts a given seed from the same weights.
    let layers = L::initialize(
        job.protocol.initializer(),
        &mut Pcg64::seed_from_u64(job.seed ^ 0x5EED),
    );
    let schedule = job.protocol.schedule(config, job.seed);
    let lr = job.learning_rate;
    let (validation, test, predicted) = match job.method {
        Method::Direct => score(
            Network::new(layers, CrossEntropy, lr),
            &split.training(job.phase).classes,
            split,
            job.phase,
            &schedule,
        ),
        Method::Mse => score(
            Network::new(layers, Mse, lr),
            &teacher.logits,
            split,
            job.phase,
            &schedule,
        ),
        Method::Kd { temperature, alpha } => score(
            Network::new(layers, Distillation::new(temperature, alpha), lr),
            &teacher.soft,
            split,
            job.phase,
            &schedule,
        ),
    };
    let is_final = job.phase == Phase::Final;
    RunResult {
        protocol: job.protocol,
        phase: job.phase,
        subject: Subject::Student(job.size, job.method),
        learning_rate: lr,
        seed: job.seed,
        validation_accuracy: validation,
        test_accuracy: test.filter(|_| is_final),
        fidelity: predicted
            .filter(|_| is_final)
            .map(|p| agreement(&p, &teacher.test_predictions)),
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// Trains, then measures validation accuracy, test accuracy and test predictions.
fn score<L, F>(
    mut network: Network<L, F>,
    targets: &[F::Target],
    split: &Split,
    phase: Phase,
    schedule: &Schedule<Momentum>,
) -> (Result<f32, TrainError>, Option<f32>, Option<Vec<usize>>)
where
    L: SparseTrain<PIXELS, Output = [f32; 10]> + Initialize + Sync,
    F: Loss<[f32; 10]> + Sync,
    F::Target: Sized,
{
    match network.fit(&split.training(phase).inputs, targets, schedule) {
        Ok(_) => (
            Ok(network.accuracy(&split.validation.inputs, &split.validation.classes)),
            Some(network.accuracy(&split.test.inputs, &split.test.classes)),
            Some(network.predict_batch(&split.test.inputs)),
        ),
        Err(e) => (Err(e), None, None),
    }
}
