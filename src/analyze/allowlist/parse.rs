//! Reading an allowlist's TOML text into an [`Allowlist`]: every key checked in file order, each
//! problem reported as one line that names the line of the file, says what the key expects in
//! the user's words and quotes (at most 40 characters of) what was found.
//!
//! Pure: it takes the text; it must not read the file, match findings or print.

use std::borrow::Cow;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{Allowlist, AllowlistError, Entry};
use crate::model::{Cidr, Date, PortRange, PortRangeError, Proto};

/// The keys of an `[[allow]]` entry, in the order they are documented.
const KEYS: [&str; 6] = ["port", "proto", "address", "process", "reason", "expires"];

/// Longest part of a value quoted back in an error message.
const QUOTE_MAX: usize = 40;

/// Where each line of a text starts, so a byte offset becomes a line number by binary search:
/// one pass over the text however many entries need a line (a rescan per entry made large
/// allowlists quadratic).
#[derive(Debug)]
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { starts }
    }

    /// 1-based line of the byte at `offset`; an offset past the end is on the last line.
    fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset)
    }
}

impl Allowlist {
    /// Parse an allowlist file's text.
    ///
    /// # Errors
    /// [`AllowlistError`] naming the line when the text is not TOML, has unknown keys, lacks
    /// `port` or `reason`, or has a bad port, proto, address, process, reason or date. The
    /// message says what was expected and quotes (at most 40 characters of) what was found.
    pub fn parse(text: &str) -> Result<Allowlist, AllowlistError> {
        let lines = LineIndex::new(text);
        let at = |span: Range<usize>, message: String| AllowlistError {
            line: Some(lines.line(span.start)),
            message,
        };
        let doc = DeTable::parse(text).map_err(|e| AllowlistError {
            line: e.span().map(|s| lines.line(s.start)),
            message: e.message().trim().replace('\n', " "),
        })?;
        let mut allow = None;
        for (key, value) in in_file_order(doc.get_ref()) {
            if key.get_ref() != "allow" {
                return Err(at(
                    key.span(),
                    format!(
                        "unknown key \"{}\": an allowlist holds only [[allow]] entries",
                        clip(key.get_ref())
                    ),
                ));
            }
            allow = Some(value);
        }
        let Some(allow) = allow else {
            return Ok(Allowlist::default());
        };
        let Some(items) = allow.get_ref().as_array() else {
            return Err(at(
                allow.span(),
                format!(
                    "allow: expected [[allow]] entries, found {}",
                    found(allow.get_ref())
                ),
            ));
        };
        let mut entries = Vec::with_capacity(items.len());
        for item in items {
            entries.push(entry(item, &lines)?);
        }
        Ok(Allowlist { entries })
    }
}

/// The keys of a table in the order they appear in the file (the parser sorts them by name),
/// so the first problem reported is the first in the file.
fn in_file_order<'a, 'i>(
    table: &'a DeTable<'i>,
) -> Vec<(&'a Spanned<Cow<'i, str>>, &'a Spanned<DeValue<'i>>)> {
    let mut keys: Vec<_> = table.iter().collect();
    keys.sort_by_key(|(key, _)| key.span().start);
    keys
}

