//! The output of `portscope watch`: one table line per event (a header first), or one JSON
//! object per line (NDJSON, docs/json.md); the `started` line; the summary line.
//!
//! Bytes only: nothing here polls or decides what is an event. Every name that comes from the
//! system (processes, interfaces) is escaped for a terminal; JSON never carries colour.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::Duration;

use colored::Colorize;
use serde::Serialize;
use unicode_width::UnicodeWidthChar;

use crate::model::{
    Endpoint, EventKind, ExposureLabel, Finding, LocalEnd, OwnerUnknownForm, OwnerUnknownLabel,
    SocketEntry, UnixTime, WatchEvent,
};
use crate::render::json::SCHEMA_VERSION;
use crate::render::{Style, sanitize};

/// Which columns the table has: with `--all`, the state and the remote end too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchColumns {
    /// Show STATE and REMOTE.
    pub connections: bool,
}

/// One event of `portscope watch --json`, one line: the socket entry has the shape of the
/// listing's (`portscope --json`), and so has `previous`; `finding` has the shape of
/// `portscope audit --json`'s.
#[derive(Debug, Serialize)]
pub struct EventDocument<'a> {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// What happened.
    pub event: EventKind,
    /// When the poll that saw it ran: RFC 3339, UTC, whole seconds.
    #[serde(with = "crate::model::rfc3339")]
    pub time: UnixTime,
    /// The socket now (for `closed`: as last seen).
    pub socket: &'a SocketEntry,
    /// The socket at the previous poll (`owner_changed`, `exposure_changed` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<&'a SocketEntry>,
    /// The audit finding (`finding` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<&'a Finding>,
}

/// The first line of `portscope watch --json`: the first poll is done, and what it saw is the
/// baseline later events are relative to.
#[derive(Debug, Serialize)]
pub struct StartedDocument {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Always `started`.
    pub event: &'static str,
    /// When the first poll ran.
    #[serde(with = "crate::model::rfc3339")]
    pub time: UnixTime,
    /// The polling interval in milliseconds.
    pub interval_ms: u64,
    /// How many sockets the filters show at the first poll (not reported as events).
    pub sockets: usize,
}

/// Write `doc` as one line of JSON.
fn json_line<T: Serialize>(out: &mut dyn Write, doc: &T) -> io::Result<()> {
    let mut line = serde_json::to_vec(doc).map_err(io::Error::from)?;
    line.push(b'\n');
    out.write_all(&line)
}

/// The `started` line of the JSON stream.
///
/// # Errors
/// When writing fails.
pub fn started_json(
    out: &mut dyn Write,
    time: UnixTime,
    interval: Duration,
    sockets: usize,
) -> io::Result<()> {
    json_line(
        out,
        &StartedDocument {
            schema_version: SCHEMA_VERSION,
            event: "started",
            time,
            interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
            sockets,
        },
    )
}

/// One event as a line of JSON.
///
/// # Errors
/// When writing fails.
pub fn event_json(out: &mut dyn Write, event: &WatchEvent, time: UnixTime) -> io::Result<()> {
    json_line(
        out,
        &EventDocument {
            schema_version: SCHEMA_VERSION,
            event: event.kind,
            time,
            socket: &event.socket,
            previous: event.previous.as_ref(),
            finding: event.finding.as_ref(),
        },
    )
}

const TIME_W: usize = 20;
const EVENT_W: usize = 16;
const PROTO_W: usize = 5;
const STATE_W: usize = 11;
const END_W: usize = 23;
const EXPOSURE_W: usize = 18;
const OWNER_W: usize = 20;

/// The header of the table, written once the first poll is done (`width`: the terminal's
/// columns now, `None` for a pipe or file).
///
/// # Errors
/// When writing fails.
pub fn header(out: &mut dyn Write, cols: WatchColumns, width: Option<usize>) -> io::Result<()> {
    let mut line = format!(
        "{:TIME_W$}  {:EVENT_W$}  {:PROTO_W$}  ",
        "TIME", "EVENT", "PROTO"
    );
    if cols.connections {
        let _ = write!(line, "{:STATE_W$}  ", "STATE");
    }
    let _ = write!(line, "{:END_W$}  ", "LOCAL");
    if cols.connections {
        let _ = write!(line, "{:END_W$}  ", "REMOTE");
    }
    let _ = write!(
        line,
        "{:EXPOSURE_W$}  {:OWNER_W$}  DETAIL",
        "EXPOSURE", "OWNER"
    );
    writeln!(out, "{}", fit(line.trim_end(), width))
}

