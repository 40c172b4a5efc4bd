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
//! seed are paired. All of it — selection seed, teachers, labelled subsets,
//! label noise — is repeated for each of [`StudyConfig::pipelines`], each from
//! its own seeds, so that [`analysis`] can put its intervals over whole reruns
//! of the pipeline. [`report`] turns the runs into intervals, tests and plots.
//!
//! [`shard`] divides the study into parts that run on many machines at once, each
//! written as a [`part`] file; [`merge`] puts the parts back together into the
//! runs a single process returns.

pub mod analysis;
mod config;
pub mod data;
pub mod jobs;
pub mod lanes;
pub mod merge;
pub mod part;
mod plots;
pub mod questions;
pub mod recipe;
pub mod report;
pub mod score;
pub mod search;
pub mod shard;
pub mod stats;
pub mod teachers;
pub mod train;

pub use config::{PIPELINE_STRIDE, StudyConfig};
pub use jobs::Progress;
pub use search::{Phase, Run};

use std::collections::BTreeSet;

use mimic_mnist::Dataset;

use crate::experiment::Samples;
use data::Split;
use jobs::Tracker;
use lanes::{Lane, Order};
use search::search_and_finish;
use shard::{Partition, Shard};
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
    run_share(train, test, config, Shard::WHOLE, progress)
        .runs
        .into_iter()
        .map(|(_, run)| run)
        .collect()
}

/// A part's runs, each with its place in the whole study's order and sorted by
/// it, the partition the part was cut by, and the teachers it trained.
pub struct PartRuns {
    /// Every part's share of the study.
    pub partition: Partition,
    /// This part's runs.
    pub runs: Vec<(Order, Run)>,
    /// The teachers it trained: each one's index in the study's list and its
    /// logits on the transfer set and the test set (for [`part::logits_print`]).
    pub teachers: Vec<(usize, teachers::Teacher)>,
}

/// The group of the omitted-class lanes, which run after the other three.
const OMITTED: usize = 4;

/// One repetition of the whole pipeline: its settings (seeds moved up by its
/// index), its data draws and the teachers it trains.
struct Pipeline {
    /// Its index.
    index: usize,
    /// The study's settings with this pipeline's seeds.
    config: StudyConfig,
    /// Its label noise, labelled subsets and transfer sets.
    prepared: Prepared,
    /// Its teachers, in the order they are trained.
    which: Vec<Which>,
    /// The index of its first teacher in the study's list of teachers.
    first_teacher: usize,
}

impl Pipeline {
    fn new(split: &Split, config: &StudyConfig, index: usize, first_teacher: usize) -> Self {
        let config = config.pipeline(index);
        let prepared = Prepared::new(split, &config);
        let mut which = vec![Which::Strong, Which::Noisy, Which::Cnn, Which::Seed];
        // The reference ablation compares mimic with PyTorch's recipe, not
        // distillation with direct training: it runs in the first pipeline only.
        if index == 0 {
            which.extend((0..questions::VARIANTS.len()).map(Which::Reference));
        }
        which.extend((0..config.label_budgets.len()).map(Which::Limited));
        // The longest teachers first so the two cores share the longest runs.
        which.sort_by_key(|w| !matches!(w, Which::Strong | Which::Noisy | Which::Cnn));
        Self {
            index,
            config,
            prepared,
            which,
            first_teacher,
        }
    }

    /// The study's index of this pipeline's teacher `w`.
    fn teacher_index(&self, w: Which) -> Option<usize> {
        self.which
            .iter()
            .position(|&x| x == w)
            .map(|k| self.first_teacher + k)
    }
}

