//! Seeded weight initialisation.
//!
//! Every random number in `mimic` comes from a generator made from a seed
//! ([`rand_pcg::Pcg64`]): the same seed gives bit-identical weights. Layers are
//! initialised in place, so a network too large for the stack can be built
//! directly on the heap ([`boxed`]).

#[cfg(feature = "std")]
use core::mem::MaybeUninit;

#[cfg(feature = "std")]
use rand::{Rng, RngExt};

/// How a layer's parameters are drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Initializer {
    /// What suits each layer's activation: [`He`](Initializer::He) for ReLU and
    /// LeakyReLU, [`Xavier`](Initializer::Xavier) for Sigmoid and Identity
    /// ([`Activation::RECOMMENDED`](crate::Activation::RECOMMENDED)).
    #[default]
    Recommended,
    /// The original NumPy program's scheme: every weight *and* bias from a normal with mean 0 and
    /// standard deviation `1 / (rows · cols)` of its own matrix (numpy's
    /// `normal(0, 1/(nrows*ncols))`; the bias is an OUT×1 matrix, so its deviation is `1/OUT`).
    Original,
    /// He (Kaiming) normal: weights `N(0, 2 / IN)`, biases zero. Suits (leaky) ReLU.
    He,
    /// Xavier (Glorot) normal: weights `N(0, 2 / (IN + OUT))`, biases zero.
    Xavier,
    /// The variance of PyTorch's default for `nn.Linear`, drawn from a normal:
    /// weights *and* biases `N(0, 1 / (3 · IN))`. (PyTorch draws both from
    /// `U(−1/√IN, 1/√IN)`, whose variance that is; mimic draws normals only.)
    FanInVariance,
    /// Every parameter 0 (gradient and velocity buffers); draws nothing.
    Zeros,
}

impl Initializer {
    /// Standard deviations `(weights, bias)` for a layer with `inputs` and `outputs`
    /// whose activation recommends `recommended`; a deviation of 0 means "all zeros".
    pub fn deviations(self, inputs: usize, outputs: usize, recommended: Initializer) -> (f64, f64) {
        let (i, o) = (inputs as f64, outputs as f64);
        match self {
            // An activation that recommends `Recommended` gets He.
            Initializer::Recommended if recommended == Initializer::Recommended => {
                Initializer::He.deviations(inputs, outputs, recommended)
            }
            Initializer::Recommended => recommended.deviations(inputs, outputs, recommended),
            Initializer::Zeros => (0.0, 0.0),
            Initializer::Original => (1.0 / (i * o), 1.0 / o),
            Initializer::He => (sqrt(2.0 / i), 0.0),
            Initializer::Xavier => (sqrt(2.0 / (i + o)), 0.0),
            Initializer::FanInVariance => (sqrt(1.0 / (3.0 * i)), sqrt(1.0 / (3.0 * i))),
        }
    }
}

/// `√x` for the deviations above (`core` has no square root; Newton's method from
/// a first guess by halving the exponent converges in a few steps to within an ulp).
fn sqrt(x: f64) -> f64 {
    #[cfg(feature = "std")]
    {
        x.sqrt()
    }
    #[cfg(not(feature = "std"))]
    {
        if x <= 0.0 || !x.is_finite() {
            return if x == 0.0 { 0.0 } else { x };
        }
        let mut y = f64::from_bits((x.to_bits() >> 1) + (1023u64 << 51));
        for _ in 0..8 {
            y = 0.5 * (y + x / y);
        }
        y
    }
}

#[cfg(feature = "std")]
mod seeded {
    use super::*;

