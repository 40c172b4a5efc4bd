//! From runs to answers: every comparison a table makes, paired by seed within
//! each pipeline, with a t-interval over the pipelines' mean differences (so it
//! includes what a rerun of the whole pipeline changes), a bootstrap interval
//! over pipelines, seeds and test images, and Holm's correction across every
//! comparison of the study. A study of one pipeline falls back to a t-interval
//! over seeds and a bootstrap over seeds and images.

use super::recipe::Teaching;
use super::search::{DIRECT_UNSMOOTHED, Phase, Run};
use super::stats::{
    Interval, PairedT, holm, mean, nested_bootstrap, paired_bootstrap, paired_t, sample_sd,
};
use super::train::Net;

/// Confidence of every interval.
pub const CONFIDENCE: f64 = 0.95;
/// Bootstrap resamples (seeds and images drawn jointly).
pub const RESAMPLES: usize = 2_000;

/// What a comparison measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Test accuracy, percent.
    Accuracy,
    /// Test accuracy on the omitted class after the bias correction, percent.
    OmittedClassCorrected,
    /// Expected calibration error on the test set, percent (lower is better).
    Ece,
    /// Negative log-likelihood on the test set, nats (lower is better).
    Nll,
}

impl Metric {
    /// Whether a larger value is better.
    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::Accuracy | Metric::OmittedClassCorrected)
    }
}

/// One method against another on one network, paired by seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// The question.
    pub question: &'static str,
    /// Its condition.
    pub condition: String,
    /// The network.
    pub net: Net,
    /// The method tested ("kd", "kd (CNN teacher)", "mse").
    pub method: &'static str,
    /// What it is compared with: "direct", or [`DIRECT_UNSMOOTHED`] (direct's
    /// best setting without label smoothing — its choice where that was one).
    pub baseline: &'static str,
    /// What is compared.
    pub metric: Metric,
    /// Mean of the method over seeds.
    pub method_mean: f64,
    /// Sample sd of the method over seeds.
    pub method_sd: f64,
    /// Mean of the baseline.
    pub baseline_mean: f64,
    /// Sample sd of the baseline.
    pub baseline_sd: f64,
    /// Paired t (method − baseline) over the pipelines' means, or over seeds
    /// when the study has one pipeline.
    pub paired: PairedT,
    /// The mean difference in each pipeline, in pipeline order.
    pub per_pipeline: Vec<f64>,
    /// Seeds paired in all.
    pub seed_pairs: usize,
    /// Bootstrap over pipelines, seeds and test images (accuracy only).
    pub bootstrap: Option<Interval>,
    /// Holm-adjusted p-value across the study's comparisons.
    pub holm_p: f64,
}

impl Comparison {
    /// Pipelines whose mean difference has the sign of the overall one.
    pub fn agreeing(&self) -> usize {
        let sign = self.paired.mean.signum();
        self.per_pipeline
            .iter()
            .filter(|d| d.signum() == sign && **d != 0.0)
            .count()
    }

    /// How many pipelines must agree in sign for a verdict: four in five
    /// (rounded up), every one of fewer than five.
    pub fn needed(&self) -> usize {
        let p = self.per_pipeline.len();
        if p < 5 { p } else { (4 * p).div_ceil(5) }
    }

    /// "yes", "no: worse" or "not shown": the method is better (worse) when its
    /// Holm-adjusted p is below 0.05, both intervals lie above (below) zero and
    /// [`Comparison::needed`] pipelines agree in sign. A difference under half a
    /// point is not claimed on fewer than 20 seeds.
    /// (For ECE and NLL, lower is better: "yes" when the method's are lower.)
    pub fn verdict(&self) -> &'static str {
        let points = self.metric.higher_is_better();
        if points && self.seed_pairs < 20 && self.paired.mean.abs() < 0.5 {
            return "not claimed: under 0.5 points on fewer than 20 seeds";
        }
        let agree = self.agreeing() >= self.needed();
        let above = self.paired.interval.excludes_zero_above()
            && self.bootstrap.is_none_or(|b| b.excludes_zero_above());
        let below = self.paired.interval.excludes_zero_below()
            && self.bootstrap.is_none_or(|b| b.excludes_zero_below());
        let (better, worse) = if points {
            (above, below)
        } else {
            (below, above)
        };
        match (self.holm_p < 0.05 && agree, better, worse) {
            (true, true, _) => "yes",
            (true, _, true) => "no: worse",
            _ => "not shown",
        }
    }
}

