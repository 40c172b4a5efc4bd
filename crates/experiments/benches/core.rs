//! Criterion benchmarks of the hot paths, on real MNIST images (fetched on first
//! use) and on dense random vectors.
//!
//! FLOP counts (one multiply-add = 2 FLOP): a dense forward pass of `Dense<IN, OUT>`
//! is 2·IN·OUT; the teacher's forward is 2·12,960 = 25,920 dense, its training step
//! (forward + the weight update; the first layer's input gradient is never
//! computed) about 2·26,000 = 52,000. On MNIST only 19.1% of the first layer's
//! inputs are nonzero, so the work actually needed is about a fifth of that.
//! `cargo bench --bench core`; throughput is reported in samples per second.

use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mimic::{
    Adam, Conv2d, CrossEntropy, Dense, Distillation, Identity, Image, Initializer, Isa, MaxPool2d,
    Module, Momentum, Mse, Network, ReLU, Schedule, Sgd, SoftTarget, SparseRows, Work, images,
    module::Train,
};
use mimic_experiments::cli::mnist;
use mimic_experiments::experiment::Samples;
use mimic_experiments::models::{LeNet5, StrongTeacher, Student, Teacher, TinyCnn};
use mimic_mnist::{Dataset, Scaling, SparseDataset, Split};
use rand::{RngExt, SeedableRng};

#[path = "core/peak.rs"]
mod peak;

fn random_dense<const N: usize>(seed: u64) -> [f32; N] {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    core::array::from_fn(|_| rng.random::<f32>())
}

/// Time this thread spent on a CPU, in nanoseconds
/// (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`), falling back to wall time on other
/// systems. On a machine shared with other busy processes, wall time counts the
/// time the benchmark waited for a core; this counts only the time it ran, so
/// the ratios between schedules stay meaningful.
struct ThreadTime;

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn thread_nanos() -> Option<u64> {
    /// `struct timespec` on 64-bit Linux.
    #[repr(C)]
    struct Timespec {
        seconds: i64,
        nanoseconds: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut time = Timespec {
        seconds: 0,
        nanoseconds: 0,
    };
    // SAFETY: `clock_gettime` is the C library's, declared with its Linux 64-bit
    // signature; it writes one `timespec` to a valid, exclusive pointer.
    let status = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut time) };
    let seconds = u64::try_from(time.seconds).ok()?;
    let nanoseconds = u64::try_from(time.nanoseconds).ok()?;
    (status == 0).then_some(seconds * 1_000_000_000 + nanoseconds)
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn thread_nanos() -> Option<u64> {
    None
}

impl Measurement for ThreadTime {
    type Intermediate = (Option<u64>, std::time::Instant);
    type Value = f64;

    fn start(&self) -> Self::Intermediate {
        (thread_nanos(), std::time::Instant::now())
    }

    fn end(&self, (cpu, wall): Self::Intermediate) -> f64 {
        match (cpu, thread_nanos()) {
            (Some(start), Some(end)) => end.saturating_sub(start) as f64,
            _ => wall.elapsed().as_nanos() as f64,
        }
    }

    fn add(&self, a: &f64, b: &f64) -> f64 {
        a + b
    }

    fn zero(&self) -> f64 {
        0.0
    }

    fn to_f64(&self, value: &f64) -> f64 {
        *value
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        WallTime.formatter()
    }
}

/// Per-sample steps on real images, cycling through the first 10,000.
fn steps<M: Measurement<Value = f64>>(c: &mut Criterion<M>, train: &Samples) {
    let labels = &train.classes;
    let teacher: Network<Teacher, CrossEntropy> =
        Network::seeded_with(Initializer::Original, 1, CrossEntropy);
    let targets = teacher.forward_batch(&train.inputs, 1);
    let mut group = c.benchmark_group("step");
    group.throughput(Throughput::Elements(1));
    let mut net = teacher.clone();
    let mut k = 0;
    group.bench_function("teacher train_step (MNIST, sparse)", |b| {
        b.iter(|| {
            k = (k + 1) % 10_000;
            net.train_step(train.inputs.get(k).unwrap(), &labels[k], 0.03)
                .unwrap()
        })
    });
    group.bench_function("teacher forward (MNIST, sparse)", |b| {
        b.iter(|| {
            k = (k + 1) % 10_000;
            net.forward(train.inputs.get(k).unwrap())
        })
    });
    let mut student: Network<Student, Mse> = Network::seeded_with(Initializer::Original, 2, Mse);
    group.bench_function("student train_step (MNIST, sparse)", |b| {
        b.iter(|| {
            k = (k + 1) % 10_000;
            student
                .train_step(train.inputs.get(k).unwrap(), &targets[k], 0.01)
                .unwrap()
        })
    });
    let dense: [f32; 784] = random_dense(3);
    group.bench_function("teacher train_step (dense random)", |b| {
        b.iter(|| net.train_step(&dense, &3, 0.03).unwrap())
    });
    group.bench_function("teacher forward (dense random)", |b| {
        b.iter(|| net.forward(&dense))
    });
    group.bench_function("student train_step (dense random)", |b| {
        b.iter(|| student.train_step(&dense, &targets[0], 0.01).unwrap())
    });
    group.finish();
}

