//! Export of networks built from bytes — weights and slopes of any bits, item
//! names, doc strings, header lines and include guards of any text — to Rust
//! and to a C header: `Ok` or an `ExportError`, never a panic; and what is
//! written keeps every caller's text inside its comments.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mimic::export::{Item, c_header, rust_source};
use mimic::module::Parameters;
use mimic::{
    Conv2d, Dense, Flatten, Identity, Initialize, Initializer, LeakyReLU, MaxPool2d, Mse, Network,
    ReLU, quantize,
};

type Mlp = (Dense<3, 4, LeakyReLU>, Dense<4, 2, Identity>);
type Cnn = (
    Conv2d<1, 4, 4, 2, 4, 4, 3, 1, 1, ReLU>,
    MaxPool2d<2, 4, 4, 2, 2, 2>,
    Flatten<2, 2, 2, 8>,
    Dense<8, 2, Identity>,
);

/// A network of type `L` whose parameters are `floats`, in order (zeros past
/// their end).
fn network<L>(floats: &mut impl Iterator<Item = f32>) -> L
where
    L: Initialize + Parameters + mimic::module::Train<Output = [f32; 2]>,
{
    let mut layers = Network::<L, Mse>::seeded_with(Initializer::Zeros, 0, Mse).layers;
    layers.visit_mut(&mut |values| {
        for v in values {
            *v = floats.next().unwrap_or(0.0);
        }
    });
    layers
}

fuzz_target!(|data: &[u8]| {
    // Four texts separated by 0 bytes, then the parameters as f32s.
    let mut parts = data.splitn(6, |&b| b == 0);
    let mut text = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (first, second, doc, header, guard) = (text(), text(), text(), text(), text());
    let rest = parts.next().unwrap_or_default();
    let mut floats = rest
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    let slope = floats.next().unwrap_or(0.1);
    let mut mlp: Mlp = network(&mut floats);
    mlp.0.set_activation(LeakyReLU::new(slope));
    let cnn: Cnn = network(&mut floats);
    let calibration = [[0.5f32, 0.25, 1.0], [1.0, 0.0, 0.5]];
    let int8 = quantize::<_, u8>(&mlp, 1.0 / 255.0, &calibration).ok();
    let mut items = vec![
        Item {
            name: &first,
            ty: "crate::Mlp",
            doc: &doc,
            network: &mlp,
        },
        Item {
            name: &second,
            ty: "crate::Cnn",
            doc: &doc,
            network: &cnn,
        },
    ];
    if let Some(int8) = &int8 {
        items.push(Item {
            name: "INT8",
            ty: "crate::Int8",
            doc: &doc,
            network: int8,
        });
    }
    // The caller's texts change comment lines only: the code is the same as
    // with no texts at all.
    let plain: Vec<Item<'_>> = items.iter().map(|i| Item { doc: "", ..*i }).collect();
    let code = |source: &str, comment: &str| -> Vec<String> {
        source
            .lines()
            .filter(|l| !l.starts_with(comment))
            .map(String::from)
            .collect()
    };
    if let Ok(rust) = rust_source(&header, &items) {
        let without = rust_source("", &plain).expect("the same items export without texts");
        assert_eq!(code(&rust, "//"), code(&without, "//"));
    }
    if let Ok(c) = c_header(&guard, &header, &items) {
        let without = c_header(&guard, "", &plain).expect("the same items export without texts");
        assert_eq!(code(&c, "/*"), code(&without, "/*"));
    }
});
