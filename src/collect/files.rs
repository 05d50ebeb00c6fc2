//! Bounded reads of files that must neither hang nor exhaust memory: every file read under the
//! proc root (`--proc-root` may name any tree, with a FIFO where `PID/stat` should be) and the
//! input files a user names (`audit --allow`, `--baseline`), which are untrusted.
//!
//! A file is opened with `O_NONBLOCK | O_NOCTTY | O_CLOEXEC`, so opening a FIFO or a terminal
//! cannot block or take a controlling terminal; `fstat` on the open file then accepts regular
//! files only (procfs files are regular), and at most `limit + 1` bytes are read, so a file
//! that is, or grows, larger than the limit is refused rather than read to the end. Symbolic
//! links are followed: what counts is the file they lead to (a link to `/dev/zero` is a
//! character device and refused).
//!
//! It must not interpret what it reads.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
#[cfg(unix)]
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Largest allowlist or baseline file accepted: 16 MiB (a 40,000-entry allowlist is ~3 MiB).
pub const INPUT_LIMIT: u64 = 16 << 20;

/// Largest file read under the proc root: 16 MiB. Real procfs files are far smaller (the
/// biggest, a command line, is bounded by the kernel's argument limit, 2 MiB by default).
#[cfg(target_os = "linux")]
pub const PROC_LIMIT: u64 = 16 << 20;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Opening, inspecting or reading the file failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The path leads to something other than a regular file.
    #[error("it is {0}, not a regular file")]
    NotRegular(&'static str),
    /// The file holds more than the limit.
    #[error("it is larger than {}, the most accepted", size_label(*.limit))]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The file is not UTF-8 text.
    #[error("it is not UTF-8 text")]
    NotText,
}

/// Read a regular file of at most `limit` bytes, without blocking on a FIFO or device.
///
/// # Errors
/// [`ReadError::Io`] when it cannot be opened or read, [`ReadError::NotRegular`] when the path
/// (after symbolic links) is a FIFO, device, socket or directory, [`ReadError::TooLarge`] when
/// it holds more than `limit` bytes.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    // Look before opening: opening a device can act by itself (`/dev/watchdog` arms the
    // watchdog) and opening a FIFO releases a writer blocked on it. The type is checked again on
    // the open file below, since the path may change in between.
    let before = std::fs::metadata(path)?;
    if !before.is_file() {
        return Err(ReadError::NotRegular(kind_label(before.file_type())));
    }
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(kind_label(meta.file_type())));
    }
    // procfs reports size 0, so the length is only a hint: the bounded read below decides.
    if meta.len() > limit {
        return Err(ReadError::TooLarge { limit });
    }
    read_bounded(file, limit)
}

fn kind_label(kind: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        } else if kind.is_char_device() {
            return "a character device";
        } else if kind.is_block_device() {
            return "a block device";
        } else if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

fn size_label(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

fn read_bounded(file: File, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut buf = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut buf)?;
    if u64::try_from(buf.len()).unwrap_or(u64::MAX) > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(buf)
}

/// [`read_regular`] for UTF-8 text.
///
/// # Errors
/// As [`read_regular`], and [`ReadError::NotText`] when the bytes are not UTF-8.
pub fn read_regular_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    String::from_utf8(read_regular(path, limit)?).map_err(|_| ReadError::NotText)
}

/// The bytes of a file under the proc root, `None` when it cannot be read as a regular file of
/// at most [`PROC_LIMIT`] bytes (gone, denied, a FIFO or device in a fixture tree, too large):
/// such a file counts as unreadable, like a process that exited.
#[cfg(target_os = "linux")]
#[must_use]
pub fn proc_bytes(path: &Path) -> Option<Vec<u8>> {
    read_regular(path, PROC_LIMIT).ok()
}

