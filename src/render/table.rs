//! The human table of the listing views (tabled), fitted to the terminal width when there is
//! one. Every untrusted string is sanitized before it is coloured or measured.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use colored::Colorize;
use tabled::builder::Builder;
use tabled::settings::object::Rows as TableRows;
use tabled::settings::peaker::Priority;
use tabled::settings::{Modify, Style as TableStyle, Width};
use unicode_width::UnicodeWidthStr;

use crate::model::{AddrClass, OwnerUnknown, SocketEntry};
use crate::render::{Style, addr, sanitize};

/// Which columns a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    /// State and remote end (the `--all` view).
    pub states: bool,
    /// Process columns (off with `--no-owners`).
    pub owners: bool,
}

/// Write the listing table. Nothing is written for an empty list.
///
/// Pipes and files (no width limit) whose cells hold no control character (always the case
/// without colour: names are sanitized) get the same bytes from a direct aligned writer: tabled costs about 1 µs and several allocations per cell, which is most of the
/// run time of `--all` on a busy host. Everything else (a terminal, colour, wide characters) goes
/// through tabled.
///
/// # Errors
/// When writing fails.
pub fn sockets(
    out: &mut dyn Write,
    entries: &[SocketEntry],
    cols: Columns,
    style: Style,
) -> io::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut header = vec!["PROTO"];
    if cols.states {
        header.push("STATE");
    }
    header.extend(["ADDRESS", "PORT"]);
    if cols.states {
        header.push("REMOTE");
    }
    header.extend(["SERVICE", "EXPOSURE"]);
    if cols.owners {
        header.extend(["PID", "PROCESS"]);
    }
    header.push("USER");
    if cols.owners {
        header.push("COMMAND");
    }
    let mut rows = Rows::new(header.len());
    for h in &header {
        rows.cell(&paint_header(h, style));
    }
    rows.end_row();
    // The owner cells depend only on the set of owning pids, and on a busy host thousands of
    // sockets share a few owners: format them once per set.
    let mut owner_cache: HashMap<Vec<u32>, [String; 4]> = HashMap::new();
    let mut scratch = String::new();
    for e in entries {
        row(&mut rows, &mut scratch, &mut owner_cache, e, cols, style);
    }
    if style.width.is_none() && rows.plain {
        return rows.write_aligned(out);
    }
    let mut builder = Builder::default();
    for record in rows.records() {
        builder.push_record(record);
    }
    let mut table = builder.build();
    table.with(TableStyle::blank());
    if let Some(width) = style.width {
        table.with(
            Width::truncate(width)
                .priority(Priority::max(true))
                .suffix("…"),
        );
    }
    table.with(Modify::new(TableRows::first()).with(tabled::settings::Alignment::left()));
    writeln!(out, "{table}")
}

/// The cells of one socket, in header order.
fn row(
    rows: &mut Rows,
    scratch: &mut String,
    owner_cache: &mut HashMap<Vec<u32>, [String; 4]>,
    e: &SocketEntry,
    cols: Columns,
    style: Style,
) {
    let mut fmt_cell = |rows: &mut Rows, value: &dyn std::fmt::Display| {
        scratch.clear();
        let _ = write!(scratch, "{value}");
        rows.cell(scratch);
    };
    fmt_cell(rows, &e.proto);
    if cols.states {
        fmt_cell(rows, &e.state);
    }
    rows.cell(&local_address(e));
    fmt_cell(rows, &e.local_port);
    if cols.states {
        match (e.remote_address, e.remote_port) {
            (Some(a), Some(p)) => rows.cell(&format!("{}:{p}", addr(a))),
            _ => rows.cell(""),
        }
    }
    match &e.service {
        Some(service) => rows.cell(service),
        None => rows.cell(&format!("({})", e.port_range)),
    }
    rows.cell(&exposure_cell(e, style));
    let unowned;
    let owner: &[String; 4] = if e.processes.is_empty() {
        let (pid, process) = owner_cells(e, style);
        unowned = [pid, process, user_cell(e), String::new()];
        &unowned
    } else {
        let pids: Vec<u32> = e.processes.iter().map(|p| p.pid).collect();
        owner_cache.entry(pids).or_insert_with(|| {
            let (pid, process) = owner_cells(e, style);
            [pid, process, user_cell(e), command_cell(e)]
        })
    };
    let [pid, process, user, command] = owner;
    if cols.owners {
        rows.cell(pid);
        rows.cell(process);
    }
    rows.cell(user);
    if cols.owners {
        rows.cell(command);
    }
    rows.end_row();
}

