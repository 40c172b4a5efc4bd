//! The statistics the study reports: means and standard deviations, Student's t
//! (distribution, quantiles, paired test), Holm's correction, McNemar's exact test,
//! a paired seed × image bootstrap, and calibration / agreement measures over
//! predicted probability vectors.
//!
//! Every function is pure and works in `f64`; none panics on odd input (empty
//! slices, mismatched lengths, zero variance) — such cases give `NaN`, `None` or
//! a documented convention instead.

use std::fmt;

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// The arithmetic mean; `NaN` for an empty slice.
pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// The sample standard deviation (divisor n − 1); `NaN` for fewer than two values.
pub fn sample_sd(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return f64::NAN;
    }
    let m = mean(xs);
    let ss: f64 = xs.iter().map(|x| (x - m) * (x - m)).sum();
    (ss / (xs.len() - 1) as f64).sqrt()
}

/// Student's t with `df` degrees of freedom, from `statrs`; `None` if `df` is not
/// positive (or is `NaN`).
fn student_t(df: f64) -> Option<StudentsT> {
    StudentsT::new(0.0, 1.0, df).ok()
}

/// P(|T| ≥ |t|) for Student's t with `df` degrees of freedom: twice the lower
/// tail at −|t|, which `statrs` computes directly as a regularized incomplete
/// beta (no cancellation for large |t|).
fn t_two_sided(t: f64, df: f64) -> f64 {
    match student_t(df) {
        Some(dist) if !t.is_nan() => 2.0 * dist.cdf(-t.abs()),
        _ => f64::NAN,
    }
}

/// The cumulative distribution function of Student's t with `df` degrees of
/// freedom (`df` may be fractional); `NaN` if `df ≤ 0` or either argument is `NaN`.
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    match student_t(df) {
        Some(dist) if !t.is_nan() => dist.cdf(t),
        _ => f64::NAN,
    }
}

/// The `p`-quantile of Student's t with `df` degrees of freedom (the inverse of
/// [`student_t_cdf`]): ±∞ at p = 0 or 1, `NaN` outside [0, 1] or for `df ≤ 0`.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    match student_t(df) {
        Some(_) if p == 0.0 => f64::NEG_INFINITY,
        Some(_) if p == 1.0 => f64::INFINITY,
        Some(_) if p == 0.5 => 0.0,
        Some(dist) if (0.0..=1.0).contains(&p) => dist.inverse_cdf(p),
        _ => f64::NAN,
    }
}

/// A point estimate with a confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// The point estimate.
    pub estimate: f64,
    /// The lower end of the interval.
    pub low: f64,
    /// The upper end of the interval.
    pub high: f64,
}

impl Interval {
    /// Whether zero lies within [low, high] (inclusive). `false` if either end is `NaN`.
    pub fn contains_zero(&self) -> bool {
        self.low <= 0.0 && 0.0 <= self.high
    }

    /// Whether the whole interval is above zero (low > 0).
    pub fn excludes_zero_above(&self) -> bool {
        self.low > 0.0
    }

    /// Whether the whole interval is below zero (high < 0).
    pub fn excludes_zero_below(&self) -> bool {
        self.high < 0.0
    }

    /// high − low.
    pub fn width(&self) -> f64 {
        self.high - self.low
    }
}

/// `+0.21 [0.08, 0.33]`: the estimate signed, every number to two decimals (or
/// the precision given, e.g. `{:.3}`).
/// Decimals enough to show an interval `width` wide: two, or more (up to four)
/// until it spans at least 10 in the last digit, so that a difference of
/// −0.0015 [−0.0030, 0.0001] does not print as −0.00 [−0.00, 0.00]. (A
/// zero-width interval hides nothing: two.)
pub fn decimals(width: f64) -> usize {
    let mut d = 2;
    while d < 4 && width != 0.0 && width.abs() * 10f64.powi(d as i32) < 10.0 {
        d += 1;
    }
    d
}

impl fmt::Display for Interval {
    /// `+estimate [low, high]`, with the formatter's precision or else
    /// [`decimals`] for the interval's width.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = f.precision().unwrap_or(decimals(self.high - self.low));
        write!(
            f,
            "{:+.d$} [{:.d$}, {:.d$}]",
            self.estimate, self.low, self.high
        )
    }
}

