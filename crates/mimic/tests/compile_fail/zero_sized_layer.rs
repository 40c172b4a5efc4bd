// expect: error[E0080]
// expect: a layer needs at least one input and one output
// A layer with no inputs is a build error, not a network that runs.
use mimic::{CrossEntropy, Dense, Network};

fn main() {
    let net: Network<Dense<0, 10>, CrossEntropy> = Network::seeded(0, CrossEntropy);
    let _ = net.predict(&[]);
}
