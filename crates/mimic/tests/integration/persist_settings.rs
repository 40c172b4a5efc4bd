//! What saves, loads, and nothing else: `save` and `load` refuse the same
//! networks (NaN weights, loss settings and slopes out of range), by the
//! predicates training uses.
#![cfg(feature = "persist")]

use std::collections::{BTreeMap, HashMap};

use mimic::persist::{self, PersistError};
use mimic::{
    CrossEntropy, Dense, Distillation, InvalidSetting, LabelSmoothing, LeakyReLU, Network,
};
use safetensors::SafeTensors;
use sha2::{Digest, Sha256};

type Small = (Dense<4, 3>, Dense<3, 2>);

/// The setting `error` reports, if it is [`PersistError::Setting`].
fn setting(error: &PersistError) -> Option<InvalidSetting> {
    match error {
        PersistError::Setting { source, .. } => Some(*source),
        _ => None,
    }
}

/// `bytes` (a file `mimic` wrote) with the metadata entries `changes` and a
/// checksum that matches them, as `mimic` computes it: a file only a forger
/// (or another version) could write, which the checksum cannot catch.
fn forge(bytes: &[u8], changes: &[(&str, &str)]) -> Vec<u8> {
    let file = SafeTensors::deserialize(bytes).unwrap();
    let (_, header) = SafeTensors::read_metadata(bytes).unwrap();
    let mut metadata: BTreeMap<String, String> =
        header.metadata().clone().unwrap().into_iter().collect();
    for (key, value) in changes {
        metadata.insert(key.to_string(), value.to_string());
    }
    metadata.remove("checksum");
    let mut tensors = file.tensors();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let mut hash = Sha256::new();
    for (name, view) in &tensors {
        hash.update(name.as_bytes());
        hash.update([0]);
        for &d in view.shape() {
            hash.update((d as u64).to_le_bytes());
        }
        hash.update((view.data().len() as u64).to_le_bytes());
        hash.update(view.data());
    }
    for (key, value) in &metadata {
        hash.update((key.len() as u64).to_le_bytes());
        hash.update(key.as_bytes());
        hash.update((value.len() as u64).to_le_bytes());
        hash.update(value.as_bytes());
    }
    let sum: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    metadata.insert("checksum".into(), sum);
    safetensors::serialize(
        tensors,
        Some(metadata.into_iter().collect::<HashMap<_, _>>()),
    )
    .unwrap()
}

#[test]
fn a_forged_file_with_valid_settings_loads() {
    let net: Network<Small, Distillation> = Network::seeded(2, Distillation::new(4.0, 0.5));
    let bytes = persist::to_bytes(&net, None).unwrap();
    let again = forge(&bytes, &[("loss.temperature", "2")]);
    let loaded: Network<Small, Distillation> = persist::from_bytes(&again, "forged").unwrap();
    assert_eq!(loaded.loss, Distillation::new(2.0, 0.5));
}

/// `load` refuses a distillation with temperature 0 or NaN, or a negative or
/// too large α, and label smoothing of 1 or more, even with a valid checksum:
/// the loss's own predicate decides.
#[test]
fn load_refuses_loss_settings_out_of_range() {
    let net: Network<Small, Distillation> = Network::seeded(2, Distillation::new(4.0, 0.5));
    let bytes = persist::to_bytes(&net, None).unwrap();
    for (key, value, name) in [
        ("loss.temperature", "0", "temperature"),
        ("loss.temperature", "NaN", "temperature"),
        ("loss.temperature", "-inf", "temperature"),
        ("loss.alpha", "-0.5", "alpha"),
        ("loss.alpha", "1.5", "alpha"),
    ] {
        let forged = forge(&bytes, &[(key, value)]);
        let error = persist::from_bytes::<Small, Distillation>(&forged, "kd").unwrap_err();
        assert_eq!(
            setting(&error).map(|s| s.name),
            Some(name),
            "{key}={value}: {error:?}"
        );
        assert_eq!(
            error.to_string(),
            "kd: a setting of the network is out of range"
        );
    }
    let smooth: Network<Small, LabelSmoothing> = Network::seeded(2, LabelSmoothing::new(0.1));
    let bytes = persist::to_bytes(&smooth, None).unwrap();
    for value in ["1", "-0.1", "NaN"] {
        let forged = forge(&bytes, &[("loss.epsilon", value)]);
        let error = persist::from_bytes::<Small, LabelSmoothing>(&forged, "ls").unwrap_err();
        assert_eq!(
            setting(&error).map(|s| s.name),
            Some("label smoothing"),
            "{value}"
        );
    }
}

/// `save` refuses what `load` would: NaN or infinite weights, label smoothing
/// out of `[0, 1)`, a distillation out of range, a slope out of `[0, 1)`.
/// Nothing is written.
#[test]
fn save_refuses_what_load_would() {
    let dir = std::env::temp_dir().join(format!("mimic-save-refuses-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");

    let mut nan: Network<Small, CrossEntropy> = Network::seeded(1, CrossEntropy);
    nan.layers.1.bias_mut()[0] = f32::NAN;
    let error = persist::save(&nan, &path, None).unwrap_err();
    assert!(matches!(error, PersistError::NotFinite { .. }), "{error:?}");
    assert!(
        error.to_string().starts_with(&path.display().to_string()),
        "{error}"
    );

    for epsilon in [1.0, 1.5, -0.1] {
        let net: Network<Small, _> = Network::seeded(1, LabelSmoothing::new(epsilon));
        let error = persist::save(&net, &path, None).unwrap_err();
        assert_eq!(setting(&error).map(|s| s.name), Some("label smoothing"));
    }
    for kd in [Distillation::new(0.0, 0.5), Distillation::new(4.0, -1.0)] {
        let net: Network<Small, _> = Network::seeded(1, kd);
        assert!(setting(&persist::save(&net, &path, None).unwrap_err()).is_some());
    }
    for slope in [-5.0, 1.0, f32::NAN] {
        let mut net: Network<Small, CrossEntropy> = Network::seeded(1, CrossEntropy);
        net.layers.0.set_activation(LeakyReLU::new(slope));
        let error = persist::to_bytes(&net, None).unwrap_err();
        assert_eq!(
            setting(&error).map(|s| s.name),
            Some("LeakyReLU slope"),
            "{slope}"
        );
    }
    assert!(!path.exists(), "nothing was written");
    std::fs::remove_dir_all(&dir).ok();
}