/// A Student-t confidence interval for the mean of `xs` (n − 1 degrees of
/// freedom), e.g. a method's mean accuracy over seeds for an error bar. `None`
/// for fewer than two values; a zero-width interval if they are all equal.
pub fn mean_interval(xs: &[f64], confidence: f64) -> Option<Interval> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs);
    let se = sample_sd(xs) / (xs.len() as f64).sqrt();
    let half = if se == 0.0 {
        0.0
    } else {
        t_quantile(0.5 + confidence / 2.0, (xs.len() - 1) as f64) * se
    };
    Some(Interval {
        estimate: m,
        low: m - half,
        high: m + half,
    })
}

/// Counts the discordant pairs of two per-image correctness vectors, for
/// [`mcnemar_exact`]: (images only A got right, images only B got right). Extra
/// entries of the longer vector are ignored.
pub fn discordant(a: &[bool], b: &[bool]) -> (u64, u64) {
    a.iter().zip(b).fold((0, 0), |(a_only, b_only), (&x, &y)| {
        (a_only + u64::from(x && !y), b_only + u64::from(y && !x))
    })
}

/// The result of a paired t-test of a − b.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairedT {
    /// Number of pairs.
    pub n: usize,
    /// Mean of the differences a − b.
    pub mean: f64,
    /// Sample standard deviation of the differences.
    pub sd: f64,
    /// Standard error of the mean difference, sd / √n.
    pub se: f64,
    /// Confidence interval for the mean difference (Student's t, n − 1 df).
    pub interval: Interval,
    /// The t statistic, mean / se (±∞ if sd = 0 and mean ≠ 0, 0 if both are 0).
    pub t: f64,
    /// Two-sided p-value (0 if sd = 0 and mean ≠ 0, 1 if both are 0).
    pub p: f64,
}

/// A paired t-test of the differences `a[i] − b[i]`, with a two-sided p-value and a
/// `confidence` (e.g. 0.95) interval for the mean difference. `None` if the
/// lengths differ or there are fewer than two pairs.
pub fn paired_t(a: &[f64], b: &[f64], confidence: f64) -> Option<PairedT> {
    if a.len() != b.len() || a.len() < 2 {
        return None;
    }
    let n = a.len();
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let m = mean(&d);
    let sd = sample_sd(&d);
    let se = sd / (n as f64).sqrt();
    let df = (n - 1) as f64;
    let (t, p) = if se == 0.0 {
        if m == 0.0 {
            (0.0, 1.0)
        } else {
            (f64::INFINITY.copysign(m), 0.0)
        }
    } else {
        let t = m / se;
        (t, t_two_sided(t, df))
    };
    let half = if se == 0.0 {
        0.0
    } else {
        t_quantile(0.5 + confidence / 2.0, df) * se
    };
    Some(PairedT {
        n,
        mean: m,
        sd,
        se,
        interval: Interval {
            estimate: m,
            low: m - half,
            high: m + half,
        },
        t,
        p,
    })
}

/// Holm–Bonferroni adjusted p-values, in the input order: the i-th smallest p is
/// multiplied by (m − i + 1), made monotone non-decreasing in that order, and
/// capped at 1. A `NaN` input is treated as 1.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let clean = |x: f64| if x.is_nan() { 1.0 } else { x.clamp(0.0, 1.0) };
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| clean(p[i]).total_cmp(&clean(p[j])));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0_f64;
    for (rank, &i) in order.iter().enumerate() {
        let value = ((m - rank) as f64 * clean(p[i])).min(1.0);
        running = running.max(value);
        adjusted[i] = running;
    }
    adjusted
}

