//! Merging the parts of a sharded study into the runs a single process returns —
//! or refusing, with the part named, when they do not make one study: a part
//! missing or given twice, or parts that differ in version, settings, seeds, data,
//! number of parts or partition.
//!
//! Every run carries its place in the whole study's order ([`super::lanes`]), so
//! the merged list is the parts' runs sorted by it: the list a single process
//! returns, whose report, CSVs and plots are then the same but for timings.

use std::fmt;
use std::path::{Path, PathBuf};

use super::StudyConfig;
use super::part::{self, Part};
use super::search::Run;
use super::shard::Shard;

/// Why parts could not be merged. Every variant names the part file at fault.
#[derive(Debug)]
#[non_exhaustive]
pub enum MergeError {
    /// No part file in any of the directories.
    NoParts {
        /// The directories searched.
        dirs: Vec<PathBuf>,
    },
    /// A directory or part file could not be read.
    Io {
        /// The directory or file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file is not a part file, or is damaged.
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong, and what was expected.
        problem: String,
    },
    /// A part was written by another version of the study's code.
    Version {
        /// The part.
        path: PathBuf,
        /// Its version.
        found: String,
        /// This code's.
        expected: String,
    },
    /// A part differs from the first part in something its results depend on —
    /// the number of parts, a setting (seeds included), the data, the partition —
    /// or from another part that trained the same teacher, in that teacher's bits.
    Mismatch {
        /// The part that differs.
        path: PathBuf,
        /// The part it was compared with.
        first: PathBuf,
        /// What differs.
        what: String,
    },
    /// The same part is given twice.
    Overlap {
        /// The part.
        part: Shard,
        /// Two files that hold it.
        paths: [PathBuf; 2],
    },
    /// A part is not among the files.
    Missing {
        /// The part.
        part: Shard,
        /// The directories searched.
        dirs: Vec<PathBuf>,
    },
}

fn list(dirs: &[PathBuf]) -> String {
    let names: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    names.join(", ")
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeError::NoParts { dirs } => write!(
                f,
                "no part files (part-K-of-N.json.gz, written by --shard K/N) in {}",
                list(dirs)
            ),
            MergeError::Io { path, .. } => write!(f, "{}: cannot read", path.display()),
            MergeError::Malformed { path, problem } => {
                write!(f, "{}: not a usable part: {problem}", path.display())
            }
            MergeError::Version {
                path,
                found,
                expected,
            } => write!(
                f,
                "{}: written by version {found} of the study, expected {expected}: every part must come from the same version",
                path.display()
            ),
            MergeError::Mismatch { path, first, what } => write!(
                f,
                "{}: not part of the same study as {}: {what}",
                path.display(),
                first.display()
            ),
            MergeError::Overlap { part, paths } => write!(
                f,
                "part {part} is given twice: {} and {}",
                paths[0].display(),
                paths[1].display()
            ),
            MergeError::Missing { part, dirs } => write!(
                f,
                "part {part} ({}) is missing: not in {}",
                part.file_name(),
                list(dirs)
            ),
        }
    }
}

impl std::error::Error for MergeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MergeError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A whole study, put together from its parts.
#[derive(Clone, Debug, PartialEq)]
pub struct Merged {
    /// The study's settings; the command line and thread count are the first
    /// part's.
    pub config: StudyConfig,
    /// Every run, in the order a single process returns them.
    pub runs: Vec<Run>,
    /// The test set's classes.
    pub test_classes: Vec<usize>,
    /// The parts' wall times added up, seconds.
    pub seconds: f64,
    /// The part files, part 0 first.
    pub parts: Vec<PathBuf>,
}

/// Whether `name` is a part file's name, `part-K-of-N.json.gz`.
fn is_part(name: &str) -> bool {
    name.strip_prefix("part-")
        .and_then(|rest| rest.strip_suffix(".json.gz"))
        .and_then(|k_of_n| k_of_n.split_once("-of-"))
        .is_some_and(|(k, n)| format!("{k}/{n}").parse::<Shard>().is_ok())
}

/// The part files in `dirs` (every `part-K-of-N.json.gz`), each directory's in
/// the order of their names.
pub fn find(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, MergeError> {
    let mut paths = Vec::new();
    for dir in dirs {
        let io = |source| MergeError::Io {
            path: dir.clone(),
            source,
        };
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            if entry.file_name().to_str().is_some_and(is_part) {
                found.push(entry.path());
            }
        }
        found.sort();
        paths.extend(found);
    }
    Ok(paths)
}

/// Reads every part in `dirs` and merges them ([`merge_parts`]).
pub fn merge(dirs: &[PathBuf]) -> Result<Merged, MergeError> {
    let paths = find(dirs)?;
    let parts = paths
        .into_iter()
        .map(|path| Part::read(&path).map(|part| (path, part)))
        .collect::<Result<Vec<_>, _>>()?;
    merge_parts(parts, dirs)
}