/// Runs part `shard` of the study ([`shard`]): its lanes, after the teachers they
/// need, pipeline after pipeline; `progress` hears after every run (from this
/// thread). [`Shard::WHOLE`] is the whole study.
pub fn run_share(
    train: &Dataset,
    test: &Dataset,
    config: &StudyConfig,
    shard: Shard,
    progress: &mut dyn FnMut(Progress),
) -> PartRuns {
    let split = Split::new(train, test, config.train_limit, config.validation);
    let mut pipelines: Vec<Pipeline> = Vec::new();
    for p in 0..config.pipelines {
        let first = pipelines
            .last()
            .map_or(0, |l| l.first_teacher + l.which.len());
        pipelines.push(Pipeline::new(&split, config, p, first));
    }

    // Plan the work before any of it, so the bar's ETA means something and every
    // part cuts the study alike. The omitted-class runs are planned at the direct
    // arm's longest setting.
    let placeholder = teachers::Teacher {
        fit: Vec::new(),
        test: Vec::new(),
        run: empty_run(),
    };
    let mut teacher_work: Vec<f64> = Vec::new();
    let mut units_all = Vec::new();
    for pipeline in &pipelines {
        let plan =
            |&w: &Which| teachers::planned(&[w], &split, &pipeline.prepared, &pipeline.config);
        teacher_work.extend(pipeline.which.iter().map(plan));
        let omitted_plan = omitted_plan(&split, pipeline, &placeholder);
        units_all.extend(units(
            &groups(&split, pipeline, &|_| &placeholder),
            &omitted_plan,
            pipeline,
        ));
    }
    let partition = Partition::new(&units_all, &teacher_work, shard.count);
    let share = partition.share(shard.index);
    let mine: BTreeSet<Lane> = share.lanes.iter().copied().collect();
    let planned: f64 = share.trains.iter().map(|&t| teacher_work[t]).sum::<f64>()
        + units_all
            .iter()
            .filter(|u| u.lanes.iter().any(|l| mine.contains(l)))
            .map(|u| u.work)
            .sum::<f64>();
    let mut tracker = Tracker::new(planned, progress);
    let mut runs = Vec::new();
    let mut trained_all = Vec::new();
    for pipeline in &pipelines {
        let (pipeline_runs, trained) =
            run_pipeline(&split, pipeline, &share, &mine, &placeholder, &mut tracker);
        runs.extend(pipeline_runs);
        trained_all.extend(trained);
    }
    runs.sort_by_key(|&(order, _)| order);
    PartRuns {
        partition,
        runs,
        teachers: trained_all,
    }
}

/// The omitted-class cells of `pipeline` as planned before anything has run: both
/// arms at the direct arm's longest setting.
fn omitted_plan<'a>(
    split: &'a Split,
    pipeline: &'a Pipeline,
    placeholder: &'a teachers::Teacher,
) -> Vec<search::Cell<'a>> {
    let longest = recipe::Recipe {
        epochs: 2 * pipeline.config.epochs,
        ..teachers::strong_recipe(1)
    };
    questions::omitted(
        &pipeline.prepared,
        split,
        &[],
        placeholder,
        Some(longest),
        Some(longest),
    )
}

/// Teachers with their indices in the study's list.
type Trained = Vec<(usize, teachers::Teacher)>;

