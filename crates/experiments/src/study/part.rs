//! A part file: one shard's runs and everything the merge needs to check and use
//! them, as `part-K-of-N.json.gz` (gzip'd JSON; `zcat … | jq` reads it).
//!
//! Besides the runs (each with its [`Order`], every test prediction, the exact
//! figures), a part records what its runs depend on, so that the merge can refuse
//! parts that do not belong together: the crate's version, every setting of the
//! study but the thread count (results do not depend on it) and the command line,
//! a fingerprint of the MNIST files, the whole partition, and a fingerprint of
//! every teacher it trained. The version alone does not tell two builds of one
//! version apart; the teachers' fingerprints do whenever two parts trained the
//! same teacher to other bits. Numbers that are not integers are written as the
//! shortest decimal that reads back as the same `f64`/`f32` (JSON readers may
//! round a number's last bit; a string is exact), so a merged report is the one a
//! single process writes.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use mimic_mnist::Dataset;
use serde_json::{Map, Value, json};

use super::jobs::Progress;
use super::lanes::{Lane, Order, Stage};
use super::merge::MergeError;
use super::recipe::{Optim, Recipe, Teaching};
use super::score::{Corrected, Scores};
use super::search::{Phase, Run};
use super::shard::{Partition, Shard, Share};
use super::teachers::Teacher;
use super::train::Net;
use super::{StudyConfig, run_share};
use crate::cli::write_atomically;

/// What the first field of every part file says.
pub const FORMAT: &str = "mimic distill_study part, format 3";

/// The version of the code that wrote a part (this crate's).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// One shard's share of a study, as written to and read from its part file.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    /// Which part.
    pub shard: Shard,
    /// The crate version that wrote it.
    pub version: String,
    /// The settings results depend on ([`settings`]).
    pub settings: Value,
    /// A fingerprint of the training and test sets ([`fingerprint`]).
    pub data: String,
    /// Every part's share, as this part computed it.
    pub partition: Partition,
    /// The command line that ran it.
    pub command: String,
    /// Its worker threads.
    pub threads: usize,
    /// Its wall time, seconds.
    pub seconds: f64,
    /// The test set's classes (what the report's bootstrap resamples).
    pub test_classes: Vec<usize>,
    /// Its runs, in the study's order.
    pub runs: Vec<(Order, Run)>,
    /// Every teacher it trained (some of which other parts train too, and
    /// report): its index in the study's list of teachers, what it is, and a
    /// fingerprint of its logits ([`logits_print`]). Parts that trained the same
    /// teacher must agree on it bit for bit.
    pub teachers: Vec<TeacherPrint>,
}

/// A teacher a part trained, for the merge to check against other parts' copies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeacherPrint {
    /// Its index in the study's list of teachers.
    pub index: usize,
    /// Its question, condition and network, for messages.
    pub name: String,
    /// [`logits_print`] of it.
    pub print: String,
}

impl Part {
    /// Runs part `shard` of the study `config` describes (see
    /// [`super::run_share`]); `progress` hears after every run.
    pub fn run(
        train: &Dataset,
        test: &Dataset,
        config: &StudyConfig,
        shard: Shard,
        progress: &mut dyn FnMut(Progress),
    ) -> Self {
        let start = Instant::now();
        let done = run_share(train, test, config, shard, progress);
        Self {
            shard,
            version: VERSION.to_string(),
            settings: settings(config),
            data: fingerprint(train, test),
            partition: done.partition,
            command: config.command.clone(),
            threads: config.threads,
            seconds: start.elapsed().as_secs_f64(),
            test_classes: test.classes(),
            runs: done.runs,
            teachers: done
                .teachers
                .iter()
                .map(|(index, t)| TeacherPrint {
                    index: *index,
                    name: format!(
                        "{} {} {}",
                        t.run.question,
                        t.run.condition,
                        t.run.net.name()
                    )
                    .replace("  ", " "),
                    print: logits_print(t),
                })
                .collect(),
        }
    }

    /// This part's share of the study.
    pub fn share(&self) -> Share {
        self.partition.share(self.shard.index)
    }

    /// Where the part is written in `dir`.
    pub fn path(dir: &Path, shard: Shard) -> PathBuf {
        dir.join(shard.file_name())
    }