/// Merges `parts` (each with the file it was read from) into one study, after
/// checking that they are every part of one study, each once; `dirs` are where
/// they were looked for (for the error naming a missing part).
pub fn merge_parts(
    mut parts: Vec<(PathBuf, Part)>,
    dirs: &[PathBuf],
) -> Result<Merged, MergeError> {
    let Some((first_path, first)) = parts.first() else {
        return Err(MergeError::NoParts {
            dirs: dirs.to_vec(),
        });
    };
    let mismatch = |path: &Path, what: String| MergeError::Mismatch {
        path: path.to_path_buf(),
        first: first_path.clone(),
        what,
    };
    for (path, part) in &parts {
        let named = path.file_name().and_then(|n| n.to_str());
        if named != Some(&part.shard.file_name()) {
            return Err(MergeError::Malformed {
                path: path.clone(),
                problem: format!(
                    "holds part {}, expected it to be named {}",
                    part.shard,
                    part.shard.file_name()
                ),
            });
        }
        if part.shard.count != first.shard.count {
            return Err(mismatch(
                path,
                format!(
                    "a part of {} parts, the first of {}",
                    part.shard.count, first.shard.count
                ),
            ));
        }
        if let Some(what) = difference(&part.settings, &first.settings) {
            return Err(mismatch(path, format!("different settings: {what}")));
        }
        if part.data != first.data {
            return Err(mismatch(
                path,
                format!(
                    "trained on other MNIST files ({}, the first {})",
                    part.data, first.data
                ),
            ));
        }
        if part.partition != first.partition {
            return Err(mismatch(
                path,
                "divided the study differently (the partition of its lanes differs)".into(),
            ));
        }
    }
    let count = first.shard.count;
    let mut by_index: Vec<Option<usize>> = vec![None; count];
    for (k, (path, part)) in parts.iter().enumerate() {
        if let Some(j) = by_index[part.shard.index] {
            return Err(MergeError::Overlap {
                part: part.shard,
                paths: [parts[j].0.clone(), path.clone()],
            });
        }
        by_index[part.shard.index] = Some(k);
    }
    if let Some(index) = by_index.iter().position(Option::is_none) {
        return Err(MergeError::Missing {
            part: Shard { index, count },
            dirs: dirs.to_vec(),
        });
    }
    // A teacher trained by several parts must be the same bits in each: the
    // partition assumes it (each part's lanes learn from their own copy).
    let mut teachers: Vec<(&part::TeacherPrint, &PathBuf)> = Vec::new();
    for (path, part) in &parts {
        for t in &part.teachers {
            match teachers.iter().find(|(u, _)| u.index == t.index) {
                Some((u, other)) if u.print != t.print => {
                    return Err(MergeError::Mismatch {
                        path: path.clone(),
                        first: (*other).clone(),
                        what: format!(
                            "its copy of the teacher {} has other bits ({} here, {}): another build or machine",
                            t.name, t.print, u.print
                        ),
                    });
                }
                Some(_) => {}
                None => teachers.push((t, path)),
            }
        }
    }
    // Every run must be one its part was given (a lane, or a teacher's row).
    for (path, part) in &parts {
        let share = part.share();
        for (order, run) in &part.runs {
            let ours = match order.lane() {
                Some(lane) => share.lanes.contains(&lane),
                None => order
                    .teacher_index()
                    .is_some_and(|t| share.reports.contains(&t)),
            };
            if !ours {
                return Err(MergeError::Malformed {
                    path: path.clone(),
                    problem: format!(
                        "a run ({} {} {}) the partition gives to another part",
                        run.question, run.arm, run.seed
                    ),
                });
            }
        }
    }

    let first_path = first_path.clone();
    let (command, threads) = (first.command.clone(), first.threads);
    let config = part::config(&first.settings, command, threads).map_err(|problem| {
        MergeError::Malformed {
            path: first_path.clone(),
            problem,
        }
    })?;
    let test_classes = first.test_classes.clone();
    let seconds = parts.iter().map(|(_, p)| p.seconds).sum();
    parts.sort_by_key(|(_, p)| p.shard.index);
    let paths = parts.iter().map(|(path, _)| path.clone()).collect();
    let mut runs: Vec<_> = parts.into_iter().flat_map(|(_, p)| p.runs).collect();
    runs.sort_by_key(|&(order, _)| order);
    Ok(Merged {
        config,
        runs: runs.into_iter().map(|(_, run)| run).collect(),
        test_classes,
        seconds,
        parts: paths,
    })
}

/// The first setting in which `a` differs from `b`, as "seeds: [1,2] here, [1,2,3]
/// in the first part".
fn difference(a: &serde_json::Value, b: &serde_json::Value) -> Option<String> {
    if a == b {
        return None;
    }
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return Some(format!("{a} here, {b} in the first part"));
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter().find_map(|k| {
        let (x, y) = (a.get(k), b.get(k));
        (x != y).then(|| {
            let show = |v: Option<&serde_json::Value>| v.map_or("none".into(), |v| v.to_string());
            format!("{k}: {} here, {} in the first part", show(x), show(y))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_part_files_are_found() {
        for name in ["part-0-of-1.json.gz", "part-12-of-13.json.gz"] {
            assert!(is_part(name), "{name}");
        }
        for name in [
            "part-3-of-3.json.gz",
            "part-0-of-1.json",
            "results.csv",
            "part-a-of-2.json.gz",
            ".part-0-of-1.json.gz.123.tmp",
        ] {
            assert!(!is_part(name), "{name}");
        }
    }

    #[test]
    fn a_different_setting_is_named() {
        let a = serde_json::json!({"seeds": [1, 2], "epochs": 2});
        let b = serde_json::json!({"seeds": [1, 2, 3], "epochs": 2});
        assert_eq!(difference(&a, &a), None);
        assert_eq!(
            difference(&a, &b).unwrap(),
            "seeds: [1,2] here, [1,2,3] in the first part"
        );
    }
}
