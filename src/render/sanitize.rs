//! Makes untrusted text safe for a terminal: process names, command lines, user and interface
//! names can hold escape sequences, which are shown escaped (`\x1b`) instead of being executed.
//!
//! It must not be applied to JSON (serde escapes control characters itself) and changes nothing
//! in ordinary text.

use std::borrow::Cow;
use std::fmt::{self, Display, Formatter, Write as _};

/// Escape C0 and C1 control characters, DEL, and the Unicode bidirectional overrides that can
/// make a terminal show text other than what it is.
#[must_use]
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let _ = escape_into(&mut out, text);
    Cow::Owned(out)
}

/// A value's `Display` text, [`sanitize`]d as it is written: `write!(cell, "{}",
/// Sanitized(label))` escapes the names inside a label without an intermediate string. Width
/// and alignment flags are not passed on (the table measures cells itself).
#[derive(Debug, Clone, Copy)]
pub struct Sanitized<T>(pub T);

impl<T: Display> Display for Sanitized<T> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        /// Escapes every piece of text on its way to the formatter.
        struct Escape<'a, 'b>(&'a mut Formatter<'b>);
        impl fmt::Write for Escape<'_, '_> {
            fn write_str(&mut self, text: &str) -> fmt::Result {
                escape_into(self.0, text)
            }
        }
        write!(Escape(f), "{}", self.0)
    }
}

/// Write `text` to `out` with the characters [`sanitize`] escapes escaped; runs of ordinary
/// characters go out in one piece.
fn escape_into(out: &mut dyn fmt::Write, text: &str) -> fmt::Result {
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if !needs_escape(c) {
            continue;
        }
        out.write_str(text.get(start..i).unwrap_or_default())?;
        start = i + c.len_utf8();
        match c {
            '\n' => out.write_str("\\n")?,
            '\t' => out.write_str("\\t")?,
            '\r' => out.write_str("\\r")?,
            c if u32::from(c) < 0x100 => write!(out, "\\x{:02x}", u32::from(c))?,
            c => write!(out, "\\u{{{:x}}}", u32::from(c))?,
        }
    }
    out.write_str(text.get(start..).unwrap_or_default())
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
        for (input, want) in cases {
            assert_eq!(Sanitized(input).to_string(), want, "{input:?}");
        }
    }

    #[test]
    fn sanitized_display_escapes_only_the_names_in_a_label() {
        let end = crate::model::LocalEnd {
            address: "10.0.0.1".parse().unwrap(),
            interface: Some("e\x1b[2Jth0"),
            port: Some(53),
            dual_stack: None,
        };
        assert_eq!(Sanitized(end).to_string(), "10.0.0.1%e\\x1b[2Jth0:53");
    }
}
