//! The seed's networks, each one line that the compiler shape-checks.

use mimic::Dense;

/// The seed's teacher: 784→16→16→10, LeakyReLU(0.1) after every layer.
pub type Teacher = (Dense<784, 16>, Dense<16, 16>, Dense<16, 10>);

/// The seed's student, and the direct 784→10 benchmark: one LeakyReLU layer.
pub type Student = Dense<784, 10>;

/// A student with one hidden layer of 16: 784→16→10.
pub type StudentHidden16 = (Dense<784, 16>, Dense<16, 10>);

/// A student with one hidden layer of 32: 784→32→10.
pub type StudentHidden32 = (Dense<784, 32>, Dense<32, 10>);
