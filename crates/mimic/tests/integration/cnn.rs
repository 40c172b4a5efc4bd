//! Convolutional networks go through the same API as dense ones: `fit` with
//! every optimizer, batch size and loss (distillation included), persistence,
//! and the same bits for the same seed.

use mimic::module::Parameters;
use mimic::{
    Adam, AdamW, AvgPool2d, Conv2d, CrossEntropy, Dense, DepthwiseConv2d, Distillation, Flatten,
    Identity, Image, LabelSmoothing, MaxPool2d, Momentum, Network, Optimizer, ReLU, Schedule, Sgd,
    SoftTarget, persist,
};

/// 1 × 8 × 8 → conv 4@3×3 pad 1 → max pool 2 → depthwise 3×3 pad 1 →
/// pointwise to 6 → conv 6@3×3 → average pool 2 → 3.
type Cnn = (
    Conv2d<1, 8, 8, 4, 8, 8, 3, 1, 1, ReLU>,
    MaxPool2d<4, 8, 8, 4, 4, 2>,
    (
        DepthwiseConv2d<4, 4, 4, 4, 4, 3, 1, 1, ReLU>,
        Conv2d<4, 4, 4, 4, 4, 4, 1, 1, 0, ReLU>,
    ),
    Conv2d<4, 4, 4, 6, 2, 2, 3, 1, 0, ReLU>,
    AvgPool2d<6, 2, 2, 1, 1, 2>,
    Flatten<6, 1, 1, 6>,
    Dense<6, 3, Identity>,
);

/// Three classes of 8 × 8 pictures: a horizontal bar, a vertical bar, a
/// diagonal, each somewhere else and with a little noise.
fn pictures(n: usize) -> (Vec<Image<1, 8, 8>>, Vec<usize>) {
    let mut state = 12345u64;
    let mut noise = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 40) as f32 / (1u64 << 24) as f32) * 0.2
    };
    let mut images = Vec::new();
    let mut classes = Vec::new();
    for k in 0..n {
        let class = k % 3;
        let at = (k / 3) % 6 + 1;
        let mut x = [[[0.0f32; 8]; 8]; 1];
        for (h, row) in x[0].iter_mut().enumerate() {
            for (w, v) in row.iter_mut().enumerate() {
                let on = match class {
                    0 => h == at,
                    1 => w == at,
                    _ => (h + at) % 8 == w,
                };
                *v = if on { 1.0 } else { 0.0 } + noise();
            }
        }
        images.push(x);
        classes.push(class);
    }
    (images, classes)
}

fn bits(p: &impl Parameters) -> Vec<u32> {
    let mut all = Vec::new();
    p.visit(&mut |s| all.extend(s.iter().map(|v| v.to_bits())));
    all
}

fn trains<O: Optimizer>(optimizer: O, batch: usize) -> f32 {
    let (images, classes) = pictures(300);
    let mut net: Network<Cnn, _> = Network::seeded(3, CrossEntropy);
    let schedule = Schedule::new(optimizer)
        .epochs(15)
        .batch_size(batch)
        .shuffled(1);
    let stats = net.fit(&images, &classes, &schedule).unwrap();
    assert!(
        stats.last().unwrap().mean_loss < stats[0].mean_loss,
        "{stats:?}"
    );
    // The same seed gives the same bits.
    let mut again: Network<Cnn, _> = Network::seeded(3, CrossEntropy);
    again.fit(&images, &classes, &schedule).unwrap();
    assert_eq!(bits(&net.layers), bits(&again.layers));
    net.accuracy(&images, &classes)
}

#[test]
fn a_cnn_learns_with_every_optimizer_and_batch_size() {
    for (name, accuracy) in [
        ("SGD per sample", trains(Sgd::new(0.05), 1)),
        ("SGD, batch 8", trains(Sgd::new(0.2), 8)),
        ("momentum, batch 16", trains(Momentum::new(0.05), 16)),
        ("Adam, batch 32", trains(Adam::new(0.01), 32)),
        ("AdamW, batch 7", trains(AdamW::new(0.01), 7)),
    ] {
        assert!(accuracy > 0.9, "{name}: {accuracy}");
    }
}

