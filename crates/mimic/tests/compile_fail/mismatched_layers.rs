// expect: error[E0271]
// expect: expected an array with a size of 16, found one with a size of 10
// A 16-output layer chained into a 10-input layer must not compile.
use mimic::{CrossEntropy, Dense, Network};

fn main() {
    let _net: Network<(Dense<784, 16>, Dense<10, 10>), CrossEntropy> =
        Network::seeded(0, CrossEntropy);
}