fn entry(item: &Spanned<DeValue<'_>>, lines: &LineIndex) -> Result<Entry, AllowlistError> {
    let line = lines.line(item.span().start);
    let at = |span: Range<usize>, message: String| AllowlistError {
        line: Some(lines.line(span.start)),
        message,
    };
    let Some(table) = item.get_ref().as_table() else {
        return Err(at(
            item.span(),
            format!(
                "allow: expected an entry with keys such as port and reason, found {}",
                found(item.get_ref())
            ),
        ));
    };
    let mut fields: [Option<&Spanned<DeValue<'_>>>; 6] = [None; 6];
    for (key, value) in in_file_order(table) {
        match KEYS.iter().position(|k| *k == key.get_ref()) {
            Some(i) => fields[i] = Some(value),
            None => {
                return Err(at(
                    key.span(),
                    format!(
                        "unknown key \"{}\": the keys of an entry are port, proto, address, \
                         process, reason and expires",
                        clip(key.get_ref())
                    ),
                ));
            }
        }
    }
    let [port, proto, address, process, reason, expires] = fields;
    let missing = |message: &str| AllowlistError {
        line: Some(line),
        message: message.to_owned(),
    };
    let port = port.ok_or_else(|| {
        missing("missing \"port\": give a port number or a range such as \"8000-8100\"")
    })?;
    let reason =
        reason.ok_or_else(|| missing("missing \"reason\": say why this finding is accepted"))?;
    // Each value checked in the order of the keys, each error at its value's line.
    let ports = port_range(port.get_ref()).map_err(|m| at(port.span(), m))?;
    let proto = proto
        .map(|v| parse_proto(v.get_ref()).map_err(|m| at(v.span(), m)))
        .transpose()?;
    let address = address
        .map(|v| parse_address(v.get_ref()).map_err(|m| at(v.span(), m)))
        .transpose()?;
    let process = process
        .map(|v| {
            text_value("process", v.get_ref(), "name a process or drop the key")
                .map_err(|m| at(v.span(), m))
        })
        .transpose()?;
    let reason = text_value(
        "reason",
        reason.get_ref(),
        "say why this finding is accepted",
    )
    .map_err(|m| at(reason.span(), m))?;
    let expires = expires
        .map(|v| parse_expires(v.get_ref()).map_err(|m| at(v.span(), m)))
        .transpose()?;
    Ok(Entry {
        line,
        ports,
        proto,
        address,
        process,
        reason,
        expires,
    })
}

/// `port = 6379`, `port = "6379"` or `port = "6379-6380"`.
fn port_range(v: &DeValue<'_>) -> Result<PortRange, String> {
    let expected = || {
        format!(
            "port: expected a port number 1-65535 or a range such as \"8000-8100\", found {}",
            found(v)
        )
    };
    match v {
        DeValue::Integer(n) => u16::from_str_radix(n.as_str(), n.radix())
            .ok()
            .filter(|&p| p != 0)
            .map(PortRange::single)
            .ok_or_else(expected),
        DeValue::String(t) => PortRange::parse(t).map_err(|e| match e {
            PortRangeError::Port { .. } => expected(),
            PortRangeError::Backwards => format!(
                "port: the range {} is backwards: write the lower port first",
                found(v)
            ),
        }),
        _ => Err(expected()),
    }
}

fn parse_proto(v: &DeValue<'_>) -> Result<Proto, String> {
    match v.as_str() {
        Some("tcp") => Ok(Proto::Tcp),
        Some("udp") => Ok(Proto::Udp),
        _ => Err(format!(
            "proto: expected \"tcp\" or \"udp\", found {}",
            found(v)
        )),
    }
}

fn parse_address(v: &DeValue<'_>) -> Result<Cidr, String> {
    match v.as_str() {
        // The longest IPv6 CIDR is 43 characters; longer text is not quoted back whole.
        Some(text) if text.len() <= QUOTE_MAX => {
            text.parse::<Cidr>().map_err(|m| format!("address: {m}"))
        }
        _ => Err(format!(
            "address: expected an IP address or CIDR such as 10.0.0.0/8 or fd00::/8, found {}",
            found(v)
        )),
    }
}

/// `expires = "2030-12-31"` or the TOML date `expires = 2030-12-31`.
fn parse_expires(v: &DeValue<'_>) -> Result<Date, String> {
    let text = match v {
        DeValue::String(s) if s.len() <= QUOTE_MAX => s.to_string(),
        DeValue::Datetime(d) => d.to_string(),
        _ => {
            return Err(format!(
                "expires: expected a date YYYY-MM-DD, found {}",
                found(v)
            ));
        }
    };
    text.parse::<Date>().map_err(|m| format!("expires: {m}"))
}

/// A string that is not blank.
fn text_value(key: &str, v: &DeValue<'_>, hint: &str) -> Result<String, String> {
    match v.as_str() {
        Some(s) if !s.trim().is_empty() => Ok(s.to_owned()),
        Some(_) => Err(format!("\"{key}\" is empty: {hint}")),
        None => Err(format!(
            "{key}: expected text in quotes, found {}",
            found(v)
        )),
    }
}

/// A value as the user wrote it, for "found …" in a message: strings quoted and cut at
/// [`QUOTE_MAX`] characters, tables and lists named. Control characters are left to the
/// terminal boundary (`main`), which escapes every message.
fn found(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => format!("\"{}\"", clip(s)),
        DeValue::Integer(n) => clip(&n.to_string()),
        DeValue::Float(f) => clip(f.as_str()),
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Datetime(d) => d.to_string(),
        DeValue::Array(_) => "a list".to_owned(),
        DeValue::Table(_) => "a table".to_owned(),
    }
}

