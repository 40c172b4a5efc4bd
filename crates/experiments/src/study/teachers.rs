//! The teachers every question needs, trained first (in parallel, each with the
//! selection seed): one teacher per condition, shared by every student seed.

use super::data::Split;
use super::jobs::{Tracker, parallel};
use super::questions::VARIANTS;
use super::recipe::{Optim, Recipe, Teaching};
use super::score::{Truth, score, validation_accuracy};
use super::search::{Phase, Run, work};
use super::train::{Cores, Eval, Net, TrainData, train};
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
    /// The seed's teacher shape in the `k`-th variant of the reference ablation.
    Reference(usize),
    /// The convolutional teacher ([`crate::models::CnnTeacher`]) on every clean
    /// label.
    Cnn,
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

/// The convolutional teacher's recipe: Adam at 0.004 with cosine decay,
/// `epochs` epochs. The rate was chosen on pipeline 0's validation split (4
/// epochs at 0.001, 0.002, 0.004: 98.76, 98.96, 99.12%; 6 epochs at 0.002:
/// 98.99%).
pub fn cnn_recipe(epochs: usize) -> Recipe {
    Recipe {
        learning_rate: 0.004,
        ..strong_recipe(epochs)
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
        |&(w, net, recipe), cores| {
            let start = std::time::Instant::now();
            let data = data(w, split, prepared);
            let eval = Eval {
                validation: &split.validation.inputs,
                test: &split.test.inputs,
                also: Some(transfer(w, split)),
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
            let cores = Cores {
                threads: cores,
                parts: config.parts,
            };
            let outputs = train(net, &recipe, &data, &eval, config.selection_seed, cores);
            // A teacher trained on the validation split has no validation score.
            let held_out =
                !matches!(w, Which::Reference(k) if VARIANTS[k % VARIANTS.len()].all_images);
            let (validation, test, fit, test_logits) = match outputs {
                Ok(o) => (
                    held_out.then(|| validation_accuracy(&o, &truth)),
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
                    pipeline: 0,
                    question: question(w),
                    condition: condition(w, config, split),
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
        Which::Cnn => (w, Net::Cnn, cnn_recipe(config.cnn_epochs)),
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
        Which::Reference(k) => {
            let v = VARIANTS[k % VARIANTS.len()];
            let recipe = Recipe {
                optim: v.optim(),
                ..reference_recipe(labels, v.epoch_factor * config.epochs)
            };
            let net = if v.logits {
                Net::TeacherLogits
            } else {
                Net::SeedTeacher
            };
            (w, net, recipe)
        }
    }
}

fn data<'a>(w: Which, split: &'a Split, prepared: &'a Prepared) -> TrainData<'a> {
    let (inputs, classes): (&Samples, &[usize]) = match w {
        Which::Noisy => (&split.fit, &prepared.noisy_fit),
        Which::Limited(k) => (&prepared.labelled[k], &prepared.labelled[k].classes),
        Which::Reference(k) => {
            let images = VARIANTS[k % VARIANTS.len()].images(split);
            (images, &images.classes)
        }
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
        Which::Strong | Which::Cnn => "compression",
        Which::Noisy => "label noise",
        Which::Limited(_) => "limited labels",
        Which::Seed => "seed",
        Which::Reference(_) => "reference",
    }
}

fn condition(w: Which, config: &StudyConfig, split: &Split) -> String {
    match w {
        Which::Noisy => format!("{:.0}% noise", 100.0 * config.noise),
        Which::Limited(k) => format!("{} labels", config.label_budgets[k]),
        Which::Reference(k) => {
            VARIANTS[k % VARIANTS.len()].name(config, split.fit.len(), split.all.len())
        }
        _ => String::new(),
    }
}

/// The inputs a teacher's logits are wanted for: the set its students train on.
fn transfer(w: Which, split: &Split) -> &mimic::SparseRows<{ mimic_mnist::PIXELS }> {
    match w {
        Which::Reference(k) => &VARIANTS[k % VARIANTS.len()].images(split).inputs,
        _ => &split.fit.inputs,
    }
}