/// Forward and backward (with the SGD update) of one layer on a dense random input.
fn layer<const IN: usize, const OUT: usize>(c: &mut Criterion) {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(4);
    let mut dense: Dense<IN, OUT> = mimic::Initialize::initialize(mimic::Initializer::He, &mut rng);
    let x: [f32; IN] = random_dense(5);
    let dy: [f32; OUT] = random_dense(6);
    let mut group = c.benchmark_group(format!("Dense<{IN}, {OUT}>"));
    group.throughput(Throughput::Elements(1));
    group.bench_function(
        BenchmarkId::new("forward", format!("{} FLOP", 2 * IN * OUT)),
        |b| b.iter(|| dense.forward(&x)),
    );
    let y = dense.forward(&x);
    group.bench_function(
        BenchmarkId::new("backward", format!("{} FLOP", 4 * IN * OUT)),
        |b| b.iter(|| dense.backward(&x, &y, &dy, 1e-6)),
    );
    group.finish();
}

/// The first layer's sparse kernels at widths 10 to 256: the weighted sum of an
/// image's rows and their update, per image (real images, cycling through
/// the first 10,000).
fn first_layer<const OUT: usize, M: Measurement<Value = f64>>(
    group: &mut criterion::BenchmarkGroup<'_, M>,
    train: &Samples,
) {
    let mut dense = Box::new(Dense::<784, OUT>::zeros());
    let db: [f32; OUT] = random_dense(7);
    let mut k = 0;
    group.bench_function(format!("784→{OUT}, sum and update"), |b| {
        b.iter(|| {
            k = (k + 1) % 10_000;
            let x = train.inputs.get(k).unwrap();
            let y = dense.pre_activation_sparse(x);
            dense.sgd_update_sparse(x, &db, 1e-6);
            y
        })
    });
}

fn first_layers<M: Measurement<Value = f64>>(c: &mut Criterion<M>, train: &Samples) {
    let mut group = c.benchmark_group("first layer");
    group.throughput(Throughput::Elements(1));
    first_layer::<10, M>(&mut group, train);
    first_layer::<16, M>(&mut group, train);
    first_layer::<32, M>(&mut group, train);
    first_layer::<128, M>(&mut group, train);
    first_layer::<256, M>(&mut group, train);
    group.finish();
}

/// A random `C × H × W` image.
fn random_image<const C: usize, const H: usize, const W: usize>(seed: u64) -> Image<C, H, W> {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    core::array::from_fn(|_| {
        core::array::from_fn(|_| core::array::from_fn(|_| rng.random::<f32>()))
    })
}

/// A layer's forward pass, compiled for every instruction set.
struct Forward<'a, L: Module>(&'a L, &'a L::Input);

impl<L: Module> Work for Forward<'_, L> {
    type Output = L::Output;
    #[inline(always)]
    fn run(self) -> L::Output {
        self.0.forward(self.1)
    }
}

/// A layer's backward pass accumulating into `gradients`, with or without the
/// input's gradient, compiled for every instruction set.
struct Backward<'a, L: Train> {
    layer: &'a L,
    x: &'a L::Input,
    trace: &'a L::Trace,
    dy: &'a L::Output,
    gradients: &'a mut L,
    input_gradient: bool,
}

impl<L: Train> Work for Backward<'_, L> {
    type Output = Option<L::Input>;
    #[inline(always)]
    fn run(self) -> Option<L::Input> {
        if self.input_gradient {
            Some(
                self.layer
                    .gradient(self.x, self.trace, self.dy, self.gradients),
            )
        } else {
            self.layer
                .gradient_without_input_gradient(self.x, self.trace, self.dy, self.gradients);
            None
        }
    }
}

