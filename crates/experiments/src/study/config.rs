//! The study's knobs, and the check that it would measure something.

/// Seeds of pipeline `p` are its seeds of pipeline 0 plus `p ×` this.
pub const PIPELINE_STRIDE: u64 = 1_000;

/// What the study runs.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyConfig {
    /// Independent repetitions of the whole pipeline: pipeline `p` draws its own
    /// selection seed, teachers, labelled subsets and label noise, and trains its
    /// own final seeds (every seed below plus `p ×` [`PIPELINE_STRIDE`]), so the
    /// study's intervals include what a rerun of the pipeline would change.
    pub pipelines: usize,
    /// Seeds of the final runs of each pipeline (pipeline 0's; see
    /// [`StudyConfig::pipelines`]); never the selection seed.
    pub seeds: Vec<u64>,
    /// Final seeds of each pipeline for the questions whose differences are
    /// expected to be a point or more (limited labels, the omitted class): the
    /// same as `seeds` by default; fewer make a faster study, and the report then
    /// refuses to claim any difference under half a point from fewer than 20
    /// seeds in all. Never the selection seed.
    pub coarse_seeds: Vec<u64>,
    /// The seed every candidate setting is tried with (and every teacher trained with).
    pub selection_seed: u64,
    /// Training images held out as the validation split.
    pub validation: usize,
    /// Use only the first `n` training images (before the split), for quick runs.
    pub train_limit: Option<usize>,
    /// Epochs of a student's base budget (direct may also get twice this).
    pub epochs: usize,
    /// Epochs of the strong teacher.
    pub teacher_epochs: usize,
    /// Epochs of the convolutional teacher.
    pub cnn_epochs: usize,
    /// Labelled-image budgets of the limited-labels question.
    pub label_budgets: Vec<usize>,
    /// Fraction of training labels replaced by a wrong class in the noise question.
    pub noise: f64,
    /// Seeds of the reference (PyTorch-match) ablation.
    pub reference_seeds: Vec<u64>,
    /// Whether this is the reduced CI-sized run (the report says so).
    pub quick: bool,
    /// Parts every mini-batch's gradient is summed in (mimic's default, 4): the
    /// results depend on it in their last bits only, which is how a rerun that
    /// changes nothing but rounding is made.
    pub parts: usize,
    /// Worker threads (results do not depend on it).
    pub threads: usize,
    /// The command line that produced the study, quoted in the report.
    pub command: String,
}

impl Default for StudyConfig {
    fn default() -> Self {
        Self {
            pipelines: 5,
            seeds: (1..=4).collect(),
            coarse_seeds: (1..=4).collect(),
            selection_seed: 0,
            validation: 10_000,
            train_limit: None,
            epochs: 10,
            teacher_epochs: 12,
            cnn_epochs: 4,
            label_budgets: vec![1_000, 5_000, 10_000],
            noise: 0.2,
            reference_seeds: vec![1, 2, 3],
            quick: false,
            parts: 4,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            command: String::new(),
        }
    }
}

impl StudyConfig {
    /// The reduced study CI runs: 8,000 training images, 2 pipelines of 2 seeds,
    /// 2 epochs. Its report says it is not the real one.
    pub fn quick() -> Self {
        Self {
            pipelines: 2,
            seeds: vec![1, 2],
            coarse_seeds: vec![1, 2],
            validation: 2_000,
            train_limit: Some(8_000),
            epochs: 2,
            teacher_epochs: 2,
            cnn_epochs: 1,
            label_budgets: vec![500, 1_000],
            reference_seeds: vec![1, 2],
            quick: true,
            ..Self::default()
        }
    }

