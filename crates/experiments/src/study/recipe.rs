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
/// An edge is one of a setting the grid searched: it has at least two distinct
/// values (a grid of five rates all at ε = 0 did not search ε, so its ε is not
/// widened).
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
            if distinct(&temperatures) > 1 && temperature == bounds(&temperatures).1 {
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
            if distinct(&smoothings) > 1 && smoothing == bounds(&smoothings).1 {
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

/// How many candidates past the grids every arm of a comparison tries: the
/// most that [`widen`] can ask for in any of `grids` (one for the rate if it was
/// searched, one for T or ε if either was). It depends on the grids alone, not on
/// any result, so every arm of a table gets the same count and an arm's runs
/// still depend on nothing but that arm.
pub fn widening_budget<'a>(grids: impl IntoIterator<Item = &'a [Recipe]>) -> usize {
    grids
        .into_iter()
        .filter(|g| g.len() > 1)
        .map(|g| {
            let rates: Vec<f32> = g.iter().map(|r| r.learning_rate).collect();
            let other: Vec<f32> = g
                .iter()
                .filter_map(|r| match r.teaching {
                    Teaching::Kd { temperature, .. } => Some(temperature),
                    Teaching::Labels { smoothing } => Some(smoothing),
                    Teaching::Mse => None,
                })
                .collect();
            usize::from(distinct(&rates) > 1) + usize::from(distinct(&other) > 1)
        })
        .max()
        .unwrap_or(0)
}

/// Exactly `budget` candidates past `grid` for an arm whose best is `best`:
/// [`widen`]'s steps past the edges it landed on, then (fewer edges, or none)
/// rates between the grid's, the best's rate × √3 and ÷ √3, so that every arm
/// of a table is chosen among the same number of candidates.
pub fn widen_to(grid: &[Recipe], best: &Recipe, budget: usize) -> Vec<Recipe> {
    let mut extra = widen(grid, best);
    extra.truncate(budget);
    let root3 = 3f32.sqrt();
    for rate in [best.learning_rate * root3, best.learning_rate / root3] {
        let candidate = Recipe {
            learning_rate: rate,
            ..*best
        };
        if extra.len() < budget && !grid.contains(&candidate) && !extra.contains(&candidate) {
            extra.push(candidate);
        }
    }
    extra
}

/// How many different values `values` holds.
fn distinct(values: &[f32]) -> usize {
    let mut seen: Vec<f32> = Vec::new();
    for &v in values {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    seen.len()
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

    #[test]
    fn a_setting_with_one_value_is_not_widened() {
        // Five rates, every one at ε = 0: ε was not searched, so a best at ε = 0
        // is at no edge of ε (it was once widened to ε = 0.1, which then won).
        let plain = [Teaching::Labels { smoothing: 0.0 }];
        let grid = grid(
            &[0.001, 0.003, 0.01, 0.03, 0.1],
            &plain,
            &[1],
            Optim::SeedSgd,
        );
        let extra = widen(&grid, &grid[2]);
        assert!(extra.is_empty(), "{extra:?}");
        // At the top rate only the rate is widened, still at ε = 0.
        let extra = widen(&grid, &grid[4]);
        assert_eq!(extra.len(), 1);
        assert_eq!(extra[0].teaching, plain[0]);
        // Two values of ε: the top one is an edge.
        let two = [0.0, 0.1].map(|smoothing| Teaching::Labels { smoothing });
        let grid = super::grid(&[0.001, 0.003], &two, &[1], Optim::Adam);
        let extra = widen(&grid, &grid[2]);
        assert!(
            extra
                .iter()
                .any(|r| r.teaching == Teaching::Labels { smoothing: 0.2 })
        );
    }

    #[test]
    fn every_arm_of_a_table_gets_the_same_number_of_extra_candidates() {
        let kd = [1.0, 8.0].map(|temperature| Teaching::Kd {
            temperature,
            alpha: 1.0,
        });
        let kd = grid(&[0.001, 0.003], &kd, &[5], Optim::Adam);
        let direct = grid(
            &[0.001, 0.003],
            &[Teaching::Labels { smoothing: 0.0 }],
            &[5, 10],
            Optim::Adam,
        );
        let budget = widening_budget([&kd[..], &direct[..]]);
        assert_eq!(budget, 2);
        // KD at the top rate and T: both steps past; direct at the top rate,
        // ε not searched: one step past and one rate in between.
        let best_direct = direct[1];
        for (grid, best) in [(&kd, kd[3]), (&direct, best_direct)] {
            let extra = widen_to(grid, &best, budget);
            assert_eq!(extra.len(), budget, "{extra:?}");
            assert!(extra.iter().all(|r| !grid.contains(r)));
        }
        let extra = widen_to(&direct, &best_direct, budget);
        assert!((extra[0].learning_rate - 0.009).abs() < 1e-6);
        assert!((extra[1].learning_rate - 0.003 * 3f32.sqrt()).abs() < 1e-6);
        // A grid of one candidate chooses nothing and is not widened.
        assert_eq!(widening_budget([&kd[..1]]), 0);
    }
}
