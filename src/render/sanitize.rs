//! Makes untrusted text safe for a terminal: process names, command lines, user and interface
//! names can hold escape sequences, which are shown escaped (`\x1b`) instead of being executed.
//!
//! It must not be applied to JSON (serde escapes control characters itself) and changes nothing
//! in ordinary text.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Escape C0 and C1 control characters, DEL, and the Unicode bidirectional overrides that can
/// make a terminal show text other than what it is.
#[must_use]
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !needs_escape(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let cases = [
            ("nginx", "nginx"),
            ("evil\x1b[31mred", "evil\\x1b[31mred"),
            ("a\nb\tc\r", "a\\nb\\tc\\r"),
            ("bell\x07", "bell\\x07"),
            ("c1\u{9b}31m", "c1\\x9b31m"),
            ("del\x7f", "del\\x7f"),
            ("rtl\u{202e}gpj.exe", "rtl\\u{202e}gpj.exe"),
            ("ünïcödé 服务", "ünïcödé 服务"),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize(input), want, "{input:?}");
        }
        assert!(matches!(sanitize("plain"), Cow::Borrowed(_)));
    }
}