fn clip(s: &str) -> String {
    match s.char_indices().nth(QUOTE_MAX) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::allowlist::tests::day;

    #[test]
    fn parses_entries_with_lines() {
        let text = "# accepted exposures\n\n[[allow]]\nport = 23\nreason = \"lab\"\n\n\
                    [[allow]]\nport = \"6379-6380\"\nproto = \"tcp\"\naddress = \"10.0.0.0/8\"\n\
                    process = \"redis-server\"\nreason = \"cache\"\nexpires = \"2030-12-31\"\n\n\
                    [[allow]]\nport = 5432\nreason = \"db\"\nexpires = 2031-01-02\n";
        let list = Allowlist::parse(text).unwrap();
        assert_eq!(list.entries.len(), 3);
        let e = &list.entries[1];
        assert_eq!(e.line, 7);
        assert_eq!(
            e.ports,
            PortRange {
                start: 6379,
                end: 6380
            }
        );
        assert_eq!(e.proto, Some(Proto::Tcp));
        assert_eq!(e.address, Some("10.0.0.0/8".parse().unwrap()));
        assert_eq!(e.expires, Some(day("2030-12-31")));
        assert_eq!(list.entries[2].expires, Some(day("2031-01-02")));
        assert_eq!(Allowlist::parse("").unwrap(), Allowlist::default());
    }

    #[test]
    fn malformed_files_name_the_line() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "[[allow]]\nport = 23\nreason = \"x\"\ncolour = \"red\"\n",
                4,
                "colour",
            ),
            ("[[allow]]\nport = 23\n", 1, "reason"),
            ("[[allow]]\nreason = \"x\"\n", 1, "port"),
            ("\n[[allow]]\nport = 70000\nreason = \"x\"\n", 3, "70000"),
            (
                "[[allow]]\nport = \"30-20\"\nreason = \"x\"\n",
                2,
                "backwards",
            ),
            ("[[allow]]\nport = \"abc\"\nreason = \"x\"\n", 2, "abc"),
            (
                "[[allow]]\nport = 1\naddress = \"10.0.0.0/40\"\nreason = \"x\"\n",
                3,
                "prefix",
            ),
            (
                "[[allow]]\nport = 1\nreason = \"x\"\nexpires = \"31.12.2030\"\n",
                4,
                "YYYY-MM-DD",
            ),
            (
                "[[allow]]\nport = 1\nreason = \"x\"\nexpires = \"2030-02-30\"\n",
                4,
                "calendar",
            ),
            ("[[allow]]\nport = 1\nreason = \" \"\n", 3, "reason"),
            (
                "[[allow]]\nport = 1\nproto = \"sctp\"\nreason = \"x\"\n",
                3,
                "sctp",
            ),
            ("[[allow]\nport = 1\n", 1, ""),
            ("[[allow]]\nport = 1\nreason = \"x\n", 3, ""),
            ("[[allowed]]\nport = 1\nreason = \"x\"\n", 1, "allowed"),
            (
                "[[allow]]\nport = 1\nport = 2\nreason = \"x\"\n",
                3,
                "duplicate",
            ),
        ];
        for &(text, line, needle) in cases {
            let err = Allowlist::parse(text).unwrap_err();
            assert_eq!(err.line, Some(line), "{text:?}: {err}");
            let msg = err.to_string();
            assert!(msg.starts_with(&format!("line {line}: ")), "{msg}");
            assert!(msg.contains(needle), "{text:?}: {msg}");
            assert!(!msg.contains('\n'), "{msg:?}");
        }
    }

    /// Issue 8: messages said "data did not match any variant of untagged enum RawPort" and
    /// "invalid type: integer … as i128". Each now says what the key expects, in the user's
    /// words, and quotes what was found.
    #[test]
    fn messages_say_what_was_expected() {
        let entry = |keys: &str| format!("[[allow]]\nreason = \"r\"\n{keys}\n");
        let port = "port: expected a port number 1-65535 or a range such as \"8000-8100\", found";
        let cases: &[(String, String)] = &[
            (entry("port = true"), format!("{port} true")),
            (
                entry("port = 99999999999999999999"),
                format!("{port} 99999999999999999999"),
            ),
            (entry("port = -1"), format!("{port} -1")),
            (entry("port = 0"), format!("{port} 0")),
            (entry("port = 1.5"), format!("{port} 1.5")),
            (entry("port = [1, 2]"), format!("{port} a list")),
            (entry("port = \"http\""), format!("{port} \"http\"")),
            (entry("port = \"1-\""), format!("{port} \"1-\"")),
            (
                entry("port = \"90-80\""),
                "port: the range \"90-80\" is backwards: write the lower port first".into(),
            ),
            (
                entry("port = 1\nproto = \"sctp\""),
                "proto: expected \"tcp\" or \"udp\", found \"sctp\"".into(),
            ),
            (
                entry("port = 1\nproto = 6"),
                "proto: expected \"tcp\" or \"udp\", found 6".into(),
            ),
            (
                entry("port = 1\naddress = 10"),
                "address: expected an IP address or CIDR such as 10.0.0.0/8 or fd00::/8, \
                 found 10"
                    .into(),
            ),
            (
                entry("port = 1\naddress = \"host\""),
                "address: \"host\" is not an IP address or CIDR such as 10.0.0.0/8 or fd00::/8"
                    .into(),
            ),
            (
                entry("port = 1\nprocess = { name = \"x\" }"),
                "process: expected text in quotes, found a table".into(),
            ),
            (
                entry("port = 1\nexpires = 2030"),
                "expires: expected a date YYYY-MM-DD, found 2030".into(),
            ),
            (
                entry("port = 1\nexpires = 2030-01-02T03:04:05Z"),
                "expires: \"2030-01-02T03:04:05Z\" is not a date: write YYYY-MM-DD, e.g. \
                 2030-12-31"
                    .into(),
            ),
            (
                "[[allow]]\nport = 1\nreason = 5\n".into(),
                "reason: expected text in quotes, found 5".into(),
            ),
            (
                entry("port = 1\ncolour = \"red\""),
                "unknown key \"colour\": the keys of an entry are port, proto, address, process, \
                 reason and expires"
                    .into(),
            ),
            (
                "title = \"x\"\n".into(),
                "unknown key \"title\": an allowlist holds only [[allow]] entries".into(),
            ),
            (
                "[allow]\nport = 1\n".into(),
                "allow: expected [[allow]] entries, found a table".into(),
            ),
            (
                "allow = [1]\n".into(),
                "allow: expected an entry with keys such as port and reason, found 1".into(),
            ),
            (
                "[[allow]]\nreason = \"r\"\n".into(),
                "missing \"port\": give a port number or a range such as \"8000-8100\"".into(),
            ),
        ];
        for (text, want) in cases {
            let err = Allowlist::parse(text).unwrap_err();
            assert_eq!(&err.message, want, "{text:?}");
            for internal in ["RawPort", "untagged", "i128", "variant", "`"] {
                assert!(!err.message.contains(internal), "{text:?}: {err}");
            }
        }
        // A long value is quoted only in part.
        let long = "x".repeat(10_000);
        let err = Allowlist::parse(&entry(&format!("port = 1\naddress = \"{long}\""))).unwrap_err();
        assert!(err.message.len() < 200, "{}", err.message);
        assert!(err.message.ends_with("x…\""), "{}", err.message);
    }

    #[test]
    fn line_index_finds_the_line_of_any_offset() {
        let text = "a\nbc\n\nd";
        let lines = LineIndex::new(text);
        // Offsets of a, \n, b, c, \n, \n, d, and past the end.
        let want = [1, 1, 2, 2, 2, 3, 4, 4];
        for (offset, line) in want.into_iter().enumerate() {
            assert_eq!(lines.line(offset), line, "offset {offset}");
        }
        assert_eq!(LineIndex::new("").line(0), 1);
    }

    /// Issue 8: loading was quadratic (13.7 s for 40,000 entries). Correctness at that size; the
    /// time is measured outside the tests (see the report), not asserted.
    #[test]
    fn forty_thousand_entries_keep_their_lines() {
        let n = 40_000;
        let mut text = String::new();
        for i in 0..n {
            text.push_str(&format!(
                "[[allow]]\nport = {}\nreason = \"entry {i}\"\n\n",
                i % 65_535 + 1
            ));
        }
        let list = Allowlist::parse(&text).unwrap();
        assert_eq!(list.entries.len(), n);
        for (i, e) in list.entries.iter().enumerate() {
            assert_eq!(e.line, 4 * i + 1);
            assert_eq!(e.reason, format!("entry {i}"));
        }
        // An error in the last entry names its line.
        text.push_str("[[allow]]\nport = 0\nreason = \"x\"\n");
        assert_eq!(Allowlist::parse(&text).unwrap_err().line, Some(4 * n + 2));
    }
}
