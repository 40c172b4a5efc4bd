//! The distillation study: does a student distilled from a teacher beat the same
//! network trained directly on the labels — and where?
//!
//! Every question is a table of comparisons ([`questions`]): a network, the
//! methods compared on it, what each trains on and the candidate settings it may
//! choose from — the same number of candidates for every method a table
//! compares. Each candidate is trained with the selection seed and judged on a
//! validation split held out of the training set; the best (plus one step past
//! any edge of the grid it lands on) is then trained with every final seed, and
//! only those runs are scored on the test set ([`search`]). One seed fixes a
//! network's initialisation and the order of its data, so the methods' runs of a
//! seed are paired. [`report`] turns the runs into intervals, tests and plots.

pub mod analysis;
mod config;
pub mod data;
pub mod jobs;
mod plots;
pub mod questions;
pub mod recipe;
pub mod report;
pub mod score;
pub mod search;
pub mod stats;
pub mod teachers;
pub mod train;

pub use config::StudyConfig;
pub use jobs::Progress;
pub use search::{Phase, Run};

use mimic_mnist::Dataset;

use crate::experiment::Samples;
use data::Split;
use jobs::Tracker;
use search::search_and_finish;
use teachers::Which;

/// The data variants the questions train on, made once.
pub struct Prepared {
    /// Images in the fit split.
    pub fit_len: usize,
    /// The fit split's labels with symmetric noise.
    pub noisy_fit: Vec<usize>,
    /// The validation split's labels with the same noise.
    pub noisy_validation: Vec<usize>,
    /// For each label budget, that many fit images with their labels.
    pub labelled: Vec<Samples>,
    /// Indices of the fit images that are not 3s.
    pub no_threes_index: Vec<usize>,
    /// Those images.
    pub no_threes: Samples,
}

const NOISE_STREAM: u64 = 21;
const SUBSET_STREAM: u64 = 22;

impl Prepared {
    fn new(split: &Split, config: &StudyConfig) -> Self {
        use crate::experiment::stream_seed;
        let seed = config.selection_seed;
        let noise = |classes: &[usize], part| {
            data::noisy_labels(
                classes,
                config.noise,
                stream_seed(seed, NOISE_STREAM + part),
            )
        };
        let no_threes_index = data::without_class(&split.fit, 3);
        Self {
            fit_len: split.fit.len(),
            noisy_fit: noise(&split.fit.classes, 0),
            noisy_validation: noise(&split.validation.classes, 100),
            labelled: config
                .label_budgets
                .iter()
                .map(|&n| {
                    let keep = data::subset(split.fit.len(), n, stream_seed(seed, SUBSET_STREAM));
                    data::select(&split.fit, &keep)
                })
                .collect(),
            no_threes: data::select(&split.fit, &no_threes_index),
            no_threes_index,
        }
    }
}