/// Terminal columns of a control-free cell, as tabled (papergrid) measures them.
fn display_width(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        UnicodeWidthStr::width(text)
    }
}

/// Cells kept compactly (one string per row, cells separated by [`Rows::SEP`]) with the widest
/// cell of each column, so the aligned writer needs no second formatting pass and little memory.
struct Rows {
    lines: Vec<String>,
    current: String,
    column: usize,
    widths: Vec<usize>,
    /// No cell so far holds a control character (ANSI colour, a line break), so every cell is one
    /// line whose width `unicode-width` gives exactly as tabled measures it.
    plain: bool,
}

impl Rows {
    /// ASCII unit separator: a control character, so never part of a plain cell.
    const SEP: char = '\u{1f}';

    fn new(columns: usize) -> Self {
        Rows {
            lines: Vec::new(),
            current: String::new(),
            column: 0,
            widths: vec![0; columns],
            plain: true,
        }
    }

    /// Append one cell to the current row.
    fn cell(&mut self, text: &str) {
        if self.column > 0 {
            self.current.push(Self::SEP);
        }
        self.plain &= !text.chars().any(char::is_control);
        if let Some(w) = self.widths.get_mut(self.column) {
            *w = (*w).max(display_width(text));
        }
        self.current.push_str(text);
        self.column += 1;
    }

    /// Finish the current row.
    fn end_row(&mut self) {
        self.lines.push(std::mem::take(&mut self.current));
        self.column = 0;
    }

    #[cfg(test)]
    fn push(&mut self, cells: impl IntoIterator<Item = String>) {
        for cell in cells {
            self.cell(&cell);
        }
        self.end_row();
    }

    fn records(&self) -> impl Iterator<Item = Vec<String>> + '_ {
        self.lines
            .iter()
            .map(|l| l.split(Self::SEP).map(str::to_string).collect())
    }

    /// Tabled's `Style::blank()` layout: each cell left-aligned and padded to its column's
    /// width with one space either side, columns separated by one space, no trailing newline
    /// after the last row but one newline added like `writeln!`.
    fn write_aligned(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut buf = io::BufWriter::with_capacity(64 * 1024, out);
        let mut line = String::new();
        for text in &self.lines {
            line.clear();
            for (i, cell) in text.split(Self::SEP).enumerate() {
                if i > 0 {
                    line.push(' ');
                }
                let width = self.widths.get(i).copied().unwrap_or(0);
                line.push(' ');
                line.push_str(cell);
                let pad = width.saturating_sub(display_width(cell)) + 1;
                line.extend(std::iter::repeat_n(' ', pad));
            }
            line.push('\n');
            buf.write_all(line.as_bytes())?;
        }
        buf.flush()
    }
}

fn paint_header(text: &str, style: Style) -> String {
    if style.color {
        text.bold().to_string()
    } else {
        text.to_string()
    }
}

/// `0.0.0.0`, `[::] v4+v6`, `[::] v6-only`, `0.0.0.0%lo`.
fn local_address(e: &SocketEntry) -> String {
    let mut s = addr(e.local_address);
    if let Some(dev) = &e.interface {
        s.push('%');
        s.push_str(&sanitize(dev));
    }
    match e.dual_stack {
        Some(true) => s.push_str(" v4+v6"),
        Some(false) => s.push_str(" v6-only"),
        None => {}
    }
    s
}

