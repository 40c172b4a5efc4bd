//! A convolutional student in firmware, step by step:
//!
//! 1. Train a CNN teacher on the labels (conv 16@5×5 pad 2 → max pool 2 →
//!    conv 32@5×5 → max pool 2 → 800 → 10; Adam, batches of 64, cosine decay).
//! 2. Distil a small CNN student from it (conv 8@5×5 pad 2 → max pool 2 →
//!    conv 16@5×5 → max pool 2 → 400 → 10: 7,434 parameters; Hinton's KD,
//!    T = 2, α = 0.5, the same optimizer).
//! 3. Quantise both to int8 through the same `mimic::quantize` as the dense
//!    networks: per-output-channel weight scales, activation scales calibrated on
//!    10,000 training images, integer-only inference on raw pixels.
//! 4. Export the student as Rust and as a C header; `--export-firmware
//!    crates/firmware` writes `src/cnn.rs` and `c/cnn.h` into the `no_std` crate
//!    `mimic-firmware`.
//! 5. Classify the test set with that crate, f32 and int8.
//!
//! Training takes a few minutes on 2 cores; `--networks DIR` keeps the trained
//! f32 networks there (safetensors) and reuses them on the next run, which gives
//! the same numbers (training is deterministic from the seed).
//!
//! `cargo run --release --example deploy_cnn -- --help`

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use mimic::export::{Item, c_header, rust_source};
use mimic::persist::{self, Layers};
use mimic::quantized::quantized_image;
use mimic::{
    Adam, CrossEntropy, Distillation, Network, QuantizedModule, RateSchedule, Schedule, SoftTarget,
    images, module::Parameters, quantize,
};
use mimic_experiments::cli::{self, DataArgs};
use mimic_experiments::experiment::stream_seed;
use mimic_mnist::{Dataset, PIXELS, Scaling};

/// The teacher: two convolutions (16 and 32 filters) and a linear classifier.
type Teacher = mimic_experiments::models::CnnTeacher;

/// The student: the firmware crate's type (half the teacher's filters).
type Student = mimic_firmware::Cnn;
/// The student in int8.
type StudentInt8 = mimic_firmware::CnnInt8;

/// A pixel `p` stands for `p / 255`: the int8 networks' input scale.
const PIXEL_SCALE: f32 = 1.0 / 255.0;
/// Training images the activation scales are calibrated on.
const CALIBRATION_IMAGES: usize = 10_000;
const TEMPERATURE: f32 = 2.0;
const ALPHA: f32 = 0.5;
const LEARNING_RATE: f32 = 2e-3;
const BATCH: usize = 64;

/// Train a CNN teacher, distil a small CNN student, quantise both to int8, export
/// the student into the no_std crate mimic-firmware and classify with it.
#[derive(Clone, Debug, Parser)]
#[command(version)]
struct Settings {
    #[command(flatten)]
    data: DataArgs,
    /// Seed of every initialisation and shuffle (the committed firmware is seed 1)
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Passes of the teacher over the training set (1 to 100)
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=100))]
    teacher_epochs: u64,
    /// Passes of the student over the training set (1 to 100)
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u64).range(1..=100))]
    student_epochs: u64,
    /// Keep the trained f32 networks in DIR (teacher.safetensors,
    /// student.safetensors) and load them from there when present
    #[arg(long, value_name = "DIR")]
    networks: Option<PathBuf>,
    /// Write the student's Rust source and C header into the firmware crate at DIR
    /// (DIR/src/cnn.rs and DIR/c/cnn.h), e.g. crates/firmware
    #[arg(long, value_name = "DIR")]
    export_firmware: Option<PathBuf>,
}

/// Loads a network's layers from `dir/name.safetensors` if it is there;
/// otherwise trains them with `train` and saves them there.
fn cached<L: Layers + mimic::module::Train<Output = [f32; 10]>>(
    dir: Option<&Path>,
    name: &str,
    seed: u64,
    train: impl FnOnce() -> Result<Box<L>, String>,
) -> Result<Box<L>, String> {
    let path = dir.map(|d| d.join(format!("{name}.safetensors")));
    if let Some(path) = &path
        && path.exists()
    {
        let network: Network<Box<L>, CrossEntropy> =
            persist::load(path).map_err(|e| format!("cannot load {}: {e}", path.display()))?;
        println!("{name}: loaded from {}", path.display());
        return Ok(network.layers);
    }
    let layers = train()?;
    if let Some(path) = &path {
        let network = Network::new(layers, CrossEntropy);
        persist::save(&network, path, Some(seed))
            .map_err(|e| format!("cannot save {}: {e}", path.display()))?;
        return Ok(network.layers);
    }
    Ok(layers)
}

