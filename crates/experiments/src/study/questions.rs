//! The study's questions as tables of comparisons: which networks, which methods,
//! what each trains on, and the candidate settings each may choose from. Every
//! table gives the methods it compares the same number of candidates.

use super::data::Split;
use super::recipe::{Optim, Recipe, Teaching, grid};
use super::score::Truth;
use super::search::{Arm, Cell};
use super::teachers::{Teacher, reference_recipe};
use super::train::{Net, TrainData};
use super::{Prepared, StudyConfig};

/// Adam rates searched by every student method.
pub const RATES: [f32; 2] = [0.001, 0.003];
/// Temperatures searched by KD.
pub const TEMPERATURES: [f32; 4] = [1.0, 2.0, 4.0, 8.0];
/// Soft weights searched by KD.
pub const ALPHAS: [f32; 2] = [0.5, 1.0];
/// Label smoothing searched by direct training.
pub const SMOOTHINGS: [f32; 4] = [0.0, 0.05, 0.1, 0.2];
/// The seed protocol's rates (per-sample SGD).
pub const SEED_RATES: [f32; 5] = [0.001, 0.003, 0.01, 0.03, 0.1];
/// The arm of a compression table that distils from the convolutional teacher.
pub const KD_CNN: &str = "kd (CNN teacher)";
/// The students of the compression question, smallest first.
pub const STUDENTS: [Net; 3] = [Net::Linear, Net::Hidden16, Net::Hidden32];

fn kd_grid(epochs: usize, alphas: &[f32]) -> Vec<Recipe> {
    let teachings: Vec<Teaching> = alphas
        .iter()
        .flat_map(|&alpha| TEMPERATURES.map(|temperature| Teaching::Kd { temperature, alpha }))
        .collect();
    grid(&RATES, &teachings, &[epochs], Optim::Adam)
}

fn direct_grid(smoothings: &[f32], epochs: &[usize]) -> Vec<Recipe> {
    let teachings = smoothings
        .iter()
        .map(|&smoothing| Teaching::Labels { smoothing });
    grid(&RATES, &teachings.collect::<Vec<_>>(), epochs, Optim::Adam)
}

fn labels<'a>(split: &'a Split, classes: &'a [usize]) -> TrainData<'a> {
    TrainData {
        inputs: &split.fit.inputs,
        classes,
        teacher: None,
    }
}

fn taught<'a>(split: &'a Split, classes: &'a [usize], teacher: &'a Teacher) -> TrainData<'a> {
    TrainData {
        inputs: &split.fit.inputs,
        classes,
        teacher: Some(&teacher.fit),
    }
}

fn truth<'a>(split: &'a Split, validation: &'a [usize], teacher: &'a Teacher) -> Truth<'a> {
    Truth {
        validation,
        test: &split.test.classes,
        teacher_test: Some(&teacher.test),
        correct_class: None,
    }
}

/// The seed's question in the seed's protocol (one pass in file order, per-sample
/// SGD): its 784→10 student by MSE against its teacher's outputs, and the same
/// network on the labels; 5 rates each.
pub fn seed<'a>(split: &'a Split, teacher: &'a Teacher) -> Vec<Cell<'a>> {
    let classes = &split.fit.classes;
    let rates = |teaching| grid(&SEED_RATES, &[teaching], &[1], Optim::SeedSgd);
    vec![Cell {
        question: "seed",
        condition: String::new(),
        net: Net::SeedStudent,
        arms: vec![
            Arm {
                name: "direct",
                grid: rates(Teaching::Labels { smoothing: 0.0 }),
                data: labels(split, classes),
                teacher_test: None,
            },
            Arm {
                name: "mse",
                grid: rates(Teaching::Mse),
                data: taught(split, classes, teacher),
                teacher_test: None,
            },
        ],
        truth: truth(split, &split.validation.classes, teacher),
    }]
}

/// Compression: each smaller student distilled from the strong teacher, and
/// from the convolutional one, against the same network on the labels. KD
/// chooses among T × α × rate (16) from either teacher; direct among ε × epochs
/// (the base budget or twice it) × rate (16).
pub fn compression<'a>(
    split: &'a Split,
    teacher: &'a Teacher,
    cnn: &'a Teacher,
    config: &StudyConfig,
) -> Vec<Cell<'a>> {
    let labels = (&split.fit.classes[..], &split.validation.classes[..]);
    STUDENTS
        .iter()
        .map(|&net| {
            let mut cell = budget_matched(
                "compression",
                String::new(),
                net,
                split,
                labels,
                teacher,
                config,
            );
            cell.arms.push(Arm {
                name: KD_CNN,
                grid: kd_grid(config.epochs, &ALPHAS),
                data: taught(split, labels.0, cnn),
                teacher_test: Some(&cnn.test),
            });
            cell
        })
        .collect()
}

