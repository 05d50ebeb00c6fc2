//! uid → user name through the system's user database (NSS: `getpwuid_r`), cached per uid.
//!
//! Not sysinfo's `Users`: it parses `/etc/passwd` itself and drops accounts with uid ≥ 65536 or
//! a `/bin/false` shell, which are exactly the daemon and LDAP accounts that own ports.

use std::collections::HashMap;

/// A per-uid cache of user names. `None` is cached too: a uid without an account.
#[derive(Debug, Default)]
pub struct UserDb {
    cache: HashMap<u32, Option<String>>,
}

impl UserDb {
    /// An empty cache.
    #[must_use]
    pub fn new() -> Self {
        UserDb::default()
    }

    /// The name of `uid`, or `None` when the user database has no entry for it.
    pub fn name(&mut self, uid: u32) -> Option<String> {
        self.cache.entry(uid).or_insert_with(|| lookup(uid)).clone()
    }
}

/// The uid of the account `name` in the system's user database (NSS), `None` when it has none.
#[cfg(unix)]
#[must_use]
pub fn uid_of(name: &str) -> Option<u32> {
    let cname = std::ffi::CString::new(name).ok()?;
    passwd_entry(
        // SAFETY: (inside the closure) the arguments are the live buffers `passwd_entry` passes.
        |pwd, buf, len, result| unsafe { libc::getpwnam_r(cname.as_ptr(), pwd, buf, len, result) },
        |pwd| pwd.pw_uid,
    )
}

/// Without a user database there is no name to resolve.
#[cfg(not(unix))]
#[must_use]
pub fn uid_of(_name: &str) -> Option<u32> {
    None
}

#[cfg(unix)]
fn lookup(uid: u32) -> Option<String> {
    passwd_entry(
        // SAFETY: (inside the closure) the arguments are the live buffers `passwd_entry` passes.
        |pwd, buf, len, result| unsafe { libc::getpwuid_r(uid, pwd, buf, len, result) },
        |pwd| {
            if pwd.pw_name.is_null() {
                return None;
            }
            // SAFETY: on success `pw_name` points to a NUL-terminated string inside the buffer,
            // which is alive while `read` runs.
            let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
            Some(name.to_string_lossy().into_owned())
        },
    )
    .flatten()
}

/// Run one reentrant `getpw*_r` call, growing the string buffer on ERANGE, and read the entry
/// with `read` while the buffer its strings point into is alive.
#[cfg(unix)]
fn passwd_entry<T>(
    call: impl Fn(*mut libc::passwd, *mut libc::c_char, usize, *mut *mut libc::passwd) -> libc::c_int,
    read: impl FnOnce(&libc::passwd) -> T,
) -> Option<T> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: zeroed is a valid bit pattern for `passwd` (pointers null, integers 0); it is
        // only read after the call reports success.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = call(
            &raw mut pwd,
            buf.as_mut_ptr().cast::<libc::c_char>(),
            buf.len(),
            &raw mut result,
        );
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        return (rc == 0 && !result.is_null()).then(|| read(&pwd));
    }
}

#[cfg(not(unix))]
fn lookup(_uid: u32) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_root_and_unknown_is_none() {
        let mut db = UserDb::new();
        assert_eq!(db.name(0).as_deref(), Some("root"));
        assert_eq!(db.name(3_999_999_999), None);
        // Cached answers are the same.
        assert_eq!(db.name(0).as_deref(), Some("root"));
    }

    #[test]
    fn names_resolve_to_uids() {
        assert_eq!(uid_of("root"), Some(0));
        assert_eq!(uid_of("no-such-user-here"), None);
        assert_eq!(uid_of("bad\0name"), None);
    }
}
