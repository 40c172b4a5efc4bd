// expect: error[E0080]
// expect: the windows must cover the input exactly
// expect: evaluation of `mimic::pool::Pool2d::<6, 27, 27, 13, 13, 2, 2, mimic::pool::Max>::SHAPE` failed
// A 2 × 2 pool over 27 rows would drop the last one: a build error.
use mimic::{MaxPool2d, Module};

fn main() {
    let pool = MaxPool2d::<6, 27, 27, 13, 13, 2>::new();
    let _ = pool.forward(&[[[0.0; 27]; 27]; 6]);
}