/// Direct against KD on `net`, both trained on the fit split with `labels`
/// (fit, validation), KD from `teacher`: 16 candidates each.
fn budget_matched<'a>(
    question: &'static str,
    condition: String,
    net: Net,
    split: &'a Split,
    (fit, validation): (&'a [usize], &'a [usize]),
    teacher: &'a Teacher,
    config: &StudyConfig,
) -> Cell<'a> {
    let e = config.epochs;
    Cell {
        question,
        condition,
        net,
        arms: vec![
            Arm {
                name: "direct",
                grid: direct_grid(&SMOOTHINGS, &[e, 2 * e]),
                data: labels(split, fit),
                teacher_test: None,
            },
            Arm {
                name: "kd",
                grid: kd_grid(e, &ALPHAS),
                data: taught(split, fit, teacher),
                teacher_test: None,
            },
        ],
        truth: truth(split, validation, teacher),
    }
}

/// Limited labels: 784→32→10 on `n` labelled images, against the same network
/// distilled (α = 1) over the whole fit split from a teacher trained on the same
/// `n`. Both get the same sample-steps at most: direct chooses among ε × {¼, all}
/// of them × rate (8), KD among T × rate (8); both on `n / 5` validation labels
/// ([`few_label_validation`]).
pub fn limited<'a>(
    split: &'a Split,
    prepared: &'a Prepared,
    teachers: &[&'a Teacher],
    config: &StudyConfig,
) -> Vec<Cell<'a>> {
    let steps = config.epochs * prepared.fit_len;
    prepared
        .labelled
        .iter()
        .zip(teachers)
        .zip(&config.label_budgets)
        .map(|((labelled, &teacher), &n)| {
            let all = steps.div_ceil(n.max(1));
            Cell {
                question: "limited labels",
                condition: format!("{n} labels"),
                net: Net::Hidden32,
                arms: vec![
                    Arm {
                        name: "direct",
                        grid: direct_grid(&[0.0, 0.1], &[all.div_ceil(4), all]),
                        data: TrainData {
                            inputs: &labelled.inputs,
                            classes: &labelled.classes,
                            teacher: None,
                        },
                        teacher_test: None,
                    },
                    Arm {
                        name: "kd",
                        grid: kd_grid(config.epochs, &[1.0]),
                        data: taught(split, &split.fit.classes, teacher),
                        teacher_test: None,
                    },
                ],
                truth: truth(
                    split,
                    few_label_validation(&split.validation.classes, n),
                    teacher,
                ),
            }
        })
        .collect()
}

/// The validation labels a question with `n` labelled images chooses its settings
/// on: the first `n / 5` of the validation split (at least one), so that its
/// tuning uses a fifth more labels than the scenario has, not ten times more.
pub fn few_label_validation(validation: &[usize], n: usize) -> &[usize] {
    &validation[..(n / 5).max(1).min(validation.len())]
}

/// Label noise: 784→32→10 on noisy labels, against the same distilled from a
/// teacher trained on those noisy labels (its CE term sees them too); choices on
/// a validation split whose labels are just as noisy; the test set is clean.
pub fn noise<'a>(
    split: &'a Split,
    prepared: &'a Prepared,
    teacher: &'a Teacher,
    config: &StudyConfig,
) -> Vec<Cell<'a>> {
    let labels = (&prepared.noisy_fit[..], &prepared.noisy_validation[..]);
    let condition = format!("{:.0}% noise", 100.0 * config.noise);
    vec![budget_matched(
        "label noise",
        condition,
        Net::Hidden32,
        split,
        labels,
        teacher,
        config,
    )]
}

/// Hinton et al.'s omitted class: 784→32→10 trained on a transfer set with no
/// 3s, by KD from the strong teacher and directly, each with the setting the
/// compression question chose for it; then 3's bias raised by the amount that
/// maximises validation accuracy. A method whose choice is not known (`None`: a
/// part of a sharded study that does not run it) has nothing to run.
pub fn omitted<'a>(
    prepared: &'a Prepared,
    split: &'a Split,
    teacher_logits: &'a [[f32; 10]],
    teacher: &'a Teacher,
    direct: Option<Recipe>,
    kd: Option<Recipe>,
) -> Vec<Cell<'a>> {
    let data = |teacher| TrainData {
        inputs: &prepared.no_threes.inputs,
        classes: &prepared.no_threes.classes,
        teacher,
    };
    vec![Cell {
        question: "omitted class",
        condition: "no 3s in the transfer set".into(),
        net: Net::Hidden32,
        arms: vec![
            Arm {
                name: "direct",
                grid: direct.into_iter().collect(),
                data: data(None),
                teacher_test: None,
            },
            Arm {
                name: "kd",
                grid: kd.into_iter().collect(),
                data: data(Some(teacher_logits)),
                teacher_test: None,
            },
        ],
        truth: Truth {
            correct_class: Some(3),
            ..truth(split, &split.validation.classes, teacher)
        },
    }]
}

