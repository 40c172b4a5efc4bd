//! The distillation loss's gradient against central finite differences (in f64,
//! on the loss evaluated in f32 at a step large enough for f32's resolution), at
//! ordinary and large temperatures, and its finiteness at extreme logits.

use mimic::{Distillation, Loss, SoftTarget};
use proptest::prelude::*;

fn logits() -> impl Strategy<Value = [f32; 10]> {
    proptest::array::uniform10(-8.0f32..8.0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn gradient_matches_finite_differences(
        student in logits(),
        teacher in logits(),
        class in 0usize..10,
        temperature in prop_oneof![0.5f32..2.0, 2.0f32..20.0, Just(100.0f32)],
        alpha in 0.0f32..=1.0,
    ) {
        let loss = Distillation::new(temperature, alpha);
        let target = SoftTarget { logits: teacher, class };
        let (_, gradient) = loss.loss_and_gradient(&student, &target).unwrap();
        // The soft term's curvature grows like T² / T² = 1 per logit; a step of 1e-2
        // keeps the f32 rounding error of the loss (~1e-6 · |L|) below 1e-3 of the
        // slope while the truncation error stays O(h²).
        let h = 1e-2f32;
        for o in 0..10 {
            let (mut up, mut down) = (student, student);
            up[o] += h;
            down[o] -= h;
            let f = |x: &[f32; 10]| f64::from(loss.loss(x, &target).unwrap());
            let numeric = (f(&up) - f(&down)) / f64::from(2.0 * h);
            let analytic = f64::from(gradient[o]);
            let tolerance = 2e-3 * (1.0 + analytic.abs()) * f64::from(temperature.max(1.0)).sqrt();
            prop_assert!((numeric - analytic).abs() < tolerance,
                "T={temperature} α={alpha} logit {o}: numeric {numeric} analytic {analytic}");
        }
    }

    #[test]
    fn finite_for_extreme_logits(
        student in proptest::array::uniform10(prop_oneof![-1e30f32..1e30, Just(f32::MAX), Just(-f32::MAX)]),
        teacher in proptest::array::uniform10(prop_oneof![-1e30f32..1e30, Just(f32::MAX), Just(-f32::MAX)]),
        class in 0usize..10,
        temperature in prop_oneof![0.01f32..1.0, 1.0f32..1e6],
        alpha in 0.0f32..=1.0,
    ) {
        let (loss, gradient) = Distillation::new(temperature, alpha)
            .loss_and_gradient(&student, &SoftTarget { logits: teacher, class })
            .unwrap();
        prop_assert!(loss.is_finite() && loss >= 0.0, "{loss}");
        prop_assert!(gradient.iter().all(|g| g.is_finite()), "{gradient:?}");
    }
}