/// The final runs of one arm of one cell, by seed.
pub fn finals<'a>(
    runs: &'a [Run],
    question: &str,
    condition: &str,
    net: Net,
    arm: &str,
) -> Vec<&'a Run> {
    let mut out: Vec<&Run> = runs
        .iter()
        .filter(|r| {
            r.phase == Phase::Final
                && r.question == question
                && r.condition == condition
                && r.net == net
                && r.arm == arm
                && r.test.is_some()
        })
        .collect();
    out.sort_by_key(|r| (r.pipeline, r.seed));
    out
}

fn value(run: &Run, metric: Metric) -> Option<f64> {
    let test = run.test.as_ref()?;
    match metric {
        Metric::Accuracy => Some(test.accuracy),
        Metric::OmittedClassCorrected => test.corrected.map(|c| c.class_after),
        Metric::Ece => Some(test.ece),
        Metric::Nll => Some(test.nll),
    }
}

/// The calibration claims: ECE and NLL of every KD method against direct in
/// every table of the compression, label-noise and limited-labels questions,
/// and — where direct chose label smoothing (which calibrates by itself) in
/// some pipeline — against direct without it, paired and over pipelines like
/// the answers, with Holm's correction across all of them (a family of their
/// own). Where direct never smoothed, the second comparison would be the first
/// again, and is not counted twice.
pub fn calibration(runs: &[Run], test_classes: &[usize]) -> Vec<Comparison> {
    let mut out = Vec::new();
    for (question, condition, net) in tables(runs) {
        if !["compression", "label noise", "limited labels"].contains(&question) {
            continue;
        }
        let smoothed = runs.iter().any(|r| {
            r.arm == DIRECT_UNSMOOTHED
                && (r.question, r.condition.as_str(), r.net) == (question, condition.as_str(), net)
        });
        let baselines: &[&'static str] = if smoothed {
            &["direct", DIRECT_UNSMOOTHED]
        } else {
            &["direct"]
        };
        for method in methods(runs, question, &condition, net) {
            for &baseline in baselines {
                for metric in [Metric::Ece, Metric::Nll] {
                    let key = (question, condition.as_str(), net);
                    out.extend(compare(runs, test_classes, key, (method, baseline), metric));
                }
            }
        }
    }
    adjust(&mut out);
    out
}

/// The methods a table compares with direct: every arm with final runs but
/// direct's own (and the teacher), in run order.
fn methods(runs: &[Run], question: &str, condition: &str, net: Net) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in runs.iter().filter(|r| {
        r.phase == Phase::Final
            && r.question == question
            && r.condition == condition
            && r.net == net
            && !["direct", DIRECT_UNSMOOTHED, "teacher"].contains(&r.arm)
    }) {
        if !out.contains(&r.arm) {
            out.push(r.arm);
        }
    }
    out
}

