//! Mini-batch epochs on one or more threads, with the same bits for any number
//! of threads.
//!
//! Every batch is cut into a fixed number of **parts** ([`Schedule::parts`],
//! or fewer when the batch has fewer samples): part `p` of a batch of `n`
//! samples is samples `p·n/k .. (p+1)·n/k` in the epoch's order. Each part's
//! gradient is summed, sample after sample, into a buffer of its own; the
//! batch's gradient is then `((g₀ + g₁) + g₂) + …`, element by element, in that
//! order. Which thread computes a part, and which thread adds up and updates
//! which parameters, changes when, not what: the arithmetic is fixed by the
//! parts alone, so 1, 2, 3 or 4 threads give bit-identical weights.
//!
//! Inside a part, samples go through training in groups of [`GROUP`]: the
//! group's forward pass layer by layer ([`Train::forward_trace_group`]), each
//! sample's loss, then one backward pass for the group
//! ([`Train::gradient_group`]). A dense layer reads each weight row once for
//! the whole group rather than once per sample; a convolution computes the
//! group's eight samples side by side in the vector lanes. The bits are those
//! of one sample after another (every parameter's gradient adds the samples in
//! the same order); networks whose activations are too large for a group on
//! the stack go one sample at a time ([`grouped`]).
//!
//! A batch is two phases, separated by a [`SpinBarrier`]:
//! 1. **gradients** — thread `t` computes parts `t, t + T, …`; the network is
//!    only read. Each part's thread zeroes the part's buffer first (the
//!    optimizer leaves part 0's zeroed), so the buffer's cache lines stay in
//!    its core. One thread alone instead adds each
//!    part to part 0's buffer as soon as it is done — the same additions in the
//!    same order — and computes the next part in the buffer it just emptied:
//!    two buffers instead of one per part, so less to keep in cache;
//! 2. **update** — the parameters are cut into blocks of [`BLOCK`] numbers and
//!    thread `t` takes blocks `t, t + T, …`: it sums the parts into part 0's
//!    buffer (reading the others), applies the optimizer (every update rule
//!    works element by element, and leaves part 0's buffer zeroed for the next
//!    batch) and checks that the new parameters are finite, all in one pass
//!    while the block is in cache.
//!
//! With gradient clipping, the whole gradient's norm must be known before any
//! update: the sum is then a phase of its own, and thread 0 computes the
//! clipping factor before the update phase.
//!
//! Inputs are checked for NaN and infinity once per `fit`, before training,
//! and every loss and its gradient at every step (both name the sample), so a
//! non-finite value reaches no gradient; an update whose result is too large
//! for `f32` is reported after its batch.
//!
//! The threads are started once per [`Network::fit`](crate::Network::fit) and
//! wait for each other at the barrier between epochs; nothing is allocated per
//! batch.
//!
//! [`Schedule::parts`]: crate::Schedule::parts

use core::ops::Range;

use crate::fit::{Divergence, Rates, TrainError, locate, prefetch_ahead};
use crate::inputs::InputsOf;
use crate::loss::Loss;
use crate::module::{Train, Zipped};
use crate::network::{Network, StepError};
use crate::threads::{Phased, SpinBarrier};

/// Parameters per block of the update phase: a few blocks for each thread even
/// in small networks, and each block small enough that its slices of every
/// buffer (the parameters, the optimizer's two, four or more parts: 28 KiB)
/// stay in the L1 cache from the sum to the update.
const BLOCK: usize = 1024;

/// What one batch's update is scaled by, and its number.
#[derive(Clone, Copy)]
pub(crate) struct Factors {
    pub(crate) scale: f32,
    pub(crate) clip: f32,
    pub(crate) rate: f32,
    pub(crate) t: u32,
}

/// The optimizer's update of one block of parameters: `(parameters, summed
/// gradient, the optimizer's two state buffers)`. Behind a `dyn` call made once
/// per block, so the epoch's loop is compiled for each network, loss and input
/// but not again for every optimizer.
pub(crate) type UpdateBlock<'a> = dyn Fn(Zipped<'_>, Factors) + Sync + 'a;