/// Forward, the weights' gradient alone (a first layer's backward pass) and
/// the whole backward pass (with the input's gradient) of a layer, accumulating
/// into a gradient buffer as mini-batch training does, each compiled for the
/// widest instruction set as inside `fit` ([`Isa::dispatch`]). `flop` is the forward
/// pass's count; the weights' gradient costs as much, the whole backward pass
/// twice as much. Throughput is in FLOP, so criterion's `elem/s` read as FLOP/s.
fn layer_passes<L: Train + Clone>(
    group: &mut criterion::BenchmarkGroup<'_, impl Measurement<Value = f64>>,
    name: &str,
    layer: &L,
    x: &L::Input,
    flop: usize,
    weights: bool,
) where
    L::Output: Clone,
{
    let mut layer = layer.clone();
    let mut gradients = layer.clone();
    let flop_of = |work: usize| Throughput::Elements(work as u64);
    group.throughput(flop_of(flop));
    group.bench_function(
        BenchmarkId::new(format!("{name} forward"), format!("{flop} FLOP")),
        |b| b.iter(|| Isa::dispatch(Forward(&layer, x))),
    );
    let trace = layer.forward_trace(x);
    let dy = L::traced_output(&trace).clone();
    let mut backward = |group: &mut criterion::BenchmarkGroup<'_, _>, id, input_gradient| {
        group.bench_function(id, |b| {
            b.iter(|| {
                Isa::dispatch(Backward {
                    layer: &mut layer,
                    x,
                    trace: &trace,
                    dy: &dy,
                    gradients: &mut gradients,
                    input_gradient,
                })
            })
        });
    };
    if weights {
        let id = BenchmarkId::new(
            format!("{name} backward, weights only"),
            format!("{flop} FLOP"),
        );
        backward(group, id, false);
    }
    group.throughput(flop_of(2 * flop));
    let id = BenchmarkId::new(format!("{name} backward"), format!("{} FLOP", 2 * flop));
    backward(group, id, true);
}

/// The same passes for a group of eight images, as a mini-batch in `fit`
/// computes them (`forward_trace_group`, `gradient_group…`: a convolution's
/// eight samples side by side in the vector lanes). FLOP as in
/// [`layer_passes`], eight times.
fn group_passes<L: Train + Clone>(
    group: &mut criterion::BenchmarkGroup<'_, impl Measurement<Value = f64>>,
    name: &str,
    layer: &L,
    images: &[L::Input; 8],
    flop: usize,
    weights: bool,
) where
    L::Output: Clone,
{
    let mut gradients = layer.clone();
    let xs: [&L::Input; 8] = core::array::from_fn(|s| &images[s]);
    let flop = 8 * flop;
    group.throughput(Throughput::Elements(flop as u64));
    group.bench_function(
        BenchmarkId::new(format!("{name} forward, 8 images"), format!("{flop} FLOP")),
        |b| b.iter(|| layer.forward_trace_group(xs)),
    );
    let traces = layer.forward_trace_group(xs);
    let dys: Vec<L::Output> = traces.iter().map(|t| L::traced_output(t).clone()).collect();
    let traces: [&L::Trace; 8] = core::array::from_fn(|s| &traces[s]);
    let dys: [&L::Output; 8] = core::array::from_fn(|s| &dys[s]);
    if weights {
        group.bench_function(
            BenchmarkId::new(
                format!("{name} backward, weights only, 8 images"),
                format!("{flop} FLOP"),
            ),
            |b| {
                b.iter(|| {
                    layer.gradient_group_without_input_gradient(xs, traces, dys, &mut gradients)
                })
            },
        );
    }
    group.throughput(Throughput::Elements(2 * flop as u64));
    group.bench_function(
        BenchmarkId::new(
            format!("{name} backward, 8 images"),
            format!("{} FLOP", 2 * flop),
        ),
        |b| b.iter(|| layer.gradient_group(xs, traces, dys, &mut gradients)),
    );
}