    /// Something whose parameters can be drawn from an [`Initializer`] (a layer, or a
    /// tuple of layers, initialised first to last).
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a chain of layers whose shapes fit",
        label = "cannot be initialised as a network",
        note = "a network is a layer such as `Dense<IN, OUT>` or `Conv2d<…>`, or a tuple of 2 to 12 of them whose shapes chain (each layer's input is the previous layer's output)",
        note = "for more than 12 layers, nest tuples: `((A, B, C), (D, E, F), …)` is a chain of chains"
    )]
    pub trait Initialize: Sized {
        /// Draws fresh parameters into `slot`, consuming random numbers in a fixed
        /// order, and returns the initialised value, which must be `slot` itself
        /// (callers check). Writing in place is what lets [`boxed`] build a network
        /// larger than the stack.
        fn initialize_in_place<'s, R: Rng + ?Sized>(
            slot: &'s mut MaybeUninit<Self>,
            init: Initializer,
            rng: &mut R,
        ) -> &'s mut Self;

        /// Draws fresh parameters, returned by value (on the stack: see [`boxed`] for
        /// networks too large for it).
        fn initialize<R: Rng + ?Sized>(init: Initializer, rng: &mut R) -> Self {
            let mut slot = MaybeUninit::uninit();
            initialize_slot(&mut slot, init, rng);
            // SAFETY: `initialize_slot` returns only once `slot` is initialised.
            unsafe { slot.assume_init() }
        }
    }

    /// Runs [`Initialize::initialize_in_place`] on `slot` and checks that the value
    /// it returned is `slot` itself, so that `slot` is known to be initialised even
    /// if an implementation returned some other value.
    pub(crate) fn initialize_slot<X: Initialize, R: Rng + ?Sized>(
        slot: &mut MaybeUninit<X>,
        init: Initializer,
        rng: &mut R,
    ) {
        let expected = slot.as_ptr();
        let initialised: *const X = X::initialize_in_place(slot, init, rng);
        assert!(
            core::ptr::eq(initialised, expected),
            "Initialize::initialize_in_place must return its own slot"
        );
    }

    /// `X` drawn by `init` from `rng` directly on the heap, with no copy of it on the
    /// stack: how to build a network whose parameters exceed the stack (a thread's
    /// stack is 2 MiB by default, 8 MiB for `main` on Linux; `Dense<1024, 1024>` alone
    /// is 4 MiB).
    pub fn boxed<X: Initialize, R: Rng + ?Sized>(init: Initializer, rng: &mut R) -> Box<X> {
        let mut slot = Box::<X>::new_uninit();
        initialize_slot(&mut slot, init, rng);
        // SAFETY: `initialize_slot` returns only once the slot is initialised.
        unsafe { slot.assume_init() }
    }

    /// Draws standard normal numbers with the Box–Muller transform, in f64, using both
    /// numbers of each pair (so the stream of draws is a pure function of the generator).
    #[derive(Debug, Default)]
    pub(crate) struct Normal {
        spare: Option<f64>,
    }

    impl Normal {
        /// A sampler with no cached draw.
        pub(crate) fn new() -> Self {
            Self::default()
        }

        /// One draw from `N(0, 1)`.
        pub(crate) fn sample<R: Rng + ?Sized>(&mut self, rng: &mut R) -> f64 {
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
}
#[cfg(feature = "std")]
pub use seeded::*;

#[cfg(all(test, feature = "std"))]
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
        let he = Initializer::He;
        assert_eq!(
            Initializer::Original.deviations(784, 16, he),
            (1.0 / 12544.0, 1.0 / 16.0)
        );
        assert_eq!(Initializer::He.deviations(8, 4, he).1, 0.0);
        assert_eq!(
            Initializer::Recommended.deviations(8, 4, Initializer::Xavier),
            Initializer::Xavier.deviations(8, 4, he)
        );
        // U(−1/√n, 1/√n) has variance 1/(3n): PyTorch's nn.Linear default.
        let (w, b) = Initializer::FanInVariance.deviations(12, 4, he);
        assert!((w * w - 1.0 / 36.0).abs() < 1e-15 && w == b);
        assert_eq!(Initializer::Zeros.deviations(8, 4, he), (0.0, 0.0));
    }
}
