//! Dividing the study into `N` parts that run anywhere — cores of one machine, the
//! nodes of a cluster — and are merged into the report a single process writes.
//!
//! **What is independent.** The study's runs are not all independent: a student
//! learns from a teacher trained first, a method's final runs use the setting its
//! search chose, and the omitted-class runs take the compression question's
//! choices for 784→32→10. What is independent is a [`Lane`] — one method of one
//! comparison, from its search to its final seeds ([`super::lanes`]). So the study
//! is divided by lanes, never inside one: a lane's final runs are trained where
//! its search ran, and need nothing from another part.
//!
//! **Shared stages are recomputed, not shared.** Every part trains the teachers
//! its lanes need. A teacher is trained with the selection seed on data every
//! part derives the same way, and training gives the same bits on any machine
//! and for any thread count, so each part's copy of a teacher is the teacher a
//! single process trains; only one part (the lowest that trains it) reports its
//! row. This costs the duplicated teachers' time, but no part waits for another
//! and no files pass between them before the merge: a Slurm job array or a
//! Kubernetes indexed Job runs them all at once. The omitted-class lane of a
//! method follows the compression lane whose choice it takes, in the same unit.
//!
//! **The partition is deterministic.** Every part computes it alike from the
//! settings and the data's sizes, before training anything: units (lanes, and the
//! pairs above), largest planned work first, each to the part that would then
//! finish its planned work first — counting any teacher the unit needs that the
//! part does not already train; ties go to the lowest part. So lanes stay with
//! their teacher unless training it again elsewhere finishes sooner (the parts
//! run at once: wall time counts, duplicated work does not). Each part file
//! records the whole partition, and the merge refuses parts that disagree on it.
//!
//! **How far it goes.** Each pipeline of the full study is about 40 units (the
//! first also holds the reference ablation's), and pipelines share nothing, so
//! the study's five pipelines divide well over as many parts as they have
//! units; all parts together do more than a single process's work by the
//! teachers trained twice. The floor is the largest unit with its teacher:
//! 784→32→10 trained directly on every label, the omitted-class runs that take
//! its choice, and the strong teacher, of one pipeline. Going further would mean
//! splitting a lane's final seeds over parts, each recomputing the lane's search.

use std::fmt;
use std::str::FromStr;

use super::lanes::Lane;

/// Part `index` of `count` (0 ≤ index < count), written `K/N`: what a job array's
/// task id (`$SLURM_ARRAY_TASK_ID`, `$JOB_COMPLETION_INDEX`) and size give.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shard {
    /// Which part, from 0.
    pub index: usize,
    /// How many parts.
    pub count: usize,
}

