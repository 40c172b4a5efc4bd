// expect: error[E0080]
// expect: the length must be N = C · H · W
// expect: evaluation of `mimic::Flatten::<16, 5, 5, 256>::SHAPE` failed
// 16 × 5 × 5 is 400 values, not 256.
use mimic::{Flatten, Module};

fn main() {
    let flat = Flatten::<16, 5, 5, 256>::new();
    let _ = flat.forward(&[[[0.0; 5]; 5]; 16]);
}