    /// Checks, before any work, that the part `shard` can be written into `dir`
    /// (which is created if need be).
    pub fn check(dir: &Path, shard: Shard) -> std::io::Result<()> {
        crate::cli::check_output_dir(dir)?; // a device or file named as such
        let name = shard.file_name();
        mimic::persist::check_writable(&dir.join(&name))
            .map_err(|e| std::io::Error::new(e.kind(), format!("{name}: {e}")))
    }

    /// Writes the part into `dir` atomically; returns its path.
    pub fn write(&self, dir: &Path) -> std::io::Result<PathBuf> {
        Self::check(dir, self.shard)?;
        let json = serde_json::to_vec(&self.to_json()).map_err(std::io::Error::other)?;
        // Gzip's fastest level: a part is an intermediate file, mostly the
        // probabilities' hexadecimal, which no level shrinks much below its bytes.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&json)?;
        let path = Self::path(dir, self.shard);
        write_atomically(&path, &gz.finish()?)?;
        Ok(path)
    }

    /// Reads the part file at `path`: refused if it cannot be read, is not a part
    /// file, is damaged, or was written by another version.
    pub fn read(path: &Path) -> Result<Self, MergeError> {
        let malformed = |problem: String| MergeError::Malformed {
            path: path.to_path_buf(),
            problem,
        };
        let bytes = std::fs::read(path).map_err(|source| MergeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut json)
            .map_err(|e| malformed(format!("expected a gzip'd part file: {e}")))?;
        let value: Value =
            serde_json::from_slice(&json).map_err(|e| malformed(format!("expected JSON: {e}")))?;
        let top = Fields::of(&value, "the part").map_err(malformed)?;
        if top.str("format").ok() != Some(FORMAT) {
            return Err(malformed(format!("expected a part file (\"{FORMAT}\")")));
        }
        let version = top.str("version").map_err(malformed)?;
        if version != VERSION {
            return Err(MergeError::Version {
                path: path.to_path_buf(),
                found: version.to_string(),
                expected: VERSION.to_string(),
            });
        }
        Self::from_json(&top).map_err(malformed)
    }

    fn to_json(&self) -> Value {
        json!({
            "format": FORMAT,
            "version": self.version,
            "shard": self.shard.index,
            "shards": self.shard.count,
            "settings": self.settings,
            "data": self.data,
            "partition": self.partition.shares.iter().map(share_json).collect::<Vec<_>>(),
            "command": self.command,
            "threads": self.threads,
            "seconds": float(self.seconds),
            "test_classes": digits(self.test_classes.iter().map(|&c| c as u8)),
            "runs": self.runs.iter().map(|(o, r)| run_json(o, r)).collect::<Vec<_>>(),
            "teachers": self.teachers.iter().map(|t| json!({
                "index": t.index,
                "name": t.name,
                "logits": t.print,
            })).collect::<Vec<_>>(),
        })
    }

