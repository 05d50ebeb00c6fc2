//! The human table of the listing views (tabled), fitted to the terminal width when there is
//! one. Every untrusted string is sanitized before it is coloured or measured.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use colored::Colorize;
use tabled::builder::Builder;
use tabled::settings::{Modify, Padding, Style as TableStyle, Width};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::model::{AddrClass, OwnerUnknown, SocketEntry};
use crate::render::{Style, sanitize};

/// Which columns a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    /// State and remote end (the `--all` view).
    pub states: bool,
    /// Process columns (off with `--no-owners`).
    pub owners: bool,
}

/// Write the listing table. Nothing is written for an empty list. Same as filling a [`Table`].
///
/// # Errors
/// When writing fails.
pub fn sockets(
    out: &mut dyn Write,
    entries: &[SocketEntry],
    cols: Columns,
    style: Style,
) -> io::Result<()> {
    let mut table = Table::new(cols, style);
    for e in entries {
        table.push(e);
    }
    table.write(out)
}

/// A listing table filled one entry at a time, so a caller can drop each entry once it is in the
/// table: the `--all` view of a busy host then never holds every row's full record.
///
/// Rows are kept compactly: the cells of the socket in one string, and the owner cells (PID,
/// PROCESS, USER, COMMAND), which depend only on the set of owning pids, formatted once per set
/// and shared by every row of that set.
///
/// Pipes and files (no width limit) whose cells hold no control character (always the case
/// without colour: names are sanitized) are written by a direct aligned writer that produces
/// the same bytes as the tabled layout below (see [`compact`]): tabled costs about 1 µs and several allocations per
/// cell, which was most of the run time of `--all` on a busy host. A terminal (width fitting) or
/// colour goes through tabled.
#[derive(Debug)]
pub struct Table {
    cols: Columns,
    style: Style,
    rows: Rows,
    /// Owning pid set → index of its shared owner cells in `rows`.
    owner_index: HashMap<Vec<u32>, u32>,
    /// (reason, uid) of owner-less rows → index of their shared cells.
    unowned_index: HashMap<(u8, Option<u32>), u32>,
}

impl Table {
    /// An empty table with the header of `cols`.
    #[must_use]
    pub fn new(cols: Columns, style: Style) -> Self {
        let header = header(cols);
        // With owners, the last four columns are the shared owner cells.
        let shared_start = header.len() - if cols.owners { 4 } else { 0 };
        let mut rows = Rows::new(header.len(), shared_start);
        for h in &header {
            rows.cell(&paint_header(h, style));
        }
        rows.end_row(None);
        Table {
            cols,
            style,
            rows,
            owner_index: HashMap::new(),
            unowned_index: HashMap::new(),
        }
    }

    /// Add one socket's row. Cells are formatted straight into the row buffer; owner cells
    /// come from the shared groups.
    pub fn push(&mut self, e: &SocketEntry) {
        let (cols, style) = (self.cols, self.style);
        let rows = &mut self.rows;
        rows.cell(e.proto.as_str());
        if cols.states {
            rows.cell_with(|b| {
                let _ = write!(b, "{}", e.state);
            });
        }
        rows.cell_with(|b| write_local_address(b, e));
        rows.cell_with(|b| {
            let _ = write!(b, "{}", e.local_port);
        });
        if cols.states {
            rows.cell_with(|b| {
                if let (Some(a), Some(p)) = (e.remote_address, e.remote_port) {
                    write_addr(b, a);
                    let _ = write!(b, ":{p}");
                }
            });
        }
        match &e.service {
            Some(service) => rows.cell(service),
            None => rows.cell_with(|b| {
                let _ = write!(b, "({})", e.port_range);
            }),
        }
        if style.color {
            rows.cell(&exposure_cell(e, style));
        } else {
            rows.cell_with(|b| write_plain_exposure(b, e));
        }
        if !cols.owners {
            rows.cell(&user_cell(e));
            rows.end_row(None);
            return;
        }
        let index = if e.processes.is_empty() {
            // Owner-less rows (TIME_WAIT, other users' sockets) differ only by reason and uid.
            let key = (unknown_key(e.owner_unknown_reason), e.uid);
            *self.unowned_index.entry(key).or_insert_with(|| {
                let (pid, process) = owner_cells(e, style);
                rows.share([pid, process, user_cell(e), String::new()])
            })
        } else {
            let pids: Vec<u32> = e.processes.iter().map(|p| p.pid).collect();
            *self.owner_index.entry(pids).or_insert_with(|| {
                let (pid, process) = owner_cells(e, style);
                rows.share([pid, process, user_cell(e), command_cell(e)])
            })
        };
        rows.end_row(Some(index));
    }

