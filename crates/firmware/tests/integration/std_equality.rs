//! The no_std crate against the std build of the same network, on the 10,000
//! MNIST test images: every prediction the same.
//!
//! The std build takes another road to each answer — the batch API over sparse
//! rows, with run-time ISA dispatch — so equal predictions show that the
//! compiled-in numbers are the trained ones and that the paths agree. The int8
//! student is quantised again here, with `std`, from the compiled-in f32 student
//! and the same calibration images, and must equal the compiled-in int8 student.

use std::path::PathBuf;

use mimic::{CrossEntropy, Network, QuantizedModule, quantize};
use mimic_firmware::{
    CNN, CNN_INT8, CnnInt8, STUDENT, STUDENT_INT8, StudentInt8, classify, classify_cnn,
    classify_cnn_int8, classify_int8,
};
use mimic_mnist::{Dataset, Scaling, Split};

fn data_dir() -> PathBuf {
    std::env::var_os("MIMIC_DATA_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist"),
        PathBuf::from,
    )
}

fn load(split: Split) -> Dataset {
    let dir = mimic_mnist::ensure_mnist(data_dir()).expect("MNIST");
    Dataset::load_dir(&dir, split).expect("MNIST")
}

#[test]
fn f32_predictions_equal_the_std_build() {
    let test = load(Split::Test);
    let std_build = Network::new(STUDENT.clone(), CrossEntropy);
    let expected = std_build.predict_batch(&test.sparse_inputs(Scaling::Divide255), 1);
    let firmware: Vec<usize> = test.images().iter().map(classify).collect();
    assert_eq!(firmware.len(), 10_000);
    assert_eq!(firmware, expected);
    let accuracy = std_build.accuracy(&test.sparse_inputs(Scaling::Divide255), &test.classes());
    assert!(accuracy > 0.9, "{accuracy}");
}

#[test]
fn int8_student_is_the_std_quantisation_of_the_f32_one() {
    let (train, test) = (load(Split::Train), load(Split::Test));
    // The calibration of `deploy_student`: the first 10,000 training images.
    let calibration: Vec<[f32; 784]> = train.images()[..10_000]
        .iter()
        .map(|p| Scaling::Divide255.image(p))
        .collect();
    let std_build: StudentInt8 =
        quantize::<_, u8>(&STUDENT, 1.0 / 255.0, &calibration).expect("quantise");
    assert_eq!(std_build, STUDENT_INT8);
    let expected: Vec<usize> = test.images().iter().map(|i| std_build.predict(i)).collect();
    let firmware: Vec<usize> = test.images().iter().map(classify_int8).collect();
    assert_eq!(firmware, expected);
    let classes = test.classes();
    let right = firmware
        .iter()
        .zip(&classes)
        .filter(|(p, c)| p == c)
        .count();
    assert!(right > 9_000, "{right}");
}

/// The f32 CNN student as the std build runs it: the batch API over images.
#[test]
fn cnn_predictions_equal_the_std_build() {
    let test = load(Split::Test);
    let rows = test.dense_inputs(Scaling::Divide255);
    let images = mimic::images::<1, 28, 28, 784>(&rows);
    let std_build = Network::new(Box::new(CNN.clone()), CrossEntropy);
    let expected = std_build.predict_batch(images, 2);
    let firmware: Vec<usize> = test.images().iter().map(classify_cnn).collect();
    assert_eq!(firmware.len(), 10_000);
    assert_eq!(firmware, expected);
}

/// The compiled-in int8 CNN is the std quantisation of the compiled-in f32 one
/// (calibrated on the first 10,000 training images, as `deploy_cnn` does), and
/// its accuracy on the test set is within half a point of the f32 one's.
#[test]
fn int8_cnn_is_the_std_quantisation_and_within_half_a_point() {
    let (train, test) = (load(Split::Train), load(Split::Test));
    let rows = train.dense_inputs(Scaling::Divide255);
    let calibration = &mimic::images::<1, 28, 28, 784>(&rows)[..10_000];
    let std_build: Box<CnnInt8> =
        Box::new(quantize::<_, u8>(&CNN, 1.0 / 255.0, calibration).expect("quantise"));
    assert!(*std_build == CNN_INT8);
    let classes = test.classes();
    let right = |predict: &dyn Fn(&[u8; 784]) -> usize| {
        test.images()
            .iter()
            .zip(&classes)
            .filter(|(image, class)| predict(image) == **class)
            .count()
    };
    let int8 = right(&|image| {
        std_build.predict(mimic::quantized::quantized_image::<u8, 1, 28, 28, 784>(
            image,
        ))
    });
    assert_eq!(int8, right(&classify_cnn_int8));
    let f32 = right(&classify_cnn);
    // 98.95% (f32) and 98.96% (int8) for the committed student.
    assert!(f32 >= 9_850, "{f32}");
    assert!(
        int8.abs_diff(f32) <= 50,
        "int8 {int8} against f32 {f32} of 10,000"
    );
}