    fn from_json(top: &Fields<'_>) -> Result<Self, String> {
        let shard = Shard {
            index: top.usize("shard")?,
            count: top.usize("shards")?,
        };
        if shard.index >= shard.count {
            return Err(format!("part {shard}: expected K < N"));
        }
        let shares = top
            .array("partition")?
            .iter()
            .map(|s| read_share(&Fields::of(s, "a share of the partition")?))
            .collect::<Result<Vec<_>, _>>()?;
        let runs = top
            .array("runs")?
            .iter()
            .map(|r| read_run(&Fields::of(r, "a run")?))
            .collect::<Result<Vec<_>, _>>()?;
        let test_classes = top
            .str("test_classes")?
            .bytes()
            .map(|b| match b {
                b'0'..=b'9' => Ok(usize::from(b - b'0')),
                _ => Err("test_classes: expected digits".to_string()),
            })
            .collect::<Result<_, _>>()?;
        let teachers = top
            .array("teachers")?
            .iter()
            .map(|t| {
                let t = Fields::of(t, "a teacher")?;
                Ok(TeacherPrint {
                    index: t.usize("index")?,
                    name: t.str("name")?.to_string(),
                    print: t.str("logits")?.to_string(),
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self {
            teachers,
            shard,
            version: top.str("version")?.to_string(),
            settings: top.get("settings")?.clone(),
            data: top.str("data")?.to_string(),
            partition: Partition { shares },
            command: top.str("command")?.to_string(),
            threads: top.usize("threads")?,
            seconds: top.f64("seconds")?,
            test_classes,
            runs,
        })
    }
}

/// The settings of `config` that results depend on: all but the thread count and
/// the command line.
pub fn settings(config: &StudyConfig) -> Value {
    // Every field named, so that a new setting cannot be left out unnoticed.
    let StudyConfig {
        pipelines,
        seeds,
        coarse_seeds,
        selection_seed,
        validation,
        train_limit,
        epochs,
        teacher_epochs,
        cnn_epochs,
        label_budgets,
        noise,
        reference_seeds,
        quick,
        parts,
        threads: _,
        command: _,
    } = config;
    json!({
        "pipelines": pipelines,
        "seeds": seeds,
        "coarse_seeds": coarse_seeds,
        "selection_seed": selection_seed,
        "validation": validation,
        "train_limit": train_limit,
        "epochs": epochs,
        "teacher_epochs": teacher_epochs,
        "cnn_epochs": cnn_epochs,
        "label_budgets": label_budgets,
        "noise": float(*noise),
        "reference_seeds": reference_seeds,
        "quick": quick,
        "parts": parts,
    })
}

/// The study `settings` describe (see [`settings`]), run by `command` on
/// `threads` threads.
pub fn config(settings: &Value, command: String, threads: usize) -> Result<StudyConfig, String> {
    let s = Fields::of(settings, "settings")?;
    let seeds = |key| -> Result<Vec<u64>, String> {
        s.array(key)?
            .iter()
            .map(|v| v.as_u64().ok_or(format!("{key}: expected integers")))
            .collect()
    };
    let train_limit = match s.get("train_limit")? {
        Value::Null => None,
        _ => Some(s.usize("train_limit")?),
    };
    Ok(StudyConfig {
        pipelines: s.usize("pipelines")?,
        seeds: seeds("seeds")?,
        coarse_seeds: seeds("coarse_seeds")?,
        selection_seed: s.u64("selection_seed")?,
        validation: s.usize("validation")?,
        train_limit,
        epochs: s.usize("epochs")?,
        teacher_epochs: s.usize("teacher_epochs")?,
        cnn_epochs: s.usize("cnn_epochs")?,
        label_budgets: seeds("label_budgets")?
            .into_iter()
            .map(|n| n as usize)
            .collect(),
        noise: s.f64("noise")?,
        reference_seeds: seeds("reference_seeds")?,
        quick: s
            .get("quick")?
            .as_bool()
            .ok_or("quick: expected true or false")?,
        parts: s.usize("parts")?,
        threads,
        command,
    })
}

/// A fingerprint of the training and test sets (over their sizes, labels and
/// pixels): parts trained on different files differ in it.
pub fn fingerprint(train: &Dataset, test: &Dataset) -> String {
    let mut hash = Fnv::default();
    for set in [train, test] {
        hash.eat(&(set.len() as u64).to_le_bytes());
        hash.eat(set.labels());
        for image in set.images() {
            hash.eat(image);
        }
    }
    hash.to_string()
}

/// A fingerprint of a teacher's logits on its transfer set and the test set,
/// every bit of every one: two parts' copies of a teacher differ in it unless they
/// are the same teacher (a different build, or a machine whose arithmetic gave
/// other bits, shows here — not only in the version).
pub fn logits_print(teacher: &Teacher) -> String {
    let mut hash = Fnv::default();
    for logits in [&teacher.fit, &teacher.test] {
        hash.eat(&(logits.len() as u64).to_le_bytes());
        for x in logits.iter().flatten() {
            hash.eat(&x.to_bits().to_le_bytes());
        }
    }
    hash.to_string()
}

/// FNV-1a, 64 bits: enough to tell files and logits apart (not a defence
/// against forgery, which parts need none of).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn eat(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

impl std::fmt::Display for Fnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fnv1a64:{:016x}", self.0)
    }
}

fn float(x: f64) -> Value {
    Value::String(x.to_string())
}

fn digits(values: impl Iterator<Item = u8>) -> String {
    values.map(|d| char::from(b'0' + d)).collect()
}

/// Probabilities as the hexadecimal of their little-endian bytes: exact, and
/// gzip takes back most of the doubling.
fn hex_f32(rows: &[[f32; 10]]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(rows.len() * 80);
    for b in rows.iter().flatten().flat_map(|p| p.to_le_bytes()) {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// The inverse of [`hex_f32`].
fn read_hex_f32(text: &str) -> Result<Vec<[f32; 10]>, String> {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err("probabilities: expected lowercase hexadecimal".to_string()),
    };
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(80) {
        return Err("probabilities: expected 80 hexadecimal digits per image".into());
    }
    bytes
        .chunks_exact(80)
        .map(|row| {
            let mut probs = [0.0_f32; 10];
            for (p, digits) in probs.iter_mut().zip(row.chunks_exact(8)) {
                let mut le = [0_u8; 4];
                for (b, pair) in le.iter_mut().zip(digits.chunks_exact(2)) {
                    *b = (nibble(pair[0])? << 4) | nibble(pair[1])?;
                }
                *p = f32::from_le_bytes(le);
            }
            Ok(probs)
        })
        .collect()
}

fn lane_json(l: &Lane) -> Value {
    json!([l.pipeline, l.group, l.cell, l.arm])
}

fn share_json(s: &Share) -> Value {
    json!({
        "lanes": s.lanes.iter().map(lane_json).collect::<Vec<_>>(),
        "trains": s.trains,
        "reports": s.reports,
    })
}

fn read_share(s: &Fields<'_>) -> Result<Share, String> {
    let numbers = |v: &Value, what: &str| -> Result<Vec<usize>, String> {
        v.as_array()
            .ok_or(format!("{what}: expected an array"))?
            .iter()
            .map(|n| {
                n.as_u64()
                    .map(|n| n as usize)
                    .ok_or(format!("{what}: expected integers"))
            })
            .collect()
    };
    let lanes = s
        .array("lanes")?
        .iter()
        .map(|l| match numbers(l, "a lane")?[..] {
            [pipeline, group, cell, arm] => Ok(Lane {
                pipeline,
                group,
                cell,
                arm,
            }),
            _ => Err("a lane: expected [pipeline, group, cell, arm]".to_string()),
        })
        .collect::<Result<_, _>>()?;
    Ok(Share {
        lanes,
        trains: numbers(s.get("trains")?, "trains")?,
        reports: numbers(s.get("reports")?, "reports")?,
    })
}

const STAGES: [Stage; 3] = [Stage::Search, Stage::Widened, Stage::Final];

/// Every question's and method's name, so that a run read back holds the
/// `&'static str`s the report compares against (the round trip of every one is
/// tested by the shard-and-merge test, which runs every question).
const QUESTIONS: [&str; 6] = [
    "seed",
    "compression",
    "label noise",
    "limited labels",
    "omitted class",
    "reference",
];
const METHODS: [&str; 7] = [
    "teacher",
    "direct",
    "kd",
    "kd T=4",
    "mse",
    super::questions::KD_CNN,
    super::search::DIRECT_UNSMOOTHED,
];
const NETS: [Net; 8] = [
    Net::SeedTeacher,
    Net::SeedStudent,
    Net::TeacherLogits,
    Net::Strong,
    Net::Linear,
    Net::Hidden16,
    Net::Hidden32,
    Net::Cnn,
];
const OPTIMS: [Optim; 4] = [
    Optim::SeedSgd,
    Optim::Adam,
    Optim::AdamConstant,
    Optim::AdamConstantFanIn,
];

fn run_json(order: &Order, r: &Run) -> Value {
    let stage = STAGES.iter().position(|&s| s == order.stage).unwrap_or(0);
    let opt = |v: Option<f64>| v.map_or(Value::Null, float);
    let teaching = match r.recipe.teaching {
        Teaching::Labels { smoothing } => json!({"labels": f32_json(smoothing)}),
        Teaching::Kd { temperature, alpha } => {
            json!({"kd": [f32_json(temperature), f32_json(alpha)]})
        }
        Teaching::Mse => json!("mse"),
    };
    let test = r.test.as_ref().map_or(Value::Null, |t| {
        json!({
            "accuracy": float(t.accuracy),
            "predictions": digits(t.predictions.iter().copied()),
            "ece": float(t.ece),
            "nll": float(t.nll),
            "probabilities": hex_f32(&t.probabilities),
            "agreement": opt(t.agreement),
            "kl": opt(t.kl),
            "corrected": t.corrected.map_or(Value::Null, |c| json!({
                "class": c.class,
                "bias": f32_json(c.bias),
                "class_before": float(c.class_before),
                "class_after": float(c.class_after),
                "accuracy_after": float(c.accuracy_after),
            })),
        })
    });
    let phase = match r.phase {
        Phase::Search => "search",
        Phase::Final => "final",
    };
    json!({
        "order": [order.pipeline, order.group, stage, order.cell, order.arm, order.index],
        "question": r.question,
        "condition": r.condition,
        "network": r.net.name(),
        "method": r.arm,
        "teaching": teaching,
        "learning_rate": f32_json(r.recipe.learning_rate),
        "epochs": r.recipe.epochs,
        "optimizer": format!("{:?}", r.recipe.optim),
        "phase": phase,
        "seed": r.seed,
        "validation": opt(r.validation),
        "test": test,
        "seconds": float(r.seconds),
    })
}

fn f32_json(x: f32) -> Value {
    Value::String(x.to_string())
}

fn read_run(r: &Fields<'_>) -> Result<(Order, Run), String> {
    let order = match r
        .array("order")?
        .iter()
        .map(|v| v.as_u64().map(|n| n as usize))
        .collect::<Option<Vec<_>>>()
        .as_deref()
    {
        Some(&[pipeline, group, stage, cell, arm, index]) if stage < STAGES.len() => Order {
            pipeline,
            group,
            stage: STAGES[stage],
            cell,
            arm,
            index,
        },
        _ => return Err("order: expected [pipeline, group, stage, cell, arm, index]".into()),
    };
    let named = |key: &str, names: &[&'static str]| -> Result<&'static str, String> {
        let name = r.str(key)?;
        names
            .iter()
            .copied()
            .find(|&n| n == name)
            .ok_or(format!("{key}: unknown \"{name}\""))
    };
    let network = r.str("network")?;
    let net = NETS
        .into_iter()
        .find(|n| n.name() == network)
        .ok_or(format!("network: unknown \"{network}\""))?;
    let optimizer = r.str("optimizer")?;
    let optim = OPTIMS
        .into_iter()
        .find(|o| format!("{o:?}") == optimizer)
        .ok_or(format!("optimizer: unknown \"{optimizer}\""))?;
    let teaching = match r.get("teaching")? {
        Value::String(s) if s == "mse" => Teaching::Mse,
        t => {
            let t = Fields::of(t, "teaching")?;
            if let Ok(smoothing) = t.f32("labels") {
                Teaching::Labels { smoothing }
            } else {
                match t.array("kd")?.as_slice() {
                    [temperature, alpha] => Teaching::Kd {
                        temperature: parse_f32(temperature, "temperature")?,
                        alpha: parse_f32(alpha, "alpha")?,
                    },
                    _ => return Err("teaching: expected labels, kd or mse".into()),
                }
            }
        }
    };
    let phase = match r.str("phase")? {
        "search" => Phase::Search,
        "final" => Phase::Final,
        other => return Err(format!("phase: unknown \"{other}\"")),
    };
    let test = match r.get("test")? {
        Value::Null => None,
        t => Some(read_scores(&Fields::of(t, "test")?)?),
    };
    Ok((
        order,
        Run {
            pipeline: order.pipeline,
            question: named("question", &QUESTIONS)?,
            condition: r.str("condition")?.to_string(),
            net,
            arm: named("method", &METHODS)?,
            recipe: Recipe {
                teaching,
                learning_rate: r.f32("learning_rate")?,
                epochs: r.usize("epochs")?,
                optim,
            },
            phase,
            seed: r.u64("seed")?,
            validation: r.optional_f64("validation")?,
            test,
            seconds: r.f64("seconds")?,
        },
    ))
}

fn read_scores(t: &Fields<'_>) -> Result<Scores, String> {
    let predictions = t
        .str("predictions")?
        .bytes()
        .map(|b| match b {
            b'0'..=b'9' => Ok(b - b'0'),
            _ => Err("predictions: expected digits".to_string()),
        })
        .collect::<Result<_, _>>()?;
    let corrected = match t.get("corrected")? {
        Value::Null => None,
        c => {
            let c = Fields::of(c, "corrected")?;
            Some(Corrected {
                class: c.usize("class")?,
                bias: c.f32("bias")?,
                class_before: c.f64("class_before")?,
                class_after: c.f64("class_after")?,
                accuracy_after: c.f64("accuracy_after")?,
            })
        }
    };
    Ok(Scores {
        accuracy: t.f64("accuracy")?,
        predictions,
        probabilities: read_hex_f32(t.str("probabilities")?)?,
        ece: t.f64("ece")?,
        nll: t.f64("nll")?,
        agreement: t.optional_f64("agreement")?,
        kl: t.optional_f64("kl")?,
        corrected,
    })
}

fn parse_f32(v: &Value, what: &str) -> Result<f32, String> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .ok_or(format!("{what}: expected a number as a string"))
}

/// A JSON object's fields, read with errors that name the field.
struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    fn of(value: &'a Value, what: &str) -> Result<Self, String> {
        value
            .as_object()
            .map(Fields)
            .ok_or(format!("{what}: expected an object"))
    }

    fn get(&self, key: &str) -> Result<&'a Value, String> {
        self.0.get(key).ok_or(format!("expected a field \"{key}\""))
    }

