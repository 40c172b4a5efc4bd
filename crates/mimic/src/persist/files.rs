//! Writing files atomically, alone or several together: what [`save`](super::save)
//! and the programs' outputs share.
//!
//! Every write goes to a temporary file beside its destination, with a name
//! unique to the process and the call (process id and a counter, created with
//! `create_new`, so never shared with another writer nor written through
//! something that appeared under its name), short whatever the destination's
//! name is, with the permission bits of the file it replaces (a 0600 file stays
//! 0600), flushed to disk and then renamed over the destination.

use std::fs::{File, Permissions};
use std::io::{Error, ErrorKind, Write};
use std::path::{Path, PathBuf};

/// Whether `path` may be written: its directory exists and is writable, and
/// `path` is absent or a regular file. A symbolic link, a directory, a device
/// or a FIFO is refused (never replaced), so writing to `/dev/null` or through
/// a link is an error rather than a silent replacement. Call it before long
/// work to fail early.
pub fn check_writable(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_file() => {}
        Ok(meta) => {
            let what = if meta.file_type().is_symlink() {
                "a symbolic link"
            } else if meta.is_dir() {
                "a directory"
            } else {
                "not a regular file"
            };
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{what}: refusing to replace it (expected a regular file or a new name)"),
            ));
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let parent = directory_of(path);
    if !parent.is_dir() {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!("the directory {} does not exist", parent.display()),
        ));
    }
    // Writable: the only sure test is to create a file there (removed at once),
    // named as a write's temporary would be.
    let probe = unique_temporary(path);
    File::options().write(true).create_new(true).open(&probe)?;
    std::fs::remove_file(&probe)
}

/// Refuses two of `paths` that name the same file — the same name, or two
/// names of one existing file (a hard link, `./a` and `a`, a path through a
/// symbolic link to a directory) — so that one run's outputs never replace
/// each other. The error names both paths.
///
/// ```
/// use std::path::Path;
/// use mimic::persist::check_distinct;
///
/// let dir = std::env::temp_dir();
/// assert!(check_distinct(&[&dir.join("a.json"), &dir.join("b.json")]).is_ok());
/// assert!(check_distinct(&[&dir.join("a.json"), &dir.join(".").join("a.json")]).is_err());
/// ```
pub fn check_distinct(paths: &[&Path]) -> std::io::Result<()> {
    let identities: Vec<Identity> = paths.iter().map(|p| identity(p)).collect();
    for (j, b) in identities.iter().enumerate() {
        if let Some(i) = identities[..j].iter().position(|a| a == b) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "{} and {} are the same file: each output needs its own",
                    paths[i].display(),
                    paths[j].display()
                ),
            ));
        }
    }
    Ok(())
}

/// What tells files apart: the device and inode of one that exists, else its
/// directory (resolved) and name.
#[derive(PartialEq)]
enum Identity {
    Existing(u64, u64),
    Named(PathBuf, std::ffi::OsString),
    Unknown(PathBuf),
}

fn identity(path: &Path) -> Identity {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::MetadataExt;
        return Identity::Existing(meta.dev(), meta.ino());
    }
    let directory = directory_of(path);
    match (directory.canonicalize(), path.file_name()) {
        (Ok(directory), Some(name)) => Identity::Named(directory, name.to_owned()),
        _ => Identity::Unknown(path.to_path_buf()),
    }
}

/// Writes `bytes` to `path` atomically: a crash or an error leaves the old file
/// or the new one, never part of one, and the temporary file is removed if
/// anything fails. Anything but a regular file at `path` is refused, never
/// replaced ([`check_writable`]); a replaced file's permission bits are kept.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_together(&[(path, bytes)])
}

