//! From a trained teacher to a student in firmware, step by step:
//!
//! 1. Train the 784→16→16→10 teacher on the labels (15 shuffled epochs, batches
//!    of 32, momentum 0.9, decay 0.85: the study's tuned protocol).
//! 2. Distil the 784→10 student from it (Hinton's KD, T = 1, α = 0.5, lr 0.1,
//!    the same schedule: the study's best 784→10 setting).
//! 3. Quantise both to int8: per-output-channel weight scales, activation scales
//!    calibrated on 10,000 training images, integer-only inference on raw pixels.
//! 4. Export the student as Rust (`static` items built by `const` constructors) and
//!    as a C header; `--export-firmware crates/firmware` writes them into the
//!    `no_std` crate `mimic-firmware`.
//! 5. Classify the test set with that crate, f32 and int8.
//!
//! Every stage is measured on the 10,000 test images: accuracy, size of the
//! parameters in bytes, and µs per image (raw pixels in, class out, one image at a
//! time on one core, best of five passes).
//!
//! `cargo run --release --example deploy_student -- --help`

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use mimic::export::{Item, c_header, rust_source};
use mimic::{
    CrossEntropy, Distillation, Module, Momentum, Network, QuantizedDense, QuantizedModule,
    Schedule, SoftTarget, module::Parameters, quantize,
};
use mimic_experiments::cli::{self, DataArgs};
use mimic_experiments::experiment::{Samples, stream_seed};
use mimic_experiments::json::number;
use mimic_experiments::models::{Student, Teacher};
use mimic_mnist::{Dataset, PIXELS, Scaling};

/// The int8 teacher: raw pixels in, int8 activations between layers.
type TeacherInt8 = (
    QuantizedDense<784, 16, u8>,
    QuantizedDense<16, 16>,
    QuantizedDense<16, 10>,
);
/// The int8 student.
type StudentInt8 = QuantizedDense<784, 10, u8>;

/// A pixel `p` stands for `p / 255`: the int8 networks' input scale.
const PIXEL_SCALE: f32 = 1.0 / 255.0;
/// Training images the activation scales are calibrated on.
const CALIBRATION_IMAGES: usize = 10_000;
/// The distillation: temperature and soft weight.
const TEMPERATURE: f32 = 1.0;
const ALPHA: f32 = 0.5;
const TEACHER_LEARNING_RATE: f32 = 0.03;
const STUDENT_LEARNING_RATE: f32 = 0.1;

/// Train, distil, quantise and export a 784→10 MNIST student, and classify with
/// the no_std crate mimic-firmware.
#[derive(Clone, Debug, Parser)]
#[command(version)]
struct Settings {
    #[command(flatten)]
    data: DataArgs,
    /// Seed of every initialisation and shuffle (the committed firmware is seed 42)
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Passes over the training set, teacher and student (1 to 1000)
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=1000))]
    epochs: u64,
    /// Also write every number as JSON to PATH
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Write the student's Rust source and C header into the firmware crate at DIR
    /// (DIR/src/student.rs and DIR/c/student.h), e.g. crates/firmware
    #[arg(long, value_name = "DIR")]
    export_firmware: Option<PathBuf>,
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq)]
struct Stage {
    name: &'static str,
    network: &'static str,
    accuracy: f32,
    bytes: usize,
    micros_per_image: f64,
}

/// Everything the run measured.
#[derive(Clone, Debug)]
struct Report {
    seed: u64,
    epochs: usize,
    stages: Vec<Stage>,
    /// Test images on which the int8 network predicts the f32 one's class.
    teacher_int8_agreement: usize,
    student_int8_agreement: usize,
    /// Test images on which the firmware crate predicts this run's student's class
    /// (10,000 when the committed firmware is this run's export).
    firmware_agreement: usize,
    firmware_int8_agreement: usize,
    /// The student as Rust source and as a C header.
    rust_source: String,
    c_header: String,
    seconds: f64,
}

/// The study's tuned schedule, at base rate `rate`.
fn schedule(rate: f32, epochs: usize, seed: u64) -> Schedule<Momentum> {
    Schedule::new(Momentum::new(rate).momentum(0.9))
        .epochs(epochs)
        .batch_size(32)
        .decay(0.85)
        .shuffled(seed)
}