    /// True when no socket row was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.lines.len() <= 1
    }

    /// Write the table (nothing for an empty one).
    ///
    /// # Errors
    /// When writing fails.
    pub fn write(self, out: &mut dyn Write) -> io::Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        if self.style.width.is_none() && self.rows.plain {
            return self.rows.write_aligned(out);
        }
        let plan = self
            .style
            .width
            .map(|width| fit_plan(&header(self.cols), &self.rows.widths, width));
        let mut builder = Builder::default();
        for record in self.rows.records() {
            builder.push_record(match &plan {
                // Dropped columns leave the records; the kept ones keep their order.
                Some(plan) => record
                    .into_iter()
                    .zip(plan)
                    .filter(|(_, keep)| **keep != Keep::Drop)
                    .map(|(cell, _)| cell)
                    .collect(),
                None => record,
            });
        }
        drop(self.rows);
        let mut table = builder.build();
        compact(&mut table);
        if let Some(plan) = &plan {
            fit(&mut table, plan);
        }
        let text = table.to_string();
        match self.style.width {
            Some(width) => write_fitted(out, &text, width),
            None => write_trimmed(out, &text),
        }
    }
}

/// The layout of every listing: two spaces between columns, none at the edges, no trailing
/// blanks — compact like `ss`, easy to grep and cut.
fn compact(table: &mut tabled::Table) {
    table.with(TableStyle::blank().remove_vertical());
    table.with(Padding::new(0, 2, 0, 0));
}

fn write_trimmed(out: &mut dyn Write, text: &str) -> io::Result<()> {
    for line in text.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// Columns whose cells are cut (with `…`) when the table is wider than the terminal, in order,
/// with the width each keeps at least.
const SHRINKABLE: [(&str, usize); 5] = [
    ("COMMAND", 12),
    ("SERVICE", 8),
    ("PROCESS", 8),
    ("USER", 6),
    ("EXPOSURE", 8),
];

/// Columns dropped whole, in order, when even the minimums of [`SHRINKABLE`] do not fit: a
/// column that is gone is clearer than one cut to a few characters. Before the last one
/// (PROCESS, which with PID names the owner) goes, long addresses are cut ([`ANSWER_CUTS`]).
const DROPPABLE: [&str; 5] = ["COMMAND", "SERVICE", "USER", "EXPOSURE", "PROCESS"];

/// The answer columns that are cut, widest first, once the descriptive columns other than
/// PROCESS are gone (long IPv6 addresses, interface names), never below the width of any IPv4
/// address with its port (`255.255.255.255:65535`). Protocol, state, port and pids are never
/// cut. Whatever still does not fit (a terminal narrower than the answer) is cut at the end of
/// the line by [`write_fitted`], so no line is ever wider than the terminal.
const ANSWER_CUTS: [(&str, usize); 2] = [("REMOTE", 21), ("ADDRESS", 21)];

/// What a column of a terminal table keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Its natural width.
    All,
    /// This many terminal columns; longer cells end with `…`.
    Cut(usize),
    /// Nothing: the column is not shown.
    Drop,
}

