//! The experiments' networks, each one type that the compiler shape-checks.

use mimic::{Conv2d, Dense, Flatten, Identity, MaxPool2d, ReLU};

/// The seed's teacher: 784→16→16→10, LeakyReLU(0.1) after every layer.
pub type Teacher = (Dense<784, 16>, Dense<16, 16>, Dense<16, 10>);

/// The seed's student, and the direct 784→10 benchmark: one LeakyReLU layer.
pub type Student = Dense<784, 10>;

/// A student with one hidden layer of 16: 784→16→10.
pub type StudentHidden16 = (Dense<784, 16>, Dense<16, 10>);

/// A student with one hidden layer of 32: 784→32→10.
pub type StudentHidden32 = (Dense<784, 32>, Dense<32, 10>);

/// The study's strong teacher: 784→256→256→10, ReLU hidden layers, logits out
/// (269,322 parameters — every student below is strictly smaller).
pub type StrongTeacher = (
    Dense<784, 256, ReLU>,
    Dense<256, 256, ReLU>,
    Dense<256, 10, Identity>,
);

/// A 784→10 student with logits out (7,850 parameters).
pub type LinearStudent = Dense<784, 10, Identity>;

/// A 784→16→10 student, ReLU hidden layer, logits out (12,730 parameters).
pub type Hidden16Student = (Dense<784, 16, ReLU>, Dense<16, 10, Identity>);

/// A 784→32→10 student, ReLU hidden layer, logits out (25,450 parameters).
pub type Hidden32Student = (Dense<784, 32, ReLU>, Dense<32, 10, Identity>);

/// The seed's teacher shape with logits out: 784→16→16→10, LeakyReLU(0.1) hidden
/// layers, no activation on the output (what a PyTorch `nn.Linear` head gives).
pub type TeacherLogits = (Dense<784, 16>, Dense<16, 16>, Dense<16, 10, Identity>);

/// LeNet-5 (61,706 parameters): a 1×28×28 image → conv 6@5×5, padding 2 → max
/// pool 2 → conv 16@5×5 → max pool 2 → 120 → 84 → 10, ReLU throughout, logits
/// out (PyTorch's usual LeNet-5 for MNIST).
pub type LeNet5 = (
    Conv2d<1, 28, 28, 6, 28, 28, 5, 1, 2, ReLU>,
    MaxPool2d<6, 28, 28, 14, 14, 2>,
    Conv2d<6, 14, 14, 16, 10, 10, 5, 1, 0, ReLU>,
    MaxPool2d<16, 10, 10, 5, 5, 2>,
    Flatten<16, 5, 5, 400>,
    Dense<400, 120, ReLU>,
    Dense<120, 84, ReLU>,
    Dense<84, 10, Identity>,
);

/// A convolutional teacher (21,258 parameters): conv 16@5×5, padding 2 → max
/// pool 2 → conv 32@5×5 → max pool 2 → 800→10, ReLU, logits out. Past 99.2% on
/// MNIST's test set in four epochs; the distillation study's convolutional
/// teacher and `deploy_cnn`'s.
pub type CnnTeacher = (
    Conv2d<1, 28, 28, 16, 28, 28, 5, 1, 2, ReLU>,
    MaxPool2d<16, 28, 28, 14, 14, 2>,
    Conv2d<16, 14, 14, 32, 10, 10, 5, 1, 0, ReLU>,
    MaxPool2d<32, 10, 10, 5, 5, 2>,
    Flatten<32, 5, 5, 800>,
    Dense<800, 10, Identity>,
);

/// A tiny CNN (7,018 parameters): conv 8@3×3 stride 2 → conv 16@3×3 stride 2 →
/// 10, ReLU, logits out.
pub type TinyCnn = (
    Conv2d<1, 28, 28, 8, 13, 13, 3, 2, 0, ReLU>,
    Conv2d<8, 13, 13, 16, 6, 6, 3, 2, 0, ReLU>,
    Flatten<16, 6, 6, 576>,
    Dense<576, 10, Identity>,
);
