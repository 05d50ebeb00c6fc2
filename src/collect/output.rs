//! Files portscope writes: `audit --save-baseline` and `--output` of the listing and the audit. A file is replaced atomically: the text is
//! written to a new temporary file in the same directory, flushed to disk and renamed over the
//! target, so a reader (a CI job comparing against the baseline) sees the old file or the whole
//! new one, never a half-written one, and a full disk leaves the old file as it was.
//!
//! It must not decide what is written (the command serializes; `analyze` builds the record).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Replace `path` with `bytes` atomically (write a temporary file beside it, then rename).
///
/// The temporary file is created exclusively (`O_EXCL`, so an existing file or symbolic link of
/// that name is never written through) and removed again when anything fails. The rename
/// replaces `path` itself: a symbolic link there is replaced by the file, not followed.
///
/// # Errors
/// When the temporary file cannot be created or written (a full disk, no permission in the
/// directory), or the rename fails (`path` is a directory).
pub fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, bytes, None)
}

/// [`replace_file`] for a file another service reads (`--output` for node_exporter's textfile
/// collector, which runs as its own user): the file gets mode 0644 whatever the umask. Off
/// Unix the mode is the system's default.
///
/// # Errors
/// As [`replace_file`], and when the mode cannot be set.
pub fn publish_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, bytes, Some(0o644))
}

fn replace(path: &Path, bytes: &[u8], mode: Option<u32>) -> io::Result<()> {
    let temp = temp_path(path)?;
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        if let Some(mode) = mode {
            set_mode(&file, mode)?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

#[cfg(unix)]
fn set_mode(file: &fs::File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &fs::File, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// `DIR/.NAME.PID.tmp` beside `path`.
fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let mut temp = std::ffi::OsString::from(".");
    temp.push(name);
    temp.push(format!(".{}.tmp", std::process::id()));
    Ok(path.with_file_name(temp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("baseline.json");
        replace_file(&path, b"first, and longer\n").unwrap();
        replace_file(&path, b"second\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second\n");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["baseline.json"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_published_file_is_world_readable_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portscope.prom");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        publish_file(&path, b"new\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new\n");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
    }

    #[test]
    fn a_failed_write_leaves_the_target_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        // A directory cannot be renamed over: the write fails after the temporary was written.
        let target = dir.path().join("taken");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("inside"), "kept").unwrap();
        assert!(replace_file(&target, b"x").is_err());
        assert_eq!(fs::read_to_string(target.join("inside")).unwrap(), "kept");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["taken"]);
        // No directory to write into.
        assert!(replace_file(&dir.path().join("missing/baseline.json"), b"x").is_err());
        assert!(replace_file(Path::new("/"), b"x").is_err());
    }
}