/// What each column keeps so the table fits `width` terminal columns. Step by step until it
/// fits: descriptive cells are cut ([`SHRINKABLE`]); then columns are dropped one by one
/// ([`DROPPABLE`]), each time starting again from natural widths so the columns that remain are
/// cut only as far as still needed; before PROCESS is dropped, long addresses are cut
/// ([`ANSWER_CUTS`]).
fn fit_plan(header: &[&str], widths: &[usize], width: usize) -> Vec<Keep> {
    let mut plan = Vec::new();
    for dropped in 0..=DROPPABLE.len() {
        plan = header
            .iter()
            .map(|h| {
                if DROPPABLE[..dropped].contains(h) {
                    Keep::Drop
                } else {
                    Keep::All
                }
            })
            .collect();
        shrink(&mut plan, header, widths, width);
        if dropped + 1 >= DROPPABLE.len() {
            shrink_answer(&mut plan, header, widths, width);
        }
        if shown_width(&plan, widths) <= width {
            break;
        }
    }
    plan
}

/// Cut the [`SHRINKABLE`] columns that `plan` shows whole, in order and down to their minimums,
/// until the table fits `width` (or the minimums are reached).
fn shrink(plan: &mut [Keep], header: &[&str], widths: &[usize], width: usize) {
    let mut excess = shown_width(plan, widths).saturating_sub(width);
    for (name, min) in SHRINKABLE {
        if excess == 0 {
            break;
        }
        let Some(i) = header.iter().position(|h| *h == name) else {
            continue;
        };
        if plan.get(i) != Some(&Keep::All) {
            continue;
        }
        let natural = widths.get(i).copied().unwrap_or(0);
        let cut = natural.saturating_sub(min).min(excess);
        if cut > 0 {
            plan[i] = Keep::Cut(natural - cut);
            excess -= cut;
        }
    }
}

/// Cut the [`ANSWER_CUTS`] columns one terminal column at a time, always the widest (ties: the
/// first listed), until the table fits `width` or each is at its minimum.
fn shrink_answer(plan: &mut [Keep], header: &[&str], widths: &[usize], width: usize) {
    let mut excess = shown_width(plan, widths).saturating_sub(width);
    while excess > 0 {
        let mut widest: Option<(usize, usize)> = None;
        for (name, min) in ANSWER_CUTS {
            let Some(i) = header.iter().position(|h| *h == name) else {
                continue;
            };
            let kept = match plan.get(i) {
                Some(Keep::All) => widths.get(i).copied().unwrap_or(0),
                Some(Keep::Cut(w)) => *w,
                Some(Keep::Drop) | None => continue,
            };
            if kept > min && widest.is_none_or(|(_, w)| kept > w) {
                widest = Some((i, kept));
            }
        }
        let Some((i, kept)) = widest else {
            return;
        };
        plan[i] = Keep::Cut(kept - 1);
        excess -= 1;
    }
}

/// Terminal columns of a table laid out by `plan`: the kept widths and two spaces between
/// columns.
fn shown_width(plan: &[Keep], widths: &[usize]) -> usize {
    let kept: Vec<usize> = plan
        .iter()
        .zip(widths)
        .filter_map(|(keep, natural)| match keep {
            Keep::All => Some(*natural),
            Keep::Cut(w) => Some(*w),
            Keep::Drop => None,
        })
        .collect();
    kept.iter().sum::<usize>() + 2 * kept.len().saturating_sub(1)
}

/// Apply a [`fit_plan`] to a table built from the kept columns only.
fn fit(table: &mut tabled::Table, plan: &[Keep]) {
    let kept = plan.iter().filter(|keep| **keep != Keep::Drop);
    for (i, keep) in kept.enumerate() {
        if let Keep::Cut(keep) = keep {
            table.with(
                Modify::new(tabled::settings::object::Columns::one(i))
                    .with(Width::truncate(*keep).suffix("…")),
            );
        }
    }
}

/// [`write_trimmed`] for a terminal: a line still wider than `width` (the answer columns alone
/// are wider than the terminal) is cut to `width` columns, ending with `…`.
fn write_fitted(out: &mut dyn Write, text: &str, width: usize) -> io::Result<()> {
    for line in text.lines() {
        writeln!(out, "{}", cut_line(line.trim_end(), width))?;
    }
    Ok(())
}