/// One event as a table line. The columns have fixed widths (later events cannot be measured
/// in advance); a longer cell pushes the rest of its line right. On a terminal the line is cut
/// to `width` (read again for every line, so a resized terminal is followed).
///
/// # Errors
/// When writing fails.
pub fn event_line(
    out: &mut dyn Write,
    event: &WatchEvent,
    time: UnixTime,
    cols: WatchColumns,
    style: Style,
    width: Option<usize>,
) -> io::Result<()> {
    let s = &event.socket;
    let mut rest = format!("{:PROTO_W$}  ", s.proto.to_string());
    if cols.connections {
        let _ = write!(rest, "{:STATE_W$}  ", s.state.to_string());
    }
    let local = clean(LocalEnd::of(s).with_port(s.local_port).to_string());
    let _ = write!(rest, "{local:END_W$}  ");
    if cols.connections {
        let remote = match (s.remote_address, s.remote_port) {
            (Some(addr), Some(port)) => Endpoint(addr, port).to_string(),
            _ => String::new(),
        };
        let _ = write!(rest, "{remote:END_W$}  ");
    }
    let _ = write!(
        rest,
        "{:EXPOSURE_W$}  {:OWNER_W$}  {}",
        clean(ExposureLabel::of(s).to_string()),
        clean(owners(s)),
        clean(detail(event))
    );
    // A socket of another namespace (`--netns`, `--all-netns`) says which; the host's say nothing.
    if let Some(ns) = s.netns.as_ref().filter(|n| !n.host) {
        let _ = write!(rest, "  netns {}", clean(ns.to_string()));
    }
    let time = time.rfc3339();
    let kind = event.kind.as_str();
    let plain = format!("{time:TIME_W$}  {kind:EVENT_W$}  {rest}");
    let plain = plain.trim_end().to_string();
    let line = fit(&plain, width);
    if style.color && line == plain {
        // Colour only the event word, and only in a line that was not cut.
        let painted = match event.kind {
            EventKind::Opened => kind.green(),
            EventKind::Closed => kind.red(),
            EventKind::OwnerChanged | EventKind::ExposureChanged => kind.yellow(),
            EventKind::Finding => kind.red().bold(),
        };
        let tail = &plain[TIME_W + 2 + kind.len()..];
        return writeln!(out, "{time:TIME_W$}  {painted}{tail}");
    }
    writeln!(out, "{line}")
}

/// A cell with every name from the system escaped for a terminal, before it is padded.
fn clean(cell: String) -> String {
    sanitize(&cell).into_owned()
}

/// The owners cell: `pid/name` of each holder, or why none is known.
fn owners(entry: &SocketEntry) -> String {
    if entry.processes.is_empty() {
        return OwnerUnknownLabel {
            reason: entry.owner_unknown_reason,
            form: OwnerUnknownForm::Cell,
        }
        .to_string();
    }
    let mut text = String::new();
    for (i, p) in entry.processes.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        let _ = write!(text, "{}", p.pid);
        if let Some(name) = &p.name {
            let _ = write!(text, "/{name}");
        }
    }
    text
}

/// What the line says beyond the socket: what it was before a change, the finding.
fn detail(event: &WatchEvent) -> String {
    match (event.kind, &event.previous, &event.finding) {
        (EventKind::OwnerChanged, Some(before), _) => format!("was {}", owners(before)),
        (EventKind::ExposureChanged, Some(before), _) => {
            format!("was {}", ExposureLabel::of(before))
        }
        (EventKind::Finding, _, Some(f)) => match &f.service {
            Some(service) => format!("{} {} ({service})", f.severity, f.rule),
            None => format!("{} {}", f.severity, f.rule),
        },
        _ => String::new(),
    }
}

