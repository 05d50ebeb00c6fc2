//! The label of a host address in sentences and reports: `127.0.0.1`, `[::1]` (IPv6 in
//! brackets, so a `:port` can follow).
//!
//! Plain formatting of plain data: no terminal escapes, no system reads.

use std::fmt;
use std::net::IpAddr;

/// `127.0.0.1` or `[::1]`. Width and alignment (`{:<11}`) apply to the whole label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostLabel(pub IpAddr);

impl fmt::Display for HostLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => f.pad(&v4.to_string()),
            IpAddr::V6(v6) => f.pad(&format!("[{v6}]")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        let cases = [
            ("127.0.0.1", "127.0.0.1"),
            ("0.0.0.0", "0.0.0.0"),
            ("::1", "[::1]"),
            ("::", "[::]"),
            ("fe80::1", "[fe80::1]"),
        ];
        for (ip, want) in cases {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(HostLabel(ip).to_string(), want);
        }
        let padded = format!("{:<7}|", HostLabel("::1".parse().unwrap()));
        assert_eq!(padded, "[::1]  |");
    }
}
