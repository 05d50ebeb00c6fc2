//! Pinning processes with pidfds (Linux 5.3 and later), for `portscope kill`: [`Pidfd::open`]
//! pins the process a pid names at that moment, so a signal sent through it ([`Pidfd::send`])
//! reaches that process or fails with ESRCH, and never a later process that reuses the pid; its
//! exit is awaited through the same descriptor ([`wait_exit`]). Where pidfds do not exist (older
//! kernels, a seccomp filter that blocks them) [`Pidfd::open`] says so and the caller falls back
//! to kill(2) (`collect::unix::signal`).
//!
//! Callers decide whom to signal (see `analyze::kill`); this module only pins and delivers. It
//! must never signal a pid it was not given, nor process groups (`pid <= 0`).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use crate::collect::unix::signal::{self, positive};
use crate::model::{Signal, SignalError};

/// A process pinned by a pidfd: signals sent through it reach only that process.
#[derive(Debug)]
pub struct Pidfd {
    fd: OwnedFd,
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the tests only"))]
    pid: u32,
}

/// True when a `pidfd_open` error means "no pidfds here" rather than a fact about the process:
/// ENOSYS (kernel before 5.3, or a seccomp filter answering ENOSYS) and EPERM (older container
/// seccomp profiles answer EPERM for syscalls they do not know; pidfd_open itself needs no
/// permission).
#[must_use]
pub(crate) fn pidfd_unsupported(errno: i32) -> bool {
    errno == libc::ENOSYS || errno == libc::EPERM
}

impl Pidfd {
    /// Open a pidfd for `pid` (a pid of portscope's own PID namespace). `Ok(None)` when pidfds
    /// are not available (ENOSYS, or EPERM from a seccomp filter): the caller falls back to
    /// kill(2).
    ///
    /// # Errors
    /// ESRCH when no process has this pid; EINVAL for pid 0 or one that does not fit a
    /// `pid_t`; EMFILE and the like.
    pub(crate) fn open(pid: u32) -> io::Result<Option<Pidfd>> {
        let raw = positive(pid)?;
        // SAFETY: pidfd_open(pid, 0) takes two integers and returns a new descriptor or -1.
        let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, raw, 0) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(errno) if pidfd_unsupported(errno) => Ok(None),
                _ => Err(err),
            };
        }
        let fd = i32::try_from(rc).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
        // SAFETY: the kernel just returned this descriptor (O_CLOEXEC is implied for pidfds);
        // nobody else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Some(Pidfd { fd, pid }))
    }

    /// The pid this pidfd was opened for.
    #[cfg(test)]
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Send `signal` to the pinned process, as this system numbers it.
    ///
    /// # Errors
    /// [`SignalError::Gone`] when it has exited (and was reaped),
    /// [`SignalError::NotPermitted`] when not permitted.
    pub fn send(&self, signal: Signal) -> Result<(), SignalError> {
        self.send_number(signal::number(signal))
            .map_err(|e| signal::error(&e))
    }

    /// Send the signal numbered `signal` to the pinned process.
    ///
    /// # Errors
    /// ESRCH when it has exited (and was reaped), EPERM when not permitted.
    fn send_number(&self, signal: i32) -> io::Result<()> {
        // SAFETY: pidfd_send_signal(fd, sig, NULL, 0): a valid pidfd, no siginfo, no flags.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.fd.as_raw_fd(),
                signal,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// True when the pinned process has exited (a pidfd becomes readable then).
    ///
    /// # Errors
    /// When poll(2) fails.
    pub fn exited(&self) -> io::Result<bool> {
        Ok(wait_exit(std::slice::from_ref(self), Duration::ZERO)?[0])
    }
}

/// Wait until one of `pidfds` exits or `timeout` passes; return which have exited. An
/// interrupted wait returns early with what is known (nothing exited).
///
/// # Errors
/// When poll(2) fails otherwise.
pub(crate) fn wait_exit(pidfds: &[Pidfd], timeout: Duration) -> io::Result<Vec<bool>> {
    let mut fds: Vec<libc::pollfd> = pidfds
        .iter()
        .map(|p| libc::pollfd {
            fd: p.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    let count = libc::nfds_t::try_from(fds.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: `fds` is a live array of `count` pollfd structs for the duration of the call.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), count, ms) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![false; fds.len()]);
        }
        return Err(err);
    }
    Ok(fds.iter().map(|f| f.revents != 0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn refuses_group_pids() {
        assert_eq!(
            Pidfd::open(0).unwrap_err().raw_os_error(),
            Some(libc::EINVAL)
        );
    }

    #[test]
    fn unsupported_errors() {
        for (errno, want) in [
            (libc::ENOSYS, true),
            (libc::EPERM, true),
            (libc::ESRCH, false),
            (libc::EINVAL, false),
            (libc::EMFILE, false),
        ] {
            assert_eq!(pidfd_unsupported(errno), want, "errno {errno}");
        }
    }

    /// A child signalled through its pidfd exits, and the pidfd says so.
    #[test]
    fn pidfd_signals_and_sees_exit() {
        let mut child = Command::new("sleep").arg("60").spawn().unwrap();
        let pidfd = Pidfd::open(child.id())
            .unwrap()
            .expect("pidfds on this kernel");
        assert_eq!(pidfd.pid(), child.id());
        assert!(!pidfd.exited().unwrap());
        pidfd.send(Signal::Term).unwrap();
        let exited = wait_exit(std::slice::from_ref(&pidfd), Duration::from_secs(10)).unwrap();
        assert_eq!(exited, vec![true]);
        assert!(pidfd.exited().unwrap());
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGTERM)
        );
        // Reaped: its pidfd can no longer signal anything, whoever gets the pid next.
        assert_eq!(pidfd.send(Signal::Term), Err(SignalError::Gone));
        assert_eq!(
            pidfd.send_number(libc::SIGTERM).unwrap_err().raw_os_error(),
            Some(libc::ESRCH)
        );
    }
}
