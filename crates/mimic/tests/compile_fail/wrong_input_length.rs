// expect: error[E0271]
// expect: as Module>::Input == [f32; 785]`
// expect: expected an array with a size of 785, found one with a size of 784
// The teacher takes 784 inputs; 785 must not compile.
use mimic::{CrossEntropy, Dense, Network};
type Teacher = (Dense<784, 16>, Dense<16, 16>, Dense<16, 10>);

fn main() {
    let teacher: Network<Teacher, CrossEntropy> = Network::seeded(0, CrossEntropy);
    let _ = teacher.predict(&[0.0; 785]);
}