/// Every (question, condition, network) with direct final runs, in run order
/// (the reference ablation compares nothing with direct).
fn tables(runs: &[Run]) -> Vec<(&'static str, String, Net)> {
    let mut cells: Vec<(&'static str, String, Net)> = Vec::new();
    for r in runs
        .iter()
        .filter(|r| r.phase == Phase::Final && r.arm == "direct")
    {
        let key = (r.question, r.condition.clone(), r.net);
        if r.question != "reference" && !cells.contains(&key) {
            cells.push(key);
        }
    }
    cells
}

fn adjust(comparisons: &mut [Comparison]) {
    let adjusted = holm(&comparisons.iter().map(|c| c.paired.p).collect::<Vec<_>>());
    for (c, p) in comparisons.iter_mut().zip(adjusted) {
        c.holm_p = p;
    }
}

/// The comparisons the study makes (every method against direct wherever both
/// ran: KD from each teacher, the seed's MSE), with Holm's correction across
/// all of them.
pub fn comparisons(runs: &[Run], test_classes: &[usize]) -> Vec<Comparison> {
    let mut out = Vec::new();
    for (question, condition, net) in tables(runs) {
        let metric = if question == "omitted class" {
            Metric::OmittedClassCorrected
        } else {
            Metric::Accuracy
        };
        for method in methods(runs, question, &condition, net) {
            let key = (question, condition.as_str(), net);
            out.extend(compare(runs, test_classes, key, (method, "direct"), metric));
        }
    }
    adjust(&mut out);
    out
}

/// The final runs `baseline` names in a table: direct's, or for
/// [`DIRECT_UNSMOOTHED`] the unsmoothed control where direct chose smoothing and
/// direct's own finals where it did not.
fn baseline_finals<'a>(
    runs: &'a [Run],
    (question, condition, net): (&str, &str, Net),
    baseline: &str,
) -> Vec<&'a Run> {
    let direct = finals(runs, question, condition, net, "direct");
    if baseline != DIRECT_UNSMOOTHED {
        return direct;
    }
    let control = finals(runs, question, condition, net, DIRECT_UNSMOOTHED);
    let plain =
        |r: &&Run| matches!(r.recipe.teaching, Teaching::Labels { smoothing } if smoothing == 0.0);
    let mut out: Vec<&Run> = direct.into_iter().filter(plain).chain(control).collect();
    out.sort_by_key(|r| (r.pipeline, r.seed));
    out
}