/// LeNet-5's convolution and pooling layers, one image each and a group of
/// eight, beside the core's measured peak (`peak.rs`), all in one group so
/// that the fractions of the peak come from one run. A convolution's forward
/// pass is 2·CO·OH·OW·C·K² FLOP (padding included); the weights' gradient as
/// many, the input's gradient as many again; throughput is in FLOP.
fn convolutions<M: Measurement<Value = f64>>(c: &mut Criterion<M>) {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(8);
    let mut group = c.benchmark_group("convolution");
    for peak in peak::peaks() {
        group.throughput(Throughput::Elements(peak.flop));
        group.bench_function(
            BenchmarkId::new(peak.name, format!("{} FLOP", peak.flop)),
            |b| b.iter(peak.run),
        );
    }
    let conv1: Conv2d<1, 28, 28, 6, 28, 28, 5, 1, 2, ReLU> =
        mimic::Initialize::initialize(Initializer::He, &mut rng);
    let name = "conv 1→6 @5×5 pad 2, 28×28";
    let flop = 2 * 6 * 784 * 25;
    layer_passes(&mut group, name, &conv1, &random_image(9), flop, true);
    group_passes(
        &mut group,
        name,
        &conv1,
        &core::array::from_fn(|s| random_image(20 + s as u64)),
        flop,
        true,
    );
    let conv2: Conv2d<6, 14, 14, 16, 10, 10, 5, 1, 0, ReLU> =
        mimic::Initialize::initialize(Initializer::He, &mut rng);
    let name = "conv 6→16 @5×5, 14×14";
    let flop = 2 * 16 * 100 * 150;
    layer_passes(&mut group, name, &conv2, &random_image(10), flop, true);
    group_passes(
        &mut group,
        name,
        &conv2,
        &core::array::from_fn(|s| random_image(30 + s as u64)),
        flop,
        true,
    );
    // Pooling's "FLOP" are its comparisons, one per input value.
    let pool1 = MaxPool2d::<6, 28, 28, 14, 14, 2>::new();
    let name = "max pool 2, 6×28×28";
    layer_passes(&mut group, name, &pool1, &random_image(11), 6 * 784, false);
    group_passes(
        &mut group,
        name,
        &pool1,
        &core::array::from_fn(|s| random_image(40 + s as u64)),
        6 * 784,
        false,
    );
    group.finish();
}

fn layers(c: &mut Criterion) {
    layer::<784, 16>(c);
    layer::<16, 16>(c);
    layer::<16, 10>(c);
    layer::<784, 10>(c);
    // The study's strong teacher's hidden layer.
    layer::<256, 256>(c);
}