/// A parameter slice of one of the network-shaped buffers, as a pointer and a
/// length, so that threads can each take a disjoint range of it.
#[derive(Clone, Copy)]
struct RawSlice {
    start: *mut f32,
    len: usize,
}

/// A value alone on its cache line(s), so that threads writing neighbours do
/// not take the line from each other.
#[repr(align(128))]
struct Padded<T>(T);

/// A range of one parameter slice (the same range of every buffer).
struct Block {
    slice: usize,
    range: Range<usize>,
}

/// How one part of a batch went.
#[derive(Clone, Default)]
struct PartResult {
    /// Sum of the part's losses.
    total: f64,
    /// Samples trained on.
    steps: usize,
    /// The first sample that failed, its step count inside the part, and why.
    error: Option<(usize, usize, StepError)>,
}

/// What every thread needs to know about the current epoch. Written by thread
/// 0 between epochs, while the others wait.
pub(crate) struct Plan {
    /// The epoch's order of samples.
    pub(crate) order: Vec<usize>,
    pub(crate) epoch: usize,
    pub(crate) steps_before: usize,
    pub(crate) rates: Rates,
    /// Threads that run (those that could be started).
    pub(crate) threads: usize,
    /// No more epochs: the other threads return.
    pub(crate) finished: bool,
}

/// The mini-batch settings of a [`Schedule`](crate::Schedule).
#[derive(Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) batch_size: usize,
    pub(crate) parts: usize,
    pub(crate) clip_norm: Option<f32>,
}

/// The buffers of a run: one gradient per part and the optimizer's two
/// state buffers, all zero, each the network's shape.
pub(crate) struct Buffers<'a, L> {
    pub(crate) parts: &'a mut [Box<L>],
    pub(crate) first: &'a mut L,
    pub(crate) second: &'a mut L,
}

/// Everything the threads of one `fit` share.
pub(crate) struct Shared<'a, L: Train, F: Loss<L::Output>, X: ?Sized>
where
    F::Target: Sized,
{
    /// Read in the gradient phase, written block by block in the update phase
    /// (through `slices`), used whole by thread 0 between epochs.
    network: *mut Network<L, F>,
    inputs: &'a X,
    targets: &'a [F::Target],
    settings: Settings,
    /// One gradient buffer per part; part `p`'s is written by one thread in
    /// the gradient phase, and block by block in the sum and update phases.
    parts: Vec<*mut L>,
    /// Every parameter slice of the network, the optimizer's two buffers and
    /// the parts' buffers, in that order, `slices_per_buffer` each.
    slices: Vec<RawSlice>,
    slices_per_buffer: usize,
    blocks: Vec<Block>,
    /// Per part, each on a cache line of its own.
    results: Vec<Padded<Phased<PartResult>>>,
    /// Per thread: whether the parameters of its blocks are finite after the
    /// update (each on a cache line of its own: threads write them at once).
    finite: Vec<Padded<Phased<bool>>>,
    clip: Phased<f32>,
    pub(crate) plan: Phased<Plan>,
    pub(crate) barrier: SpinBarrier,
    update: &'a UpdateBlock<'a>,
}

// SAFETY: the raw pointers are the network and buffers this run borrows
// mutably for its whole length (`Shared::new` takes `&mut`), and every access
// through them follows the phases in the module's documentation, separated by
// `barrier`: in each phase a value (or a block of it) is written by at most
// one thread and nobody else touches it. The network, the inputs, the targets
// and the loss are read from several threads (`Sync`) and the buffers written
// from several (`Send`).
unsafe impl<L, F, X> Sync for Shared<'_, L, F, X>
where
    L: Train,
    F: Loss<L::Output>,
    F::Target: Sized,
    X: ?Sized + Sync,
{
}

