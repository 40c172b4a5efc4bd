//! Running many independent training runs on every core, with progress weighted
//! by the work each run does (so the ETA is honest when runs differ 100-fold).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// How far a study has got: `done` of `total` units of work, and an estimate of
/// the seconds left from the rate so far.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// Work finished, in arbitrary units (sample-steps × relative cost).
    pub done: f64,
    /// Work in all, as planned.
    pub total: f64,
    /// Runs finished.
    pub runs: usize,
    /// Seconds since the study started.
    pub elapsed: f64,
}

impl Progress {
    /// Seconds left at the rate so far (`None` before any work is done).
    pub fn eta(&self) -> Option<f64> {
        (self.done > 0.0).then(|| self.elapsed * (self.total - self.done).max(0.0) / self.done)
    }
}

/// Counts finished work and tells the caller's callback.
pub struct Tracker<'a> {
    start: Instant,
    done: f64,
    total: f64,
    runs: usize,
    callback: &'a mut dyn FnMut(Progress),
}

impl<'a> Tracker<'a> {
    /// A tracker for `total` units of work.
    pub fn new(total: f64, callback: &'a mut dyn FnMut(Progress)) -> Self {
        Self {
            start: Instant::now(),
            done: 0.0,
            total,
            runs: 0,
            callback,
        }
    }

    fn finished(&mut self, work: f64) {
        self.done += work;
        self.runs += 1;
        (self.callback)(Progress {
            done: self.done,
            total: self.total,
            runs: self.runs,
            elapsed: self.start.elapsed().as_secs_f64(),
        });
    }

    /// Corrects the plan by `work` (more for a widened grid, less or more once
    /// the final settings are known).
    pub fn plan_more(&mut self, work: f64) {
        self.total += work;
    }
}

/// Runs `work` on every job over `threads` workers (large stacks: networks live
/// there), telling `tracker` as each finishes with the job's `weight`; returns the
/// results in job order, whatever the scheduling.
///
/// `work(job, cores)` may use `cores` threads of its own: 1, except for the last
/// job to start, which gets the cores of the workers that have nothing left to
/// do (a stage's largest network then trains on every core at its end). A
/// training run's result does not depend on its thread count.
pub fn parallel<J: Sync, R: Send>(
    threads: usize,
    jobs: &[J],
    weight: impl Fn(&J) -> f64,
    tracker: &mut Tracker<'_>,
    work: impl Fn(&J, usize) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    // Workers inside a job.
    let busy = AtomicUsize::new(0);
    let workers = threads.clamp(1, jobs.len().max(1));
    let (send, receive) = std::sync::mpsc::channel();
    let mut slots: Vec<Option<R>> = (0..jobs.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let mut started = 0;
        for _ in 0..workers {
            let send = send.clone();
            let (next, busy, work) = (&next, &busy, &work);
            let spawned = std::thread::Builder::new()
                .stack_size(64 << 20)
                .spawn_scoped(scope, move || {
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(k) else { break };
                        let others = busy.fetch_add(1, Ordering::Relaxed);
                        let cores = if k + 1 == jobs.len() {
                            threads.saturating_sub(others).max(1)
                        } else {
                            1
                        };
                        let result = work(job, cores);
                        busy.fetch_sub(1, Ordering::Relaxed);
                        if send.send((k, result)).is_err() {
                            break;
                        }
                    }
                });
            started += usize::from(spawned.is_ok());
        }
        drop(send);
        if started == 0 {
            // No thread could start: do the work here rather than lose it.
            for (k, job) in jobs.iter().enumerate() {
                tracker.finished(weight(job));
                slots[k] = Some(work(job, 1));
            }
        }
        for (k, result) in receive {
            tracker.finished(weight(&jobs[k]));
            slots[k] = Some(result);
        }
    });
    slots.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_job_order_and_progress_adds_up() {
        let jobs: Vec<u64> = (0..50).collect();
        let mut seen = Vec::new();
        let mut callback = |p: Progress| seen.push(p);
        let mut tracker = Tracker::new(100.0, &mut callback);
        let out = parallel(3, &jobs, |_| 2.0, &mut tracker, |&j, _| j * j);
        assert_eq!(out, jobs.iter().map(|j| j * j).collect::<Vec<_>>());
        assert_eq!(seen.len(), 50);
        let last = seen[49];
        assert_eq!((last.done, last.runs), (100.0, 50));
        assert_eq!(last.eta(), Some(0.0));
    }
}
