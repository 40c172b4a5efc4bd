//! Saving and loading networks: exact round trips, and a clear error for every
//! kind of damage.
#![cfg(feature = "persist")]

use mimic::persist::{self, PersistError};
use mimic::{CrossEntropy, Dense, Distillation, Mse, Network, Sigmoid, module::Parameters};

type Teacher = (Dense<784, 16>, Dense<16, 16>, Dense<16, 10>);
type Student = Dense<784, 10>;
use safetensors::tensor::{Dtype, TensorView};

fn bits<P: Parameters>(p: &P) -> Vec<u32> {
    let mut out = Vec::new();
    p.visit(&mut |s| out.extend(s.iter().map(|v| v.to_bits())));
    out
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mimic-persist-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn teacher_and_student_round_trip_bit_for_bit() {
    let dir = scratch("round-trip");
    let teacher: Network<Teacher, CrossEntropy> = Network::seeded(7, CrossEntropy);
    persist::save(&teacher, dir.join("teacher.safetensors"), Some(7)).unwrap();
    let loaded: Network<Teacher, CrossEntropy> =
        persist::load(dir.join("teacher.safetensors")).unwrap();
    assert_eq!(bits(&teacher.layers), bits(&loaded.layers));
    assert_eq!(loaded, teacher);

    let student: Network<Student, Mse> = Network::new(
        Dense::zeros().with_activation(mimic::LeakyReLU::new(0.25)),
        Mse,
    );
    let bytes = persist::to_bytes(&student, None).unwrap();
    let back: Network<Student, Mse> = persist::from_bytes(&bytes, "student").unwrap();
    assert_eq!(
        back.layers.activation().slope,
        0.25,
        "the slope is restored"
    );
    assert_eq!(back, student);
    assert!(
        std::fs::read_dir(&dir).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains(".tmp"))
    );
    std::fs::remove_dir_all(dir).ok();
}

fn small() -> Network<(Dense<4, 3>, Dense<3, 2>), CrossEntropy> {
    Network::seeded(1, CrossEntropy)
}

fn load_small(
    bytes: &[u8],
) -> Result<Network<(Dense<4, 3>, Dense<3, 2>), CrossEntropy>, PersistError> {
    persist::from_bytes(bytes, "small.safetensors")
}

#[test]
fn every_single_bit_flip_is_detected() {
    let bytes = persist::to_bytes(&small(), Some(1)).unwrap();
    assert!(load_small(&bytes).is_ok());
    for bit in 0..bytes.len() * 8 {
        let mut damaged = bytes.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        assert!(
            load_small(&damaged).is_err(),
            "flipping bit {bit} went unnoticed"
        );
    }
}

/// What the documentation promises of a flipped bit, exactly: an error whose
/// message starts with the file's name; a tensor or metadata key is named when
/// the flip breaks its shape, name, kind or range, and most flips — of tensor
/// data, or of a header byte that leaves it well-formed — are a checksum
/// mismatch, which cannot say where the change is.
#[test]
fn every_flip_is_an_error_naming_the_file() {
    let bytes = persist::to_bytes(&small(), Some(1)).unwrap();
    let (mut checksum, mut named) = (0, 0);
    for bit in 0..bytes.len() * 8 {
        let mut damaged = bytes.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        let error = load_small(&damaged).unwrap_err();
        assert!(
            error.to_string().starts_with("small.safetensors: "),
            "bit {bit}: {error}"
        );
        match error {
            PersistError::Checksum { .. } => checksum += 1,
            PersistError::Metadata { .. }
            | PersistError::MissingTensor { .. }
            | PersistError::UnexpectedTensor { .. }
            | PersistError::Dtype { .. }
            | PersistError::Shape { .. }
            | PersistError::Setting { .. }
            | PersistError::NotFinite { .. } => named += 1,
            _ => {}
        }
    }
    assert!(
        checksum > named,
        "{checksum} checksum mismatches, {named} named"
    );
}

