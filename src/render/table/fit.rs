//! Fitting a listing table to a terminal's width: which columns are cut (with `…`) or dropped,
//! in which order, and the last resort of cutting each line at the terminal's edge, so no line
//! is ever wider than the terminal.
//!
//! Only for a terminal (a known width): pipes and files always get every column whole. It
//! decides from column names and widths alone; it must not look at what the cells mean.

use std::borrow::Cow;
use std::io::{self, Write};

use tabled::settings::{Modify, Width};
use unicode_width::UnicodeWidthChar;

use super::rows::visible_width;

/// Columns whose cells are cut (with `…`) when the table is wider than the terminal, in order,
/// with the width each keeps at least.
const SHRINKABLE: [(&str, usize); 6] = [
    ("COMMAND", 12),
    ("SERVICE", 8),
    ("PROCESS", 8),
    ("USER", 6),
    ("EXPOSURE", 8),
    ("NETNS", 10),
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
pub(super) enum Keep {
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
pub(super) fn fit_plan(header: &[&str], widths: &[usize], width: usize) -> Vec<Keep> {
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
pub(super) fn fit(table: &mut tabled::Table, plan: &[Keep]) {
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

/// `rows::write_trimmed` for a terminal: a line still wider than `width` (the answer columns alone
/// are wider than the terminal) is cut to `width` columns, ending with `…`.
pub(super) fn write_fitted(out: &mut dyn Write, text: &str, width: usize) -> io::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