/// `line` cut to `width` display columns (with `…`), unchanged without a width.
fn fit(line: &str, width: Option<usize>) -> String {
    let Some(width) = width.filter(|&w| w > 0) else {
        return line.to_string();
    };
    let mut used = 0;
    let mut out = String::new();
    let total: usize = line.chars().map(|c| c.width().unwrap_or(0)).sum();
    if total <= width {
        return line.to_string();
    }
    for c in line.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// The summary `watch` leaves on a terminal's stderr when it stops: `12 events in 5m03s`.
#[must_use]
pub fn summary(events: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    let took = match (secs / 3600, secs / 60 % 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}s"),
    };
    let noun = if events == 1 { "event" } else { "events" };
    format!("{events} {noun} in {took}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AddrClass, ProcessInfo, Severity};

    fn entry() -> SocketEntry {
        SocketEntry {
            processes: vec![ProcessInfo {
                name: Some("py\x1b[2Jthon".into()),
                ..ProcessInfo::unknown(4242)
            }],
            ..SocketEntry::test_listener("127.0.0.1", 8080)
        }
    }

    fn render(event: &WatchEvent, cols: WatchColumns, width: Option<usize>) -> String {
        let mut out = Vec::new();
        event_line(
            &mut out,
            event,
            UnixTime(1_800_000_000),
            cols,
            Style::plain(),
            width,
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn table_lines() {
        let listening = WatchColumns { connections: false };
        let mut header_out = Vec::new();
        header(&mut header_out, listening, None).unwrap();
        let opened = WatchEvent::new(EventKind::Opened, entry());
        let moved = WatchEvent {
            previous: Some(SocketEntry {
                processes: vec![ProcessInfo::unknown(4000)],
                ..entry()
            }),
            ..WatchEvent::new(EventKind::OwnerChanged, entry())
        };
        let public = SocketEntry {
            local_address: "0.0.0.0".parse().unwrap(),
            exposure: Some(AddrClass::Public),
            exposure_interface: Some("eth0".into()),
            wildcard: true,
            ..entry()
        };
        let wider = WatchEvent {
            previous: Some(entry()),
            ..WatchEvent::new(EventKind::ExposureChanged, public.clone())
        };
        let finding = WatchEvent {
            finding: Some(Finding {
                rule: "exposed-redis".into(),
                service: Some("Redis".into()),
                severity: Severity::High,
                ..Finding::about(&public)
            }),
            ..WatchEvent::new(EventKind::Finding, public.clone())
        };
        let closed = WatchEvent::new(
            EventKind::Closed,
            SocketEntry {
                owner_unknown_reason: Some(crate::model::OwnerUnknown::Permission),
                ..SocketEntry::test_listener("::1", 53)
            },
        );
        let mut text = String::from_utf8(header_out).unwrap();
        for e in [&opened, &moved, &wider, &finding, &closed] {
            text += &render(e, listening, None);
        }
        assert_eq!(
            text,
            "\
TIME                  EVENT             PROTO  LOCAL                    EXPOSURE            OWNER                 DETAIL
2027-01-15T08:00:00Z  opened            tcp    127.0.0.1:8080           loopback            4242/py\\x1b[2Jthon
2027-01-15T08:00:00Z  owner_changed     tcp    127.0.0.1:8080           loopback            4242/py\\x1b[2Jthon    was 4000
2027-01-15T08:00:00Z  exposure_changed  tcp    0.0.0.0:8080             public via eth0     4242/py\\x1b[2Jthon    was loopback
2027-01-15T08:00:00Z  finding           tcp    0.0.0.0:8080             public via eth0     4242/py\\x1b[2Jthon    high exposed-redis (Redis)
2027-01-15T08:00:00Z  closed            tcp    [::1]:53                 loopback            (need root)
",
            "{text}"
        );
        // With --all: state and remote end.
        let conn = WatchEvent::new(
            EventKind::Opened,
            SocketEntry {
                state: crate::model::SocketState::Established,
                remote_address: Some("10.0.0.2".parse().unwrap()),
                remote_port: Some(50000),
                processes: Vec::new(),
                ..entry()
            },
        );
        let line = render(&conn, WatchColumns { connections: true }, None);
        assert_eq!(
            line,
            "2027-01-15T08:00:00Z  opened            tcp    established  127.0.0.1:8080           10.0.0.2:50000           loopback\n"
        );
        // A terminal 40 columns wide: cut with an ellipsis.
        let cut = render(&opened, listening, Some(40));
        assert_eq!(cut, "2027-01-15T08:00:00Z  opened           …\n");
        assert_eq!(cut.trim_end().chars().count(), 40);
    }

    #[test]
    fn json_lines() {
        let mut out = Vec::new();
        started_json(
            &mut out,
            UnixTime(1_800_000_000),
            Duration::from_millis(200),
            3,
        )
        .unwrap();
        let opened = WatchEvent::new(EventKind::Opened, entry());
        event_json(&mut out, &opened, UnixTime(1_800_000_001)).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            r#"{"schema_version":1,"event":"started","time":"2027-01-15T08:00:00Z","interval_ms":200,"sockets":3}"#
        );
        let value: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(value["event"], "opened");
        assert_eq!(value["time"], "2027-01-15T08:00:01Z");
        assert!(value.get("previous").is_none() && value.get("finding").is_none());
        // The socket is the listing's entry, unchanged.
        let socket: SocketEntry = serde_json::from_value(value["socket"].clone()).unwrap();
        assert_eq!(socket, entry());
        assert!(!lines[1].contains('\x1b') || lines[1].contains("\\u001b"));
    }

    #[test]
    fn summaries() {
        let s = Duration::from_secs;
        assert_eq!(summary(0, s(4)), "0 events in 4s");
        assert_eq!(summary(1, s(63)), "1 event in 1m03s");
        assert_eq!(summary(12, s(3723)), "12 events in 1h02m03s");
    }
}