#[test]
fn every_truncation_is_detected() {
    let bytes = persist::to_bytes(&small(), None).unwrap();
    for len in 0..bytes.len() {
        assert!(
            load_small(&bytes[..len]).is_err(),
            "truncated to {len} bytes"
        );
    }
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"junk");
    assert!(load_small(&longer).is_err());
}

#[test]
fn a_flipped_data_bit_names_the_checksum() {
    let mut bytes = persist::to_bytes(&small(), None).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x10;
    let error = load_small(&bytes).unwrap_err();
    assert!(matches!(error, PersistError::Checksum { .. }), "{error:?}");
    assert!(
        error.to_string().starts_with(
            "small.safetensors: checksum mismatch, the file was modified or corrupted"
        )
    );
}

#[test]
fn wrong_shape_names_the_tensor_and_both_shapes() {
    let bytes = persist::to_bytes(&small(), None).unwrap();
    let error = persist::from_bytes::<(Dense<4, 3>, Dense<3, 5>), CrossEntropy>(
        &bytes,
        "small.safetensors",
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "small.safetensors: tensor `1.weight` has shape [2, 3], but the network expects [5, 3]"
    );
}

#[test]
fn missing_and_extra_tensors() {
    let bytes = persist::to_bytes(&small(), None).unwrap();
    let error =
        persist::from_bytes::<(Dense<4, 3>, Dense<3, 2>, Dense<2, 2>), CrossEntropy>(&bytes, "m")
            .unwrap_err();
    assert_eq!(error.to_string(), "m: tensor `2.weight` is missing");
    let error = persist::from_bytes::<Dense<4, 3>, CrossEntropy>(&bytes, "m").unwrap_err();
    assert_eq!(
        error.to_string(),
        "m: tensor `1.bias` does not belong to this network"
    );
}

#[test]
fn wrong_activation_and_wrong_loss() {
    let bytes = persist::to_bytes(&small(), None).unwrap();
    let error =
        persist::from_bytes::<(Dense<4, 3, Sigmoid>, Dense<3, 2>), CrossEntropy>(&bytes, "m")
            .unwrap_err();
    assert_eq!(
        error.to_string(),
        "m: metadata `0.activation`: the file has leaky_relu, but the network's layer 0 is sigmoid"
    );
    let error = persist::from_bytes::<(Dense<4, 3>, Dense<3, 2>), Mse>(&bytes, "m").unwrap_err();
    assert_eq!(
        error.to_string(),
        "m: metadata `loss`: the file was trained with CrossEntropy, but loaded with Mse"
    );
}

/// A file written by another tool: plain safetensors, `metadata` as given.
fn foreign(dtype: Dtype, metadata: &[(&str, &str)]) -> Vec<u8> {
    let data = vec![0u8; 4 * 3 * dtype.bitsize() / 8];
    let bias = vec![0u8; 3 * dtype.bitsize() / 8];
    let tensors = vec![
        (
            "0.weight".to_string(),
            TensorView::new(dtype, vec![3, 4], &data).unwrap(),
        ),
        (
            "0.bias".to_string(),
            TensorView::new(dtype, vec![3], &bias).unwrap(),
        ),
    ];
    let metadata = metadata
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    safetensors::serialize(tensors, Some(metadata)).unwrap()
}

#[test]
fn wrong_dtype_and_foreign_files() {
    let mimic_like = [
        ("format", "mimic"),
        ("loss", "CrossEntropy"),
        ("learning_rate", "0.1"),
        ("0.activation", "leaky_relu"),
        ("checksum", "0"),
    ];
    let error =
        persist::from_bytes::<Dense<4, 3>, CrossEntropy>(&foreign(Dtype::F64, &mimic_like), "m")
            .unwrap_err();
    assert_eq!(
        error.to_string(),
        "m: tensor `0.weight` has dtype F64, but the network expects F32"
    );
    let error =
        persist::from_bytes::<Dense<4, 3>, CrossEntropy>(&foreign(Dtype::F32, &mimic_like), "m")
            .unwrap_err();
    assert!(matches!(error, PersistError::Checksum { .. }), "{error:?}");
    let error = persist::from_bytes::<Dense<4, 3>, CrossEntropy>(&foreign(Dtype::F32, &[]), "m")
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "m: metadata `format`: missing: expected a model saved by mimic"
    );
}

