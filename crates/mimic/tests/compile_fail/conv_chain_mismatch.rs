// expect: error[E0271]
// expect: expected an array with a size of 28, found one with a size of 24
// A 6 × 28 × 28 output chained into a pool of 6 × 24 × 24 inputs must not compile.
use mimic::{Conv2d, CrossEntropy, Dense, Flatten, Identity, MaxPool2d, Network, ReLU};

fn main() {
    let _net: Network<
        (
            Conv2d<1, 28, 28, 6, 28, 28, 5, 1, 2, ReLU>,
            MaxPool2d<6, 24, 24, 12, 12, 2>,
            Flatten<6, 12, 12, 864>,
            Dense<864, 10, Identity>,
        ),
        CrossEntropy,
    > = Network::seeded(0, CrossEntropy);
}