impl<'a, L, F, X> Shared<'a, L, F, X>
where
    L: Train,
    F: Loss<L::Output>,
    F::Target: Sized,
    X: ?Sized,
{
    /// The shared state of a run training `network` with `buffers`.
    pub(crate) fn new(
        network: &'a mut Network<L, F>,
        inputs: &'a X,
        targets: &'a [F::Target],
        settings: Settings,
        buffers: Buffers<'a, L>,
        update: &'a UpdateBlock<'a>,
    ) -> Self {
        let mut slices = Vec::new();
        let collect = |buffer: &mut L, slices: &mut Vec<RawSlice>| {
            buffer.visit_mut(&mut |s| {
                slices.push(RawSlice {
                    start: s.as_mut_ptr(),
                    len: s.len(),
                })
            })
        };
        let Buffers {
            parts,
            first,
            second,
        } = buffers;
        collect(&mut network.layers, &mut slices);
        let slices_per_buffer = slices.len();
        collect(first, &mut slices);
        collect(second, &mut slices);
        let mut part_pointers = Vec::with_capacity(parts.len());
        for part in parts.iter_mut() {
            collect(part, &mut slices);
            part_pointers.push(&raw mut **part);
        }
        let blocks: Vec<Block> = slices[..slices_per_buffer]
            .iter()
            .enumerate()
            .flat_map(|(slice, s)| {
                (0..s.len).step_by(BLOCK).map(move |start| Block {
                    slice,
                    range: start..(start + BLOCK).min(s.len),
                })
            })
            .collect();
        Self {
            // At most one thread per part does work.
            finite: (0..settings.parts)
                .map(|_| Padded(Phased::new(true)))
                .collect(),
            results: (0..settings.parts)
                .map(|_| Padded(Phased::new(PartResult::default())))
                .collect(),
            network,
            inputs,
            targets,
            settings,
            parts: part_pointers,
            slices,
            slices_per_buffer,
            blocks,
            clip: Phased::new(1.0),
            plan: Phased::new(Plan {
                order: Vec::new(),
                epoch: 0,
                steps_before: 0,
                rates: Rates::constant(0.0),
                threads: 1,
                finished: false,
            }),
            barrier: SpinBarrier::new(),
            update,
        }
    }

    /// The network, between epochs (every other thread waits at the barrier).
    ///
    /// # Safety
    /// Only thread 0, between epochs.
    pub(crate) unsafe fn network(&self) -> &Network<L, F> {
        // SAFETY: the caller's guarantee: nobody writes the network now.
        unsafe { &*self.network }
    }

    /// The range `range` of slice `slice` of buffer `buffer` (0 the network,
    /// 1 and 2 the optimizer's state, 3 + p part p's gradient).
    ///
    /// # Safety
    /// In the sum or update phase, by the thread that owns the block.
    #[allow(clippy::mut_from_ref)] // the phases make it exclusive
    unsafe fn block(&self, buffer: usize, slice: usize, range: Range<usize>) -> &mut [f32] {
        let s = self.slices[buffer * self.slices_per_buffer + slice];
        debug_assert!(range.end <= s.len);
        // SAFETY: `s` is a slice of a buffer borrowed for the whole run,
        // `range` lies inside it, and in this phase only the block's owner
        // touches this range of any buffer (the caller's guarantee).
        unsafe { core::slice::from_raw_parts_mut(s.start.add(range.start), range.len()) }
    }
}

/// One thread's share of one epoch. Every thread runs the same loop over the
/// batches and takes the same decisions (from results all of them read after a
/// barrier). The loop is compiled once, for the build's baseline: what it does
/// between groups (parts, barriers, sums of parts) is memory-bound or small, and
/// each group's step and each block's update are calls to copies compiled for
/// the CPU's widest vectors ([`Network::gradient_group_dispatched`], the
/// [`UpdateBlock`]). Compiled per ISA, this glue was copied three times for
/// every network, loss and kind of input a program trains.
pub(crate) struct ThreadEpoch<'s, 'a, L: Train, F: Loss<L::Output>, X: ?Sized>
where
    F::Target: Sized,
{
    pub(crate) shared: &'s Shared<'a, L, F, X>,
    pub(crate) thread: usize,
    pub(crate) threads: usize,
}

