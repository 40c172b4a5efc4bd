//! The seed's student–teacher experiment on MNIST.
//!
//! 1. Train a 784→16→16→10 teacher on the labels (cross-entropy, lr 0.03, one pass).
//! 2. Record its output vector for every training image.
//! 3. Train six 784→10 students to reproduce those vectors (MSE, lr 0.001 … 0.3).
//! 4. Train the same 784→10 network directly on the labels: the benchmark.
//!
//! `cargo run --release --example teacher_student -- --help`

mod support;

use std::process::ExitCode;
use std::time::Instant;

use mimic::experiment::teacher_student_with;
use mimic::models::Teacher;
use mimic::{CrossEntropy, persist};

fn main() -> ExitCode {
    let extra = [
        "--save-teacher PATH  save the trained teacher (safetensors)",
        "--load-teacher PATH  use a saved teacher instead of training one",
    ];
    let start = Instant::now();
    let about = "The seed's teacher–student experiment on MNIST.";
    let (args, train, test, loading) = match support::start(about, &extra) {
        Ok(started) => started,
        Err(code) => return code,
    };
    let flag = |name: &str| {
        args.extra
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, v)| v.clone())
    };
    let pretrained = match flag("--load-teacher") {
        Some(path) => match persist::load::<Teacher, _>(
            &path,
            CrossEntropy,
            args.config.teacher_learning_rate,
        ) {
            Ok(teacher) => Some(teacher),
            Err(e) => return support::report_error(&e),
        },
        None => None,
    };
    let mut report = match teacher_student_with(&train, &test, &args.config, pretrained) {
        Ok(report) => report,
        Err(e) => return support::report_error(&e),
    };
    report.phases.insert(0, loading);

    let percent = |a: f32| format!("{:.2}%", 100.0 * a);
    println!(
        "MNIST: {} training images, {} test images; seed {}, {} epoch(s)",
        train.len(),
        test.len(),
        args.config.seed,
        args.config.epochs
    );
    match flag("--load-teacher") {
        Some(path) => println!(
            "\nteacher 784→16→16→10 loaded from {path}: {} (measured again)",
            percent(report.teacher.accuracy)
        ),
        None => println!(
            "\nteacher 784→16→16→10: {} before training, {} after",
            percent(report.teacher.accuracy_before),
            percent(report.teacher.accuracy)
        ),
    }
    if let Some(path) = flag("--save-teacher") {
        if let Err(e) = persist::save(&report.teacher_network, &path, Some(args.config.seed)) {
            return support::report_error(&e);
        }
        println!("teacher saved to {path}");
    }
    println!("\n{:>12}  {:>16}", "student lr", "test accuracy");
    for student in &report.students {
        match &student.result {
            Ok(accuracy) => println!("{:>12}  {:>16}", student.learning_rate, percent(*accuracy)),
            Err(e) => println!("{:>12}  {:>16}  ({e})", student.learning_rate, "diverged"),
        }
    }
    println!(
        "{:>12}  {:>16}",
        "benchmark",
        percent(report.benchmark.accuracy)
    );
    println!(
        "(benchmark: the same 784→10 network trained directly on labels, lr {})",
        args.config.benchmark_learning_rate
    );
    support::print_phases(&report.phases);
    println!(
        "wall time including start-up: {:.3} s",
        start.elapsed().as_secs_f64()
    );
    match support::write_json(args.json.as_ref(), &report.to_json()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => support::report_error(e.as_ref()),
    }
}