/// `line` cut to at most `width` terminal columns with a final `…` when it is wider. Colour
/// sequences (`ESC [ … m`) take no room; a cut line that held any ends with a reset.
fn cut_line(line: &str, width: usize) -> Cow<'_, str> {
    if visible_width(line) <= width {
        return Cow::Borrowed(line);
    }
    let room = width.saturating_sub(1);
    let mut out = String::with_capacity(line.len());
    let mut used = 0;
    let mut coloured = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            coloured = true;
            out.push(c);
            for c in chars.by_ref() {
                out.push(c);
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        let w = UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > room {
            break;
        }
        used += w;
        out.push(c);
    }
    if width > 0 {
        out.push('…');
    }
    if coloured {
        out.push_str("\u{1b}[0m");
    }
    Cow::Owned(out)
}

/// The column names of a listing.
fn header(cols: Columns) -> Vec<&'static str> {
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
    header
}

/// Terminal columns of a cell that may hold this module's own colour sequences (`ESC [ … m`):
/// those take no room on the screen.
fn visible_width(text: &str) -> usize {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Skip `[`, parameters and the final byte of a CSI sequence.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    display_width(&plain)
}

/// Terminal columns of a control-free cell, as tabled (papergrid) measures them.
fn display_width(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        UnicodeWidthStr::width(text)
    }
}

/// One row: its own cells separated by [`Rows::SEP`], then optionally a shared cell group.
#[derive(Debug)]
struct Line {
    cells: String,
    shared: Option<u32>,
}

/// The rows of a table with the widest cell of each column, so the aligned writer needs no
/// second formatting pass.
#[derive(Debug)]
struct Rows {
    lines: Vec<Line>,
    /// Cell groups shared by many rows, placed from column `shared_start` on.
    shared: Vec<Vec<String>>,
    shared_start: usize,
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

    fn new(columns: usize, shared_start: usize) -> Self {
        Rows {
            lines: Vec::new(),
            shared: Vec::new(),
            shared_start,
            current: String::new(),
            column: 0,
            widths: vec![0; columns],
            plain: true,
        }
    }

    fn measure(&mut self, column: usize, text: &str) {
        let control = text.chars().any(char::is_control);
        self.plain &= !control;
        let width = if control {
            visible_width(text)
        } else {
            display_width(text)
        };
        if let Some(w) = self.widths.get_mut(column) {
            *w = (*w).max(width);
        }
    }

    /// Append one cell to the current row.
    fn cell(&mut self, text: &str) {
        if self.column > 0 {
            self.current.push(Self::SEP);
        }
        self.measure(self.column, text);
        self.current.push_str(text);
        self.column += 1;
    }

    /// Append one cell that `write` formats in place (no intermediate string).
    fn cell_with(&mut self, write: impl FnOnce(&mut String)) {
        if self.column > 0 {
            self.current.push(Self::SEP);
        }
        let start = self.current.len();
        write(&mut self.current);
        let text = self.current.get(start..).unwrap_or_default();
        let control = text.chars().any(char::is_control);
        let width = display_width(text);
        self.plain &= !control;
        if let Some(w) = self.widths.get_mut(self.column) {
            *w = (*w).max(width);
        }
        self.column += 1;
    }

    /// Register a group of cells that rows ending at `shared_start` can refer to.
    fn share(&mut self, cells: [String; 4]) -> u32 {
        for (i, cell) in cells.iter().enumerate() {
            self.measure(self.shared_start + i, cell);
        }
        self.shared.push(cells.into());
        u32::try_from(self.shared.len() - 1).unwrap_or(u32::MAX)
    }

    /// Finish the current row, followed by the shared group `shared` if any.
    fn end_row(&mut self, shared: Option<u32>) {
        self.lines.push(Line {
            cells: std::mem::take(&mut self.current),
            shared,
        });
        self.column = 0;
    }