/// Accuracy of `predict` on the test set, and its best time per image over five
/// passes (each image classified on its own, as on a device).
fn measure(test: &Dataset, predict: impl Fn(&[u8; PIXELS]) -> usize) -> (Vec<usize>, f64) {
    let predictions: Vec<usize> = test.images().iter().map(&predict).collect();
    let best = (0..5)
        .map(|_| {
            let start = Instant::now();
            for image in test.images() {
                black_box(predict(black_box(image)));
            }
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    (predictions, 1e6 * best / test.images().len() as f64)
}

fn accuracy(predictions: &[usize], classes: &[usize]) -> f32 {
    let right = predictions
        .iter()
        .zip(classes)
        .filter(|(p, c)| p == c)
        .count();
    right as f32 / classes.len().max(1) as f32
}

fn agreement(a: &[usize], b: &[usize]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x == y).count()
}

/// The float input of a raw image, as the f32 networks were trained on it.
fn scaled(image: &[u8; PIXELS]) -> [f32; PIXELS] {
    Scaling::Divide255.image(image)
}

/// What the export writes first in both files.
fn provenance(settings: &Settings) -> String {
    format!(
        "Generated by `cargo run --release --example deploy_student -- --seed {} --epochs {} --export-firmware DIR`.\n\
         The 784→10 student distilled (KD T={TEMPERATURE} α={ALPHA}) from a 784→16→16→10 teacher; do not edit.",
        settings.seed, settings.epochs
    )
}

/// The whole story; every step is a library call.
fn run(train: &Dataset, test: &Dataset, settings: &Settings) -> Result<Report, String> {
    let start = Instant::now();
    let (seed, epochs) = (settings.seed, settings.epochs as usize);
    let train_samples = Samples::new(train, Scaling::Divide255);
    let classes = test.classes();

    // 1. The teacher, on the labels.
    let mut teacher: Network<Teacher, CrossEntropy> =
        Network::seeded(stream_seed(seed, 1), CrossEntropy);
    teacher
        .fit(
            &train_samples.inputs,
            &train_samples.classes,
            &schedule(TEACHER_LEARNING_RATE, epochs, stream_seed(seed, 3)),
        )
        .map_err(|e| format!("the teacher could not be trained: {e}"))?;

    // 2. The student, distilled from the teacher's logits and the labels.
    let targets: Vec<SoftTarget<10>> = teacher
        .forward_batch(&train_samples.inputs, 1)
        .into_iter()
        .zip(&train_samples.classes)
        .map(|(logits, &class)| SoftTarget { logits, class })
        .collect();
    let mut student: Network<Student, Distillation> =
        Network::seeded(stream_seed(seed, 2), Distillation::new(TEMPERATURE, ALPHA));
    student
        .fit(
            &train_samples.inputs,
            &targets,
            &schedule(STUDENT_LEARNING_RATE, epochs, stream_seed(seed, 4)),
        )
        .map_err(|e| format!("the student could not be distilled: {e}"))?;

    // 3. int8, calibrated on training images.
    let calibration: Vec<[f32; PIXELS]> = train
        .images()
        .iter()
        .take(CALIBRATION_IMAGES)
        .map(scaled)
        .collect();
    let teacher_int8: TeacherInt8 =
        quantize::<_, u8>(&teacher.layers, PIXEL_SCALE, &calibration)
            .map_err(|e| format!("the teacher could not be quantised: {e}"))?;
    let student_int8: StudentInt8 =
        quantize::<_, u8>(&student.layers, PIXEL_SCALE, &calibration)
            .map_err(|e| format!("the student could not be quantised: {e}"))?;

    // 4. Export: the student as Rust source and as a C header.
    let header = provenance(settings);
    let items = [
        Item {
            name: "STUDENT",
            ty: "crate::Student",
            doc: "The distilled 784→10 student, f32.",
            network: &student.layers,
        },
        Item {
            name: "STUDENT_INT8",
            ty: "crate::StudentInt8",
            doc: "The same student in int8 (raw pixels in, scale 1/255).",
            network: &student_int8,
        },
    ];
    let rust_source = rust_source(&header, &items).map_err(|e| e.to_string())?;
    let c_header = c_header("MIMIC_STUDENT_H", &header, &items).map_err(|e| e.to_string())?;

    // 5. Every stage on the test set, one image at a time from raw pixels.
    let (teacher_f32, teacher_time) = measure(test, |image| {
        mimic::argmax(&teacher.layers.forward(&scaled(image)))
    });
    let (teacher_q, teacher_q_time) = measure(test, |image| teacher_int8.predict(image));
    let (student_f32, student_time) = measure(test, |image| {
        mimic::argmax(&student.layers.forward(&scaled(image)))
    });
    let (student_q, student_q_time) = measure(test, |image| student_int8.predict(image));
    let (firmware, firmware_time) = measure(test, mimic_firmware::classify);
    let (firmware_q, firmware_q_time) = measure(test, mimic_firmware::classify_int8);

    let f32_bytes = |parameters: usize| 4 * parameters;
    let teacher_int8_bytes = QuantizedDense::<784, 16, u8>::parameter_bytes()
        + QuantizedDense::<16, 16>::parameter_bytes()
        + QuantizedDense::<16, 10>::parameter_bytes();
    let stage = |name, network, predictions: &[usize], bytes, micros_per_image| Stage {
        name,
        network,
        accuracy: accuracy(predictions, &classes),
        bytes,
        micros_per_image,
    };
    let stages = vec![
        stage(
            "teacher, f32",
            "784→16→16→10",
            &teacher_f32,
            f32_bytes(teacher.layers.parameter_count()),
            teacher_time,
        ),
        stage(
            "teacher, int8",
            "784→16→16→10",
            &teacher_q,
            teacher_int8_bytes,
            teacher_q_time,
        ),
        stage(
            "student (distilled), f32",
            "784→10",
            &student_f32,
            f32_bytes(student.layers.parameter_count()),
            student_time,
        ),
        stage(
            "student, int8",
            "784→10",
            &student_q,
            StudentInt8::parameter_bytes(),
            student_q_time,
        ),
        stage(
            "mimic-firmware (no_std crate), f32",
            "784→10",
            &firmware,
            core::mem::size_of_val(&mimic_firmware::STUDENT),
            firmware_time,
        ),
        stage(
            "mimic-firmware (no_std crate), int8",
            "784→10",
            &firmware_q,
            core::mem::size_of_val(&mimic_firmware::STUDENT_INT8),
            firmware_q_time,
        ),
    ];
    Ok(Report {
        seed,
        epochs,
        stages,
        teacher_int8_agreement: agreement(&teacher_f32, &teacher_q),
        student_int8_agreement: agreement(&student_f32, &student_q),
        firmware_agreement: agreement(&firmware, &student_f32),
        firmware_int8_agreement: agreement(&firmware_q, &student_q),
        rust_source,
        c_header,
        seconds: start.elapsed().as_secs_f64(),
    })
}

impl Report {
    fn table(&self) -> String {
        let mut out = String::from(
            "| stage | network | test accuracy | size (bytes) | µs / image |\n|---|---|---|---|---|\n",
        );
        for s in &self.stages {
            out += &format!(
                "| {} | {} | {:.2}% | {} | {:.2} |\n",
                s.name,
                s.network,
                100.0 * s.accuracy,
                s.bytes,
                s.micros_per_image
            );
        }
        out
    }

    fn to_json(&self) -> String {
        let stages: Vec<serde_json::Value> = self
            .stages
            .iter()
            .map(|s| {
                serde_json::json!({
                    "stage": s.name,
                    "network": s.network,
                    "accuracy": number(s.accuracy),
                    "bytes": s.bytes,
                    "microseconds_per_image": s.micros_per_image,
                })
            })
            .collect();
        let json = serde_json::json!({
            "seed": self.seed,
            "epochs": self.epochs,
            "stages": stages,
            "test_images": 10_000,
            "teacher_int8_agrees_with_f32": self.teacher_int8_agreement,
            "student_int8_agrees_with_f32": self.student_int8_agreement,
            "firmware_f32_agrees_with_this_run": self.firmware_agreement,
            "firmware_int8_agrees_with_this_run": self.firmware_int8_agreement,
            "seconds": self.seconds,
        });
        serde_json::to_string_pretty(&json).unwrap_or_default() + "\n"
    }
}

/// Writes the student's source files into the firmware crate at `dir`, both or
/// neither: they describe one network.
fn export(dir: &Path, report: &Report) -> Result<(), String> {
    let (rust, c) = (dir.join("src/student.rs"), dir.join("c/student.h"));
    cli::write_together(&[
        (&rust, report.rust_source.as_bytes()),
        (&c, report.c_header.as_bytes()),
    ])
    .map_err(|e| format!("cannot write {} and {}: {e}", rust.display(), c.display()))?;
    println!("wrote {}\nwrote {}", rust.display(), c.display());
    Ok(())
}

fn main() -> ExitCode {
    let settings = Settings::parse();
    // Output paths are checked before anything is trained, not after.
    let mut outputs: Vec<PathBuf> = settings.json.iter().cloned().collect();
    if let Some(dir) = &settings.export_firmware {
        outputs.push(dir.join("src/student.rs"));
        outputs.push(dir.join("c/student.h"));
    }
    let paths: Vec<&Path> = outputs.iter().map(PathBuf::as_path).collect();
    if let Err(e) = cli::check_outputs(&paths) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let (train, test) = match settings.data.load() {
        Ok(sets) => sets,
        Err(e) => return cli::report_error(e.as_ref()),
    };
    let report = match run(&train, &test, &settings) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "MNIST test set, 10,000 images; seed {}, {} epochs\n",
        report.seed, report.epochs
    );
    print!("{}", report.table());
    println!(
        "\nint8 predicts the f32 class on {} (teacher) and {} (student) of 10,000 images;",
        report.teacher_int8_agreement, report.student_int8_agreement
    );
    println!(
        "the firmware crate predicts this run's student's class on {} (f32) and {} (int8).",
        report.firmware_agreement, report.firmware_int8_agreement
    );
    println!("{:.1} s", report.seconds);
    if let Some(dir) = &settings.export_firmware
        && let Err(e) = export(dir, &report)
    {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    if let Some(path) = &settings.json
        && let Err(e) = cli::write_atomically(path, report.to_json().as_bytes())
    {
        eprintln!("error: cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    //! The story end to end on the real MNIST files, with the default settings
    //! that produced the committed firmware.
    use super::*;

    #[test]
    fn the_committed_firmware_is_this_export_and_int8_meets_its_targets() {
        let (train, test) = cli::mnist();
        let settings = Settings::try_parse_from(["deploy_student"]).expect("defaults");
        let report = run(&train, &test, &settings).expect("the story runs");
        let firmware = Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware");
        // The committed source is exactly what the export command writes today.
        assert_eq!(
            std::fs::read_to_string(firmware.join("src/student.rs")).expect("student.rs"),
            report.rust_source,
            "crates/firmware/src/student.rs is stale: regenerate it with --export-firmware"
        );
        assert_eq!(
            std::fs::read_to_string(firmware.join("c/student.h")).expect("student.h"),
            report.c_header
        );
        assert_eq!(report.firmware_agreement, 10_000);
        assert_eq!(report.firmware_int8_agreement, 10_000);
        let s = &report.stages;
        // int8 within half a point of f32, for the teacher and the student.
        assert!((s[0].accuracy - s[1].accuracy).abs() <= 0.005, "{s:?}");
        assert!((s[2].accuracy - s[3].accuracy).abs() <= 0.005, "{s:?}");
        assert_eq!(
            (s[4].accuracy, s[5].accuracy),
            (s[2].accuracy, s[3].accuracy)
        );
        // 7,840 int8 weights, 10 i32 biases, 10 × 2 multipliers: under 8 KB.
        assert_eq!(s[3].bytes, 7_980);
        assert_eq!(s[2].bytes, 31_400);
        assert!(s[0].accuracy > 0.94 && s[2].accuracy > 0.91, "{s:?}");
    }

    #[test]
    fn help_and_bad_flags() {
        assert!(Settings::try_parse_from(["deploy_student", "--help"]).is_err());
        assert!(Settings::try_parse_from(["deploy_student", "--epochs", "0"]).is_err());
        let s = Settings::try_parse_from(["deploy_student", "--export-firmware", "x"]).unwrap();
        assert_eq!(s.export_firmware, Some(PathBuf::from("x")));
    }
}
