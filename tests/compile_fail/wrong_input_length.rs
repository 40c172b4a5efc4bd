// expect: error[E0308]
// expect: expected an array with a size of 784, found one with a size of 785
// The teacher takes 784 inputs; 785 must not compile.
use mimic::{CrossEntropy, Network, models::Teacher};

fn main() {
    let teacher: Network<Teacher, CrossEntropy> = Network::seeded(0, CrossEntropy, 0.03);
    let _ = teacher.predict(&[0.0; 785]);
}
