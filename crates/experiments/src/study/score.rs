//! What a trained network's outputs say: accuracy, per-image predictions,
//! calibration (ECE over 15 bins, NLL), agreement with and KL to the teacher,
//! and — for the omitted-class question — the same after a bias correction
//! chosen on the validation split.

use mimic::{argmax, softmax};

use super::stats;
use super::train::Outputs;

/// Bins of the expected calibration error.
pub const ECE_BINS: usize = 15;

/// A final run's test-set figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Scores {
    /// Test accuracy, percent.
    pub accuracy: f64,
    /// Predicted class of every test image.
    pub predictions: Vec<u8>,
    /// The softmax of every test image's logits, from which `ece` and `nll`
    /// are computed.
    pub probabilities: Vec<[f32; 10]>,
    /// Expected calibration error (15 equal-width bins), percent.
    pub ece: f64,
    /// Mean negative log-likelihood of the true class, nats.
    pub nll: f64,
    /// Top-1 agreement with the teacher on the test set, percent (students).
    pub agreement: Option<f64>,
    /// Mean KL(teacher ‖ network) on the test set, nats (students).
    pub kl: Option<f64>,
    /// After adding the validation-chosen bias to one class (omitted-class question).
    pub corrected: Option<Corrected>,
}

/// A bias correction of one class's logit and what it did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Corrected {
    /// The class.
    pub class: usize,
    /// The added bias, chosen on the validation split.
    pub bias: f32,
    /// Test accuracy on that class before the correction, percent.
    pub class_before: f64,
    /// Test accuracy on that class after, percent.
    pub class_after: f64,
    /// Test accuracy overall after, percent.
    pub accuracy_after: f64,
}

/// What scoring needs besides the network's outputs.
#[derive(Clone, Copy)]
pub struct Truth<'a> {
    /// Validation classes (clean or noisy, as the question's labels are).
    pub validation: &'a [usize],
    /// Test classes.
    pub test: &'a [usize],
    /// The teacher's test logits, for students.
    pub teacher_test: Option<&'a [[f32; 10]]>,
    /// The class whose logit gets a bias correction chosen on validation.
    pub correct_class: Option<usize>,
}

/// Validation accuracy, percent.
pub fn validation_accuracy(outputs: &Outputs, truth: &Truth<'_>) -> f64 {
    accuracy(&outputs.validation, truth.validation, None)
}

/// The test figures of `outputs`.
pub fn score(outputs: &Outputs, truth: &Truth<'_>) -> Scores {
    let probs: Vec<[f32; 10]> = outputs.test.iter().map(softmax).collect();
    let labels: Vec<u8> = truth.test.iter().map(|&c| c as u8).collect();
    let teacher_probs: Option<Vec<[f32; 10]>> =
        truth.teacher_test.map(|t| t.iter().map(softmax).collect());
    Scores {
        accuracy: accuracy(&outputs.test, truth.test, None),
        predictions: outputs.test.iter().map(|l| argmax(l) as u8).collect(),
        ece: 100.0 * stats::ece(&probs, &labels, ECE_BINS),
        nll: stats::nll(&probs, &labels),
        agreement: teacher_probs
            .as_ref()
            .map(|t| 100.0 * stats::agreement(t, &probs)),
        kl: teacher_probs.as_ref().map(|t| stats::kl(t, &probs)),
        corrected: truth
            .correct_class
            .map(|class| correct(outputs, truth, class)),
        probabilities: probs,
    }
}

/// Percent of `logits` (shifted by `bias` on one class) whose argmax is the class.
fn accuracy(logits: &[[f32; 10]], classes: &[usize], bias: Option<(usize, f32)>) -> f64 {
    let right = logits
        .iter()
        .zip(classes)
        .filter(|&(l, &c)| predict(l, bias) == c)
        .count();
    100.0 * right as f64 / classes.len().max(1) as f64
}

fn predict(logits: &[f32; 10], bias: Option<(usize, f32)>) -> usize {
    let mut l = *logits;
    if let Some((class, b)) = bias {
        l[class] += b;
    }
    argmax(&l)
}

/// Hinton et al. raised the omitted class's bias until overall accuracy peaked;
/// here the bias is chosen the same way on the validation split (a grid of
/// 0 … 20 in steps of 0.25; the smallest of ties), then applied to the test set.
fn correct(outputs: &Outputs, truth: &Truth<'_>, class: usize) -> Corrected {
    let mut best = (f64::NEG_INFINITY, 0.0_f32);
    for step in 0..=80 {
        let bias = step as f32 * 0.25;
        let acc = accuracy(&outputs.validation, truth.validation, Some((class, bias)));
        if acc > best.0 {
            best = (acc, bias);
        }
    }
    let bias = best.1;
    let of_class = |b: Option<(usize, f32)>| {
        let (logits, classes): (Vec<[f32; 10]>, Vec<usize>) = outputs
            .test
            .iter()
            .zip(truth.test)
            .filter(|&(_, &c)| c == class)
            .map(|(l, &c)| (*l, c))
            .unzip();
        accuracy(&logits, &classes, b)
    };
    Corrected {
        class,
        bias,
        class_before: of_class(None),
        class_after: of_class(Some((class, bias))),
        accuracy_after: accuracy(&outputs.test, truth.test, Some((class, bias))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bias_chosen_on_validation_recovers_a_suppressed_class() {
        // Class 3's logit is 2 below where it should win; the others are fine.
        let make = |classes: &[usize]| -> Vec<[f32; 10]> {
            classes
                .iter()
                .map(|&c| {
                    let mut l = [0.0; 10];
                    l[c] = 3.0;
                    if c == 3 {
                        l[3] = 1.0;
                        l[5] = 2.0;
                    }
                    l
                })
                .collect()
        };
        let classes: Vec<usize> = (0..100).map(|k| k % 10).collect();
        let outputs = Outputs {
            validation: make(&classes),
            test: make(&classes),
            also: Vec::new(),
        };
        let truth = Truth {
            validation: &classes,
            test: &classes,
            teacher_test: None,
            correct_class: Some(3),
        };
        let scores = score(&outputs, &truth);
        assert_eq!(scores.accuracy, 90.0);
        let c = scores.corrected.unwrap();
        assert_eq!(
            (c.class_before, c.class_after, c.accuracy_after),
            (0.0, 100.0, 100.0)
        );
        assert!((1.0..=2.0).contains(&c.bias), "{}", c.bias);
        assert_eq!(scores.predictions[3], 5);
    }
}