/// Every core: the weights are the same for any number of threads.
fn schedule(epochs: u64, seed: u64) -> Schedule<Adam> {
    Schedule::new(Adam::new(LEARNING_RATE))
        .epochs(epochs as usize)
        .batch_size(BATCH)
        .shuffled(seed)
        .rate_schedule(RateSchedule::Cosine {
            warmup: 100,
            floor: 0.0,
        })
        .all_cores()
}

fn percent(network_accuracy: f32) -> String {
    format!("{:.2}%", 100.0 * network_accuracy)
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

/// What the export writes first in both files.
fn provenance(settings: &Settings) -> String {
    format!(
        "Generated by `cargo run --release --example deploy_cnn -- --seed {} --teacher-epochs {} --student-epochs {} --export-firmware DIR`.\n\
         The CNN student (conv 8@5×5 pad 2, max pool 2, conv 16@5×5, max pool 2, 400→10) distilled (KD T={TEMPERATURE} α={ALPHA}) from a CNN teacher; do not edit.",
        settings.seed, settings.teacher_epochs, settings.student_epochs
    )
}

/// The generated files.
struct Export {
    rust_source: String,
    c_header: String,
}

fn run(train: &Dataset, test: &Dataset, settings: &Settings) -> Result<Export, String> {
    let start = Instant::now();
    let seed = settings.seed;
    let dir = settings.networks.as_deref();
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let train_rows = train.dense_inputs(Scaling::Divide255);
    let test_rows = test.dense_inputs(Scaling::Divide255);
    let (train_images, test_images) = (
        images::<1, 28, 28, PIXELS>(&train_rows),
        images::<1, 28, 28, PIXELS>(&test_rows),
    );
    let (train_classes, test_classes) = (train.classes(), test.classes());
    let epoch_report = |name: &'static str| {
        let mut started = Instant::now();
        move |epoch: usize, stats: &mimic::EpochStats| {
            println!(
                "{name} epoch {:>2}: loss {:.4}, {:.1} s",
                epoch + 1,
                stats.mean_loss,
                started.elapsed().as_secs_f64()
            );
            started = Instant::now();
        }
    };

    // 1. The teacher, on the labels.
    let teacher = cached::<Teacher>(dir, "teacher", seed, || {
        let mut net: Network<Box<Teacher>, _> = Network::seeded(stream_seed(seed, 1), CrossEntropy);
        let mut report = epoch_report("teacher");
        net.fit_with(
            train_images,
            &train_classes,
            &schedule(settings.teacher_epochs, stream_seed(seed, 3)),
            |epoch, _, stats| {
                report(epoch, stats);
                std::ops::ControlFlow::Continue(())
            },
        )
        .map_err(|e| format!("the teacher could not be trained: {e}"))?;
        Ok(net.layers)
    })?;
    let teacher = Network::new(teacher, CrossEntropy);
    let teacher_f32: Vec<usize> = teacher.predict_batch(test_images, 2);
    println!(
        "teacher f32: {}",
        percent(accuracy(&teacher_f32, &test_classes))
    );

    // 2. The student, distilled from the teacher's logits and the labels.
    let kd = Distillation::new(TEMPERATURE, ALPHA);
    let student = cached::<Student>(dir, "student", seed, || {
        let targets: Vec<SoftTarget<10>> = teacher
            .forward_batch(train_images, 2)
            .into_iter()
            .zip(&train_classes)
            .map(|(logits, &class)| SoftTarget { logits, class })
            .collect();
        let mut net: Network<Box<Student>, _> =
            Network::seeded(stream_seed(seed, 2), kd.prepared());
        let mut report = epoch_report("student");
        net.fit_with(
            train_images,
            &kd.prepare(&targets),
            &schedule(settings.student_epochs, stream_seed(seed, 4)),
            |epoch, _, stats| {
                report(epoch, stats);
                std::ops::ControlFlow::Continue(())
            },
        )
        .map_err(|e| format!("the student could not be distilled: {e}"))?;
        Ok(net.layers)
    })?;
    let student = Network::new(student, CrossEntropy);
    let student_f32: Vec<usize> = student.predict_batch(test_images, 2);
    println!(
        "student f32: {}",
        percent(accuracy(&student_f32, &test_classes))
    );

    // 3. int8, calibrated on training images, raw pixels in.
    let calibration = &train_images[..CALIBRATION_IMAGES];
    let teacher_int8 = quantize::<_, u8>(&*teacher.layers, PIXEL_SCALE, calibration)
        .map_err(|e| format!("the teacher could not be quantised: {e}"))?;
    let student_int8: StudentInt8 =
        quantize::<_, u8>(&*student.layers, PIXEL_SCALE, calibration)
            .map_err(|e| format!("the student could not be quantised: {e}"))?;
    let pixels = |image: &[u8; PIXELS]| *quantized_image::<u8, 1, 28, 28, PIXELS>(image);
    let teacher_q: Vec<usize> = test
        .images()
        .iter()
        .map(|i| teacher_int8.predict(&pixels(i)))
        .collect();
    let student_q: Vec<usize> = test
        .images()
        .iter()
        .map(|i| student_int8.predict(&pixels(i)))
        .collect();

    // 4. Export: the student as Rust source and as a C header.
    let header = provenance(settings);
    let items = [
        Item {
            name: "CNN",
            ty: "crate::Cnn",
            doc: "The distilled CNN student, f32.",
            network: &*student.layers,
        },
        Item {
            name: "CNN_INT8",
            ty: "crate::CnnInt8",
            doc: "The same student in int8 (raw pixels in, scale 1/255).",
            network: &student_int8,
        },
    ];
    let rust_source = rust_source(&header, &items).map_err(|e| e.to_string())?;
    let c_header = c_header("MIMIC_CNN_H", &header, &items).map_err(|e| e.to_string())?;

    let stages = [
        (
            "teacher, f32",
            &teacher_f32,
            4 * teacher.layers.parameter_count(),
        ),
        (
            "teacher, int8",
            &teacher_q,
            core::mem::size_of_val(&teacher_int8),
        ),
        (
            "student (distilled), f32",
            &student_f32,
            4 * student.layers.parameter_count(),
        ),
        (
            "student, int8",
            &student_q,
            core::mem::size_of_val(&student_int8),
        ),
    ];
    println!("\n| stage | test accuracy | size (bytes) |\n|---|---|---|");
    for (name, predictions, bytes) in stages {
        println!(
            "| {name} | {} | {bytes} |",
            percent(accuracy(predictions, &test_classes))
        );
    }
    // 5. The firmware crate (the committed export) on the same images.
    let firmware: Vec<usize> = test
        .images()
        .iter()
        .map(mimic_firmware::classify_cnn)
        .collect();
    let firmware_q: Vec<usize> = test
        .images()
        .iter()
        .map(mimic_firmware::classify_cnn_int8)
        .collect();
    println!(
        "\nint8 predicts the f32 class on {} (teacher) and {} (student) of 10,000 images;",
        agreement(&teacher_f32, &teacher_q),
        agreement(&student_f32, &student_q),
    );
    println!(
        "the firmware crate predicts this run's student's class on {} (f32) and {} (int8); {:.1} s",
        agreement(&firmware, &student_f32),
        agreement(&firmware_q, &student_q),
        start.elapsed().as_secs_f64()
    );
    Ok(Export {
        rust_source,
        c_header,
    })
}

