//! What only Windows has, for the netstat2 backend (`collect::netstat2`): processes through
//! handles (`process`: Windows' counterpart of a pidfd), the bind probe with Winsock semantics
//! (`probe`), the excluded port ranges `netsh` lists (`netsh`), and whether portscope runs
//! elevated.
//!
//! Every call into the system is a thin `windows-sys` call with a `// SAFETY:` note; nothing here
//! decides anything.

pub(crate) mod netsh;
pub(crate) mod probe;
pub(crate) mod process;

use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
use windows_sys::Win32::Security::{
    GetTokenInformation, TOKEN_ELEVATION, TOKEN_QUERY, TokenElevation,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// True when portscope runs elevated (as Administrator): the token's elevation flag. Needed to
/// terminate other users' processes and to read some of their details; the socket table names
/// every owner without it.
pub(crate) fn is_elevated() -> bool {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: GetCurrentProcess returns a pseudo-handle that needs no closing; `token` is a
    // live out-pointer.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &raw mut token) } == 0 {
        return false;
    }
    let mut elevation = TOKEN_ELEVATION { TokenIsElevated: 0 };
    let mut len = 0u32;
    let size = u32::try_from(size_of::<TOKEN_ELEVATION>()).unwrap_or(u32::MAX);
    // SAFETY: `token` was opened above with TOKEN_QUERY; the buffer is one TOKEN_ELEVATION of
    // the size passed, and `len` a live out-pointer.
    let ok = unsafe {
        GetTokenInformation(
            token,
            TokenElevation,
            (&raw mut elevation).cast(),
            size,
            &raw mut len,
        )
    };
    // SAFETY: `token` is a handle this function opened and closes once.
    unsafe { CloseHandle(token) };
    ok != 0 && elevation.TokenIsElevated != 0
}