fn compare(
    runs: &[Run],
    test_classes: &[usize],
    (question, condition, net): (&'static str, &str, Net),
    (method, baseline): (&'static str, &'static str),
    metric: Metric,
) -> Option<Comparison> {
    let a = finals(runs, question, condition, net, method);
    let b = baseline_finals(runs, (question, condition, net), baseline);
    // Pair by pipeline and seed: only seeds both arms finished with a value.
    let pairs: Vec<(&Run, &Run, f64, f64)> = a
        .iter()
        .filter_map(|x| {
            let y = b
                .iter()
                .find(|y| (y.pipeline, y.seed) == (x.pipeline, x.seed))?;
            Some((*x, *y, value(x, metric)?, value(y, metric)?))
        })
        .collect();
    let va: Vec<f64> = pairs.iter().map(|p| p.2).collect();
    let vb: Vec<f64> = pairs.iter().map(|p| p.3).collect();
    let mut pipelines: Vec<usize> = pairs.iter().map(|p| p.0.pipeline).collect();
    pipelines.dedup();
    let by_pipeline = |k: usize| -> Vec<f64> {
        pipelines
            .iter()
            .map(|&q| {
                let v: Vec<f64> = pairs
                    .iter()
                    .filter(|p| p.0.pipeline == q)
                    .map(|p| if k == 0 { p.2 } else { p.3 })
                    .collect();
                mean(&v)
            })
            .collect()
    };
    let (ma, mb) = (by_pipeline(0), by_pipeline(1));
    let per_pipeline: Vec<f64> = ma.iter().zip(&mb).map(|(x, y)| x - y).collect();
    let paired = if pipelines.len() >= 2 {
        paired_t(&ma, &mb, CONFIDENCE)?
    } else {
        paired_t(&va, &vb, CONFIDENCE)?
    };
    let bootstrap = (metric == Metric::Accuracy).then(|| {
        let correct = |r: &Run| -> Vec<bool> {
            r.test.as_ref().map_or_else(Vec::new, |t| {
                t.predictions
                    .iter()
                    .zip(test_classes)
                    .map(|(&p, &c)| usize::from(p) == c)
                    .collect()
            })
        };
        let ca: Vec<Vec<bool>> = pairs.iter().map(|p| correct(p.0)).collect();
        let cb: Vec<Vec<bool>> = pairs.iter().map(|p| correct(p.1)).collect();
        if pipelines.len() >= 2 {
            let group: Vec<usize> = pairs.iter().map(|p| p.0.pipeline).collect();
            nested_bootstrap(&ca, &cb, &group, RESAMPLES, CONFIDENCE, 0x5EED)
        } else {
            paired_bootstrap(&ca, &cb, RESAMPLES, CONFIDENCE, 0x5EED)
        }
    });
    Some(Comparison {
        question,
        condition: condition.to_string(),
        net,
        method,
        baseline,
        metric,
        method_mean: mean(&va),
        method_sd: sample_sd(&va),
        baseline_mean: mean(&vb),
        baseline_sd: sample_sd(&vb),
        paired,
        per_pipeline,
        seed_pairs: pairs.len(),
        bootstrap,
        holm_p: 1.0,
    })
}

/// Mean and a 95% t-interval of `values` (the interval collapses with one value).
pub fn interval(values: &[f64]) -> Interval {
    let m = mean(values);
    let n = values.len();
    if n < 2 {
        return Interval {
            estimate: m,
            low: m,
            high: m,
        };
    }
    let half = super::stats::t_quantile(0.5 + CONFIDENCE / 2.0, (n - 1) as f64) * sample_sd(values)
        / (n as f64).sqrt();
    Interval {
        estimate: m,
        low: m - half,
        high: m + half,
    }
}

#[cfg(test)]
mod tests {
    use super::super::recipe::{Optim, Recipe};
    use super::super::score::Scores;
    use super::*;

    /// A final run of `arm` in `pipeline` with `seed` that gets `right` of 100
    /// test images (class 0) right.
    fn run(arm: &'static str, pipeline: usize, seed: u64, right: usize) -> Run {
        Run {
            pipeline,
            question: "compression",
            condition: String::new(),
            net: Net::Hidden32,
            arm,
            recipe: Recipe {
                teaching: Teaching::Labels { smoothing: 0.0 },
                learning_rate: 0.001,
                epochs: 1,
                optim: Optim::Adam,
            },
            phase: Phase::Final,
            seed,
            validation: Some(50.0),
            test: Some(Scores {
                accuracy: right as f64,
                predictions: (0..100).map(|i| u8::from(i >= right)).collect(),
                probabilities: Vec::new(),
                ece: 0.0,
                nll: 0.0,
                agreement: None,
                kl: None,
                corrected: None,
            }),
            seconds: 0.0,
        }
    }

    /// Five pipelines of four seeds; KD's lead in pipeline p is `lead[p]` points
    /// (the seeds of a pipeline vary a little around it).
    fn study(lead: [i64; 5]) -> Comparison {
        let mut runs = Vec::new();
        for (p, &l) in lead.iter().enumerate() {
            for s in 0..4u64 {
                let seed = 1_000 * p as u64 + s + 1;
                let base = 60 + s as i64;
                runs.push(run("direct", p, seed, base as usize));
                runs.push(run("kd", p, seed, (base + l + (s as i64 % 2)) as usize));
            }
        }
        let mut c = comparisons(&runs, &[0; 100]);
        assert_eq!(c.len(), 1);
        c.remove(0)
    }

    #[test]
    fn a_verdict_needs_four_pipelines_in_five_to_agree() {
        let all = study([3, 4, 2, 5, 3]);
        assert_eq!(all.per_pipeline.len(), 5);
        assert_eq!(all.seed_pairs, 20);
        assert!((all.paired.mean - 3.9).abs() < 1e-9, "{all:?}");
        assert_eq!((all.agreeing(), all.needed()), (5, 4));
        assert_eq!(all.verdict(), "yes");
        // The t-interval is over the five pipelines' means: 4 degrees of freedom.
        assert_eq!(all.paired.n, 5);
        // Two pipelines the other way: large mean, but not shown.
        let split = study([9, 9, 9, -1, -1]);
        assert!(split.paired.mean > 0.5);
        assert_eq!(split.agreeing(), 3);
        assert_eq!(split.verdict(), "not shown");
        let worse = study([-4, -4, -3, -5, 0]);
        assert_eq!(worse.agreeing(), 4);
        assert_eq!(worse.verdict(), "no: worse");
    }

    #[test]
    fn lower_calibration_error_is_better() {
        let mut runs = Vec::new();
        for p in 0..5 {
            for s in 0..4u64 {
                let seed = 1_000 * p as u64 + s + 1;
                let mut direct = run("direct", p, seed, 90);
                let mut kd = run("kd", p, seed, 90);
                if let (Some(d), Some(k)) = (direct.test.as_mut(), kd.test.as_mut()) {
                    d.ece = 3.0 + 0.1 * s as f64;
                    k.ece = 1.0 + 0.1 * (s as f64) + 0.05 * p as f64;
                    d.nll = 0.30;
                    k.nll = 0.30;
                }
                runs.extend([direct, kd]);
            }
        }
        let c = calibration(&runs, &[0; 100]);
        // Direct chose no smoothing: no second, identical comparison.
        assert_eq!(c.len(), 2);
        let (ece, nll) = (&c[0], &c[1]);
        assert_eq!(ece.metric, Metric::Ece);
        assert!(ece.paired.mean < -1.5, "{ece:?}");
        assert_eq!(ece.verdict(), "yes");
        assert!(ece.bootstrap.is_none());
        assert_eq!(nll.verdict(), "not shown");
    }

    #[test]
    fn the_unsmoothed_control_replaces_a_smoothed_choice_seed_by_seed() {
        let smoothed = Recipe {
            teaching: Teaching::Labels { smoothing: 0.1 },
            learning_rate: 0.001,
            epochs: 1,
            optim: Optim::Adam,
        };
        let with_ece = |mut r: Run, ece: f64| {
            if let Some(t) = r.test.as_mut() {
                t.ece = ece;
            }
            r
        };
        let mut runs = Vec::new();
        for p in 0..5 {
            for s in 0..4u64 {
                let seed = 1_000 * p as u64 + s + 1;
                let kd = with_ece(run("kd", p, seed, 90), 2.0 + 0.01 * s as f64);
                // Pipelines 0 and 1 chose ε = 0.1 (ECE 1, better than KD's 2)
                // and ran the control (ECE 4); the others chose ε = 0 (ECE 4).
                if p < 2 {
                    let chosen = Run {
                        recipe: smoothed,
                        ..with_ece(run("direct", p, seed, 90), 1.0)
                    };
                    let control = with_ece(run(DIRECT_UNSMOOTHED, p, seed, 90), 4.0);
                    runs.extend([chosen, control]);
                } else {
                    runs.push(with_ece(run("direct", p, seed, 90), 4.0 + 0.01 * p as f64));
                }
                runs.push(kd);
            }
        }
        let c = calibration(&runs, &[0; 100]);
        assert_eq!(c.len(), 4);
        let ece = |baseline| {
            c.iter()
                .find(|c| c.baseline == baseline && c.metric == Metric::Ece)
                .unwrap()
        };
        let (chosen, control) = (ece("direct"), ece(DIRECT_UNSMOOTHED));
        assert_eq!(control.seed_pairs, 20);
        assert_eq!(chosen.agreeing(), 3, "{chosen:?}");
        assert!(
            control.per_pipeline.iter().all(|d| *d < -1.9),
            "{control:?}"
        );
        assert_eq!(control.verdict(), "yes");
        assert_eq!(chosen.verdict(), "not shown");
    }
}
