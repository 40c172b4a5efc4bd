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
}