    /// Whether the study can run on `training` images: some seeds and epochs, the
    /// selection seed not among the final ones, more training images than the
    /// validation split holds out, and label budgets below what is left.
    pub fn check(&self, training: usize) -> Result<(), String> {
        let available = self.train_limit.map_or(training, |n| n.min(training));
        if self.seeds.len() < 2
            || self.coarse_seeds.len() < 2
            || self.epochs == 0
            || self.teacher_epochs == 0
            || self.cnn_epochs == 0
            || self.pipelines == 0
            || self.parts == 0
        {
            return Err(
                "expected at least one pipeline, two final seeds (intervals need them) and one epoch"
                    .into(),
            );
        }
        let all_seeds = || {
            self.seeds
                .iter()
                .chain(&self.coarse_seeds)
                .chain(&self.reference_seeds)
                .chain([&self.selection_seed])
        };
        if let Some(s) = all_seeds().find(|&&s| s >= PIPELINE_STRIDE) {
            return Err(format!(
                "seed {s}: expected seeds below {PIPELINE_STRIDE} (pipeline p adds p × {PIPELINE_STRIDE})"
            ));
        }
        if self.seeds.contains(&self.selection_seed)
            || self.coarse_seeds.contains(&self.selection_seed)
            || self.reference_seeds.contains(&self.selection_seed)
        {
            return Err(format!(
                "the selection seed {} is also a final seed: settings would be chosen by a run that is then counted",
                self.selection_seed
            ));
        }
        if available <= self.validation {
            return Err(format!(
                "{available} training images, but the study holds out {} for validation: expected more training images than that",
                self.validation
            ));
        }
        let fit = available - self.validation;
        if let Some(&n) = self.label_budgets.iter().find(|&&n| n == 0 || n >= fit) {
            return Err(format!(
                "a budget of {n} labelled images: expected 1 to {} (the rest are the transfer set)",
                fit - 1
            ));
        }
        if !(0.0..0.9).contains(&self.noise) {
            return Err(format!("label noise {}: expected 0 to 0.9", self.noise));
        }
        Ok(())
    }

    /// The settings of pipeline `p`: every seed moved up by `p ×`
    /// [`PIPELINE_STRIDE`], so that no two pipelines share a selection seed, a
    /// teacher, a data draw or a final seed.
    pub fn pipeline(&self, p: usize) -> StudyConfig {
        let shift = p as u64 * PIPELINE_STRIDE;
        let moved = |seeds: &[u64]| seeds.iter().map(|s| s + shift).collect();
        StudyConfig {
            seeds: moved(&self.seeds),
            coarse_seeds: moved(&self.coarse_seeds),
            reference_seeds: moved(&self.reference_seeds),
            selection_seed: self.selection_seed + shift,
            ..self.clone()
        }
    }

    /// Training images used after the limit, fit + validation.
    pub fn fit_size(&self, training: usize) -> usize {
        self.train_limit.map_or(training, |n| n.min(training)) - self.validation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_study_that_would_measure_nothing_is_refused() {
        assert!(StudyConfig::default().check(60_000).is_ok());
        assert!(StudyConfig::quick().check(60_000).is_ok());
        let e = StudyConfig::default().check(10_000).unwrap_err();
        assert!(e.contains("10000 training images"), "{e}");
        let one_seed = StudyConfig {
            seeds: vec![1],
            ..StudyConfig::default()
        };
        assert!(one_seed.check(60_000).is_err());
        let reused = StudyConfig {
            seeds: vec![0, 1],
            ..StudyConfig::default()
        };
        assert!(
            reused
                .check(60_000)
                .unwrap_err()
                .contains("selection seed 0")
        );
        let budget = StudyConfig {
            label_budgets: vec![50_000],
            ..StudyConfig::default()
        };
        assert!(budget.check(60_000).unwrap_err().contains("50000"));
        let large = StudyConfig {
            seeds: vec![1, 1_000],
            ..StudyConfig::default()
        };
        assert!(large.check(60_000).unwrap_err().contains("seed 1000"));
        let none = StudyConfig {
            pipelines: 0,
            ..StudyConfig::default()
        };
        assert!(none.check(60_000).is_err());
    }

    #[test]
    fn pipelines_share_no_seed() {
        let config = StudyConfig::default();
        let (p0, p3) = (config.pipeline(0), config.pipeline(3));
        assert_eq!(p0, config);
        assert_eq!(p3.selection_seed, 3_000);
        assert_eq!(p3.seeds, vec![3_001, 3_002, 3_003, 3_004]);
    }
}
