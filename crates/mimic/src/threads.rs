//! What the threads of one training run share: a barrier that separates the
//! phases of a mini-batch, and cells whose access those phases order.
//!
//! A mini-batch takes a few microseconds to tens of microseconds, so the
//! threads meet two or three times per batch. A mutex and condition variable
//! would put each waiting thread to sleep and cost a wake-up (tens of
//! microseconds) per meeting; the barrier here spins briefly, then yields the
//! core (to the thread it waits for, when threads outnumber free cores), then
//! sleeps (a slow callback between epochs).

use core::cell::UnsafeCell;
use core::hint::spin_loop;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// Another thread of the run panicked: nobody will arrive.
#[derive(Debug)]
pub(crate) struct Poisoned;

/// A reusable barrier for a number of threads fixed once they have started
/// ([`SpinBarrier::set_threads`]). Everything a thread wrote before
/// [`SpinBarrier::wait`] is visible to every thread after it (the counter is
/// incremented with release and the generation read with acquire ordering).
pub(crate) struct SpinBarrier {
    threads: AtomicUsize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
    poisoned: AtomicBool,
}

impl SpinBarrier {
    /// A barrier whose thread count is not known yet: nobody passes it until
    /// [`SpinBarrier::set_threads`].
    pub(crate) fn new() -> Self {
        Self {
            threads: AtomicUsize::new(usize::MAX),
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            poisoned: AtomicBool::new(false),
        }
    }

    /// How many threads meet here, once they have all been started (a thread
    /// that could not start is simply not counted).
    pub(crate) fn set_threads(&self, threads: usize) {
        self.threads.store(threads, Ordering::Release);
    }

    /// Waits until every thread has arrived.
    pub(crate) fn wait(&self) -> Result<(), Poisoned> {
        let generation = self.generation.load(Ordering::Acquire);
        // The last to arrive (it reads the thread count after counting itself,
        // so a count set while others wait is seen) opens the next generation.
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.threads.load(Ordering::Acquire) {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return Ok(());
        }
        let mut rounds = 0u32;
        while self.generation.load(Ordering::Acquire) == generation {
            if self.poisoned.load(Ordering::Relaxed) {
                return Err(Poisoned);
            }
            rounds = rounds.saturating_add(1);
            if rounds < 64 {
                spin_loop(); // the others are a moment away
            } else if rounds < 20_000 {
                // Give the core to whoever is waiting for it: with more
                // threads than free cores, the thread we wait for may be the
                // one that needs it. With a core of its own, this returns at
                // once (a system call, a fraction of a microsecond).
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(50)); // a long pause
            }
        }
        Ok(())
    }

    /// Releases every waiting thread with [`Poisoned`] (a thread is unwinding).
    pub(crate) fn poison(&self) {
        self.poisoned.store(true, Ordering::Release);
    }
}

/// Poisons a barrier if the thread holding it unwinds, so that the others stop
/// waiting for it (and the scope that joins them can finish and re-raise the panic).
pub(crate) struct PoisonOnPanic<'a>(pub(crate) &'a SpinBarrier);

impl Drop for PoisonOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.poison();
        }
    }
}

/// A value that several threads read and write in turns, the turns separated by
/// a [`SpinBarrier`]: in each phase either one thread writes it and nobody else
/// touches it, or nobody writes it. The cell cannot check that; every access is
/// `unsafe` and says which phase it is in.
pub(crate) struct Phased<T>(UnsafeCell<T>);

// SAFETY: the accessors are `unsafe` and their callers guarantee that no
// thread writes the value while another reads or writes it; with that, sharing
// is sound for any `T` that may be sent to another thread.
unsafe impl<T: Send> Sync for Phased<T> {}

impl<T> Phased<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }

    /// # Safety
    /// No thread writes the value during the caller's phase.
    pub(crate) unsafe fn get(&self) -> &T {
        // SAFETY: the caller's guarantee.
        unsafe { &*self.0.get() }
    }

    /// # Safety
    /// No other thread reads or writes the value during the caller's phase.
    #[allow(clippy::mut_from_ref)] // the phases, not the borrow, make it exclusive
    pub(crate) unsafe fn get_mut(&self) -> &mut T {
        // SAFETY: the caller's guarantee.
        unsafe { &mut *self.0.get() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_barrier_orders_the_writes_of_every_round() {
        let barrier = SpinBarrier::new();
        let counts: Vec<Phased<u64>> = (0..3).map(|_| Phased::new(0)).collect();
        std::thread::scope(|scope| {
            for t in 1..3 {
                let (barrier, counts) = (&barrier, &counts);
                scope.spawn(move || {
                    for _ in 0..1000 {
                        // SAFETY: in the write phase, slot `t` is this thread's alone.
                        unsafe { *counts[t].get_mut() += 1 };
                        barrier.wait().unwrap();
                        // SAFETY: in the read phase nobody writes.
                        let sum: u64 = counts.iter().map(|c| unsafe { *c.get() }).sum();
                        assert_eq!(sum % 3, 0);
                        barrier.wait().unwrap();
                    }
                });
            }
            barrier.set_threads(3);
            for round in 1..=1000u64 {
                // SAFETY: as in the workers, for slot 0.
                unsafe { *counts[0].get_mut() += 1 };
                barrier.wait().unwrap();
                // SAFETY: the read phase.
                let sum: u64 = counts.iter().map(|c| unsafe { *c.get() }).sum();
                assert_eq!(sum, 3 * round);
                barrier.wait().unwrap();
            }
        });
    }

    #[test]
    fn a_panicking_thread_releases_the_others() {
        let barrier = SpinBarrier::new();
        barrier.set_threads(2);
        let result = std::thread::scope(|scope| {
            let waiter = scope.spawn(|| barrier.wait());
            let _ = scope
                .spawn(|| {
                    let _guard = PoisonOnPanic(&barrier);
                    panic!("a worker fails");
                })
                .join();
            waiter.join().unwrap()
        });
        assert!(result.is_err());
    }
}
