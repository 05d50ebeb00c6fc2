//! Waiting between two polls of `watch`, and the two things that end the wait early: SIGINT or
//! SIGTERM ([`install_stop_handler`]), and a standard output nobody reads any more (the reader
//! of a pipe exited, as `head -1` does after one line; a terminal hung up).
//!
//! It must not decide what a wake means for the command (exit codes, summaries are the
//! command's), nor print.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Set by the signal handler; read by [`pause`] and [`stop_requested`].
static STOP: AtomicBool = AtomicBool::new(false);

/// Why [`pause`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The deadline passed: poll again.
    Due,
    /// SIGINT or SIGTERM arrived.
    Stop,
    /// Standard output is closed for good: the pipe's reader is gone (`POLLERR`), the terminal
    /// hung up (`POLLHUP`), or descriptor 1 is not open (`POLLNVAL`). Unix only: elsewhere a
    /// closed output is noticed by the next write.
    #[cfg_attr(not(unix), allow(dead_code))]
    OutputClosed,
}

/// Make SIGINT and SIGTERM request a stop instead of ending the process, so `watch` can flush
/// and exit 0. The handler only sets a flag (an atomic store, async-signal-safe); it is
/// installed without `SA_RESTART`, so a wait in progress returns at once, and with
/// `SA_RESETHAND`, so a second signal ends a process stuck in a poll as usual. Off Unix it
/// does nothing (Ctrl-C ends the process).
///
/// # Errors
/// When `sigaction` fails.
pub fn install_stop_handler() -> io::Result<()> {
    #[cfg(unix)]
    {
        extern "C" fn on_signal(_: libc::c_int) {
            STOP.store(true, Ordering::SeqCst);
        }
        for signal in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: sigaction is plain data; all-zero is a valid value to fill in.
            let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESETHAND;
            // SAFETY: `action.sa_mask` is a live sigset_t owned by this frame.
            unsafe { libc::sigemptyset(&raw mut action.sa_mask) };
            // SAFETY: `action` is fully initialised and outlives the call; the old action is
            // not asked for. The handler only performs an atomic store.
            if unsafe { libc::sigaction(signal, &raw const action, std::ptr::null_mut()) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// True once SIGINT or SIGTERM arrived (after [`install_stop_handler`]).
#[must_use]
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Wait until `deadline`, a stop request or a closed standard output, whichever comes first.
/// On Unix this is one `poll` on descriptor 1 asking for no event, so only its error states
/// wake it: no busy loop, and a closed pipe is noticed while nothing is being written.
#[must_use]
pub fn pause(deadline: Instant) -> Wake {
    loop {
        if stop_requested() {
            return Wake::Stop;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        #[cfg(unix)]
        {
            if output_closed(left) {
                return Wake::OutputClosed;
            }
        }
        #[cfg(not(unix))]
        {
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
        if stop_requested() {
            return Wake::Stop;
        }
        if Instant::now() >= deadline {
            return Wake::Due;
        }
    }
}

/// Wait up to `timeout` for descriptor 1 to enter an error state; true when it did. A signal
/// ends the wait early (false).
#[cfg(unix)]
fn output_closed(timeout: Duration) -> bool {
    let mut fds = [libc::pollfd {
        fd: libc::STDOUT_FILENO,
        events: 0,
        revents: 0,
    }];
    // Round up, so a sub-millisecond remainder does not spin.
    let ms = libc::c_int::try_from(timeout.as_micros().div_ceil(1000)).unwrap_or(libc::c_int::MAX);
    // SAFETY: `fds` is a live array of one pollfd for the duration of the call.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), 1, ms) };
    rc > 0 && fds[0].revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_lasts_until_its_deadline() {
        let start = Instant::now();
        let wake = pause(start + Duration::from_millis(30));
        // Under `cargo test` stdout may be a pipe the harness reads: still open.
        assert_eq!(wake, Wake::Due);
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert_eq!(pause(start), Wake::Due, "a past deadline returns at once");
    }
}
