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

/// True when the effective uid is 0.
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
