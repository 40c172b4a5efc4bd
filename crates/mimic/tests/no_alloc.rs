//! `forward`, `predict`, `train_step` and `accumulate_gradient` never touch the heap:
//! a counting global allocator sees no allocation while they run. Counting is per
//! thread, so the test harness's own threads cannot interfere. Mini-batch
//! training on several threads allocates per `fit`, never per batch: counted
//! over every thread, while the other tests wait.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use mimic::{
    Adam, Conv2d, CrossEntropy, Dense, Flatten, Identity, MaxPool2d, Mse, Network, QuantizedDense,
    QuantizedModule, ReLU, Schedule, SparseVector, quantize,
};

type Teacher = (Dense<784, 16>, Dense<16, 16>, Dense<16, 10>);
type Student = Dense<784, 10>;
type LeNet5 = (
    Conv2d<1, 28, 28, 6, 28, 28, 5, 1, 2, ReLU>,
    MaxPool2d<6, 28, 28, 14, 14, 2>,
    Conv2d<6, 14, 14, 16, 10, 10, 5, 1, 0, ReLU>,
    MaxPool2d<16, 10, 10, 5, 5, 2>,
    Flatten<16, 5, 5, 400>,
    Dense<400, 120, ReLU>,
    Dense<120, 84, ReLU>,
    Dense<84, 10, Identity>,
);
type TeacherInt8 = (
    QuantizedDense<784, 16, u8>,
    QuantizedDense<16, 16>,
    QuantizedDense<16, 10>,
);

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// Allocations by every thread of the process.
static ALL_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Held by each test, so that counting over all threads sees one test only.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

// SAFETY: every method forwards to the system allocator unchanged; counting
// touches only a thread-local integer.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        ALL_THREADS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        ALL_THREADS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(work: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    work();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn hot_paths_allocate_nothing() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // Built outside the measured regions (Box: the networks are 50 KB).
    let mut teacher: Box<Network<Teacher, CrossEntropy>> =
        Box::new(Network::seeded(1, CrossEntropy));
    let mut student: Box<Network<Student, Mse>> = Box::new(Network::seeded(2, Mse));
    let mut gradients = Box::new(teacher.layers.clone());
    let mut lenet: Box<Network<Box<LeNet5>, CrossEntropy>> =
        Box::new(Network::seeded(3, CrossEntropy));
    let mut lenet_gradients = Box::new(lenet.layers.clone());
    let image: [f32; 784] = core::array::from_fn(|i| {
        if i % 5 == 0 {
            (i % 255) as f32 / 255.0
        } else {
            0.0
        }
    });
    let indices: Vec<u32> = (0..784).filter(|i| i % 5 == 0).collect();
    let values: Vec<f32> = indices.iter().map(|&i| image[i as usize]).collect();
    let sparse = SparseVector::<784>::new(&indices, &values).unwrap();

    let count = allocations_during(|| {
        for k in 0..100 {
            let target = teacher.forward(&image);
            std::hint::black_box(teacher.predict(&image));
            teacher.train_step(&image, &(k % 10), 0.03).unwrap();
            student.train_step(&image, &target, 0.01).unwrap();
            std::hint::black_box(student.forward(&image));
            teacher
                .accumulate_gradient(&image, &3, &mut gradients)
                .unwrap();
            teacher.train_step(sparse, &(k % 10), 0.03).unwrap();
            std::hint::black_box(teacher.forward(sparse));
            student.train_step(sparse, &target, 0.01).unwrap();
            let picture = mimic::image::image::<1, 28, 28, 784>(&image);
            std::hint::black_box(lenet.predict(picture));
            lenet.train_step(picture, &(k % 10), 0.01).unwrap();
            lenet
                .accumulate_gradient(picture, &(k % 10), &mut lenet_gradients)
                .unwrap();
        }
    });
    assert_eq!(count, 0, "heap allocations in forward/train_step");

    // The counter does count: a Vec allocates.
    assert!(allocations_during(|| drop(std::hint::black_box(vec![1u8; 16]))) > 0);
}

/// int8 inference never touches the heap either (quantising, which calibrates on
/// data, may allocate; it needs `std`).
#[test]
fn int8_inference_allocates_nothing() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let teacher = Network::<Teacher, _>::seeded(1, CrossEntropy).layers;
    let student = Network::<Dense<784, 10>, _>::seeded(2, CrossEntropy).layers;
    let images: Vec<[u8; 784]> = (0..20u8)
        .map(|k| core::array::from_fn(|i| if i % 7 == 0 { k.wrapping_mul(13) } else { 0 }))
        .collect();
    let calibration: Vec<[f32; 784]> = images
        .iter()
        .map(|p| p.map(|v| f32::from(v) / 255.0))
        .collect();
    let teacher: TeacherInt8 = quantize::<_, u8>(&teacher, 1.0 / 255.0, &calibration).unwrap();
    let student: QuantizedDense<784, 10, u8> =
        quantize::<_, u8>(&student, 1.0 / 255.0, &calibration).unwrap();
    // The first call chooses the instruction set (reading MIMIC_ISA): done here.
    let _ = student.predict(&images[0]);
    let mut classes = Vec::with_capacity(2 * images.len());
    let count = allocations_during(|| {
        for image in &images {
            let _ = teacher.forward(image);
            let _ = student.logits(image);
            classes.push(teacher.predict(image));
            classes.push(student.predict(image));
        }
    });
    assert_eq!(count, 0);
    assert!(classes.iter().all(|&c| c < 10));
}

/// `fit` on two threads allocates as much for 40 batches as for 10: its
/// buffers and threads once per call (and one statistics entry per epoch),
/// nothing per batch.
#[test]
fn multi_threaded_fit_allocates_nothing_per_batch() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let images: Vec<[f32; 784]> = (0..2560)
        .map(|k| core::array::from_fn(|i| ((i * 7 + k * 13) % 255) as f32 / 255.0))
        .collect();
    let classes: Vec<usize> = (0..2560).map(|k| k % 10).collect();
    let schedule = Schedule::new(Adam::default())
        .batch_size(64)
        .epochs(2)
        .threads(2);
    let mut counts = Vec::new();
    for n in [640, 2560] {
        let mut net: Box<Network<Teacher, CrossEntropy>> =
            Box::new(Network::seeded(1, CrossEntropy));
        let before = ALL_THREADS.load(Ordering::Relaxed);
        net.fit(&images[..n], &classes[..n], &schedule).unwrap();
        counts.push(ALL_THREADS.load(Ordering::Relaxed) - before);
    }
    assert_eq!(
        counts[0], counts[1],
        "allocations for 20 and for 80 batches (2 threads)"
    );
    assert!(counts[0] > 0, "the counter counts");
}