/// Writes several files as one: each to its own temporary file first, and only
/// when every one is written and flushed are they renamed over their
/// destinations. If a rename fails, the files already renamed are put back as
/// they were (the replaced files are kept under temporary names until the end),
/// so the destinations are either all new or all as before. Two destinations
/// naming the same file are refused ([`check_distinct`]), as is anything but a
/// regular file at a destination; replaced files keep their permission bits.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("mimic-together-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let (rust, c) = (dir.join("net.rs"), dir.join("net.h"));
/// mimic::persist::write_together(&[(&rust, b"// Rust"), (&c, b"/* C */")])?;
/// assert_eq!(std::fs::read(&c)?, b"/* C */");
/// assert!(mimic::persist::write_together(&[(&rust, b"a"), (&rust, b"b")]).is_err());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_together(files: &[(&Path, &[u8])]) -> std::io::Result<()> {
    let paths: Vec<&Path> = files.iter().map(|&(p, _)| p).collect();
    check_distinct(&paths)?;
    for path in &paths {
        check_writable(path)?;
    }
    let mut written: Vec<PathBuf> = Vec::with_capacity(files.len());
    let result = (|| {
        for &(path, bytes) in files {
            let temporary = unique_temporary(path);
            write_new(&temporary, bytes, kept_permissions(path)?).inspect_err(|_| {
                let _ = std::fs::remove_file(&temporary);
            })?;
            written.push(temporary);
        }
        rename_all(&paths, &written)
    })();
    if result.is_err() {
        for temporary in &written {
            let _ = std::fs::remove_file(temporary);
        }
    }
    result
}

/// Creates `path` (which must not exist), with `permissions` if given, writes
/// `bytes` and flushes them to disk.
fn write_new(path: &Path, bytes: &[u8], permissions: Option<Permissions>) -> std::io::Result<()> {
    let mut file = File::options().write(true).create_new(true).open(path)?;
    if let Some(permissions) = permissions {
        // Before the data: a private file's contents are never readable by others.
        file.set_permissions(permissions)?;
    }
    file.write_all(bytes)?;
    file.sync_all()
}

/// The permission bits of the regular file at `path`, if there is one.
fn kept_permissions(path: &Path) -> std::io::Result<Option<Permissions>> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => Ok(Some(meta.permissions())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Renames each of `temporaries` over its destination in `paths`. With more
/// than one, each destination that exists is first linked to a backup name; if
/// a rename fails, the destinations renamed so far get their backups back (or
/// are removed, if they did not exist), and the error is returned.
fn rename_all(paths: &[&Path], temporaries: &[PathBuf]) -> std::io::Result<()> {
    if let ([path], [temporary]) = (paths, temporaries) {
        return std::fs::rename(temporary, path);
    }
    let mut backups: Vec<Option<PathBuf>> = Vec::with_capacity(paths.len());
    let result = (|| {
        for path in paths {
            let backup = unique_temporary(path);
            match std::fs::hard_link(path, &backup) {
                Ok(()) => backups.push(Some(backup)),
                Err(e) if e.kind() == ErrorKind::NotFound => backups.push(None),
                Err(e) => return Err(e),
            }
        }
        for (k, (path, temporary)) in paths.iter().zip(temporaries).enumerate() {
            if let Err(e) = std::fs::rename(temporary, path) {
                for (path, backup) in paths[..k].iter().zip(&backups) {
                    match backup {
                        Some(backup) => {
                            let _ = std::fs::rename(backup, path);
                        }
                        None => {
                            let _ = std::fs::remove_file(path);
                        }
                    }
                }
                return Err(e);
            }
        }
        Ok(())
    })();
    for backup in backups.iter().flatten() {
        let _ = std::fs::remove_file(backup);
    }
    result
}

/// The directory `path` is in (`.` for a bare name).
fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A name for a temporary file beside `path`, unique in this process (process
/// id and a counter) and short whatever `path`'s own name is: writes from many
/// threads never share one, and a file name near the system's limit does not
/// make the temporary's name too long after the work is done.
pub(crate) fn unique_temporary(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".mimic-{}-{n}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mimic-files-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A failed rename of the second file puts the first back: both
    /// destinations are as before, and no temporary or backup is left.
    #[test]
    fn a_failed_rename_puts_back_what_was_renamed() {
        let dir = scratch("rollback");
        let (first, second) = (dir.join("net.rs"), dir.join("net.h"));
        std::fs::write(&first, b"old rust").unwrap();
        std::fs::write(&second, b"old c").unwrap();
        let temporaries = [unique_temporary(&first), dir.join("missing.tmp")];
        std::fs::write(&temporaries[0], b"new rust").unwrap();
        // The second temporary does not exist: its rename fails.
        assert!(rename_all(&[&first, &second], &temporaries).is_err());
        assert_eq!(std::fs::read(&first).unwrap(), b"old rust");
        assert_eq!(std::fs::read(&second).unwrap(), b"old c");
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".mimic-"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
