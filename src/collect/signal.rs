//! Sending signals to processes (`portscope kill`). The only code in portscope that acts on
//! other processes; callers decide whom to signal (see `analyze::kill::refusal`), this module
//! only delivers.
//!
//! It must never signal a pid it was not given, nor process groups (`pid <= 0`).

use std::io;

/// Send `signal` to `pid`.
///
/// # Errors
/// ESRCH when the process is gone, EPERM when not permitted, EINVAL for a pid that would
/// address a process group or every process (refused here before any call).
pub fn send(pid: u32, signal: i32) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid)
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: kill(2) with a positive pid addresses exactly one process; no memory is shared.
    let rc = unsafe { libc::kill(pid, signal) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
