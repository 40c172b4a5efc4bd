// The control case: correctly chained networks compile — the seed's, a flat chain
// of twelve layers, a nested chain of fourteen, and a boxed one.

use mimic::{CrossEntropy, Dense, Mse, Network};

type Teacher = (Dense<784, 16>, Dense<16, 16>, Dense<16, 10>);
type Student = Dense<784, 10>;
type Twelve = (
    Dense<8, 8>, Dense<8, 8>, Dense<8, 8>, Dense<8, 8>, Dense<8, 8>, Dense<8, 8>,
    Dense<8, 8>, Dense<8, 8>, Dense<8, 8>, Dense<8, 8>, Dense<8, 8>, Dense<8, 2>,
);
type Fourteen = ((Dense<8, 8>, Dense<8, 8>), Twelve);

fn main() {
    let mut teacher: Network<Teacher, CrossEntropy> = Network::seeded(0, CrossEntropy);
    let mut student: Network<Student, Mse> = Network::seeded(0, Mse);
    let twelve: Network<Twelve, CrossEntropy> = Network::seeded(0, CrossEntropy);
    let fourteen: Network<Fourteen, CrossEntropy> = Network::seeded(0, CrossEntropy);
    let boxed: Network<Box<Teacher>, CrossEntropy> = Network::seeded(0, CrossEntropy);
    let x = [0.0f32; 784];
    let target = teacher.forward(&x);
    let _ = teacher.train_step(&x, &3, 0.03);
    let _ = student.train_step(&x, &target, 0.01);
    let _ = (twelve.predict(&[0.0; 8]), fourteen.predict(&[0.0; 8]), boxed.predict(&x));
}