/// One variant of the reference ablation, changed one factor at a time from the
/// seed's shapes towards what a PyTorch script does by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Variant {
    /// Logits out (`nn.Linear`), or the seed's LeakyReLU(0.1) on the output.
    pub logits: bool,
    /// Epochs, as a multiple of the study's base budget.
    pub epoch_factor: usize,
    /// Train on all training images (fit + validation), as a script that only
    /// reports test accuracy does; else on the fit split.
    pub all_images: bool,
    /// PyTorch's initialisation variance, else He's.
    pub fan_in_init: bool,
}

/// The variants, one factor changed at each step.
pub const VARIANTS: [Variant; 6] = [
    Variant {
        logits: false,
        epoch_factor: 1,
        all_images: false,
        fan_in_init: false,
    },
    Variant {
        logits: false,
        epoch_factor: 2,
        all_images: false,
        fan_in_init: false,
    },
    Variant {
        logits: true,
        epoch_factor: 1,
        all_images: false,
        fan_in_init: false,
    },
    Variant {
        logits: true,
        epoch_factor: 1,
        all_images: true,
        fan_in_init: false,
    },
    Variant {
        logits: true,
        epoch_factor: 1,
        all_images: true,
        fan_in_init: true,
    },
    Variant {
        logits: false,
        epoch_factor: 2,
        all_images: true,
        fan_in_init: true,
    },
];

impl Variant {
    /// "logits out, 10 epochs, 60,000 images, fan-in init" etc.
    pub fn name(&self, config: &StudyConfig, fit: usize, all: usize) -> String {
        format!(
            "{} out, {} epochs, {} images, {} init",
            if self.logits { "logits" } else { "LeakyReLU" },
            self.epoch_factor * config.epochs,
            if self.all_images { all } else { fit },
            if self.fan_in_init { "fan-in" } else { "He" }
        )
    }

    /// Its optimiser.
    pub fn optim(&self) -> Optim {
        if self.fan_in_init {
            Optim::AdamConstantFanIn
        } else {
            Optim::AdamConstant
        }
    }

    /// The images it trains on.
    pub fn images<'a>(&self, split: &'a Split) -> &'a crate::experiment::Samples {
        if self.all_images {
            &split.all
        } else {
            &split.fit
        }
    }
}

/// The reference ablation: the seed's shapes with Adam at a constant 0.001, batch
/// 64, for the figures a PyTorch run gave (direct, KD T=1 and T=4 at α = 1, MSE
/// logit matching), in every [`VARIANTS`] entry; `teachers` are the variants'
/// teachers, in order.
pub fn reference<'a>(
    split: &'a Split,
    teachers: &[&'a Teacher],
    config: &StudyConfig,
) -> Vec<Cell<'a>> {
    VARIANTS
        .iter()
        .zip(teachers)
        .map(|(variant, &teacher)| {
            let images = variant.images(split);
            let epochs = variant.epoch_factor * config.epochs;
            let arm = |name, teaching| Arm {
                name,
                grid: vec![Recipe {
                    optim: variant.optim(),
                    ..reference_recipe(teaching, epochs)
                }],
                data: TrainData {
                    inputs: &images.inputs,
                    classes: &images.classes,
                    teacher: Some(&teacher.fit),
                },
                teacher_test: None,
            };
            let kd = |temperature| Teaching::Kd {
                temperature,
                alpha: 1.0,
            };
            Cell {
                question: "reference",
                condition: variant.name(config, split.fit.len(), split.all.len()),
                net: if variant.logits {
                    Net::Linear
                } else {
                    Net::SeedStudent
                },
                arms: vec![
                    arm("direct", Teaching::Labels { smoothing: 0.0 }),
                    arm("kd", kd(1.0)),
                    arm("kd T=4", kd(4.0)),
                    arm("mse", Teaching::Mse),
                ],
                truth: truth(split, &split.validation.classes, teacher),
            }
        })
        .collect()
}
