//! Choosing each method's settings on the validation split, then running the
//! choice for every final seed — the same procedure, and the same number of
//! candidate settings, for every method a table compares.

use super::jobs::{Tracker, parallel};
use super::lanes::{Order, Stage};
use super::recipe::{Recipe, Teaching, widen_to, widening_budget};
use super::score::{Scores, Truth, score, validation_accuracy};
use super::train::{Cores, Eval, Net, TrainData, train};
use crate::experiment::Samples;

/// The method of the finals a direct arm that chose label smoothing also runs:
/// its best candidate without smoothing, so that a calibration comparison can
/// tell distillation from smoothing (see [`search_and_finish`]).
pub const DIRECT_UNSMOOTHED: &str = "direct ε=0";

/// Search or final.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// A candidate setting, trained with the selection seed and judged on validation.
    Search,
    /// The chosen setting with a final seed, scored on the test set.
    Final,
}

/// One method of a comparison: its candidate settings and what it trains on.
pub struct Arm<'a> {
    /// "direct", "kd", "mse" or "teacher".
    pub name: &'static str,
    /// The candidates (one = nothing to choose).
    pub grid: Vec<Recipe>,
    /// Its training data.
    pub data: TrainData<'a>,
    /// Its teacher's test logits when they are not the cell's (agreement and
    /// KL are measured against the teacher a method learns from).
    pub teacher_test: Option<&'a [[f32; 10]]>,
}

/// One row group of a table: a network, the methods compared on it, and how
/// they are scored.
pub struct Cell<'a> {
    /// Which question ("compression", "limited labels", …).
    pub question: &'static str,
    /// The condition within it ("1000 labels", …; empty if none).
    pub condition: String,
    /// The network every arm trains.
    pub net: Net,
    /// The methods.
    pub arms: Vec<Arm<'a>>,
    /// Labels and teacher outputs to score against.
    pub truth: Truth<'a>,
}

/// One training run of the study.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// The pipeline it belongs to (see [`super::StudyConfig::pipelines`]).
    pub pipeline: usize,
    /// The question.
    pub question: &'static str,
    /// The condition.
    pub condition: String,
    /// The network.
    pub net: Net,
    /// The method.
    pub arm: &'static str,
    /// Its settings.
    pub recipe: Recipe,
    /// Search or final.
    pub phase: Phase,
    /// The seed (initialisation and data order).
    pub seed: u64,
    /// Validation accuracy, percent; `None` if training diverged (or, for a
    /// teacher, if it trained on the validation split: then it has test scores).
    pub validation: Option<f64>,
    /// Test figures (final runs that did not diverge).
    pub test: Option<Scores>,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// Work units of one run (for progress): sample-steps × the network's cost.
pub fn work(net: Net, recipe: &Recipe, samples: usize) -> f64 {
    (recipe.epochs * samples) as f64 * net.cost()
}

