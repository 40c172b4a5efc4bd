// The control case: the seed's networks, correctly chained, compile.
use mimic::models::{Student, StudentHidden32, Teacher};
use mimic::{CrossEntropy, Mse, Network};

fn main() {
    let mut teacher: Network<Teacher, CrossEntropy> = Network::seeded(0, CrossEntropy, 0.03);
    let mut student: Network<Student, Mse> = Network::seeded(0, Mse, 0.01);
    let wide: Network<StudentHidden32, CrossEntropy> = Network::seeded(0, CrossEntropy, 0.1);
    let x = [0.0f32; 784];
    let target = teacher.forward(&x);
    let _ = teacher.train_step(&x, &3);
    let _ = student.train_step(&x, &target);
    let _ = wide.predict(&x);
}