/// [`proc_bytes`] as text. Bytes that are not UTF-8 become U+FFFD: a process chooses its own
/// name (`prctl(PR_SET_NAME)`), and a name of arbitrary bytes must not make its `stat` or
/// `status` unreadable (that would make it unkillable and hide its details).
#[cfg(target_os = "linux")]
#[must_use]
pub fn proc_text(path: &Path) -> Option<String> {
    proc_bytes(path).map(|bytes| match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

#[cfg(test)]
#[cfg(target_os = "linux")]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;

    fn mkfifo(path: &Path) {
        let c = CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: `c` is a NUL-terminated path that lives for the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    #[test]
    fn only_bounded_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name);
        std::fs::write(p("ok"), "hello\n").unwrap();
        std::fs::write(p("big"), vec![b'x'; 11]).unwrap();
        std::fs::write(p("bin"), [0xff, 0xfe]).unwrap();
        mkfifo(&p("fifo"));
        std::os::unix::fs::symlink("/dev/zero", p("zero")).unwrap();
        std::os::unix::fs::symlink(p("ok"), p("link")).unwrap();
        std::os::unix::fs::symlink(p("fifo"), p("fifo-link")).unwrap();
        std::os::unix::net::UnixListener::bind(p("sock")).unwrap();

        assert_eq!(read_regular_text(&p("ok"), 10).unwrap(), "hello\n");
        assert_eq!(read_regular_text(&p("link"), 10).unwrap(), "hello\n");
        assert_eq!(read_regular(&p("big"), 11).unwrap().len(), 11);
        let cases: &[(&str, &str)] = &[
            ("fifo", "a FIFO (named pipe), not a regular file"),
            ("fifo-link", "a FIFO (named pipe), not a regular file"),
            ("zero", "a character device, not a regular file"),
            ("", "a directory, not a regular file"),
            ("big", "larger than"),
            ("bin", "not UTF-8"),
            ("sock", "a socket, not a regular file"),
            ("missing", "No such file"),
        ];
        for &(name, want) in cases {
            let err = read_regular_text(&p(name), 10).unwrap_err().to_string();
            assert!(err.contains(want), "{name}: {err}");
        }
        assert!(proc_text(&p("fifo")).is_none());
        assert!(proc_bytes(&p("zero")).is_none());
        assert_eq!(proc_bytes(&p("ok")).unwrap(), b"hello\n");
    }

    /// Review of issue 8: the FIFO was opened before it was rejected, and opening a FIFO for
    /// reading releases a writer blocked on it (opening a device can act by itself). The type is
    /// now checked before anything is opened: a writer waiting on the FIFO stays blocked.
    #[test]
    fn a_fifo_is_rejected_without_being_opened() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        let writer_path = fifo.clone();
        let writer =
            std::thread::spawn(move || std::fs::OpenOptions::new().write(true).open(writer_path));
        // Give the writer time to block in open(2); the assertion below does not depend on it
        // having got there (if it has not, nothing can release it either).
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(matches!(
            read_regular(&fifo, 10),
            Err(ReadError::NotRegular("a FIFO (named pipe)"))
        ));
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(
            !writer.is_finished(),
            "reading the FIFO's type released its writer"
        );
        // Release the writer ourselves.
        let _reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        assert!(writer.join().unwrap().is_ok());
    }

    #[test]
    fn a_file_larger_than_its_size_says_is_cut_at_the_limit() {
        // procfs files report size 0: the read itself must stop after limit + 1 bytes.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![b'x'; 100]).unwrap();
        let file = File::open(&path).unwrap();
        assert!(matches!(
            read_bounded(file, 10),
            Err(ReadError::TooLarge { limit: 10 })
        ));
        assert_eq!(
            ReadError::TooLarge { limit: INPUT_LIMIT }.to_string(),
            "it is larger than 16 MiB, the most accepted"
        );
        let stat = proc_text(Path::new("/proc/self/stat")).unwrap();
        assert!(stat.starts_with(&std::process::id().to_string()));
    }
}