impl Shard {
    /// The whole study, as one part.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// The part's file name: `part-K-of-N.json.gz`.
    pub fn file_name(&self) -> String {
        format!("part-{}-of-{}.json.gz", self.index, self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// `K/N` did not name a part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseShardError(String);

impl fmt::Display for ParseShardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}`: expected K/N, part K (from 0) of N parts, with K < N (e.g. 0/4)",
            self.0
        )
    }
}

impl std::error::Error for ParseShardError {}

impl FromStr for Shard {
    type Err = ParseShardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = || ParseShardError(s.to_string());
        let (k, n) = s.split_once('/').ok_or_else(error)?;
        // Plain digits only: no sign, no spaces, no `+1`.
        let number = |t: &str| {
            (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                .then(|| t.parse::<usize>().ok())
                .flatten()
        };
        match (number(k), number(n)) {
            (Some(index), Some(count)) if index < count => Ok(Shard { index, count }),
            _ => Err(error()),
        }
    }
}

/// What must run together, and what it costs.
#[derive(Clone, Debug, PartialEq)]
pub struct Unit {
    /// Its lanes.
    pub lanes: Vec<Lane>,
    /// The teachers they need (indices into the study's list of teachers).
    pub teachers: Vec<usize>,
    /// Their planned work (the units of [`super::search::work`]).
    pub work: f64,
}

/// One part's share.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Share {
    /// Its lanes, in the study's order.
    pub lanes: Vec<Lane>,
    /// The teachers it trains (indices, increasing).
    pub trains: Vec<usize>,
    /// The teachers whose rows it reports (a subset of `trains`).
    pub reports: Vec<usize>,
}

/// Every part's share: the partition of the study's lanes and teachers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// Part k's share at index k.
    pub shares: Vec<Share>,
}

impl Partition {
    /// Divides `units` over `count` parts (see the module's docs); `teacher_work`
    /// is each teacher's planned work. Every teacher is trained by some part, even
    /// one no lane needs, so that its row is reported.
    pub fn new(units: &[Unit], teacher_work: &[f64], count: usize) -> Self {
        let count = count.max(1);
        let teachers = teacher_work.len();
        let mut load = vec![0.0_f64; count];
        let mut trains = vec![vec![false; teachers]; count];
        let mut lanes: Vec<Vec<Lane>> = vec![Vec::new(); count];
        // Largest first; the sort is stable, so ties keep the study's order.
        let mut by_work: Vec<&Unit> = units.iter().collect();
        by_work.sort_by(|a, b| b.work.total_cmp(&a.work));
        for unit in by_work {
            let cost = |k: usize| {
                let new_teachers: f64 = unit
                    .teachers
                    .iter()
                    .filter(|&&t| !trains[k].get(t).copied().unwrap_or(true))
                    .map(|&t| teacher_work[t])
                    .sum();
                load[k] + unit.work + new_teachers
            };
            // `min_by` keeps the first of equal minima: the lowest part.
            let k = (0..count)
                .min_by(|&a, &b| cost(a).total_cmp(&cost(b)))
                .unwrap_or(0);
            load[k] = cost(k);
            for &t in &unit.teachers {
                if let Some(slot) = trains[k].get_mut(t) {
                    *slot = true;
                }
            }
            lanes[k].extend(&unit.lanes);
        }
        for t in 0..teachers {
            if !trains.iter().any(|part| part[t]) {
                let k = (0..count)
                    .min_by(|&a, &b| load[a].total_cmp(&load[b]))
                    .unwrap_or(0);
                load[k] += teacher_work[t];
                trains[k][t] = true;
            }
        }
        let shares = (0..count)
            .map(|k| {
                let mut lanes = std::mem::take(&mut lanes[k]);
                lanes.sort();
                let trained: Vec<usize> = (0..teachers).filter(|&t| trains[k][t]).collect();
                let reports = trained
                    .iter()
                    .copied()
                    .filter(|&t| (0..k).all(|j| !trains[j][t]))
                    .collect();
                Share {
                    lanes,
                    trains: trained,
                    reports,
                }
            })
            .collect();
        Self { shares }
    }

    /// Part `k`'s share (an empty one past the last part).
    pub fn share(&self, k: usize) -> Share {
        self.shares.get(k).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_as_k_of_n() {
        assert_eq!("0/1".parse(), Ok(Shard::WHOLE));
        assert_eq!("2/3".parse(), Ok(Shard { index: 2, count: 3 }));
        for bad in [
            "3/3", "0/0", "1", "-1/3", "+1/3", " 1/3", "1/3/4", "a/b", "/3", "",
        ] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.to_string().contains("expected K/N"), "{bad}: {e}");
        }
        let shard = Shard { index: 2, count: 3 };
        assert_eq!(shard.to_string(), "2/3");
        assert_eq!(shard.file_name(), "part-2-of-3.json.gz");
    }

    fn lane(cell: usize) -> Lane {
        Lane {
            pipeline: 0,
            group: 1,
            cell,
            arm: 0,
        }
    }

    #[test]
    fn every_lane_goes_to_one_part_and_every_teacher_is_reported_once() {
        let units: Vec<Unit> = (0..9)
            .map(|k| Unit {
                lanes: vec![lane(k)],
                teachers: vec![k % 3],
                work: (1 + k % 4) as f64,
            })
            .collect();
        // A fourth teacher no lane needs.
        let teacher_work = [5.0, 1.0, 1.0, 2.0];
        for count in 1..=12 {
            let p = Partition::new(&units, &teacher_work, count);
            assert_eq!(p, Partition::new(&units, &teacher_work, count));
            assert_eq!(p.shares.len(), count);
            let mut lanes: Vec<Lane> = p.shares.iter().flat_map(|s| s.lanes.clone()).collect();
            lanes.sort();
            assert_eq!(lanes, (0..9).map(lane).collect::<Vec<_>>());
            for t in 0..teacher_work.len() {
                let reported = p.shares.iter().filter(|s| s.reports.contains(&t)).count();
                assert_eq!(reported, 1, "teacher {t} with {count} parts");
            }
            for (k, share) in p.shares.iter().enumerate() {
                assert!(share.reports.iter().all(|t| share.trains.contains(t)));
                for l in &share.lanes {
                    let unit = &units[l.cell];
                    assert!(unit.teachers.iter().all(|t| share.trains.contains(t)));
                }
                assert_eq!(p.share(k), *share);
            }
            assert_eq!(p.share(count), Share::default());
        }
        // One part does everything.
        let whole = Partition::new(&units, &teacher_work, 1);
        assert_eq!(whole.shares[0].trains, vec![0, 1, 2, 3]);
        assert_eq!(whole.shares[0].reports, vec![0, 1, 2, 3]);
    }

    #[test]
    fn lanes_sharing_a_teacher_stay_together_unless_apart_is_sooner() {
        let unit = |cell, teachers: &[usize], work| Unit {
            lanes: vec![lane(cell)],
            teachers: teachers.to_vec(),
            work,
        };
        // Part 0 is busy with a long lane; the two small lanes share part 1 and
        // its teacher rather than train the teacher again in part 0.
        let units = [unit(0, &[], 150.0), unit(1, &[0], 1.0), unit(2, &[0], 1.0)];
        let p = Partition::new(&units, &[100.0], 2);
        assert_eq!(p.shares[0].lanes, vec![lane(0)]);
        assert_eq!(p.shares[1].lanes, vec![lane(1), lane(2)]);
        assert_eq!(
            (&p.shares[1].trains[..], &p.shares[1].reports[..]),
            (&[0][..], &[0][..])
        );
        // With nothing else to do, training the teacher twice finishes sooner.
        let p = Partition::new(&units[1..], &[100.0], 2);
        assert_eq!(p.shares[0].lanes, vec![lane(1)]);
        assert_eq!(p.shares[1].lanes, vec![lane(2)]);
        assert_eq!(p.shares[1].trains, vec![0]);
        assert_eq!(p.shares[1].reports, Vec::<usize>::new());
    }
}