#[test]
fn a_cnn_student_learns_from_a_teachers_logits_and_smoothed_labels() {
    let (images, classes) = pictures(300);
    let mut teacher: Network<Cnn, _> = Network::seeded(4, CrossEntropy);
    let schedule = Schedule::new(Adam::new(0.01))
        .epochs(15)
        .batch_size(16)
        .shuffled(2);
    teacher.fit(&images, &classes, &schedule).unwrap();
    let targets: Vec<SoftTarget<3>> = images
        .iter()
        .zip(&classes)
        .map(|(x, &class)| SoftTarget {
            logits: teacher.forward(x),
            class,
        })
        .collect();
    let mut student: Network<Cnn, _> = Network::seeded(5, Distillation::new(2.0, 0.5));
    student.fit(&images, &targets, &schedule).unwrap();
    assert!(student.accuracy(&images, &classes) > 0.9);
    let mut smoothed: Network<Cnn, _> = Network::seeded(6, LabelSmoothing::new(0.1));
    smoothed.fit(&images, &classes, &schedule).unwrap();
    assert!(smoothed.accuracy(&images, &classes) > 0.9);
}

#[test]
fn a_cnn_saves_and_loads_in_pytorch_layout() {
    let (images, classes) = pictures(60);
    let mut net: Network<Box<Cnn>, _> = Network::seeded(7, CrossEntropy);
    net.fit(
        &images,
        &classes,
        &Schedule::new(Adam::new(0.01)).batch_size(8),
    )
    .unwrap();
    let bytes = persist::to_bytes(&net, Some(7)).unwrap();
    let loaded: Network<Box<Cnn>, CrossEntropy> = persist::from_bytes(&bytes, "cnn").unwrap();
    assert_eq!(bits(&net.layers), bits(&loaded.layers));
    assert_eq!(net.forward(&images[0]), loaded.forward(&images[0]));
    // The filters are [CO, C, K, K], PyTorch's Conv2d.weight; the first
    // convolution's weight 1.0.2.1 is `weights()[1][0][2][1]`.
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let conv = file.tensor("0.weight").unwrap();
    assert_eq!(conv.shape(), [4, 1, 3, 3]);
    // Row-major [CO=4, C=1, K=3, K=3]: (co·C + c)·K·K + kh·K + kw.
    let (co, c, kh, kw) = (1, 0, 2, 1);
    let at = ((co + c) * 3 + kh) * 3 + kw;
    let stored = f32::from_le_bytes(conv.data()[4 * at..4 * at + 4].try_into().unwrap());
    assert_eq!(stored, net.layers.0.weights()[1][0][2][1]);
    assert_eq!(file.tensor("1.weight").unwrap().shape(), [4, 1, 3, 3]);
    assert_eq!(file.tensor("2.weight").unwrap().shape(), [4, 4, 1, 1]);
    assert_eq!(file.tensor("3.weight").unwrap().shape(), [6, 4, 3, 3]);
    assert_eq!(file.tensor("4.weight").unwrap().shape(), [3, 6]);
    // A network whose depthwise convolution has another kernel size is refused.
    type Other = (
        Conv2d<1, 8, 8, 4, 8, 8, 3, 1, 1, ReLU>,
        MaxPool2d<4, 8, 8, 4, 4, 2>,
        (
            DepthwiseConv2d<4, 4, 4, 3, 3, 2, 1, 0, ReLU>,
            Conv2d<4, 3, 3, 4, 3, 3, 1, 1, 0, ReLU>,
        ),
        Conv2d<4, 3, 3, 6, 3, 3, 1, 1, 0, ReLU>,
        Flatten<6, 3, 3, 54>,
        Dense<54, 3, Identity>,
    );
    let refused = persist::from_bytes::<Box<Other>, CrossEntropy>(&bytes, "cnn");
    assert!(refused.unwrap_err().to_string().contains("1.weight"));
}