#[test]
fn io_errors_name_the_file() {
    let error = persist::load::<Student, Mse>("/nonexistent/model.safetensors").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("/nonexistent/model.safetensors: "),
        "{error}"
    );
    // The cause is the source's to say, not repeated in the error's own text.
    let cause = std::error::Error::source(&error).expect("the I/O error as source");
    assert!(!error.to_string().contains(&cause.to_string()), "{error}");
    let error = persist::save(&small(), "/nonexistent/dir/model.safetensors", None).unwrap_err();
    assert!(matches!(error, PersistError::Io { .. }));
}

#[test]
fn offsets_past_the_end_are_rejected_before_the_parser_sees_them() {
    // data_offsets near u64::MAX overflow the safetensors parser's length sum (a
    // panic where overflow checks are on); mimic refuses them first.
    let header =
        br#"{"0.weight":{"dtype":"F32","shape":[3,4],"data_offsets":[0,18446744073709551615]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&[0; 48]);
    let error = persist::from_bytes::<Dense<4, 3>, CrossEntropy>(&bytes, "evil").unwrap_err();
    assert_eq!(
        error.to_string(),
        "evil: metadata `0.weight`: data offsets beyond the 48 bytes of tensor data in the file"
    );
}

#[test]
fn a_loaded_network_has_the_saved_loss() {
    let dir = scratch("settings");
    let path = dir.join("student.safetensors");
    let student: Network<(Dense<6, 4>, Dense<4, 3>), _> =
        Network::seeded(3, Distillation::new(4.0, 0.5));
    persist::save(&student, &path, None).unwrap();
    let loaded: Network<(Dense<6, 4>, Dense<4, 3>), Distillation> = persist::load(&path).unwrap();
    assert_eq!(loaded, student);
    assert_eq!(loaded.loss, Distillation::new(4.0, 0.5));
    // A boxed network loads too, with the same parameters.
    let boxed: Network<Box<(Dense<6, 4>, Dense<4, 3>)>, Distillation> =
        persist::load(&path).unwrap();
    assert_eq!(bits(&boxed.layers), bits(&student.layers));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_same_network_always_gives_the_same_bytes() {
    let net = small();
    let first = persist::to_bytes(&net, Some(1)).unwrap();
    for _ in 0..20 {
        assert_eq!(persist::to_bytes(&net, Some(1)).unwrap(), first);
    }
    let loaded: Network<(Dense<4, 3>, Dense<3, 2>), CrossEntropy> =
        persist::from_bytes(&first, "first").unwrap();
    assert_eq!(loaded, net);
}

#[cfg(unix)]
#[test]
fn saving_never_replaces_what_is_not_a_regular_file() {
    let dir = scratch("not-regular");
    let target = dir.join("target.bin");
    std::fs::write(&target, b"keep me").unwrap();
    let link = dir.join("link.safetensors");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    for path in [
        link.as_path(),
        dir.as_path(),
        std::path::Path::new("/dev/null"),
    ] {
        let error = persist::save(&small(), path, None).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with(&format!("{}: ", path.display())),
            "{error}"
        );
        let cause = std::error::Error::source(&error).unwrap().to_string();
        assert!(cause.contains("refusing to replace it"), "{cause}");
    }
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
    let missing = dir.join("no/such/dir/model.safetensors");
    assert!(persist::check_writable(&missing).is_err());
    assert!(persist::save(&small(), &missing, None).is_err());
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "no temporary files left: {leftovers:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn non_finite_weights_and_impossible_slopes_are_rejected() {
    let bytes = persist::to_bytes(&small(), None).unwrap();
    // The first weight's 4 bytes sit right after the header; make it NaN.
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut nan = bytes.clone();
    let data = 8 + header;
    nan[data..data + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let error =
        persist::from_bytes::<(Dense<4, 3>, Dense<3, 2>), CrossEntropy>(&nan, "nan").unwrap_err();
    assert!(error.to_string().contains("NaN or infinite"), "{error}");
    let text = String::from_utf8_lossy(&bytes[8..data]).into_owned();
    let negative = text.replace("\"0.slope\":\"0.1\"", "\"0.slope\":\"-5\"");
    assert_ne!(negative, text, "the slope is in the header");
    let mut evil = bytes[..8].to_vec();
    evil.extend_from_slice(negative.as_bytes());
    evil.resize(8 + header, b' ');
    evil.extend_from_slice(&bytes[data..]);
    let error = persist::from_bytes::<(Dense<4, 3>, Dense<3, 2>), CrossEntropy>(&evil, "slope")
        .unwrap_err();
    let PersistError::Setting { source, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(
        source.to_string(),
        "LeakyReLU slope -5: expected a number in [0, 1)"
    );
}

/// Files written by mimic 0.2, whose networks held a learning rate (recorded in
/// the file's metadata), still load: the original program's teacher trained on
/// MNIST with seed 42, saved by `teacher_student --save-teacher` of that version.
#[test]
fn a_file_written_by_mimic_0_2_still_loads() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/teacher-0.2.0.safetensors"
    );
    let loaded: Network<Teacher, CrossEntropy> = persist::load(path).unwrap();
    assert!(loaded.is_finite());
    // Trained, not fresh: its weights are not the seeded initialisation's.
    let fresh: Network<Teacher, CrossEntropy> = Network::seeded(42, CrossEntropy);
    assert_ne!(bits(&loaded.layers), bits(&fresh.layers));
    // A file saved now has the same tensors, and no learning rate.
    let bytes = persist::to_bytes(&loaded, Some(42)).unwrap();
    let again: Network<Teacher, CrossEntropy> = persist::from_bytes(&bytes, "again").unwrap();
    assert_eq!(bits(&again.layers), bits(&loaded.layers));
    assert!(!String::from_utf8_lossy(&bytes).contains("learning_rate"));
    assert!(String::from_utf8_lossy(&std::fs::read(path).unwrap()).contains("\"learning_rate\""));
}

