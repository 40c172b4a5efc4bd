//! The teachers every question needs, trained first (in parallel, each with the
//! selection seed): one teacher per condition, shared by every student seed.

use super::data::Split;
use super::jobs::{Tracker, parallel};
use super::recipe::{Optim, Recipe, Teaching};
use super::score::{Truth, score, validation_accuracy};
use super::search::{Phase, Run, work};
use super::train::{Eval, Net, TrainData, train};
use super::{Prepared, StudyConfig};
use crate::experiment::Samples;

/// A trained teacher: its logits on the fit split (the transfer set) and on the
/// test set, and its run.
pub struct Teacher {
    /// Logits for every fit image.
    pub fit: Vec<[f32; 10]>,
    /// Logits for every test image.
    pub test: Vec<[f32; 10]>,
    /// Its run (scores included), or `None` if it diverged.
    pub run: Run,
}

/// Which teacher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// 784→256→256→10 on every clean label.
    Strong,
    /// The same on the noisy labels.
    Noisy,
    /// The same on the `k`-th labelled subset only.
    Limited(usize),
    /// The seed's teacher, trained the seed's way.
    Seed,
    /// The seed's teacher shape with Adam at a constant rate for `epochs`
    /// epochs, with logits out or the seed's LeakyReLU(0.1) output.
    Reference {
        /// Logits out (else LeakyReLU(0.1)).
        logits: bool,
        /// Epochs.
        epochs: usize,
    },
}

/// The strong teacher's recipe: Adam at 0.001 with cosine decay, `epochs` epochs.
pub fn strong_recipe(epochs: usize) -> Recipe {
    Recipe {
        teaching: Teaching::Labels { smoothing: 0.0 },
        learning_rate: 0.001,
        epochs,
        optim: Optim::Adam,
    }
}

/// The reference ablation's recipe: Adam at a constant 0.001 (PyTorch's default).
pub fn reference_recipe(teaching: Teaching, epochs: usize) -> Recipe {
    Recipe {
        teaching,
        learning_rate: 0.001,
        epochs,
        optim: Optim::AdamConstant,
    }
}

/// Every teacher, in the order of `which`.
pub fn train_all(
    which: &[Which],
    split: &Split,
    prepared: &Prepared,
    config: &StudyConfig,
    tracker: &mut Tracker<'_>,
) -> Vec<Teacher> {
    let jobs: Vec<(Which, Net, Recipe)> =
        which.iter().map(|&w| plan(w, prepared, config)).collect();
    let weight =
        |&(w, net, r): &(Which, Net, Recipe)| work(net, &r, data(w, split, prepared).inputs.len());
    parallel(
        config.threads,
        &jobs,
        weight,
        tracker,
        |&(w, net, recipe)| {
            let start = std::time::Instant::now();
            let data = data(w, split, prepared);
            let eval = Eval {
                validation: &split.validation.inputs,
                test: &split.test.inputs,
                also: Some(&split.fit.inputs),
            };
            let truth = Truth {
                validation: if w == Which::Noisy {
                    &prepared.noisy_validation
                } else {
                    &split.validation.classes
                },
                test: &split.test.classes,
                teacher_test: None,
                correct_class: None,
            };
            let outputs = train(net, &recipe, &data, &eval, config.selection_seed);
            let (validation, test, fit, test_logits) = match outputs {
                Ok(o) => (
                    Some(validation_accuracy(&o, &truth)),
                    Some(score(&o, &truth)),
                    o.also,
                    o.test,
                ),
                Err(_) => (None, None, Vec::new(), Vec::new()),
            };
            Teacher {
                fit,
                test: test_logits,
                run: Run {
                    question: question(w),
                    condition: condition(w, config),
                    net,
                    arm: "teacher",
                    recipe,
                    phase: Phase::Final,
                    seed: config.selection_seed,
                    validation,
                    test,
                    seconds: start.elapsed().as_secs_f64(),
                },
            }
        },
    )
}

/// Planned work of training `which`.
pub fn planned(which: &[Which], split: &Split, prepared: &Prepared, config: &StudyConfig) -> f64 {
    which
        .iter()
        .map(|&w| {
            let (_, net, r) = plan(w, prepared, config);
            work(net, &r, data(w, split, prepared).inputs.len())
        })
        .sum()
}

fn plan(w: Which, prepared: &Prepared, config: &StudyConfig) -> (Which, Net, Recipe) {
    let labels = Teaching::Labels { smoothing: 0.0 };
    match w {
        Which::Strong | Which::Noisy => (w, Net::Strong, strong_recipe(config.teacher_epochs)),
        Which::Limited(k) => {
            // A quarter of the full teacher's sample-steps, however few the labels.
            let n = prepared.labelled[k].len().max(1);
            let epochs = (config.teacher_epochs * prepared.fit_len).div_ceil(4 * n);
            (
                w,
                Net::Strong,
                strong_recipe(epochs.max(config.teacher_epochs)),
            )
        }
        Which::Seed => (
            w,
            Net::SeedTeacher,
            Recipe {
                teaching: labels,
                learning_rate: 0.03,
                epochs: 1,
                optim: Optim::SeedSgd,
            },
        ),
        Which::Reference { logits, epochs } => (
            w,
            if logits {
                Net::TeacherLogits
            } else {
                Net::SeedTeacher
            },
            reference_recipe(labels, epochs),
        ),
    }
}

fn data<'a>(w: Which, split: &'a Split, prepared: &'a Prepared) -> TrainData<'a> {
    let (inputs, classes): (&Samples, &[usize]) = match w {
        Which::Noisy => (&split.fit, &prepared.noisy_fit),
        Which::Limited(k) => (&prepared.labelled[k], &prepared.labelled[k].classes),
        _ => (&split.fit, &split.fit.classes),
    };
    TrainData {
        inputs: &inputs.inputs,
        classes,
        teacher: None,
    }
}

fn question(w: Which) -> &'static str {
    match w {
        Which::Strong => "compression",
        Which::Noisy => "label noise",
        Which::Limited(_) => "limited labels",
        Which::Seed => "seed",
        Which::Reference { .. } => "reference",
    }
}

fn condition(w: Which, config: &StudyConfig) -> String {
    match w {
        Which::Noisy => format!("{:.0}% noise", 100.0 * config.noise),
        Which::Limited(k) => format!("{} labels", config.label_budgets[k]),
        Which::Reference { logits, epochs } => reference_condition(logits, epochs),
        _ => String::new(),
    }
}

/// "LeakyReLU output, 10 epochs" or "logits output, 20 epochs".
pub fn reference_condition(logits: bool, epochs: usize) -> String {
    let output = if logits { "logits" } else { "LeakyReLU" };
    format!("{output} output, {epochs} epochs")
}