fn exposure_cell(e: &SocketEntry, style: Style) -> String {
    let Some(class) = e.exposure else {
        return "none".to_string();
    };
    let mut text = class.as_str().replace('_', "-");
    if e.wildcard {
        if let Some(dev) = &e.exposure_interface {
            text.push_str(" via ");
            text.push_str(&sanitize(dev));
        }
    }
    if !style.color {
        return text;
    }
    match class {
        AddrClass::Public => text.red().bold().to_string(),
        AddrClass::Private | AddrClass::Documentation | AddrClass::Reserved => {
            text.yellow().to_string()
        }
        AddrClass::LinkLocal | AddrClass::Multicast => text.cyan().to_string(),
        AddrClass::Loopback => text.green().to_string(),
    }
}

fn owner_cells(e: &SocketEntry, style: Style) -> (String, String) {
    if e.processes.is_empty() {
        let why = match e.owner_unknown_reason {
            Some(OwnerUnknown::Permission) => "(need root)",
            Some(OwnerUnknown::Hidden) => "(hidden)",
            Some(OwnerUnknown::Kernel) => "(kernel)",
            Some(OwnerUnknown::NotFound) => "(not found)",
            Some(OwnerUnknown::Skipped) | None => "",
        };
        let why = if style.color {
            why.dimmed().to_string()
        } else {
            why.to_string()
        };
        let pid = if e.owner_unknown_reason == Some(OwnerUnknown::Skipped) {
            ""
        } else {
            "?"
        };
        return (pid.to_string(), why);
    }
    let pids: Vec<String> = e.processes.iter().map(|p| p.pid.to_string()).collect();
    let pid = if pids.len() > 3 {
        format!("{},+{}", pids[..2].join(","), pids.len() - 2)
    } else {
        pids.join(",")
    };
    let mut names: Vec<String> = Vec::new();
    for p in &e.processes {
        let name = sanitize(p.name.as_deref().unwrap_or("?")).into_owned();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    (pid, names.join(","))
}

fn user_cell(e: &SocketEntry) -> String {
    let from_process = e
        .processes
        .first()
        .and_then(|p| p.user.clone().or(p.uid.map(|u| u.to_string())));
    let user = from_process
        .or_else(|| e.user.clone())
        .unwrap_or_else(|| e.uid.to_string());
    sanitize(&user).into_owned()
}

fn command_cell(e: &SocketEntry) -> String {
    e.processes
        .first()
        .map(|p| sanitize(&p.cmdline.join(" ")).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tabled_render(rows: &Rows) -> String {
        let mut builder = Builder::default();
        for record in rows.records() {
            builder.push_record(record);
        }
        let mut table = builder.build();
        table.with(TableStyle::blank());
        table.with(Modify::new(TableRows::first()).with(tabled::settings::Alignment::left()));
        format!("{table}\n")
    }

    #[test]
    fn aligned_writer_matches_tabled_byte_for_byte() {
        let mut rows = Rows::new(5);
        let cells: [&[&str]; 5] = [
            &["PROTO", "STATE", "ADDRESS", "PORT", "COMMAND"],
            &["tcp", "listen", "127.0.0.1", "22", "/usr/sbin/sshd -D"],
            &["udp", "", "[::] v4+v6", "5353", ""],
            &["tcp", "established", "[::1]", "65535", "x"],
            &["udp", "naïve", "日本語", "\u{fffd}\u{fffd}", "e\u{301}"],
        ];
        for row in cells {
            rows.push(row.iter().map(|c| (*c).to_string()));
        }
        assert!(rows.plain);
        let mut mine = Vec::new();
        rows.write_aligned(&mut mine).unwrap();
        assert_eq!(String::from_utf8(mine).unwrap(), tabled_render(&rows));
    }

    #[test]
    fn coloured_or_multiline_cells_are_not_plain() {
        let mut rows = Rows::new(2);
        rows.push(["tcp".to_string(), "two\nlines".to_string()]);
        assert!(!rows.plain);
        let mut rows = Rows::new(1);
        rows.push(["\u{1b}[1mPROTO\u{1b}[0m".to_string()]);
        assert!(!rows.plain);
    }
}
