// expect: error[E0080]
// expect: the output must be OH = (H + 2·P − K) / S + 1 by OW = (W + 2·P − K) / S + 1
// expect: evaluation of `mimic::DepthwiseConv2d::<8, 14, 14, 7, 14, 3, 1, 1, mimic::ReLU>::SHAPE` failed
// A depthwise convolution whose declared output is not what its geometry gives.
use mimic::{DepthwiseConv2d, Module, ReLU};

fn main() {
    let layer = DepthwiseConv2d::<8, 14, 14, 7, 14, 3, 1, 1, ReLU>::zeros();
    let _ = layer.forward(&[[[0.0; 14]; 14]; 8]);
}
