// expect: error[E0308]
// expect: expected an array with a size of 10, found one with a size of 16
// A 784→10 student trained with MSE needs a 10-long target; 16 must not compile.
use mimic::{Dense, Mse, Network};
type Student = Dense<784, 10>;

fn main() {
    let mut student: Network<Student, Mse> = Network::seeded(0, Mse);
    let _ = student.train_step(&[0.0; 784], &[0.0; 16], 0.01);
}