/// McNemar's exact test: the two-sided binomial p-value for `a_only` discordant
/// pairs where only A was right against `b_only` where only B was right, under
/// Bin(a_only + b_only, ½). 1 when there are no discordant pairs.
pub fn mcnemar_exact(a_only: u64, b_only: u64) -> f64 {
    let n = a_only + b_only;
    if n == 0 {
        return 1.0;
    }
    let k = a_only.min(b_only);
    // ln P(X = i) by the recurrence ln C(n, i+1) = ln C(n, i) + ln((n − i)/(i + 1)),
    // summed in log space so large counts neither underflow nor overflow.
    let nf = n as f64;
    let mut ln_pmf = -nf * std::f64::consts::LN_2;
    let mut terms = Vec::with_capacity(k as usize + 1);
    terms.push(ln_pmf);
    for i in 0..k {
        let i = i as f64;
        ln_pmf += ((nf - i) / (i + 1.0)).ln();
        terms.push(ln_pmf);
    }
    let top = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let ln_cdf = top + terms.iter().map(|t| (t - top).exp()).sum::<f64>().ln();
    (2.0 * ln_cdf.exp()).min(1.0)
}

/// A paired bootstrap interval for the difference in accuracy, in percentage
/// points, between methods A and B, where `a[s][i]` says whether A classified
/// image `i` correctly when trained with seed `s` (likewise `b`).
///
/// Each resample draws seeds with replacement and, independently, images with
/// replacement; both methods get the same seeds and the same images. The
/// estimate is the observed difference (mean over seeds of A's accuracy minus
/// B's); the interval is the percentile interval at `confidence`. Reproducible
/// for a given `seed`. If there are no seeds or images, or the shapes disagree
/// (every row of both must have the same length), every field is `NaN`.
pub fn paired_bootstrap(
    a: &[Vec<bool>],
    b: &[Vec<bool>],
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Interval {
    // Every seed in one group: the group is not drawn, the seeds are.
    nested_bootstrap(a, b, &vec![0; a.len()], resamples, confidence, seed)
}

/// [`paired_bootstrap`] with seeds nested in groups (the study's pipelines):
/// `group[s]` is seed `s`'s group. Each resample draws groups with replacement,
/// then within each drawn group as many of its seeds with replacement, and,
/// independently, images; so the interval includes the variation between
/// groups as well as between seeds and images. The estimate is the observed
/// mean over seeds. `NaN`s as for [`paired_bootstrap`], or if `group` does not
/// name a group for every seed.
pub fn nested_bootstrap(
    a: &[Vec<bool>],
    b: &[Vec<bool>],
    group: &[usize],
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Interval {
    let nan = Interval {
        estimate: f64::NAN,
        low: f64::NAN,
        high: f64::NAN,
    };
    let seeds = a.len();
    let images = a.first().map_or(0, Vec::len);
    if seeds == 0
        || images == 0
        || b.len() != seeds
        || group.len() != seeds
        || a.iter().chain(b).any(|row| row.len() != images)
    {
        return nan;
    }
    let mut members: Vec<Vec<usize>> = Vec::new();
    for (s, &g) in group.iter().enumerate() {
        if members.len() <= g {
            members.resize(g + 1, Vec::new());
        }
        members[g].push(s);
    }
    members.retain(|m| !m.is_empty());
    // Per seed, A right − B right for each image.
    let d: Vec<Vec<i8>> = a
        .iter()
        .zip(b)
        .map(|(ra, rb)| {
            ra.iter()
                .zip(rb)
                .map(|(&x, &y)| i8::from(x) - i8::from(y))
                .collect()
        })
        .collect();
    let total_of = |row: &[i8]| row.iter().map(|&x| i64::from(x)).sum::<i64>();
    let scale = |seeds: i64| 100.0 / (seeds as f64 * images as f64);
    let estimate = d.iter().map(|r| total_of(r)).sum::<i64>() as f64 * scale(seeds as i64);
    if resamples == 0 {
        return Interval {
            estimate,
            low: f64::NAN,
            high: f64::NAN,
        };
    }
    let mut rng = Pcg64::seed_from_u64(seed);
    let mut seed_weight = vec![0_i64; seeds];
    let mut image_weight = vec![0_i32; images];
    let mut diffs = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        seed_weight.fill(0);
        image_weight.fill(0);
        for _ in 0..members.len() {
            // One group is always drawn whole (and draws nothing from `rng`).
            let m = match members.len() {
                1 => &members[0],
                n => &members[rng.random_range(0..n)],
            };
            for _ in 0..m.len() {
                seed_weight[m[rng.random_range(0..m.len())]] += 1;
            }
        }
        for _ in 0..images {
            image_weight[rng.random_range(0..images)] += 1;
        }
        let (mut total, mut drawn) = (0_i64, 0_i64);
        for (s, &w) in seed_weight.iter().enumerate() {
            if w == 0 {
                continue;
            }
            let inner: i32 = d[s]
                .iter()
                .zip(&image_weight)
                .map(|(&x, &v)| i32::from(x) * v)
                .sum();
            total += w * i64::from(inner);
            drawn += w;
        }
        diffs.push(total as f64 * scale(drawn));
    }
    diffs.sort_by(f64::total_cmp);
    let tail = ((1.0 - confidence) / 2.0).clamp(0.0, 0.5);
    Interval {
        estimate,
        low: percentile(&diffs, tail),
        high: percentile(&diffs, 1.0 - tail),
    }
}

/// The q-quantile of sorted, non-empty values, interpolating linearly between
/// order statistics.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let frac = pos - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

/// The index of the largest probability (the first, on ties).
fn argmax<const C: usize>(p: &[f32; C]) -> usize {
    let mut best = 0;
    for (k, &v) in p.iter().enumerate() {
        if v > p[best] {
            best = k;
        }
    }
    best
}

/// ln of a probability, clamped at 1e-12 so that zero gives a finite value.
fn clamped_ln(p: f32) -> f64 {
    f64::from(p).max(1e-12).ln()
}

/// Expected calibration error: predictions are put into `bins` equal-width bins
/// of confidence (the largest probability), and |accuracy − mean confidence| of
/// each bin is averaged, weighted by the bin's share of predictions. The study
/// uses 15 bins. `NaN` if there are no predictions, no bins, or `labels` has a
/// different length from `probs`.
pub fn ece<const C: usize>(probs: &[[f32; C]], labels: &[u8], bins: usize) -> f64 {
    if probs.is_empty() || bins == 0 || probs.len() != labels.len() || C == 0 {
        return f64::NAN;
    }
    let mut count = vec![0_usize; bins];
    let mut correct = vec![0_usize; bins];
    let mut confidence = vec![0.0_f64; bins];
    for (p, &label) in probs.iter().zip(labels) {
        let k = argmax(p);
        let c = f64::from(p[k]);
        let bin = if c.is_nan() {
            0
        } else {
            ((c * bins as f64) as usize).min(bins - 1)
        };
        count[bin] += 1;
        correct[bin] += usize::from(k == usize::from(label));
        confidence[bin] += c;
    }
    let total = probs.len() as f64;
    (0..bins)
        .filter(|&b| count[b] > 0)
        .map(|b| {
            let n = count[b] as f64;
            (n / total) * (correct[b] as f64 / n - confidence[b] / n).abs()
        })
        .sum()
}

/// Mean negative log-likelihood of the labels, −ln p_label with probabilities
/// clamped at 1e-12. `NaN` if empty or the lengths differ; a label out of range
/// counts as probability 0.
pub fn nll<const C: usize>(probs: &[[f32; C]], labels: &[u8]) -> f64 {
    if probs.is_empty() || probs.len() != labels.len() {
        return f64::NAN;
    }
    let total: f64 = probs
        .iter()
        .zip(labels)
        .map(|(p, &l)| -clamped_ln(p.get(usize::from(l)).copied().unwrap_or(0.0)))
        .sum();
    total / probs.len() as f64
}

/// The fraction of examples on which two models predict the same class (same
/// argmax). `NaN` if empty or the lengths differ.
pub fn agreement<const C: usize>(a_probs: &[[f32; C]], b_probs: &[[f32; C]]) -> f64 {
    if a_probs.is_empty() || a_probs.len() != b_probs.len() {
        return f64::NAN;
    }
    let same = a_probs
        .iter()
        .zip(b_probs)
        .filter(|(a, b)| argmax(a) == argmax(b))
        .count();
    same as f64 / a_probs.len() as f64
}

/// Mean KL(teacher ‖ student) = Σ_c t_c (ln t_c − ln s_c), in nats, with both
/// logs clamped at 1e-12 (classes where the teacher gives 0 contribute 0). `NaN`
/// if empty or the lengths differ.
pub fn kl<const C: usize>(teacher: &[[f32; C]], student: &[[f32; C]]) -> f64 {
    if teacher.is_empty() || teacher.len() != student.len() {
        return f64::NAN;
    }
    let total: f64 = teacher
        .iter()
        .zip(student)
        .map(|(t, s)| {
            t.iter()
                .zip(s)
                .filter(|(tc, _)| **tc > 0.0)
                .map(|(&tc, &sc)| f64::from(tc) * (clamped_ln(tc) - clamped_ln(sc)))
                .sum::<f64>()
        })
        .sum();
    total / teacher.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn mean_and_sd() {
        let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert_eq!(mean(&xs), 5.0);
        // Population sd is 2; the sample sd is √(32/7).
        assert!(close(sample_sd(&xs), (32.0_f64 / 7.0).sqrt(), 1e-12));
        assert!(mean(&[]).is_nan());
        assert!(sample_sd(&[1.0]).is_nan());
        assert_eq!(sample_sd(&[3.0, 3.0, 3.0]), 0.0);
    }

    #[test]
    fn t_cdf_known_values() {
        assert_eq!(student_t_cdf(0.0, 7.0), 0.5);
        // df = 1 is the Cauchy distribution: F(t) = ½ + atan(t)/π.
        for t in [-3.0, -0.5, 0.3, 1.0, 12.0] {
            let cauchy = 0.5 + f64::atan(t) / std::f64::consts::PI;
            assert!(close(student_t_cdf(t, 1.0), cauchy, 1e-12), "t = {t}");
        }
        // df = 2: F(t) = ½ + t / (2√(2 + t²)).
        for t in [-4.0_f64, -1.0, 0.7, 2.5] {
            let exact = 0.5 + t / (2.0 * (2.0 + t * t).sqrt());
            assert!(close(student_t_cdf(t, 2.0), exact, 1e-12), "t = {t}");
        }
        assert!(close(student_t_cdf(2.228_139, 10.0), 0.975, 1e-7));
        assert!(student_t_cdf(f64::INFINITY, 3.0) == 1.0);
        assert!(student_t_cdf(f64::NEG_INFINITY, 3.0) == 0.0);
        assert!(student_t_cdf(1.0, 0.0).is_nan());
    }

    #[test]
    fn t_quantiles_match_tables() {
        let table = [
            (0.975, 1.0, 12.706_205),
            (0.975, 2.0, 4.302_653),
            (0.975, 4.0, 2.776_445),
            (0.975, 9.0, 2.262_157),
            (0.975, 19.0, 2.093_024),
            (0.975, 30.0, 2.042_272),
            (0.95, 10.0, 1.812_461),
            (0.995, 5.0, 4.032_143),
            (0.9, 3.0, 1.637_744),
            (0.975, 1000.0, 1.962_339),
        ];
        for (p, df, want) in table {
            let got = t_quantile(p, df);
            assert!(
                close(got, want, 1e-6),
                "t_quantile({p}, {df}) = {got}, want {want}"
            );
            assert!(close(t_quantile(1.0 - p, df), -want, 1e-6));
            assert!(close(student_t_cdf(got, df), p, 1e-12));
        }
        assert_eq!(t_quantile(0.5, 3.0), 0.0);
        assert_eq!(t_quantile(1.0, 3.0), f64::INFINITY);
        assert_eq!(t_quantile(0.0, 3.0), f64::NEG_INFINITY);
        assert!(t_quantile(1.5, 3.0).is_nan());
        assert!(t_quantile(0.9, -1.0).is_nan());
    }

    #[test]
    fn interval_display_and_predicates() {
        let i = Interval {
            estimate: 0.2149,
            low: 0.0812,
            high: 0.3333,
        };
        assert_eq!(i.to_string(), "+0.21 [0.08, 0.33]");
        assert_eq!(format!("{i:.3}"), "+0.215 [0.081, 0.333]");
        assert_eq!(format!("{i:.1}"), "+0.2 [0.1, 0.3]");
        // Narrow intervals get the decimals they need (at most four).
        let small = Interval {
            estimate: -0.0015,
            low: -0.0030,
            high: 0.0001,
        };
        assert_eq!(small.to_string(), "-0.0015 [-0.0030, 0.0001]");
        assert_eq!(decimals(0.1), 2);
        assert_eq!(decimals(0.05), 3);
        assert_eq!(decimals(0.0), 2);
        assert!(!i.contains_zero() && i.excludes_zero_above() && !i.excludes_zero_below());
        let j = Interval {
            estimate: -0.5,
            low: -1.25,
            high: 0.25,
        };
        assert_eq!(j.to_string(), "-0.50 [-1.25, 0.25]");
        assert!(j.contains_zero() && !j.excludes_zero_above() && !j.excludes_zero_below());
        assert_eq!(j.width(), 1.5);
    }

    #[test]
    fn paired_t_matches_r_sleep_data() {
        // R: t.test(extra ~ group, data = sleep, paired = TRUE)
        // t = -4.0621, df = 9, p-value = 0.002833, 95% CI [-2.4598858, -0.7001142].
        let g1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
        let g2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];
        let r = paired_t(&g1, &g2, 0.95).unwrap();
        assert_eq!(r.n, 10);
        assert!(close(r.mean, -1.58, 1e-12));
        assert!(close(r.t, -4.062_128, 1e-6));
        assert!(close(r.p, 0.002_832_890, 1e-8));
        assert!(close(r.interval.low, -2.459_885_8, 1e-6));
        assert!(close(r.interval.high, -0.700_114_2, 1e-6));
        assert!(close(r.se, r.sd / 10f64.sqrt(), 1e-15));
        // Swapping the arguments flips the sign only.
        let s = paired_t(&g2, &g1, 0.95).unwrap();
        assert!(close(s.t, 4.062_128, 1e-6) && close(s.p, r.p, 1e-15));
    }

    #[test]
    fn paired_t_odd_inputs() {
        assert!(paired_t(&[1.0], &[2.0], 0.95).is_none());
        assert!(paired_t(&[1.0, 2.0], &[2.0], 0.95).is_none());
        let same = paired_t(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0], 0.95).unwrap();
        assert_eq!((same.p, same.t, same.sd), (1.0, 0.0, 0.0));
        assert_eq!(same.interval.low, 0.0);
        let shifted = paired_t(&[2.0, 3.0, 4.0], &[1.0, 2.0, 3.0], 0.95).unwrap();
        assert_eq!(shifted.p, 0.0);
        assert!(shifted.t > 0.0 && !shifted.interval.low.is_nan());
        assert_eq!(shifted.interval.to_string(), "+1.00 [1.00, 1.00]");
    }

    #[test]
    fn mean_interval_and_discordant() {
        // Mean 5, sd √(32/7) over 8 values: half-width t(0.975, 7)·sd/√8.
        let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let i = mean_interval(&xs, 0.95).unwrap();
        let half = 2.364_624_251_6 * (32.0_f64 / 7.0).sqrt() / 8f64.sqrt();
        assert!(close(i.estimate, 5.0, 1e-12));
        assert!(close(i.low, 5.0 - half, 1e-8) && close(i.high, 5.0 + half, 1e-8));
        assert!(mean_interval(&[1.0], 0.95).is_none());
        assert_eq!(mean_interval(&[2.0, 2.0], 0.95).unwrap().width(), 0.0);
        let a = [true, true, false, false, true];
        let b = [true, false, true, false, false];
        assert_eq!(discordant(&a, &b), (2, 1));
        assert_eq!(discordant(&a, &a), (0, 0));
    }

    #[test]
    fn holm_worked_example() {
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") = 0.03 0.06 0.06 0.02
        let adj = holm(&[0.01, 0.04, 0.03, 0.005]);
        let want = [0.03, 0.06, 0.06, 0.02];
        for (a, w) in adj.iter().zip(want) {
            assert!(close(*a, w, 1e-15), "{adj:?}");
        }
        // Capped at 1, monotone even when a later raw product is smaller.
        let adj = holm(&[0.5, 0.9, 0.02]);
        assert_eq!(adj, vec![1.0, 1.0, 0.06]);
        assert!(holm(&[]).is_empty());
        assert_eq!(holm(&[0.3]), vec![0.3]);
        assert_eq!(holm(&[f64::NAN, 0.01]), vec![1.0, 0.02]);
    }

    #[test]
    fn mcnemar_exact_binomial() {
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        // n = 7, k = 1: 2·(1 + 7)/128.
        assert!(close(mcnemar_exact(1, 6), 0.125, 1e-15));
        assert!(close(mcnemar_exact(6, 1), 0.125, 1e-15));
        // n = 5, k = 0: 2/32.
        assert!(close(mcnemar_exact(0, 5), 0.0625, 1e-15));
        // n = 20, k = 5: 2·(1 + 20 + 190 + 1140 + 4845 + 15504)/2^20.
        assert!(close(
            mcnemar_exact(5, 15),
            2.0 * 21_700.0 / 1_048_576.0,
            1e-14
        ));
        assert_eq!(mcnemar_exact(3, 3), 1.0);
        assert_eq!(mcnemar_exact(5000, 5000), 1.0);
        // Large counts stay finite and agree with the normal approximation's order.
        let p = mcnemar_exact(400, 600);
        assert!(p > 1e-12 && p < 1e-8, "{p}");
        let tiny = mcnemar_exact(0, 5000);
        assert!(tiny == 0.0 || (tiny > 0.0 && tiny < 1e-300));
        let near = mcnemar_exact(100_000, 100_400);
        assert!(near > 0.3 && near < 0.5, "{near}");
    }

    #[test]
    fn bootstrap_known_difference_and_reproducible() {
        // A right on 90 % of images, B on 85 %, same on every seed: +5 pp.
        let images = 1000;
        let a: Vec<Vec<bool>> = (0..5)
            .map(|_| (0..images).map(|i| i % 10 != 0).collect())
            .collect();
        let b: Vec<Vec<bool>> = (0..5)
            .map(|_| (0..images).map(|i| i % 20 > 2).collect())
            .collect();
        let i = paired_bootstrap(&a, &b, 500, 0.95, 7);
        assert!(close(i.estimate, 5.0, 1e-12));
        // sd of the per-image difference is √0.1475, so the 95 % half-width is
        // about 1.96·√(0.1475/1000) = 2.4 pp.
        assert!(i.low < 5.0 && i.high > 5.0, "{i}");
        assert!(close(i.width(), 2.0 * 2.38, 0.5), "{i}");
        assert_eq!(i, paired_bootstrap(&a, &b, 500, 0.95, 7));
        // Identical methods: a degenerate interval at 0.
        let z = paired_bootstrap(&a, &a, 100, 0.95, 1);
        assert_eq!((z.estimate, z.low, z.high), (0.0, 0.0, 0.0));
        // Odd shapes give NaN, not a panic.
        assert!(paired_bootstrap(&[], &[], 10, 0.95, 0).estimate.is_nan());
        assert!(paired_bootstrap(&a, &b[..2], 10, 0.95, 0).low.is_nan());
        assert!(paired_bootstrap(&a, &b, 0, 0.95, 0).low.is_nan());
    }

    #[test]
    fn bootstrap_seed_variation_widens_interval() {
        // Per-seed differences of ±2 pp around +1: resampling seeds must show it.
        let images = 500;
        let a: Vec<Vec<bool>> = (0..10)
            .map(|s| {
                (0..images)
                    .map(|i| i % 100 >= if s % 2 == 0 { 10 } else { 14 })
                    .collect()
            })
            .collect();
        let b: Vec<Vec<bool>> = (0..10)
            .map(|_| (0..images).map(|i| i % 100 >= 13).collect())
            .collect();
        let i = paired_bootstrap(&a, &b, 2000, 0.95, 3);
        assert!(close(i.estimate, 1.0, 1e-12), "{i}");
        assert!(i.contains_zero() || i.low < 0.5, "{i}");
    }

    #[test]
    #[ignore = "timing; run with --ignored in release"]
    fn bootstrap_is_fast() {
        let mut rng = Pcg64::seed_from_u64(0);
        let a: Vec<Vec<bool>> = (0..20)
            .map(|_| (0..10_000).map(|_| rng.random_range(0..100) < 92).collect())
            .collect();
        let b: Vec<Vec<bool>> = (0..20)
            .map(|_| (0..10_000).map(|_| rng.random_range(0..100) < 91).collect())
            .collect();
        let start = std::time::Instant::now();
        let i = paired_bootstrap(&a, &b, 2000, 0.95, 0);
        let took = start.elapsed();
        eprintln!("{i} in {took:?}");
        assert!(took.as_secs_f64() < 1.5);
    }

    #[test]
    fn calibration_and_agreement() {
        let probs = [
            [0.85_f32, 0.15, 0.0],
            [0.2, 0.75, 0.05],
            [0.65, 0.3, 0.05],
            [0.1, 0.35, 0.55],
        ];
        let labels = [0_u8, 1, 1, 2];
        // Two bins: every confidence is in the upper one; accuracy 3/4 against
        // mean confidence 0.7.
        assert!(close(ece(&probs, &labels, 2), 0.05, 1e-7));
        // Ten bins: one prediction per bin, right, right, wrong, right.
        let want = (0.15 + 0.25 + 0.65 + 0.45) / 4.0;
        assert!(close(ece(&probs, &labels, 10), want, 1e-7));
        // A confidence of exactly 1 goes into the top bin.
        assert!(close(ece(&[[1.0_f32, 0.0]], &[0], 15), 0.0, 1e-12));
        let want = -(0.85_f64.ln() + 0.75_f64.ln() + 0.3_f64.ln() + 0.55_f64.ln()) / 4.0;
        assert!(close(nll(&probs, &labels), want, 1e-6));
        assert!(close(nll(&[[0.0_f32, 1.0]], &[0]), -(1e-12_f64.ln()), 1e-9));
        let other = [
            [0.4_f32, 0.5, 0.1],
            [0.2, 0.7, 0.1],
            [0.6, 0.3, 0.1],
            [0.1, 0.8, 0.1],
        ];
        assert_eq!(agreement(&probs, &other), 0.5);
        assert_eq!(agreement(&probs, &probs), 1.0);
        assert!(close(kl(&probs, &probs), 0.0, 1e-12));
        let t = [[0.5_f32, 0.5]];
        let s = [[0.25_f32, 0.75]];
        let want = 0.5 * (0.5_f64 / 0.25).ln() + 0.5 * (0.5_f64 / 0.75).ln();
        assert!(close(kl(&t, &s), want, 1e-7));
        assert!(kl(&[[1.0_f32, 0.0]], &[[0.0_f32, 1.0]]).is_finite());
        assert!(ece::<3>(&[], &[], 15).is_nan() && nll(&probs, &labels[..2]).is_nan());
        assert!(agreement::<3>(&[], &[]).is_nan() && kl(&probs, &other[..1]).is_nan());
        assert!(ece(&probs, &labels, 0).is_nan());
    }

    #[test]
    fn a_nested_bootstrap_widens_with_the_spread_between_groups() {
        // Two groups of three seeds; 200 images. Within each group the seeds
        // agree; between the groups, A's lead is +10 or −2 points.
        let images = 200;
        let row = |right: usize| (0..images).map(|i| i < right).collect::<Vec<bool>>();
        let a: Vec<Vec<bool>> = [120, 120, 120, 96, 96, 96].map(row).to_vec();
        let b: Vec<Vec<bool>> = vec![row(100); 6];
        let groups = [0, 0, 0, 1, 1, 1];
        let nested = nested_bootstrap(&a, &b, &groups, 2000, 0.95, 7);
        let flat = paired_bootstrap(&a, &b, 2000, 0.95, 7);
        assert!((nested.estimate - 4.0).abs() < 1e-9, "{nested:?}");
        assert_eq!(nested.estimate, flat.estimate);
        // Drawing groups can give two copies of either one: the interval reaches
        // towards −2 and +10, wider than seeds drawn freely.
        assert!(
            nested.low < flat.low && nested.high > flat.high,
            "{nested:?} {flat:?}"
        );
        assert!(nested.low < 0.0 && nested.high > 8.0, "{nested:?}");
        // One group: seeds and images only, narrower.
        let one = nested_bootstrap(&a, &b, &[0; 6], 2000, 0.95, 7);
        assert!(one.width() < nested.width(), "{one:?} {nested:?}");
        assert!(
            nested_bootstrap(&a, &b, &[0, 1], 10, 0.95, 7)
                .estimate
                .is_nan()
        );
    }
}
