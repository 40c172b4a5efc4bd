// What `mimic::export` writes, of the right shapes, compiles: a float chain and
// an int8 chain as `static`s built by `const` constructors, used without `std`
// machinery (forward passes and argmax only).
use mimic::{Dense, Identity, LeakyReLU, Module, QuantizedDense, QuantizedModule, Requantize};

type Net = (Dense<3, 2>, Dense<2, 2, Identity>);
type NetInt8 = (QuantizedDense<3, 2, u8>, QuantizedDense<2, 2>);

#[rustfmt::skip]
static NET: Net = (
    Dense::from_transposed([[0.5, -0.5], [0.25, 0.0], [1.0, 2.0]], [0.0, 0.1], LeakyReLU::new(0.1)),
    Dense::from_transposed([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0], Identity),
);

#[rustfmt::skip]
static NET_INT8: NetInt8 = (
    QuantizedDense::from_parts(
        [[64, -64], [32, 0], [127, 127]],
        [0, 3],
        [Requantize::new(1 << 30, 38); 2],
        [Requantize::new(1 << 27, 38); 2],
    ),
    QuantizedDense::from_parts(
        [[127, 0], [0, 127]],
        [0, 0],
        [Requantize::new(1 << 30, 37); 2],
        [Requantize::new(1 << 30, 37); 2],
    ),
);

fn main() {
    let class = mimic::argmax(&NET.forward(&[1.0, 0.0, 0.5]));
    let class_int8 = NET_INT8.predict(&[255, 0, 128]);
    assert!(class < 2 && class_int8 < 2);
    compiled_in_cnn_runs();
}

// A convolutional chain, f32 and int8, as `mimic::export` writes it.
mod cnn {
    use mimic::pool::{Max, Pool2d};
    use mimic::quantized::{QuantizedConv2d, QuantizedFlatten, QuantizedPool2d};
    use mimic::{
        Conv2d, Dense, DepthwiseConv2d, Flatten, Identity, MaxPool2d, QuantizedDense, ReLU,
        Requantize,
    };

    pub type Cnn = (
        Conv2d<1, 4, 4, 2, 4, 4, 3, 1, 1, ReLU>,
        MaxPool2d<2, 4, 4, 2, 2, 2>,
        Flatten<2, 2, 2, 8>,
        Dense<8, 2, Identity>,
    );
    pub type CnnInt8 = (
        QuantizedConv2d<1, 4, 4, 2, 4, 4, 3, 1, 1, u8>,
        QuantizedPool2d<2, 4, 4, 2, 2, 2, 2, Max>,
        QuantizedFlatten<2, 2, 2, 8>,
        QuantizedDense<8, 2>,
    );

    #[rustfmt::skip]
    pub static CNN: Cnn = (
        Conv2d::from_parts([[[[0.5, 0.0, -0.5], [1.0, 0.0, -1.0], [0.5, 0.0, -0.5]]], [[[1.0; 3]; 3]]], [0.0, -0.1], ReLU),
        Pool2d::new(),
        Flatten::new(),
        Dense::from_transposed([[1.0, -1.0]; 8], [0.0, 0.0], Identity),
    );

    /// A depthwise layer as `export` writes it.
    #[rustfmt::skip]
    pub static DEPTHWISE: DepthwiseConv2d<2, 4, 4, 4, 4, 3, 1, 1, ReLU> = ::mimic::DepthwiseConv2d::from_parts(
[[[0.5, 0.0, -0.5], [1.0, 0.0, -1.0], [0.5, 0.0, -0.5]],
[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]],
],
[0.0, -0.1],
ReLU,
);

    #[rustfmt::skip]
    pub static CNN_INT8: CnnInt8 = (
        QuantizedConv2d::from_parts([[[[64, 0, -64], [127, 0, -127], [64, 0, -64]]], [[[127; 3]; 3]]], [0, -3], [Requantize::new(1 << 30, 40); 2], [Requantize::new(0, 40); 2]),
        QuantizedPool2d::new(),
        QuantizedFlatten::new(),
        QuantizedDense::from_parts([[127, -127]; 8], [0, 0], [Requantize::new(1 << 30, 37); 2], [Requantize::new(1 << 30, 37); 2]),
    );
}

fn compiled_in_cnn_runs() {
    use mimic::{Module, QuantizedModule};
    let x = [[[0.5f32; 4]; 4]; 1];
    assert!(mimic::argmax(&cnn::CNN.forward(&x)) < 2);
    assert!(cnn::CNN_INT8.predict(&[[[128u8; 4]; 4]; 1]) < 2);
    // The second filter sums its window: 9 · 0.5 − 0.1 in the middle.
    assert_eq!(cnn::DEPTHWISE.forward(&[[[0.5f32; 4]; 4]; 2])[1][1][1], 4.4);
}
