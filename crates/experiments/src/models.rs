//! The seed's networks, each one line that the compiler shape-checks.

use mimic::{Dense, Identity, ReLU};

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
