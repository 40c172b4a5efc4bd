//! From runs to answers: every comparison a table makes, paired by seed, with a
//! t-interval over seeds, a bootstrap interval over seeds and test images, and
//! Holm's correction across every comparison of the study.

use super::search::{Phase, Run};
use super::stats::{Interval, PairedT, holm, mean, paired_bootstrap, paired_t, sample_sd};
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
    /// The method tested ("kd", "mse").
    pub method: &'static str,
    /// What it is compared with ("direct").
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
    /// Paired t over seeds (method − baseline).
    pub paired: PairedT,
    /// Bootstrap over seeds and test images (accuracy only).
    pub bootstrap: Option<Interval>,
    /// Holm-adjusted p-value across the study's comparisons.
    pub holm_p: f64,
}

impl Comparison {
    /// "yes", "no: worse" or "no difference shown": the method is better when its
    /// Holm-adjusted p is below 0.05 and both intervals lie above zero. A
    /// difference under half a point is not claimed on fewer than 20 seeds.
    pub fn verdict(&self) -> &'static str {
        if self.paired.n < 20 && self.paired.mean.abs() < 0.5 {
            return "not claimed: under 0.5 points on fewer than 20 seeds";
        }
        let above = self.paired.interval.excludes_zero_above()
            && self.bootstrap.is_none_or(|b| b.excludes_zero_above());
        let below = self.paired.interval.excludes_zero_below()
            && self.bootstrap.is_none_or(|b| b.excludes_zero_below());
        match (self.holm_p < 0.05, above, below) {
            (true, true, _) => "yes",
            (true, _, true) => "no: worse",
            _ => "no difference shown",
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
    out.sort_by_key(|r| r.seed);
    out
}

fn value(run: &Run, metric: Metric) -> Option<f64> {
    let test = run.test.as_ref()?;
    match metric {
        Metric::Accuracy => Some(test.accuracy),
        Metric::OmittedClassCorrected => test.corrected.map(|c| c.class_after),
    }
}

/// The comparisons the study makes (KD against direct wherever both ran, and the
/// seed's MSE against direct), with Holm's correction across all of them.
pub fn comparisons(runs: &[Run], test_classes: &[usize]) -> Vec<Comparison> {
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
    let mut out = Vec::new();
    for (question, condition, net) in cells {
        let method = if question == "seed" { "mse" } else { "kd" };
        let metric = if question == "omitted class" {
            Metric::OmittedClassCorrected
        } else {
            Metric::Accuracy
        };
        if let Some(c) = compare(
            runs,
            test_classes,
            question,
            &condition,
            net,
            method,
            metric,
        ) {
            out.push(c);
        }
    }
    let adjusted = holm(&out.iter().map(|c| c.paired.p).collect::<Vec<_>>());
    for (c, p) in out.iter_mut().zip(adjusted) {
        c.holm_p = p;
    }
    out
}

fn compare(
    runs: &[Run],
    test_classes: &[usize],
    question: &'static str,
    condition: &str,
    net: Net,
    method: &'static str,
    metric: Metric,
) -> Option<Comparison> {
    let a = finals(runs, question, condition, net, method);
    let b = finals(runs, question, condition, net, "direct");
    // Pair by seed: only seeds both arms finished.
    let pairs: Vec<(&Run, &Run)> = a
        .iter()
        .filter_map(|x| b.iter().find(|y| y.seed == x.seed).map(|y| (*x, *y)))
        .collect();
    let va: Vec<f64> = pairs.iter().filter_map(|(x, _)| value(x, metric)).collect();
    let vb: Vec<f64> = pairs.iter().filter_map(|(_, y)| value(y, metric)).collect();
    let paired = paired_t(&va, &vb, CONFIDENCE)?;
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
        let ca: Vec<Vec<bool>> = pairs.iter().map(|(x, _)| correct(x)).collect();
        let cb: Vec<Vec<bool>> = pairs.iter().map(|(_, y)| correct(y)).collect();
        paired_bootstrap(&ca, &cb, RESAMPLES, CONFIDENCE, 0x5EED)
    });
    Some(Comparison {
        question,
        condition: condition.to_string(),
        net,
        method,
        baseline: "direct",
        metric,
        method_mean: mean(&va),
        method_sd: sample_sd(&va),
        baseline_mean: mean(&vb),
        baseline_sd: sample_sd(&vb),
        paired,
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