impl<L, F, X> ThreadEpoch<'_, '_, L, F, X>
where
    L: Train,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
    F::Target: Sized,
    X: InputsOf<L> + ?Sized,
{
    /// The epoch's loss and steps (on every thread), or where it failed. Never
    /// inlined: thread 0 and the workers share one copy.
    #[inline(never)]
    pub(crate) fn run(self) -> Result<(f64, usize), TrainError> {
        let ThreadEpoch {
            shared: s,
            thread,
            threads,
        } = self;
        // SAFETY: the plan is written only between epochs, by thread 0, while
        // this thread waits at the barrier.
        let plan = unsafe { s.plan.get() };
        let Settings {
            batch_size,
            parts,
            clip_norm,
        } = s.settings;
        let (mut total, mut steps) = (0.0f64, 0usize);
        for (b, batch) in plan.order.chunks(batch_size).enumerate() {
            let first_index = b * batch_size;
            let used = parts.min(batch.len());
            let part = |p: usize| p * batch.len() / used..(p + 1) * batch.len() / used;

            // 1. Gradients of this thread's parts. One thread alone adds each
            // part to part 0's buffer as soon as it is done, in the same order,
            // and computes the next one in the buffer it just emptied: two
            // buffers in cache instead of one per part.
            let streamed = threads == 1;
            for p in (thread..used).step_by(threads) {
                let range = part(p);
                let buffer = if streamed { p.min(1) } else { p };
                if !streamed && p > 0 {
                    // With more threads, the threads that add the parts up
                    // only read them; a part's own thread zeroes its buffer
                    // here, so its cache lines stay in its core instead of
                    // crossing to the other core and back every batch.
                    // SAFETY: gradient phase: part `p`'s buffer is this thread's.
                    unsafe { zero_buffer(s, buffer) };
                }
                // SAFETY: gradient phase: the network is only read; part `p`'s
                // buffer and result belong to thread `p % threads`, this one
                // (alone, it owns every buffer).
                let (network, gradients, result) = unsafe {
                    (
                        &*s.network,
                        &mut *{ s.parts[buffer] },
                        s.results[p].0.get_mut(),
                    )
                };
                *result = gradient_of_part(
                    network,
                    s.inputs,
                    s.targets,
                    &plan.order,
                    first_index + range.start..first_index + range.end,
                    gradients,
                );
                if streamed && p > 0 {
                    for block in s.blocks.iter() {
                        // SAFETY: the only thread owns every block.
                        unsafe { sum_parts(s, block, 2, true) };
                    }
                }
            }
            let summed = if streamed { 1 } else { used };
            if s.barrier.wait().is_err() {
                return Ok((total, steps)); // another thread panicked
            }

            // Every thread reads every part's result and takes the same decision.
            let mut in_batch = 0;
            for p in 0..used {
                // SAFETY: read phase: results are written in the gradient phase only.
                let result = unsafe { s.results[p].0.get() };
                if let Some((sample, step, error)) = result.error.clone() {
                    let before = plan.steps_before + steps + in_batch + step;
                    return locate(Err(error), plan.epoch, sample, before).map(|_| (0.0, 0));
                }
                total += result.total;
                in_batch += result.steps;
            }
            steps += in_batch;

            // 2. The update, scaled to the mean over the batch and clipped.
            let scale = 1.0 / in_batch.max(1) as f32;
            let mut factors = Factors {
                scale,
                clip: 1.0,
                rate: plan.rates.at(b),
                // The update number counts from 1 over all of training (Adam's
                // bias correction).
                t: u32::try_from(plan.rates.first_update + b + 1).unwrap_or(u32::MAX),
            };
            if let Some(limit) = clip_norm {
                // Clipping needs the whole gradient's norm before any update:
                // sum the parts first, then thread 0 finds the factor.
                for block in s.blocks.iter().skip(thread).step_by(threads) {
                    // SAFETY: sum phase: block `j` of every buffer belongs to
                    // thread `j % threads`, this one.
                    unsafe { sum_parts(s, block, summed, false) };
                }
                if s.barrier.wait().is_err() {
                    return Ok((total, steps));
                }
                if thread == 0 {
                    // SAFETY: nobody writes part 0's buffer in this phase, and
                    // `clip` is thread 0's until the barrier.
                    unsafe { *s.clip.get_mut() = clip_factor(&*{ s.parts[0] }, scale, limit) };
                }
                if s.barrier.wait().is_err() {
                    return Ok((total, steps));
                }
                // SAFETY: written before the barrier above, read by all after.
                factors.clip = unsafe { *s.clip.get() };
            }
            let mut finite = true;
            for block in s.blocks.iter().skip(thread).step_by(threads) {
                let (slice, range) = (block.slice, block.range.clone());
                // SAFETY: update phase: block `j` of every buffer belongs to
                // thread `j % threads`, this one.
                unsafe {
                    if clip_norm.is_none() {
                        sum_parts(s, block, summed, false); // in the same pass, while in cache
                    }
                    let weights = s.block(0, slice, range.clone());
                    (s.update)(
                        (
                            &mut *weights,
                            s.block(3, slice, range.clone()),
                            s.block(1, slice, range.clone()),
                            s.block(2, slice, range),
                        ),
                        factors,
                    );
                    finite &= all_finite(weights);
                }
            }
            // SAFETY: update phase: `finite[thread]` is this thread's.
            unsafe { *s.finite[thread].0.get_mut() = finite };
            if s.barrier.wait().is_err() {
                return Ok((total, steps));
            }
            // SAFETY: read phase for `finite`.
            if s.finite[..threads].iter().any(|f| !unsafe { *f.0.get() }) {
                // Inputs and losses are checked before they reach a gradient,
                // so only an update too large for f32 gets here.
                return Err(TrainError::Diverged(Divergence {
                    epoch: plan.epoch,
                    sample: batch[0],
                    step: plan.steps_before + steps,
                    loss: f32::NAN,
                }));
            }
        }
        Ok((total, steps))
    }
}