/// The runs of `share` in `pipeline`, and the teachers it trained there.
fn run_pipeline(
    split: &Split,
    pipeline: &Pipeline,
    share: &shard::Share,
    mine: &BTreeSet<Lane>,
    placeholder: &teachers::Teacher,
    tracker: &mut Tracker<'_>,
) -> (Vec<(Order, Run)>, Trained) {
    let (config, prepared, p) = (&pipeline.config, &pipeline.prepared, pipeline.index);
    let ours = |t: &usize| {
        (pipeline.first_teacher..pipeline.first_teacher + pipeline.which.len()).contains(t)
    };
    let train_indices: Vec<usize> = share.trains.iter().copied().filter(ours).collect();
    let trains: Vec<Which> = train_indices
        .iter()
        .map(|&t| pipeline.which[t - pipeline.first_teacher])
        .collect();
    let mut trained = teachers::train_all(&trains, split, prepared, config, tracker);
    for t in &mut trained {
        t.run.pipeline = p;
    }
    // A teacher this part does not train is needed by none of its lanes.
    let teacher = |w: Which| {
        trains
            .iter()
            .position(|&x| x == w)
            .map_or(placeholder, |k| &trained[k])
    };
    let mut runs: Vec<(Order, Run)> = share
        .reports
        .iter()
        .copied()
        .filter(ours)
        .map(|t| {
            let w = pipeline.which[t - pipeline.first_teacher];
            (Order::teacher(p, t), teacher(w).run.clone())
        })
        .collect();

    let selected = |group: usize| {
        move |cell, arm| {
            mine.contains(&Lane {
                pipeline: p,
                group,
                cell,
                arm,
            })
        }
    };
    let split_eval = (&split.validation, &split.test);
    let selection = config.selection_seed;
    let cores = train::Cores {
        threads: config.threads,
        parts: config.parts,
    };
    for (g, group) in groups(split, pipeline, &teacher).iter().enumerate() {
        runs.extend(search_and_finish(
            &group.cells,
            (p, g + 1),
            &selected(g + 1),
            split_eval,
            selection,
            group.finals,
            cores,
            tracker,
        ));
    }

    // The omitted class takes the compression question's choices for 784→32→10
    // (the lanes that chose them ran in this part: see `units`).
    let chosen = |arm: &str| {
        runs.iter()
            .map(|(_, r)| r)
            .find(|r| {
                r.question == "compression"
                    && r.phase == Phase::Final
                    && r.net == train::Net::Hidden32
                    && r.arm == arm
            })
            .map(|r| r.recipe)
    };
    let strong = teacher(Which::Strong);
    let logits: Vec<[f32; 10]> = prepared
        .no_threes_index
        .iter()
        .filter_map(|&k| strong.fit.get(k).copied())
        .collect();
    let any_omitted = mine.iter().any(|l| l.pipeline == p && l.group == OMITTED);
    if any_omitted && logits.len() == prepared.no_threes.len() {
        let (direct, kd) = (chosen("direct"), chosen("kd"));
        let cells = questions::omitted(prepared, split, &logits, strong, direct, kd);
        let finals = config.coarse_seeds.len();
        let chosen_work = planned_selected(&cells, &selected(OMITTED), finals);
        let plan = omitted_plan(split, pipeline, placeholder);
        let assumed = planned_selected(&plan, &selected(OMITTED), finals);
        tracker.plan_more(chosen_work - assumed);
        runs.extend(search_and_finish(
            &cells,
            (p, OMITTED),
            &selected(OMITTED),
            split_eval,
            selection,
            &config.coarse_seeds,
            cores,
            tracker,
        ));
    }
    (runs, train_indices.into_iter().zip(trained).collect())
}

/// The comparisons of one group, each cell with the teacher each of its arms
/// needs, and the seeds of its final runs.
struct Group<'a> {
    cells: Vec<search::Cell<'a>>,
    teachers: Vec<Vec<Which>>,
    finals: &'a [u64],
}

impl<'a> Group<'a> {
    /// Cells whose every arm needs `teacher`, except the arm that distils from
    /// the convolutional teacher.
    fn add(&mut self, cells: Vec<search::Cell<'a>>, teacher: Which) {
        self.teachers.extend(cells.iter().map(|cell| {
            cell.arms
                .iter()
                .map(|arm| {
                    if arm.name == questions::KD_CNN {
                        Which::Cnn
                    } else {
                        teacher
                    }
                })
                .collect()
        }));
        self.cells.extend(cells);
    }
}

