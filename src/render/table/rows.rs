//! The rows of a listing table, kept compactly while entries stream in, and the layout every
//! listing has (two spaces between columns, no blanks at the ends), written two ways that give
//! the same bytes: by tabled ([`compact`]) and by a direct aligned writer ([`Rows::write_aligned`],
//! for pipes and files, where tabled's cost per cell dominated `--all` on a busy host).
//!
//! Cells arrive already formatted and sanitized; nothing here knows what a cell means.

use std::fmt::{Display, Write as _};
use std::io::{self, Write};

use tabled::settings::{Padding, Style as TableStyle};
use unicode_width::UnicodeWidthStr;

/// The layout of every listing: two spaces between columns, none at the edges, no trailing
/// blanks — compact like `ss`, easy to grep and cut.
pub(super) fn compact(table: &mut tabled::Table) {
    table.with(TableStyle::blank().remove_vertical());
    table.with(Padding::new(0, 2, 0, 0));
}

/// Write tabled's text line by line without the blanks that end its lines.
pub(super) fn write_trimmed(out: &mut dyn Write, text: &str) -> io::Result<()> {
    for line in text.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// Terminal columns of a cell that may hold the table's own colour sequences (`ESC [ … m`):
/// those take no room on the screen.
pub(super) fn visible_width(text: &str) -> usize {
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
pub(super) struct Rows {
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

    /// No rows yet, for a table of `columns` columns whose shared groups start at
    /// `shared_start`.
    pub(super) fn new(columns: usize, shared_start: usize) -> Self {
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

    /// Rows finished so far (the header included).
    pub(super) fn len(&self) -> usize {
        self.lines.len()
    }

    /// The widest cell of each column, in terminal columns.
    pub(super) fn widths(&self) -> &[usize] {
        &self.widths
    }

    /// True while no cell holds a control character: [`Rows::write_aligned`] then gives
    /// tabled's bytes.
    pub(super) fn is_plain(&self) -> bool {
        self.plain
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
    pub(super) fn cell(&mut self, text: &str) {
        if self.column > 0 {
            self.current.push(Self::SEP);
        }
        self.measure(self.column, text);
        self.current.push_str(text);
        self.column += 1;
    }

    /// Append one cell formatted in place from `value` (no intermediate string).
    pub(super) fn cell_display(&mut self, value: impl Display) {
        if self.column > 0 {
            self.current.push(Self::SEP);
        }
        let start = self.current.len();
        let _ = write!(self.current, "{value}");
        let text = std::mem::take(&mut self.current);
        self.measure(self.column, text.get(start..).unwrap_or_default());
        self.current = text;
        self.column += 1;
    }

    /// Register a group of cells that rows ending at `shared_start` can refer to.
    pub(super) fn share(&mut self, cells: [String; 4]) -> u32 {
        for (i, cell) in cells.iter().enumerate() {
            self.measure(self.shared_start + i, cell);
        }
        self.shared.push(cells.into());
        u32::try_from(self.shared.len() - 1).unwrap_or(u32::MAX)
    }

    /// Finish the current row, followed by the shared group `shared` if any.
    pub(super) fn end_row(&mut self, shared: Option<u32>) {
        // One exact-size copy per row; `current` keeps its capacity for the next row instead
        // of growing again from empty (several reallocations per row on a busy host).
        self.lines.push(Line {
            cells: self.current.as_str().to_owned(),
            shared,
        });
        self.current.clear();
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

    /// Every row as its cells, for tabled.
    pub(super) fn records(&self) -> impl Iterator<Item = Vec<String>> + '_ {
        self.lines
            .iter()
            .map(|l| self.cells(l).map(str::to_string).collect())
    }

    /// The [`compact`] layout without tabled: each cell left-aligned and padded to its
    /// column's width, two spaces between columns, no blanks at the end of a line.
    pub(super) fn write_aligned(&self, out: &mut dyn Write) -> io::Result<()> {
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
    pub(super) fn push(&mut self, cells: impl IntoIterator<Item = String>) {
        for cell in cells {
            self.cell(&cell);
        }
        self.end_row(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabled::builder::Builder;

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
    fn cells_formatted_in_place_measure_like_strings() {
        let mut a = Rows::new(3, 3);
        let mut b = Rows::new(3, 3);
        a.cell("tcp");
        a.cell_display(format_args!("[{}]", "::1"));
        a.cell_display("日本語");
        a.end_row(None);
        b.push(["tcp", "[::1]", "日本語"].map(String::from));
        assert_eq!((a.widths(), a.is_plain()), (b.widths(), b.is_plain()));
        assert_eq!(
            a.records().collect::<Vec<_>>(),
            b.records().collect::<Vec<_>>()
        );
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

    #[test]
    fn colour_sequences_take_no_room() {
        assert_eq!(visible_width("\u{1b}[1;31mpublic\u{1b}[0m"), 6);
        assert_eq!(visible_width("plain"), 5);
    }
}