/// The files the export writes into the firmware crate at `dir`.
fn export_paths(dir: &Path) -> [PathBuf; 2] {
    [dir.join("src/cnn.rs"), dir.join("c/cnn.h")]
}

/// Writes the student's source files into the firmware crate at `dir`, both or
/// neither: they describe one network.
fn export(dir: &Path, files: &Export) -> Result<(), String> {
    let [rust, c] = export_paths(dir);
    cli::write_together(&[
        (&rust, files.rust_source.as_bytes()),
        (&c, files.c_header.as_bytes()),
    ])
    .map_err(|e| format!("cannot write {} and {}: {e}", rust.display(), c.display()))?;
    println!("wrote {}\nwrote {}", rust.display(), c.display());
    Ok(())
}

fn main() -> ExitCode {
    let settings = Settings::parse();
    // Output paths are checked before anything is trained, not after.
    if let Some(dir) = &settings.export_firmware {
        let paths = export_paths(dir);
        if let Err(e) = cli::check_outputs(&[&paths[0], &paths[1]]) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    let (train, test) = match settings.data.load() {
        Ok(sets) => sets,
        Err(e) => return cli::report_error(e.as_ref()),
    };
    let result = run(&train, &test, &settings).and_then(|files| match &settings.export_firmware {
        Some(dir) => export(dir, &files),
        None => Ok(()),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
