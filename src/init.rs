//! Seeded weight initialisation.
//!
//! Every random number in `mimic` comes from a caller-supplied generator, normally a
//! [`rand_pcg::Pcg64`] made from a seed: the same seed gives bit-identical weights.

use rand::{Rng, RngExt};

/// How a layer's parameters are drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Initializer {
    /// The seed's scheme: every weight *and* bias from a normal with mean 0 and
    /// standard deviation `1 / (rows · cols)` of its own matrix (numpy's
    /// `normal(0, 1/(nrows*ncols))`; the bias is an OUT×1 matrix, so its deviation is `1/OUT`).
    #[default]
    Seed,
    /// He (Kaiming) normal: weights `N(0, 2 / IN)`, biases zero. Suits (leaky) ReLU.
    He,
    /// Xavier (Glorot) normal: weights `N(0, 2 / (IN + OUT))`, biases zero.
    Xavier,
}

impl Initializer {
    /// Standard deviations `(weights, bias)` for a layer with `inputs` and `outputs`;
    /// a bias deviation of 0 means "all zeros".
    pub fn deviations(self, inputs: usize, outputs: usize) -> (f64, f64) {
        let (i, o) = (inputs as f64, outputs as f64);
        match self {
            Initializer::Seed => (1.0 / (i * o), 1.0 / o),
            Initializer::He => ((2.0 / i).sqrt(), 0.0),
            Initializer::Xavier => ((2.0 / (i + o)).sqrt(), 0.0),
        }
    }
}

/// Something whose parameters can be drawn from an [`Initializer`] (a layer, or a
/// tuple of layers, initialised first to last).
pub trait Initialize: Sized {
    /// Draws fresh parameters, consuming random numbers in a fixed order.
    fn initialize<R: Rng + ?Sized>(init: Initializer, rng: &mut R) -> Self;
}

/// Draws standard normal numbers with the Box–Muller transform, in f64, using both
/// numbers of each pair (so the stream of draws is a pure function of the generator).
#[derive(Debug, Default)]
pub struct Normal {
    spare: Option<f64>,
}

impl Normal {
    /// A sampler with no cached draw.
    pub fn new() -> Self {
        Self::default()
    }

    /// One draw from `N(0, 1)`.
    pub fn sample<R: Rng + ?Sized>(&mut self, rng: &mut R) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        // u1 in (0, 1] so that ln(u1) is finite.
        let u1 = 1.0 - rng.random::<f64>();
        let u2 = rng.random::<f64>();
        let radius = (-2.0 * u1.ln()).sqrt();
        let angle = core::f64::consts::TAU * u2;
        self.spare = Some(radius * angle.sin());
        radius * angle.cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64;

    #[test]
    fn normal_has_unit_moments() {
        let mut rng = Pcg64::seed_from_u64(7);
        let mut normal = Normal::new();
        let n = 200_000;
        let draws: Vec<f64> = (0..n).map(|_| normal.sample(&mut rng)).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "variance {var}");
    }

    #[test]
    fn seed_deviations_follow_the_seed() {
        assert_eq!(
            Initializer::Seed.deviations(784, 16),
            (1.0 / 12544.0, 1.0 / 16.0)
        );
        assert_eq!(Initializer::He.deviations(8, 4).1, 0.0);
    }
}
