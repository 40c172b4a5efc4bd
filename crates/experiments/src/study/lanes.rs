//! The study's independent units of work, and where each run sits in the whole
//! study's order.
//!
//! The study repeats its whole pipeline (teachers, data draws, searches, finals)
//! for each of its *pipelines*, one after another, and within a pipeline runs its
//! comparisons in four *groups*, one after another: the seed's
//! question, compression and label noise (group 1); limited labels (2); the
//! reference ablation (3); the omitted class (4), which takes the compression
//! question's choices. Within a group every cell's arm — one method of one
//! comparison — is a [`Lane`]: its candidate settings tried with the selection
//! seed, one step past any edge of the grid the best lands on, then the choice
//! trained with every final seed. A lane needs nothing from any other lane, only
//! the teacher of its cell (trained once, with the selection seed, the same bits
//! wherever it is trained) — except an omitted-class lane, which needs the choice
//! of the compression lane of its method on 784→32→10.
//!
//! An [`Order`] is a run's place in the list a single process returns: by
//! pipeline, then teachers first (group 0), then each group's search runs, the runs past the grid's
//! edges, and the final runs, each by cell, arm and index. Sorting a shard's or
//! several shards' runs by it gives the single-process list, so the report, whose
//! tables follow that list, comes out the same.

/// One method of one comparison: everything the study runs for a cell's arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lane {
    /// The pipeline (see [`super::StudyConfig::pipelines`]).
    pub pipeline: usize,
    /// The group (1 to 4; see the module's docs).
    pub group: usize,
    /// The cell within the group, in the order the questions list them.
    pub cell: usize,
    /// The arm within the cell.
    pub arm: usize,
}

/// The stages of a lane, in the order a group runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// The candidates of the grid, with the selection seed (also a teacher's stage).
    Search,
    /// One step past an edge of the grid the best candidate landed on.
    Widened,
    /// The chosen setting with each final seed.
    Final,
}

/// A run's place in the whole study's list of runs (see the module's docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Order {
    /// The pipeline.
    pub pipeline: usize,
    /// 0 for a teacher, else the group of its lane.
    pub group: usize,
    /// The stage of the group (teachers: [`Stage::Search`]).
    pub stage: Stage,
    /// The cell within the group (teachers: 0).
    pub cell: usize,
    /// The arm within the cell (teachers: 0).
    pub arm: usize,
    /// The candidate's index in its arm's grid, the widened candidate's index, the
    /// final seed's index, or the teacher's index in the study's list of teachers.
    pub index: usize,
}

impl Order {
    /// The place of the `k`-th teacher (numbered across pipelines) of `pipeline`.
    pub fn teacher(pipeline: usize, k: usize) -> Self {
        Self {
            pipeline,
            group: 0,
            stage: Stage::Search,
            cell: 0,
            arm: 0,
            index: k,
        }
    }

    /// The lane the run belongs to (`None` for a teacher).
    pub fn lane(&self) -> Option<Lane> {
        (self.group > 0).then_some(Lane {
            pipeline: self.pipeline,
            group: self.group,
            cell: self.cell,
            arm: self.arm,
        })
    }

    /// The teacher's index, for a teacher.
    pub fn teacher_index(&self) -> Option<usize> {
        (self.group == 0).then_some(self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teachers_come_first_then_groups_by_stage_then_cell_and_arm() {
        let at = |group, stage, cell, arm, index| Order {
            pipeline: 0,
            group,
            stage,
            cell,
            arm,
            index,
        };
        let mut orders = vec![
            at(2, Stage::Search, 0, 0, 0),
            at(1, Stage::Final, 0, 0, 0),
            at(1, Stage::Widened, 3, 1, 0),
            at(1, Stage::Search, 4, 1, 2),
            Order::teacher(0, 1),
            at(1, Stage::Search, 4, 0, 7),
            Order::teacher(0, 0),
        ];
        orders.sort();
        assert_eq!(
            orders,
            vec![
                Order::teacher(0, 0),
                Order::teacher(0, 1),
                at(1, Stage::Search, 4, 0, 7),
                at(1, Stage::Search, 4, 1, 2),
                at(1, Stage::Widened, 3, 1, 0),
                at(1, Stage::Final, 0, 0, 0),
                at(2, Stage::Search, 0, 0, 0),
            ]
        );
        assert_eq!(Order::teacher(0, 3).lane(), None);
        assert_eq!(Order::teacher(0, 3).teacher_index(), Some(3));
        let lane = at(1, Stage::Final, 3, 1, 2).lane().unwrap();
        assert_eq!((lane.group, lane.cell, lane.arm), (1, 3, 1));
        // A later pipeline's teachers come after an earlier one's last run.
        assert!(Order::teacher(1, 9) > at(4, Stage::Final, 9, 9, 9));
    }
}
