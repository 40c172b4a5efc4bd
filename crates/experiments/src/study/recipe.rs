//! What a run trains towards and how: a [`Recipe`] is one point of a search grid.

use std::fmt;

/// What a network learns from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Teaching {
    /// Cross-entropy on the labels, smoothed by `smoothing` (0 = plain).
    Labels {
        /// Label smoothing ε.
        smoothing: f32,
    },
    /// Hinton's KD: `α·T²·KL(teacher_T ‖ student_T) + (1−α)·CE(label)`.
    Kd {
        /// Temperature T.
        temperature: f32,
        /// Weight α of the soft term.
        alpha: f32,
    },
    /// The seed's MSE against the teacher's output vector.
    Mse,
}

/// How a network is optimised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Optim {
    /// The seed's: its initialisation, per-sample SGD, data in file order.
    SeedSgd,
    /// He initialisation, Adam (β 0.9/0.999) on mini-batches of 64, cosine decay of
    /// the rate to 0, data shuffled per epoch from the run's seed.
    Adam,
    /// The same with a constant rate.
    AdamConstant,
    /// The same with PyTorch's `nn.Linear` initialisation variance
    /// ([`mimic::Initializer::FanInVariance`]) instead of He's.
    AdamConstantFanIn,
}

/// One training configuration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recipe {
    /// What is learnt.
    pub teaching: Teaching,
    /// The base learning rate.
    pub learning_rate: f32,
    /// Passes over the training set.
    pub epochs: usize,
    /// How.
    pub optim: Optim,
}

impl Teaching {
    /// The name of the method family: `direct`, `kd` or `mse`.
    pub fn family(self) -> &'static str {
        match self {
            Teaching::Labels { .. } => "direct",
            Teaching::Kd { .. } => "kd",
            Teaching::Mse => "mse",
        }
    }
}

impl fmt::Display for Teaching {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Teaching::Labels { smoothing: 0.0 } => write!(f, "labels"),
            Teaching::Labels { smoothing } => write!(f, "labels ε={smoothing}"),
            Teaching::Kd { temperature, alpha } => write!(f, "kd T={temperature} α={alpha}"),
            Teaching::Mse => write!(f, "mse"),
        }
    }
}

impl fmt::Display for Recipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let optim = match self.optim {
            Optim::SeedSgd => "sgd",
            Optim::Adam => "adam cosine",
            Optim::AdamConstant => "adam",
            Optim::AdamConstantFanIn => "adam (fan-in init)",
        };
        write!(
            f,
            "{}, {optim} lr {}, {} epoch{}",
            self.teaching,
            self.learning_rate,
            self.epochs,
            if self.epochs == 1 { "" } else { "s" }
        )
    }
}

/// Every combination of `rates` × `teachings` × `epochs` under `optim`.
pub fn grid(rates: &[f32], teachings: &[Teaching], epochs: &[usize], optim: Optim) -> Vec<Recipe> {
    let mut recipes = Vec::new();
    for &teaching in teachings {
        for &epochs in epochs {
            for &learning_rate in rates {
                recipes.push(Recipe {
                    teaching,
                    learning_rate,
                    epochs,
                    optim,
                });
            }
        }
    }
    recipes
}

/// If the best recipe sits on an edge of the grid, the recipes one step beyond
/// it (the rate ×/÷ 3 past either end; T × 2 past the top; ε + 0.1 past the top),
/// the other settings held at the best's. Empty when the best is inside the grid.
pub fn widen(grid: &[Recipe], best: &Recipe) -> Vec<Recipe> {
    let mut extra = Vec::new();
    let rates: Vec<f32> = grid.iter().map(|r| r.learning_rate).collect();
    let (low, high) = bounds(&rates);
    if low == high {
        return extra; // one rate: nothing was searched, nothing to widen
    }
    if best.learning_rate == high {
        extra.push(Recipe {
            learning_rate: high * 3.0,
            ..*best
        });
    }
    if best.learning_rate == low {
        extra.push(Recipe {
            learning_rate: low / 3.0,
            ..*best
        });
    }
    match best.teaching {
        Teaching::Kd { temperature, alpha } => {
            let temperatures: Vec<f32> = grid
                .iter()
                .filter_map(|r| match r.teaching {
                    Teaching::Kd { temperature, .. } => Some(temperature),
                    _ => None,
                })
                .collect();
            if temperatures.len() > 1 && temperature == bounds(&temperatures).1 {
                extra.push(Recipe {
                    teaching: Teaching::Kd {
                        temperature: temperature * 2.0,
                        alpha,
                    },
                    ..*best
                });
            }
        }
        Teaching::Labels { smoothing } => {
            let smoothings: Vec<f32> = grid
                .iter()
                .filter_map(|r| match r.teaching {
                    Teaching::Labels { smoothing } => Some(smoothing),
                    _ => None,
                })
                .collect();
            if smoothings.len() > 1 && smoothing == bounds(&smoothings).1 {
                extra.push(Recipe {
                    teaching: Teaching::Labels {
                        smoothing: smoothing + 0.1,
                    },
                    ..*best
                });
            }
        }
        Teaching::Mse => {}
    }
    extra
}

fn bounds(values: &[f32]) -> (f32, f32) {
    values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grid_has_every_combination_and_widens_only_at_its_edges() {
        let kd = [1.0, 4.0].map(|temperature| Teaching::Kd {
            temperature,
            alpha: 1.0,
        });
        let grid = grid(&[0.001, 0.003], &kd, &[5], Optim::Adam);
        assert_eq!(grid.len(), 4);
        // The top rate and the top temperature: both widened.
        let best = grid[3];
        assert_eq!(best.learning_rate, 0.003);
        let extra = widen(&grid, &best);
        assert_eq!(extra.len(), 2);
        assert!((extra[0].learning_rate - 0.009).abs() < 1e-9);
        assert_eq!(
            extra[1].teaching,
            Teaching::Kd {
                temperature: 8.0,
                alpha: 1.0
            }
        );
        // A bottom temperature is not widened (T below 1 is not searched); the
        // bottom rate is.
        let extra = widen(&grid, &grid[0]);
        assert_eq!(extra.len(), 1);
        assert!((extra[0].learning_rate - 0.001 / 3.0).abs() < 1e-9);
        assert_eq!(
            grid[0].to_string(),
            "kd T=1 α=1, adam cosine lr 0.001, 5 epochs"
        );
    }
}