fn load_file(
    path: &std::path::Path,
) -> Result<Network<(Dense<4, 3>, Dense<3, 2>), CrossEntropy>, PersistError> {
    persist::load(path)
}

/// Saves from 4 threads × 500 at once — to one shared path, and to a file of
/// each thread's own in one directory — with a load after every save: no save
/// or load fails, and no load reads a torn file (every load is whole, and is
/// one of the networks saved there). Each save has its own temporary file.
#[test]
fn saves_from_many_threads_never_fail_or_tear() {
    const THREADS: u64 = 4;
    const SAVES: usize = 500;
    let dir = scratch("threads");
    let shared = dir.join("shared.safetensors");
    let networks: Vec<_> = (0..THREADS)
        .map(|t| Network::seeded(t, CrossEntropy))
        .collect();
    let started = std::time::Instant::now();
    let (failures, torn) = std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (dir, shared, networks) = (&dir, &shared, &networks);
                s.spawn(move || {
                    let own = dir.join(format!("own-{t}.safetensors"));
                    let net: &Network<(Dense<4, 3>, Dense<3, 2>), CrossEntropy> =
                        &networks[t as usize];
                    let (mut failures, mut torn) = (Vec::new(), 0usize);
                    for k in 0..SAVES {
                        // Half the saves to the shared path, half to the own one,
                        // each followed by loads of both.
                        let path = if k % 2 == 0 { shared } else { &own };
                        if let Err(e) = persist::save(net, path, Some(t)) {
                            failures.push(format!("save {}: {e}", path.display()));
                        }
                        for path in [shared, &own] {
                            match load_file(path) {
                                Ok(loaded) if networks.contains(&loaded) => {}
                                Ok(_) => torn += 1,
                                // The own file before its first save.
                                Err(PersistError::Io { source, .. })
                                    if source.kind() == std::io::ErrorKind::NotFound => {}
                                Err(
                                    PersistError::Format { .. } | PersistError::Checksum { .. },
                                ) => torn += 1,
                                Err(e) => failures.push(format!("load {}: {e}", path.display())),
                            }
                        }
                    }
                    (failures, torn)
                })
            })
            .collect();
        workers.into_iter().fold((Vec::new(), 0), |(mut f, t), w| {
            let (failures, torn) = w.join().unwrap();
            f.extend(failures);
            (f, t + torn)
        })
    });
    assert!(
        failures.is_empty(),
        "{} failures: {failures:?}",
        failures.len()
    );
    assert_eq!(torn, 0, "torn reads");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    eprintln!(
        "{} saves and {} loads from {THREADS} threads in {:.2} s",
        THREADS as usize * SAVES,
        2 * THREADS as usize * SAVES,
        started.elapsed().as_secs_f64()
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A file name near the system's limit saves: the temporary's name does not
/// grow with it.
#[test]
fn a_long_file_name_saves() {
    let dir = scratch("long-name");
    let path = dir.join(format!("{}.safetensors", "n".repeat(240)));
    persist::save(&small(), &path, None).unwrap();
    load_file(&path).unwrap();
}

/// `load` refuses what is not a regular file before opening it (a FIFO would
/// block until a writer came), and a file larger than the network could be
/// saved as before reading it.
#[test]
fn load_refuses_fifos_and_files_too_large_before_reading() {
    let dir = scratch("kinds");
    #[cfg(unix)]
    {
        let fifo = dir.join("fifo");
        let _ = std::fs::remove_file(&fifo);
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let err = load_file(&fifo).unwrap_err();
            assert!(
                err.to_string().contains("fifo") && matches!(err, PersistError::Io { .. }),
                "{err}"
            );
            let cause = std::error::Error::source(&err).unwrap().to_string();
            assert_eq!(cause, "not a regular file: refusing to read it");
        }
    }
    let large = dir.join("large.safetensors");
    let file = std::fs::File::create(&large).unwrap();
    file.set_len(64 << 30).unwrap(); // 64 GiB, sparse: nothing is written
    let err = load_file(&large).unwrap_err();
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert!(
        cause.starts_with("68719476736 bytes: more than a network of 23 parameters is saved as"),
        "{cause}"
    );
    std::fs::remove_file(&large).unwrap();
}