/// Whole passes: an epoch of the teacher, evaluation of the test set, listing
/// the nonzero pixels of the training set.
fn passes(c: &mut Criterion, train_data: &Dataset, train: &Samples, test: &Samples) {
    let mut group = c.benchmark_group("pass");
    group.sample_size(10);
    group.throughput(Throughput::Elements(train.len() as u64));
    let teacher: Network<Teacher, CrossEntropy> =
        Network::seeded_with(Initializer::Original, 1, CrossEntropy);
    group.bench_function("teacher epoch (60,000 images)", |b| {
        b.iter_batched_ref(
            || teacher.clone(),
            |t| {
                t.fit(
                    &train.inputs,
                    &train.classes,
                    &Schedule::new(Sgd::new(0.03)),
                )
                .unwrap()
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("list nonzero pixels (60,000 images)", |b| {
        b.iter(|| SparseRows::from_rows(train_data.images(), |p| Scaling::Divide255.apply(p)))
    });
    group.throughput(Throughput::Elements(test.len() as u64));
    group.bench_function("teacher evaluation (10,000 images)", |b| {
        b.iter(|| teacher.accuracy(&test.inputs, &test.classes))
    });
    group.finish();
}

/// 784→1024→1024→10, the widest network of the epoch rows (1.9 M parameters).
type Wider = (
    Dense<784, 1024, ReLU>,
    Dense<1024, 1024, ReLU>,
    Dense<1024, 10, Identity>,
);

/// One epoch of every training schedule on the 60,000 real images, teacher and
/// 784→10 student (cross-entropy, He initialisation), wider networks and CNNs,
/// on 1 and 2 threads, in one group so that the ratios between schedules come
/// from one run.
fn schedules(c: &mut Criterion, train: &Samples, dense_rows: &[[f32; 784]]) {
    let mut group = c.benchmark_group("epoch");
    group.sample_size(10);
    group.throughput(Throughput::Elements(train.len() as u64));
    let soft: Vec<SoftTarget<10>> = {
        let teacher: Network<Teacher, _> = Network::seeded(1, CrossEntropy);
        let logits = teacher.forward_batch(&train.inputs, 1);
        logits
            .iter()
            .zip(&train.classes)
            .map(|(&logits, &class)| SoftTarget { logits, class })
            .collect()
    };
    macro_rules! epoch {
        ($name:expr, $net:expr, $targets:expr, $schedule:expr) => {{
            let start = $net;
            let schedule = $schedule;
            group.bench_function($name, |b| {
                b.iter_batched_ref(
                    || start.clone(),
                    |net| net.fit(&train.inputs, $targets, &schedule).unwrap(),
                    BatchSize::LargeInput,
                )
            });
        }};
    }
    let teacher = || Network::<Teacher, _>::seeded(1, CrossEntropy);
    let student = || Network::<Student, _>::seeded(1, CrossEntropy);
    let classes = &train.classes;
    // The teacher trains at the original program's rate 0.03, the student at
    // 0.01, with every optimizer.
    let plain = |rate| Schedule::new(Sgd::new(rate));
    let batch = |rate| Schedule::new(Sgd::new(rate)).batch_size(32);
    let momentum = |rate| Schedule::new(Momentum::new(rate)).batch_size(32);
    let adam = |rate| Schedule::new(Adam::new(rate)).batch_size(32);
    // The distillation study's protocol (Adam at batch 64, shuffled): its square
    // root and division per parameter come once per 64 samples, not 32.
    let study = |rate| Schedule::new(Adam::new(rate)).batch_size(64).shuffled(1);
    let (t, s) = (0.03, 0.01);
    epoch!(
        "teacher, per-sample SGD, file order",
        teacher(),
        classes,
        plain(t)
    );
    epoch!(
        "teacher, per-sample SGD, shuffled",
        teacher(),
        classes,
        plain(t).shuffled(1)
    );
    epoch!(
        "teacher, batch 32 SGD, file order",
        teacher(),
        classes,
        batch(t)
    );
    // The same optimizers in file order: the batch's cost alone, against
    // per-sample SGD in file order (the shuffled rows add the shuffle's).
    epoch!(
        "teacher, batch 32 momentum 0.9, file order",
        teacher(),
        classes,
        momentum(t)
    );
    epoch!(
        "teacher, batch 32 Adam, file order",
        teacher(),
        classes,
        adam(t)
    );
    epoch!(
        "teacher, batch 32 momentum 0.9, shuffled",
        teacher(),
        classes,
        momentum(t).shuffled(1)
    );
    epoch!(
        "teacher, batch 32 Adam, shuffled",
        teacher(),
        classes,
        adam(t).shuffled(1)
    );
    epoch!(
        "teacher, batch 64 Adam, shuffled",
        teacher(),
        classes,
        study(t)
    );
    epoch!(
        "student, per-sample SGD, file order",
        student(),
        classes,
        plain(s)
    );
    epoch!(
        "student, per-sample SGD, shuffled",
        student(),
        classes,
        plain(s).shuffled(1)
    );
    // The same optimizers in file order: the batch's cost alone, against
    // per-sample SGD in file order (the shuffled rows add the shuffle's).
    epoch!(
        "student, batch 32 momentum 0.9, file order",
        student(),
        classes,
        momentum(s)
    );
    epoch!(
        "student, batch 32 Adam, file order",
        student(),
        classes,
        adam(s)
    );
    epoch!(
        "student, batch 32 momentum 0.9, shuffled",
        student(),
        classes,
        momentum(s).shuffled(1)
    );
    epoch!(
        "student, batch 32 Adam, shuffled",
        student(),
        classes,
        adam(s).shuffled(1)
    );
    epoch!(
        "student, batch 64 Adam, shuffled",
        student(),
        classes,
        study(s)
    );
    // Convolutional networks on the images as 1 × 28 × 28 (the same memory).
    let rows = dense_rows;
    let pictures = images::<1, 28, 28, 784>(rows);
    // Multi-threaded rows: the same weights as one thread, bit for bit; wall
    // time (the whole group is timed by the wall clock).
    for threads in [1, 2] {
        let name = |network: &str| {
            let threads = if threads == 1 {
                String::new()
            } else {
                format!(", {threads} threads")
            };
            format!("{network}, batch 64, Adam, shuffled{threads}")
        };
        epoch!(
            &name("teacher"),
            teacher(),
            classes,
            study(t).threads(threads)
        );
        // Networks made in place on the heap for every run (a clone of the
        // widest would pass through the stack).
        macro_rules! fresh {
            ($name:expr, $net:ty, $inputs:expr, $flop:expr) => {{
                group.throughput(Throughput::Elements($flop));
                group.bench_function($name, |b| {
                    b.iter_batched_ref(
                        || Network::<Box<$net>, _>::seeded(1, CrossEntropy),
                        |net| {
                            net.fit($inputs, classes, &study(1e-3).threads(threads))
                                .unwrap()
                        },
                        BatchSize::LargeInput,
                    )
                });
                group.throughput(Throughput::Elements(train.len() as u64));
            }};
        }
        // Throughput in dense-equivalent FLOP (elements/s = FLOP/s): forward
        // 2·W, weight gradient 2·W, input gradient 2·W but the first layer's.
        let flop = |weights: u64, first: u64| 60_000 * (6 * weights - 2 * first);
        fresh!(
            &name("784→256→256→10 (throughput: FLOP)"),
            StrongTeacher,
            &train.inputs,
            flop(784 * 256 + 256 * 256 + 256 * 10, 784 * 256)
        );
        fresh!(
            &name("784→1024→1024→10 (throughput: FLOP)"),
            Wider,
            &train.inputs,
            flop(784 * 1024 + 1024 * 1024 + 1024 * 10, 784 * 1024)
        );
        fresh!(&name("LeNet-5"), LeNet5, pictures, train.len() as u64);
        if threads == 1 {
            fresh!(&name("tiny CNN"), TinyCnn, pictures, train.len() as u64);
        }
    }
    let kd = Network::<Student, _>::seeded(1, Distillation::new(4.0, 0.5));
    epoch!(
        "student, KD T=4 α=0.5, per-sample SGD, file order",
        kd,
        &soft,
        plain(s)
    );
    let distillation = Distillation::new(4.0, 0.5);
    let prepared = distillation.prepare(&soft);
    let kd = Network::<Student, _>::seeded(1, distillation.prepared());
    epoch!(
        "student, KD T=4 α=0.5 (prepared targets), per-sample SGD, file order",
        kd,
        &prepared,
        plain(s)
    );
    group.finish();
}

/// Loading the training set: raw IDX (densely, and straight into samples, against
/// loading then listing), gzip'd IDX, CSV.
fn loading(c: &mut Criterion, train: &Dataset) {
    let dir = std::env::temp_dir().join("mimic-bench-loading");
    std::fs::create_dir_all(&dir).unwrap();
    let (images, labels) = Split::Train.idx_names();
    train
        .write_idx(dir.join(images), dir.join(labels), false)
        .unwrap();
    let gz = dir.join("gz");
    std::fs::create_dir_all(&gz).unwrap();
    train
        .write_idx(
            gz.join(format!("{images}.gz")),
            gz.join(format!("{labels}.gz")),
            true,
        )
        .unwrap();
    let csv = dir.join("csv");
    std::fs::create_dir_all(&csv).unwrap();
    train.write_csv(csv.join(Split::Train.csv_name())).unwrap();
    let mut group = c.benchmark_group("load training set");
    group.sample_size(10);
    group.throughput(Throughput::Elements(60_000));
    group.bench_function("IDX", |b| {
        b.iter(|| Dataset::load_dir(&dir, Split::Train).unwrap())
    });
    group.bench_function("load to samples (IDX, one pass)", |b| {
        b.iter(|| SparseDataset::load_dir(&dir, Split::Train, Scaling::Divide255).unwrap())
    });
    group.bench_function("IDX, then listing (two passes)", |b| {
        b.iter(|| {
            Dataset::load_dir(&dir, Split::Train)
                .unwrap()
                .sparse_inputs(Scaling::Divide255)
        })
    });
    group.bench_function("IDX gzip", |b| {
        b.iter(|| Dataset::load_dir(&gz, Split::Train).unwrap())
    });
    group.bench_function("CSV", |b| {
        b.iter(|| Dataset::load_dir(&csv, Split::Train).unwrap())
    });
    group.finish();
}

fn all(c: &mut Criterion) {
    let (train_data, test_data) = mnist();
    let train = Samples::new(&train_data, Scaling::Divide255);
    let test = Samples::new(&test_data, Scaling::Divide255);
    // Steps and whole epochs are timed by the thread's own CPU time (criterion
    // reads the clock once per batch of iterations, so even a step amortises it).
    let mut cpu = Criterion::default()
        .with_measurement(ThreadTime)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    steps(&mut cpu, &train);
    first_layers(&mut cpu, &train);
    layers(c);
    passes(c, &train_data, &train, &test);
    convolutions(&mut cpu);
    // Epochs by the wall clock: some run on two threads.
    schedules(c, &train, &train_data.dense_inputs(Scaling::Divide255));
    loading(c, &train_data);
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = all
}
criterion_main!(benches);