/// Planned work of searching and finishing `cells` over `finals` seeds.
pub fn planned(cells: &[Cell<'_>], finals: usize) -> f64 {
    cells
        .iter()
        .flat_map(|c| c.arms.iter().map(move |a| planned_arm(c.net, a, finals)))
        .sum()
}

/// Planned work of searching and finishing one arm of a cell on `net` over
/// `finals` seeds: its grid (if there is a choice to make) and each final seed at
/// its longest candidate.
pub fn planned_arm(net: Net, arm: &Arm<'_>, finals: usize) -> f64 {
    let n = arm.data.inputs.len();
    let search: f64 = if arm.grid.len() > 1 {
        arm.grid.iter().map(|r| work(net, r, n)).sum()
    } else {
        0.0
    };
    let longest = arm.grid.iter().map(|r| work(net, r, n)).fold(0.0, f64::max);
    search + finals as f64 * longest
}

/// Trains `net` by `recipe` on `data` from `seed` (on `threads` threads, which
/// change no bit) and scores it.
pub fn one_run(
    cell: &Cell<'_>,
    arm: &Arm<'_>,
    recipe: &Recipe,
    (phase, seed, cores): (Phase, u64, Cores),
    split: (&Samples, &Samples),
) -> Run {
    let start = std::time::Instant::now();
    let eval = Eval {
        validation: &split.0.inputs,
        test: &split.1.inputs,
        also: None,
    };
    let trained = train(cell.net, recipe, &arm.data, &eval, seed, cores);
    let truth = Truth {
        teacher_test: arm.teacher_test.or(cell.truth.teacher_test),
        ..cell.truth
    };
    let (validation, test) = match trained {
        Ok(outputs) => (
            Some(validation_accuracy(&outputs, &truth)),
            (phase == Phase::Final).then(|| score(&outputs, &truth)),
        ),
        Err(_) => (None, None),
    };
    Run {
        pipeline: 0,
        question: cell.question,
        condition: cell.condition.clone(),
        net: cell.net,
        arm: arm.name,
        recipe: *recipe,
        phase,
        seed,
        validation,
        test,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// For every cell and arm that `selected(cell, arm)` accepts: each candidate with
/// `selection_seed` (plus one step past any edge the best lands on), the best by
/// validation accuracy (the first in grid order on ties; diverged runs lose), then
/// that setting for every seed of `finals`. An arm on the labels that chose label
/// smoothing also runs its best candidate without smoothing for every seed, as
/// [`DIRECT_UNSMOOTHED`] (final indices after the chosen setting's). Returns every run with its place in
/// the study's order (cells of `group`), search runs first. An arm's runs depend
/// on nothing but that arm, so a shard that selects some arms gets the very runs
/// a whole study gets for them ([`super::lanes`]).
#[allow(clippy::too_many_arguments)]
pub fn search_and_finish(
    cells: &[Cell<'_>],
    (pipeline, group): (usize, usize),
    selected: &dyn Fn(usize, usize) -> bool,
    split: (&Samples, &Samples),
    selection_seed: u64,
    finals: &[u64],
    cores: Cores,
    tracker: &mut Tracker<'_>,
) -> Vec<(Order, Run)> {
    let order = |stage, c, a, index| Order {
        pipeline,
        group,
        stage,
        cell: c,
        arm: a,
        index,
    };
    // (cell, arm, index within the arm's stage, recipe)
    let mut jobs: Vec<Job> = Vec::new();
    for (c, cell) in cells.iter().enumerate() {
        for (a, arm) in cell.arms.iter().enumerate() {
            if arm.grid.len() > 1 && selected(c, a) {
                jobs.extend(arm.grid.iter().enumerate().map(|(i, r)| (c, a, i, *r)));
            }
        }
    }
    let weight = |&(c, a, _, r): &Job| work(cells[c].net, &r, cells[c].arms[a].data.inputs.len());
    let run = |&(c, a, _, r): &Job, threads| Run {
        pipeline,
        ..one_run(
            &cells[c],
            &cells[c].arms[a],
            &r,
            (Phase::Search, selection_seed, Cores { threads, ..cores }),
            split,
        )
    };
    let mut runs = parallel(cores.threads, &jobs, weight, tracker, run);
    // One step past the edges, where the best landed on one, and as many
    // candidates for every arm of a cell (`widen_to`).
    let mut extra = Vec::new();
    for (c, cell) in cells.iter().enumerate() {
        let budget = widening_budget(cell.arms.iter().map(|a| &a.grid[..]));
        for (a, arm) in cell.arms.iter().enumerate() {
            if let Some(best) = best(&runs, c, a, &jobs) {
                let widened = widen_to(&arm.grid, &best, budget).into_iter().enumerate();
                extra.extend(widened.map(|(i, r)| (c, a, i, r)));
            }
        }
    }
    tracker.plan_more(extra.iter().map(weight).sum());
    let widened = parallel(cores.threads, &extra, weight, tracker, run);
    let searched = jobs.len();
    jobs.extend(extra);
    runs.extend(widened);
    // The finals, now that their settings are known: the plan assumed each
    // arm's longest candidate, so the bar is corrected to the real work.
    // (cell, arm, recipe, seed, whether it is the unsmoothed control)
    let mut finals_jobs: Vec<(usize, usize, Recipe, u64, bool)> = Vec::new();
    let mut assumed = 0.0;
    for (c, cell) in cells.iter().enumerate() {
        for (a, arm) in cell.arms.iter().enumerate() {
            if !selected(c, a) {
                continue;
            }
            let n = arm.data.inputs.len();
            let longest = arm
                .grid
                .iter()
                .map(|r| work(cell.net, r, n))
                .fold(0.0, f64::max);
            assumed += finals.len() as f64 * longest;
            let chosen = if arm.grid.len() > 1 {
                best(&runs, c, a, &jobs)
            } else {
                arm.grid.first().copied()
            };
            if let Some(recipe) = chosen {
                finals_jobs.extend(finals.iter().map(|&s| (c, a, recipe, s, false)));
                if let Some(control) = unsmoothed(&recipe, &runs, c, a, &jobs) {
                    finals_jobs.extend(finals.iter().map(|&s| (c, a, control, s, true)));
                }
            }
        }
    }
    let actual: f64 = finals_jobs
        .iter()
        .map(|&(c, a, r, _, _)| weight(&(c, a, 0, r)))
        .sum();
    tracker.plan_more(actual - assumed);
    let finished = parallel(
        cores.threads,
        &finals_jobs,
        |&(c, a, r, _, _)| weight(&(c, a, 0, r)),
        tracker,
        |&(c, a, r, s, control), threads| {
            let run = one_run(
                &cells[c],
                &cells[c].arms[a],
                &r,
                (Phase::Final, s, Cores { threads, ..cores }),
                split,
            );
            let arm = if control { DIRECT_UNSMOOTHED } else { run.arm };
            Run {
                pipeline,
                arm,
                ..run
            }
        },
    );
    let mut keyed: Vec<(Order, Run)> = jobs
        .iter()
        .enumerate()
        .map(|(k, &(c, a, i, _))| {
            let stage = if k < searched {
                Stage::Search
            } else {
                Stage::Widened
            };
            order(stage, c, a, i)
        })
        .zip(runs)
        .collect();
    // A final's index is its seed's place in `finals` (a control's, after them).
    keyed.extend(
        finals_jobs
            .iter()
            .map(|&(c, a, _, s, control)| {
                let index = finals.iter().position(|&f| f == s).unwrap_or(0);
                let index = if control { finals.len() + index } else { index };
                order(Stage::Final, c, a, index)
            })
            .zip(finished),
    );
    keyed
}

/// For an arm on the labels whose choice `chosen` smooths them: its best
/// candidate (search or widened) without smoothing, if it tried one.
fn unsmoothed(chosen: &Recipe, runs: &[Run], c: usize, a: usize, jobs: &[Job]) -> Option<Recipe> {
    let Teaching::Labels { smoothing } = chosen.teaching else {
        return None;
    };
    if smoothing == 0.0 {
        return None;
    }
    best_where(
        runs,
        c,
        a,
        jobs,
        |r| matches!(r.teaching, Teaching::Labels { smoothing } if smoothing == 0.0),
    )
}

/// A search job: cell, arm, index within the arm's stage, recipe.
type Job = (usize, usize, usize, Recipe);

/// The best-validated recipe of cell `c`, arm `a` among the search runs.
fn best(runs: &[Run], c: usize, a: usize, jobs: &[Job]) -> Option<Recipe> {
    best_where(runs, c, a, jobs, |_| true)
}

/// The best-validated recipe of cell `c`, arm `a` among the search runs whose
/// recipe `keep` accepts (the first in search order on ties).
fn best_where(
    runs: &[Run],
    c: usize,
    a: usize,
    jobs: &[Job],
    keep: impl Fn(&Recipe) -> bool,
) -> Option<Recipe> {
    let mut best: Option<(f64, Recipe)> = None;
    for (run, &(jc, ja, _, recipe)) in runs.iter().zip(jobs) {
        if (jc, ja) != (c, a) || !keep(&recipe) {
            continue;
        }
        let score = run.validation.unwrap_or(-1.0);
        if best.is_none_or(|(b, _)| score > b) {
            best = Some((score, recipe));
        }
    }
    best.map(|(_, r)| r)
}