/// Groups 1 to 3 of `pipeline` (the omitted class, group 4, waits for group 1's
/// choices; the reference ablation, group 3, is the first pipeline's only), with
/// the teachers `teacher` gives.
fn groups<'a>(
    split: &'a Split,
    pipeline: &'a Pipeline,
    teacher: &dyn Fn(Which) -> &'a teachers::Teacher,
) -> Vec<Group<'a>> {
    let (prepared, config) = (&pipeline.prepared, &pipeline.config);
    let group = |finals| Group {
        cells: Vec::new(),
        teachers: Vec::new(),
        finals,
    };
    let mut main = group(&config.seeds);
    main.add(questions::seed(split, teacher(Which::Seed)), Which::Seed);
    let (strong, cnn) = (teacher(Which::Strong), teacher(Which::Cnn));
    main.add(
        questions::compression(split, strong, cnn, config),
        Which::Strong,
    );
    let noisy = teacher(Which::Noisy);
    main.add(
        questions::noise(split, prepared, noisy, config),
        Which::Noisy,
    );
    let mut limited = group(&config.coarse_seeds);
    let limited_teachers: Vec<_> = (0..config.label_budgets.len())
        .map(|k| teacher(Which::Limited(k)))
        .collect();
    let cells = questions::limited(split, prepared, &limited_teachers, config);
    for (k, cell) in cells.into_iter().enumerate() {
        limited.add(vec![cell], Which::Limited(k));
    }
    if pipeline.index > 0 {
        return vec![main, limited];
    }
    let mut reference = group(&config.reference_seeds);
    let variants: Vec<_> = (0..questions::VARIANTS.len())
        .map(|k| teacher(Which::Reference(k)))
        .collect();
    for (k, cell) in questions::reference(split, &variants, config)
        .into_iter()
        .enumerate()
    {
        reference.add(vec![cell], Which::Reference(k));
    }
    vec![main, limited, reference]
}

/// The study's units of work (see [`shard`]): every lane of `groups` alone, but
/// an omitted-class lane (planned by `omitted`) with the compression lane whose
/// choice it takes.
fn units(
    groups: &[Group<'_>],
    omitted: &[search::Cell<'_>],
    pipeline: &Pipeline,
) -> Vec<shard::Unit> {
    let (index, p) = (|w: Which| pipeline.teacher_index(w), pipeline.index);
    let mut units = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        for (c, (cell, ws)) in group.cells.iter().zip(&group.teachers).enumerate() {
            for (a, (arm, &w)) in cell.arms.iter().zip(ws).enumerate() {
                units.push(shard::Unit {
                    lanes: vec![Lane {
                        pipeline: p,
                        group: g + 1,
                        cell: c,
                        arm: a,
                    }],
                    teachers: index(w).into_iter().collect(),
                    work: search::planned_arm(cell.net, arm, group.finals.len()),
                });
            }
        }
    }
    let compression = groups.first().and_then(|main| {
        main.cells
            .iter()
            .position(|c| c.question == "compression" && c.net == train::Net::Hidden32)
            .map(|c| (c, &main.cells[c]))
    });
    for (c, cell) in omitted.iter().enumerate() {
        for (a, arm) in cell.arms.iter().enumerate() {
            let lane = Lane {
                pipeline: p,
                group: OMITTED,
                cell: c,
                arm: a,
            };
            let work = search::planned_arm(cell.net, arm, pipeline.config.coarse_seeds.len());
            let follows = compression.and_then(|(k, chooser)| {
                let same = chooser.arms.iter().position(|x| x.name == arm.name)?;
                units.iter().position(|u: &shard::Unit| {
                    u.lanes[0]
                        == Lane {
                            pipeline: p,
                            group: 1,
                            cell: k,
                            arm: same,
                        }
                })
            });
            match follows {
                Some(u) => {
                    units[u].lanes.push(lane);
                    units[u].work += work;
                }
                // Nothing to follow: the lane will not run, but is still planned.
                None => units.push(shard::Unit {
                    lanes: vec![lane],
                    teachers: index(Which::Strong).into_iter().collect(),
                    work,
                }),
            }
        }
    }
    units
}

/// Planned work of the arms of `cells` that `selected` accepts.
fn planned_selected(
    cells: &[search::Cell<'_>],
    selected: &dyn Fn(usize, usize) -> bool,
    finals: usize,
) -> f64 {
    let mut work = 0.0;
    for (c, cell) in cells.iter().enumerate() {
        for (a, arm) in cell.arms.iter().enumerate() {
            if selected(c, a) {
                work += search::planned_arm(cell.net, arm, finals);
            }
        }
    }
    work
}

fn empty_run() -> Run {
    Run {
        pipeline: 0,
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