/// Saving over a model keeps its permission bits: a 0600 file stays 0600 (it
/// used to become 0644, readable by everyone).
#[cfg(unix)]
#[test]
fn resaving_keeps_the_replaced_files_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("mode");
    let path = dir.join("private.safetensors");
    persist::save(&small(), &path, None).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    persist::save(&small(), &path, Some(2)).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    load_file(&path).unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

/// The fuzzer's seeds for `persist_load` (written by `fuzz/seeds.sh`) are
/// files mimic loads, each with its loss: the fuzzer starts from real files.
#[test]
fn the_fuzz_seeds_are_valid_files() {
    use mimic::{LabelSmoothing, persist::StoredLoss};
    let seeds = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/seeds/persist_load");
    fn loads<F: StoredLoss>(dir: &str, name: &str) {
        let path = std::path::Path::new(dir).join(format!("{name}.safetensors"));
        if let Err(e) = persist::load::<(Dense<4, 3>, Dense<3, 2>), F>(&path) {
            panic!("{}: {e:?}", path.display());
        }
    }
    loads::<CrossEntropy>(seeds, "cross-entropy");
    loads::<Mse>(seeds, "mse");
    loads::<LabelSmoothing>(seeds, "label-smoothing");
    loads::<Distillation>(seeds, "distillation");
    persist::load::<Teacher, CrossEntropy>(format!("{seeds}/teacher.safetensors")).unwrap();
}