    fn cells<'a>(&'a self, line: &'a Line) -> impl Iterator<Item = &'a str> + 'a {
        let own = line.cells.split(Self::SEP);
        let shared = line
            .shared
            .and_then(|i| self.shared.get(usize::try_from(i).ok()?))
            .into_iter()
            .flatten()
            .map(String::as_str);
        own.chain(shared)
    }

    fn records(&self) -> impl Iterator<Item = Vec<String>> + '_ {
        self.lines
            .iter()
            .map(|l| self.cells(l).map(str::to_string).collect())
    }

    /// The [`compact`] layout without tabled: each cell left-aligned and padded to its
    /// column's width, two spaces between columns, no blanks at the end of a line.
    fn write_aligned(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut buf = io::BufWriter::with_capacity(64 * 1024, out);
        let mut text = String::new();
        for line in &self.lines {
            text.clear();
            let mut previous = 0;
            for (i, cell) in self.cells(line).enumerate() {
                if i > 0 {
                    let width = self.widths.get(i - 1).copied().unwrap_or(0);
                    let pad = width.saturating_sub(previous) + 2;
                    text.extend(std::iter::repeat_n(' ', pad));
                }
                text.push_str(cell);
                previous = display_width(cell);
            }
            let end = text.trim_end().len();
            text.truncate(end);
            text.push('\n');
            buf.write_all(text.as_bytes())?;
        }
        buf.flush()
    }

    #[cfg(test)]
    fn push(&mut self, cells: impl IntoIterator<Item = String>) {
        for cell in cells {
            self.cell(&cell);
        }
        self.end_row(None);
    }
}

fn paint_header(text: &str, style: Style) -> String {
    if style.color {
        text.bold().to_string()
    } else {
        text.to_string()
    }
}

/// The local address cell, written into `out`: `0.0.0.0`, `[::] v4+v6`, `[::] v6-only`,
/// `0.0.0.0%lo`.
fn write_local_address(out: &mut String, e: &SocketEntry) {
    write_addr(out, e.local_address);
    if let Some(dev) = &e.interface {
        out.push('%');
        out.push_str(&sanitize(dev));
    }
    match e.dual_stack {
        Some(true) => out.push_str(" v4+v6"),
        Some(false) => out.push_str(" v6-only"),
        None => {}
    }
}

/// `127.0.0.1` or `[::1]` (as [`crate::render::addr`]), written into `out`.
fn write_addr(out: &mut String, ip: std::net::IpAddr) {
    let _ = match ip {
        std::net::IpAddr::V4(v4) => write!(out, "{v4}"),
        std::net::IpAddr::V6(v6) => write!(out, "[{v6}]"),
    };
}

/// [`exposure_cell`] without colour, written into `out`.
fn write_plain_exposure(out: &mut String, e: &SocketEntry) {
    let Some(class) = e.exposure else {
        out.push_str("none");
        return;
    };
    out.extend(
        class
            .as_str()
            .chars()
            .map(|c| if c == '_' { '-' } else { c }),
    );
    if e.wildcard {
        if let Some(dev) = &e.exposure_interface {
            out.push_str(" via ");
            out.push_str(&sanitize(dev));
        }
    }
}

