// expect: is not a chain of layers whose shapes fit
// expect: for more than 12 layers, nest tuples
// A flat tuple of thirteen layers is not a network; the error says to nest.
use mimic::{CrossEntropy, Dense, Network};

type Thirteen = (
    Dense<8, 8>, Dense<8, 8>, Dense<8, 8>, Dense<8, 8>, Dense<8, 8>, Dense<8, 8>, Dense<8, 8>,
    Dense<8, 8>, Dense<8, 8>, Dense<8, 8>, Dense<8, 8>, Dense<8, 8>, Dense<8, 2>,
);

fn main() {
    let net: Network<Thirteen, CrossEntropy> = Network::seeded(0, CrossEntropy);
    let _ = net.predict(&[0.0; 8]);
}