    fn str(&self, key: &str) -> Result<&'a str, String> {
        self.get(key)?
            .as_str()
            .ok_or(format!("{key}: expected a string"))
    }

    fn array(&self, key: &str) -> Result<&'a Vec<Value>, String> {
        self.get(key)?
            .as_array()
            .ok_or(format!("{key}: expected an array"))
    }

    fn u64(&self, key: &str) -> Result<u64, String> {
        self.get(key)?
            .as_u64()
            .ok_or(format!("{key}: expected a whole number"))
    }

    fn usize(&self, key: &str) -> Result<usize, String> {
        usize::try_from(self.u64(key)?).map_err(|_| format!("{key}: too large"))
    }

    fn f64(&self, key: &str) -> Result<f64, String> {
        self.str(key)?
            .parse()
            .map_err(|_| format!("{key}: expected a number as a string"))
    }

    fn f32(&self, key: &str) -> Result<f32, String> {
        parse_f32(self.get(key)?, key)
    }

    fn optional_f64(&self, key: &str) -> Result<Option<f64>, String> {
        match self.get(key)? {
            Value::Null => Ok(None),
            _ => self.f64(key).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_back_as_the_config_they_came_from() {
        for config in [StudyConfig::default(), StudyConfig::quick()] {
            let back = super::config(&settings(&config), config.command.clone(), config.threads);
            assert_eq!(back, Ok(config));
        }
    }

    #[test]
    fn a_run_reads_back_bit_for_bit() {
        let order = Order {
            pipeline: 3,
            group: 4,
            stage: Stage::Final,
            cell: 0,
            arm: 1,
            index: 2,
        };
        let run = Run {
            pipeline: 3,
            question: "omitted class",
            condition: "no 3s in the transfer set".into(),
            net: Net::Hidden32,
            arm: "kd",
            recipe: Recipe {
                teaching: Teaching::Kd {
                    temperature: 4.0,
                    alpha: 0.5,
                },
                learning_rate: 0.003,
                epochs: 20,
                optim: Optim::Adam,
            },
            phase: Phase::Final,
            seed: 7,
            validation: Some(0.1 + 0.2),
            test: Some(Scores {
                accuracy: 97.123_456_789_012_34,
                predictions: vec![0, 9, 3],
                probabilities: vec![
                    [0.1; 10],
                    [
                        f32::MIN_POSITIVE,
                        1.0,
                        0.0,
                        1e-30,
                        0.5,
                        0.25,
                        0.125,
                        3.0e-8,
                        0.3,
                        0.7,
                    ],
                ],
                ece: 1e-300,
                nll: f64::INFINITY,
                agreement: None,
                kl: Some(std::f64::consts::PI),
                corrected: Some(Corrected {
                    class: 3,
                    bias: 1.25,
                    class_before: 1.0 / 3.0,
                    class_after: 98.6,
                    accuracy_after: 97.0,
                }),
            }),
            seconds: 0.25,
        };
        let value = run_json(&order, &run);
        let back = read_run(&Fields::of(&value, "a run").unwrap()).unwrap();
        assert_eq!(back, (order, run.clone()));
        let searched = Run {
            recipe: Recipe {
                teaching: Teaching::Labels { smoothing: 0.05 },
                ..run.recipe
            },
            phase: Phase::Search,
            validation: None,
            test: None,
            ..run
        };
        let value = run_json(&order, &searched);
        let back = read_run(&Fields::of(&value, "a run").unwrap()).unwrap();
        assert_eq!(back.1, searched);
    }
}
