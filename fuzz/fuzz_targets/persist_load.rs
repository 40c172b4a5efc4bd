//! `persist::load`'s reading of a file's bytes (`persist::from_bytes`), into
//! networks with each stored loss — settings included — a boxed network and a
//! convolutional one: `Ok` or a `PersistError`, never a panic, and whatever
//! loads saves again (what loads is what saves).
#![no_main]
use libfuzzer_sys::fuzz_target;
use mimic::persist::{self, Layers, StoredLoss};
use mimic::{
    Conv2d, CrossEntropy, Dense, Distillation, Flatten, Identity, LabelSmoothing, MaxPool2d, Mse,
    Network, ReLU,
};

type Small = (Dense<4, 3>, Dense<3, 2>);
type Teacher = (Dense<784, 16>, Dense<16, 16>, Dense<16, 10>);
type Cnn = (
    Conv2d<1, 4, 4, 2, 4, 4, 3, 1, 1, ReLU>,
    MaxPool2d<2, 4, 4, 2, 2, 2>,
    Flatten<2, 2, 2, 8>,
    Dense<8, 2, Identity>,
);

fn round_trip<L: Layers, F: StoredLoss>(data: &[u8]) {
    if let Ok(network) = persist::from_bytes::<L, F>(data, "fuzz.safetensors") {
        let network: Network<L, F> = network;
        assert!(network.layers.all_finite());
        let bytes = persist::to_bytes(&network, None).expect("what loads saves");
        assert!(persist::from_bytes::<L, F>(&bytes, "again").is_ok());
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<Teacher, CrossEntropy>(data);
    round_trip::<Small, CrossEntropy>(data);
    round_trip::<Small, Mse>(data);
    round_trip::<Small, LabelSmoothing>(data);
    round_trip::<Small, Distillation>(data);
    round_trip::<Box<Small>, Distillation>(data);
    round_trip::<Cnn, CrossEntropy>(data);
});
