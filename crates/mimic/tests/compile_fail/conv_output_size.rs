// expect: error[E0080]
// expect: the output height must be OH = (H + 2·P − K) / S + 1
// expect: evaluation of `mimic::Conv2d::<1, 28, 28, 6, 27, 28, 5, 1, 2, mimic::ReLU>::SHAPE` failed
// A convolution whose declared output size is not what its input, kernel,
// stride and padding give is a build error naming every size.
use mimic::{Conv2d, CrossEntropy, Dense, Flatten, Identity, Network, ReLU};

type Net = (
    Conv2d<1, 28, 28, 6, 27, 28, 5, 1, 2, ReLU>,
    Flatten<6, 27, 28, 4536>,
    Dense<4536, 10, Identity>,
);

fn main() {
    let net: Network<Box<Net>, CrossEntropy> = Network::seeded(0, CrossEntropy);
    let _ = net.predict(&[[[0.0; 28]; 28]]);
}
