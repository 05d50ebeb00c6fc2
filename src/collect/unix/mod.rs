//! What the Unix backends share (bottom's `UnixProcessExt`): kill(2), the bind probe, passwd
//! look-ups through NSS, the effective uid and the `/etc/services` text. Linux uses all of it;
//! the netstat2 backend uses it on macOS.
//!
//! Nothing here is specific to one Unix: Linux-only reads (procfs, cgroups, sysctls, pidfds)
//! belong in `collect::linux`.

pub(crate) mod probe;
pub(crate) mod signal;
pub(crate) mod users;

/// The system's services table.
const ETC_SERVICES: &str = "/etc/services";

/// The text of `/etc/services`, `None` when it cannot be read.
pub(crate) fn etc_services() -> Option<String> {
    std::fs::read_to_string(ETC_SERVICES).ok()
}

/// This host's name (`gethostname(2)`: the UTS namespace's), `None` when it cannot be read, is
/// empty or is not terminated within the buffer.
pub(crate) fn hostname() -> Option<String> {
    // POSIX allows 255 bytes (HOST_NAME_MAX); Linux's limit is 64.
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into `buf`, which outlives the call.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0)?;
    let name = String::from_utf8_lossy(&buf[..end]).into_owned();
    (!name.is_empty()).then_some(name)
}

/// True when the effective uid is 0.
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The column count of the terminal on standard output, `None` when it is not a terminal or
/// reports 0 columns. Unlike `terminal_size`, a terminal that reports 0 *rows* (a `script`
/// session, some serial consoles) still has its columns honoured.
pub(crate) fn terminal_columns() -> Option<usize> {
    // SAFETY: TIOCGWINSZ writes one `winsize` into the zeroed struct passed; fd 1 is only read.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &raw mut size) };
    (rc == 0 && size.ws_col > 0).then_some(usize::from(size.ws_col))
}
