//! uid ↔ user name through the system's user database (NSS: `getpwuid_r`, `getpwnam_r`), shared
//! by every Unix backend. Answers are not cached here: the collector caches names per uid.
//!
//! Not sysinfo's `Users`: it parses `/etc/passwd` itself and drops accounts with uid ≥ 65536 or
//! a `/bin/false` shell, which are exactly the daemon and LDAP accounts that own ports.

/// The uid of the account `name` in the system's user database (NSS), `None` when it has none.
#[must_use]
pub(crate) fn uid_of(name: &str) -> Option<u32> {
    let cname = std::ffi::CString::new(name).ok()?;
    passwd_entry(
        // SAFETY: (inside the closure) the arguments are the live buffers `passwd_entry` passes.
        |pwd, buf, len, result| unsafe { libc::getpwnam_r(cname.as_ptr(), pwd, buf, len, result) },
        |pwd| pwd.pw_uid,
    )
}

/// The name of `uid`, or `None` when the user database has no entry for it.
#[must_use]
pub(crate) fn name_of(uid: u32) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_root_and_unknown_is_none() {
        assert_eq!(name_of(0).as_deref(), Some("root"));
        assert_eq!(name_of(3_999_999_999), None);
    }

    #[test]
    fn names_resolve_to_uids() {
        assert_eq!(uid_of("root"), Some(0));
        assert_eq!(uid_of("no-such-user-here"), None);
        assert_eq!(uid_of("bad\0name"), None);
    }
}