/// Runs the whole study; `progress` hears after every run (from this thread).
pub fn run(
    train: &Dataset,
    test: &Dataset,
    config: &StudyConfig,
    progress: &mut dyn FnMut(Progress),
) -> Vec<Run> {
    let split = Split::new(train, test, config.train_limit, config.validation);
    let prepared = Prepared::new(&split, config);
    let budgets = config.label_budgets.len();
    let mut which = vec![Which::Strong, Which::Noisy, Which::Seed];
    which.extend((0..questions::VARIANTS.len()).map(Which::Reference));
    which.extend((0..budgets).map(Which::Limited));
    // Strong teachers first so the two cores share the longest runs.
    which.sort_by_key(|w| !matches!(w, Which::Strong | Which::Noisy));
    let seeds = &config.seeds;

    // Plan the work before any of it, so the bar's ETA means something. The
    // omitted-class runs are planned at the direct arm's longest setting.
    let planned_teachers = teachers::planned(&which, &split, &prepared, config);
    let mut tracker_total = planned_teachers;
    let placeholder = teachers::Teacher {
        fit: Vec::new(),
        test: Vec::new(),
        run: empty_run(),
    };
    let limited_placeholders = vec![&placeholder; budgets];
    tracker_total += search::planned(&questions::seed(&split, &placeholder), seeds.len());
    tracker_total += search::planned(
        &questions::compression(&split, &placeholder, config),
        seeds.len(),
    );
    tracker_total += search::planned(
        &questions::limited(&split, &prepared, &limited_placeholders, config),
        config.coarse_seeds.len(),
    );
    tracker_total += search::planned(
        &questions::noise(&split, &prepared, &placeholder, config),
        seeds.len(),
    );
    let placeholder_variants = vec![&placeholder; questions::VARIANTS.len()];
    tracker_total += search::planned(
        &questions::reference(&split, &placeholder_variants, config),
        config.reference_seeds.len(),
    );
    let omitted_work = 2.0
        * config.coarse_seeds.len() as f64
        * search::work(
            train::Net::Hidden32,
            &recipe::Recipe {
                epochs: 2 * config.epochs,
                ..teachers::strong_recipe(1)
            },
            prepared.no_threes.len(),
        );
    tracker_total += omitted_work;
    let mut tracker = Tracker::new(tracker_total, progress);

    let trained = teachers::train_all(&which, &split, &prepared, config, &mut tracker);
    let teacher = |w: Which| {
        let k = which.iter().position(|&x| x == w).unwrap_or(0);
        &trained[k]
    };
    let limited_teachers: Vec<&teachers::Teacher> =
        (0..budgets).map(|k| teacher(Which::Limited(k))).collect();
    let mut runs: Vec<Run> = trained.iter().map(|t| t.run.clone()).collect();

    let strong = teacher(Which::Strong);
    let split_eval = (&split.validation, &split.test);
    let mut cells = questions::seed(&split, teacher(Which::Seed));
    cells.extend(questions::compression(&split, strong, config));
    cells.extend(questions::noise(
        &split,
        &prepared,
        teacher(Which::Noisy),
        config,
    ));
    let (selection, threads) = (config.selection_seed, config.threads);
    runs.extend(search_and_finish(
        &cells,
        split_eval,
        selection,
        seeds,
        threads,
        &mut tracker,
    ));
    // Differences expected to be a point or more: `coarse_seeds` (20 unless a
    // faster run asks for fewer; the report then claims nothing under 0.5 points).
    let limited = questions::limited(&split, &prepared, &limited_teachers, config);
    runs.extend(search_and_finish(
        &limited,
        split_eval,
        selection,
        &config.coarse_seeds,
        threads,
        &mut tracker,
    ));
    let teacher_variants: Vec<_> = (0..questions::VARIANTS.len())
        .map(|k| teacher(Which::Reference(k)))
        .collect();
    let reference = questions::reference(&split, &teacher_variants, config);
    runs.extend(search_and_finish(
        &reference,
        split_eval,
        selection,
        &config.reference_seeds,
        threads,
        &mut tracker,
    ));

    // The omitted class takes the compression question's choices for 784→32→10.
    let chosen = |arm: &str| {
        runs.iter()
            .find(|r| {
                r.question == "compression"
                    && r.phase == Phase::Final
                    && r.net == train::Net::Hidden32
                    && r.arm == arm
            })
            .map(|r| r.recipe)
    };
    if let (Some(direct), Some(kd)) = (chosen("direct"), chosen("kd")) {
        let logits: Vec<[f32; 10]> = prepared
            .no_threes_index
            .iter()
            .filter_map(|&k| strong.fit.get(k).copied())
            .collect();
        if logits.len() == prepared.no_threes.len() {
            let cells = questions::omitted(&prepared, &split, &logits, strong, direct, kd);
            let coarse = &config.coarse_seeds;
            tracker.plan_more(search::planned(&cells, coarse.len()) - omitted_work);
            runs.extend(search_and_finish(
                &cells,
                split_eval,
                selection,
                coarse,
                threads,
                &mut tracker,
            ));
        }
    }
    runs
}

fn empty_run() -> Run {
    Run {
        question: "",
        condition: String::new(),
        net: train::Net::Strong,
        arm: "teacher",
        recipe: teachers::strong_recipe(0),
        phase: Phase::Final,
        seed: 0,
        validation: None,
        test: None,
        seconds: 0.0,
    }
}