/// Sums the gradients of samples `order[range]` into `gradients`; stops at the
/// first sample that fails.
#[inline(always)]
fn gradient_of_part<L, F, X>(
    network: &Network<L, F>,
    inputs: &X,
    targets: &[F::Target],
    order: &[usize],
    range: Range<usize>,
    gradients: &mut L,
) -> PartResult
where
    L: Train,
    L::Output: AsRef<[f32]>,
    F: Loss<L::Output>,
    F::Target: Sized,
    X: InputsOf<L> + ?Sized,
{
    let mut result = PartResult::default();
    let mut k = range.start;
    while k < range.end && result.error.is_none() {
        // A group of the next GROUP samples, if the network is grouped and
        // they all exist (an order naming a missing sample goes one by one).
        if grouped::<L>() && range.end - k >= GROUP {
            for j in k..k + GROUP {
                prefetch_ahead(inputs, targets, order, j);
            }
            let samples: [usize; GROUP] = core::array::from_fn(|s| order[k + s]);
            let rows = every(samples.map(|sample| inputs.input(sample)));
            let labels = every(samples.map(|sample| targets.get(sample)));
            if let (Some(rows), Some(labels)) = (rows, labels) {
                match network.gradient_group_dispatched(rows, labels, gradients) {
                    Ok(losses) => {
                        for loss in losses {
                            result.total += f64::from(loss);
                        }
                        result.steps += GROUP;
                    }
                    Err((s, error)) => {
                        // The samples before it trained, as one at a time they would have.
                        result.steps += s;
                        result.error = Some((samples[s], result.steps, error));
                    }
                }
                k += GROUP;
                continue;
            }
        }
        prefetch_ahead(inputs, targets, order, k);
        let sample = order[k];
        k += 1;
        let (Some(input), Some(target)) = (inputs.input(sample), targets.get(sample)) else {
            continue; // an order naming a sample that doesn't exist: skip it
        };
        match network.gradient_step_dispatched(input, target, gradients, true) {
            Ok(loss) => {
                result.total += f64::from(loss);
                result.steps += 1;
            }
            Err(error) => result.error = Some((sample, result.steps, error)),
        }
    }
    result
}

