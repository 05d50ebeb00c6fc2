//! A process held through a Windows process handle: what `kill` pins, re-checks, terminates and
//! waits on. `OpenProcess` with `PROCESS_TERMINATE | PROCESS_QUERY_LIMITED_INFORMATION |
//! SYNCHRONIZE` is Windows' pidfd: while the handle is open the process object stays, so its pid
//! cannot be given to another process, and terminating through the handle can only reach it.
//!
//! A process's identity is its creation time (`GetProcessTimes`, 100 ns units since 1601), read
//! on the handle. Windows has no signals: every [`Signal`] ends the process with
//! `TerminateProcess` (exit code 1), which gives it no chance to clean up, like SIGKILL.

use std::io;
use std::time::Duration;

use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_ACCESS_DENIED, ERROR_INVALID_PARAMETER, FILETIME, HANDLE, WAIT_FAILED,
    WAIT_OBJECT_0,
};
use windows_sys::Win32::System::Threading::{
    GetProcessTimes, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE,
    PROCESS_TERMINATE, TerminateProcess, WaitForMultipleObjects, WaitForSingleObject,
};

use crate::model::{ProcIdentity, Signal, SignalError};

/// The exit code a terminated process gets (as `taskkill /F` gives).
const EXIT_CODE: u32 = 1;

/// `WaitForMultipleObjects` waits on at most this many handles at once.
const MAXIMUM_WAIT_OBJECTS: usize = 64;

/// An open process handle, closed on drop.
#[derive(Debug)]
pub struct Handle(HANDLE);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle was returned by OpenProcess and is closed exactly once, here.
        unsafe { CloseHandle(self.0) };
    }
}

/// What an OS error of `OpenProcess`/`TerminateProcess` means to `kill`.
fn error(e: &io::Error) -> SignalError {
    match e.raw_os_error().and_then(|n| u32::try_from(n).ok()) {
        // OpenProcess answers ERROR_INVALID_PARAMETER for a pid no process has.
        Some(ERROR_INVALID_PARAMETER) => SignalError::Gone,
        Some(ERROR_ACCESS_DENIED) => SignalError::NotPermitted(e.to_string()),
        _ => SignalError::Other(e.to_string()),
    }
}

impl Handle {
    /// Open `pid` for terminating, querying and waiting.
    ///
    /// # Errors
    /// [`SignalError::Gone`] when no process has this pid, [`SignalError::NotPermitted`] when
    /// access is denied (another user's process without elevation, a protected process).
    pub fn open(pid: u32) -> Result<Handle, SignalError> {
        let access = PROCESS_TERMINATE | PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_SYNCHRONIZE;
        // SAFETY: plain call; the result is checked before it is wrapped.
        let h = unsafe { OpenProcess(access, 0, pid) };
        if h.is_null() {
            return Err(error(&io::Error::last_os_error()));
        }
        Ok(Handle(h))
    }

    /// The process's creation time in 100 ns units since 1601, `None` when it cannot be read.
    #[must_use]
    pub fn creation_time(&self) -> Option<u64> {
        let zero = FILETIME {
            dwLowDateTime: 0,
            dwHighDateTime: 0,
        };
        let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
        // SAFETY: the handle is open with PROCESS_QUERY_LIMITED_INFORMATION; the four
        // out-pointers are live FILETIMEs.
        let ok = unsafe {
            GetProcessTimes(
                self.0,
                &raw mut created,
                &raw mut exited,
                &raw mut kernel,
                &raw mut user,
            )
        };
        let t = (u64::from(created.dwHighDateTime) << 32) | u64::from(created.dwLowDateTime);
        (ok != 0 && t != 0).then_some(t)
    }

    /// End the process (every signal maps to `TerminateProcess`, see the module documentation).
    ///
    /// # Errors
    /// [`SignalError::Gone`] when it has exited already, [`SignalError::NotPermitted`] when
    /// access is denied.
    pub fn send(&self, _signal: Signal) -> Result<(), SignalError> {
        if self.exited().unwrap_or(false) {
            return Err(SignalError::Gone);
        }
        // SAFETY: the handle is open with PROCESS_TERMINATE.
        if unsafe { TerminateProcess(self.0, EXIT_CODE) } == 0 {
            return Err(error(&io::Error::last_os_error()));
        }
        Ok(())
    }

    /// True when the process has exited (its handle is signalled).
    ///
    /// # Errors
    /// When waiting fails.
    pub fn exited(&self) -> io::Result<bool> {
        // SAFETY: the handle is open with SYNCHRONIZE; a zero timeout only polls.
        match unsafe { WaitForSingleObject(self.0, 0) } {
            WAIT_OBJECT_0 => Ok(true),
            WAIT_FAILED => Err(io::Error::last_os_error()),
            _ => Ok(false),
        }
    }
}

/// Who `pid` is: its creation time, read on a handle opened for the purpose (all `None` when it
/// cannot be opened). While `kill` holds a [`Handle`] of the same pid, this names the same
/// process, since the pid cannot be reused before every handle is closed.
#[must_use]
pub fn identity(pid: u32) -> ProcIdentity {
    ProcIdentity {
        ns: None,
        ns_pid: None,
        start_ticks: Handle::open(pid).ok().and_then(|h| h.creation_time()),
    }
}

/// Wait until one of `handles` exits or `timeout` passes; then report which have exited.
///
/// # Errors
/// When waiting fails.
pub fn wait_exit(handles: &[Handle], timeout: Duration) -> io::Result<Vec<bool>> {
    if let Some(chunk) = handles.get(..handles.len().min(MAXIMUM_WAIT_OBJECTS)) {
        if !chunk.is_empty() {
            let raw: Vec<HANDLE> = chunk.iter().map(|h| h.0).collect();
            let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX - 1);
            let n = u32::try_from(raw.len()).unwrap_or(0);
            // SAFETY: `raw` holds `n` (at most 64) open handles with SYNCHRONIZE, alive for the
            // call; bWaitAll = FALSE returns on the first exit.
            if unsafe { WaitForMultipleObjects(n, raw.as_ptr(), 0, ms) } == WAIT_FAILED {
                return Err(io::Error::last_os_error());
            }
        }
    }
    handles.iter().map(Handle::exited).collect()
}
