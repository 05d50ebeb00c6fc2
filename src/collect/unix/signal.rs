//! Signals by pid number through kill(2), shared by the Unix backends: the fallback where a
//! process cannot be pinned first (Linux before 5.3, a seccomp filter that blocks pidfds, other
//! Unix systems). It also maps the model's [`Signal`] to this system's number ([`number`]) and
//! an OS error to the model's [`SignalError`] ([`error`]), so no caller reads an errno. Callers
//! decide whom to signal (`analyze::kill`); this module only delivers.
//!
//! It must never signal process groups or every process: a pid that would address one
//! (`pid <= 0`, or too large for a `pid_t`) is refused before any call.

use std::io;

use crate::model::{Signal, SignalError};

/// This system's number for `signal` (SIGUSR1 is 10 on Linux, 30 on macOS).
#[must_use]
pub(crate) fn number(signal: Signal) -> libc::c_int {
    match signal {
        Signal::Hup => libc::SIGHUP,
        Signal::Int => libc::SIGINT,
        Signal::Quit => libc::SIGQUIT,
        Signal::Kill => libc::SIGKILL,
        Signal::Usr1 => libc::SIGUSR1,
        Signal::Usr2 => libc::SIGUSR2,
        Signal::Term => libc::SIGTERM,
        Signal::Alrm => libc::SIGALRM,
    }
}

/// What an OS error of pinning or signalling means: ESRCH is a process that is gone, EPERM
/// one that may not be signalled, ENOSYS (or an unsupported operation) no support here; the
/// message is the OS's.
#[must_use]
pub(crate) fn error(e: &io::Error) -> SignalError {
    match e.raw_os_error() {
        Some(libc::ESRCH) => SignalError::Gone,
        Some(libc::EPERM) => SignalError::NotPermitted(e.to_string()),
        Some(libc::ENOSYS) => SignalError::Unsupported,
        _ if e.kind() == io::ErrorKind::Unsupported => SignalError::Unsupported,
        _ => SignalError::Other(e.to_string()),
    }
}

/// Send `signal` to `pid` with kill(2), as this system numbers it.
///
/// # Errors
/// [`SignalError::Gone`] when the process is gone, [`SignalError::NotPermitted`] when not
/// permitted, [`SignalError::Other`] for a pid that would address a process group.
pub(crate) fn deliver(pid: u32, signal: Signal) -> Result<(), SignalError> {
    send(pid, number(signal)).map_err(|e| error(&e))
}

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
        assert_eq!(
            deliver(0, Signal::Term),
            Err(SignalError::Other(
                io::Error::from_raw_os_error(libc::EINVAL).to_string()
            ))
        );
    }

    /// On Linux the system's numbers are the model's Linux numbering.
    #[cfg(target_os = "linux")]
    #[test]
    fn linux_numbers_are_the_models() {
        for sig in Signal::ALL {
            assert_eq!(number(sig), libc::c_int::from(sig.linux_number()), "{sig}");
        }
    }

    #[test]
    fn errors_are_typed() {
        let os = |errno| io::Error::from_raw_os_error(errno);
        let cases = [
            (os(libc::ESRCH), SignalError::Gone),
            (
                os(libc::EPERM),
                SignalError::NotPermitted(os(libc::EPERM).to_string()),
            ),
            (os(libc::ENOSYS), SignalError::Unsupported),
            (io::ErrorKind::Unsupported.into(), SignalError::Unsupported),
            (
                os(libc::EINVAL),
                SignalError::Other(os(libc::EINVAL).to_string()),
            ),
            (
                os(libc::EMFILE),
                SignalError::Other(os(libc::EMFILE).to_string()),
            ),
        ];
        for (e, want) in cases {
            assert_eq!(error(&e), want, "{e}");
        }
    }
}
