//! int8 against f32: one forward pass of the distilled student and of the
//! teacher, from raw MNIST pixels to a class, one image at a time — what a
//! device does. One criterion group, so the four are compared side by side.
//!
//! The networks are seeded, not trained: the time of a forward pass does not
//! depend on the values of the weights (the int8 path skips zero pixels, as the
//! f32 path skips zero inputs, and both depend only on the image). Calibration
//! uses 1,000 training images. `cargo bench --bench deploy`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mimic::{CrossEntropy, Module, Network, QuantizedDense, QuantizedModule, quantize};
use mimic_experiments::cli::mnist;
use mimic_experiments::models::{Student, Teacher};
use mimic_mnist::{PIXELS, Scaling};

type TeacherInt8 = (
    QuantizedDense<784, 16, u8>,
    QuantizedDense<16, 16>,
    QuantizedDense<16, 10>,
);

fn int8_versus_f32(c: &mut Criterion) {
    let (train, test) = mnist();
    let images = test.images();
    let calibration: Vec<[f32; PIXELS]> = train.images()[..1000]
        .iter()
        .map(|p| Scaling::Divide255.image(p))
        .collect();
    let teacher = Network::<Teacher, _>::seeded(1, CrossEntropy).layers;
    let student = Network::<Student, _>::seeded(2, CrossEntropy).layers;
    let teacher_int8: TeacherInt8 =
        quantize::<_, u8>(&teacher, 1.0 / 255.0, &calibration).expect("quantise teacher");
    let student_int8: QuantizedDense<784, 10, u8> =
        quantize::<_, u8>(&student, 1.0 / 255.0, &calibration).expect("quantise student");

    let mut group = c.benchmark_group("forward, raw MNIST image to class");
    group.throughput(Throughput::Elements(1));
    let mut k = 0;
    let mut next = move || {
        k = (k + 1) % images.len();
        &images[k]
    };
    group.bench_function("student f32", |b| {
        b.iter(|| mimic::argmax(&student.forward(&Scaling::Divide255.image(black_box(next())))))
    });
    group.bench_function("student int8", |b| {
        b.iter(|| student_int8.predict(black_box(next())))
    });
    group.bench_function("teacher f32", |b| {
        b.iter(|| mimic::argmax(&teacher.forward(&Scaling::Divide255.image(black_box(next())))))
    });
    group.bench_function("teacher int8", |b| {
        b.iter(|| teacher_int8.predict(black_box(next())))
    });
    group.finish();
}

criterion_group!(benches, int8_versus_f32);
criterion_main!(benches);