/// How many samples of a part go through training together: enough that a
/// dense layer's weight rows, read once per group, cost little per sample,
/// and a convolution's fill a vector register (`kernels::lanes`); few enough
/// that the group's activations and gradients stay small beside a thread's
/// stack.
const GROUP: usize = 8;

/// Whether a part's samples go through training in groups: only when a
/// group's traces (each layer's activations, for [`GROUP`] samples) take at
/// most 384 KiB — 16 KiB for 784→256→256→10, 64 KiB for 784→1024→1024→10,
/// 265 KiB for LeNet-5 — since the group's pass also holds, for its largest
/// layer, the group's outputs and gradients beside them, and a spawned
/// thread's stack is 2 MiB. Larger networks (the 21,258-parameter CNN teacher
/// of the study needs 640 KiB) go one sample at a time, with the same bits.
#[inline(always)]
const fn grouped<L: Train>() -> bool {
    core::mem::size_of::<L::Trace>() * GROUP <= 384 * 1024
}

/// Every value, if none is missing.
#[inline(always)]
fn every<T: Copy, const N: usize>(values: [Option<T>; N]) -> Option<[T; N]> {
    let first = values[0]?;
    let mut all = [first; N];
    for (slot, value) in all.iter_mut().zip(values) {
        *slot = value?;
    }
    Some(all)
}

/// Zeroes part buffer `buffer` (every slice).
///
/// # Safety
/// In the gradient phase, by the thread that owns the part.
#[inline(always)]
unsafe fn zero_buffer<L, F, X>(s: &Shared<'_, L, F, X>, buffer: usize)
where
    L: Train,
    F: Loss<L::Output>,
    F::Target: Sized,
    X: ?Sized,
{
    for slice in 0..s.slices_per_buffer {
        // Every buffer has the network's shape: slice `slice` of the network
        // (buffer 0) has the length of that slice of any part.
        let len = s.slices[slice].len;
        // SAFETY: the caller's guarantee: the whole buffer is this thread's now.
        unsafe { s.block(3 + buffer, slice, 0..len) }.fill(0.0);
    }
}

/// Adds the parts' gradients of `block` into part 0's, `((g₀ + g₁) + g₂) + …`
/// element by element, and zeroes the parts it read for the next batch if
/// `zero` (otherwise each part's thread zeroes its buffer before its next part).
///
/// # Safety
/// In the sum or update phase, by the thread that owns `block`.
#[inline(always)]
unsafe fn sum_parts<L, F, X>(s: &Shared<'_, L, F, X>, block: &Block, used: usize, zero: bool)
where
    L: Train,
    F: Loss<L::Output>,
    F::Target: Sized,
    X: ?Sized,
{
    // SAFETY: the caller's guarantee: the block is this thread's in every buffer.
    let sum = unsafe { s.block(3, block.slice, block.range.clone()) };
    for p in 1..used {
        // SAFETY: as above.
        let part = unsafe { s.block(3 + p, block.slice, block.range.clone()) };
        if zero {
            for (g, q) in sum.iter_mut().zip(part.iter_mut()) {
                *g += *q;
                *q = 0.0;
            }
        } else {
            for (g, q) in sum.iter_mut().zip(part.iter()) {
                *g += *q;
            }
        }
    }
}

/// Whether every value is finite, in one pass with no early exit (vectorises).
#[inline(always)]
fn all_finite(values: &[f32]) -> bool {
    values.iter().fold(true, |finite, v| finite & v.is_finite())
}

/// The factor that scales the averaged gradient (`sum · scale`) down to global
/// L2 norm `limit`, or 1 if it is not above it. The norm is accumulated in f64,
/// in the order of the parameters.
#[inline(always)]
fn clip_factor<L: Train>(gradients: &L, scale: f32, limit: f32) -> f32 {
    let mut squares = 0.0f64;
    gradients.visit(&mut |g| {
        for &g in g {
            let g = f64::from(g * scale);
            squares += g * g;
        }
    });
    let norm = squares.sqrt();
    if norm > f64::from(limit) && norm > 0.0 {
        (f64::from(limit) / norm) as f32
    } else {
        1.0
    }
}
