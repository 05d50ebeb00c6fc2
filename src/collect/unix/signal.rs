//! Signals by pid number through kill(2), shared by the Unix backends: the fallback where a
//! process cannot be pinned first (Linux before 5.3, a seccomp filter that blocks pidfds, other
//! Unix systems). Callers decide whom to signal (`analyze::kill`); this module only delivers.
//!
//! It must never signal process groups or every process: a pid that would address one
//! (`pid <= 0`, or too large for a `pid_t`) is refused before any call.

use std::io;

/// Send `signal` to `pid` with kill(2).
///
/// # Errors
/// ESRCH when the process is gone, EPERM when not permitted, EINVAL for a pid that would
/// address a process group or every process (refused here before any call).
pub(crate) fn send(pid: u32, signal: i32) -> io::Result<()> {
    let pid = positive(pid)?;
    // SAFETY: kill(2) with a positive pid addresses exactly one process; no memory is shared.
    let rc = unsafe { libc::kill(pid, signal) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `pid` as a positive `pid_t`, or EINVAL.
pub(crate) fn positive(pid: u32) -> io::Result<libc::pid_t> {
    libc::pid_t::try_from(pid)
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_group_pids() {
        assert_eq!(send(0, 0).unwrap_err().raw_os_error(), Some(libc::EINVAL));
        assert_eq!(
            send(u32::MAX, 0).unwrap_err().raw_os_error(),
            Some(libc::EINVAL)
        );
    }
}