/// A hashable stand-in for the owner-unknown reason.
fn unknown_key(reason: Option<OwnerUnknown>) -> u8 {
    match reason {
        None => 0,
        Some(OwnerUnknown::Permission) => 1,
        Some(OwnerUnknown::Hidden) => 2,
        Some(OwnerUnknown::Kernel) => 3,
        Some(OwnerUnknown::NotFound) => 4,
        Some(OwnerUnknown::Skipped) => 5,
    }
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

/// The USER cell: every distinct user of the holding processes, in pid order, joined by `,`
/// as the PROCESS cell joins names (`root,www-data` for a root master and its workers), so a
/// socket shared across users never reads as one user's. Without a known holder, the socket's
/// own owner; blank when the kernel gives none (TIME_WAIT, connection requests).
fn user_cell(e: &SocketEntry) -> String {
    let mut users: Vec<String> = Vec::new();
    for p in &e.processes {
        let user = match (&p.user, p.uid) {
            (Some(name), _) => sanitize(name).into_owned(),
            (None, Some(uid)) => uid.to_string(),
            (None, None) => continue,
        };
        if !users.contains(&user) {
            users.push(user);
        }
    }
    if !users.is_empty() {
        return users.join(",");
    }
    match (&e.user, e.uid) {
        (Some(name), _) => sanitize(name).into_owned(),
        (None, Some(uid)) => uid.to_string(),
        (None, None) => String::new(),
    }
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
    use crate::model::{Family, ProcessInfo, Proto, SocketState};

    fn tabled_render(rows: &Rows) -> String {
        let mut builder = Builder::default();
        for record in rows.records() {
            builder.push_record(record);
        }
        let mut table = builder.build();
        compact(&mut table);
        let mut out = Vec::new();
        write_trimmed(&mut out, &table.to_string()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn aligned_writer_matches_tabled_byte_for_byte() {
        let mut rows = Rows::new(5, 5);
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
        let mut rows = Rows::new(2, 2);
        rows.push(["tcp".to_string(), "two\nlines".to_string()]);
        assert!(!rows.plain);
        let mut rows = Rows::new(1, 1);
        rows.push(["\u{1b}[1mPROTO\u{1b}[0m".to_string()]);
        assert!(!rows.plain);
    }

    #[test]
    fn shared_owner_cells_render_like_inline_cells() {
        let mut shared = Rows::new(6, 2);
        let mut inline = Rows::new(6, 2);
        for rows in [&mut shared, &mut inline] {
            rows.push(["PROTO", "PORT", "PID", "PROCESS", "USER", "COMMAND"].map(String::from));
        }
        let owner =
            shared.share(["42", "python3", "root", "python3 -m http.server"].map(String::from));
        for port in ["80", "8080"] {
            shared.cell("tcp");
            shared.cell(port);
            shared.end_row(Some(owner));
            inline.push(
                [
                    "tcp",
                    port,
                    "42",
                    "python3",
                    "root",
                    "python3 -m http.server",
                ]
                .map(String::from),
            );
        }
        let render = |rows: &Rows| {
            let mut out = Vec::new();
            rows.write_aligned(&mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(render(&shared), render(&inline));
        assert_eq!(render(&shared), tabled_render(&shared));
    }

    fn entry(port: u16, addr: &str) -> SocketEntry {
        SocketEntry {
            user: Some("root".into()),
            port_range: "registered".into(),
            wildcard: false,
            ..SocketEntry::test_listener(addr, port)
        }
    }

    fn process(pid: u32, name: &str, user: &str, cmd: &[&str]) -> ProcessInfo {
        ProcessInfo {
            pid,
            fds: vec![6],
            name: Some(name.into()),
            cmdline: cmd.iter().map(|s| s.to_string()).collect(),
            exe: None,
            uid: Some(33),
            user: Some(user.into()),
            ppid: Some(1),
            start_time: None,
        }
    }

    fn sample() -> Vec<SocketEntry> {
        let mut ssh = entry(22, "0.0.0.0");
        ssh.service = Some("ssh".into());
        ssh.port_range = "system".into();
        ssh.exposure = Some(AddrClass::Public);
        ssh.exposure_interface = Some("eth0".into());
        ssh.wildcard = true;
        ssh.processes = vec![process(
            812,
            "sshd",
            "root",
            &["sshd: /usr/sbin/sshd -D [listener]"],
        )];
        let mut web = entry(8080, "::");
        web.family = Family::Ipv6;
        web.dual_stack = Some(true);
        web.wildcard = true;
        web.exposure = Some(AddrClass::Private);
        web.exposure_interface = Some("eth1".into());
        web.service = Some("http-alt".into());
        web.processes = vec![
            process(
                1200,
                "nginx",
                "root",
                &["nginx: master process /usr/sbin/nginx"],
            ),
            process(1201, "nginx", "www-data", &["nginx: worker process"]),
        ];
        let mut hidden = entry(2024, "0.0.0.0");
        hidden.owner_unknown_reason = Some(OwnerUnknown::Hidden);
        hidden.wildcard = true;
        let mut evil = entry(9999, "127.0.0.1");
        evil.processes = vec![process(
            4242,
            "ev\x1b[31mil",
            "bob",
            &["./ev\x1b[31mil", "--x"],
        )];
        let mut dns = entry(53, "127.0.0.53");
        dns.proto = Proto::Udp;
        dns.state = SocketState::Unconnected;
        dns.service = Some("domain".into());
        dns.interface = Some("lo".into());
        vec![dns, ssh, hidden, web, evil]
    }

    fn render(entries: &[SocketEntry], cols: Columns, width: Option<usize>) -> String {
        let mut out = Vec::new();
        sockets(
            &mut out,
            entries,
            cols,
            Style {
                color: false,
                width,
            },
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn user_cell_names_every_user_of_a_shared_socket() {
        let p = |pid, user: Option<&str>, uid: Option<u32>| ProcessInfo {
            user: user.map(str::to_string),
            uid,
            ..process(pid, "nginx", "x", &[])
        };
        let with =
            |processes: Vec<ProcessInfo>, user: Option<&str>, uid: Option<u32>| SocketEntry {
                processes,
                user: user.map(str::to_string),
                uid,
                ..entry(80, "0.0.0.0")
            };
        let cases: Vec<(SocketEntry, &str)> = vec![
            (
                with(vec![p(1, Some("root"), Some(0))], Some("root"), Some(0)),
                "root",
            ),
            (
                with(
                    vec![
                        p(1, Some("root"), Some(0)),
                        p(2, Some("www-data"), Some(33)),
                        p(3, Some("www-data"), Some(33)),
                    ],
                    Some("root"),
                    Some(0),
                ),
                "root,www-data",
            ),
            // Pid order, not the socket owner first.
            (
                with(
                    vec![p(1, None, Some(1000)), p(2, Some("root"), Some(0))],
                    Some("root"),
                    Some(0),
                ),
                "1000,root",
            ),
            // A holder whose owner is unknown (it exited) adds nothing.
            (
                with(
                    vec![p(1, None, None), p(2, Some("bob"), Some(1001))],
                    None,
                    Some(0),
                ),
                "bob",
            ),
            (
                with(vec![p(1, None, None)], Some("alice"), Some(1000)),
                "alice",
            ),
            (with(vec![], Some("root"), Some(0)), "root"),
            (with(vec![], None, Some(1000)), "1000"),
            // TIME_WAIT: the kernel gives no uid.
            (with(vec![], None, None), ""),
            (
                with(vec![p(1, Some("ev\x1bil"), Some(5))], None, Some(5)),
                "ev\\x1bil",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(user_cell(&e), want, "{:?}", e.processes);
        }
    }

    #[test]
    fn listening_table() {
        let cols = Columns {
            states: false,
            owners: true,
        };
        insta::assert_snapshot!(render(&sample(), cols, None));
    }

    #[test]
    fn all_states_table_without_owners() {
        let mut rows = sample();
        rows[1].state = SocketState::Established;
        rows[1].remote_address = Some("203.0.113.9".parse().unwrap());
        rows[1].remote_port = Some(51515);
        let cols = Columns {
            states: true,
            owners: false,
        };
        insta::assert_snapshot!(render(&rows, cols, None));
    }

    #[test]
    fn fits_a_narrow_terminal() {
        let cols = Columns {
            states: false,
            owners: true,
        };
        let text = render(&sample(), cols, Some(100));
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn the_answer_columns_are_never_cut() {
        let cols = Columns {
            states: true,
            owners: true,
        };
        // The answer columns of the sample need 58 terminal columns.
        for width in [58, 60, 80, 100] {
            let text = render(&sample(), cols, Some(width));
            for needle in [
                "127.0.0.53%lo",
                "[::] v4+v6",
                "unconnected",
                "2024",
                "1200,1201",
            ] {
                assert!(text.contains(needle), "{width}: {needle} cut in\n{text}");
            }
            assert!(text.lines().all(|l| !l.trim().is_empty()), "{text}");
        }
        // Narrower than the answer: every line is cut at the terminal's edge, visibly.
        let text = render(&sample(), cols, Some(20));
        for line in text.lines() {
            assert!(visible_width(line) <= 20 && line.ends_with('…'), "{text}");
        }
    }

    /// Rows with long cells of every kind: a long command line, wide (CJK, emoji) and combining
    /// characters, a long IPv6 local and remote end with an interface, a long user and process
    /// name, many pids.
    fn long_rows() -> Vec<SocketEntry> {
        let mut rows = sample();
        let mut wide = entry(8443, "2001:db8:1234:5678:9abc:def0:1234:5678");
        wide.state = SocketState::Established;
        wide.remote_address = Some("2001:db8:ffff:eeee:dddd:cccc:bbbb:aaaa".parse().unwrap());
        wide.remote_port = Some(65535);
        wide.interface = Some("very-long-if0".into());
        wide.exposure = Some(AddrClass::Documentation);
        wide.exposure_interface = Some("very-long-if0".into());
        wide.wildcard = true;
        wide.service = Some("a-rather-long-service-name".into());
        let long_cmd = format!(
            "/opt/服务/bin/サーバー --config /etc/😀😀/{}",
            "x".repeat(300)
        );
        wide.processes = (0..5)
            .map(|i| {
                process(
                    70000 + i,
                    "服务器-worker-process-name",
                    "a-very-long-user-name-indeed",
                    &[long_cmd.as_str(), "e\u{301}\u{301}"],
                )
            })
            .collect();
        rows.push(wide);
        rows
    }

    #[test]
    fn no_line_is_wider_than_the_terminal() {
        for states in [false, true] {
            for owners in [false, true] {
                let cols = Columns { states, owners };
                for color in [false, true] {
                    for width in 20..=200 {
                        let mut out = Vec::new();
                        sockets(
                            &mut out,
                            &long_rows(),
                            cols,
                            Style {
                                color,
                                width: Some(width),
                            },
                        )
                        .unwrap();
                        let text = String::from_utf8(out).unwrap();
                        for line in text.lines() {
                            assert!(
                                visible_width(line) <= width,
                                "{width} columns, {cols:?}, colour {color}: {} wide:\n{line}\n\n{text}",
                                visible_width(line)
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn fit_plan_cuts_then_drops_columns() {
        use Keep::{All, Cut, Drop};
        let header = ["PROTO", "ADDRESS", "SERVICE", "PROCESS", "USER", "COMMAND"];
        let widths = [5, 15, 14, 12, 8, 40];
        // Natural width: 94 + 2*5 = 104.
        let cases: [(usize, [Keep; 6]); 7] = [
            (200, [All, All, All, All, All, All]),
            (104, [All, All, All, All, All, All]),
            (94, [All, All, All, All, All, Cut(30)]),
            // Every minimum: 54 + 10 = 64 columns.
            (64, [All, All, Cut(8), Cut(8), Cut(6), Cut(12)]),
            // The minimums do not fit: COMMAND goes, the others grow back as far as they can.
            (60, [All, All, Cut(12), All, All, Drop]),
            (40, [All, All, Drop, Cut(8), Cut(6), Drop]),
            // Narrower than the answer columns: everything droppable goes (the line is cut).
            (20, [All, All, Drop, Drop, Drop, Drop]),
        ];
        for (width, want) in cases {
            let plan = fit_plan(&header, &widths, width);
            assert_eq!(plan, want, "{width} columns");
            if width >= 22 {
                assert!(shown_width(&plan, &widths) <= width, "{width}: {plan:?}");
            }
        }
        // Long addresses are cut, never below any IPv4 address and port, once the descriptive
        // columns are gone.
        let header = ["PROTO", "ADDRESS", "PORT", "REMOTE", "PID", "COMMAND"];
        let widths = [5, 41, 5, 47, 5, 12];
        // Natural width: 115 + 10 = 125.
        let cases: [(usize, [Keep; 6]); 4] = [
            (125, [All, All, All, All, All, All]),
            (111, [All, All, All, All, All, Drop]),
            // Widest first: REMOTE down to ADDRESS's width, then both in turn.
            (70, [All, Cut(24), All, Cut(23), All, Drop]),
            (40, [All, Cut(21), All, Cut(21), All, Drop]),
        ];
        for (width, want) in cases {
            assert_eq!(fit_plan(&header, &widths, width), want, "{width} columns");
        }
    }

    #[test]
    fn colour_sequences_take_no_room() {
        assert_eq!(visible_width("\u{1b}[1;31mpublic\u{1b}[0m"), 6);
        assert_eq!(visible_width("plain"), 5);
    }

    #[test]
    fn empty_list_prints_nothing() {
        let cols = Columns {
            states: false,
            owners: true,
        };
        assert_eq!(render(&[], cols, None), "");
    }
}
