//! File-system steps that make a write durable and a replacement atomic: a file is complete on disk
//! before its name points at it, and the name change itself is on disk before anyone relies on it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// fsyncs a directory, so that names created, renamed or removed in it survive a power loss.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The temporary name a file is written under before it replaces `path`.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".tmp-{}", std::process::id()));
    parent_dir(path).join(name)
}

/// Moves the complete, fsynced file `tmp` to `path` and fsyncs the directory.
pub fn commit_rename(tmp: &Path, path: &Path) -> io::Result<()> {
    fs::rename(tmp, path)?;
    sync_dir(parent_dir(path))
}

/// Replaces `path` with `contents` atomically: temp file, write, fsync, rename, fsync dir. On failure the
/// old file is untouched and the temp file removed.
pub fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_replacing(path, contents, true)
}

/// [`write_atomically`], with the fsyncs only when `durable`: without them the new contents survive the
/// process crashing (they are in the page cache) but not the machine losing power.
pub fn write_replacing(path: &Path, contents: &[u8], durable: bool) -> io::Result<()> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
        f.write_all(contents)?;
        if durable {
            f.sync_all()?;
        }
        drop(f);
        if durable {
            commit_rename(&tmp, path)
        } else {
            fs::rename(&tmp, path)
        }
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.conf");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(parent_dir(Path::new("a")), Path::new("."));
    }

    #[test]
    fn failed_write_keeps_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/dir/x");
        assert!(write_atomically(&missing, b"x").is_err());
    }
}
